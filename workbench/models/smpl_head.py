"""HMR 2.0's SMPL head: one query token cross-attends to the backbone tokens, then linear readouts.

Published configuration (``SMPLTransformerDecoderHead``): the query is a single *zero* scalar
(B, 1, 1) lifted to the decoder width by ``to_token_embedding``, so the prediction is driven by the
learned bias and position embedding plus cross-attention to the 16x12 image tokens; 6 layers of
width 1024, 8 heads of 64, context 1280; one iteration; outputs are residuals added to the mean
parameters; 6D rotations in HMR 2.0's convention (``workbench.geometry.rot6d_to_rotmat``).

Keys (with the ``smpl_head.`` prefix in a full model): ``init_body_pose``, ``init_betas``, ``init_cam``,
``transformer.*`` (see :mod:`workbench.models.transformer`), ``decpose``, ``decshape``, ``deccam``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import Tensor, nn

from workbench.config import HeadConfig
from workbench.models.readout import (
    NPOSE,
    iteration_params,
    load_mean_params,
    pose6d_to_smpl_params,
    register_mean_buffers,
)
from workbench.models.transformer import TransformerDecoder

__all__ = ["SMPLTransformerDecoderHead"]


class SMPLTransformerDecoderHead(nn.Module):
    """Backbone features (B, C, H, W) -> SMPL parameters, crop camera, per-iteration estimates.

    Args:
        cfg: decoder sizes (``HeadConfig``; paper: dim 1024, depth 6, heads 8, dim_head 64, mlp 1024).
        context_dim: channels C of the backbone feature map (1280 for ViT-H).
        mean_params: ``smpl_mean_params.npz`` path or arrays; None = the open body's.
    """

    def __init__(self, cfg: HeadConfig, context_dim: int,
                 mean_params: str | Mapping[str, np.ndarray] | None = None) -> None:
        super().__init__()
        self.ief_iters = cfg.ief_iters
        register_mean_buffers(self, load_mean_params(mean_params, cfg.num_betas))
        self.transformer = TransformerDecoder(
            num_tokens=1, token_dim=1, dim=cfg.dim, depth=cfg.depth, heads=cfg.heads, mlp_dim=cfg.mlp_dim,
            dim_head=cfg.dim_head, dropout=cfg.dropout, context_dim=context_dim,
        )
        self.decpose = nn.Linear(cfg.dim, NPOSE)
        self.decshape = nn.Linear(cfg.dim, cfg.num_betas)
        self.deccam = nn.Linear(cfg.dim, 3)
        # Published: PyTorch's default Linear init (INIT_DECODER_XAVIER off), whose first residual is
        # as large as the mean pose itself (a contorted body, sometimes a camera behind the body).
        # Fine when starting from ViTPose weights; from scratch, a small gain starts at the mean.
        if cfg.readout_init_gain is not None:
            for layer in (self.decpose, self.decshape, self.deccam):
                nn.init.xavier_uniform_(layer.weight, gain=cfg.readout_init_gain)
                nn.init.zeros_(layer.bias)

    def forward(self, feats: Tensor) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
        """
        Args:
            feats: (B, C, H, W) backbone output (ViT-H: (B, 1280, 16, 12)).
        Returns:
            pred_smpl_params: ``global_orient`` (B, 1, 3, 3), ``body_pose`` (B, 23, 3, 3), ``betas`` (B, 10).
            pred_cam: (B, 3) crop camera (s, tx, ty).
            per_iteration: ``body_pose`` (I*B, 23, 3, 3), ``betas`` (I*B, 10), ``cam`` (I*B, 3),
                iteration-major, as published (I = ``ief_iters``).
        """
        B = feats.shape[0]
        context = feats.flatten(2).transpose(1, 2)  # (B, H*W, C): channel-first map -> tokens
        pose, betas, cam = (b.expand(B, -1) for b in (self.init_body_pose, self.init_betas, self.init_cam))
        poses, betas_it, cams = [], [], []
        for _ in range(self.ief_iters):
            # The query does not depend on the running estimate, so extra iterations add the same
            # residual again; the published model uses one.
            token = feats.new_zeros(B, 1, 1)
            out = self.transformer(token, context=context)[:, 0]  # (B, dim)
            pose = self.decpose(out) + pose
            betas = self.decshape(out) + betas
            cam = self.deccam(out) + cam
            poses.append(pose)
            betas_it.append(betas)
            cams.append(cam)
        return pose6d_to_smpl_params(pose, betas), cam, iteration_params(poses, betas_it, cams)
