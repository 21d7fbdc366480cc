"""Track lifecycle (tentative -> confirmed -> deleted) and ``TrackerCore``, one frame at a time.

Published rules (PHALP ``tracker.py`` / ``track.py``, deep_sort lineage):

* every unmatched detection starts a **tentative** track (hits 1, age 1, ids from 1), whose history
  deque (length 7) is filled with copies of that first detection;
* a track becomes **confirmed** when ``hits >= n_init`` (5); its previous ``n_init - 1`` frames are then
  back-filled into the output (``FrameResult.backfill``), which is why published rendering lags n_init;
* a tentative track is **deleted** at its first miss; a confirmed one when ``time_since_update > max_age`` (50);
* matching is single-stage over all tentative + confirmed tracks (no cascade, no IoU stage).

What a detection *is* and how tracks and detections are compared are injected: ``cost_fn(tracks,
detections) -> (T, D)`` and an optional ``predict_fn(track)`` run on every live track after the update
(as PHALP's ``accumulate_vectors``), whose result is stored in ``track.prediction`` for the next cost.
"""

from __future__ import annotations

import copy
import enum
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.tracking.assignment import HUNGARIAN_TH, hungarian_assign


class TrackState(enum.IntEnum):
    TENTATIVE = 1
    CONFIRMED = 2
    DELETED = 3


@dataclass
class TrackerConfig:
    """Published defaults (``phalp/configs/base.py``)."""

    n_init: int = 5
    max_age: int = 50
    history: int = 7
    hungarian_th: float = HUNGARIAN_TH

    @classmethod
    def tiny(cls) -> TrackerConfig:
        """Short-lived tracks for quick tests."""
        return cls(n_init=2, max_age=3, history=3)


@dataclass
class Track:
    """One person's track. ``history``/``history_times``: the last ``history`` detection records and
    their frame indices (initialised with copies of the first). ``frames``: every frame with a match.
    ``record``: the latest detection; ``prediction``: what ``predict_fn`` returned after the last update;
    ``appearance``: the track's running appearance (what a subclass blends in on every update)."""

    track_id: int
    history: deque
    history_times: deque
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    age: int = 1
    time_since_update: int = 0
    frames: list[int] = field(default_factory=list)
    record: Any = None
    prediction: Any = None
    appearance: Any = None

    @property
    def is_tentative(self) -> bool:
        return self.state == TrackState.TENTATIVE

    @property
    def is_confirmed(self) -> bool:
        return self.state == TrackState.CONFIRMED

    @property
    def is_deleted(self) -> bool:
        return self.state == TrackState.DELETED

    @property
    def last_time(self) -> int:
        return self.history_times[-1]


@dataclass
class FrameResult:
    """What one ``TrackerCore.step`` did.

    matches: {track_id: detection index}, for every matched track (tentative or confirmed);
    new_tracks: {track_id: detection index} tracks born this frame;
    confirmed: ids that became confirmed this frame; backfill: {track_id: [earlier frames]} to emit
    now for those (their previous n_init - 1 matched frames); deleted: ids removed this frame;
    emit: {track_id: detection index} confirmed tracks matched in this frame (what PHALP records);
    cost: the (T, D) matrix that was assigned, its rows the tracks ``cost_track_ids``.
    """

    frame: int
    matches: dict[int, int] = field(default_factory=dict)
    new_tracks: dict[int, int] = field(default_factory=dict)
    confirmed: list[int] = field(default_factory=list)
    backfill: dict[int, list[int]] = field(default_factory=dict)
    deleted: list[int] = field(default_factory=list)
    emit: dict[int, int] = field(default_factory=dict)
    cost: np.ndarray | None = None
    cost_track_ids: list[int] = field(default_factory=list)


CostFn = Callable[[Sequence[Track], Sequence[Any]], np.ndarray]
PredictFn = Callable[[Track], Any]


