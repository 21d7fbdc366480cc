"""The 2D IoU baseline tracker behind the ``TrackerCore`` interface.

The 4DHumans paper compares PHALP' against a plain 2D baseline: boxes are linked frame to frame by
box IoU, with a constant-velocity box predictor bridging short gaps. Here that baseline reuses the
same lifecycle (tentative / confirmed / deleted, ``n_init``, ``max_age``) and the same Hungarian
gate as the 3D tracker; only the cost and the predictor differ:

* a detection is any record with a ``bbox`` attribute, ``(x1, y1, x2, y2)`` in pixels
  (``BoxRecord`` is the minimal one);
* ``predict_box`` extrapolates the centre and size of a track's box with the velocity (pixels per
  frame) between its last two observed boxes, ``time_since_update + 1`` frames ahead;
* ``iou_cost`` is ``scale * (1 - IoU)`` between predicted track boxes and detection boxes, with
  pairs whose IoU is below ``min_iou`` pushed above the gate (``scale``, 100 by default) so the
  Hungarian step never matches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.tracking.assignment import HUNGARIAN_TH
from workbench.tracking.lifecycle import Track, TrackerConfig, TrackerCore

MIN_IOU = 0.3


@dataclass
class BoxRecord:
    """A 2D detection: ``bbox`` (4,) float ``(x1, y1, x2, y2)`` in pixels, ``score`` in [0, 1]."""

    bbox: np.ndarray
    score: float = 1.0

    def __post_init__(self) -> None:
        self.bbox = np.asarray(self.bbox, np.float64).reshape(4)


def _bbox(x: Any) -> np.ndarray:
    """The (4,) box of a record with a ``bbox`` attribute (or of a bare array-like box)."""
    return np.asarray(getattr(x, "bbox", x), np.float64).reshape(4)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (T, 4) and ``b`` (D, 4), ``(x1, y1, x2, y2)`` pixels -> (T, D) in [0, 1].

    Degenerate boxes (zero or negative width/height) have zero area; a pair with zero union has IoU 0.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)  # (T,)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)  # (D,)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih  # (T, D)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Slow per-pair loop version of ``box_iou`` (same shapes and conventions), for tests."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    out = np.zeros((len(a), len(b)))
    for i, (ax1, ay1, ax2, ay2) in enumerate(a):
        for j, (bx1, by1, bx2, by2) in enumerate(b):
            inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
            union = max(0.0, ax2 - ax1) * max(0.0, ay2 - ay1) + max(0.0, bx2 - bx1) * max(0.0, by2 - by1) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def _to_cxcywh(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]])


def _to_xyxy(c: np.ndarray) -> np.ndarray:
    return np.array([c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2])


def predict_box(track: Track) -> np.ndarray:
    """Constant-velocity box for the frame after the next ``step``: (4,) ``(x1, y1, x2, y2)`` pixels.

    The velocity of the centre and of the width/height (pixels per frame) comes from the last two
    observed boxes in ``track.history`` (divided by their frame gap, from ``track.history_times``)
    and is extrapolated ``time_since_update + 1`` frames past the last observation. A track with a
    single observation (its history is copies of the first detection, all at one frame) predicts
    its own box. Width and height are clipped at 0.
    """
    last = _bbox(track.history[-1])
    t1 = track.history_times[-1]
    t0 = track.history_times[-2] if len(track.history_times) > 1 else t1
    if t1 == t0:
        return last.copy()
    c1, c0 = _to_cxcywh(last), _to_cxcywh(_bbox(track.history[-2]))
    vel = (c1 - c0) / float(t1 - t0)  # (4,) centre and size velocity, pixels / frame
    c = c1 + vel * (track.time_since_update + 1)
    c[2:] = np.clip(c[2:], 0.0, None)
    return _to_xyxy(c)


def iou_cost(
    tracks: Sequence[Track], detections: Sequence[Any], min_iou: float = MIN_IOU, scale: float = HUNGARIAN_TH
) -> np.ndarray:
    """(T, D) cost ``scale * (1 - IoU)`` between track boxes and detection boxes.

    A track's box is ``track.prediction`` (from ``predict_box``) when set, else its latest record's box.
    Pairs with IoU below ``min_iou`` cost ``scale + 1`` (above a gate of ``scale``: never matched).
    """
    if not len(tracks) or not len(detections):
        return np.zeros((len(tracks), len(detections)))
    tb = np.stack([_bbox(t.prediction) if t.prediction is not None else _bbox(t.record) for t in tracks])
    db = np.stack([_bbox(d) for d in detections])
    iou = box_iou(tb, db)
    return np.where(iou >= min_iou, scale * (1.0 - iou), scale + 1.0)


class IoUTracker(TrackerCore):
    """``TrackerCore`` with the 2D baseline: ``iou_cost`` (gated at ``min_iou``) and ``predict_box``.

    ``step(frame, detections)`` takes records with a ``bbox`` attribute (e.g. ``BoxRecord``); the
    cost scale equals ``config.hungarian_th``, so IoU >= ``min_iou`` is exactly what passes the gate
    (for ``min_iou`` > 0). ``predict=False`` disables the velocity predictor (static last box).
    """

    def __init__(self, config: TrackerConfig | None = None, min_iou: float = MIN_IOU, predict: bool = True):
        config = config or TrackerConfig()
        self.min_iou = float(min_iou)
        scale = float(config.hungarian_th)

        def cost_fn(tracks: Sequence[Track], detections: Sequence[Any]) -> np.ndarray:
            return iou_cost(tracks, detections, min_iou=self.min_iou, scale=scale)

        super().__init__(cost_fn=cost_fn, predict_fn=predict_box if predict else None, config=config)
