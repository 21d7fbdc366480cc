"""Joint and keypoint conventions: SMPL's 24 joints, the 44-joint HMR 2.0 set, flips.

The 44-joint set is the workbench's internal standard for losses and metrics (as in HMR 2.0):
indices 0-24 are OpenPose BODY_25, 25-43 the 19 "extra" joints of SPIN/HMR 2.0
(``SMPL_to_J19``). Pelvis for 3D alignment is joint 39; 3D metrics use ``EVAL_JOINTS_14``.
"""

from __future__ import annotations

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
NUM_SMPL_JOINTS = 24
NUM_BODY_JOINTS = 23  # all but the root: the rotations in ``body_pose``

# Surface keypoints that smplx's VertexJointSelector appends after the 24 joints (in this order).
VERTEX_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)

OPENPOSE_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
EXTRA_NAMES: tuple[str, ...] = (
    "R Ankle", "R Knee", "R Hip", "L Hip", "L Knee", "L Ankle", "R Wrist", "R Elbow",
    "R Shoulder", "L Shoulder", "L Elbow", "L Wrist", "Neck (LSP)", "Top of Head (LSP)",
    "Pelvis (MPII)", "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
)
HMR_JOINT_NAMES: tuple[str, ...] = OPENPOSE_NAMES + EXTRA_NAMES
NUM_HMR_JOINTS = 44

# Index into smplx's 45 joints (24 SMPL + 21 vertex keypoints) for each OpenPose joint.
OPENPOSE_FROM_SMPLX: tuple[int, ...] = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
)

# For each J19 joint: the SMPL joint it corresponds to, where one exists (used to derive an
# extra-joint regressor for bodies that do not ship one).
EXTRA_FROM_SMPL: dict[int, int] = {
    0: 8, 1: 5, 2: 2, 3: 1, 4: 4, 5: 7, 6: 21, 7: 19, 8: 17, 9: 16, 10: 18, 11: 20,
}

PELVIS_INDEX = 39  # "Pelvis (MPII)": root for 3D alignment in losses and metrics
HEAD_INDEX = 43
EVAL_JOINTS_14: tuple[int, ...] = tuple(range(25, 38)) + (43,)  # LSP-14 with the H36M head

_FLIP_BODY = (0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21)
_FLIP_EXTRA = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18)
HMR_FLIP_PERMUTATION: tuple[int, ...] = _FLIP_BODY + tuple(25 + i for i in _FLIP_EXTRA)

# Left/right swap of the 24 SMPL joints (for flipping poses).
SMPL_FLIP_PERMUTATION: tuple[int, ...] = (
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22,
)

# Bones for drawing skeletons of the 44-joint set (pairs of indices into HMR_JOINT_NAMES).
HMR_SKELETON: tuple[tuple[int, int], ...] = (
    (39, 27), (27, 26), (26, 25), (39, 28), (28, 29), (29, 30),  # legs
    (39, 41), (41, 40), (40, 37), (37, 42), (42, 43), (43, 38),  # spine, neck, head
    (40, 33), (33, 32), (32, 31), (40, 34), (34, 35), (35, 36),  # arms
    (25, 24), (25, 22), (30, 21), (30, 19),  # feet: ankle to heel and big toe
)
