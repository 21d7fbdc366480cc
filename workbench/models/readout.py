"""What both SMPL heads share: the mean parameters they start from and the 6D -> rotation readout.

Both heads regress *residuals* on a running estimate that starts at the mean pose (24 joints in
HMR 2.0's 6D convention, 144 numbers), the mean shape (10) and the mean crop camera (s, tx, ty).
The mean comes from an ``smpl_mean_params.npz``-layout file (keys ``pose``, ``shape``, ``cam``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from workbench.geometry import rot6d_to_rotmat

__all__ = ["NPOSE", "load_mean_params", "register_mean_buffers", "pose6d_to_smpl_params", "iteration_params"]

NUM_JOINTS = 24  # global orient + 23 body joints
NPOSE = 6 * NUM_JOINTS  # 144


def load_mean_params(source: str | os.PathLike | Mapping[str, np.ndarray] | None = None,
                     num_betas: int = 10) -> dict[str, np.ndarray]:
    """Mean ``pose`` (144,), ``shape`` (num_betas,), ``cam`` (3,) as float32 arrays.

    Args:
        source: an ``.npz`` path, a mapping with those keys, or None for the open body's file.
        num_betas: how many shape coefficients the head predicts (the file may hold more).
    """
    if source is None:
        from workbench.assets import mean_params_path

        source = mean_params_path("open_body")
    if not isinstance(source, Mapping):
        with np.load(source, allow_pickle=False) as npz:
            source = {k: npz[k] for k in npz.files}
    missing = [k for k in ("pose", "shape", "cam") if k not in source]
    if missing:
        raise ValueError(f"mean parameters lack {missing}; expected keys pose (144,), shape (10,), cam (3,).")
    params = {k: np.asarray(source[k], dtype=np.float32).reshape(-1) for k in ("pose", "shape", "cam")}
    if params["pose"].shape != (NPOSE,) or params["cam"].shape != (3,) or params["shape"].shape[0] < num_betas:
        raise ValueError(
            f"mean parameters have pose {params['pose'].shape}, shape {params['shape'].shape}, cam "
            f"{params['cam'].shape}; expected ({NPOSE},) in 6D, (>= {num_betas},) and (3,)."
        )
    params["shape"] = params["shape"][:num_betas]
    return params


def register_mean_buffers(module: nn.Module, mean: Mapping[str, np.ndarray]) -> None:
    """Add HMR 2.0's buffers ``init_body_pose`` (1, 144), ``init_betas`` (1, K), ``init_cam`` (1, 3)."""
    for name, key in (("init_body_pose", "pose"), ("init_betas", "shape"), ("init_cam", "cam")):
        module.register_buffer(name, torch.as_tensor(np.asarray(mean[key], np.float32))[None].clone())


def pose6d_to_smpl_params(pose6d: Tensor, betas: Tensor) -> dict[str, Tensor]:
    """(B, 144) 6D pose and (B, K) betas -> ``global_orient`` (B, 1, 3, 3), ``body_pose`` (B, 23, 3, 3), ``betas``."""
    rotmats = rot6d_to_rotmat(pose6d.reshape(pose6d.shape[0], NUM_JOINTS, 6))  # (B, 24, 3, 3)
    return {"global_orient": rotmats[:, :1], "body_pose": rotmats[:, 1:], "betas": betas}


def iteration_params(poses: list[Tensor], betas: list[Tensor], cams: list[Tensor]) -> dict[str, Tensor]:
    """Every iteration's estimate, stacked along the batch as published (iteration-major).

    Returns ``body_pose`` (I*B, 23, 3, 3), ``betas`` (I*B, K), ``cam`` (I*B, 3) for I iterations.
    """
    body = torch.cat([rot6d_to_rotmat(p.reshape(p.shape[0], NUM_JOINTS, 6))[:, 1:] for p in poses], dim=0)
    return {"body_pose": body, "betas": torch.cat(betas, dim=0), "cam": torch.cat(cams, dim=0)}
