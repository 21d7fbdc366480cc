"""Pose metrics exactly as HMR 2.0 evaluates them (per sample, so results can be sliced).

3D: both prediction and ground truth are moved so joint 39 (pelvis) is at the origin, then the 14
joints ``EVAL_JOINTS_14`` ([25..37, 43]) are kept. MPJPE is the mean joint distance in mm;
PA-MPJPE the same after a similarity Procrustes alignment.
2D: PCK of keypoints in crop units, distances normalised by the box's longest side (crop units
are already relative to the square box, so the threshold applies directly), visible where the
ground-truth confidence > 0.5; the reported value is the mean of per-keypoint accuracies.
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.body.keypoints import EVAL_JOINTS_14, PELVIS_INDEX
from workbench.geometry import similarity_procrustes


def _eval_joints(points: Tensor) -> Tensor:
    centred = points[..., :3] - points[:, PELVIS_INDEX : PELVIS_INDEX + 1, :3]
    return centred[:, list(EVAL_JOINTS_14)]


def mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """Per-sample MPJPE in mm. pred (B, 44, 3), gt (B, 44, 3 or 4) metres -> (B,)."""
    return (_eval_joints(pred) - _eval_joints(gt)).norm(dim=-1).mean(dim=-1) * 1000.0


def pa_mpjpe(pred: Tensor, gt: Tensor) -> Tensor:
    """Per-sample PA-MPJPE (similarity Procrustes, then MPJPE) in mm -> (B,)."""
    p, g = _eval_joints(pred), _eval_joints(gt)
    aligned = similarity_procrustes(p.double(), g.double()).aligned.to(p.dtype)
    return (aligned - g).norm(dim=-1).mean(dim=-1) * 1000.0


def pck(pred_2d: Tensor, gt_2d: Tensor, threshold: float, box_scale: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-keypoint correctness for PCK.

    Args:
        pred_2d: (B, K, 2); gt_2d: (B, K, 3) with confidence; crop units (the box is 1 wide).
        threshold: e.g. 0.05 or 0.1 of the box's longest side.
        box_scale: (B,) ratio crop side / box longest side (1 for square crops of the box).
    Returns:
        correct (B, K) bool and visible (B, K) bool; PCK = mean over keypoints of
        correct.sum(0) / visible.sum(0) (see :func:`pose_metrics`).
    """
    dist = (pred_2d - gt_2d[..., :2]).norm(dim=-1)
    if box_scale is not None:
        dist = dist * box_scale[:, None]
    visible = gt_2d[..., 2] > 0.5
    return (dist < threshold) & visible, visible


def pose_metrics(output: dict, batch: dict) -> dict[str, Tensor]:
    """Per-sample MPJPE/PA-MPJPE (mm) and per-keypoint PCK@0.05/0.1 flags for one batch."""
    out = {
        "mpjpe": mpjpe(output["pred_keypoints_3d"], batch["keypoints_3d"]),
        "pa_mpjpe": pa_mpjpe(output["pred_keypoints_3d"], batch["keypoints_3d"]),
    }
    for thr in (0.05, 0.1):
        correct, visible = pck(output["pred_keypoints_2d"], batch["keypoints_2d"], thr)
        out[f"pck@{thr}_correct"], out[f"pck@{thr}_visible"] = correct, visible
    return out


def summarize(per_batch: list[dict[str, Tensor]]) -> dict[str, float]:
    """Dataset-level numbers from :func:`pose_metrics` outputs: mean MPJPE/PA-MPJPE, PCK as the
    mean of per-keypoint accuracies (keypoints never visible are left out)."""
    cat = {k: torch.cat([b[k] for b in per_batch]) for k in per_batch[0]}
    result = {"mpjpe": float(cat["mpjpe"].mean()), "pa_mpjpe": float(cat["pa_mpjpe"].mean())}
    for thr in (0.05, 0.1):
        correct, visible = cat[f"pck@{thr}_correct"].sum(0), cat[f"pck@{thr}_visible"].sum(0)
        seen = visible > 0
        result[f"pck@{thr}"] = float((correct[seen].float() / visible[seen].float()).mean()) if seen.any() else float("nan")
    return result
