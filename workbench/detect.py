"""Person detection: one interface, several detectors, and the published post-filter.

4DHumans detects people with ViTDet, keeps boxes scoring above ``low_th_c = 0.8`` and skips boxes
narrower than ``small_w = 50`` or shorter than ``small_h = 100`` pixels (reference §4.1, §4.7). ViTDet
is far too heavy for a CPU workbench, so the detectors here are:

* ``given``     -- boxes supplied per frame (a dict, a list, or a JSON/CSV file); ground truth in benchmarks.
* ``hog``       -- OpenCV's built-in HOG + linear-SVM people detector (no weights to download).
* ``mediapipe`` -- an adapter for ``mediapipe.solutions.pose`` (optional dependency, imported lazily).

Every detector takes an RGB frame ``(H, W, 3) uint8`` and returns :class:`Detections` with boxes in
pixels, ``(x1, y1, x2, y2)``. A notebook adds its own::

    @register_detector("my_detector")
    def my_detector(config: DetectConfig | None = None, **kwargs) -> Detector: ...

Frames come from :func:`workbench.io.read_video`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.registry import Registry

__all__ = [
    "DetectConfig", "Detections", "Detector", "GivenBoxes", "HOGDetector", "MediaPipeDetector",
    "register_detector", "create_detector", "list_detectors",
    "as_rgb_frame", "nms", "filter_detections", "MEDIAPIPE_INSTALL_HINT",
]

MEDIAPIPE_INSTALL_HINT = (
    "pip install --no-deps mediapipe==0.10.14 'protobuf<5' absl-py flatbuffers attrs matplotlib"
)


@dataclass
class DetectConfig:
    """Post-filter applied to every detector's output (published values from PHALP's ``base.py``).

    ``score_threshold`` is compared with the detector's own score: a probability for ViTDet (0.8
    published), the SVM margin for ``hog`` (see :meth:`hog`), 1.0 for ``given`` boxes by default.
    """

    min_width: float = 50.0        # px, small_w: boxes with w < min_width are dropped
    min_height: float = 100.0      # px, small_h
    score_threshold: float = 0.8   # low_th_c
    nms_iou: float = 0.4           # IoU above which the lower-scoring box is suppressed

    @classmethod
    def hog(cls) -> "DetectConfig":
        """HOG scores are SVM margins, not probabilities; on vtest.avi boxes below ~0.5 were mostly clutter."""
        return cls(score_threshold=0.5)

    @classmethod
    def tiny(cls) -> "DetectConfig":
        """Everything passes: for tests on small synthetic frames."""
        return cls(min_width=0.0, min_height=0.0, score_threshold=-np.inf)


@dataclass
class Detections:
    """People found in one frame.

    boxes:     (N, 4) float32, pixels, (x1, y1, x2, y2) with x1 <= x2, y1 <= y2.
    scores:    (N,) float32, detector-specific (higher is more confident).
    keypoints: optional (N, K, 3) float32, (x px, y px, confidence) per keypoint.
    gt_ids:    optional (N,) int64, the ground-truth person each box came from (-1: false positive);
               only simulated detections (synthetic benchmarks) have them.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None
    gt_ids: np.ndarray | None = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores; give one score per box.")
        if np.any(self.boxes[:, 2:] < self.boxes[:, :2]):
            raise ValueError("boxes must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2.")
        if self.keypoints is not None:
            self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
            if self.keypoints.ndim != 3 or self.keypoints.shape[0] != len(self.boxes) or self.keypoints.shape[2] != 3:
                raise ValueError(f"keypoints must be (N={len(self.boxes)}, K, 3); got {self.keypoints.shape}.")
        if self.gt_ids is not None:
            self.gt_ids = np.asarray(self.gt_ids, dtype=np.int64).reshape(-1)
            if len(self.gt_ids) != len(self.boxes):
                raise ValueError(f"{len(self.boxes)} boxes but {len(self.gt_ids)} gt_ids; give one id per box.")

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, keep: np.ndarray) -> "Detections":
        """The detections at ``keep`` (boolean mask or index array), in that order."""
        kp = None if self.keypoints is None else self.keypoints[keep]
        ids = None if self.gt_ids is None else self.gt_ids[keep]
        return Detections(self.boxes[keep], self.scores[keep], kp, ids)

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]


