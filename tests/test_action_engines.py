"""Real pose engines for Table 5: rendered crops of every person, poses read by an HMR-style model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.action import engines as E
from workbench.action.clips import make_clips, perturb_poses, pose_error_mm, with_poses
from workbench.config import preset
from workbench.models import build_model


@pytest.fixture(scope="module")
def clips():
    return make_clips(2, num_frames=48, seed=0, classes=["hug", "wave"])


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


def test_engines_share_one_rendering_and_keep_labels(clips, monkeypatch):
    torch.manual_seed(0)
    models = {"a": build_model(preset("micro")), "b": build_model(preset("micro"))}
    calls = []
    real = E.render_clip_crops
    monkeypatch.setattr(E, "render_clip_crops", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    engines = E.model_engines(models, batch_size=16)
    out_a = engines["a"](clips)
    out_b = engines["b"](clips)
    assert calls == [0, 1]  # both clips rendered once, for both models
    assert engines["a"](clips) is out_a
    for out in (out_a, out_b):
        np.testing.assert_array_equal(out.has_detection, clips.has_detection)
        np.testing.assert_array_equal(out.labels, clips.labels)
        np.testing.assert_array_equal(out.camera, clips.camera)
        assert out.pose.shape == clips.pose.shape and np.isfinite(out.pose).all()
        assert (out.pose[~clips.has_detection] == 0).all()
    assert pose_error_mm(out_a, clips) > 50  # an untrained model is no oracle
    assert not np.allclose(out_a.pose, out_b.pose)


def test_take_selects_whole_clips(clips):
    one = clips.take([1])
    assert len(one) == 1 and one.meta == [clips.meta[1]] and one.classes == clips.classes
    np.testing.assert_array_equal(one.pose[0], clips.pose[1])
    np.testing.assert_array_equal(clips.take(np.array([False, True])).labels, one.labels)
