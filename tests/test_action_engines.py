"""Real pose engines for Table 5: clips rendered as videos, detected, lifted and tracked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.action import ActionConfig
from workbench.action import engines as E
from workbench.action.clips import (
    canvas_translation,
    make_clips,
    perturb_poses,
    pose_error_mm,
    scene_translation,
    with_poses,
)
from workbench.action.table5 import run_table5
from workbench.config import preset
from workbench.models import build_model


@pytest.fixture(scope="module")
def clips():
    return make_clips(2, num_frames=48, seed=0, classes=["hug", "wave"])


@pytest.fixture(scope="module")
def tracked_truth(clips):
    """Ground truth and 30 deg of noise, both through rendering, detection boxes and PHALP'."""
    engines = E.rendered_engines({"truth": "ground_truth", "noisy": 30.0})
    return engines["truth"](clips), engines["noisy"](clips)


def _truth_rotmats(c):
    aa = np.concatenate([c.global_orient[..., None, :], c.body_pose], -2)
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(*aa.shape[:-1], 3, 3)


def test_with_poses_of_the_truth_is_the_truth(clips):
    betas = np.repeat(clips.betas[:, :, None], clips.pose.shape[2], 2)
    again = with_poses(clips, _truth_rotmats(clips), betas)
    np.testing.assert_allclose(again.pose, clips.pose, atol=1e-4)
    np.testing.assert_allclose(again.joints_3d, clips.joints_3d, atol=1e-4)
    assert pose_error_mm(again, clips) < 0.1
    errors = [pose_error_mm(perturb_poses(clips, deg), clips) for deg in (5, 20, 45)]
    assert errors == sorted(errors) and errors[0] > 10


def test_canvas_translation_keeps_the_image_position():
    origin = np.array([[0.7, -0.2, 4.0], [-1.5, 0.4, 9.0]])
    cam = canvas_translation(origin)
    from workbench.action.clips import FOCAL_CANVAS_PX, FOCAL_REAL

    np.testing.assert_allclose(FOCAL_CANVAS_PX * cam[:, :2] / cam[:, 2:], FOCAL_REAL * origin[:, :2] / origin[:, 2:])
    np.testing.assert_allclose(scene_translation(cam), origin)


def test_video_boxes_follow_detections_and_hold_the_person(clips):
    video = E.render_clip(clips, 0)
    T = clips.has_detection.shape[2]
    assert video.frames.shape == (T, 480, 640, 3) and video.frames.dtype == np.uint8
    has_box = np.isfinite(video.boxes[..., 0])
    np.testing.assert_array_equal(has_box, clips.has_detection[0])  # these people stay well inside the frame
    np.testing.assert_array_equal(video.frames, E.render_clip(clips, 0).frames)
    # The image varies far more inside a person's box (limbs, clothes, edges) than outside every box.
    t = int(np.flatnonzero(has_box[0])[0])
    inside = np.zeros((480, 640), bool)
    for k in np.flatnonzero(has_box[:, t]):
        x1, y1, x2, y2 = np.round(video.boxes[k, t]).astype(int)
        inside[y1:y2, x1:x2] = True
    grad = np.abs(np.diff(video.frames[t].astype(float), axis=1)).sum(-1)
    assert grad[inside[:, 1:]].mean() > 4 * grad[~inside[:, 1:]].mean()
    dets = E.clip_detections(video)
    assert [len(dets[t]) for t in range(T)] == list(has_box.sum(0))
    assert all(set(d.gt_ids) <= {0, 1} for d in dets.values())


def test_crops_one_per_detection_deterministic_and_centred(clips):
    crops, index = E.render_clip_crops(clips, 0)
    det = clips.has_detection[0]
    assert crops.shape == (int(det.sum()), 256, 256, 3) and crops.dtype == np.uint8
    assert set(map(tuple, index)) == set(zip(*np.nonzero(det)))
    again, _ = E.render_clip_crops(clips, 0)
    np.testing.assert_array_equal(crops, again)
    # The person fills the middle columns: shaded limbs and clothes vary far more there than the
    # procedural background does at the crop's sides.
    spread = [crops[:, :, cols].astype(float).std((1, 2)).mean() for cols in (slice(112, 144), slice(0, 32),
                                                                              slice(-32, None))]
    assert spread[0] > 1.5 * max(spread[1:])


