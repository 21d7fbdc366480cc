"""HMR 2.0's augmentation: published ranges, flips, rotations, and image/label agreement."""

import cv2
import numpy as np
import pytest

from workbench.body import BodyModel
from workbench.body.keypoints import HMR_FLIP_PERMUTATION, SMPL_FLIP_PERMUTATION
from workbench.config import DataConfig
from workbench.data import augment as A
from workbench.data.pose_prior import sample_poses
from workbench.data.skinning import SparseBody


def project(kp3d, cam_t):
    """Crop camera (focal 5000 at 256, principal point 0) in normalised crop units."""
    p = kp3d[:, :3] + cam_t
    return A.FOCAL_NORMALISED * p[:, :2] / p[:, 2:]


@pytest.fixture(scope="module")
def body():
    return SparseBody(BodyModel.open_body())


@pytest.fixture(scope="module")
def item(body):
    """A hand-made labelled crop: a posed body at 40 m in the crop camera, dots at three joints."""
    pose = sample_poses(1, 2, activity="standing").pose
    betas = np.full((1, 10), 0.5)
    out = body(pose, betas)
    cam_t = np.array([0.05, -0.1, 40.0])
    kp2 = project(out.keypoints[0].astype(np.float64), cam_t)
    img = np.zeros((256, 256, 3), np.uint8)
    for k, colour in ((4, (255, 0, 0)), (7, (0, 255, 0)), (43, (0, 0, 255))):  # R wrist, L wrist, head
        cv2.circle(img, tuple(np.round((kp2[k] + 0.5) * 256 - 0.5).astype(int)), 3, colour, -1)
    return {
        "image": img, "mask": np.zeros((256, 256), np.uint8),
        "keypoints_2d": np.concatenate([kp2, np.ones((44, 1))], 1).astype(np.float32),
        "keypoints_3d": np.concatenate([out.keypoints[0], np.ones((44, 1))], 1).astype(np.float32),
        "smpl_params": {"global_orient": pose[0, 0], "body_pose": pose[0, 1:].reshape(69),
                        "betas": betas[0].astype(np.float32)},
        "cam_t": cam_t.astype(np.float32), "root_joint": out.joints[0, 0],
    }


def test_sample_augmentation_matches_published_ranges():
    cfg = DataConfig()
    rng = np.random.default_rng(0)
    draws = [A.sample_augmentation(rng, cfg) for _ in range(4000)]
    scale = np.array([d.scale for d in draws])
    rot = np.array([d.rot for d in draws])
    t = np.array([[d.tx, d.ty] for d in draws])
    color = np.array([d.color for d in draws])
    assert scale.min() >= 0.7 - 1e-9 and scale.max() <= 1.3 + 1e-9
    assert np.abs(rot).max() <= 60 + 1e-9 and abs((rot == 0).mean() - 0.4) < 0.03
    assert np.abs(t).max() <= 0.02 + 1e-12
    assert color.min() >= 0.8 and color.max() <= 1.2
    assert abs(np.mean([d.flip for d in draws]) - 0.5) < 0.03
    assert abs(np.mean([d.extreme_crop for d in draws]) - 0.1) < 0.02


def test_flip_permutations_are_involutions_and_flip_twice_is_identity(item):
    for perm in (HMR_FLIP_PERMUTATION, SMPL_FLIP_PERMUTATION):
        perm = np.array(perm)
        np.testing.assert_array_equal(perm[perm], np.arange(len(perm)))
    twice = A.flip_labels(A.flip_labels(item))
    for key in ("keypoints_2d", "keypoints_3d", "cam_t", "root_joint"):
        np.testing.assert_allclose(twice[key], item[key])
    for key, value in item["smpl_params"].items():
        np.testing.assert_allclose(twice["smpl_params"][key], value)


def test_flipped_pose_gives_mirrored_body(body, item):
    """The SMPL swap + (x, -y, -z) rule agrees with mirroring the keypoints (the open body is symmetric)."""
    flipped = A.flip_labels(item)
    sp = flipped["smpl_params"]
    pose = np.concatenate([sp["global_orient"], sp["body_pose"]]).reshape(1, 24, 3)
    out = body(pose, sp["betas"][None])
    np.testing.assert_allclose(out.keypoints[0], flipped["keypoints_3d"][:, :3], atol=2e-3)


def test_rotation_of_global_orient_matches_rotating_the_body(body, item):
    sp = item["smpl_params"]
    go = A.rotate_global_orient(sp["global_orient"], 25.0)
    pose = np.concatenate([go, sp["body_pose"]]).reshape(1, 24, 3)
    out = body(pose, sp["betas"][None])
    expected = A.rotate_about_root(item["keypoints_3d"][:, :3].astype(np.float64), 25.0, item["root_joint"])
    np.testing.assert_allclose(out.keypoints[0], expected, atol=1e-5)


