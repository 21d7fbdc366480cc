"""Sparse linear blend skinning in numpy: the body forward of the synthetic-data pipeline.

:class:`workbench.body.BodyModel` (smplx) is the reference. On two cores it spends ~100 ms on one
13.7k-vertex body, mostly in dense (V, 24) x (24, 16) products and per-vertex 4x4 ``bmm``; the
open body's skinning weights have ~1.6 non-zeros per vertex and its regressors a few hundred, so
the same algebra with scipy sparse matrices costs ~1 ms. ``tests/test_synth.py`` checks that both
give the same vertices, joints and 44 keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial.transform import Rotation

from workbench.body.keypoints import NUM_SMPL_JOINTS


@dataclass
class SkinnedBody:
    """Posed bodies, float32, metres, body frame (global orientation applied, no translation).

    Attributes:
        vertices: (B, V, 3).
        joints: (B, 24, 3) SMPL joints.
        keypoints: (B, 44, 3) the HMR 2.0 joint set.
    """

    vertices: np.ndarray
    joints: np.ndarray
    keypoints: np.ndarray


class SparseBody:
    """The arrays of a :class:`~workbench.body.BodyModel`, laid out for sparse numpy skinning.

    Args:
        body: the reference model; its buffers are copied once.
    """

    def __init__(self, body) -> None:
        layer = body.layer
        num_betas = body.num_betas
        self.faces = np.asarray(layer.faces, dtype=np.int32)
        self.v_template = layer.v_template.detach().cpu().numpy().astype(np.float32)  # (V, 3)
        V = len(self.v_template)
        self.num_vertices = V
        # (V, 3, K) -> (K, V*3): betas (B, K) @ shapedirs gives flat vertex offsets.
        self.shapedirs = layer.shapedirs[..., :num_betas].detach().cpu().numpy().reshape(V * 3, num_betas).T.copy()
        posedirs = layer.posedirs.detach().cpu().numpy()  # (207, V*3)
        self.posedirs = posedirs.astype(np.float32) if np.any(posedirs) else None  # open body: all zero
        J_regressor = layer.J_regressor.detach().cpu().numpy().astype(np.float64)
        # Joints are linear in betas: precompute their template and shape basis.
        self.joint_template = (J_regressor @ self.v_template).astype(np.float32)  # (24, 3)
        self.joint_shapedirs = np.einsum("jv,kvc->kjc", J_regressor,
                                         self.shapedirs.reshape(num_betas, V, 3)).astype(np.float32)  # (K, 24, 3)
        self.weights = sp.csr_matrix(layer.lbs_weights.detach().cpu().numpy().astype(np.float32))  # (V, 24)
        self.parents = layer.parents.detach().cpu().numpy().astype(np.int64)
        self.extra_regressor = sp.csr_matrix(body.extra_regressor.detach().cpu().numpy().astype(np.float32))
        # The 25 OpenPose points index smplx's 45 joints: 24 SMPL joints + 21 surface vertices.
        vertex_ids = layer.vertex_joint_selector.extra_joints_idxs.detach().cpu().numpy().astype(np.int64)
        self.surface_vertex_ids = vertex_ids
        self.openpose_index = body.openpose_index.detach().cpu().numpy().astype(np.int64)
        self.num_betas = num_betas

    def __call__(self, pose: np.ndarray, betas: np.ndarray) -> SkinnedBody:
        """Pose and shape bodies.

        Args:
            pose: (B, 24, 3) axis-angle or (B, 24, 3, 3) rotation matrices, global orient first.
            betas: (B, K) shape coefficients, K <= num_betas.

        Returns:
            :class:`SkinnedBody` (float32).
        """
        pose = np.asarray(pose, dtype=np.float64)
        B = pose.shape[0]
        rot = pose if pose.shape[-2:] == (3, 3) else Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix()
        rot = rot.reshape(B, NUM_SMPL_JOINTS, 3, 3).astype(np.float32)
        full_betas = np.zeros((B, self.num_betas), np.float32)
        full_betas[:, : np.shape(betas)[1]] = betas
        # 1. Shape: template + blend shapes, and the rest joints that go with them.
        v_shaped = (self.v_template.reshape(1, -1) + full_betas @ self.shapedirs).reshape(B, -1, 3)
        rest_joints = self.joint_template + np.einsum("bk,kjc->bjc", full_betas, self.joint_shapedirs)
        # 2. Pose correctives (zero for the open body, so skipped).
        if self.posedirs is not None:
            pose_feature = (rot[:, 1:] - np.eye(3, dtype=np.float32)).reshape(B, -1)
            v_shaped = v_shaped + (pose_feature @ self.posedirs).reshape(B, -1, 3)
        # 3. Kinematic chain: world rotation and translation of every joint.
        world_rot = np.empty_like(rot)
        world_pos = np.empty_like(rest_joints)
        world_rot[:, 0], world_pos[:, 0] = rot[:, 0], rest_joints[:, 0]
        for j in range(1, NUM_SMPL_JOINTS):
            p = self.parents[j]
            world_rot[:, j] = world_rot[:, p] @ rot[:, j]
            offset = rest_joints[:, j] - rest_joints[:, p]
            world_pos[:, j] = world_pos[:, p] + np.einsum("bij,bj->bi", world_rot[:, p], offset)
        # 4. Skinning transforms G_j(x) = R_j x + (p_j - R_j rest_j), blended by the sparse weights.
        shift = world_pos - np.einsum("bjik,bjk->bji", world_rot, rest_joints)
        G = np.concatenate([world_rot.reshape(B, NUM_SMPL_JOINTS, 9), shift], axis=2)  # (B, 24, 12)
        blended = self.weights @ G.transpose(1, 0, 2).reshape(NUM_SMPL_JOINTS, B * 12)  # (V, B*12)
        blended = np.ascontiguousarray(blended.reshape(-1, B, 12).transpose(1, 2, 0))  # (B, 12, V)
        x, y, z = v_shaped[..., 0], v_shaped[..., 1], v_shaped[..., 2]  # (B, V) each
        vertices = np.stack([blended[:, 3 * i] * x + blended[:, 3 * i + 1] * y + blended[:, 3 * i + 2] * z
                             + blended[:, 9 + i] for i in range(3)], axis=-1)
        # 5. Keypoints: OpenPose from joints + surface vertices, the 19 extra from the regressor.
        smplx_joints = np.concatenate([world_pos, vertices[:, self.surface_vertex_ids]], axis=1)
        extra = (self.extra_regressor @ vertices.transpose(1, 0, 2).reshape(self.num_vertices, B * 3))
        extra = extra.reshape(-1, B, 3).transpose(1, 0, 2)
        keypoints = np.concatenate([smplx_joints[:, self.openpose_index], extra], axis=1)
        return SkinnedBody(vertices=vertices.astype(np.float32), joints=world_pos.astype(np.float32),
                           keypoints=keypoints.astype(np.float32))
