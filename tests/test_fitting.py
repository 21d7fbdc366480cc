"""Keypoint fitting: fast keypoint body vs the full model, fit quality on synthetic people with known
truth, batch = per-sample, pseudo-GT filtering, the ``fit`` pose engine and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.body import BodyModel
from workbench.data import sample_poses
from workbench.data.pose_prior import OrientationConfig
from workbench.detect import Detections
from workbench.evaluate.pose_metrics import pa_mpjpe
from workbench.fitting import FitConfig, FitEngine, KeypointBody, accept, fit_keypoints
from workbench.geometry import perspective_projection

H, W = 480, 640
FOCAL = 5000.0 / 256.0 * max(H, W)


@pytest.fixture(scope="module")
def body():
    return BodyModel.open_body()


@pytest.fixture(scope="module")
def people(body):
    """8 people: moderate poses, mild orientations, random shape, 2 px noise, 3 keypoints dropped."""
    B, rng = 8, np.random.default_rng(1)
    mild = OrientationConfig(yaw_std=30.0, any_yaw_fraction=0.0, arbitrary_fraction=0.0)
    pose = torch.as_tensor(sample_poses(B, 3, orientation=mild).pose)
    betas = torch.as_tensor(rng.normal(0, 1, (B, 10)), dtype=torch.float32)
    transl = torch.tensor(np.c_[rng.uniform(-1, 1, B), rng.uniform(-0.5, 0.5, B), rng.uniform(60, 80, B)],
                          dtype=torch.float32)
    with torch.no_grad():
        out = body(pose=pose, betas=betas)
    uv = perspective_projection(out.keypoints, transl, FOCAL, torch.tensor([[W / 2, H / 2]]).expand(B, 2))
    noise = torch.randn(B, 44, 2, generator=torch.Generator().manual_seed(0)) * 2.0
    kp2d = torch.cat([uv + noise, torch.ones(B, 44, 1)], -1)
    kp2d[:, [3, 20, 30], 2] = 0.0
    return {"pose": pose, "betas": betas, "transl": transl, "keypoints_3d": out.keypoints, "kp2d": kp2d}


def test_keypoint_body_matches_full_model(body):
    rng = np.random.default_rng(0)
    pose = torch.as_tensor(sample_poses(4, 0).pose)
    betas = torch.as_tensor(rng.normal(0, 1.5, (4, 10)), dtype=torch.float32)
    with torch.no_grad():
        full = body(pose=pose, betas=betas)
        fast, root = KeypointBody(body)(full.rotmats, betas)
    torch.testing.assert_close(fast, full.keypoints, atol=1e-5, rtol=0)
    torch.testing.assert_close(root, full.joints[:, 0], atol=1e-5, rtol=0)  # the root turns about itself


def test_fit_recovers_pose_and_reprojects(body, people):
    torch.set_num_threads(1)
    fit = fit_keypoints(people["kp2d"], (H, W))
    assert fit.body_pose.shape == (8, 23, 3) and fit.body_pose_rotmat.shape == (8, 23, 3, 3)
    assert fit.global_orient_rotmat.shape == (8, 1, 3, 3) and fit.transl.shape == (8, 3)
    assert (fit.num_keypoints == 41).all()
    assert float(fit.reprojection_error.median()) < 4.0  # px, with 2 px noise per coordinate
    assert float(fit.reprojection_error.max()) < 8.0
    with torch.no_grad():
        mean_pose = body(global_orient=people["pose"][:, 0])  # even given the true orientation
    pa_fit = pa_mpjpe(fit.keypoints_3d, people["keypoints_3d"])
    pa_mean = pa_mpjpe(mean_pose.keypoints, people["keypoints_3d"])
    assert float(pa_fit.median()) < 0.5 * float(pa_mean.median()), (pa_fit, pa_mean)
    # the camera: the body lands where the truth is, up to the depth / size ambiguity
    assert float((fit.transl[:, 2] / people["transl"][:, 2] - 1).abs().median()) < 0.15
    assert fit.loss_history.shape == (FitConfig().camera_steps + FitConfig().body_steps, 8)


def test_batch_equals_per_sample(people):
    torch.set_num_threads(1)
    cfg = FitConfig.tiny()
    kp = people["kp2d"][:3]
    batch = fit_keypoints(kp, (H, W), config=cfg)
    for i in range(3):
        one = fit_keypoints(kp[i:i + 1], (H, W), config=cfg)
        torch.testing.assert_close(one.keypoints_2d[0], batch.keypoints_2d[i], atol=0.05, rtol=0)
        torch.testing.assert_close(one.body_pose[0], batch.body_pose[i], atol=1e-3, rtol=0)


def test_init_from_truth_stays_at_truth(people):
    torch.set_num_threads(1)
    p = people
    init = {"global_orient": p["pose"][:, 0], "body_pose": p["pose"][:, 1:], "betas": p["betas"],
            "transl": p["transl"]}
    fit = fit_keypoints(p["kp2d"], (H, W), init=init, config=FitConfig(camera_steps=5, body_steps=30))
    assert float(pa_mpjpe(fit.keypoints_3d, p["keypoints_3d"]).max()) < 60.0  # priors pull a little
    assert float(fit.reprojection_error.max()) < 5.0


def test_accept_rejects_few_keypoints_and_shuffled(people):
    torch.set_num_threads(1)
    kp = people["kp2d"][:3].clone()
    kp[1, 3:, 2] = 0.0  # only 3 keypoints
    kp[2, :, :2] = kp[2, torch.randperm(44, generator=torch.Generator().manual_seed(3)), :2]
    fit = fit_keypoints(kp, (H, W))
    verdict = accept(fit)
    assert verdict.mask.tolist() == [True, False, False], verdict.reasons
    assert verdict.reasons[0] == ""
    assert "keypoints" in verdict.reasons[1]
    assert "reprojection" in verdict.reasons[2]


def test_fit_errors(people):
    with pytest.raises(ValueError, match="44"):
        fit_keypoints(torch.zeros(2, 25, 3), (H, W))
    kp = people["kp2d"][:2].clone()
    kp[1, :, 2] = 0.0
    with pytest.raises(ValueError, match=r"people \[1\]"):
        fit_keypoints(kp, (H, W))
    kp[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit_keypoints(kp, (H, W))
    with pytest.raises(ValueError, match="image_size"):
        fit_keypoints(people["kp2d"][:2], (H, W, 3))


def test_fit_engine(people):
    torch.set_num_threads(1)
    from workbench.tracking.engines import create_engine, frame_camera

    engine = create_engine("fit", config=FitConfig.tiny())
    assert isinstance(engine, FitEngine)
    kp = people["kp2d"][:2].numpy()
    kp = np.concatenate([kp, np.zeros((1, 44, 3), np.float32)])  # the third has no keypoints
    lo, hi = kp[:2, :, :2].min(1), kp[:2, :, :2].max(1)
    boxes = np.concatenate([np.c_[lo, hi], [[10, 10, 110, 210]]])
    dets = Detections(boxes, np.ones(3), kp)
    frame = np.zeros((H, W, 3), np.uint8)
    out = engine(frame, dets, 7)
    assert len(out) == 3 and out.vertices.shape[0] == 3
    assert all(r.pose.shape == (229,) and r.frame == 7 for r in out.records)
    assert out.extra["unfitted"].tolist() == [2]
    focal, _ = frame_camera((H, W))
    assert out.focal == focal
    # the fitted people lie where their keypoints are: their pelvis projects near the keypoint one
    verts = torch.as_tensor(out.vertices[:2])
    uv = perspective_projection(verts.mean(1, keepdim=True), torch.zeros(2, 3), focal,
                                torch.tensor([[W / 2, H / 2]]).expand(2, 2))[:, 0]
    box_size = torch.as_tensor(hi - lo).max(1).values
    assert ((uv - torch.as_tensor(kp[:2, 39, :2])).norm(dim=1) < 0.15 * box_size).all()

    with pytest.raises(ValueError, match="keypoint detector"):
        engine(frame, Detections(boxes, np.ones(3)), 0)
    assert len(engine(frame, Detections.empty(), 0)) == 0