@pytest.mark.parametrize("rot, flip", [(0.0, True), (35.0, False), (-50.0, True)])
def test_rotation_and_flip_keep_2d_and_3d_consistent_exactly(item, rot, flip):
    out = A.augment_crop(item, A.AugParams(rot=rot, flip=flip))
    np.testing.assert_allclose(project(out["keypoints_3d"].astype(np.float64), out["cam_t"]),
                               out["keypoints_2d"][:, :2], atol=1e-5)


def test_shift_and_scale_are_consistent_in_weak_perspective(item):
    out = A.augment_crop(item, A.AugParams(scale=1.25, rot=-20.0, tx=0.02, ty=-0.015, flip=True))
    np.testing.assert_allclose(project(out["keypoints_3d"].astype(np.float64), out["cam_t"]),
                               out["keypoints_2d"][:, :2], atol=3e-3)


def _dot_centre(img, channel):
    on = (img[..., channel] > 128) & (img.sum(-1) - img[..., channel].astype(int) < 100)
    ys, xs = np.nonzero(on)
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5]) / 256 - 0.5


@pytest.mark.parametrize("params", [A.AugParams(flip=True), A.AugParams(rot=30.0, scale=1.2, tx=0.02),
                                    A.AugParams(rot=-40.0, flip=True, scale=0.8, ty=0.02)])
def test_image_follows_keypoints(item, params):
    """Dots drawn at the right wrist, left wrist and head land where the augmented labels say; after a
    flip the dot drawn at the person's right wrist is labelled as the (mirrored person's) left wrist."""
    out = A.augment_crop(item, params)
    kp = out["keypoints_2d"]
    right, left = (7, 4) if params.flip else (4, 7)
    np.testing.assert_allclose(_dot_centre(out["image"], 0), kp[right, :2], atol=1.5 / 256)
    np.testing.assert_allclose(_dot_centre(out["image"], 1), kp[left, :2], atol=1.5 / 256)
    np.testing.assert_allclose(_dot_centre(out["image"], 2), kp[43, :2], atol=1.5 / 256)


def test_color_scale_and_confidence_outside_crop(item):
    img = np.arange(256 * 256 * 3, dtype=np.uint32).reshape(256, 256, 3).astype(np.uint8)
    scaled = A.apply_color_scale(img, np.array([0.8, 1.0, 1.2]))
    ref = np.clip(img.astype(np.float64) * [0.8, 1.0, 1.2], 0, 255).astype(np.uint8)
    assert np.abs(scaled.astype(int) - ref).max() <= 1
    zoom = A.augment_crop(item, A.AugParams(scale=0.3))  # a tight box: the feet leave the crop
    outside = np.any(np.abs(zoom["keypoints_2d"][:, :2]) > 0.5, 1)
    assert outside.any() and np.all(zoom["keypoints_2d"][outside, 2] == 0)


def test_extreme_crop_box(item):
    kp = item["keypoints_2d"].astype(np.float64)
    # u = 0.35 falls in the "head" bin for a full body (hips 0.2, shoulders 0.1, head 0.1, ...).
    centre, size, part = A.extreme_crop_box(kp, 0.35, 1.2)
    assert part == "head"
    head = kp[list(A.EXTREME_PARTS["head"]), :2]
    assert np.all(np.abs(head - centre) <= size / 2 + 1e-9) and size < 0.3
    params = A.AugParams(extreme_crop=True, extreme_u=0.35, extreme_pad=1.2)
    out = A.augment_crop(item, params)
    assert out["keypoints_2d"][43, 2] == 1 and out["keypoints_2d"][11, 2] == 0  # head kept, ankle cut
    invisible = kp.copy()
    invisible[:, 2] = 0
    assert A.extreme_crop_box(invisible, 0.35, 1.2) is None


def test_normalised_affine_matches_geometry_crop_affine():
    """Same rotation/flip/scale as workbench.geometry.crop_affine; only the half-pixel origin differs
    (crop_affine works in OpenCV's pixel-centre coordinates, HMR 2.0's convention)."""
    from workbench.geometry import crop_affine

    for rot, flip in ((0.0, False), (30.0, True), (-45.0, False)):
        ours = A.crop_affine_normalised(np.array([0.1, -0.05]), 1.2, rot, flip, in_size=256)
        ref = crop_affine(np.array([0.6, 0.45]) * 256, 1.2 * 256, 256, rot, flip)
        np.testing.assert_allclose(ours[:, :2], ref[:, :2], atol=1e-12)
        np.testing.assert_allclose(ours[:, 2], ref[:, 2], atol=1.0)  # within a pixel
