"""Contact sheets of training items: crops with their 2D keypoints, to check data by eye."""

from __future__ import annotations

import cv2
import numpy as np

from workbench.body.keypoints import HMR_SKELETON
from workbench.data.synth import denormalize_image


def draw_item(item: dict, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8 RGB: the crop, skeleton (green), visible keypoints (red) and
    keypoints with confidence 0 (blue), plus a caption from ``meta`` when present."""
    img = denormalize_image(item["img"]) if "img" in item else np.asarray(item["image"])
    img = np.ascontiguousarray(cv2.resize(img, (size, size)) if img.shape[0] != size else img.copy())
    kp = np.asarray(item["keypoints_2d"], np.float64)
    px = np.round((kp[:, :2] + 0.5) * size).astype(int)
    for a, b in HMR_SKELETON:
        if kp[a, 2] > 0 and kp[b, 2] > 0:
            cv2.line(img, tuple(px[a]), tuple(px[b]), (0, 255, 0), 1, cv2.LINE_AA)
    for k in range(len(kp)):
        cv2.circle(img, tuple(px[k]), 2, (255, 40, 40) if kp[k, 2] > 0 else (60, 60, 255), -1)
    meta = item.get("meta")
    if meta:
        text = (f"#{int(meta['index'])} act {int(meta['activity'])} trunc {int(meta['truncated'])} "
                f"flip {int(meta['flipped'])} occ {float(meta['occluded_fraction']):.2f}")
        cv2.putText(img, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.32, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def contact_sheet(items: list[dict], cols: int = 6, size: int = 256) -> np.ndarray:
    """Tile :func:`draw_item` of each item into one RGB uint8 image, ``cols`` per row."""
    tiles = [draw_item(it, size) for it in items]
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    return np.concatenate([np.concatenate(tiles[r:r + cols], 1) for r in range(0, len(tiles), cols)], 0)
