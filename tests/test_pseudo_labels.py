"""Real-photo pseudo labels: the BlazePose -> 44-joint mapping on a hand-made example, the shipped
labels file (loads without mediapipe, people inside their boxes, confidences where expected), and the
generator (only where mediapipe is installed)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from workbench.body.keypoints import HMR_JOINT_NAMES
from workbench.evaluate.pseudo_labels import (
    BLAZEPOSE_NAMES,
    HIP_CONFIDENCE,
    HMR44_FROM_BLAZEPOSE,
    load_real_photo_labels,
    mediapipe_to_hmr44,
    real_photo_items,
)

NO_COUNTERPART = ("LSmallToe", "RSmallToe", "Neck (LSP)", "Top of Head (LSP)", "Spine (H36M)", "Jaw (H36M)",
                  "Head (H36M)")
HIPS = ("MidHip", "RHip", "LHip", "R Hip", "L Hip", "Pelvis (MPII)")


def _joint(name: str) -> int:
    return HMR_JOINT_NAMES.index(name)


def _landmark(name: str) -> int:
    return BLAZEPOSE_NAMES.index(name)


@pytest.fixture
def kp33():
    """Two people with distinct landmarks: x = 10 * index (+1000 for the second), y = 2 * index, vis 0.9."""
    idx = np.arange(33, dtype=np.float32)
    one = np.stack([10 * idx, 2 * idx, np.full(33, 0.9, np.float32)], 1)
    two = one + np.array([1000.0, 0.0, 0.0], np.float32)
    return np.stack([one, two])


def test_mapping_shapes(kp33):
    assert mediapipe_to_hmr44(kp33).shape == (2, 44, 3)
    assert mediapipe_to_hmr44(kp33[0]).shape == (44, 3)
    assert mediapipe_to_hmr44(kp33).dtype == np.float32
    with pytest.raises(ValueError, match="33, 3"):
        mediapipe_to_hmr44(np.zeros((2, 17, 3)))


def test_mapping_copies_the_right_landmarks(kp33):
    out = mediapipe_to_hmr44(kp33)
    pairs = {  # spelled out by name, independently of HMR44_FROM_BLAZEPOSE
        "Nose": "nose", "RShoulder": "right_shoulder", "LShoulder": "left_shoulder", "RElbow": "right_elbow",
        "LElbow": "left_elbow", "RWrist": "right_wrist", "LWrist": "left_wrist", "RKnee": "right_knee",
        "LKnee": "left_knee", "RAnkle": "right_ankle", "LAnkle": "left_ankle", "REye": "right_eye",
        "LEye": "left_eye", "REar": "right_ear", "LEar": "left_ear", "LBigToe": "left_foot_index",
        "RBigToe": "right_foot_index", "LHeel": "left_heel", "RHeel": "right_heel",
        "R Ankle": "right_ankle", "R Knee": "right_knee", "L Knee": "left_knee", "L Ankle": "left_ankle",
        "R Wrist": "right_wrist", "R Elbow": "right_elbow", "R Shoulder": "right_shoulder",
        "L Shoulder": "left_shoulder", "L Elbow": "left_elbow", "L Wrist": "left_wrist",
        "RHip": "right_hip", "LHip": "left_hip", "R Hip": "right_hip", "L Hip": "left_hip",
    }
    for joint, landmark in pairs.items():
        np.testing.assert_allclose(out[:, _joint(joint), :2], kp33[:, _landmark(landmark), :2], err_msg=joint)
    shoulders = kp33[:, [_landmark("left_shoulder"), _landmark("right_shoulder")], :2].mean(1)
    hips = kp33[:, [_landmark("left_hip"), _landmark("right_hip")], :2].mean(1)
    for joint in ("Neck", "Thorax (MPII)"):
        np.testing.assert_allclose(out[:, _joint(joint), :2], shoulders, err_msg=joint)
    for joint in ("MidHip", "Pelvis (MPII)"):
        np.testing.assert_allclose(out[:, _joint(joint), :2], hips, err_msg=joint)
    assert len(pairs) + 4 + len(NO_COUNTERPART) == 44  # every joint is checked once


def test_mapping_confidences(kp33):
    kp33 = kp33.copy()
    kp33[0, _landmark("right_shoulder"), 2] = 0.4  # a midpoint takes the smaller confidence
    out = mediapipe_to_hmr44(kp33)
    for name in NO_COUNTERPART:
        assert np.all(out[:, _joint(name)] == 0), name
    for name in HIPS:
        np.testing.assert_allclose(out[:, _joint(name), 2], 0.9 * HIP_CONFIDENCE, rtol=1e-6, err_msg=name)
    assert out[0, _joint("Neck"), 2] == pytest.approx(0.4)
    assert out[1, _joint("Neck"), 2] == pytest.approx(0.9)
    assert np.allclose(mediapipe_to_hmr44(kp33, hip_confidence=1.0)[1, _joint("RHip"), 2], 0.9)
    assert set(HMR44_FROM_BLAZEPOSE) == set(range(44)) - {_joint(n) for n in NO_COUNTERPART}


def test_left_right_agree_with_the_flip():
    """Mirroring the landmarks' left/right labels must mirror the 44 joints the same way."""
    from workbench.body.keypoints import HMR_FLIP_PERMUTATION

    swap = [BLAZEPOSE_NAMES.index(n.replace("left", "#").replace("right", "left").replace("#", "right"))
            for n in BLAZEPOSE_NAMES]
    kp = np.random.default_rng(0).uniform(0, 1, (3, 33, 3)).astype(np.float32)
    np.testing.assert_allclose(mediapipe_to_hmr44(kp[:, swap]), mediapipe_to_hmr44(kp)[:, list(HMR_FLIP_PERMUTATION)])


