"""Real photos with pseudo 2D labels: BlazePose's 33 landmarks mapped to the 44-joint HMR set.

We cannot ship COCO or 3DPW, but we can ship OpenCV's sample photos with people and a few frames of
the demo clip. Their 2D keypoints come from mediapipe's BlazePose (``model_complexity=1``, run per
person box), stored once in ``assets/labels/real_photos_keypoints.json`` by
:func:`generate_real_photo_labels`. Everything else here reads only that JSON, so the workbench never
needs mediapipe: :func:`load_real_photo_labels` gives one pandas row per person and
:func:`real_photo_items` gives image + box + 44 keypoints, ready for
:func:`workbench.fitting.fit_keypoints` and for PCK.

These are *pseudo* labels (a detector's output, not human annotation): a PCK against them measures
agreement with BlazePose, which is the honest real-image check we can ship, not a benchmark number.

Regenerate (needs mediapipe, not a workbench dependency; see ``workbench.detect.MEDIAPIPE_INSTALL_HINT``)::

    python -m workbench.evaluate.pseudo_labels --overwrite
"""

from __future__ import annotations

import datetime
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.body.keypoints import HMR_JOINT_NAMES, NUM_HMR_JOINTS

__all__ = ["BLAZEPOSE_NAMES", "HMR44_FROM_BLAZEPOSE", "HIP_CONFIDENCE", "LABELS_ASSET", "RealPhotoPerson",
           "generate_real_photo_labels", "load_real_photo_labels", "mediapipe_to_hmr44", "real_photo_items"]

LABELS_ASSET = "labels/real_photos_keypoints.json"

BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

# HMR joint -> BlazePose landmark(s): one index is a copy, a pair is the midpoint (confidence = the
# smaller of the two). Joints not listed have confidence 0. Limb joints fill both their OpenPose slot
# and their J19 slot: on our body the J19 limb joints are the SMPL joints (keypoints.EXTRA_FROM_SMPL).
HMR44_FROM_BLAZEPOSE: dict[int, tuple[int, ...]] = {
    0: (0,),            # Nose
    1: (11, 12),        # Neck = mid-shoulder (OpenPose's definition)
    2: (12,), 3: (14,), 4: (16,),  # RShoulder, RElbow, RWrist
    5: (11,), 6: (13,), 7: (15,),  # LShoulder, LElbow, LWrist
    8: (23, 24),        # MidHip = mid-hip          (hip confidence, see HIP_CONFIDENCE)
    9: (24,), 10: (26,), 11: (28,),  # RHip (hip confidence), RKnee, RAnkle
    12: (23,), 13: (25,), 14: (27,),  # LHip (hip confidence), LKnee, LAnkle
    15: (5,), 16: (2,), 17: (8,), 18: (7,),  # REye, LEye, REar, LEar
    19: (31,), 21: (29,),  # LBigToe = left foot index, LHeel    (LSmallToe 20: none)
    22: (32,), 24: (30,),  # RBigToe = right foot index, RHeel   (RSmallToe 23: none)
    25: (28,), 26: (26,), 27: (24,),  # R Ankle, R Knee, R Hip (hip confidence)
    28: (23,), 29: (25,), 30: (27,),  # L Hip (hip confidence), L Knee, L Ankle
    31: (16,), 32: (14,), 33: (12,),  # R Wrist, R Elbow, R Shoulder
    34: (11,), 35: (13,), 36: (15,),  # L Shoulder, L Elbow, L Wrist
    39: (23, 24),       # Pelvis (MPII) = mid-hip   (hip confidence)
    40: (11, 12),       # Thorax (MPII) = mid-shoulder
    # 37 Neck (LSP), 38 Top of Head (LSP), 41 Spine (H36M), 42 Jaw (H36M), 43 Head (H36M): none.
}
HIP_JOINTS: tuple[int, ...] = (8, 9, 12, 27, 28, 39)

