"""SynthHumans: fast paths against references, determinism, label consistency, flips, shards."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from workbench.body import BodyModel
from workbench.config import DataConfig
from workbench.data import augment as A
from workbench.data.pose_prior import sample_poses
from workbench.data.preview import contact_sheet
from workbench.render.raster import rasterize, rasterize_people, resolve_backend
from workbench.data.shards import ShardDataset, write_shards
from workbench.data.skinning import SparseBody
from workbench.data.synth import SynthHumans, finalize
from workbench.render.raycast import cast_rays

SHEET = Path("/tmp/synth_check/sheet.png")


@pytest.fixture(scope="module")
def body_model():
    return BodyModel.open_body()


@pytest.fixture(scope="module")
def train(body_model):
    return SynthHumans(DataConfig(seed=3), split="train", num_samples=200, body=body_model)


@pytest.fixture(scope="module")
def plain(body_model):
    """No augmentation: crops exactly as placed."""
    return SynthHumans(DataConfig(seed=3), split="train", num_samples=200, augment=False, body=body_model)


def project(item):
    p = item["keypoints_3d"][:, :3].astype(np.float64) + item["cam_t"]
    return A.FOCAL_NORMALISED * p[:, :2] / p[:, 2:]


def test_sparse_skinning_matches_body_model(body_model):
    rng = np.random.default_rng(0)
    pose = sample_poses(6, rng).pose
    betas = np.clip(rng.standard_normal((6, 10)), -3, 3).astype(np.float32)
    ref = body_model(pose=torch.as_tensor(pose), betas=torch.as_tensor(betas))
    out = SparseBody(body_model)(pose, betas)
    np.testing.assert_allclose(out.vertices, ref.vertices.numpy(), atol=1e-5)
    np.testing.assert_allclose(out.joints, ref.joints.numpy(), atol=1e-5)
    np.testing.assert_allclose(out.keypoints, ref.keypoints.numpy(), atol=1e-5)


def test_rasteriser_matches_ray_caster(body_model):
    sb = SparseBody(body_model)
    for seed in range(3):
        pose = sample_poses(1, seed).pose
        v = sb(pose, np.zeros((1, 10))).vertices[0]
        v = v - (v.max(0) + v.min(0)) / 2 + np.array([0.03, -0.02, 35.0], np.float32)
        fast = rasterize(v, sb.faces, (256, 256), 5000.0, cull_back=True)
        slow = cast_rays([v], [sb.faces], (256, 256), (5000.0, 5000.0), (128.0, 128.0))
        both = fast.mask & (slow.mesh_id >= 0)
        assert (fast.mask == (slow.mesh_id >= 0)).mean() > 0.999
        assert (fast.face_id[both] == slow.face_id[both]).mean() > 0.995
        np.testing.assert_allclose(fast.depth[both], slow.depth[both], atol=1e-3)


def test_numba_rasteriser_backend_matches_warp(body_model, monkeypatch):
    pytest.importorskip("numba")
    sb = SparseBody(body_model)
    for seed, z in ((0, 35.0), (1, 6.0)):  # far: 1-2 px triangles; near: large ones
        v = sb(sample_poses(1, seed).pose, np.zeros((1, 10))).vertices[0]
        v = v - (v.max(0) + v.min(0)) / 2 + np.array([0.03, -0.02, z], np.float32)
        a = rasterize(v, sb.faces, (256, 256), 5000.0, cull_back=True, backend="warp")
        b = rasterize(v, sb.faces, (256, 256), 5000.0, cull_back=True, backend="numba")
        assert a.mask.mean() > 0.05
        np.testing.assert_array_equal(a.face_id, b.face_id)
        np.testing.assert_allclose(a.depth, b.depth, rtol=1e-6)
        np.testing.assert_allclose(a.normal, b.normal, atol=1e-5)
    monkeypatch.setenv("WORKBENCH_RASTER", "numba")
    assert resolve_backend() == "numba"
    monkeypatch.setenv("WORKBENCH_RASTER", "opengl")
    with pytest.raises(ValueError, match="WORKBENCH_RASTER"):
        resolve_backend()


def test_people_rasterised_together_occlude_each_other(body_model):
    sb = SparseBody(body_model)
    v = sb(sample_poses(2, 4).pose, np.zeros((2, 10))).vertices
    v = v - (v.max(1, keepdims=True) + v.min(1, keepdims=True)) / 2
    v = v + np.array([[[-0.2, 0.0, 6.0]], [[0.3, 0.1, 8.0]]], np.float32)  # overlapping, person 0 in front
    F = len(sb.faces)
    both = rasterize_people(v, sb.faces, (240, 320), 400.0)
    alone = [rasterize(v[k], sb.faces, (240, 320), 400.0, cull_back=True) for k in range(2)]
    owner = np.where(both.mask, both.face_id // F, -1)
    np.testing.assert_array_equal(both.mask, alone[0].mask | alone[1].mask)
    np.testing.assert_array_equal(owner[alone[0].mask], 0)  # the nearer body hides the farther one
    only_1 = alone[1].mask & ~alone[0].mask
    assert (alone[0].mask & alone[1].mask).sum() > 100 and only_1.sum() > 100
    np.testing.assert_array_equal(both.face_id[only_1] - F, alone[1].face_id[only_1])
    np.testing.assert_array_equal(both.face_id[alone[0].mask], alone[0].face_id[alone[0].mask])
    with pytest.raises(ValueError, match=r"\(N, V, 3\)"):
        rasterize_people(v[0], sb.faces, (240, 320), 400.0)


def test_same_index_same_sample_and_disjoint_splits(train, body_model):
    again = SynthHumans(DataConfig(seed=3), split="train", num_samples=200, body=body_model)
    for i in (0, 5, 130):
        a, b = train[i], again[i]
        np.testing.assert_array_equal(a["img"], b["img"])
        np.testing.assert_array_equal(a["keypoints_2d"], b["keypoints_2d"])
        np.testing.assert_array_equal(a["smpl_params"]["body_pose"], b["smpl_params"]["body_pose"])
    val = SynthHumans(DataConfig(seed=3), split="val", num_samples=200, body=body_model)
    train_betas = np.stack([train.sample_scene(i).betas for i in range(64)])
    val_betas = np.stack([val.sample_scene(i).betas for i in range(64)])
    assert not np.isclose(train_betas[:, None], val_betas[None]).all(-1).any()
    other_seed = SynthHumans(DataConfig(seed=4), split="train", num_samples=200, body=body_model)
    assert not np.allclose(other_seed.sample_scene(0).betas, train.sample_scene(0).betas)
    assert not val.augment and train.augment


def test_keys_shapes_dtypes(train):
    item = train[7]
    shapes = {"img": (3, 256, 256), "keypoints_2d": (44, 3), "keypoints_3d": (44, 4), "cam_t": (3,),
              "box_center": (2,), "box_size": (), "img_size": (2,), "mask": (256, 256)}
    for key, shape in shapes.items():
        assert np.shape(item[key]) == shape, key
    assert item["img"].dtype == np.float32 and item["keypoints_2d"].dtype == np.float32
    assert {k: v.shape for k, v in item["smpl_params"].items()} == {"global_orient": (3,), "body_pose": (69,),
                                                                     "betas": (10,)}
    assert all(v == 1.0 for v in item["has_smpl_params"].values())
    assert item["smpl_params_is_axis_angle"] == {"global_orient": True, "body_pose": True, "betas": False}
    assert set(item["meta"]) >= {"index", "activity", "truncated", "occluded_fraction"}
    assert np.all(item["keypoints_3d"][:, 3] == 1) and set(np.unique(item["keypoints_2d"][:, 2])) <= {0.0, 1.0}
    assert -3 < item["img"].min() and item["img"].max() < 3  # ImageNet-normalised
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=4)))  # goes through __getitems__
    assert batch["img"].shape == (4, 3, 256, 256) and batch["smpl_params"]["body_pose"].shape == (4, 69)


def test_dataloader_workers_after_rendering_in_the_parent(train):
    """Forked workers render too (warp and OpenCV were used in the parent first: no deadlock)."""
    train[0]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train, range(8)), batch_size=4, num_workers=2,
                                         timeout=120)
    batches = list(loader)
    assert len(batches) == 2
    np.testing.assert_array_equal(batches[1]["img"][1].numpy(), train[5]["img"])


@pytest.mark.parametrize("name", ["plain", "train"])
def test_projection_of_3d_keypoints_gives_2d_keypoints(request, name):
    ds = request.getfixturevalue(name)
    for i in range(0, 40, 3):
        item = ds[i]
        np.testing.assert_allclose(project(item), item["keypoints_2d"][:, :2], atol=1e-4)


def test_smpl_params_reproduce_keypoints_3d(train):
    for i in (1, 11, 21):
        item = train[i]
        sp = item["smpl_params"]
        pose = np.concatenate([sp["global_orient"], sp["body_pose"]]).reshape(1, 24, 3)
        out = train.body(pose, sp["betas"][None])
        np.testing.assert_allclose(out.keypoints[0], item["keypoints_3d"][:, :3], atol=3e-3)  # flip: body symmetry


def test_visible_keypoints_lie_on_the_body(plain):
    hits, total = 0, 0
    for i in range(0, 60, 2):
        item = plain[i]
        mask = cv2.dilate(item["mask"], np.ones((7, 7), np.uint8))
        kp = item["keypoints_2d"]
        vis = kp[:, 2] > 0
        ij = np.clip(np.floor((kp[vis, :2] + 0.5) * 256).astype(int), 0, 255)
        hits += int(mask[ij[:, 1], ij[:, 0]].sum())
        total += int(vis.sum())
    assert total > 500 and hits / total > 0.97


def test_render_time_flip_mirrors_image_and_swaps_labels(plain):
    scene = plain.sample_scene(12)
    base = plain.render_scene(scene)
    scene.aug = A.AugParams(flip=True)
    flipped = plain.render_scene(scene)
    np.testing.assert_array_equal(flipped["image"], base["image"][:, ::-1])
    expected = A.flip_labels(base)
    for key in ("keypoints_2d", "keypoints_3d", "cam_t"):
        np.testing.assert_allclose(flipped[key], expected[key], atol=1e-5)
    np.testing.assert_allclose(flipped["smpl_params"]["body_pose"], expected["smpl_params"]["body_pose"], atol=1e-6)
    # Flipping the flipped crop again gives the original labels back.
    twice = A.flip_labels(flipped)
    np.testing.assert_allclose(twice["keypoints_2d"], base["keypoints_2d"], atol=1e-6)


def test_render_time_augmentation_matches_image_space_augmentation(plain):
    """Rotating/zooming the camera before rendering puts keypoints and silhouette where warping
    the un-augmented crop (HMR 2.0's way) puts them."""
    scene = plain.sample_scene(30)
    scene.occluded, scene.truncated = False, False
    base = plain.render_scene(scene)
    for params in (A.AugParams(rot=25.0), A.AugParams(rot=-35.0, scale=1.2, tx=0.02, flip=True)):
        scene.aug = params
        rendered = plain.render_scene(scene)
        warped = A.augment_crop(base, params)
        both = (rendered["keypoints_2d"][:, 2] > 0) & (warped["keypoints_2d"][:, 2] > 0)
        np.testing.assert_allclose(rendered["keypoints_2d"][both, :2], warped["keypoints_2d"][both, :2], atol=4e-3)
        np.testing.assert_allclose(rendered["keypoints_3d"], warped["keypoints_3d"], atol=1e-4)
        inter = (rendered["mask"] & warped["mask"]).sum()
        assert inter / (rendered["mask"] | warped["mask"]).sum() > 0.9


def test_shards_round_trip(plain, tmp_path):
    ds = SynthHumans(DataConfig(seed=3), split="train", num_samples=6, augment=False, body=None)
    out = write_shards(ds, tmp_path / "shards", shard_size=4, progress=False)
    names = sorted(os.listdir(out))
    assert names == ["index.json", "shard-00000.npz", "shard-00001.npz"]  # no temporary files left
    mtime = (out / "shard-00000.npz").stat().st_mtime_ns
    write_shards(ds, out, shard_size=4, progress=False)  # resumes: nothing to do
    assert (out / "shard-00000.npz").stat().st_mtime_ns == mtime
    stored = ShardDataset(out)
    assert len(stored) == 6
    for i in (0, 5):
        a, b = stored[i], ds[i]
        np.testing.assert_array_equal(a["keypoints_2d"], b["keypoints_2d"])
        np.testing.assert_array_equal(a["smpl_params"]["global_orient"], b["smpl_params"]["global_orient"])
        np.testing.assert_array_equal(a["mask"], b["mask"])
        assert a["meta"] == {k: (v.item() if hasattr(v, "item") else v) for k, v in b["meta"].items()}
        assert np.abs(a["img"] - b["img"]).mean() < 0.1  # JPEG at quality 95: ~4 grey levels on noisy crops
    augmented = ShardDataset(out, augment=DataConfig(), seed=1)
    item = augmented[2]
    np.testing.assert_allclose(project(item), item["keypoints_2d"][:, :2], atol=3e-3)
    lossless = ShardDataset(write_shards(ds, tmp_path / "raw", shard_size=4, image_format="raw", progress=False))
    np.testing.assert_array_equal(lossless[5]["img"], ds[5]["img"])


def test_contact_sheet(train):
    items = train.render_batch(range(100, 124))
    sheet = contact_sheet(items, cols=6)
    assert sheet.shape == (4 * 256, 6 * 256, 3)
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(SHEET), sheet[..., ::-1])
    assert any(it["meta"]["occluded_fraction"] > 0 for it in items)
    assert len({it["meta"]["activity"] for it in items}) >= 5
    assert finalize(train.render_scene(train.sample_scene(100)))["img"].shape == (3, 256, 256)
