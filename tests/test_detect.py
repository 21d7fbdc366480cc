"""Person detection: registry, given boxes, the published post-filter, HOG on the demo clip, NMS,
frame checking, the optional mediapipe adapter and video reading."""

from __future__ import annotations

import importlib.util
import json

import cv2
import numpy as np
import pytest

from workbench.assets import asset_path
from workbench.detect import (
    MEDIAPIPE_INSTALL_HINT,
    DetectConfig,
    Detections,
    as_rgb_frame,
    create_detector,
    filter_detections,
    list_detectors,
    nms,
)
from workbench.io import read_video

CLIP = asset_path("demo/vtest_excerpt.mp4")


@pytest.fixture(scope="module")
def clip_frame() -> np.ndarray:
    """Frame 50 of the demo clip (five people walking), RGB (576, 768, 3) uint8."""
    (_, frame), = read_video(CLIP, start=50, stop=51)
    return frame


def test_registry():
    assert {"given", "hog", "mediapipe"} <= set(list_detectors())
    with pytest.raises(KeyError, match="registered"):
        create_detector("no_such_detector")


def test_given_boxes_round_trip_json(tmp_path):
    boxes = {"0": [[10, 20, 110, 260]], "3": [[0, 0, 60, 120, 0.9], [200, 50, 300, 300, 0.95]], "4": []}
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(boxes))
    det = create_detector("given", source=path)
    frame = np.zeros((320, 400, 3), np.uint8)

    d0 = det(frame, 0)
    np.testing.assert_allclose(d0.boxes, [[10, 20, 110, 260]])
    np.testing.assert_allclose(d0.scores, [1.0])
    assert d0.boxes.dtype == np.float32 and d0.scores.dtype == np.float32
    d3 = det(frame, 3)
    np.testing.assert_allclose(d3.boxes, np.array(boxes["3"])[:, :4])
    np.testing.assert_allclose(d3.scores, [0.9, 0.95], rtol=1e-6)
    assert len(det(frame, 4)) == 0 and len(det(frame, 7)) == 0  # listed empty, and not listed at all