def test_ground_truth_through_the_tracker_is_the_truth(clips, tracked_truth):
    truth, noisy = tracked_truth
    both = truth.has_detection & clips.has_detection
    # Nearly every detected person-frame reached the model, under the right identity. What is lost: a
    # tentative track dies at its first miss (published), e.g. two detections before a dropped frame.
    assert both.sum() >= 0.9 * clips.has_detection.sum()
    assert all(m["tracked"] and m["coverage"] >= 0.9 and m["fragments"] == 1.0 for m in truth.meta)
    np.testing.assert_allclose(truth.pose[both], clips.pose[both], atol=1e-4)
    np.testing.assert_allclose(truth.camera[both], clips.camera[both], atol=1e-4)
    assert pose_error_mm(truth, clips) < 0.1
    # Frames the tracker completed inside a track's gap count as seen; the labels never change.
    assert (truth.has_detection & ~clips.has_detection).any()
    np.testing.assert_array_equal(truth.labels, clips.labels)
    assert (truth.pose[~truth.has_detection] == 0).all()
    # Noise of known size stays visible through the tracker (its completion does not smooth observed frames).
    assert 150 < pose_error_mm(noisy, clips) < 600


def test_engines_share_one_rendering(clips, monkeypatch):
    torch.manual_seed(0)
    models = {"a": build_model(preset("micro")), "b": build_model(preset("micro"))}
    calls = []
    real = E.render_clip
    monkeypatch.setattr(E, "render_clip", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    for track in (False, True):
        calls.clear()
        engines = E.rendered_engines(models, track=track, batch_size=16)
        out_a, out_b = engines["a"](clips), engines["b"](clips)
        assert calls == [0, 1]  # both clips rendered once, for both models
        assert engines["a"](clips) is out_a
        for out in (out_a, out_b):
            assert out.meta[0]["tracked"] is track
            np.testing.assert_array_equal(out.labels, clips.labels)
            assert out.pose.shape == clips.pose.shape and np.isfinite(out.pose).all()
            assert (out.pose[~out.has_detection] == 0).all()
            if not track:
                np.testing.assert_array_equal(out.has_detection, clips.has_detection)
                np.testing.assert_array_equal(out.camera, clips.camera)
        assert pose_error_mm(out_a, clips) > 50  # an untrained model is no oracle
        assert not np.allclose(out_a.pose, out_b.pose)


def test_table5_reports_tracking_coverage(clips, tracked_truth):
    truth, noisy = tracked_truth
    cfg = ActionConfig.tiny(num_classes=len(clips.classes), frame_length=48)
    table = run_table5(clips, clips, {"0": 0.0, "tracked": lambda c: truth}, steps=2, cfg=cfg)
    assert np.isnan(table.coverage[0]) and 90 <= table.coverage[1] <= 100 and table.fragments[1] == 1.0


def test_bad_sources_are_refused():
    with pytest.raises(ValueError, match="give an HMR2 model"):
        E.rendered_engines({"x": "groundtruth"})
    models = {"a": build_model(preset("micro")), "b": build_model(preset("micro"))}
    models["b"].cfg = dataclasses.replace(models["b"].cfg, image_size=192)
    with pytest.raises(ValueError, match="different crop sizes"):
        E.rendered_engines(models)


def test_take_selects_whole_clips(clips):
    one = clips.take([1])
    assert len(one) == 1 and one.meta == [clips.meta[1]] and one.classes == clips.classes
    np.testing.assert_array_equal(one.pose[0], clips.pose[1])
    np.testing.assert_array_equal(clips.take(np.array([False, True])).labels, one.labels)
