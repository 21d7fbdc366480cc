"""Run a trained HMR 2.0 on people and draw what it predicts, in the crop and in the full photo.

The chain is the demo's (notebook 00) with the network's camera instead of a fitted one:

1. person box (x1, y1, x2, y2) -> 3:4 box -> square crop, 256x256 (:func:`crop_people`);
2. ImageNet-normalise, run the model: crop camera ``pred_cam = (s, tx, ty)`` and a body in its own frame;
3. ``cam_crop_to_full`` -> the body's translation in the full photo's camera (focal
   ``5000 / 256 * max(W, H)`` px unless the real one is given);
4. vertices + translation render over the photo with that focal (:func:`render_predictions`).

For crops that are already made (SynthHumans, a training batch) :func:`crop_overlays` draws the
mesh and the keypoints in the crop's own camera (focal 5000 px at 256, principal point at the centre).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from workbench.body.keypoints import HMR_SKELETON
from workbench.geometry import (
    box_to_center_scale,
    cam_crop_to_full,
    crop_image,
    default_focal_length,
    normalize_image,
    perspective_projection,
    square_box_size,
)

__all__ = [
    "PeoplePrediction",
    "PersonCrops",
    "crop_keypoints_px",
    "crop_overlays",
    "crop_people",
    "predict_people",
    "render_predictions",
]

GT_COLOR = (40, 180, 40)  # ground-truth keypoints: green
PRED_COLOR = (220, 30, 30)  # predicted keypoints: red


@dataclass
class PersonCrops:
    """The model's input for N people in one photo, and where each crop came from."""

    img: Tensor  # (N, 3, S, S) ImageNet-normalised RGB crops
    crops: np.ndarray  # (N, S, S, 3) float32 0..255, the same crops before normalisation (for drawing)
    centers: np.ndarray  # (N, 2) square box centres, image pixels
    sizes: np.ndarray  # (N,) square box sides, image pixels
    boxes: np.ndarray  # (N, 4) the input boxes (x1, y1, x2, y2), pixels


@dataclass
class PeoplePrediction:
    """HMR 2.0's outputs for N people, moved into the full photo's camera (metres; x right, y down, z forward)."""

    vertices: Tensor  # (N, V, 3) camera frame
    keypoints_3d: Tensor  # (N, 44, 3) camera frame
    keypoints_2d: Tensor  # (N, 44, 2) full-image pixels
    cam_t: Tensor  # (N, 3) body translation in the full-image camera
    focal: float  # full-image focal length, pixels
    crops: PersonCrops  # the model's inputs
    output: dict  # the model's own outputs, in the crop camera (published keys)


