"""The open body and BodyModel: structure, kinematics, keypoints, loaders, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench import assets
from workbench.body import BodyModel
from workbench.body.keypoints import (
    HMR_FLIP_PERMUTATION,
    HMR_JOINT_NAMES,
    PELVIS_INDEX,
    SMPL_FLIP_PERMUTATION,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
)
from workbench.body.model import load_body_data


@pytest.fixture(scope="module")
def npz() -> dict[str, np.ndarray]:
    with np.load(assets.asset_path(assets.OPEN_BODY)) as f:
        return {k: f[k] for k in f.files}


def test_open_body_has_smpl_structure(npz):
    v = npz["v_template"].shape[0]
    assert v == 13718
    assert npz["shapedirs"].shape == (v, 3, 10)
    assert npz["posedirs"].shape == (v, 3, 207) and not npz["posedirs"].any()
    assert npz["J_regressor"].shape == (24, v)
    assert npz["J_regressor"].min() >= 0
    np.testing.assert_allclose(npz["J_regressor"].sum(1), 1, atol=1e-5)
    assert (npz["J_regressor"] > 0).sum(1).max() < 100  # sparse
    np.testing.assert_allclose(npz["weights"].sum(1), 1, atol=1e-5)
    assert list(npz["kintree_table"][0, 1:]) == list(SMPL_PARENTS[1:])
    assert npz["J_regressor_extra"].shape == (19, v) and npz["J_regressor_extra"].min() >= 0
    assert npz["f"].max() == v - 1


def test_smplx_loads_npz_through_data_struct(npz):
    """The file is usable by plain smplx, as the brief promises users."""
    import smplx
    from smplx.utils import Struct

    ids = dict(zip(npz["vertex_ids_names"].tolist(), npz["vertex_ids"].tolist()))
    layer = smplx.SMPLLayer(model_path=".", data_struct=Struct(**npz), vertex_ids=ids)
    out = layer()
    assert out.joints.shape == (1, 45, 3) and out.vertices.shape == (1, 13718, 3)


def test_rest_pose_is_a_t_pose(body):
    out = body()
    j = {n: out.joints[0, i] for i, n in enumerate(SMPL_JOINT_NAMES)}
    for side, sign in (("left", 1), ("right", -1)):
        arm = j[f"{side}_wrist"] - j[f"{side}_shoulder"]
        assert sign * arm[0] > 0.4  # arms straight out along +-x ...
        assert abs(arm[1]) < 0.03 and abs(arm[2]) < 0.03  # ... and horizontal
    assert j["head"][1] > j["neck"][1] > j["spine3"][1] > j["pelvis"][1] > j["left_knee"][1] > j["left_ankle"][1]
    height = out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min()
    assert 1.5 < height < 1.95


def test_keypoints_44_are_anatomically_placed(body):
    kp = body().keypoints[0]
    name = {n: kp[i] for i, n in enumerate(HMR_JOINT_NAMES)}
    assert kp.shape == (44, 3)
    assert name["Nose"][2] > name["Head (H36M)"][2]  # the face looks along +z
    assert name["LEye"][0] > 0 > name["REye"][0]  # left is +x
    assert name["Top of Head (LSP)"][1] > name["Head (H36M)"][1] > name["Neck (LSP)"][1]
    torch.testing.assert_close(kp[PELVIS_INDEX], 0.5 * (name["L Hip"] + name["R Hip"]))
    assert name["LHeel"][2] < name["LBigToe"][2]


def test_flip_permutations_are_involutions():
    for perm in (HMR_FLIP_PERMUTATION, SMPL_FLIP_PERMUTATION):
        assert sorted(perm) == list(range(len(perm)))
        assert [perm[p] for p in perm] == list(range(len(perm)))


def test_flip_permutation_mirrors_the_body(body):
    kp = body().keypoints[0]
    mirrored = kp * torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(mirrored[list(HMR_FLIP_PERMUTATION)], kp, atol=0.02, rtol=0)


def test_axis_angle_and_rotation_matrix_inputs_agree(body):
    import roma

    g = torch.Generator().manual_seed(0)
    aa = 0.4 * torch.randn(3, 24, 3, generator=g)
    betas = torch.randn(3, 10, generator=g)
    a = body(global_orient=aa[:, 0], body_pose=aa[:, 1:].reshape(3, 69), betas=betas)
    b = body(pose=roma.rotvec_to_rotmat(aa), betas=betas)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.keypoints, b.keypoints, atol=1e-5, rtol=0)


def test_rotation_about_root_rotates_everything(body):
    import roma

    rot = torch.tensor([[0.0, 0.3, 0.0]])
    out0, out1 = body(), body(global_orient=rot)
    r = roma.rotvec_to_rotmat(rot)[0]
    root = out0.joints[0, 0]
    expected = (out0.vertices[0] - root) @ r.T + root
    torch.testing.assert_close(out1.vertices[0], expected, atol=1e-5, rtol=0)


def test_bending_the_elbow_moves_only_the_forearm(body):
    pose = torch.zeros(1, 24, 3)
    elbow = SMPL_JOINT_NAMES.index("left_elbow")
    pose[0, elbow] = torch.tensor([0.0, -1.2, 0.0])
    out0, out1 = body(), body(pose=pose)
    shift = (out1.vertices - out0.vertices).norm(dim=-1)[0]
    x = out0.vertices[0, :, 0]
    shoulder = out0.joints[0, SMPL_JOINT_NAMES.index("left_shoulder"), 0]
    assert (shift > 0.1).any()
    assert (x[shift > 1e-4] > shoulder).all()  # the skin blend reaches up the arm, never past the shoulder
    assert (x[shift > 0.01] > out0.joints[0, elbow, 0] - 0.08).all()  # real motion: forearm and elbow only
    assert (out1.joints[0, :elbow] == out0.joints[0, :elbow]).all()


def test_betas_are_whitened_and_change_the_body(body):
    g = torch.Generator().manual_seed(1)
    out = body(betas=torch.randn(256, 10, generator=g))
    heights = out.vertices[:, :, 1].amax(1) - out.vertices[:, :, 1].amin(1)
    assert 0.05 < heights.std() < 0.3  # a population of adults, not one body
    shapedirs = body.layer.shapedirs.reshape(-1, 10)
    norms = shapedirs.norm(dim=0)
    assert (norms[:-1] >= norms[1:]).all()  # PCA order: decreasing variance


def test_batched_forward_matches_single(body):
    g = torch.Generator().manual_seed(2)
    pose, betas = 0.3 * torch.randn(4, 72, generator=g), torch.randn(4, 10, generator=g)
    batched = body(pose=pose, betas=betas)
    single = body(pose=pose[2:3], betas=betas[2:3])
    torch.testing.assert_close(batched.vertices[2:3], single.vertices, atol=1e-5, rtol=0)


def test_transl_and_double_precision(body):
    b64 = BodyModel.open_body().double()
    out = b64(transl=torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))
    assert out.vertices.dtype == torch.float64
    torch.testing.assert_close(out.joints[0, 0], b64().joints[0, 0] + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu(body):
    out = BodyModel.open_body().cuda()(pose=torch.zeros(2, 72, device="cuda"))
    assert out.vertices.is_cuda


# --- bad input -------------------------------------------------------------------------------


def test_nan_parameters_are_rejected(body):
    with pytest.raises(ValueError, match="NaN"):
        body(betas=torch.full((1, 10), float("nan")))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"body_pose": torch.zeros(1, 22, 3)}, "body_pose has shape"),
        ({"betas": torch.zeros(1, 11)}, "betas has shape"),
        ({"global_orient": torch.zeros(2, 3), "betas": torch.zeros(1, 10)}, "batch size"),
        ({"pose": torch.zeros(1, 72), "body_pose": torch.zeros(1, 69)}, "either pose"),
    ],
)
def test_wrong_shapes_are_rejected(body, kwargs, match):
    with pytest.raises(ValueError, match=match):
        body(**kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        BodyModel.from_file(tmp_path / "nope.npz")


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="could not be read"):
        BodyModel.from_file(bad)


def test_missing_and_wrong_shape_arrays(tmp_path, npz):
    partial = {k: v for k, v in npz.items() if k != "weights"}
    np.savez(tmp_path / "partial.npz", **partial)
    with pytest.raises(ValueError, match=r"missing \['weights'\]"):
        load_body_data(tmp_path / "partial.npz")
    wrong = dict(npz, J_regressor=npz["J_regressor"][:, :100])
    np.savez(tmp_path / "wrong.npz", **wrong)
    with pytest.raises(ValueError, match="J_regressor has shape"):
        load_body_data(tmp_path / "wrong.npz")


def test_smpl_without_a_path_says_what_to_do(monkeypatch):
    monkeypatch.delenv(assets.SMPL_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="WORKBENCH_SMPL_PATH"):
        BodyModel.smpl()
