"""Track lifecycle and TrackerCore with a location-only PHALP cost (ridge predictor + L and N terms)."""

from __future__ import annotations

import numpy as np

from workbench.tracking.cost import phalp_cost
from workbench.tracking.lifecycle import TrackerConfig, TrackerCore, TrackState
from workbench.tracking.location import predict_location


def det(x, y, z=40.0):
    return {"xy": np.array([x, y], float), "z": float(z)}


def predict_fn(track):
    """Ridge location prediction from the track's 7-entry history (as PHALP's accumulate_vectors)."""
    t = np.array(track.history_times, float)[None]
    xy = np.stack([d["xy"] for d in track.history])
    logz = np.log([d["z"] for d in track.history])[None]
    return predict_location(t, logz, xy[None, :, 0], xy[None, :, 1], np.array([track.time_since_update]))


def location_cost(tracks, dets):
    """(T, D) PHALP cost with the location (L) and nearness (N) terms only."""
    p = [t.prediction for t in tracks]
    cat = lambda k: np.concatenate([getattr(q, k) for q in p])  # noqa: E731
    return phalp_cost(
        np.zeros((len(tracks), 229)),
        np.zeros((len(dets), 229)),
        np.concatenate([q.xy for q in p]),
        np.stack([d["xy"] for d in dets]),
        cat("depth"),
        np.array([d["z"] for d in dets]),
        cat("x_pi"),
        cat("y_pi"),
        cat("depth_pi"),
        terms="LN",
    )


def make_core(**cfg):
    return TrackerCore(cost_fn=location_cost, predict_fn=predict_fn, config=TrackerConfig(**cfg))


def test_confirmed_after_n_init_with_backfill():
    core = make_core()
    results = [core.step(f, [det(0.3 + 0.01 * f, 0.5)]) for f in range(6)]
    assert results[0].new_tracks == {1: 0}  # ids start at 1
    for r in results[:4]:
        assert r.emit == {} and r.confirmed == []
    assert all(r.matches == {1: 0} for r in results[1:])
    assert results[4].confirmed == [1] and results[4].backfill == {1: [0, 1, 2, 3]}
    assert results[4].emit == {1: 0} and results[5].emit == {1: 0} and results[5].backfill == {}
    tr = core.tracks[0]
    assert tr.state == TrackState.CONFIRMED and tr.hits == 6 and tr.age == 6 and tr.frames == list(range(6))
    assert len(tr.history) == 7 and list(tr.history_times) == [0, 0, 1, 2, 3, 4, 5]


def test_history_initialised_with_copies():
    core = make_core()
    core.step(0, [det(0.5, 0.5)])
    tr = core.tracks[0]
    assert list(tr.history_times) == [0] * 7
    assert all(np.array_equal(h["xy"], [0.5, 0.5]) for h in tr.history)
    assert tr.history[0] is not tr.history[1]  # copies, not aliases


def test_tentative_track_dies_at_first_miss():
    core = make_core()
    for f in range(3):
        core.step(f, [det(0.5, 0.5)])
    r = core.step(3, [])
    assert r.deleted == [1] and core.tracks == []
    r = core.step(4, [det(0.5, 0.5)])
    assert r.new_tracks == {2: 0}  # a fresh id, never reused


def test_confirmed_track_survives_occlusion_and_rematches():
    core = make_core()
    walker = lambda f: det(0.1 + 0.015 * f, 0.5, 40 + 0.1 * f)  # noqa: E731
    bystander = det(0.5, 0.9, 30.0)
    for f in range(8):
        core.step(f, [walker(f), bystander])
    ids = core.step(8, [walker(8), bystander]).matches
    walker_id = next(k for k, v in ids.items() if v == 0)
    bystander_id = next(k for k, v in ids.items() if v == 1)
    for f in range(9, 19):  # 10-frame occlusion of the walker
        r = core.step(f, [bystander])
        assert r.deleted == [] and r.matches == {bystander_id: 0}
    assert core.track(walker_id).time_since_update == 10
    r = core.step(19, [bystander, walker(19)])
    assert r.matches == {bystander_id: 0, walker_id: 1} and r.new_tracks == {}
    assert core.track(walker_id).time_since_update == 0


def test_confirmed_deleted_after_max_age():
    core = make_core()
    for f in range(5):
        core.step(f, [det(0.5, 0.5)])
    assert core.tracks[0].is_confirmed
    for f in range(5, 5 + 50):  # time_since_update reaches 50: still alive
        assert core.step(f, []).deleted == []
    assert core.step(55, []).deleted == [1] and core.tracks == []


def test_tiny_config():
    core = make_core(**vars(TrackerConfig.tiny()))
    core.step(0, [det(0.5, 0.5)])
    r = core.step(1, [det(0.5, 0.5)])
    assert r.confirmed == [1] and r.backfill == {1: [0]}


def _run_crossing(core):
    """Two people walk towards each other on the same line at the same depth and cross between
    frames 15 and 16; returns the frames where an identity switched."""
    left = lambda f: det(0.2 + 0.02 * f, 0.5, 40.0)  # noqa: E731
    right = lambda f: det(0.81 - 0.02 * f, 0.5, 40.0)  # noqa: E731
    inv = {v: k for k, v in core.step(0, [left(0), right(0)]).new_tracks.items()}
    switches = []
    for f in range(1, 31):
        # alternate the detection order so the answer cannot come from the index
        dets, who = ([left(f), right(f)], ("L", "R")) if f % 2 else ([right(f), left(f)], ("R", "L"))
        r = core.step(f, dets)
        assert r.new_tracks == {} and r.deleted == []
        if {who[d]: t for t, d in r.matches.items()} != {"L": inv[0], "R": inv[1]}:
            switches.append(f)
    return switches


def test_crossing_tracks_keep_ids():
    assert _run_crossing(make_core()) == []


def test_crossing_needs_the_motion_model():
    """Negative control: predicting 'where it was last seen' swaps the two people after the crossing."""

    def last_position(track):
        return _Static(track.history[-1])

    assert _run_crossing(TrackerCore(cost_fn=location_cost, predict_fn=last_position)) != []


class _Static:
    """A location 'prediction' that is the last detection with a fixed small interval."""

    def __init__(self, d):
        self.xy, self.depth = d["xy"][None], np.array([d["z"]])
        self.x_pi = self.y_pi = np.array([0.05])
        self.depth_pi = np.array([1.0])


def test_no_detections_and_no_tracks():
    core = make_core()
    r = core.step(0, [])
    assert r.matches == {} and r.cost.shape == (0, 0)