def crop_people(image: np.ndarray, boxes, out_size: int = 256) -> PersonCrops:
    """Crop every person box as HMR 2.0's demo does (3:4 box -> square -> ``out_size``, antialiased).

    Args:
        image: (H, W, 3) uint8 RGB.
        boxes: (N, 4) or (4,) ``(x1, y1, x2, y2)`` pixels.
        out_size: crop side in pixels (the model's ``cfg.image_size``).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        raise ValueError("no person boxes given; there is nothing to crop (skip the model when nobody is detected).")
    centers, size_wh = box_to_center_scale(boxes)
    sizes = square_box_size(size_wh)
    crops = np.stack([crop_image(image, c, s, out_size)[0] for c, s in zip(centers, sizes)])
    return PersonCrops(normalize_image(crops), crops, centers, sizes, boxes)


def predict_people(model: torch.nn.Module, image: np.ndarray, boxes, focal_length: float | None = None
                   ) -> PeoplePrediction:
    """Run ``model`` on the people in ``image`` and place each in the full photo's camera.

    Args:
        model: an :class:`~workbench.models.HMR2` (any device; it runs in eval mode, no gradients).
        image: (H, W, 3) uint8 RGB.
        boxes: (N, 4) or (4,) person boxes ``(x1, y1, x2, y2)``, pixels.
        focal_length: the photo's focal length in pixels; None: HMR 2.0's ``5000 / 256 * max(W, H)``.
    Returns:
        :class:`PeoplePrediction`; keypoints_2d are the 3D keypoints projected with the full-image camera.
    """
    H, W = image.shape[:2]
    people = crop_people(image, boxes, model.cfg.image_size)
    device = next(model.parameters()).device
    output = {k: (v.cpu() if torch.is_tensor(v) else {n: t.cpu() for n, t in v.items()})
              for k, v in model.predict(people.img.to(device)).items()}
    n = len(people.boxes)
    focal = float(default_focal_length(W, H) if focal_length is None else focal_length)
    cam_t = cam_crop_to_full(output["pred_cam"].float(), torch.as_tensor(people.centers, dtype=torch.float32),
                             torch.as_tensor(people.sizes, dtype=torch.float32),
                             torch.tensor([[float(W), float(H)]]).expand(n, 2), focal_length=focal)
    keypoints_2d = perspective_projection(output["pred_keypoints_3d"], cam_t, focal,
                                          torch.tensor([[W / 2.0, H / 2.0]]).expand(n, 2))
    return PeoplePrediction(vertices=output["pred_vertices"] + cam_t[:, None],
                            keypoints_3d=output["pred_keypoints_3d"] + cam_t[:, None],
                            keypoints_2d=keypoints_2d, cam_t=cam_t, focal=focal, crops=people, output=output)


def render_predictions(image: np.ndarray, prediction: PeoplePrediction, faces, alpha: float = 0.8,
                       keypoints: bool = False) -> np.ndarray:
    """Every predicted body over the photo (the HMR 2.0 demo's full-frame overlay).

    Args:
        image: (H, W, 3) uint8 RGB, the photo the prediction was made on.
        faces: (F, 3) the body's triangles (``model.smpl.faces``).
        alpha: mesh opacity. keypoints: also draw the projected 44 keypoints and their skeleton.
    Returns:
        (H, W, 3) uint8.
    """
    from workbench.render import overlay
    from workbench.viz import draw_keypoints

    out = overlay(image, list(prediction.vertices.numpy()), faces, prediction.focal, alpha=alpha)
    if keypoints:
        for kp in prediction.keypoints_2d:
            out = draw_keypoints(out, kp, HMR_SKELETON, color=PRED_COLOR)
    return out


def crop_keypoints_px(keypoints_2d, image_size: int = 256) -> Tensor:
    """Normalised crop keypoints (about [-0.5, 0.5]; (..., K, 2) or (..., K, 3) with confidence) -> crop pixels."""
    kp = torch.as_tensor(keypoints_2d)
    return torch.cat([(kp[..., :2] + 0.5) * image_size, kp[..., 2:]], dim=-1)


def crop_overlays(crops: Sequence, output: dict, faces, gt_keypoints_2d=None, focal_length: float = 5000.0,
                  alpha: float = 0.7) -> list[np.ndarray]:
    """Per crop: the predicted mesh in the crop's camera, predicted keypoints (red) and, if given, the
    visible ground-truth keypoints (green).

    Args:
        crops: N (S, S, 3) images (uint8, or floats 0..255; e.g. ``denormalize_image(batch["img"][i])``).
        output: the model's outputs for those crops (``pred_vertices``, ``pred_cam_t``, ``pred_keypoints_2d``).
        faces: (F, 3) triangles.
        gt_keypoints_2d: (N, 44, 3) normalised crop keypoints with confidence, or None.
        focal_length: the crop camera's focal in pixels at size S (``model.cfg.focal_length``).
    Returns:
        N (S, S, 3) uint8 images.
    """
    from workbench.render import overlay
    from workbench.viz import draw_keypoints
    from workbench.viz.draw import as_image

    shown = []
    for i, crop in enumerate(crops):
        crop = as_image(crop)
        size = crop.shape[0]
        verts = (output["pred_vertices"][i] + output["pred_cam_t"][i]).detach().cpu().numpy()
        img = overlay(crop, verts, faces, focal_length, alpha=alpha)
        if gt_keypoints_2d is not None:
            img = draw_keypoints(img, crop_keypoints_px(gt_keypoints_2d[i], size), color=GT_COLOR, radius=3,
                                 min_conf=0.5)
        shown.append(draw_keypoints(img, crop_keypoints_px(output["pred_keypoints_2d"][i].detach().cpu(), size),
                                    HMR_SKELETON, color=PRED_COLOR))
    return shown
