"""The procedural pose prior: determinism, anatomical limits, distinct activities, smooth motions."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.body.keypoints import SMPL_JOINT_NAMES
from workbench.data import augment
from workbench.data.activities import (
    ACTIVITIES,
    Activity,
    PoseBuilder,
    register_activity,
)
from workbench.data.pose_prior import (
    MocapPrior,
    OrientationConfig,
    joint_limits,
    sample_motion,
    sample_poses,
    within_limits,
)

BODY = {name: i for i, name in enumerate(SMPL_JOINT_NAMES[1:])}  # index into body_pose (23 joints)
BUILTIN = ["standing", "walking", "running", "jumping", "sitting", "squatting", "reaching", "kicking", "dancing",
           "lying", "random"]


@pytest.fixture(scope="module")
def per_activity():
    return {a: sample_poses(400, 7, activity=a, orientation=OrientationConfig(arbitrary_fraction=0.0))
            for a in BUILTIN}


def test_registry_has_all_activities():
    assert set(BUILTIN) <= set(ACTIVITIES)


def test_determinism_numpy_and_torch_generators():
    a, b = sample_poses(32, 3), sample_poses(32, 3)
    np.testing.assert_array_equal(a.pose, b.pose)
    assert a.names == b.names
    assert not np.allclose(a.pose, sample_poses(32, 4).pose)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    np.testing.assert_array_equal(sample_poses(8, g1).pose, sample_poses(8, g2).pose)
    assert not np.allclose(sample_poses(8, g1).pose, sample_poses(8, torch.Generator().manual_seed(5)).pose)


def test_limits_are_mirror_symmetric_and_contain_zero_or_bend_one_way():
    lim = joint_limits()
    assert lim.shape == (23, 3, 2) and np.all(lim[..., 0] <= lim[..., 1])
    for name, j in BODY.items():
        if name.startswith("left_"):
            r = BODY["right_" + name[5:]]
            np.testing.assert_allclose(lim[r, 0], lim[j, 0])
            np.testing.assert_allclose(lim[r, 1:], -lim[j, 1:, ::-1])
    assert lim[BODY["left_knee"], 0, 0] >= 0 and lim[BODY["right_knee"], 0, 0] >= 0  # knees: flexion only
    assert lim[BODY["left_elbow"], 1, 1] <= 0 and lim[BODY["right_elbow"], 1, 0] >= 0  # elbows: one way


def test_prior_samples_within_limits_knees_never_hyperextend(per_activity):
    mixed = sample_poses(2000, 0)
    assert within_limits(mixed.pose).all()
    assert within_limits(torch.as_tensor(mixed.pose)).all()
    body = mixed.pose[:, 1:]
    assert body[:, BODY["left_knee"], 0].min() >= 0 and body[:, BODY["right_knee"], 0].min() >= 0
    assert body[:, BODY["left_elbow"], 1].max() <= 0 and body[:, BODY["right_elbow"], 1].min() >= 0
    for sample in per_activity.values():
        assert within_limits(sample.pose).all()
    # A pose outside the limits is caught, and mirrored prior poses stay inside.
    bad = mixed.pose[:1].copy()
    bad[0, 1 + BODY["left_knee"], 0] = -0.5
    assert not within_limits(bad)[0]
    flipped = augment.flip_body_pose(body.reshape(-1, 69)).reshape(-1, 23, 3)
    assert within_limits(flipped).all()


def test_activities_have_distinct_statistics(per_activity):
    def mean(a, joint, axis=0):
        return per_activity[a].pose[:, 1 + BODY[joint], axis].mean()

    knee = {a: (mean(a, "left_knee") + mean(a, "right_knee")) / 2 for a in BUILTIN}
    hip = {a: -(mean(a, "left_hip") + mean(a, "right_hip")) / 2 for a in BUILTIN}  # flexion is -x
    assert min(knee["squatting"], knee["sitting"]) > knee["running"] > knee["walking"] > knee["standing"]
    assert np.quantile(per_activity["squatting"].pose[:, 1 + BODY["left_knee"], 0], 0.9) > 1.8  # deep squats
    assert hip["sitting"] > 1.0 and hip["standing"] < 0.3
    # Whole-pose means differ pairwise.
    means = {a: s.pose[:, 1:].mean(0).ravel() for a, s in per_activity.items()}
    names = list(means)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.linalg.norm(means[a] - means[b]) > 0.25, (a, b)
    # Lying bodies are horizontal, standing ones upright (camera pitch is at most ~60 degrees).
    def up_alignment(a):
        up = Rotation.from_rotvec(per_activity[a].pose[:, 0]).apply([0.0, 1.0, 0.0])
        return np.abs(up[:, 1]).mean()  # camera y is down: an upright body has |y| ~ 1

    assert up_alignment("standing") > 0.9 and up_alignment("lying") < 0.5


def test_orientation_mostly_faces_the_camera():
    go = Rotation.from_rotvec(sample_poses(2000, 1, activity="standing").pose[:, 0])
    facing = go.apply([0.0, 0.0, 1.0])[:, 2]  # body forward in camera z: towards the camera is -1
    assert (facing < -0.5).mean() > 0.55 and (facing > 0.5).mean() > 0.05  # some back views too
    upside_down = go.apply([0.0, 1.0, 0.0])[:, 1] > 0.5
    assert 0.0 < upside_down.mean() < 0.1  # the arbitrary-orientation share


def test_mocap_prior_shapes_and_rotations():
    prior = MocapPrior(num_betas=10)
    pose, betas = prior.sample(512, torch.Generator().manual_seed(0))
    assert pose.shape == (512, 23, 3, 3) and betas.shape == (512, 10) and pose.dtype == torch.float32
    eye = torch.eye(3).expand_as(pose)
    torch.testing.assert_close(pose @ pose.transpose(-1, -2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(pose), torch.ones(512, 23), atol=1e-5, rtol=0)
    assert abs(betas.mean()) < 0.1 and abs(betas.std() - 1) < 0.1
    again, _ = prior.sample(512, torch.Generator().manual_seed(0))
    torch.testing.assert_close(pose, again)


@pytest.mark.parametrize("activity", BUILTIN)
def test_motion_is_smooth_and_valid(activity):
    fps = 30.0
    motion = sample_motion(activity, 60, fps, generator=11)
    assert motion.shape == (60, 24, 3) and motion.dtype == np.float32
    assert within_limits(motion).all()
    np.testing.assert_array_equal(motion, sample_motion(activity, 60, fps, generator=11))
    R = Rotation.from_rotvec(motion.reshape(-1, 3)).as_matrix().reshape(60, 24, 3, 3)
    step = np.arccos(np.clip((np.einsum("tjab,tjab->tj", R[1:], R[:-1]) - 1) / 2, -1, 1))  # geodesic, radians
    assert step.max() < 0.5, step.max()  # < 15 rad/s for every joint
    assert step.mean() < 0.06
    # Far smoother than the same frames in random order.
    shuffled = R[np.random.default_rng(0).permutation(60)]
    rough = np.arccos(np.clip((np.einsum("tjab,tjab->tj", shuffled[1:], shuffled[:-1]) - 1) / 2, -1, 1))
    if activity not in ("lying", "sitting", "standing"):
        assert step.mean() < 0.5 * rough.mean()


def test_register_custom_activity():
    def params(rng, n):
        return {"bend": rng.uniform(0.5, 1.0, n)}

    def pose(phase, p):
        b = PoseBuilder(len(phase))
        b.leg("left", knee=p["bend"] * phase)
        b.leg("right", knee=p["bend"] * phase)
        return b

    register_activity(Activity("knee_test", params, pose))
    try:
        s = sample_poses(16, 0, activity="knee_test", jitter=0.0)
        assert s.names == ["knee_test"] * 16
        assert np.all(s.pose[:, 1 + BODY["left_knee"], 0] >= 0)
        assert sample_motion("knee_test", 10, 30, 0).shape == (10, 24, 3)
    finally:
        ACTIVITIES.pop("knee_test")