# BlazePose's hips are annotation-style hips (on the outline of the pelvis, near the greater
# trochanter), higher and wider than SMPL's hip joints (femoral heads inside the pelvis). Their
# confidence is scaled by this factor: 0.5 keeps them in the fit (>= 0.3, at half weight) and out of
# PCK (visible means confidence > 0.5), where the offset would count as our model's error.
HIP_CONFIDENCE = 0.5


def mediapipe_to_hmr44(kp33, hip_confidence: float = HIP_CONFIDENCE) -> np.ndarray:
    """BlazePose's 33 landmarks -> the 44-joint HMR set.

    Args:
        kp33: (N, 33, 3) or (33, 3) ``(x px, y px, visibility)`` in BlazePose order
            (:data:`BLAZEPOSE_NAMES`), e.g. ``MediaPipeDetector.keypoints_in_boxes(...).keypoints``.
        hip_confidence: factor on the confidence of the six hip-derived joints (:data:`HIP_JOINTS`).

    Returns:
        (N, 44, 3) float32 ``(u px, v px, confidence)`` in :data:`~workbench.body.keypoints.HMR_JOINT_NAMES`
        order (or (44, 3) for a single person); joints without a counterpart are all zero.

    Mapping (HMR index name <- BlazePose index name; "mid" = midpoint, confidence = min of the two;
    * = confidence times ``hip_confidence``)::

        0 Nose <- 0 nose                 1 Neck <- mid(11, 12) shoulders
        2 RShoulder <- 12                3 RElbow <- 14          4 RWrist <- 16
        5 LShoulder <- 11                6 LElbow <- 13          7 LWrist <- 15
        8 MidHip* <- mid(23, 24) hips    9 RHip* <- 24          10 RKnee <- 26   11 RAnkle <- 28
        12 LHip* <- 23                  13 LKnee <- 25          14 LAnkle <- 27
        15 REye <- 5   16 LEye <- 2      17 REar <- 8            18 LEar <- 7
        19 LBigToe <- 31 left_foot_index 20 LSmallToe: none      21 LHeel <- 29
        22 RBigToe <- 32 right_foot_index 23 RSmallToe: none     24 RHeel <- 30
        25 R Ankle <- 28  26 R Knee <- 26  27 R Hip* <- 24  28 L Hip* <- 23  29 L Knee <- 25  30 L Ankle <- 27
        31 R Wrist <- 16  32 R Elbow <- 14  33 R Shoulder <- 12  34 L Shoulder <- 11  35 L Elbow <- 13
        36 L Wrist <- 15  37 Neck (LSP): none  38 Top of Head (LSP): none  39 Pelvis (MPII)* <- mid(23, 24)
        40 Thorax (MPII) <- mid(11, 12)  41 Spine (H36M): none  42 Jaw (H36M): none  43 Head (H36M): none

    BlazePose's unused landmarks: inner/outer eyes, mouth corners, and the hands' pinky, index, thumb.
    """
    kp = np.asarray(kp33, dtype=np.float32)
    single = kp.ndim == 2
    kp = kp[None] if single else kp
    if kp.ndim != 3 or kp.shape[1:] != (33, 3):
        raise ValueError(f"kp33 must be (N, 33, 3) or (33, 3) BlazePose landmarks (x, y, visibility); "
                         f"got {np.asarray(kp33).shape}.")
    out = np.zeros((kp.shape[0], NUM_HMR_JOINTS, 3), np.float32)
    for joint, source in HMR44_FROM_BLAZEPOSE.items():
        picked = kp[:, list(source)]  # (N, 1 or 2, 3)
        out[:, joint, :2] = picked[..., :2].mean(1)
        out[:, joint, 2] = picked[..., 2].min(1)
    out[:, list(HIP_JOINTS), 2] *= hip_confidence
    return out[0] if single else out


