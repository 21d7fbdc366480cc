"""Metrics of 3D motion over time: acceleration error, jitter, per-sequence MPJPE (numpy).

Per-frame pose metrics (``workbench.evaluate.pose_metrics``) cannot see temporal noise: a pose that
trembles around the truth scores like one that is steadily off. The acceleration error of
HMR / VIBE (Kanazawa et al. 2019, Kocabas et al. 2020) can: the mean, over joints and frames, of
``|| a_pred - a_gt ||`` where ``a`` is the second finite difference of each joint's position.

Inputs are joint positions in **metres**; every metric returns **millimetres** (acceleration in
mm/frame^2, or mm/s^2 when ``fps`` is given). Frames may have gaps: pass ``frames`` (their indices)
and an acceleration is only formed from three consecutive frames, as VIBE does with its visibility
mask.

    >>> accel = acceleration_error(pred_joints, gt_joints)        # (T, J, 3) each  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

__all__ = ["acceleration", "acceleration_error", "jitter", "mpjpe", "root_error"]

PELVIS = 0  # SMPL joint 0


def _check_joints(name: str, joints) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (T, J, 3) (frames, joints, xyz metres); got {joints.shape}.")
    return joints


def _triplets(num_frames: int, frames) -> np.ndarray:
    """(T - 2,) bool: True where frames t, t+1, t+2 are consecutive (all True when ``frames`` is None)."""
    if num_frames < 3:
        return np.zeros(0, bool)
    if frames is None:
        return np.ones(num_frames - 2, bool)
    frames = np.asarray(frames).reshape(-1)
    if len(frames) != num_frames:
        raise ValueError(f"frames has {len(frames)} entries for {num_frames} poses.")
    return (frames[1:-1] - frames[:-2] == 1) & (frames[2:] - frames[1:-1] == 1)


def acceleration(joints, fps: float | None = None, frames=None) -> np.ndarray:
    """Second finite differences ``x[t] - 2 x[t+1] + x[t+2]`` at consecutive-frame triplets.

    Args:
        joints: (T, J, 3) positions, metres.
        fps: if given, divide by ``(1/fps)^2`` (mm/s^2 instead of mm/frame^2).
        frames: (T,) increasing frame indices; triplets spanning a gap are dropped.

    Returns:
        (K, J, 3) accelerations in mm/frame^2 (or mm/s^2), K <= T - 2 (K = T - 2 without gaps).
    """
    x = _check_joints("joints", joints)
    keep = _triplets(len(x), frames)
    acc = (x[:-2] - 2 * x[1:-1] + x[2:])[keep] if len(x) >= 3 else np.zeros((0, *x.shape[1:]))
    return 1000.0 * acc * (1.0 if fps is None else float(fps) ** 2)


def acceleration_error(pred_joints, gt_joints, fps: float | None = None, frames=None) -> float:
    """HMR / VIBE acceleration error: mean over joints and frames of ``|| a_pred - a_gt ||``.

    Args:
        pred_joints, gt_joints: (T, J, 3) metres, the same frames (align them first, e.g. subtract the
            pelvis, to measure pose jitter without the translation's).
        fps: None: mm/frame^2 (the published unit at the dataset's frame rate); else mm/s^2.
        frames: (T,) frame indices, for sequences with gaps.

    Returns:
        mm/frame^2 (or mm/s^2); NaN when no three consecutive frames exist.
    """
    pred, gt = _check_joints("pred_joints", pred_joints), _check_joints("gt_joints", gt_joints)
    if pred.shape != gt.shape:
        raise ValueError(f"pred_joints {pred.shape} and gt_joints {gt.shape} must have the same shape.")
    diff = acceleration(pred, fps, frames) - acceleration(gt, fps, frames)
    return float(np.linalg.norm(diff, axis=-1).mean()) if len(diff) else float("nan")


def jitter(joints, fps: float | None = None, frames=None) -> float:
    """Mean acceleration magnitude, for motion without ground truth (0 for uniform motion).

    Args:
        joints: (T, J, 3) metres. fps, frames: as :func:`acceleration`.

    Returns:
        mm/frame^2 (or mm/s^2); NaN when no three consecutive frames exist.
    """
    acc = acceleration(joints, fps, frames)
    return float(np.linalg.norm(acc, axis=-1).mean()) if len(acc) else float("nan")


def mpjpe(pred_joints, gt_joints, align: str = "pelvis") -> float:
    """Mean per-joint position error over a sequence.

    Args:
        pred_joints, gt_joints: (T, J, 3) metres (joint 0 the pelvis, SMPL order).
        align: "pelvis" (each frame's joints relative to its pelvis: the pose alone) or "none"
            (positions in the camera: pose and translation).

    Returns:
        mm, mean over frames and joints.
    """
    pred, gt = _check_joints("pred_joints", pred_joints), _check_joints("gt_joints", gt_joints)
    if pred.shape != gt.shape:
        raise ValueError(f"pred_joints {pred.shape} and gt_joints {gt.shape} must have the same shape.")
    if align == "pelvis":
        pred, gt = pred - pred[:, PELVIS:PELVIS + 1], gt - gt[:, PELVIS:PELVIS + 1]
    elif align != "none":
        raise ValueError(f"align must be 'pelvis' or 'none'; got {align!r}.")
    return 1000.0 * float(np.linalg.norm(pred - gt, axis=-1).mean())


def root_error(pred_joints, gt_joints) -> float:
    """Mean distance between predicted and true pelvis positions in the camera.

    Args:
        pred_joints, gt_joints: (T, J, 3) metres (or (T, 3) root positions).

    Returns:
        mm, mean over frames.
    """
    pred, gt = np.asarray(pred_joints, np.float64), np.asarray(gt_joints, np.float64)
    if pred.ndim == 3:
        pred, gt = pred[:, PELVIS], gt[:, PELVIS]
    if pred.shape != gt.shape or pred.shape[-1] != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (T, J, 3) or (T, 3).")
    return 1000.0 * float(np.linalg.norm(pred - gt, axis=-1).mean())
