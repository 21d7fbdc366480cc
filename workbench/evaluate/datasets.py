"""The published evaluation sets (HMR 2.0's ``.npz`` layout) and COCO keypoint files, as crops.

HMR 2.0 evaluates on five ``.npz`` files (``hmr2_evaluation_data.tar.gz``) that point into the
original datasets' images, which the user downloads under their own licences:

=================  ============================  ==========================================
name               file                          metrics (``eval.py``)
=================  ============================  ==========================================
``3dpw-test``      ``3dpw_test.npz``             MPJPE, PA-MPJPE (mm)
``h36m-val-p2``    ``h36m_val_p2.npz``           MPJPE, PA-MPJPE (mm)
``lsp-extended``   ``hr-lspet_train.npz``        PCK@0.05, PCK@0.1
``coco-val``       ``coco_val.npz``              PCK@0.05, PCK@0.1
``posetrack-val``  ``posetrack_2018_val.npz``    PCK@0.05, PCK@0.1
=================  ============================  ==========================================

Layout (``hmr2/datasets/image_dataset.py``): ``imgname`` (N,) paths relative to the image folder;
``center`` (N, 2) box centre in pixels; ``scale`` (N,) or (N, 2) box size **in pixels** (the
loader divides by 200 and multiplies back, so the file holds pixels; pass ``scale_units="hmr"``
for SPIN-style files that store size / 200); optional ``body_keypoints_2d`` (N, 25, 3),
``extra_keypoints_2d`` (N, 19, 3), ``body_keypoints_3d`` (N, 25, 4), ``extra_keypoints_3d``
(N, 19, 4), ``body_pose`` (N, 72) with ``has_body_pose`` (N,), ``betas`` (N, 10) with
``has_betas`` (N,). Missing keypoint blocks are zeros (confidence 0), as in HMR 2.0.

The crop is HMR 2.0's evaluation crop: the box grown to 3:4 (``BBOX_SHAPE``, injected by
``load_hmr2``), its longer side as a square, warped to 256 without antialiasing (``get_example``'s
default). ``box_scale = box_size / max(scale)`` rescales crop-unit distances so that PCK is
normalised by the original box's longest side, as ``eval.py`` does.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from workbench.geometry.crop import BBOX_SHAPE, crop_image, expand_to_aspect_ratio, normalize_image

__all__ = ["COCO_TO_HMR44", "EVAL_SETS", "EvalNpzDataset", "coco_keypoint_arrays", "coco_keypoint_dataset",
           "published_eval_set"]

# name -> (file in hmr2_evaluation_data/, metrics HMR 2.0 reports for it)
EVAL_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "3dpw-test": ("3dpw_test.npz", ("mpjpe", "pa_mpjpe")),
    "h36m-val-p2": ("h36m_val_p2.npz", ("mpjpe", "pa_mpjpe")),
    "lsp-extended": ("hr-lspet_train.npz", ("pck@0.05", "pck@0.1")),
    "coco-val": ("coco_val.npz", ("pck@0.05", "pck@0.1")),
    "posetrack-val": ("posetrack_2018_val.npz", ("pck@0.05", "pck@0.1")),
}

# COCO's 17 keypoints (nose, l/r eye, l/r ear, l/r shoulder, l/r elbow, l/r wrist, l/r hip,
# l/r knee, l/r ankle) -> their OpenPose BODY_25 slots in the 44-joint set (SPIN's mapping):
# Nose 0, LEye 16, REye 15, LEar 18, REar 17, LShoulder 5, RShoulder 2, LElbow 6, RElbow 3,
# LWrist 7, RWrist 4, LHip 12, RHip 9, LKnee 13, RKnee 10, LAnkle 14, RAnkle 11.
COCO_TO_HMR44: tuple[int, ...] = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)

# key -> trailing shape; the leading axis is N for all.
_SHAPES = {
    "center": (2,), "body_keypoints_2d": (25, 3), "extra_keypoints_2d": (19, 3),
    "body_keypoints_3d": (25, 4), "extra_keypoints_3d": (19, 4), "body_pose": (72,), "has_body_pose": (),
    "betas": (10,), "has_betas": (),
}
_REQUIRED = ("imgname", "center", "scale")
_PAIRS = (("body_pose", "has_body_pose"), ("betas", "has_betas"))
_KEYPOINTS = ("body_keypoints_2d", "extra_keypoints_2d", "body_keypoints_3d", "extra_keypoints_3d")
_VISIBLE = 0.5  # HMR 2.0's PCK visibility threshold on the GT confidence


def _validate(data: dict, source: str) -> int:
    """Check keys, lengths and shapes of an evaluation layout; returns N. Raises ValueError listing every problem."""
    problems = [f"missing required key {k!r}" for k in _REQUIRED if k not in data]
    problems += [f"{x!r} given without {y!r}" for a, b in _PAIRS for x, y in ((a, b), (b, a))
                 if x in data and y not in data]
    if not any(k in data for k in _KEYPOINTS):
        problems.append(f"no keypoints at all (expected some of {list(_KEYPOINTS)})")
    lengths = {k: len(np.asarray(data[k]).reshape(-1) if k == "imgname" else np.asarray(data[k]))
               for k in (*_REQUIRED, *_SHAPES) if k in data}
    if lengths and len(set(lengths.values())) > 1:
        problems.append("mismatched lengths " + ", ".join(f"{k}={n}" for k, n in lengths.items()))
    for key, shape in _SHAPES.items():
        if key in data and np.asarray(data[key]).shape[1:] != shape:
            expected = "(N" + "".join(f", {d}" for d in shape) + ")"
            problems.append(f"{key!r} has shape {np.asarray(data[key]).shape}, expected {expected}")
    if "scale" in data and np.asarray(data["scale"]).reshape(lengths.get("scale", 0), -1).shape[1] not in (1, 2):
        problems.append(f"'scale' has shape {np.asarray(data['scale']).shape}, expected (N,) or (N, 2)")
    if problems:
        raise ValueError(f"{source} is not in HMR 2.0's evaluation layout: " + "; ".join(problems) + ".")
    return lengths["imgname"]


def _load_npz(path, allow_pickle: bool) -> dict:
    """The file's arrays; pickled (object) arrays only with ``allow_pickle``, else skipped unless needed."""
    data, pickled = {}, []
    with np.load(path, allow_pickle=allow_pickle) as npz:
        for key in npz.files:
            try:
                data[key] = npz[key]
            except ValueError:  # an object array and allow_pickle=False
                pickled.append(key)
    needed = sorted(set(pickled) & {*_REQUIRED, *_SHAPES, *_KEYPOINTS})
    if needed:
        raise ValueError(f"{path} stores {needed} as pickled object arrays; loading them runs code from the file. "
                         "Pass allow_pickle=True if you trust the file.")
    return data


