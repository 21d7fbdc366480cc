"""Synthetic action clips: shapes, determinism, labels that agree with the motion, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from workbench.action import ACTION_CLASSES, class_counts, clips_to_frame, lart_joints, make_clips, make_split, perturb_poses
from workbench.action.clips import keypoints

R_WRIST, R_SHOULDER, L_WRIST, L_SHOULDER = 4, 2, 7, 5  # OpenPose part of the 44 keypoints


@pytest.fixture(scope="module")
def clips():
    return make_split("train", fast=True, seed=0)


def test_shapes_and_every_class(clips):
    N, C = len(clips), len(ACTION_CLASSES)
    assert N == 57 and clips.pose.shape == (N, 2, 64, 229) and clips.joints_3d.shape == (N, 2, 64, 45, 3)
    assert clips.labels.shape == (N, 2, 64, C) and lart_joints(clips).shape == (N, 2, 64, 135)
    counts = class_counts(clips)
    assert (counts["clips"] > 0).all(), counts
    assert set(counts["group"]) == {"PM", "PI", "OM"} and len(clips_to_frame(clips)) == clips.present.sum() * 64
    # Depth: people 100-400 px tall in a 640x480 frame -> canvas tz / 200 in ~0.2-1.2.
    tz = clips.pose[..., -1][clips.has_detection]
    assert 0.15 < tz.min() and tz.max() < 1.3
    np.testing.assert_allclose(clips.pose[..., 226:228][clips.has_detection], clips.camera[..., :2][clips.has_detection],
                               atol=1e-4)


def test_determinism():
    a, b = make_clips(5, 48, seed=7), make_clips(5, 48, seed=7)
    np.testing.assert_array_equal(a.pose, b.pose)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.has_detection, b.has_detection)
    assert not np.array_equal(a.pose, make_clips(5, 48, seed=8).pose)
    val, test = make_split("val", 4, 48), make_split("test", 4, 48)
    assert not set(val.seeds) & set(test.seeds)


def _frames(clips, name):
    c = clips.classes.index(name)
    return [(i, k, np.flatnonzero(clips.labels[i, k, :, c])) for i, k in zip(*np.nonzero(clips.labels[..., c].any(-1)))]


def test_sit_down_lowers_the_pelvis_and_stand_up_raises_it():
    clips = make_clips(6, 64, seed=1, classes=["sit_down", "stand_up"])
    for name, sign in (("sit_down", 1), ("stand_up", -1)):
        for i, k, f in _frames(clips, name):
            y = clips.root_world[i, k, :, 1]
            assert sign * (y[f[0]] - y[f[-1]]) > 0.15, (name, y[f[0]], y[f[-1]])


def test_wave_raises_a_wrist_above_the_shoulder():
    clips = make_clips(6, 64, seed=2, classes=["wave"])
    for i, k, f in _frames(clips, "wave"):
        j = clips.joints_3d[i, k, f]  # camera frame, y down
        up = (j[:, R_WRIST, 1] < j[:, R_SHOULDER, 1]) | (j[:, L_WRIST, 1] < j[:, L_SHOULDER, 1])
        seen = clips.has_detection[i, k, f]
        assert up[seen].mean() > 0.8


def test_interactions_are_close_and_pair_present():
    names = ["hand_shake", "hug", "push", "hand_over", "point_at"]
    clips = make_clips(10, 64, seed=3, classes=names)
    assert clips.present.all()
    for name in names:
        for i, k, f in _frames(clips, name):
            d = np.linalg.norm(clips.root_world[i, 0, f][:, [0, 2]] - clips.root_world[i, 1, f][:, [0, 2]], axis=1)
            assert d.max() < (3.0 if name == "point_at" else 1.5), (name, d.max())
    for i, k, f in _frames(clips, "hug"):
        assert k in (0, 1)
    assert clips.labels[:, 1, :, names.index("push")].sum() == 0  # the pushed person is not labelled "push"


def test_multilabel_overlap_exists(clips):
    assert (clips.labels.sum(-1) >= 2).any()


def test_detection_drops(clips):
    seen = clips.has_detection[clips.present]
    assert 0.7 < seen.mean() < 0.995
    assert not clips.has_detection[~clips.present].any()
    assert (clips.pose[~clips.has_detection] == 0).all()


def test_bad_input():
    with pytest.raises(KeyError, match="known.*wave"):
        make_clips(2, 64, classes=["wave", "moonwalk"])
    with pytest.raises(ValueError, match="hug"):
        make_clips(2, 20, classes=["hug", "walk"])
    make_clips(1, 20, classes=["walk"])


def test_keypoint_skin_matches_full_body(body):
    from workbench.data.skinning import SparseBody

    rng = np.random.default_rng(0)
    pose, betas = rng.normal(0, 0.3, (4, 24, 3)), rng.normal(0, 1, (4, 10))
    full = SparseBody(body)(pose, betas)
    kp, j0 = keypoints(pose, betas)
    np.testing.assert_allclose(kp, full.keypoints, atol=1e-5)
    np.testing.assert_allclose(j0, full.joints[:, 0], atol=1e-6)


def test_perturb_poses_has_the_stated_error():
    clips = make_clips(3, 48, seed=4, classes=["walk", "wave", "hug"])
    same = perturb_poses(clips, 0.0, betas_noise=0.0)
    seen = clips.has_detection
    np.testing.assert_allclose(same.pose[seen], clips.pose[seen], atol=1e-4)
    np.testing.assert_allclose(same.joints_3d[seen], clips.joints_3d[seen], atol=1e-4)
    noisy = perturb_poses(clips, 10.0, seed=1)
    a = Rotation.from_rotvec(clips.body_pose[seen].reshape(-1, 3))
    b = Rotation.from_rotvec(noisy.body_pose[seen].reshape(-1, 3))
    rms = np.rad2deg(np.sqrt(np.mean((a.inv() * b).magnitude() ** 2)))
    assert 9.0 < rms < 11.0