# ----------------------------------------------------------------------------- what gets labelled
PHOTOS: tuple[str, ...] = ("basketball1.png", "basketball2.png", "messi5.jpg")
# People that ``images/people_boxes.json`` does not box (it ships one box per photo for the demo);
# drawn for this asset, x1, y1, x2, y2 px. The man on the right is cut by the frame below the waist.
EXTRA_BOXES: dict[str, list[list[float]]] = {
    "basketball1.png": [[420, 15, 640, 480]],
    "basketball2.png": [[25, 75, 180, 480], [425, 15, 640, 480]],
}
VIDEO = "demo/vtest_excerpt.mp4"
VIDEO_FRAMES: tuple[int, ...] = (0, 30, 60, 90)


def _photo_boxes(name: str) -> list[tuple[list[float], str]]:
    from workbench.demo import shipped_boxes

    return ([(list(map(float, b[:4])), "images/people_boxes.json") for b in shipped_boxes(name)]
            + [(list(map(float, b)), "drawn for this asset (pseudo_labels.EXTRA_BOXES)")
               for b in EXTRA_BOXES.get(name, [])])


def _person_record(box, box_source: str, kp33: np.ndarray, score: float) -> dict:
    r = lambda a, d: np.round(np.asarray(a, np.float64), d).tolist()  # noqa: E731
    return {"box": r(box, 1), "box_source": box_source, "score": round(float(score), 4),
            "landmarks_33": [[round(x, 2), round(y, 2), round(v, 4)] for x, y, v in kp33.tolist()],
            "keypoints_44": [[round(x, 2), round(y, 2), round(c, 4)] for x, y, c in mediapipe_to_hmr44(kp33).tolist()]}


