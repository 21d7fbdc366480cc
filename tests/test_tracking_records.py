"""Per-detection tracker records: pose / location vectors, canvas camera, pkl dict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.geometry import axis_angle_to_rotmat, cam_crop_to_full, perspective_projection, square_box_size
from workbench.tracking.records import (
    DetectionRecord,
    camera_on_canvas,
    joints_2d_on_canvas,
    location_vector,
    padded_canvas,
    pose_vector,
    record_to_phalp_dict,
    records_from_hmr2,
)

PKL_KEYS = {"time", "shot", "tid", "bbox", "appe", "loca", "pose", "center", "scale", "size", "img_path", "img_name",
            "class_name", "conf", "annotations", "smpl", "camera", "camera_bbox", "3d_joints", "2d_joints", "mask",
            "extra_data"}


def _rotmats(rng, *shape):
    aa = torch.as_tensor(rng.normal(scale=0.5, size=(*shape, 3)), dtype=torch.float64)
    return axis_angle_to_rotmat(aa.reshape(-1, 3)).reshape(*shape, 3, 3).numpy()


def _scene(rng, B=4, hw=(480, 640)):
    H, W = hw
    x1 = rng.uniform(0, W * 0.6, B)
    y1 = rng.uniform(0, H * 0.5, B)
    boxes = np.stack([x1, y1, x1 + rng.uniform(40, 200, B), y1 + rng.uniform(80, 220, B)], 1)
    pred_cam = np.stack([rng.uniform(0.5, 1.5, B), rng.normal(0, 0.1, B), rng.normal(0, 0.1, B)], 1)
    return boxes, pred_cam


def test_pose_vector_shape_and_round_trip():
    rng = np.random.default_rng(0)
    B = 3
    go, bp = _rotmats(rng, B, 1), _rotmats(rng, B, 23)
    betas, cam = rng.normal(size=(B, 10)), np.stack([rng.normal(size=B), rng.normal(size=B), rng.uniform(20, 80, B)], 1)
    v = pose_vector(go, bp, betas, cam)
    assert v.shape == (B, 229)
    np.testing.assert_allclose(v[:, :9].reshape(B, 1, 3, 3), go)
    np.testing.assert_allclose(v[:, 9:216].reshape(B, 23, 3, 3), bp)
    np.testing.assert_allclose(v[:, 216:226], betas)
    np.testing.assert_allclose(v[:, 226:228], cam[:, :2])
    np.testing.assert_allclose(v[:, 228] * 200.0, cam[:, 2])
    # torch input gives the same
    np.testing.assert_allclose(pose_vector(*(torch.as_tensor(a) for a in (go, bp, betas, cam))), v)
    with pytest.raises(ValueError):
        pose_vector(go, bp, betas[:, :9], cam)


def test_padded_canvas():
    assert padded_canvas((480, 640))[0] == 640
    np.testing.assert_array_equal(padded_canvas((480, 640))[1], [0, 80])
    np.testing.assert_array_equal(padded_canvas((641, 300))[1], [170, 0])


def test_origin_projects_to_box_centre_on_canvas():
    """(s, 0, 0): the body's origin lands on the box centre; tx shifts it by tx * s * scale / 2 canvas px."""
    H, W = 480, 640
    S, off = padded_canvas((H, W))
    box = np.array([[100.0, 50.0, 190.0, 290.0]])  # 90 x 240: 3:4 pad -> 180 x 240, square side 240
    s = 0.8
    cam = camera_on_canvas(np.array([[s, 0.0, 0.0]]), box, (H, W))
    scale = 240 * 256 / S
    np.testing.assert_allclose(cam[0, 2], 2 * 5000 / (s * scale), rtol=1e-9)
    j = joints_2d_on_canvas(np.zeros((1, 44, 3)), cam)
    assert j.shape == (1, 45, 2)
    centre = (np.array([145.0, 170.0]) + off) / S  # box centre on the padded square, / side
    np.testing.assert_allclose(j[0], np.broadcast_to(centre, (45, 2)), atol=1e-12)
    tx, ty = 0.1, -0.05
    cam2 = camera_on_canvas(np.array([[s, tx, ty]]), box, (H, W))
    j2 = joints_2d_on_canvas(np.zeros((1, 44, 3)), cam2)[0, 44]
    np.testing.assert_allclose(j2 * 256, centre * 256 + np.array([tx, ty]) * s * scale / 2, atol=1e-9)


