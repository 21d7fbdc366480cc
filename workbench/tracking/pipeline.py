"""4DHumans end to end: frames -> detections -> 3D people -> PHALP' tracks (``python -m workbench track``).

    >>> from workbench.tracking import TrackConfig, track_video          # doctest: +SKIP
    >>> result = track_video("assets/demo/vtest_excerpt.mp4")             # doctest: +SKIP
    >>> result.table().head()                                             # doctest: +SKIP

Per frame: detect (``workbench.detect``), lift every box with a pose engine
(``workbench.tracking.engines``; HMR 2.0 by default, all crops in one batch), sample each person's
texel map from the frame (``workbench.tracking.appearance``), then one tracker step. Confirmed tracks
are recorded, including the frames back-filled at confirmation. Every frame of the source is
processed (the published demo stops at frame 1300 by default; ours only where ``stop`` says).

After the last frame, gaps inside a track (frames where the person was not detected) are filled by
the pose predictor (amodal completion) and flagged ``observed=False``.

Cameras. The tracker always works in its canvas camera (focal ``5000 * max(H, W) / 256``, the camera
the PHALP cost is tuned to; the PHALP pkl keeps it, as the published file does). When the user knows
the real camera (``TrackConfig.intrinsics``), :meth:`TrackingResult.table` reports translations in it
instead (:mod:`workbench.tracking.motion`): each body origin keeps its pixel and apparent size, and
its depth scales with the focal length. Frames: metres, x right, y down, z forward (OpenCV).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.detect import Detections, create_detector
from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.engines import People, create_engine
from workbench.tracking.lifecycle import TrackerCore
from workbench.tracking.phalp import PHALPConfig, PHALPTracker
from workbench.tracking.records import DetectionRecord, pose_vector

__all__ = ["FrameInfo", "TrackConfig", "TrackedPerson", "TrackingResult", "run_tracking", "track_video"]


@dataclass
class TrackConfig:
    """What ``track_video`` runs. ``detector``/``engine`` are registry names with their keyword arguments.

    ``intrinsics``: the real camera of the frames (:class:`~workbench.geometry.intrinsics.Intrinsics`,
    pixels of the first frame); None: HMR 2.0's default (focal ``5000 * max(H, W) / 256``). It changes
    what is *reported* (table, ground plane, 4D viewer), not what is tracked.
    """

    detector: str = "hog"
    detector_kwargs: dict = field(default_factory=dict)
    engine: str = "hmr2"
    engine_kwargs: dict = field(default_factory=dict)
    tracker: PHALPConfig = field(default_factory=PHALPConfig)
    appearance: bool = True  # texture-sampled texel maps (the "A" cost term needs them)
    complete_gaps: bool = True  # fill undetected frames inside tracks with the pose predictor
    start: int = 0
    stop: int | None = None
    step: int = 1
    intrinsics: Intrinsics | None = None


@dataclass
class FrameInfo:
    index: int
    name: str
    size: tuple[int, int]  # (H, W)
    num_detections: int


@dataclass
class TrackedPerson:
    """One confirmed track in one frame. ``observed`` is False for frames filled by amodal completion."""

    frame: int
    track_id: int
    record: DetectionRecord
    observed: bool = True


@dataclass
class TrackingResult:
    """Everything a run produced; ``people[frame]`` lists the tracked people of that frame."""

    source: str
    fps: float
    frames: list[FrameInfo]
    people: dict[int, list[TrackedPerson]]
    timings: dict[str, float]
    faces: np.ndarray | None = None
    config: TrackConfig | None = None
    body: Any = None  # the engine's body model (renders the outputs)
    intrinsics: Any = None  # workbench.geometry.Intrinsics the user gave; None: HMR 2.0's default camera

    @property
    def track_ids(self) -> list[int]:
        return sorted({p.track_id for ps in self.people.values() for p in ps})

    def table(self) -> pd.DataFrame:
        """Tidy table, one row per (frame, track): box (pixels), score, translation ``tx, ty, tz`` of the
        body origin (metres, in the reporting camera: ``self.intrinsics`` if given, else the tracker's
        canvas camera; see :func:`~workbench.tracking.motion.reporting_intrinsics`), global orientation
        (axis-angle, camera frame), betas and whether the person was detected in that frame."""
        from scipy.spatial.transform import Rotation

        from workbench.tracking.motion import reported_translations

        entries = [p for f in sorted(self.people) for p in sorted(self.people[f], key=lambda q: q.track_id)]
        rows = []
        for p, t in zip(entries, reported_translations(self, entries) if entries else []):
            r, f = p.record, p.frame
            go = Rotation.from_matrix(np.asarray(r.smpl["global_orient"]).reshape(3, 3)).as_rotvec()
            rows.append({
                "frame": f, "time_s": f / self.fps, "track_id": p.track_id, "observed": p.observed,
                "x1": r.bbox[0], "y1": r.bbox[1], "x2": r.bbox[2], "y2": r.bbox[3], "score": r.score,
                "tx": t[0], "ty": t[1], "tz": t[2],
                "go_x": go[0], "go_y": go[1], "go_z": go[2],
                **{f"beta{k}": float(b) for k, b in enumerate(np.asarray(r.smpl["betas"]).reshape(-1))},
            })
        cols = ["frame", "time_s", "track_id", "observed", "x1", "y1", "x2", "y2", "score", "tx", "ty", "tz"]
        return pd.DataFrame(rows, columns=None if rows else cols)

    def summary(self) -> dict:
        n_obs = sum(p.observed for ps in self.people.values() for p in ps)
        n_fill = sum(not p.observed for ps in self.people.values() for p in ps)
        total = self.timings.get("total_s", float("nan"))
        return {
            "frames": len(self.frames),
            "detections": int(sum(f.num_detections for f in self.frames)),
            "tracks": len(self.track_ids),
            "tracked_people": int(n_obs),
            "filled_by_prediction": int(n_fill),
            "fps": len(self.frames) / total if total > 0 else float("nan"),
            **{k: round(v, 3) for k, v in self.timings.items()},
            "camera": self.camera_summary(),
        }

    def camera_summary(self) -> dict:
        """The reporting camera: ``fx, fy, cx, cy`` (pixels), horizontal field of view (degrees) and
        ``given`` (False: HMR 2.0's default, ``tx, ty, tz`` are then in that very long lens)."""
        from workbench.tracking.motion import reporting_intrinsics

        if not self.frames:
            return {"given": self.intrinsics is not None}
        k = reporting_intrinsics(self)
        return {"fx": round(k.fx, 3), "fy": round(k.fy, 3), "cx": round(k.cx, 3), "cy": round(k.cy, 3),
                "horizontal_fov_deg": round(k.horizontal_fov_deg(self.frames[0].size[1]), 3),
                "given": self.intrinsics is not None}


def run_tracking(frames, detector: Callable[[np.ndarray, int], Detections], engine, tracker: TrackerCore,
                 *, appearance: bool = True, complete_gaps: bool = True, fps: float = 30.0, source: str = "",
                 progress: bool = True, total: int | None = None, intrinsics: Intrinsics | None = None,
                 on_frame: Callable[[int, np.ndarray, Detections, People, Any], None] | None = None) -> TrackingResult:
    """Track people through ``frames`` (an iterable of ``(index, name, (H, W, 3) uint8 RGB)``).

    Args:
        detector: ``(frame, index) -> Detections`` (``workbench.detect``).
        engine: a pose engine ``(frame, detections, index) -> People``.
        tracker: a :class:`PHALPTracker` (or any TrackerCore whose detections are DetectionRecords).
        appearance: sample texel maps (needs ``engine.faces``).
        complete_gaps: fill frames a confirmed track missed, between two detections, with the pose
            predictor (``tracker.pose_predictor``, last pose if none).
        intrinsics: the real camera (pixels of the first frame), checked against the first frame before
            it is processed; None: HMR 2.0's default. Stored in ``result.intrinsics``.
        on_frame: called after each frame with (index, frame, detections, people, FrameResult).
    Returns:
        :class:`TrackingResult`.
    """
    from tqdm.auto import tqdm

    faces = getattr(engine, "faces", None)
    body = getattr(engine, "body", None) or getattr(getattr(engine, "model", None), "smpl", None)
    atlas = None
    if appearance:
        if faces is None or body is None:
            raise ValueError("appearance=True needs an engine with .faces and .body (or .model.smpl); "
                             "pass appearance=False.")
        from workbench.tracking.appearance import sample_texel_maps, texel_atlas

        atlas = texel_atlas(body)
    timings: dict[str, float] = defaultdict(float)
    infos: list[FrameInfo] = []
    people: dict[int, list[TrackedPerson]] = defaultdict(list)
    t_start = time.perf_counter()
    first_hw, warned = None, False
    for index, name, frame in tqdm(frames, total=total, desc="track", disable=not progress, unit="frame"):
        if first_hw is None:
            first_hw = frame.shape[:2]
            if intrinsics is not None:
                intrinsics.validate(first_hw)
        elif intrinsics is not None and frame.shape[:2] != first_hw and not warned:
            warned = True
            warnings.warn(f"frame {name} is {frame.shape[1]}x{frame.shape[0]}, the first was {first_hw[1]}x"
                          f"{first_hw[0]}: the given intrinsics describe the first frame's size only.", stacklevel=2)
        t0 = time.perf_counter()
        dets = detector(frame, index)
        t1 = time.perf_counter()
        found = engine(frame, dets, index)
        t2 = time.perf_counter()
        if atlas is not None and len(found):
            maps = sample_texel_maps(frame, found.vertices, faces, found.focal, found.principal_point, atlas)
            for rec, m in zip(found.records, maps):
                rec.appearance = m
        t3 = time.perf_counter()
        res = tracker.step(index, found.records)
        t4 = time.perf_counter()
        for tid, di in res.emit.items():
            people[index].append(TrackedPerson(index, tid, found.records[di]))
        for tid, earlier in res.backfill.items():
            tr = tracker.track(tid)
            by_time = dict(zip(tr.history_times, tr.history))
            for f in earlier:
                if f in by_time:
                    people[f].append(TrackedPerson(f, tid, by_time[f]))
        infos.append(FrameInfo(index, name, (frame.shape[0], frame.shape[1]), len(dets)))
        timings["detect_s"] += t1 - t0
        timings["engine_s"] += t2 - t1
        timings["appearance_s"] += t3 - t2
        timings["tracker_s"] += t4 - t3
        if on_frame is not None:
            on_frame(index, frame, dets, found, res)
    if complete_gaps:
        t0 = time.perf_counter()
        fill_gaps(people, getattr(tracker, "pose_predictor", None))
        timings["completion_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    return TrackingResult(source=source, fps=fps, frames=infos, people=dict(sorted(people.items())),
                          timings=dict(timings), faces=faces, body=body, intrinsics=intrinsics)


def fill_gaps(people: dict[int, list[TrackedPerson]], pose_predictor=None) -> int:
    """Amodal completion: add a person for every frame inside a track's span where it was not detected.

    The pose (and betas) come from ``pose_predictor.complete`` over the track's observed poses (the
    last observed pose when there is no predictor); the translation is interpolated linearly between
    the neighbouring detections (box likewise). Returns the number of frames filled; ``people`` is
    changed in place, filled entries have ``observed=False``.
    """
    from dataclasses import replace

    from workbench.tracking.records import joints_2d_on_canvas, location_vector

    frames_of: dict[int, list[TrackedPerson]] = defaultdict(list)
    present: dict[int, set[int]] = defaultdict(set)
    for ps in people.values():
        for p in ps:
            present[p.track_id].add(p.frame)
            if p.observed:
                frames_of[p.track_id].append(p)
    filled = 0
    for tid, seen in frames_of.items():
        seen.sort(key=lambda p: p.frame)
        times = np.array([p.frame for p in seen])
        missing = np.setdiff1d(np.arange(times[0], times[-1] + 1), sorted(present[tid]))
        if len(missing) == 0:
            continue
        poses = np.stack([p.record.pose for p in seen])
        if pose_predictor is not None:
            filled_poses = np.asarray(pose_predictor.complete(poses, times, missing))
        else:
            filled_poses = poses[np.searchsorted(times, missing, side="right") - 1]
        cams = np.stack([p.record.camera for p in seen])
        boxes = np.stack([p.record.bbox for p in seen])
        for q, f in enumerate(missing):
            j = np.searchsorted(times, f)  # next observation; j - 1 the previous
            w = (f - times[j - 1]) / (times[j] - times[j - 1])
            prev = seen[j - 1].record
            cam = (1 - w) * cams[j - 1] + w * cams[j]
            box = (1 - w) * boxes[j - 1] + w * boxes[j]
            pv = filled_poses[q]
            go, bp = _rotations_from_pose_vector(pv)
            pose = pose_vector(go[None], bp[None], pv[216:226][None], cam[None])[0]
            j2d = joints_2d_on_canvas(prev.joints_3d[None, :44], cam[None])
            rec = replace(prev, frame=int(f), bbox=box, score=float("nan"), pose=pose,
                          loca=location_vector(j2d, cam[None])[0], joints_2d=j2d[0].reshape(90),
                          smpl={"global_orient": go, "body_pose": bp, "betas": pv[216:226].copy()},
                          camera=cam, appearance=None, extra={"filled": True})
            people.setdefault(int(f), []).append(TrackedPerson(int(f), tid, rec, observed=False))
            filled += 1
    for f in people:
        people[f].sort(key=lambda p: p.track_id)
    return filled


def _rotations_from_pose_vector(pv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(229,) pose vector -> global_orient (1, 3, 3), body_pose (23, 3, 3), projected onto rotations."""
    import roma
    import torch

    mats = roma.special_procrustes(torch.as_tensor(np.asarray(pv[:216], np.float64).reshape(24, 3, 3))).numpy()
    return mats[:1], mats[1:]


def _make_detector(cfg: TrackConfig):
    from workbench.detect import DetectConfig

    kwargs = dict(cfg.detector_kwargs)
    if cfg.detector == "hog" and "config" not in kwargs:
        kwargs["config"] = DetectConfig.hog()
    return create_detector(cfg.detector, **kwargs)


def track_video(source, config: TrackConfig | None = None, *, detector=None, engine=None, tracker=None,
                progress: bool = True) -> TrackingResult:
    """Track the people in a video file, a folder of images or a list of frames.

    ``detector``, ``engine`` and ``tracker`` objects override the ones ``config`` names.
    ``config.intrinsics`` is checked against the first frame before any model is loaded.
    """
    from workbench.io import open_frames

    cfg = config or TrackConfig()
    frames = open_frames(source, cfg.start, cfg.stop, cfg.step)
    if cfg.intrinsics is not None:
        reader = frames.frames()
        first = next(reader, None)
        reader.close()
        if first is None:
            raise ValueError(f"{source} yields no frames between start={cfg.start} and stop={cfg.stop}.")
        cfg.intrinsics.validate(first[2].shape[:2])
    detector = detector or _make_detector(cfg)
    engine = engine or create_engine(cfg.engine, **cfg.engine_kwargs)
    tracker = tracker or PHALPTracker(cfg.tracker)
    result = run_tracking(frames.frames(), detector, engine, tracker, appearance=cfg.appearance,
                          complete_gaps=cfg.complete_gaps, fps=frames.fps, source=str(source if frames.path is None
                                                                                     else frames.path),
                          progress=progress, total=len(frames) or None, intrinsics=cfg.intrinsics)
    result.config = cfg
    return result
