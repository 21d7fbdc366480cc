"""A track as a motion: per-frame SMPL rotations, shape and translation in one camera.

The tracker stores people as :class:`~workbench.tracking.records.DetectionRecord` s in its own
canvas camera (focal ``5000 * max(H, W) / 256``). Smoothing, exporting and plotting want a track as
arrays over time instead, in the camera the user reports in: :func:`track_motion` gathers them,
:func:`apply_motion` writes (edited, e.g. smoothed) arrays back into a result.

    >>> motion = track_motion(result, track_id=3)          # doctest: +SKIP
    >>> motion.transl.shape, motion.body_pose.shape        # (T, 3), (T, 23, 3, 3)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from workbench.geometry.intrinsics import Intrinsics, retarget_translation

__all__ = ["TrackMotion", "apply_motion", "canvas_intrinsics", "display_intrinsics", "reported_translations",
           "reporting_intrinsics", "track_motion", "track_motions"]


@dataclass
class TrackMotion:
    """One track over the frames it spans (detected or filled by amodal completion).

    Attributes:
        track_id: the tracker's id.
        frames: (T,) int frame indices, increasing.
        global_orient: (T, 3, 3) root rotation in the camera frame (x right, y down, z forward).
        body_pose: (T, 23, 3, 3) joint rotations relative to their parents (SMPL order).
        betas: (T, 10) shape per frame (``mean_betas`` is the track's one shape).
        transl: (T, 3) translation of the body origin in ``intrinsics``' camera, metres:
            vertices = body(global_orient, body_pose, betas).vertices + transl.
        observed: (T,) bool, False where the frame was filled by the pose predictor.
        fps: frames per second of the source. intrinsics: the camera of ``transl``.
    """

    track_id: int
    frames: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    observed: np.ndarray
    fps: float
    intrinsics: Intrinsics

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def rotmats(self) -> np.ndarray:
        """(T, 24, 3, 3) global orientation followed by the 23 body joints."""
        return np.concatenate([self.global_orient[:, None], self.body_pose], axis=1)

    @property
    def mean_betas(self) -> np.ndarray:
        """(10,) shape averaged over the observed frames (all frames if none is observed)."""
        use = self.observed if self.observed.any() else np.ones(len(self), bool)
        return self.betas[use].mean(axis=0)

    @property
    def times(self) -> np.ndarray:
        """(T,) seconds from the first frame of the source."""
        return self.frames / float(self.fps)

    def posed(self, body, betas: str = "mean"):
        """Run the body model over the whole track.

        Args:
            body: a :class:`~workbench.body.BodyModel`.
            betas: "mean" (one shape, as an animation wants) or "per_frame".

        Returns:
            (vertices (T, V, 3), joints (T, 24, 3)) in the camera frame, metres (float32).
        """
        import torch

        b = np.broadcast_to(self.mean_betas, self.betas.shape).copy() if betas == "mean" else self.betas
        with torch.no_grad():
            out = body(global_orient=torch.as_tensor(self.global_orient[:, None], dtype=torch.float32),
                       body_pose=torch.as_tensor(self.body_pose, dtype=torch.float32),
                       betas=torch.as_tensor(np.ascontiguousarray(b), dtype=torch.float32))
        t = self.transl[:, None].astype(np.float32)
        return out.vertices.numpy() + t, out.joints[:, :24].numpy() + t


def canvas_intrinsics(image_hw) -> Intrinsics:
    """The tracker's own camera for an (H, W) frame (:func:`~workbench.tracking.engines.frame_camera`)."""
    from workbench.tracking.engines import frame_camera

    focal, pp = frame_camera(image_hw)
    return Intrinsics(float(focal), float(focal), float(pp[0]), float(pp[1]))


def reporting_intrinsics(result) -> Intrinsics:
    """The camera a result reports translations in: the user's (``result.intrinsics``) if given,
    else the tracker's canvas camera of the first frame."""
    given = getattr(result, "intrinsics", None)
    if given is not None:
        return given
    if not result.frames:
        raise ValueError("the result has no frames, so it has no camera; nothing was tracked.")
    return canvas_intrinsics(result.frames[0].size)


def display_intrinsics(result, field_of_view_deg: float | None = 55.0) -> Intrinsics:
    """The camera to *show* a result in (3D viewers): the user's intrinsics when given; otherwise HMR
    2.0's default lens (a 2.9° view at ~200 m) re-read as a normal lens of ``field_of_view_deg``: depth
    scales, each body keeps its pixel and size. ``field_of_view_deg=None`` keeps the canvas camera."""
    if getattr(result, "intrinsics", None) is not None or field_of_view_deg is None:
        return reporting_intrinsics(result)
    canvas = reporting_intrinsics(result)
    lens = Intrinsics.from_fov(result.frames[0].size, field_of_view_deg)
    return replace(canvas, fx=lens.fx, fy=lens.fy)  # the canvas's principal point: only depth changes


def reported_translations(result, people, target: Intrinsics | None = None) -> np.ndarray:
    """(N, 3) body-origin translations (metres) of tracked ``people`` (:class:`TrackedPerson` s of
    ``result``), moved from the tracker's canvas camera of their frame into ``target`` (default: the
    result's reporting camera, :func:`reporting_intrinsics`)."""
    target = target or reporting_intrinsics(result)
    sizes = _frame_sizes(result)
    out = [retarget_translation(p.record.camera, canvas_intrinsics(sizes.get(p.frame, tuple(p.record.size))), target)
           for p in people]
    return np.array(out, np.float64).reshape(-1, 3)


def _frame_sizes(result) -> dict[int, tuple[int, int]]:
    return {f.index: tuple(f.size) for f in result.frames}


def track_motion(result, track_id: int, camera: Intrinsics | None = None) -> TrackMotion:
    """The arrays of one track of a :class:`~workbench.tracking.pipeline.TrackingResult`, translations in
    ``camera`` (default: the result's reporting camera; e.g. :func:`display_intrinsics` for a viewer).

    Raises:
        KeyError: ``track_id`` is not a track of ``result`` (the message lists the ids there are).
    """
    entries = sorted((p for ps in result.people.values() for p in ps if p.track_id == track_id),
                     key=lambda p: p.frame)
    if not entries:
        ids = result.track_ids
        raise KeyError(f"track {track_id} does not exist; this result has tracks {ids[:30]}"
                       f"{' ...' if len(ids) > 30 else ''}." if ids else
                       f"track {track_id} does not exist: this result has no tracks (nobody was tracked).")
    target = camera or reporting_intrinsics(result)
    return TrackMotion(
        track_id=int(track_id),
        frames=np.array([p.frame for p in entries], dtype=np.int64),
        global_orient=np.stack([np.asarray(p.record.smpl["global_orient"], np.float64).reshape(3, 3)
                                for p in entries]),
        body_pose=np.stack([np.asarray(p.record.smpl["body_pose"], np.float64).reshape(23, 3, 3) for p in entries]),
        betas=np.stack([np.asarray(p.record.smpl["betas"], np.float64).reshape(-1)[:10] for p in entries]),
        transl=reported_translations(result, entries, target),
        observed=np.array([p.observed for p in entries], dtype=bool),
        fps=float(result.fps),
        intrinsics=target,
    )


def track_motions(result, min_frames: int = 1, camera: Intrinsics | None = None) -> dict[int, TrackMotion]:
    """Every track of ``result`` with at least ``min_frames`` frames, by id (translations in ``camera``)."""
    out = {tid: track_motion(result, tid, camera) for tid in result.track_ids}
    return {tid: m for tid, m in out.items() if len(m) >= min_frames}


def apply_motion(result, motion: TrackMotion, body=None, inplace: bool = False):
    """Write a (changed, e.g. smoothed) motion back into ``result``.

    Each of the track's records is rebuilt from the new SMPL parameters and translation, so its pose
    vector, 3D / 2D joints, location vector and crop camera stay consistent; box, score and appearance
    are kept.

    Args:
        motion: arrays of one track, with ``motion.frames`` the track's frames (as :func:`track_motion`
            returned them); ``transl`` in ``motion.intrinsics``.
        body: the body model for the joints (default ``result.body``).

    Returns:
        the result (a deep copy unless ``inplace``).
    """
    import torch

    from workbench.tracking.records import records_from_smpl

    body = body if body is not None else result.body
    if body is None:
        raise ValueError("apply_motion needs the body model (result.body is None); pass body=...")
    out = result if inplace else copy.deepcopy(result)
    by_frame = {p.frame: p for ps in out.people.values() for p in ps if p.track_id == motion.track_id}
    missing = [int(f) for f in motion.frames if int(f) not in by_frame]
    if missing:
        raise ValueError(f"track {motion.track_id} has no entry in frames {missing[:10]}; apply a motion only to the "
                         "result it came from.")
    with torch.no_grad():
        keypoints = body(global_orient=torch.as_tensor(motion.global_orient[:, None], dtype=torch.float32),
                         body_pose=torch.as_tensor(motion.body_pose, dtype=torch.float32),
                         betas=torch.as_tensor(motion.betas, dtype=torch.float32)).keypoints.numpy()
    sizes = _frame_sizes(out)
    for i, f in enumerate(motion.frames):
        p = by_frame[int(f)]
        rec = p.record
        size = sizes.get(int(f), tuple(rec.size))
        camera = retarget_translation(motion.transl[i], motion.intrinsics, canvas_intrinsics(size))
        smpl = {"global_orient": motion.global_orient[i:i + 1, None], "body_pose": motion.body_pose[i:i + 1],
                "betas": motion.betas[i:i + 1]}
        new = records_from_smpl(smpl, camera[None], keypoints[i:i + 1], rec.bbox[None], [rec.score], size,
                                rec.frame, appearance=[rec.appearance])[0]
        p.record = replace(new, extra=dict(rec.extra))
    return out
