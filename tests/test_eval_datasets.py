"""Evaluation sets in HMR 2.0's npz layout, COCO json, and the runner on them."""

from __future__ import annotations

import json
import types

import cv2
import numpy as np
import pytest
import torch

from workbench.evaluate.datasets import COCO_TO_HMR44, EvalNpzDataset, coco_keypoint_arrays, coco_keypoint_dataset
from workbench.evaluate.pose_metrics import mpjpe, pa_mpjpe, pck, summarize
from workbench.evaluate.runner import evaluate_model, summary_table

N = 3
IMAGES = ("a.jpg", "sub/b.png", "a.jpg")


def _image(path, dot_xy):
    """A 240x320 photo: a grey 'person' rectangle and one white dot at ``dot_xy`` (where keypoint 0 is)."""
    img = np.full((240, 320, 3), 40, np.uint8)
    cv2.rectangle(img, (120, 40), (200, 220), (90, 120, 160), -1)
    cv2.circle(img, (int(dot_xy[0]), int(dot_xy[1])), 3, (255, 255, 255), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _arrays(rng):
    center = np.array([[160.0, 130.0], [150.0, 120.0], [160.0, 130.0]])
    scale = np.array([[90.0, 190.0], [100.0, 180.0], [90.0, 190.0]])  # pixels (HMR 2.0's files)
    body = np.zeros((N, 25, 3), np.float32)
    extra = np.zeros((N, 19, 3), np.float32)
    body[:, :, :2] = center[:, None] + rng.uniform(-40, 40, (N, 25, 2))
    body[:, :, 2] = 1.0
    extra[:, :14, :2] = center[:, None] + rng.uniform(-40, 40, (N, 14, 2))
    extra[:, :14, 2] = 1.0
    extra[2, :, 2] = 0.0
    body[2, :, 2] = 0.0  # sample 2: nothing visible
    body[:, 0, :2] = [[150.0, 80.0], [170.0, 100.0], [150.0, 80.0]]  # the dot
    kp3d = np.concatenate([rng.normal(0, 0.3, (N, 19, 3)), np.ones((N, 19, 1))], -1).astype(np.float32)
    kp3d[2, :, 3] = 0.0  # ... and no 3D ground truth
    return {"imgname": np.array(IMAGES), "center": center, "scale": scale, "body_keypoints_2d": body,
            "extra_keypoints_2d": extra, "extra_keypoints_3d": kp3d, "body_pose": rng.normal(0, 0.1, (N, 72)),
            "has_body_pose": np.ones(N), "betas": np.zeros((N, 10)), "has_betas": np.ones(N)}


@pytest.fixture()
def eval_set(tmp_path):
    arrays = _arrays(np.random.default_rng(0))
    for name, dot in zip(IMAGES[:2], arrays["body_keypoints_2d"][:2, 0, :2]):
        _image(tmp_path / "images" / name, dot)
    np.savez(tmp_path / "tiny.npz", **arrays)
    return tmp_path / "tiny.npz", tmp_path / "images", arrays


def test_items_match_the_published_crop(eval_set):
    npz, root, arrays = eval_set
    with pytest.warns(UserWarning, match="no visible 2D keypoint"):
        ds = EvalNpzDataset(npz, root, name="tiny")
    assert len(ds) == N
    item = ds[1]
    assert item["img"].shape == (3, 256, 256) and item["img"].dtype == np.float32
    assert item["keypoints_2d"].shape == (44, 3) and item["keypoints_3d"].shape == (44, 4)
    assert item["imgname"] == "sub/b.png" and item["index"] == 1
    # 3:4 expansion of (100, 180) -> (135, 180): square side 180; PCK normaliser 180 / max(100, 180) = 1.
    assert item["box_size"] == pytest.approx(180.0) and item["box_scale"] == pytest.approx(1.0)
    assert ds[0]["box_size"] == pytest.approx(190.0)
    # The white dot drawn at keypoint 0 lands where keypoint 0's crop coordinates say.
    bright = item["img"].sum(0)
    row, col = np.unravel_index(np.argmax(bright), bright.shape)
    expected = (item["keypoints_2d"][0, :2] + 0.5) * 256
    assert np.allclose([col + 0.5, row + 0.5], expected, atol=2.5)
    # HMR 2.0 zeroes the 3D confidence of OpenPose joints 1-14; extra joints come from the file.
    assert np.all(item["keypoints_3d"][1:15, 3] == 0)
    np.testing.assert_allclose(item["keypoints_3d"][25:], arrays["extra_keypoints_3d"][1])
    assert item["has_keypoints_3d"] == 1.0 and item["smpl_params"]["body_pose"].shape == (69,)


def test_scale_units_hmr_matches_pixels(eval_set, tmp_path):
    npz, root, arrays = eval_set
    arrays = dict(arrays, scale=arrays["scale"] / 200.0)
    with pytest.warns(UserWarning):
        a, b = EvalNpzDataset(npz, root), EvalNpzDataset(arrays, root, scale_units="hmr")
    np.testing.assert_allclose(a[0]["img"], b[0]["img"])
    np.testing.assert_allclose(a[0]["keypoints_2d"], b[0]["keypoints_2d"], atol=1e-6)


def test_bad_layout_lists_every_problem(eval_set):
    _, root, arrays = eval_set
    broken = {k: v for k, v in arrays.items() if k not in ("center", "has_betas")}
    with pytest.raises(ValueError, match="center") as err:
        EvalNpzDataset(broken, root)
    assert "'betas' given without 'has_betas'" in str(err.value)
    with pytest.raises(ValueError, match="mismatched lengths.*extra_keypoints_2d=2"):
        EvalNpzDataset(dict(arrays, extra_keypoints_2d=arrays["extra_keypoints_2d"][:2]), root)
    with pytest.raises(ValueError, match="body_keypoints_2d.*shape"):
        EvalNpzDataset(dict(arrays, body_keypoints_2d=arrays["body_keypoints_2d"][:, :17]), root)


@pytest.mark.filterwarnings("ignore:.*no visible 2D keypoint")
def test_missing_images_raise_or_are_skipped(eval_set, tmp_path):
    npz, root, arrays = eval_set
    (root / "sub" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 image file.*1 of 3 samples.*sub/b.png"):
        EvalNpzDataset(npz, root)
    with pytest.warns(UserWarning, match="skipped, 2 samples left"):
        ds = EvalNpzDataset(npz, root, skip_missing=True)
    assert len(ds) == 2 and ds.dropped == ["sub/b.png"] and [ds[i]["index"] for i in range(2)] == [0, 2]


class _ConstantModel(torch.nn.Module):
    """Stands in for HMR2: the same keypoints for every crop, and a body of ``num_vertices``."""

    def __init__(self, kp3d, kp2d, num_vertices=13718, name="open_body"):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.kp3d, self.kp2d = kp3d, kp2d
        layer = types.SimpleNamespace(v_template=torch.zeros(num_vertices, 3))
        self.smpl = types.SimpleNamespace(name=name, layer=layer)

    def predict(self, img):
        B = img.shape[0]
        return {"pred_keypoints_3d": self.kp3d.expand(B, -1, -1), "pred_keypoints_2d": self.kp2d.expand(B, -1, -1)}


def test_runner_matches_pose_metrics_and_flags_invisible(eval_set):
    npz, root, _ = eval_set
    with pytest.warns(UserWarning):
        ds = EvalNpzDataset(npz, root, name="tiny")
    g = torch.Generator().manual_seed(0)
    model = _ConstantModel(torch.randn(1, 44, 3, generator=g) * 0.3, torch.rand(1, 44, 2, generator=g) * 0.4 - 0.2)
    df = evaluate_model(model, ds, batch_size=2, progress=False)
    assert len(df) == N and list(df["imgname"]) == list(IMAGES)
    assert np.isnan(df.loc[2, "pck@0.05"]) and df.loc[2, "num_visible"] == 0 and not df.loc[2, "has_keypoints_3d"]
    assert np.isnan(df.loc[2, "mpjpe"]) and np.isfinite(df.loc[:1, "mpjpe"]).all()
    # Slow reference: the batched metrics of pose_metrics on the whole set at once.
    items = [ds[i] for i in range(N)]
    gt2 = torch.stack([torch.as_tensor(it["keypoints_2d"]) for it in items])
    gt3 = torch.stack([torch.as_tensor(it["keypoints_3d"]) for it in items])
    scale = torch.tensor([float(it["box_scale"]) for it in items])
    pred3 = model.kp3d.expand(2, -1, -1)  # samples 0 and 1 have 3D ground truth
    ref = {"mpjpe": mpjpe(pred3, gt3[:2]), "pa_mpjpe": pa_mpjpe(pred3, gt3[:2])}
    for thr in (0.05, 0.1):
        ref[f"pck@{thr}_correct"], ref[f"pck@{thr}_visible"] = pck(model.kp2d.expand(N, -1, -1), gt2, thr, scale)
    expected = summarize([ref])
    got = summary_table({"tiny": df}).loc["tiny"]
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key
    assert got["samples"] == N and got["no_visible_2d"] == 1
    # A slice summarises too.
    assert summary_table({"a": df[df.imgname == "a.jpg"]}).loc["a", "samples"] == 2


def test_runner_rejects_empty_and_foreign_bodies(eval_set):
    npz, root, _ = eval_set
    with pytest.warns(UserWarning):
        ds = EvalNpzDataset(npz, root)
    model = _ConstantModel(torch.zeros(1, 44, 3), torch.zeros(1, 44, 2))
    with pytest.raises(ValueError, match="empty"):
        evaluate_model(model, torch.utils.data.Subset(ds, []), progress=False)
    ds.body_spec = {"name": "smpl", "num_vertices": 6890, "num_keypoints": 44}
    with pytest.raises(ValueError, match=r"model's body \(open_body, 13718 vertices\).*\(smpl, 6890"):
        evaluate_model(model, ds, progress=False)
    ds.body_spec = None
    with pytest.raises(ValueError, match="joint sets differ"):
        evaluate_model(_ConstantModel(torch.zeros(1, 45, 3), torch.zeros(1, 45, 2)), ds, progress=False)


def test_coco_json_maps_17_keypoints(tmp_path):
    _image(tmp_path / "img" / "000001.jpg", (150, 80))
    kps = np.zeros((17, 3))
    kps[:, :2] = np.arange(34).reshape(17, 2) + 100
    kps[:, 2] = 2
    kps[3, 2] = 0  # left ear not labelled
    coco = {"images": [{"id": 1, "file_name": "000001.jpg"}], "categories": [{"id": 1, "name": "person"}],
            "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [110, 40, 100, 180],
                             "keypoints": kps.ravel().tolist(), "num_keypoints": 16},
                            {"id": 6, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 10, 10],
                             "keypoints": kps.ravel().tolist()}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    arrays = coco_keypoint_arrays(tmp_path / "coco.json")
    assert len(arrays["imgname"]) == 1 and arrays["annotation_id"][0] == 5
    body = arrays["body_keypoints_2d"][0]
    np.testing.assert_allclose(body[0, :2], kps[0, :2])  # nose -> OpenPose Nose
    np.testing.assert_allclose(body[5, :2], kps[5, :2])  # left shoulder -> OpenPose LShoulder
    np.testing.assert_allclose(body[11, :2], kps[16, :2])  # right ankle -> OpenPose RAnkle
    assert body[18, 2] == 0 and body[COCO_TO_HMR44, 2].sum() == 16 and body[:, 2].sum() == 16
    np.testing.assert_allclose(arrays["center"][0], [160, 130])
    np.testing.assert_allclose(arrays["scale"][0], [120, 216])
    ds = coco_keypoint_dataset(tmp_path / "coco.json", tmp_path / "img")
    item = ds[0]
    assert item["keypoints_2d"].shape == (44, 3) and item["keypoints_2d"][25:, 2].sum() == 0
    assert item["box_scale"] == pytest.approx(216 * 1.0 / 216)  # 3:4 of (120, 216) keeps 216
    with pytest.raises(ValueError, match="no person annotation"):
        coco_keypoint_dataset(dict(coco, annotations=[]), tmp_path / "img")


@pytest.mark.filterwarnings("ignore:.*no visible 2D keypoint")
def test_pickled_arrays_need_consent(eval_set, tmp_path):
    _, root, arrays = eval_set
    np.savez(tmp_path / "extra.npz", **arrays, extra_info=np.array([{"a": 1}] * N, dtype=object))
    assert len(EvalNpzDataset(tmp_path / "extra.npz", root)) == N  # unneeded pickled key: skipped
    np.savez(tmp_path / "obj.npz", **dict(arrays, imgname=np.array(IMAGES, dtype=object)))
    with pytest.raises(ValueError, match="allow_pickle=True"):
        EvalNpzDataset(tmp_path / "obj.npz", root)
    assert EvalNpzDataset(tmp_path / "obj.npz", root, allow_pickle=True)[1]["imgname"] == "sub/b.png"
