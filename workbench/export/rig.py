"""A track as a rig: one shaped rest body, 24 joints and their rotations over time, in a y-up frame.

Every export (GLB, BVH, OBJ/PLY) shares this frame so that the files overlay when opened together:

    y-up frame = the camera's OpenGL frame: metres, camera at the origin, x right, y up, z toward the
    viewer (the camera looks down -z). It is the tracker's camera frame (x right, y down, z forward)
    rotated 180 degrees about x: ``p_yup = CAMERA_TO_Y_UP @ p_camera``, i.e. y and z negated.

The rest body is the body model's template shaped by the track's mean betas, in the body's own frame
(y up, facing +z); bind pose rotations are all identity, so a joint's rest offset is
``rest_joints[j] - rest_joints[parent[j]]``. Posing it with ``rotations`` by forward kinematics
reproduces the body model's joints (``TrackMotion.posed``) in the y-up frame exactly; skinning its
vertices with the LBS weights reproduces the body's vertices except for pose-corrective blendshapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.body.keypoints import SMPL_JOINT_NAMES

__all__ = ["CAMERA_TO_Y_UP", "Rig", "RigAnimation", "body_rig", "camera_to_y_up", "fill_gaps",
           "forward_kinematics", "linear_blend_skinning", "rig_animation"]

CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])  # rotation by 180 degrees about x; its own inverse


def camera_to_y_up(points: np.ndarray) -> np.ndarray:
    """(..., 3) points in the camera frame (y down, z forward) -> the y-up frame. Metres in, metres out."""
    return np.asarray(points) * np.array([1.0, -1.0, -1.0], dtype=np.asarray(points).dtype)


@dataclass
class Rig:
    """The shaped rest body of one track (float64, metres, body frame: y up, facing +z).

    Attributes:
        names: the 24 SMPL joint names. parents: (24,) int parent index, -1 for the root.
        rest_joints: (24, 3) joint positions in the rest pose. rest_vertices: (V, 3).
        faces: (F, 3) int triangle indices. weights: (V, 24) LBS weights, rows sum to 1.
        betas: (10,) the shape used.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    rest_joints: np.ndarray
    rest_vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    betas: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """(24, 3) each joint's rest offset from its parent (the root's is its rest position)."""
        out = self.rest_joints.copy()
        out[1:] -= self.rest_joints[self.parents[1:]]
        return out


def body_rig(body, betas: np.ndarray) -> Rig:
    """The rest body of ``body`` (a :class:`~workbench.body.BodyModel`) shaped by ``betas`` (K,)."""
    layer = body.layer
    shapedirs = layer.shapedirs.detach().double().numpy()  # (V, 3, K)
    b = np.zeros(shapedirs.shape[-1])
    k = min(len(betas), len(b))
    b[:k] = np.asarray(betas, np.float64)[:k]
    vertices = layer.v_template.detach().double().numpy() + shapedirs @ b
    joints = layer.J_regressor.detach().double().numpy() @ vertices
    parents = layer.parents.detach().numpy().astype(np.int64)
    return Rig(names=tuple(SMPL_JOINT_NAMES), parents=parents, rest_joints=joints, rest_vertices=vertices,
               faces=body.faces, weights=layer.lbs_weights.detach().double().numpy(), betas=b)


@dataclass
class RigAnimation:
    """A rig's pose over time, y-up frame.

    Attributes:
        frames: (T,) int frame indices. fps: frames per second (times = frames / fps, seconds).
        rotations: (T, 24, 3, 3) local joint rotations (the root's in the y-up frame, others relative
            to their parent, exactly the body's ``body_pose``).
        root_position: (T, 3) metres, world position of the root joint (pelvis).
        filled: (T,) bool, True where the frame was interpolated over a gap of the track.
    """

    frames: np.ndarray
    fps: float
    rotations: np.ndarray
    root_position: np.ndarray
    filled: np.ndarray

    @property
    def times(self) -> np.ndarray:
        return self.frames / float(self.fps)


def rig_animation(motion, rig: Rig) -> RigAnimation:
    """A :class:`~workbench.tracking.motion.TrackMotion` (T frames) as rotations of ``rig`` in the y-up frame.

    The body model puts a vertex at ``R0 (v - J0) + J0 + ...`` + transl, so the root joint sits at
    ``J0 + transl`` and turns by ``R0``; the frame change turns both by ``CAMERA_TO_Y_UP``.
    """
    rotations = motion.rotmats.astype(np.float64).copy()
    rotations[:, 0] = CAMERA_TO_Y_UP @ rotations[:, 0]
    root = camera_to_y_up(motion.transl.astype(np.float64) + rig.rest_joints[0])
    return RigAnimation(frames=np.asarray(motion.frames, np.int64), fps=float(motion.fps), rotations=rotations,
                        root_position=root, filled=np.zeros(len(motion.frames), bool))


def fill_gaps(anim: RigAnimation) -> RigAnimation:
    """Every frame from the first to the last: missing frames interpolated (slerp rotations, linear
    root position) -- what a glTF LINEAR sampler shows between the same keys."""
    from scipy.spatial.transform import Rotation, Slerp

    full = np.arange(anim.frames[0], anim.frames[-1] + 1)
    if len(full) == len(anim.frames):
        return anim
    rotations = np.empty((len(full),) + anim.rotations.shape[1:])
    for j in range(anim.rotations.shape[1]):
        rotations[:, j] = Slerp(anim.frames, Rotation.from_matrix(anim.rotations[:, j]))(full).as_matrix()
    root = np.stack([np.interp(full, anim.frames, anim.root_position[:, c]) for c in range(3)], axis=1)
    return RigAnimation(frames=full, fps=anim.fps, rotations=rotations, root_position=root,
                        filled=~np.isin(full, anim.frames))


def forward_kinematics(rig: Rig, rotations: np.ndarray, root_position: np.ndarray):
    """World transforms of the joints.

    Args:
        rotations: (T, 24, 3, 3) local rotations. root_position: (T, 3) metres.
    Returns:
        (world rotations (T, 24, 3, 3), world joint positions (T, 24, 3) metres).
    """
    offsets = rig.offsets
    world_r = np.empty_like(rotations)
    world_t = np.empty(rotations.shape[:2] + (3,))
    world_r[:, 0], world_t[:, 0] = rotations[:, 0], root_position
    for j in range(1, len(rig.parents)):
        p = rig.parents[j]
        world_r[:, j] = world_r[:, p] @ rotations[:, j]
        world_t[:, j] = world_t[:, p] + world_r[:, p] @ offsets[j]
    return world_r, world_t


def linear_blend_skinning(rig: Rig, rotations: np.ndarray, root_position: np.ndarray,
                          weights: np.ndarray | None = None) -> np.ndarray:
    """Skinned vertices (T, V, 3), metres: ``sum_j w_vj (R_j (v - J_j^rest) + t_j)``.

    ``weights`` (V, 24) default to the rig's; pass truncated ones to see what a 4-influence file shows.
    """
    w = rig.weights if weights is None else weights
    world_r, world_t = forward_kinematics(rig, rotations, root_position)
    # 1. Each joint's transform of rest space: x -> R_j (x - J_j^rest) + t_j.
    shift = world_t - np.einsum("tjab,jb->tja", world_r, rig.rest_joints)
    # 2. Blend the transforms per vertex, then move the rest vertices.
    blend_r = np.einsum("vj,tjab->tvab", w, world_r)
    blend_t = np.einsum("vj,tja->tva", w, shift)
    return np.einsum("tvab,vb->tva", blend_r, rig.rest_vertices) + blend_t
