"""Known camera intrinsics (validation, retargeting) and tracks as motions (gather, write back)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from workbench.geometry.intrinsics import Intrinsics, retarget_translation
from workbench.tracking.engines import frame_camera
from workbench.tracking.motion import apply_motion, canvas_intrinsics, track_motion, track_motions


@pytest.fixture(scope="module")
def tracked():
    """A tiny synthetic video tracked with ground-truth poses, reported in the video's true camera."""
    from workbench.tracking.benchmark import METHODS, run_method
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, simulate_detections

    torch.set_num_threads(1)
    video = render_video(SynthVideoConfig.tiny())
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    method = next(m for m in METHODS if m.engine == "ground_truth" and m.tracker == "phalp")
    result = run_method(video, method, detections, {})
    result.intrinsics = video.intrinsics
    return video, detections, result


def test_default_intrinsics_match_the_tracker_camera():
    for hw in [(480, 640), (720, 1280), (512, 512)]:
        k, (f, pp) = Intrinsics.default(hw), frame_camera(hw)
        assert k.fx == k.fy == pytest.approx(f)
        assert (k.cx, k.cy) == pytest.approx(tuple(pp))
        assert canvas_intrinsics(hw) == Intrinsics(f, f, *pp)


def test_from_fov_and_from_user():
    k = Intrinsics.from_fov((480, 640), 60.0)
    assert k.horizontal_fov_deg(640) == pytest.approx(60.0)
    u = Intrinsics.from_user(500.0, image_hw=(480, 640))
    assert (u.fx, u.fy, u.cx, u.cy) == (500.0, 500.0, 320.0, 240.0)
    assert Intrinsics.from_user((500, 510), (300, 250)).fy == 510.0
    np.testing.assert_allclose(u.K, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])


@pytest.mark.parametrize("focal, pp, message", [
    (26.0, None, "field of view"),                 # a focal in mm, not px
    (500.0, (700.0, 240.0), "outside"),
    (float("nan"), None, "NaN"),
    (-500.0, None, "positive"),
    ((500.0, 1500.0), None, "square"),
])
def test_intrinsics_that_do_not_fit_the_image_are_refused(focal, pp, message):
    with pytest.raises(ValueError, match=message):
        Intrinsics.from_user(focal, pp, image_hw=(480, 640))


def test_from_user_needs_a_principal_point_or_an_image_size():
    with pytest.raises(ValueError, match="principal"):
        Intrinsics.from_user(500.0)
    with pytest.raises(ValueError, match="two"):
        Intrinsics.from_user(500.0, (1, 2, 3))
    with pytest.raises(ValueError, match="field of view"):
        Intrinsics.from_fov((480, 640), 200)


def test_retarget_keeps_each_origin_pixel_and_scales_depth_with_focal():
    rng = np.random.default_rng(0)
    t = np.column_stack([rng.uniform(-2, 2, 20), rng.uniform(-1, 1, 20), rng.uniform(50, 200, 20)])
    src, dst = Intrinsics.default((480, 640)), Intrinsics(600.0, 620.0, 300.0, 250.0)
    out = retarget_translation(t, src, dst)
    np.testing.assert_allclose(dst.project(out), src.project(t), atol=1e-9)
    np.testing.assert_allclose(out[:, 2] / t[:, 2], dst.focal / src.focal)
    np.testing.assert_allclose(retarget_translation(out, dst, src), t, atol=1e-9)
    np.testing.assert_allclose(retarget_translation(t, src, src), t)
    doubled = dataclasses.replace(dst, fx=2 * dst.fx, fy=2 * dst.fy)
    np.testing.assert_allclose(retarget_translation(t, src, doubled)[:, 2], 2 * out[:, 2])
    with pytest.raises(ValueError, match="metres"):
        retarget_translation(np.zeros((3, 2)), src, dst)


def test_track_motion_recovers_the_ground_truth_in_the_true_camera(tracked):
    video, _, result = tracked
    motions = track_motions(result)
    assert sorted(motions) == result.track_ids and motions
    for motion in motions.values():
        assert motion.rotmats.shape == (len(motion), 24, 3, 3)
        # The ground-truth engine's people, moved back into the true camera, are the truth.
        frame = int(motion.frames[len(motion) // 2])
        errors = [np.abs(motion.transl[len(motion) // 2] - video.transl[frame, k]).max()
                  for k in range(len(video.betas))]
        assert min(errors) < 1e-3
        assert np.abs(motion.transl[:, 2]).max() < 30  # metres in a real camera, not HMR 2.0's ~100 m


def test_track_motion_of_a_missing_track_lists_the_ids(tracked):
    _, _, result = tracked
    with pytest.raises(KeyError, match=str(result.track_ids[0])):
        track_motion(result, 999)


def test_apply_motion_writes_back_consistently(tracked):
    _, _, result = tracked
    tid = result.track_ids[0]
    motion = track_motion(result, tid)
    moved = dataclasses.replace(motion, transl=motion.transl + [0.5, 0.0, 1.0])
    changed = apply_motion(result, moved)
    assert changed is not result
    again = track_motion(changed, tid)
    np.testing.assert_allclose(again.transl, moved.transl, atol=1e-6)
    np.testing.assert_allclose(track_motion(result, tid).transl, motion.transl)  # the original is untouched
    rec = next(p.record for p in changed.people[int(motion.frames[0])] if p.track_id == tid)
    # The pose vector's camera part follows the new canvas translation (tz / 200 as published).
    np.testing.assert_allclose(rec.pose[-3:-1], rec.camera[:2])
    np.testing.assert_allclose(rec.pose[-1], rec.camera[2] / 200.0)
    with pytest.raises(ValueError, match="no entry"):
        apply_motion(result, dataclasses.replace(motion, frames=motion.frames + 1000))
