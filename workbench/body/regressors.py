"""Joint regressors: the 19 "extra" joints of the HMR 2.0 set, derived for any SMPL-format body.

The published ``SMPL_to_J19`` regressor was fitted to SMPL's 6,890-vertex mesh and cannot be
shipped. :func:`derive_extra_regressor` builds an equivalent from what every SMPL-format body has
(template, skinning weights, the 24-joint regressor, surface keypoint vertices): limb joints
reuse SMPL's rows, the LSP/MPII/H36M torso and head joints are convex combinations placed where
those datasets annotate them. Every row is non-negative and sums to one, so the regressed joints
move with the surface like SMPL's.
"""

from __future__ import annotations

import numpy as np

from workbench.body.keypoints import EXTRA_FROM_SMPL, SMPL_JOINT_NAMES, VERTEX_KEYPOINT_NAMES

_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def top_of_head_weights(v_template: np.ndarray, weights: np.ndarray, band: float = 0.01) -> np.ndarray:
    """Uniform weights over the highest head vertices.

    Args:
        v_template: (V, 3) rest vertices, metres, y up.
        weights: (V, 24) skinning weights.
        band: vertices within this many metres of the highest head vertex are averaged.
    Returns:
        (V,) non-negative weights summing to 1.
    """
    head = np.argmax(weights, axis=1) == _J["head"]
    y = np.where(head, v_template[:, 1], -np.inf)
    sel = y >= y.max() - band
    return sel / sel.sum()


def derive_extra_regressor(
    v_template: np.ndarray,
    weights: np.ndarray,
    j_regressor: np.ndarray,
    vertex_ids: dict[str, int],
) -> np.ndarray:
    """The 19-joint extra regressor (``SMPL_to_J19`` equivalent) for an SMPL-format body.

    Args:
        v_template: (V, 3) rest vertices, metres, y up.
        weights: (V, 24) skinning weights.
        j_regressor: (24, V) SMPL joint regressor.
        vertex_ids: surface keypoint vertex indices, keys as in ``VERTEX_KEYPOINT_NAMES``.
    Returns:
        (19, V) float64, rows non-negative and summing to 1, in the order of ``EXTRA_NAMES``.
    """
    missing = [k for k in ("nose",) if k not in vertex_ids]
    if missing:
        raise ValueError(f"vertex_ids lacks {missing}; expected the keys {VERTEX_KEYPOINT_NAMES}.")
    num_vertices = v_template.shape[0]
    jr = np.asarray(j_regressor, dtype=np.float64)
    nose = np.zeros(num_vertices)
    nose[vertex_ids["nose"]] = 1.0
    top = top_of_head_weights(v_template, weights)

    rows = np.zeros((19, num_vertices))
    for extra, smpl in EXTRA_FROM_SMPL.items():
        rows[extra] = jr[smpl]
    # LSP annotates the neck just under the chin: halfway between SMPL's neck base and head joint.
    rows[12] = 0.5 * (jr[_J["neck"]] + jr[_J["head"]])
    rows[13] = top
    rows[14] = 0.5 * (jr[_J["left_hip"]] + jr[_J["right_hip"]])  # MPII pelvis: mid-hips
    rows[15] = 0.5 * (jr[_J["left_shoulder"]] + jr[_J["right_shoulder"]])  # MPII thorax
    rows[16] = 0.5 * (rows[14] + rows[15])  # H36M spine: mid-torso
    rows[17] = 0.5 * (jr[_J["head"]] + nose)  # H36M "jaw" (its neck/nose joint)
    rows[18] = 0.3 * jr[_J["head"]] + 0.7 * top  # H36M head: upper skull centre
    rows = np.clip(rows, 0.0, None)
    return rows / rows.sum(axis=1, keepdims=True)