# ---------------------------------------------------------------------------------------------------
# Pure helpers: frame checking, NMS, the post-filter


def as_rgb_frame(frame: np.ndarray) -> np.ndarray:
    """Check a frame and return it as ``(H, W, 3) uint8`` RGB.

    Accepted: RGB ``(H, W, 3)``; grayscale ``(H, W)`` or ``(H, W, 1)`` (replicated to 3 channels);
    RGBA ``(H, W, 4)`` (alpha dropped, not composited). Anything else -- other dtypes, other channel
    counts, empty frames, non-arrays -- raises ``ValueError`` saying what was received.
    """
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"a frame must be a numpy array (H, W, 3) uint8; got {type(frame).__name__}.")
    if frame.dtype != np.uint8:
        raise ValueError(
            f"a frame must be uint8 (0..255); got {frame.dtype}. Convert floats with (x * 255).round().astype(np.uint8)."
        )
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4) or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"a frame must be (H, W, 3) RGB, (H, W) / (H, W, 1) gray or (H, W, 4) RGBA; got {frame.shape}.")
    if frame.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(frame, 3, axis=2))
    if frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3])
    return frame


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with many (M, 4), all xyxy pixels. Returns (M,)."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.4) -> np.ndarray:
    """Greedy non-maximum suppression. boxes (N, 4) xyxy, scores (N,). Returns kept indices, best first.

    A box is dropped when its IoU with an already kept, higher-scoring box exceeds ``iou_threshold``
    (the rule of ``cv2.dnn.NMSBoxes``, which the tests compare against).
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while len(order):
        # 1. Keep the best remaining box, 2. drop the ones overlapping it too much.
        best, order = order[0], order[1:]
        keep.append(int(best))
        order = order[box_iou(boxes[best], boxes[order]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def filter_detections(dets: Detections, config: DetectConfig) -> Detections:
    """Published post-filter: drop w < min_width, h < min_height, score < score_threshold."""
    keep = (dets.widths >= config.min_width) & (dets.heights >= config.min_height)
    keep &= dets.scores >= config.score_threshold
    return dets.select(np.flatnonzero(keep))


# ---------------------------------------------------------------------------------------------------
# Interface and registry


class Detector:
    """Base class: ``detector(frame, frame_index) -> Detections`` (checked frame in, filtered boxes out).

    Subclasses implement ``_detect(rgb, frame_index)`` on a checked ``(H, W, 3) uint8`` RGB frame.
    """

    def __init__(self, config: DetectConfig | None = None):
        self.config = config if config is not None else DetectConfig()

    def _detect(self, rgb: np.ndarray, frame_index: int) -> Detections:
        raise NotImplementedError

    def __call__(self, frame: np.ndarray, frame_index: int = 0) -> Detections:
        rgb = as_rgb_frame(frame)
        return filter_detections(self._detect(rgb, frame_index), self.config)


DETECTORS = Registry("detector")
register_detector = DETECTORS.register  # factory(config: DetectConfig | None = None, **kwargs) -> Detector
list_detectors = DETECTORS.names


def create_detector(name: str, **kwargs) -> Detector:
    return DETECTORS.lookup(name)(**kwargs)


# ---------------------------------------------------------------------------------------------------
# given: boxes from a file or a mapping


def _load_boxes_file(path: Path) -> dict[int, Detections]:
    """JSON ``{frame: [[x1,y1,x2,y2(,score)], ...]}`` or ``[[...], ...]`` (list index = frame), or
    CSV with a header containing ``frame,x1,y1,x2,y2`` and optionally ``score``."""
    if not path.is_file():
        raise FileNotFoundError(f"box file {path} does not exist.")
    if path.suffix.lower() == ".json":
        return _parse_boxes(json.loads(path.read_text()))
    if path.suffix.lower() == ".csv":
        rows: dict[int, list[list[float]]] = {}
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = {"frame", "x1", "y1", "x2", "y2"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: CSV header needs frame,x1,y1,x2,y2[,score]; missing {sorted(missing)}.")
            for r in reader:
                box = [float(r[k]) for k in ("x1", "y1", "x2", "y2")] + [float(r.get("score") or 1.0)]
                rows.setdefault(int(r["frame"]), []).append(box)
        return _parse_boxes(rows)
    raise ValueError(f"{path}: box files must be .json or .csv.")


def _parse_boxes(source: Mapping | Sequence) -> dict[int, Detections]:
    items = source.items() if isinstance(source, Mapping) else enumerate(source)
    out: dict[int, Detections] = {}
    for key, rows in items:
        rows = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1) if len(rows) else np.zeros((0, 4))
        if rows.shape[1] not in (4, 5):
            raise ValueError(f"frame {key}: each box must be [x1, y1, x2, y2] or [x1, y1, x2, y2, score].")
        scores = rows[:, 4] if rows.shape[1] == 5 else np.ones(len(rows), np.float32)
        out[int(key)] = Detections(rows[:, :4], scores)
    return out


class GivenBoxes(Detector):
    """Boxes known in advance, by frame index; a frame without an entry has no people.

    ``source``: a path to a JSON/CSV file, a dict ``{frame: boxes}`` or a list (index = frame).
    Scores default to 1.0, so the default score threshold (0.8) keeps them.
    """

    def __init__(self, source: str | os.PathLike | Mapping | Sequence, config: DetectConfig | None = None):
        super().__init__(config)
        is_path = isinstance(source, (str, os.PathLike))
        self.boxes = _load_boxes_file(Path(source)) if is_path else _parse_boxes(source)

    def _detect(self, rgb: np.ndarray, frame_index: int) -> Detections:
        return self.boxes.get(int(frame_index), Detections.empty())


register_detector("given")(GivenBoxes)


# ---------------------------------------------------------------------------------------------------
# hog: OpenCV's people detector (Dalal & Triggs, 64x128 window)


class HOGDetector(Detector):
    """``cv2.HOGDescriptor`` with ``getDefaultPeopleDetector`` weights.

    The window is 64x128 px, so people shorter than ~128 px are missed unless ``upscale > 1``. Scores
    are SVM margins (OpenCV's grouped ``weights``); overlapping groups are merged by :func:`nms`.
    ~50 ms/frame at 768x576 on one CPU core. Poor on close-up photos (it was trained on pedestrians).
    """

    def __init__(self, config: DetectConfig | None = None, win_stride: int = 8, padding: int = 8,
                 scale: float = 1.05, group_threshold: int = 2, upscale: float = 1.0):
        super().__init__(config if config is not None else DetectConfig.hog())
        import cv2

        if not hasattr(cv2, "HOGDescriptor"):
            raise ImportError(f"OpenCV {cv2.__version__} has no HOGDescriptor (removed in 5.x); "
                              "install opencv-python-headless<5.")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.win_stride, self.padding, self.scale = win_stride, padding, scale
        self.group_threshold, self.upscale = group_threshold, upscale

    def _detect(self, rgb: np.ndarray, frame_index: int) -> Detections:
        import cv2

        h, w = rgb.shape[:2]
        image = rgb if self.upscale == 1.0 else cv2.resize(rgb, None, fx=self.upscale, fy=self.upscale)
        rects, weights = self.hog.detectMultiScale(
            image, winStride=(self.win_stride,) * 2, padding=(self.padding,) * 2,
            scale=self.scale, groupThreshold=self.group_threshold,
        )
        if len(rects) == 0:
            return Detections.empty()
        xywh = np.asarray(rects, np.float32).reshape(-1, 4) / self.upscale
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)  # windows may overhang the padding
        scores = np.asarray(weights, np.float32).reshape(-1)
        return Detections(boxes, scores).select(nms(boxes, scores, self.config.nms_iou))


register_detector("hog")(HOGDetector)


# ---------------------------------------------------------------------------------------------------
# mediapipe: optional, single person


class MediaPipeDetector(Detector):
    """``mediapipe.solutions.pose`` (BlazePose detector + 33 landmarks) as a detector.

    Single-person: it returns at most one person per call and mixes people on multi-person frames,
    so run it **per crop** (after ``hog`` or ``given`` boxes), not on a full crowded frame. The box is
    the extent of the landmarks with visibility >= ``min_visibility``, padded by ``pad`` of its size;
    the score is the mean landmark visibility; keypoints are (33, 3) = (x px, y px, visibility).
    ``model_complexity=2`` downloads a model at run time and is refused here.
    Install (kept out of the dependencies; its full install pulls jax and opencv-contrib, ~1.1 GB):
    ``pip install --no-deps mediapipe==0.10.14 'protobuf<5' absl-py flatbuffers attrs matplotlib``
    """

    def __init__(self, config: DetectConfig | None = None, model_complexity: int = 1,
                 min_detection_confidence: float = 0.5, min_visibility: float = 0.5, pad: float = 0.1):
        super().__init__(config if config is not None else DetectConfig(score_threshold=0.5))
        try:
            import mediapipe as mp
        except ImportError as e:
            raise ImportError(f"the 'mediapipe' detector needs mediapipe, which could not be imported ({e}). "
                              f"Install it (not a workbench dependency) with:\n    {MEDIAPIPE_INSTALL_HINT}") from e
        if model_complexity not in (0, 1):
            raise ValueError("model_complexity must be 0 or 1 (2 downloads a model at run time).")
        self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=model_complexity,
                                           min_detection_confidence=min_detection_confidence)
        self.min_visibility, self.pad = min_visibility, pad

    def _detect(self, rgb: np.ndarray, frame_index: int) -> Detections:
        result = self.pose.process(rgb)
        if result.pose_landmarks is None:
            return Detections.empty()
        h, w = rgb.shape[:2]
        kp = np.array([[p.x * w, p.y * h, p.visibility] for p in result.pose_landmarks.landmark], np.float32)
        seen = kp[kp[:, 2] >= self.min_visibility]
        if len(seen) == 0:
            return Detections.empty()
        lo, hi = seen[:, :2].min(0), seen[:, :2].max(0)
        margin = self.pad * (hi - lo)
        box = np.clip(np.concatenate([lo - margin, hi + margin]), 0, [w, h, w, h])
        return Detections(box[None], [kp[:, 2].mean()], kp[None])

    def keypoints_in_boxes(self, frame: np.ndarray, boxes: np.ndarray) -> Detections:
        """The recommended use: one pose per person box. boxes (N, 4) xyxy px from another detector.

        Returns the same boxes with keypoints (N, 33, 3) in frame pixels and score = mean visibility;
        a box where no pose was found gets zero keypoints and score 0 (nothing is dropped or filtered).
        """
        rgb = as_rgb_frame(frame)
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        keypoints = np.zeros((len(boxes), 33, 3), np.float32)
        scores = np.zeros(len(boxes), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
            x1, y1 = max(x1, 0), max(y1, 0)
            crop = rgb[y1:y2, x1:x2]
            if crop.size == 0:
                continue
            found = self._detect(np.ascontiguousarray(crop), 0)
            if len(found):
                keypoints[i] = found.keypoints[0] + np.array([x1, y1, 0], np.float32)
                scores[i] = found.scores[0]
        return Detections(boxes, scores, keypoints)


register_detector("mediapipe")(MediaPipeDetector)