def test_given_boxes_csv_and_list(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("frame,x1,y1,x2,y2,score\n2,0,0,60,120,0.9\n2,100,0,160,120,1.0\n")
    frame = np.zeros((200, 200, 3), np.uint8)
    assert len(create_detector("given", source=path)(frame, 2)) == 2
    assert len(create_detector("given", source=[[], [[0, 0, 60, 120]]])(frame, 1)) == 1
    (tmp_path / "bad.csv").write_text("f,a,b\n1,2,3\n")
    with pytest.raises(ValueError, match="frame,x1,y1,x2,y2"):
        create_detector("given", source=tmp_path / "bad.csv")


def test_filter_by_size_and_score():
    boxes = [[0, 0, 50, 100],     # exactly the published minimum: kept
             [0, 0, 49, 200],     # too narrow
             [0, 0, 80, 99],      # too short
             [0, 0, 80, 200],     # low score
             [10, 10, 90, 210]]   # kept
    dets = Detections(boxes, [0.9, 0.9, 0.9, 0.5, 0.85])
    kept = filter_detections(dets, DetectConfig())
    np.testing.assert_allclose(kept.boxes, np.array(boxes)[[0, 4]])
    looser = filter_detections(dets, DetectConfig(min_width=40, min_height=90, score_threshold=0.4))
    assert len(looser) == 5


def test_detections_checks_shapes():
    with pytest.raises(ValueError, match="scores"):
        Detections(np.zeros((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="x1 <= x2"):
        Detections([[10, 0, 5, 10]], [1.0])


def test_hog_finds_people_on_the_demo_clip(clip_frame):
    dets = create_detector("hog")(clip_frame)
    h, w = clip_frame.shape[:2]
    assert len(dets) >= 1
    assert np.all(dets.boxes[:, :2] >= 0) and np.all(dets.boxes[:, 2] <= w) and np.all(dets.boxes[:, 3] <= h)
    assert np.all(dets.boxes[:, 2:] >= dets.boxes[:, :2])
    assert np.all(dets.widths >= 50) and np.all(dets.heights >= 100)


def test_nms_removes_duplicates():
    boxes = np.array([[0, 0, 60, 120], [2, 2, 62, 122], [100, 0, 160, 120], [101, 1, 161, 121]], np.float32)
    keep = nms(boxes, np.array([0.9, 0.8, 0.7, 0.95]), iou_threshold=0.4)
    assert keep.tolist() == [3, 0]


def test_nms_matches_opencv():
    """Our numpy NMS against cv2.dnn.NMSBoxes (the reference) on random overlapping boxes."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        xy = rng.integers(0, 200, (30, 2))  # integer pixels: the Python binding may pick cv::Rect (int)
        wh = rng.integers(20, 120, (30, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        scores = rng.uniform(0, 1, 30).astype(np.float32)
        ours = nms(boxes, scores, 0.4)
        ref = cv2.dnn.NMSBoxes(np.concatenate([xy, wh], 1).tolist(), scores.tolist(), 0.0, 0.4)
        assert sorted(ours.tolist()) == sorted(np.asarray(ref).reshape(-1).tolist())


def test_grayscale_and_rgba_frames_accepted(clip_frame):
    gray = cv2.cvtColor(clip_frame, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([clip_frame, np.full(clip_frame.shape[:2], 255, np.uint8)])
    for frame in (gray, gray[:, :, None], rgba):
        rgb = as_rgb_frame(frame)
        assert rgb.shape == clip_frame.shape and rgb.dtype == np.uint8
    np.testing.assert_array_equal(as_rgb_frame(rgba), clip_frame)
    given = create_detector("given", source={0: [[0, 0, 60, 120]]})
    assert len(given(gray, 0)) == len(given(rgba, 0)) == 1
    assert len(create_detector("hog")(gray[200:576, 300:768])) >= 0  # runs on a converted gray crop


@pytest.mark.parametrize("bad", [
    np.zeros((64, 64, 3), np.float32),  # wrong dtype
    np.zeros((64, 64, 2), np.uint8),    # two channels
    np.zeros((2, 64, 64, 3), np.uint8),  # a batch, not a frame
    np.zeros((0, 64, 3), np.uint8),     # empty
    [[0, 1], [2, 3]],                   # not an array
])
def test_non_image_raises(bad):
    with pytest.raises(ValueError, match="frame"):
        create_detector("given", source={})(bad)


def test_mediapipe_adapter_says_how_to_install():
    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("mediapipe is installed here; the missing-package message cannot be checked")
    with pytest.raises(ImportError) as info:
        create_detector("mediapipe")
    assert MEDIAPIPE_INSTALL_HINT in str(info.value)
    assert "pip install --no-deps mediapipe==0.10.14 'protobuf<5' absl-py flatbuffers attrs matplotlib" in str(info.value)


def test_read_video_demo_clip():
    frames = list(read_video(CLIP))
    assert [i for i, _ in frames] == list(range(100))
    _, first = frames[0]
    assert first.shape == (576, 768, 3) and first.dtype == np.uint8
    ok, bgr = cv2.VideoCapture(str(CLIP)).read()
    np.testing.assert_array_equal(first, bgr[:, :, ::-1])  # RGB, not OpenCV's BGR
    assert [i for i, _ in read_video(CLIP, start=90, stop=99, step=3)] == [90, 93, 96]
    assert [i for i, _ in read_video(CLIP, start=98)] == [98, 99]


def test_read_video_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="could not be opened|zero decodable frames"):
        read_video(corrupt)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="could not be opened|zero decodable frames"):
        read_video(empty)
    with pytest.raises(ValueError, match="step"):
        read_video(CLIP, step=0)


def _fake_mediapipe():
    """A stand-in for ``mediapipe.solutions.pose``: 33 landmarks on a vertical line in the middle
    of the image (x = 0.5, y from 0.1 to 0.9, normalised), the last 3 invisible."""
    from types import SimpleNamespace

    class Pose:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def process(self, rgb):
            marks = [SimpleNamespace(x=0.5, y=0.1 + 0.8 * k / 29, visibility=1.0 if k < 30 else 0.0) for k in range(33)]
            return SimpleNamespace(pose_landmarks=SimpleNamespace(landmark=marks))

    return SimpleNamespace(solutions=SimpleNamespace(pose=SimpleNamespace(Pose=Pose)))


def test_mediapipe_adapter_logic_with_a_stand_in(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mediapipe", _fake_mediapipe())
    det = create_detector("mediapipe", pad=0.0, config=DetectConfig.tiny())
    frame = np.zeros((400, 200, 3), np.uint8)
    d = det(frame)
    assert len(d) == 1 and d.keypoints.shape == (1, 33, 3)
    np.testing.assert_allclose(d.boxes[0], [100, 40, 100, 360], atol=1e-3)  # extent of the visible landmarks
    np.testing.assert_allclose(d.scores, [30 / 33], rtol=1e-6)

    per_box = det.keypoints_in_boxes(frame, [[0, 0, 100, 200], [100, 200, 200, 400], [300, 0, 400, 10]])
    np.testing.assert_allclose(per_box.keypoints[0, 0, :2], [50, 20], atol=1e-3)    # crop offset applied
    np.testing.assert_allclose(per_box.keypoints[1, 0, :2], [150, 220], atol=1e-3)
    assert per_box.scores[2] == 0 and np.all(per_box.keypoints[2] == 0)          # box outside the frame
