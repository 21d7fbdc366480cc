"""The HMR/SPIN baseline head: an MLP with iterative error feedback (IEF), ablations B1 and B2.

Per iteration: ``[pooled features, pose (144), betas (10), cam (3)] -> fc 1024 -> dropout -> fc 1024
-> dropout -> (Δpose, Δbetas, Δcam)``, added to the running estimate that starts at the mean.
Following SPIN's ``Regressor`` there is no nonlinearity between the two hidden layers (dropout
only), and the readouts start near zero (Xavier, gain 0.01) so the first estimate is the mean.
The 6D pose uses HMR 2.0's convention (not SPIN's interleaved one), like every head here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from workbench.config import HeadConfig
from workbench.models.readout import (
    NPOSE,
    iteration_params,
    load_mean_params,
    pose6d_to_smpl_params,
    register_mean_buffers,
)

__all__ = ["MLPIEFHead"]


class MLPIEFHead(nn.Module):
    """Backbone features (B, C, H, W) -> SMPL parameters by ``cfg.ief_iters`` IEF steps (3 in HMR/SPIN).

    Args:
        cfg: ``mlp_hidden`` (1024), ``mlp_dropout`` (SPIN: 0.5), ``ief_iters`` (3), ``num_betas``.
        context_dim: channels C of the backbone output (2048 ResNet-50, 1280 ViT-H).
        mean_params: ``smpl_mean_params.npz`` path or arrays; None = the open body's.
    """

    def __init__(self, cfg: HeadConfig, context_dim: int,
                 mean_params: str | Mapping[str, np.ndarray] | None = None) -> None:
        super().__init__()
        self.ief_iters = cfg.ief_iters
        register_mean_buffers(self, load_mean_params(mean_params, cfg.num_betas))
        state_dim = NPOSE + cfg.num_betas + 3
        self.fc1 = nn.Linear(context_dim + state_dim, cfg.mlp_hidden)
        self.drop1 = nn.Dropout(cfg.mlp_dropout)
        self.fc2 = nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden)
        self.drop2 = nn.Dropout(cfg.mlp_dropout)
        self.decpose = nn.Linear(cfg.mlp_hidden, NPOSE)
        self.decshape = nn.Linear(cfg.mlp_hidden, cfg.num_betas)
        self.deccam = nn.Linear(cfg.mlp_hidden, 3)
        for layer in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(layer.weight, gain=0.01)

    def forward(self, feats: Tensor) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
        """Same contract as :class:`~workbench.models.smpl_head.SMPLTransformerDecoderHead`.

        Args:
            feats: (B, C, H, W) backbone output.
        Returns:
            pred_smpl_params (``global_orient`` (B,1,3,3), ``body_pose`` (B,23,3,3), ``betas`` (B,10)),
            pred_cam (B, 3), per-iteration estimates (I*B, ...).
        """
        B = feats.shape[0]
        pooled = feats.mean(dim=(2, 3))  # (B, C) global average pool
        pose, betas, cam = (b.expand(B, -1) for b in (self.init_body_pose, self.init_betas, self.init_cam))
        poses, betas_it, cams = [], [], []
        for _ in range(self.ief_iters):
            x = torch.cat([pooled, pose.to(pooled), betas.to(pooled), cam.to(pooled)], dim=1)
            x = self.drop2(self.fc2(self.drop1(self.fc1(x))))
            pose = self.decpose(x) + pose
            betas = self.decshape(x) + betas
            cam = self.deccam(x) + cam
            poses.append(pose)
            betas_it.append(betas)
            cams.append(cam)
        return pose6d_to_smpl_params(pose, betas), cam, iteration_params(poses, betas_it, cams)