def generate_real_photo_labels(out_path: str | Path | None = None, overwrite: bool = False,
                               model_complexity: int = 1) -> Path:
    """Run BlazePose per person box on the shipped photos and demo frames; write the labels JSON.

    Boxes: ``images/people_boxes.json`` plus :data:`EXTRA_BOXES` for the photos, ``hog`` detections
    (``DetectConfig.hog()``) on frames :data:`VIDEO_FRAMES` of the demo clip. Every box is kept, even
    where BlazePose found nothing (score 0, all keypoints 0): filter downstream.

    Args:
        out_path: default ``assets/labels/real_photos_keypoints.json``.
        overwrite: replace an existing file. model_complexity: BlazePose 0 or 1 (2 downloads a model).

    Returns:
        the path written (atomically). Needs mediapipe: raises ImportError with the install command.
    """
    import mediapipe

    from workbench import assets
    from workbench.detect import DetectConfig, create_detector
    from workbench.io import atomic_write_json, check_writable_target, read_image, read_video

    out_path = check_writable_target(Path(out_path) if out_path else assets.ASSETS_DIR / LABELS_ASSET, overwrite)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pose = create_detector("mediapipe", model_complexity=model_complexity)
    items = []
    for name in PHOTOS:
        image = read_image(assets.asset_path(f"images/{name}"))
        boxes = _photo_boxes(name)
        dets = pose.keypoints_in_boxes(image, np.array([b for b, _ in boxes], np.float32))
        items.append({"source": f"images/{name}", "frame": None, "image_size": list(image.shape[:2]),
                      "people": [_person_record(b, s, k, c) for (b, s), k, c in zip(boxes, dets.keypoints, dets.scores)]})
    hog = create_detector("hog", config=DetectConfig.hog())
    for index, frame in read_video(assets.asset_path(VIDEO), stop=max(VIDEO_FRAMES) + 1):
        if index not in VIDEO_FRAMES:
            continue
        dets = pose.keypoints_in_boxes(frame, hog(frame, index).boxes)
        items.append({"source": VIDEO, "frame": index, "image_size": list(frame.shape[:2]),
                      "people": [_person_record(b, "hog, DetectConfig.hog()", k, c)
                                 for b, k, c in zip(dets.boxes, dets.keypoints, dets.scores)]})
    provenance = {
        "generator": "workbench.evaluate.pseudo_labels.generate_real_photo_labels",
        "command": "python -m workbench.evaluate.pseudo_labels --overwrite",
        "mediapipe_version": mediapipe.__version__, "model": "mediapipe.solutions.pose (BlazePose GHUM 3D)",
        "model_complexity": model_complexity, "static_image_mode": True, "min_detection_confidence": 0.5,
        "run_per_box": True, "hip_confidence": HIP_CONFIDENCE,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(out_path, {
        "description": "Pseudo 2D labels (BlazePose landmarks, px) of the shipped real photos and demo frames; "
                       "keypoints_44 = mediapipe_to_hmr44(landmarks_33).",
        "provenance": provenance, "landmark_names": list(BLAZEPOSE_NAMES), "joint_names": list(HMR_JOINT_NAMES),
        "items": items,
    })
    return out_path


# ----------------------------------------------------------------------------- loading (JSON only)
def _read_labels(path: str | Path | None) -> dict:
    from workbench import assets

    path = Path(path) if path else assets.asset_path(LABELS_ASSET)
    data = json.loads(Path(path).read_text())
    if "items" not in data:
        raise ValueError(f"{path} is not a real-photo labels file (no 'items'); regenerate it with "
                         "`python -m workbench.evaluate.pseudo_labels --overwrite`.")
    return data


def load_real_photo_labels(path: str | Path | None = None, min_score: float = 0.0):
    """The labels as a pandas DataFrame, one row per person box.

    Columns: source (asset path), frame (video frame or -1), person (index in its image), image_size
    (H, W), box (4,) px, box_source, score (mean BlazePose visibility; 0 = nothing found),
    landmarks_33 (33, 3) and keypoints_44 (44, 3) float32 arrays. Rows with ``score <= min_score``
    are dropped (``min_score=0`` drops only boxes where BlazePose found no one).
    """
    import pandas as pd

    rows = []
    for item in _read_labels(path)["items"]:
        for i, p in enumerate(item["people"]):
            rows.append({"source": item["source"], "frame": -1 if item["frame"] is None else int(item["frame"]),
                         "person": i, "image_size": tuple(item["image_size"]),
                         "box": np.asarray(p["box"], np.float32), "box_source": p["box_source"],
                         "score": float(p["score"]),
                         "landmarks_33": np.asarray(p["landmarks_33"], np.float32).reshape(33, 3),
                         "keypoints_44": np.asarray(p["keypoints_44"], np.float32).reshape(NUM_HMR_JOINTS, 3)})
    table = pd.DataFrame(rows)
    return table[table["score"] > min_score].reset_index(drop=True)


@dataclass
class RealPhotoPerson:
    """One labelled person: image (H, W, 3) uint8 RGB (shared by the people of one picture), box (4,)
    px, keypoints (44, 3) ``(u px, v px, confidence)`` in the HMR order, name ``source[#frame]/person``."""

    name: str
    image: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray


def real_photo_items(path: str | Path | None = None, min_score: float = 0.0,
                     min_keypoints: int = 2, min_confidence: float = 0.3) -> list[RealPhotoPerson]:
    """People of the labels file with their pictures, ready for ``fit_keypoints`` and PCK.

    Keeps people with ``score > min_score`` and at least ``min_keypoints`` keypoints of confidence
    ``>= min_confidence`` (``fit_keypoints`` refuses fewer than 2 above ``FitConfig.min_confidence``).
    """
    from workbench import assets
    from workbench.io import read_image, read_video

    table = load_real_photo_labels(path, min_score)
    keep = table["keypoints_44"].map(lambda k: int((k[:, 2] >= min_confidence).sum()) >= min_keypoints)
    table = table[keep]
    images: dict[tuple[str, int], np.ndarray] = {}
    for source, frame in sorted(set(zip(table["source"], table["frame"]))):
        file = assets.asset_path(source)
        images[source, frame] = (read_image(file) if frame < 0
                                 else next(f for i, f in read_video(file, start=frame, stop=frame + 1)))
    return [RealPhotoPerson(f"{r.source}{'' if r.frame < 0 else f'#{r.frame}'}/{r.person}", images[r.source, r.frame],
                            r.box, r.keypoints_44) for r in table.itertuples()]


if __name__ == "__main__":
    path = generate_real_photo_labels(overwrite="--overwrite" in sys.argv[1:])
    print(f"wrote {path}")