class TrackerCore:
    """The tracking loop with injected cost and predictor.

    >>> core = TrackerCore(cost_fn=my_cost)        # doctest: +SKIP
    >>> for f, dets in enumerate(frames):          # doctest: +SKIP
    ...     result = core.step(f, dets)
    """

    def __init__(self, cost_fn: CostFn, predict_fn: PredictFn | None = None, config: TrackerConfig | None = None):
        self.cost_fn, self.predict_fn = cost_fn, predict_fn
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1

    # -- the four steps of a frame --------------------------------------------------------------
    def predict(self) -> None:
        """Age every track by one frame (before matching)."""
        for t in self.tracks:
            t.age += 1
            t.time_since_update += 1

    def step(self, frame: int, detections: Sequence[Any]) -> FrameResult:
        """Process one frame: predict, cost, assign, update/miss/create, then run the predictor."""
        res = FrameResult(frame=frame)
        # 1. Predict (age++, time_since_update++)
        self.predict()
        # 2. One cost matrix over all live tracks (tentative + confirmed) and detections
        live = [t for t in self.tracks if not t.is_deleted]
        cost = (
            np.asarray(self.cost_fn(live, detections), np.float64)
            if live and len(detections)
            else np.zeros((len(live), len(detections)))
        )
        if cost.shape != (len(live), len(detections)):
            raise ValueError(f"cost_fn returned {cost.shape}, expected {(len(live), len(detections))}")
        res.cost, res.cost_track_ids = cost, [t.track_id for t in live]
        # 3. Hungarian with the published gate
        a = hungarian_assign(cost, self.config.hungarian_th)
        # 4. Update matched, mark missed, create new
        for ti, di in a.matches:
            self._update(live[ti], frame, detections[di], res)
            res.matches[live[ti].track_id] = int(di)
        for ti in a.unmatched_tracks:
            self._mark_missed(live[ti], res)
        for di in a.unmatched_detections:
            tr = self._initiate(frame, detections[di])
            res.new_tracks[tr.track_id] = int(di)
            if tr.is_confirmed:  # n_init <= 1
                res.confirmed.append(tr.track_id)
                res.backfill[tr.track_id] = []
        self.tracks = [t for t in self.tracks if not t.is_deleted]
        # 5. Predictions for the next frame (matched and unmatched alike)
        self.predict_tracks(self.tracks)
        res.emit = {tid: di for tid, di in {**res.matches, **res.new_tracks}.items() if self.track(tid).is_confirmed}
        return res

    def predict_tracks(self, tracks: list[Track]) -> None:
        """Set ``track.prediction`` for the next frame; one ``predict_fn`` call per track. Subclasses
        override this to predict all tracks in one batch."""
        if self.predict_fn is not None:
            for t in tracks:
                t.prediction = self.predict_fn(t)

    # -- lifecycle rules -----------------------------------------------------------------------
    def _initiate(self, frame: int, det: Any) -> Track:
        h = self.config.history
        tr = Track(
            track_id=self._next_id,
            history=deque((copy.deepcopy(det) for _ in range(h)), maxlen=h),
            history_times=deque([frame] * h, maxlen=h),
            frames=[frame],
            record=det,
        )
        if tr.hits >= self.config.n_init:
            tr.state = TrackState.CONFIRMED
        self._next_id += 1
        self.tracks.append(tr)
        return tr

    def _update(self, tr: Track, frame: int, det: Any, res: FrameResult) -> None:
        tr.history.append(det)
        tr.history_times.append(frame)
        tr.frames.append(frame)
        tr.record = det
        tr.hits += 1
        tr.time_since_update = 0
        if tr.is_tentative and tr.hits >= self.config.n_init:
            tr.state = TrackState.CONFIRMED
            res.confirmed.append(tr.track_id)
            res.backfill[tr.track_id] = tr.frames[-self.config.n_init : -1]

    def _mark_missed(self, tr: Track, res: FrameResult) -> None:
        if tr.is_tentative or tr.time_since_update > self.config.max_age:
            tr.state = TrackState.DELETED
            res.deleted.append(tr.track_id)

    def track(self, track_id: int) -> Track:
        """The live track with this id (StopIteration if none)."""
        return next(t for t in self.tracks if t.track_id == track_id)

    @property
    def confirmed_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.is_confirmed]
