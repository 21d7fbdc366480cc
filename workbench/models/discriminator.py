"""HMR's adversarial pose-and-shape prior (``hmr2/models/discriminator.py``), with the published names.

It scores how plausible a body is, separately for each of the 23 body joints (a shared 1x1-conv
embedding of each rotation matrix, then one linear score per joint), for the shape, and for all
joints together. Trained as an LSGAN against mocap (see the losses); the global orientation is
not judged, since any facing direction is plausible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Discriminator"]

NUM_BODY_JOINTS = 23


class Discriminator(nn.Module):
    """Body pose (B, 23, 3, 3) rotation matrices and betas (B, 10) -> scores (B, 25).

    Columns: 23 per-joint scores, 1 shape score, 1 all-joints score (unbounded; LSGAN targets 1/0).
    """

    def __init__(self, num_betas: int = 10) -> None:
        super().__init__()
        J = NUM_BODY_JOINTS
        self.D_conv1 = nn.Conv2d(9, 32, kernel_size=1)
        self.D_conv2 = nn.Conv2d(32, 32, kernel_size=1)
        self.pose_out = nn.ModuleList(nn.Linear(32, 1) for _ in range(J))
        self.betas_fc1 = nn.Linear(num_betas, 10)
        self.betas_fc2 = nn.Linear(10, 5)
        self.betas_out = nn.Linear(5, 1)
        self.D_alljoints_fc1 = nn.Linear(32 * J, 1024)
        self.D_alljoints_fc2 = nn.Linear(1024, 1024)
        self.D_alljoints_out = nn.Linear(1024, 1)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, body_pose: Tensor, betas: Tensor) -> Tensor:
        """
        Args:
            body_pose: (B, 23, 3, 3) rotation matrices (global orient excluded).
            betas: (B, 10).
        Returns:
            (B, 25) scores.
        """
        B = body_pose.shape[0]
        # Each joint's matrix, row-major, becomes a 9-channel "pixel": (B, 9, 23, 1).
        x = body_pose.reshape(B, NUM_BODY_JOINTS, 1, 9).permute(0, 3, 1, 2)
        x = F.relu(self.D_conv2(F.relu(self.D_conv1(x))))  # (B, 32, 23, 1)
        per_joint = torch.cat([head(x[:, :, j, 0]) for j, head in enumerate(self.pose_out)], dim=1)  # (B, 23)
        shape = self.betas_out(F.relu(self.betas_fc2(F.relu(self.betas_fc1(betas)))))  # (B, 1)
        # Channel-major flatten (32 x 23), as published, so the fc1 weights line up.
        all_joints = x.reshape(B, -1)
        all_joints = self.D_alljoints_out(F.relu(self.D_alljoints_fc2(F.relu(self.D_alljoints_fc1(all_joints)))))
        return torch.cat([per_joint, shape, all_joints], dim=1)
