"""Per-detection records for the tracker: HMR 2.0 outputs -> PHALP's pose / location vectors.

PHALP (and 4DHumans' ``track.py``) does its 3D geometry on a *canvas*: the frame zero-padded to a
square of side ``S = max(H, W)`` (the image centred, offsets ``left = (S - W) // 2``,
``top = (S - H) // 2``) and treated at ``res = 256`` pixels, seen by a pinhole camera of focal
``F = 5000`` with principal point ``(res/2, res/2)`` (``HMAR.get_3d_parameters``):

    box_pad = the box grown to aspect (192, 256) (:func:`workbench.geometry.expand_to_aspect_ratio`)
    scale   = max(box_pad) * res / S                         (square side on the canvas)
    t       = (tx, ty, 2 F / (s * scale + 1e-9))             (s, tx, ty) = HMR 2.0 ``pred_cam``
    t_xy   += (c * res / S - res / 2) * t_z / F              c = box centre + (left, top), padded-image px

This is exactly :func:`workbench.geometry.cam_crop_to_full` on the padded square image (focal
``5000 * S / 256`` px, principal point ``S / 2``): the translations are identical in metres; only the
pixel unit differs (canvas px = padded-image px * 256 / S), so canvas projections / 256 equal
padded-image projections / S.

Vectors (one row per detection, batched over B):

* ``pose`` (229): global_orient rotmat (9) + body_pose rotmats (207) + betas (10) + (tx, ty, tz / 200)
  (PHALP ``smpl_to_pose_camera_vector``);
* ``loca`` (99): 45 joints projected on the canvas / res (90, joint 44 = SMPL origin) + camera x 3 (9).

All functions take numpy arrays or torch tensors and return float64 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.arrays import to_numpy
from workbench.geometry.crop import BBOX_SHAPE, box_to_center_scale, expand_to_aspect_ratio

__all__ = [
    "CANVAS_RES",
    "DEPTH_SCALE",
    "FOCAL",
    "DetectionRecord",
    "camera_on_canvas",
    "joints_2d_on_canvas",
    "location_vector",
    "padded_canvas",
    "pose_vector",
    "record_to_phalp_dict",
    "crop_camera_from_canvas",
    "records_from_hmr2",
    "records_from_smpl",
]

FOCAL = 5000.0  # PHALP EXTRA.FOCAL_LENGTH, pixels on the canvas of side CANVAS_RES
CANVAS_RES = 256  # PHALP render.res
DEPTH_SCALE = 200.0  # the pose vector stores tz / 200
_EPS = 1e-9  # as get_3d_parameters' depth denominator


def _np(x) -> np.ndarray:
    """torch tensor / array-like -> float64 numpy (detached, on CPU)."""
    return to_numpy(x, np.float64)


def pose_vector(global_orient, body_pose, betas, camera) -> np.ndarray:
    """PHALP's 229-d pose vector (``smpl_to_pose_camera_vector``).

    Args:
        global_orient: (B, 1, 3, 3) rotation matrix; body_pose: (B, 23, 3, 3) rotation matrices;
        betas: (B, 10) shape coefficients; camera: (B, 3) canvas translation (tx, ty, tz), metres.

    Returns:
        (B, 229): [global_orient (9, row-major), body_pose (207), betas (10), tx, ty, tz / 200].
    """
    go, bp, be, cam = _np(global_orient), _np(body_pose), _np(betas), _np(camera)
    B = go.shape[0]
    if go.shape != (B, 1, 3, 3) or bp.shape != (B, 23, 3, 3) or be.shape != (B, 10) or cam.shape != (B, 3):
        raise ValueError(
            f"expected global_orient (B,1,3,3), body_pose (B,23,3,3), betas (B,10), camera (B,3); got "
            f"{go.shape}, {bp.shape}, {be.shape}, {cam.shape}"
        )
    cam = cam.copy()
    cam[:, 2] /= DEPTH_SCALE
    return np.concatenate([go.reshape(B, 9), bp.reshape(B, 207), be, cam], axis=1)


def padded_canvas(image_hw) -> tuple[int, np.ndarray]:
    """The zero-padded square the tracker works on.

    Args:
        image_hw: (H, W) frame size in pixels.

    Returns:
        side ``S = max(H, W)`` (pixels) and offset_xy (2,) = ``((S - W) // 2, (S - H) // 2)``: where the
        frame's pixel (0, 0) lands in the padded square (PHALP's ``left, top``; image centred).
    """
    H, W = int(image_hw[0]), int(image_hw[1])
    S = max(H, W)
    return S, np.array([(S - W) // 2, (S - H) // 2], dtype=np.float64)


def padded_box(boxes_xyxy, aspect=BBOX_SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """(B, 4) boxes (x1, y1, x2, y2) -> centre (B, 2) and aspect-padded size (B, 2) = (w, h), frame pixels."""
    center, size = box_to_center_scale(_np(boxes_xyxy).reshape(-1, 4))  # also rejects zero-size boxes
    return center, expand_to_aspect_ratio(size, aspect)


def camera_on_canvas(pred_cam, boxes_xyxy, image_hw, focal: float = FOCAL, res: int = CANVAS_RES) -> np.ndarray:
    """The tracker's camera translation (PHALP ``get_3d_parameters``) on the padded 256 canvas.

    Args:
        pred_cam: (B, 3) HMR 2.0 crop camera (s, tx, ty).
        boxes_xyxy: (B, 4) detector boxes in frame pixels (the crops HMR 2.0 saw: aspect 3:4, then square).
        image_hw: (H, W) frame size.
        focal: canvas focal length (pixels at ``res``); res: canvas side in pixels.

    Returns:
        (B, 3) translation (tx, ty, tz) in metres, camera at the origin, x right / y down / z forward.
        Equals ``cam_crop_to_full`` on the padded square image with focal ``focal * S / res``.
    """
    cam = _np(pred_cam).reshape(-1, 3)
    S, offset = padded_canvas(image_hw)
    center, size = padded_box(boxes_xyxy)
    ratio = res / S
    scale = size.max(axis=1) * ratio  # square side on the canvas, pixels
    center_c = (center + offset) * ratio  # box centre on the canvas, pixels
    s, tx, ty = cam[:, 0], cam[:, 1], cam[:, 2]
    tz = 2.0 * focal / (s * scale + _EPS)
    t = np.stack([tx, ty, tz], axis=1)
    t[:, :2] += (center_c - res / 2.0) * tz[:, None] / focal
    return t


def joints_2d_on_canvas(keypoints_3d, camera, focal: float = FOCAL, res: int = CANVAS_RES) -> np.ndarray:
    """Project the 44 keypoints plus the SMPL origin (joint 44) onto the canvas, in units of res.

    Args:
        keypoints_3d: (B, 44, 3) body-frame keypoints, metres (HMR 2.0 ``pred_keypoints_3d``).
        camera: (B, 3) canvas translation from :func:`camera_on_canvas`.

    Returns:
        (B, 45, 2) ``(f (X + t) / (Z + t_z) + res / 2) / res``: in [0, 1] inside the padded canvas.
    """
    kp, cam = _np(keypoints_3d), _np(camera)
    B = kp.shape[0]
    pts = np.concatenate([kp, np.zeros((B, 1, 3))], axis=1) + cam[:, None, :]
    return (focal * pts[..., :2] / pts[..., 2:3] + res / 2.0) / res


def location_vector(joints_2d, camera) -> np.ndarray:
    """PHALP's 99-d ``loca``: (B, 45, 2) canvas joints /res and (B, 3) camera -> (B, 99).

    Layout: [x0, y0, x1, y1, ..., x44, y44] (90), then (tx, ty, tz) three times (9).
    """
    j, cam = _np(joints_2d), _np(camera)
    B = j.shape[0]
    return np.concatenate([j.reshape(B, 90), cam, cam, cam], axis=1)


@dataclass
class DetectionRecord:
    """One person in one frame, as the tracker sees it. Frame pixels unless said otherwise.

    Attributes:
        frame: frame index. bbox: (4,) detector box (x1, y1, x2, y2). score: detector confidence.
        pose: (229,) :func:`pose_vector`. loca: (99,) :func:`location_vector`.
        joints_3d: (45, 3) body-frame keypoints + origin, metres. joints_2d: (90,) canvas joints / 256.
        smpl: {global_orient (1,3,3), body_pose (23,3,3), betas (10,)}.
        camera: (3,) canvas translation (metres). camera_bbox: (3,) HMR 2.0 ``pred_cam`` (s, tx, ty).
        center: (2,) box centre; scale: (2,) aspect-padded box (w, h) (its square side is ``max``).
        size: (H, W) of the frame. appearance: optional embedding / texel map (any shape).
    """

    frame: int
    bbox: np.ndarray
    score: float
    pose: np.ndarray
    loca: np.ndarray
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    smpl: dict
    camera: np.ndarray
    camera_bbox: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    size: tuple[int, int]
    appearance: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def xy(self) -> np.ndarray:
        """(2,) joint 44 (projected SMPL origin) on the canvas / 256: what the location cost compares."""
        return self.joints_2d[88:90]

    @property
    def depth(self) -> float:
        """Canvas camera depth t_z, metres."""
        return float(self.camera[2])


def records_from_hmr2(output: dict, boxes, scores, image_hw, frame: int, appearance=None) -> list[DetectionRecord]:
    """Turn one frame's HMR 2.0 outputs into tracker records (one per box, same order).

    Args:
        output: the model's dict (``pred_smpl_params``, ``pred_cam`` (B, 3), ``pred_keypoints_3d`` (B, 44, 3)).
        boxes: (B, 4) the boxes (x1, y1, x2, y2) the crops were made from, frame pixels.
        scores: (B,) detector confidences.
        image_hw: (H, W) frame size.
        frame: frame index.
        appearance: optional sequence of B per-detection appearance items.
    """
    pred_cam = _np(output["pred_cam"]).reshape(-1, 3)
    camera = camera_on_canvas(pred_cam, _np(boxes).reshape(-1, 4), image_hw)
    return records_from_smpl(output["pred_smpl_params"], camera, output["pred_keypoints_3d"], boxes, scores,
                             image_hw, frame, camera_bbox=pred_cam, appearance=appearance)


def crop_camera_from_canvas(camera, boxes_xyxy, image_hw, focal: float = FOCAL, res: int = CANVAS_RES) -> np.ndarray:
    """Inverse of :func:`camera_on_canvas`: the crop camera (s, tx, ty) that puts a body at ``camera``.

    camera: (B, 3) canvas translation, metres; boxes_xyxy: (B, 4) frame pixels -> (B, 3).
    """
    cam = _np(camera).reshape(-1, 3)
    S, offset = padded_canvas(image_hw)
    center, size = padded_box(boxes_xyxy)
    ratio = res / S
    scale = size.max(axis=1) * ratio
    center_c = (center + offset) * ratio
    tz = cam[:, 2]
    s = 2.0 * focal / (tz * scale)
    txy = cam[:, :2] - (center_c - res / 2.0) * tz[:, None] / focal
    return np.concatenate([s[:, None], txy], axis=1)


def records_from_smpl(smpl: dict, camera, keypoints_3d, boxes, scores, image_hw, frame: int, camera_bbox=None,
                      appearance=None) -> list[DetectionRecord]:
    """Tracker records from SMPL parameters already placed in the canvas camera (any pose engine).

    Args:
        smpl: {global_orient (B, 1, 3, 3), body_pose (B, 23, 3, 3), betas (B, 10)} rotation matrices.
        camera: (B, 3) canvas translation (metres), as :func:`camera_on_canvas` returns.
        keypoints_3d: (B, 44, 3) body-frame keypoints, metres.
        boxes: (B, 4) detector boxes (x1, y1, x2, y2), frame pixels. scores: (B,) confidences.
        image_hw: (H, W) frame size. frame: frame index.
        camera_bbox: (B, 3) crop camera (s, tx, ty); None: derived with :func:`crop_camera_from_canvas`.
        appearance: optional sequence of B per-detection appearance items.
    """
    go, bp, be = _np(smpl["global_orient"]), _np(smpl["body_pose"]), _np(smpl["betas"])
    camera, kp3d = _np(camera).reshape(-1, 3), _np(keypoints_3d)
    boxes = _np(boxes).reshape(-1, 4)
    scores = _np(scores).reshape(-1)
    B = len(boxes)
    if not (camera.shape[0] == kp3d.shape[0] == len(scores) == B):
        raise ValueError(f"outputs for {camera.shape[0]} people, {B} boxes and {len(scores)} scores: must match")
    if appearance is not None and len(appearance) != B:
        raise ValueError(f"{len(appearance)} appearance items for {B} boxes: must match")
    if camera_bbox is None:
        camera_bbox = crop_camera_from_canvas(camera, boxes, image_hw) if B else np.zeros((0, 3))
    camera_bbox = _np(camera_bbox).reshape(-1, 3)
    j2d = joints_2d_on_canvas(kp3d, camera)
    pose = pose_vector(go.reshape(B, 1, 3, 3), bp.reshape(B, 23, 3, 3), be.reshape(B, -1), camera)
    loca = location_vector(j2d, camera)
    j3d = np.concatenate([kp3d, np.zeros((B, 1, 3))], axis=1)
    center, scale = padded_box(boxes) if B else (np.zeros((0, 2)), np.zeros((0, 2)))
    size = (int(image_hw[0]), int(image_hw[1]))
    return [
        DetectionRecord(
            frame=int(frame), bbox=boxes[i].copy(), score=float(scores[i]), pose=pose[i], loca=loca[i],
            joints_3d=j3d[i], joints_2d=j2d[i].reshape(90),
            smpl={"global_orient": go[i].reshape(1, 3, 3), "body_pose": bp[i].reshape(23, 3, 3), "betas": be[i]},
            camera=camera[i], camera_bbox=camera_bbox[i], center=center[i], scale=scale[i], size=size,
            appearance=None if appearance is None else appearance[i],
        )
        for i in range(B)
    ]


def record_to_phalp_dict(record: DetectionRecord, tid: int | None = None, time: int | None = None, shot: int = 0,
                         img_path: str = "", img_name: str = "", mask=None, annotations=None,
                         extra_data=None) -> dict:
    """The published per-detection pkl entry (PHALP / 4DHumans ``demo_<video>.pkl``) for one record.

    Keys: time, shot, tid, bbox (x, y, w, h), appe, loca (99), pose (229), center, scale, size ([H, W]),
    img_path, img_name, class_name (0 = person), conf, annotations, smpl {global_orient 1x3x3,
    body_pose 23x3x3, betas 10}, camera (tx, ty, tz canvas), camera_bbox (s, tx, ty), 3d_joints (45x3),
    2d_joints (90), mask, extra_data. float32 arrays as the published pkl (torch outputs are float32).
    ``appe`` is ``record.appearance`` (None when there is none; the published value is HMAR's 4096-d code).
    """
    x1, y1, x2, y2 = record.bbox
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return {
        "time": record.frame if time is None else time,
        "shot": shot,
        "tid": tid,
        "bbox": f32([x1, y1, x2 - x1, y2 - y1]),
        "appe": record.appearance,
        "loca": f32(record.loca),
        "pose": f32(record.pose),
        "center": f32(record.center),
        "scale": f32(record.scale),
        "size": [int(record.size[0]), int(record.size[1])],
        "img_path": img_path,
        "img_name": img_name,
        "class_name": 0,
        "conf": float(record.score),
        "annotations": annotations,
        "smpl": {k: f32(v) for k, v in record.smpl.items()},
        "camera": f32(record.camera),
        "camera_bbox": f32(record.camera_bbox),
        "3d_joints": f32(record.joints_3d),
        "2d_joints": f32(record.joints_2d),
        "mask": mask,
        "extra_data": extra_data,
    }