class EvalNpzDataset(torch.utils.data.Dataset):
    """One published evaluation set (or any file in its layout) as HMR 2.0 evaluation crops.

    Args:
        npz_path: the ``.npz`` (see the module docstring), or a dict of arrays in the same layout.
        image_root: folder the ``imgname`` paths are relative to.
        name: the set's name (a key of :data:`EVAL_SETS` or anything); default the file's stem.
        skip_missing: drop samples whose image file does not exist (reported in ``self.dropped``
            and a warning) instead of raising ``FileNotFoundError``.
        scale_units: ``"pixels"`` (HMR 2.0's files) or ``"hmr"`` (size / 200, SPIN-style files).
        bbox_shape: (w, h) aspect the box is grown to before squaring; None: plain square of the
            longest side (HMR 2.0's training crops).
        out_size: crop side.
        allow_pickle: also read object (pickled) arrays of the file -- only for files you trust;
            without it, pickled keys we do not need (``extra_info``) are skipped.

    Items (same keys as :class:`~workbench.data.synth.SynthHumans` items where they apply):
    ``img`` (3, 256, 256) float32 ImageNet-normalised; ``keypoints_2d`` (44, 3) crop units
    (body 25 + extra 19) with confidence; ``keypoints_3d`` (44, 4) metres (OpenPose joints 1-14
    get confidence 0, as in HMR 2.0); ``smpl_params`` / ``has_smpl_params`` /
    ``smpl_params_is_axis_angle``; ``box_center`` (2,), ``box_size`` (), ``img_size`` (2,) = (W, H);
    ``box_scale`` () = box_size / longest side of the annotated box (PCK normaliser);
    ``has_keypoints_3d`` (); ``imgname`` (str), ``index`` (int, row in the file); and ``meta``
    {index, dataset, imgname, has_keypoints_3d, num_visible_2d} for per-sample tables.
    Samples without a visible 2D keypoint are kept (``num_visible_2d == 0``); their PCK is
    undefined and they add nothing to the per-keypoint PCK means.
    """

    def __init__(self, npz_path, image_root, name: str | None = None, skip_missing: bool = False,
                 scale_units: str = "pixels", bbox_shape=BBOX_SHAPE, out_size: int = 256,
                 allow_pickle: bool = False) -> None:
        if isinstance(npz_path, dict):
            data, source = dict(npz_path), "the given arrays"
        else:
            source = str(npz_path)
            data = _load_npz(npz_path, allow_pickle)
        if scale_units not in ("pixels", "hmr"):
            raise ValueError(f"scale_units must be 'pixels' or 'hmr', got {scale_units!r}.")
        n = _validate(data, source)
        self.name = name or (Path(source).stem if not isinstance(npz_path, dict) else "eval")
        self.image_root = Path(image_root)
        self.bbox_shape, self.out_size = bbox_shape, out_size
        self.body_spec = None  # ground truth is keypoints, not a body model's mesh: any body with the 44-joint set
        names = np.asarray(data["imgname"]).reshape(-1)
        self.imgname = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in names])
        self.center = np.asarray(data["center"], np.float64)
        scale = np.asarray(data["scale"], np.float64).reshape(n, -1) * (200.0 if scale_units == "hmr" else 1.0)
        self.box_wh = np.tile(scale, (1, 2)) if scale.shape[1] == 1 else scale  # (N, 2) pixels
        zeros = {k: np.zeros((n, *(_SHAPES[k][:-1]), _SHAPES[k][-1]), np.float32) for k in _KEYPOINTS}
        kp = {k: np.asarray(data.get(k, zeros[k]), np.float32) for k in _KEYPOINTS}
        self.keypoints_2d = np.concatenate([kp["body_keypoints_2d"], kp["extra_keypoints_2d"]], 1)
        body_3d = kp["body_keypoints_3d"].copy()
        body_3d[:, 1:15, 3] = 0.0  # HMR 2.0 drops the OpenPose body joints' 3D (ImageDataset)
        self.keypoints_3d = np.concatenate([body_3d, kp["extra_keypoints_3d"]], 1)
        self.has_keypoints_3d = (self.keypoints_3d[:, 25:, 3] > 0).any(1)
        self.body_pose = np.asarray(data.get("body_pose", np.zeros((n, 72))), np.float32)
        self.has_body_pose = np.asarray(data.get("has_body_pose", np.zeros(n)), np.float32)
        self.betas = np.asarray(data.get("betas", np.zeros((n, 10))), np.float32)
        self.has_betas = np.asarray(data.get("has_betas", np.zeros(n)), np.float32)
        self.num_visible_2d = (self.keypoints_2d[:, :, 2] > _VISIBLE).sum(1)
        self.rows = np.arange(n)
        self.dropped: list[str] = []
        self._check_images(skip_missing)
        if (self.num_visible_2d[self.rows] == 0).any():
            blind = int((self.num_visible_2d[self.rows] == 0).sum())
            warnings.warn(f"{self.name}: {blind} of {len(self)} samples have no visible 2D keypoint "
                          f"(confidence > {_VISIBLE}); they are kept but have no PCK.")

    def _check_images(self, skip_missing: bool) -> None:
        exists = {p: (self.image_root / p).is_file() for p in np.unique(self.imgname)}
        missing = sorted(p for p, ok in exists.items() if not ok)
        if not missing:
            return
        bad = np.array([not exists[p] for p in self.imgname])
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        msg = (f"{self.name}: {len(missing)} image file(s) used by {int(bad.sum())} of {len(bad)} samples do not exist "
               f"under {self.image_root}: {shown}")
        if not skip_missing:
            raise FileNotFoundError(msg + ". Check image_root (the folder the npz's imgname paths are relative to), "
                                          "or pass skip_missing=True to evaluate on the rest.")
        self.rows = np.flatnonzero(~bad)
        self.dropped = missing
        warnings.warn(msg + f"; skipped, {len(self.rows)} samples left.")

    def __len__(self) -> int:
        return len(self.rows)

    def box_size(self, i: int) -> float:
        """Square crop side in pixels of row ``i`` (3:4 expansion, then the longer side)."""
        return float(expand_to_aspect_ratio(self.box_wh[i], self.bbox_shape).max())

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples.")
        i = int(self.rows[index])
        path = self.image_root / self.imgname[i]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if bgr is None:
            raise OSError(f"cannot read image {path} (row {i} of {self.name}); the file exists but is not an image.")
        image = np.ascontiguousarray(bgr[..., ::-1])
        box = self.box_size(i)
        crop, _ = crop_image(image, self.center[i], box, self.out_size, antialias=False)
        kp2d = self.keypoints_2d[i].copy()
        kp2d[:, :2] = (kp2d[:, :2] - self.center[i]) / box  # image pixels -> crop units
        has_pose, has_betas = self.has_body_pose[i], self.has_betas[i]
        return {
            "img": normalize_image(crop).numpy(),
            "keypoints_2d": kp2d.astype(np.float32),
            "keypoints_3d": self.keypoints_3d[i].copy(),
            "smpl_params": {"global_orient": self.body_pose[i, :3].copy(), "body_pose": self.body_pose[i, 3:].copy(),
                            "betas": self.betas[i].copy()},
            "has_smpl_params": {"global_orient": has_pose, "body_pose": has_pose, "betas": has_betas},
            "smpl_params_is_axis_angle": {"global_orient": True, "body_pose": True, "betas": False},
            "box_center": self.center[i].astype(np.float32), "box_size": np.float32(box),
            "img_size": np.array([image.shape[1], image.shape[0]], np.float32),
            "box_scale": np.float32(box / self.box_wh[i].max()),
            "has_keypoints_3d": np.float32(self.has_keypoints_3d[i]),
            "imgname": str(self.imgname[i]), "index": i,
            "meta": {"index": i, "dataset": self.name, "imgname": str(self.imgname[i]),
                     "has_keypoints_3d": bool(self.has_keypoints_3d[i]), "num_visible_2d": int(self.num_visible_2d[i])},
        }