# ----------------------------------------------------------------------------- the shipped asset
@pytest.fixture(scope="module")
def labels():
    return load_real_photo_labels()


def test_shipped_labels_load_without_mediapipe(labels):
    assert len(labels) >= 5
    assert {"images/basketball1.png", "images/basketball2.png", "images/messi5.jpg",
            "demo/vtest_excerpt.mp4"} <= set(labels["source"])
    assert (labels["score"] > 0).all()
    every_box = load_real_photo_labels(min_score=-1.0)
    assert len(every_box) >= len(labels)  # boxes where BlazePose found no one stay in the file
    for kp33, kp44 in zip(labels["landmarks_33"], labels["keypoints_44"]):
        np.testing.assert_allclose(mediapipe_to_hmr44(kp33), kp44, atol=0.02)  # the file rounds to 0.01 px


def test_shipped_keypoints_lie_in_their_boxes(labels):
    for row in labels.itertuples():
        kp = row.keypoints_44[row.keypoints_44[:, 2] > 0.5]
        x1, y1, x2, y2 = row.box
        pad = 0.1 * max(x2 - x1, y2 - y1)
        inside = ((kp[:, 0] >= x1 - pad) & (kp[:, 0] <= x2 + pad) & (kp[:, 1] >= y1 - pad) & (kp[:, 1] <= y2 + pad))
        assert len(kp) >= 10 and inside.mean() >= 0.9, row.source


def test_shipped_confidences_where_expected(labels):
    kp = np.stack(labels["keypoints_44"])  # (N, 44, 3)
    assert np.all(kp[:, [_joint(n) for n in NO_COUNTERPART]] == 0)
    assert np.all(kp[:, [_joint(n) for n in HIPS], 2] <= HIP_CONFIDENCE + 1e-6)
    assert np.all(kp[..., 2] <= 1.0) and np.all(kp[..., 2] >= 0.0)
    torso = [_joint(n) for n in ("Neck", "RShoulder", "LShoulder", "Nose")]
    assert np.median(kp[:, torso, 2]) > 0.9  # upright, visible people: BlazePose is sure of the torso


def test_real_photo_items_are_ready_for_fitting(labels):
    items = real_photo_items()
    assert len(items) == len(labels)
    for item, size in zip(items, labels["image_size"]):
        assert item.image.shape == (*size, 3) and item.image.dtype == np.uint8
        assert item.keypoints.shape == (44, 3) and item.box.shape == (4,)
        assert (item.keypoints[:, 2] >= 0.3).sum() >= 2  # fit_keypoints needs two


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                    reason="mediapipe is not installed (optional; only the generator needs it)")
def test_generator_reproduces_the_shipped_file(tmp_path, labels):
    from workbench.evaluate.pseudo_labels import generate_real_photo_labels

    path = generate_real_photo_labels(tmp_path / "labels.json")
    with pytest.raises(FileExistsError):
        generate_real_photo_labels(path)
    fresh = load_real_photo_labels(path)
    assert len(fresh) == len(labels)
    diff = np.abs(np.stack(fresh["keypoints_44"])[..., :2] - np.stack(labels["keypoints_44"])[..., :2])
    assert np.median(diff) < 2.0  # px; the same model on the same crops
