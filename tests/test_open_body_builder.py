"""The open-body builder's pure parts (anny itself is a build-time dependency, absent in CI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from workbench import assets
from workbench.body.keypoints import SMPL_JOINT_NAMES
from workbench.body.open_body import (
    ANNY_TO_SMPL,
    JOINT_BONES,
    fit_joint_regressor,
    mean_hmr_params,
    smpl_part_of_bone,
)
from workbench.body.regressors import derive_extra_regressor
from workbench.geometry import rot6d_to_rotmat


@pytest.mark.parametrize(
    "bone, part",
    [
        ("root", "pelvis"), ("pelvis.L", "pelvis"), ("spine04", "pelvis"), ("spine03", "spine1"),
        ("spine01", "spine3"), ("neck02", "neck"), ("head", "head"), ("eye.R", "head"),
        ("upperleg02.L", "left_hip"), ("lowerleg01.R", "right_knee"), ("foot.L", "left_ankle"),
        ("toe3-2.R", "right_foot"), ("clavicle.L", "left_collar"), ("shoulder01.R", "right_collar"),
        ("upperarm02.L", "left_shoulder"), ("lowerarm01.R", "right_elbow"), ("wrist.L", "left_wrist"),
        ("metacarpal2.R", "right_wrist"), ("finger1-3.L", "left_hand"),
    ],
)
def test_bone_to_smpl_part(bone, part):
    assert smpl_part_of_bone(bone) == part


def test_unknown_bone_is_an_error():
    with pytest.raises(KeyError, match="tongue"):
        smpl_part_of_bone("tongue01")


def test_every_smpl_joint_has_bones():
    assert set(JOINT_BONES) == set(SMPL_JOINT_NAMES)


def test_anny_to_smpl_frame_is_a_rotation():
    np.testing.assert_allclose(ANNY_TO_SMPL @ ANNY_TO_SMPL.T, np.eye(3))
    assert np.linalg.det(ANNY_TO_SMPL) == pytest.approx(1.0)
    np.testing.assert_allclose(ANNY_TO_SMPL @ [0, 0, 1], [0, 1, 0])  # anny up (z) -> SMPL up (y)
    np.testing.assert_allclose(ANNY_TO_SMPL @ [0, -1, 0], [0, 0, 1])  # anny facing (-y) -> SMPL facing (+z)


def test_joint_regressor_recovers_a_convex_combination():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(40, 200, 3)) * 0.05 + rng.normal(size=(1, 200, 3))
    true = np.zeros((2, 200))
    true[0, [3, 17, 50]] = [0.2, 0.5, 0.3]
    true[1, [100, 101]] = [0.6, 0.4]
    joints = np.einsum("jv,nvc->njc", true, verts)
    reg = fit_joint_regressor(verts, joints, radius=(5.0, 5.0))
    assert reg.min() >= 0
    np.testing.assert_allclose(reg.sum(1), 1.0)
    np.testing.assert_allclose(np.einsum("jv,nvc->njc", reg, verts), joints, atol=1e-6)


def test_extra_regressor_rows_are_convex(tmp_path):
    with np.load(assets.asset_path(assets.OPEN_BODY)) as f:
        ids = dict(zip(f["vertex_ids_names"].tolist(), f["vertex_ids"].tolist()))
        extra = derive_extra_regressor(f["v_template"], f["weights"], f["J_regressor"], ids)
        np.testing.assert_allclose(extra, f["J_regressor_extra"], atol=1e-6)
    assert extra.min() >= 0
    np.testing.assert_allclose(extra.sum(1), 1.0)


def test_mean_params_layout_and_root():
    with np.load(assets.asset_path(assets.OPEN_BODY_MEAN_PARAMS)) as f:
        shipped = {k: f[k] for k in f.files}
    fresh = mean_hmr_params()
    assert shipped["pose"].shape == (144,) and shipped["shape"].shape == (10,) and shipped["cam"].shape == (3,)
    for k in fresh:
        np.testing.assert_allclose(shipped[k], fresh[k])
    root = rot6d_to_rotmat(torch.as_tensor(shipped["pose"][:6]))
    torch.testing.assert_close(root, torch.diag(torch.tensor([1.0, -1.0, -1.0])), atol=1e-6, rtol=0)


def test_shipped_report_figures():
    report = json.loads(assets.asset_path("open_body_report.json").read_text())
    assert report["num_vertices"] == 13718
    assert report["variance_captured_by_betas"] > 0.99
    assert report["joint_fit_error_mm"]["shapes"] == 1000
    assert report["joint_fit_error_mm"]["mesh_mean"] < 6.0
    assert 1.2 < report["height_m"]["min"] < report["height_m"]["max"] < 2.2