@pytest.mark.parametrize("hw", [(480, 640), (720, 405), (300, 300)])
def test_canvas_camera_equals_cam_crop_to_full_on_padded_square(hw):
    """Canvas camera == cam_crop_to_full on the S x S padded image (focal 5000 S / 256, pp S/2), in metres;
    canvas projections / 256 == padded-image projections / S."""
    rng = np.random.default_rng(1)
    boxes, pred_cam = _scene(rng, 5, hw)
    S, off = padded_canvas(hw)
    cam = camera_on_canvas(pred_cam, boxes, hw)
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2 + off
    sizes = square_box_size(boxes[:, 2:] - boxes[:, :2])
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    full = cam_crop_to_full(t(pred_cam), t(centers), t(sizes), t([[S, S]] * 5)).numpy()
    np.testing.assert_allclose(cam, full, rtol=1e-9, atol=1e-9)
    kp = rng.normal(scale=0.4, size=(5, 44, 3))
    j = joints_2d_on_canvas(kp, cam)
    kp45 = np.concatenate([kp, np.zeros((5, 1, 3))], 1)
    px = perspective_projection(t(kp45), t(full), 5000.0 * S / 256, t([[S / 2, S / 2]] * 5)).numpy()
    np.testing.assert_allclose(j, px / S, rtol=1e-9, atol=1e-9)


def test_location_vector_layout():
    rng = np.random.default_rng(2)
    j, cam = rng.uniform(size=(2, 45, 2)), rng.normal(size=(2, 3))
    v = location_vector(j, cam)
    assert v.shape == (2, 99)
    np.testing.assert_array_equal(v[:, 0:2], j[:, 0])
    np.testing.assert_array_equal(v[:, 88:90], j[:, 44])
    for k in range(3):
        np.testing.assert_array_equal(v[:, 90 + 3 * k: 93 + 3 * k], cam)


@pytest.fixture(scope="module")
def micro_output():
    from workbench.config import preset
    from workbench.models import build_model

    torch.manual_seed(0)
    model = build_model(preset("micro")).eval()
    img = torch.randn(2, 3, model.cfg.image_size, model.cfg.image_size)
    with torch.no_grad():
        return model(img)


def test_records_from_hmr2_and_pkl_dict(micro_output):
    hw = (360, 640)
    boxes = np.array([[10.0, 20.0, 110.0, 300.0], [300.0, 40.0, 420.0, 200.0]])
    recs = records_from_hmr2(micro_output, boxes, [0.9, 0.85], hw, frame=7)
    assert len(recs) == 2 and all(isinstance(r, DetectionRecord) for r in recs)
    for i, r in enumerate(recs):
        assert r.frame == 7 and r.size == hw
        assert r.pose.shape == (229,) and r.loca.shape == (99,) and r.joints_3d.shape == (45, 3)
        assert r.joints_2d.shape == (90,) and r.camera.shape == (3,) and r.camera_bbox.shape == (3,)
        for a in (r.pose, r.loca, r.joints_3d, r.joints_2d, r.camera):
            assert np.isfinite(a).all()
        np.testing.assert_array_equal(r.joints_3d[44], 0.0)
        np.testing.assert_allclose(r.loca[:90], r.joints_2d)
        np.testing.assert_allclose(r.pose[226:], r.camera * [1, 1, 1 / 200])
        np.testing.assert_allclose(r.camera_bbox, micro_output["pred_cam"][i].numpy(), rtol=1e-6)
        np.testing.assert_allclose(r.xy, r.loca[88:90])
        d = record_to_phalp_dict(r, tid=3)
        assert set(d) == PKL_KEYS
        np.testing.assert_allclose(d["bbox"], [*boxes[i, :2], *(boxes[i, 2:] - boxes[i, :2])], rtol=1e-6)
        assert d["tid"] == 3 and d["time"] == 7 and d["conf"] == pytest.approx(r.score)
        assert d["smpl"]["global_orient"].shape == (1, 3, 3) and d["smpl"]["body_pose"].shape == (23, 3, 3)
        assert d["smpl"]["betas"].shape == (10,)
        assert d["pose"].shape == (229,) and d["loca"].shape == (99,) and d["3d_joints"].shape == (45, 3)
        assert d["2d_joints"].shape == (90,) and d["size"] == [360, 640]