def coco_keypoint_arrays(annotation_json, min_keypoints: int = 1, rescale: float = 1.2,
                         include_crowd: bool = False) -> dict[str, np.ndarray]:
    """A COCO person-keypoints json as arrays in HMR 2.0's evaluation layout.

    Each person annotation becomes one row: its 17 keypoints go to the OpenPose slots of the
    44-joint set (:data:`COCO_TO_HMR44`; the other 27 slots have confidence 0); COCO's
    visibility ``v`` gives confidence 1 where ``v > 0`` (labelled, visible or not), as SPIN does;
    the box is the annotation's ``bbox`` times ``rescale`` (1.2, like HMR 2.0's LSPET/PoseTrack
    boxes; ours for COCO), so ``scale`` is in pixels.

    Args:
        annotation_json: path to ``person_keypoints_*.json`` or the loaded dict.
        min_keypoints: keep annotations with at least this many labelled keypoints.
        rescale: box enlargement.
        include_crowd: keep ``iscrowd`` annotations.

    Returns:
        dict with imgname, center, scale, body_keypoints_2d, extra_keypoints_2d (zeros), and
        ``annotation_id`` (N,) -- pass it to :class:`EvalNpzDataset` or ``np.savez`` it.
    """
    coco = annotation_json if isinstance(annotation_json, dict) else json.loads(Path(annotation_json).read_text())
    missing = [k for k in ("images", "annotations") if k not in coco]
    if missing:
        raise ValueError(f"not a COCO annotation file: missing {missing}.")
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    person = {c["id"] for c in coco.get("categories", []) if c.get("name") == "person"} or None
    rows = []
    for ann in coco["annotations"]:
        if "keypoints" not in ann or (person is not None and ann.get("category_id") not in person):
            continue
        if ann.get("iscrowd", 0) and not include_crowd:
            continue
        kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        x, y, w, h = (float(v) for v in ann["bbox"])
        if (kp[:, 2] > 0).sum() < min_keypoints or w <= 0 or h <= 0:
            continue
        if ann["image_id"] not in files:
            raise ValueError(f"annotation {ann.get('id')} refers to image_id {ann['image_id']}, "
                             "which is not in 'images'.")
        rows.append((files[ann["image_id"]], (x + w / 2, y + h / 2), (w * rescale, h * rescale), kp, ann.get("id", -1)))
    n = len(rows)
    body = np.zeros((n, 25, 3), np.float32)
    for r, (_, _, _, kp, _) in enumerate(rows):
        body[r, list(COCO_TO_HMR44), :2] = kp[:, :2]
        body[r, list(COCO_TO_HMR44), 2] = kp[:, 2] > 0
    return {"imgname": np.array([r[0] for r in rows], dtype=str),
            "center": np.array([r[1] for r in rows]).reshape(n, 2),
            "scale": np.array([r[2] for r in rows]).reshape(n, 2), "body_keypoints_2d": body,
            "extra_keypoints_2d": np.zeros((n, 19, 3), np.float32),
            "annotation_id": np.array([r[4] for r in rows], np.int64)}


