"""Pose engines: what turns one frame's person boxes into 3D people for the tracker.

The tracker does not care where the 3D people come from (the paper's Table 3 compares pose
engines under one tracker). An engine is any callable

    engine(frame_rgb (H, W, 3) uint8, detections: Detections, frame_index) -> People

and :func:`register_engine` makes one available by name (``create_engine("hmr2")``):

* ``"hmr2"``         - HMR 2.0 on every crop of the frame in one batch: our shipped checkpoint, a
  ``checkpoint=`` path (ours or the official Lightning file), or a ``model=`` object;
* ``"ground_truth"`` - SMPL parameters looked up by the ground-truth id each detection carries
  (synthetic benchmarks), i.e. a perfect pose engine;
* ``"fit"``          - no network: the body fitted to each detection's 2D keypoints
  (:class:`workbench.fitting.FitEngine`, SMPLify-style).

Every engine places people in the tracker's camera: PHALP's padded 256-px canvas with focal 5000,
which is the frame's own camera with focal ``5000 * max(H, W) / 256`` px and principal point at the
centre of the padded square (:func:`frame_camera`). Translations are metres in that camera.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.arrays import to_numpy
from workbench.detect import Detections
from workbench.registry import Registry
from workbench.tracking.records import (
    CANVAS_RES,
    FOCAL,
    DetectionRecord,
    padded_canvas,
    records_from_hmr2,
    records_from_smpl,
)

__all__ = [
    "ENGINES",
    "GroundTruthEngine",
    "HMR2Engine",
    "People",
    "PoseEngine",
    "create_engine",
    "frame_camera",
    "list_engines",
    "people_from_parameters",
    "register_engine",
]


@dataclass
class People:
    """The 3D people an engine found in one frame (one entry per detection, same order).

    records: tracker records (pose / location vectors, SMPL, canvas camera).
    vertices: (N, V, 3) meshes in the frame camera (metres), for appearance sampling and rendering.
    focal: frame-camera focal length, pixels. principal_point: (2,) pixels.
    """

    records: list[DetectionRecord]
    vertices: np.ndarray
    focal: float
    principal_point: np.ndarray
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


PoseEngine = Callable[[np.ndarray, Detections, int], People]
ENGINES = Registry("pose engine")
register_engine = ENGINES.register  # decorator for a factory (**kwargs) -> PoseEngine
# Engines defined outside this package register themselves on import; name -> module to import.
ELSEWHERE = {"fit": "workbench.fitting"}


def _import_elsewhere() -> None:
    import importlib

    for module in ELSEWHERE.values():
        importlib.import_module(module)


def create_engine(name: str, **kwargs) -> PoseEngine:
    if name not in ENGINES and name in ELSEWHERE:
        _import_elsewhere()
    return ENGINES.lookup(name)(**kwargs)


def list_engines() -> list[str]:
    _import_elsewhere()
    return ENGINES.names()


def frame_camera(image_hw) -> tuple[float, np.ndarray]:
    """The tracker's camera in frame pixels: focal ``5000 * S / 256`` and the padded square's centre.

    Returns (focal px, principal point (2,) px), S = max(H, W).
    """
    S, offset = padded_canvas(image_hw)
    return FOCAL * S / CANVAS_RES, np.full(2, S / 2.0) - offset


def _empty_people(image_hw, num_vertices: int) -> People:
    focal, pp = frame_camera(image_hw)
    return People([], np.zeros((0, num_vertices, 3), np.float32), focal, pp)


class HMR2Engine:
    """HMR 2.0 on all crops of a frame, in batches of ``batch_size``.

    Args:
        model: an :class:`~workbench.models.HMR2`; else loaded from ``checkpoint``: None = our shipped
            ``hmr2_tiny``, a ``.safetensors`` of ours, or the official ``.ckpt``
            (:meth:`~workbench.models.HMR2.from_official_checkpoint`).
        device: where to run ("cpu", "cuda"); default: the model's device.
        batch_size: crops per forward pass.
    """

    def __init__(self, model=None, checkpoint: str | os.PathLike | None = None, device: str | None = None,
                 batch_size: int = 16):
        from workbench.models import HMR2, load_checkpoint, load_pretrained

        if model is None:
            if checkpoint is None:
                model, _, _ = load_pretrained("hmr2_tiny")
            elif str(checkpoint).endswith(".ckpt"):
                model = HMR2.from_official_checkpoint(checkpoint)
            else:
                model, _, _ = load_checkpoint(checkpoint)
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.batch_size = int(batch_size)

    @property
    def faces(self) -> np.ndarray:
        return self.model.smpl.faces

    def __call__(self, frame: np.ndarray, detections: Detections, frame_index: int) -> People:
        from workbench.predict import crop_people

        image_hw = frame.shape[:2]
        num_v = self.model.smpl.layer.v_template.shape[0]
        if len(detections) == 0:
            return _empty_people(image_hw, num_v)
        crops = crop_people(frame, detections.boxes, self.model.cfg.image_size)
        device = next(self.model.parameters()).device
        outs = [self.model.predict(crops.img[i:i + self.batch_size].to(device))
                for i in range(0, len(crops.img), self.batch_size)]
        output = {
            "pred_smpl_params": {k: torch.cat([o["pred_smpl_params"][k].float().cpu() for o in outs])
                                 for k in outs[0]["pred_smpl_params"]},
            **{k: torch.cat([o[k].float().cpu() for o in outs]) for k in ("pred_cam", "pred_keypoints_3d",
                                                                          "pred_vertices")},
        }
        records = records_from_hmr2(output, detections.boxes, detections.scores, image_hw, frame_index)
        camera = np.stack([r.camera for r in records])
        vertices = to_numpy(output["pred_vertices"], np.float32) + camera[:, None].astype(np.float32)
        focal, pp = frame_camera(image_hw)
        return People(records, vertices, focal, pp)


@register_engine("hmr2")
def _hmr2(**kwargs) -> HMR2Engine:
    return HMR2Engine(**kwargs)


class GroundTruthEngine:
    """A perfect pose engine for synthetic benchmarks: SMPL parameters looked up by ground-truth id.

    Args:
        lookup: ``(frame_index, gt_id) -> dict | None`` with ``global_orient`` (3,) axis-angle and
            ``body_pose`` (23, 3) axis-angle in the video camera, ``betas`` (10,), ``transl`` (3,) metres
            (vertices = body(pose, betas) + transl in that camera); None for a false positive.
        focal: the video camera's focal length, pixels (its principal point must be the frame centre).
        body: the body model the ground truth was made with (default: the open body).

    Detections must carry ``gt_ids`` (-1 for false positives). A false positive gets the mean pose
    placed at its box, as a network would produce *something* for it. The true camera is mapped to
    the tracker's (focal 5000 S / 256) by scaling depth, which keeps every projection of the body's
    origin exact.
    """

    def __init__(self, lookup: Callable[[int, int], dict | None], focal: float, body=None):
        from workbench.body import BodyModel

        self.lookup, self.true_focal = lookup, float(focal)
        self.body = body if body is not None else BodyModel.open_body()

    @property
    def faces(self) -> np.ndarray:
        return self.body.faces

    def __call__(self, frame: np.ndarray, detections: Detections, frame_index: int) -> People:
        image_hw = frame.shape[:2]
        num_v = self.body.layer.v_template.shape[0]
        n = len(detections)
        if n == 0:
            return _empty_people(image_hw, num_v)
        gt_ids = getattr(detections, "gt_ids", None)
        if gt_ids is None:
            raise ValueError("the ground_truth engine needs detections with gt_ids (synthetic benchmarks only).")
        focal, pp = frame_camera(image_hw)
        go, bp, be, cam = np.zeros((n, 3)), np.zeros((n, 23, 3)), np.zeros((n, 10)), np.zeros((n, 3))
        fp = []
        for i, gid in enumerate(np.asarray(gt_ids).reshape(-1)):
            gt = self.lookup(frame_index, int(gid)) if gid >= 0 else None
            if gt is None:
                fp.append(i)
                continue
            go[i], bp[i], be[i, :len(gt["betas"])] = gt["global_orient"], gt["body_pose"], gt["betas"]
            t = np.asarray(gt["transl"], np.float64)
            cam[i] = (t[0], t[1], t[2] * focal / self.true_focal)
        return people_from_parameters(self.body, go, bp, be, cam, detections, image_hw, frame_index, missing=fp)


def people_from_parameters(body, global_orient, body_pose, betas, camera, detections: Detections, image_hw,
                           frame_index: int, missing=(), extra: dict | None = None) -> People:
    """:class:`People` from per-detection SMPL parameters already in the tracker's camera.

    Args:
        body: the body model. global_orient: (N, 3) axis-angle or (N, 1, 3, 3); body_pose: (N, 23, 3) or
            (N, 23, 3, 3); betas: (N, 10); camera: (N, 3) canvas translation, metres (changed in place for
            ``missing``).
        missing: detections without parameters (a false positive, too few keypoints): a network would
            return *something* for them, so they get the mean pose placed in their box.
    """
    from workbench.demo import place_body
    from workbench.tracking.records import camera_on_canvas

    with torch.no_grad():
        out = body(global_orient=torch.as_tensor(np.asarray(global_orient), dtype=torch.float32),
                   body_pose=torch.as_tensor(np.asarray(body_pose), dtype=torch.float32),
                   betas=torch.as_tensor(np.asarray(betas), dtype=torch.float32))
    for i in missing:
        placed = place_body(body, detections.boxes[i], image_hw)
        camera[i] = camera_on_canvas(placed.pred_cam[None].numpy(), detections.boxes[i:i + 1], image_hw)[0]
        out.vertices[i], out.keypoints[i] = placed.output.vertices[0], placed.output.keypoints[0]
        out.rotmats[i] = placed.output.rotmats[0]
    smpl = {"global_orient": out.rotmats[:, :1], "body_pose": out.rotmats[:, 1:], "betas": np.asarray(betas)}
    records = records_from_smpl(smpl, camera, out.keypoints, detections.boxes, detections.scores, image_hw,
                                frame_index)
    vertices = to_numpy(out.vertices, np.float32) + np.asarray(camera)[:, None].astype(np.float32)
    focal, pp = frame_camera(image_hw)
    return People(records, vertices, focal, pp, extra=extra or {})


@register_engine("ground_truth")
def _ground_truth(**kwargs) -> GroundTruthEngine:
    return GroundTruthEngine(**kwargs)
