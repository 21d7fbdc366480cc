"""PHALP': the 3D tracker of 4DHumans on top of :class:`~workbench.tracking.lifecycle.TrackerCore`.

Per frame (``PHALPTracker.step(frame, records)``):

1. every live track carries a *prediction* made after the previous frame: its pose at the query
   time (masked transformer over its pose history, or the last pose), its location (ridge regression
   with prediction intervals) and its running texel map (appearance);
2. one (T, D) PHALP cost matrix against the frame's detection records (``phalp_cost``), appearance
   distance on commonly visible texels;
3. Hungarian assignment with the published gate, lifecycle (tentative / confirmed / deleted);
4. matched tracks blend the detection's texel map into theirs (alpha = 0.1 conf^2) and every track
   is predicted again, all tracks in one batch.

Detections are :class:`~workbench.tracking.records.DetectionRecord` (from any pose engine) whose
``appearance`` is a :class:`~workbench.tracking.appearance.TexelMap` or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.tracking.cost import phalp_cost
from workbench.tracking.lifecycle import Track, TrackerConfig, TrackerCore
from workbench.tracking.location import predict_location, query_time
from workbench.tracking.records import DetectionRecord

__all__ = ["POSE_PREDICTORS", "PHALPConfig", "PHALPTracker", "TrackPrediction"]

POSE_PREDICTORS = ("transformer", "last")


@dataclass
class PHALPConfig:
    """The tracker's knobs; defaults are the published ones (``phalp/configs/base.py``).

    terms: cost factors kept, letters of "APLN" (appearance, pose, location, nearness/depth).
    pose_predictor: "transformer" (our masked transformer, ``assets/checkpoints/pose_predictor``) or "last".
    appearance_alpha: texel-map blending rate (times the detection confidence squared).
    """

    lifecycle: TrackerConfig = field(default_factory=TrackerConfig)
    distance_type: str = "EQ_019"
    terms: str = "APLN"
    pose_predictor: str = "transformer"
    appearance_alpha: float = 0.1

    def __post_init__(self):
        if self.pose_predictor not in POSE_PREDICTORS:
            raise ValueError(f"pose_predictor must be one of {POSE_PREDICTORS}, got {self.pose_predictor!r}.")


@dataclass
class TrackPrediction:
    """Where a track is expected at frame ``time``: pose (229,), joint-44 position xy (2,) on the
    canvas / 256, depth (canvas t_z, metres) and the interval half-widths the cost softens with."""

    time: float
    pose: np.ndarray
    xy: np.ndarray
    depth: float
    x_pi: float
    y_pi: float
    depth_pi: float


class PHALPTracker(TrackerCore):
    """The PHALP' tracker. ``step(frame, records)`` -> :class:`~workbench.tracking.lifecycle.FrameResult`.

    Args:
        config: :class:`PHALPConfig`.
        pose_predictor: an object with ``predict_batch(histories, query_times)`` (default: the shipped
            :class:`~workbench.tracking.pose_predictor.PosePredictor` when ``config.pose_predictor`` is
            "transformer").
    """

    def __init__(self, config: PHALPConfig | None = None, pose_predictor: Any = None):
        self.phalp = config or PHALPConfig()
        super().__init__(cost_fn=self.cost, config=self.phalp.lifecycle)
        if pose_predictor is None and self.phalp.pose_predictor == "transformer":
            from workbench.tracking.pose_predictor import PosePredictor

            pose_predictor = PosePredictor.load()
        self.pose_predictor = pose_predictor if self.phalp.pose_predictor == "transformer" else None

    # -- association -------------------------------------------------------------------------
    def cost(self, tracks: list[Track], detections: list[DetectionRecord]) -> np.ndarray:
        """(T, D) PHALP cost of every live track's prediction against every detection."""
        preds = [t.prediction for t in tracks]
        appearance = None
        if "A" in self.phalp.terms:
            appearance = self.appearance_distance(tracks, detections)
        return phalp_cost(
            np.stack([p.pose for p in preds]), np.stack([d.pose for d in detections]),
            np.stack([p.xy for p in preds]), np.stack([d.xy for d in detections]),
            np.array([p.depth for p in preds]), np.array([d.depth for d in detections]),
            np.array([p.x_pi for p in preds]), np.array([p.y_pi for p in preds]),
            np.array([p.depth_pi for p in preds]), appearance=appearance,
            distance_type=self.phalp.distance_type, terms=self.phalp.terms,
        )

    @staticmethod
    def appearance_distance(tracks: list[Track], detections: list[DetectionRecord]) -> np.ndarray | None:
        """(T, D) texel-map distance, 0 where a pair shares no visible texel or either has no map.

        (The published cost turns NaN into a zero *total* cost; an unknown appearance should instead
        leave the other factors to decide, so unknown pairs get A = 0 here.)
        """
        if not any(t.appearance is not None for t in tracks) or not any(d.appearance is not None for d in detections):
            return None
        from workbench.tracking.appearance import appearance_cost

        ti = [i for i, t in enumerate(tracks) if t.appearance is not None]
        di = [j for j, d in enumerate(detections) if d.appearance is not None]
        A = np.zeros((len(tracks), len(detections)))
        sub = appearance_cost([tracks[i].appearance for i in ti], [detections[j].appearance for j in di])
        A[np.ix_(ti, di)] = np.nan_to_num(sub, nan=0.0)
        return A

    # -- appearance: the running texel map ------------------------------------------------------
    def _initiate(self, frame: int, det: DetectionRecord) -> Track:
        tr = super()._initiate(frame, det)
        tr.appearance = det.appearance
        return tr

    def _update(self, tr: Track, frame: int, det: DetectionRecord, res) -> None:
        super()._update(tr, frame, det, res)
        if det.appearance is not None:
            from workbench.tracking.appearance import blend

            tr.appearance = blend(tr.appearance, det.appearance, det.score if np.isfinite(det.score) else 1.0,
                                  alpha=self.phalp.appearance_alpha)

    # -- prediction, all tracks at once --------------------------------------------------------
    def predict_tracks(self, tracks: list[Track]) -> None:
        if not tracks:
            return
        times = np.array([list(t.history_times) for t in tracks], np.float64)  # (T, H)
        loca = np.array([[r.loca for r in t.history] for t in tracks])  # (T, H, 99)
        depth = np.array([[r.depth for r in t.history] for t in tracks])  # (T, H)
        since = np.array([t.time_since_update for t in tracks])
        loc = predict_location(times, np.log(depth), loca[..., 88], loca[..., 89], since)
        t_star = query_time(times.max(-1), since)
        if self.pose_predictor is not None:
            histories = [(np.stack([r.pose for r in t.history]), np.asarray(t.history_times)) for t in tracks]
            poses = np.asarray(self.pose_predictor.predict_batch(histories, t_star.astype(np.int64)))
        else:
            poses = np.stack([t.history[-1].pose for t in tracks])
        for i, t in enumerate(tracks):
            t.prediction = TrackPrediction(
                time=float(t_star[i]), pose=poses[i], xy=loc.xy[i], depth=float(loc.depth[i]),
                x_pi=float(loc.x_pi[i]), y_pi=float(loc.y_pi[i]), depth_pi=float(loc.depth_pi[i]),
            )