def coco_keypoint_dataset(annotation_json, image_root, name: str = "coco", skip_missing: bool = False,
                          **kwargs) -> EvalNpzDataset:
    """An :class:`EvalNpzDataset` from a COCO keypoint json (see :func:`coco_keypoint_arrays` for
    the mapping and ``kwargs``)."""
    arrays = coco_keypoint_arrays(annotation_json, **kwargs)
    if len(arrays["imgname"]) == 0:
        source = "the COCO dict" if isinstance(annotation_json, dict) else annotation_json
        raise ValueError(f"{source} has no person "
                         "annotation with keypoints to evaluate (check min_keypoints / include_crowd).")
    return EvalNpzDataset(arrays, image_root, name=name, skip_missing=skip_missing)


def published_eval_set(name: str, data_dir: str | os.PathLike, image_root, **kwargs) -> EvalNpzDataset:
    """One of :data:`EVAL_SETS` from ``hmr2_evaluation_data/`` (``data_dir``) and its image folder."""
    if name not in EVAL_SETS:
        raise KeyError(f"unknown evaluation set {name!r}; known: {sorted(EVAL_SETS)}.")
    path = Path(data_dir) / EVAL_SETS[name][0]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: extract hmr2_evaluation_data.tar.gz (HMR 2.0's release) into "
                                f"{data_dir}, or point data_dir at the folder holding {EVAL_SETS[name][0]}.")
    return EvalNpzDataset(path, image_root, name=name, **kwargs)
