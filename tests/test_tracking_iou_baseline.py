"""The 2D IoU baseline tracker: box IoU, constant-velocity box predictor, and IoUTracker on synthetic walks."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.tracking import BoxRecord, IoUTracker, TrackerConfig, box_iou, box_iou_reference, iou_cost, predict_box


def box(cx, cy, w=50.0, h=100.0):
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]], float)
    assert box_iou(a, a)[0, 0] == pytest.approx(1.0)
    assert box_iou(a, [[20, 20, 30, 30]])[0, 0] == 0.0
    assert box_iou(a, [[10, 0, 20, 10]])[0, 0] == 0.0  # touching edges
    # shifted by half its width: intersection 50, union 150
    assert box_iou(a, [[5, 0, 15, 10]])[0, 0] == pytest.approx(50 / 150)
    # contained: 25 / 100
    assert box_iou(a, [[0, 0, 5, 5]])[0, 0] == pytest.approx(0.25)
    # degenerate (zero-area) boxes give 0, not NaN
    assert box_iou([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0
    assert box_iou(np.zeros((0, 4)), a).shape == (0, 1)
    assert box_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_box_iou_matches_reference():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (2, 7, 2))
    wh = rng.uniform(1, 60, (2, 7, 2))
    a = np.concatenate([xy[0], xy[0] + wh[0]], 1)
    b = np.concatenate([xy[1], xy[1] + wh[1]], 1)[:5]
    iou = box_iou(a, b)
    assert iou.shape == (7, 5)
    np.testing.assert_allclose(iou, box_iou_reference(a, b), atol=1e-12)
    np.testing.assert_allclose(iou, box_iou(b, a).T, atol=1e-12)
    assert ((iou >= 0) & (iou <= 1)).all()


def test_constant_velocity_predicts_moving_box():
    core = IoUTracker(TrackerConfig(n_init=1))
    core.step(0, [BoxRecord(box(100, 200))])
    t = core.tracks[0]
    np.testing.assert_allclose(predict_box(t), box(100, 200))  # single observation predicts itself
    core.step(1, [BoxRecord(box(110, 195, 52, 104))])
    np.testing.assert_allclose(t.prediction, box(120, 190, 54, 108))  # one frame ahead
    # after two misses, the prediction is three frames past the last observation
    core.step(2, [])
    core.step(3, [])
    assert t.time_since_update == 2
    np.testing.assert_allclose(t.prediction, box(140, 180, 58, 116))


def test_prediction_uses_frame_gap():
    core = IoUTracker(TrackerConfig(n_init=1))
    core.step(0, [BoxRecord(box(100, 100))])
    core.step(1, [])
    core.step(2, [BoxRecord(box(120, 100))])  # 20 px over 2 frames -> 10 px / frame
    np.testing.assert_allclose(core.tracks[0].prediction, box(130, 100))


def test_iou_cost_gate():
    core = IoUTracker()
    core.step(0, [BoxRecord([0, 0, 10, 10])])
    c = iou_cost(core.tracks, [BoxRecord([0, 0, 10, 10]), BoxRecord([5, 0, 15, 10]), BoxRecord([50, 50, 60, 60])])
    np.testing.assert_allclose(c[0, :2], [0.0, 100 * (1 - 50 / 150)])
    assert c[0, 2] > 100  # IoU 0 < min_iou: above the gate
    c = iou_cost(core.tracks, [BoxRecord([5, 0, 15, 10])], min_iou=0.5)
    assert c[0, 0] > 100


def walk(n, x0, vx, y=200.0, vy=0.0):
    return [box(x0 + vx * f, y + vy * f) for f in range(n)]


def test_constant_walk_keeps_one_id():
    core = IoUTracker()
    ids = set()
    for f, b in enumerate(walk(30, 50, 12)):  # 12 px / frame, width 50
        res = core.step(f, [BoxRecord(b)])
        ids |= set(res.matches) | set(res.new_tracks)
    assert ids == {1}
    assert len(core.tracks) == 1 and core.tracks[0].is_confirmed
    assert core.tracks[0].frames == list(range(30))


@pytest.mark.parametrize("predict, bridged", [(True, True), (False, False)])
def test_occlusion_bridged_by_velocity(predict, bridged):
    # 10 px / frame with width 50: after 3 missing frames the box has moved 40 px (IoU 1/9 with the
    # last observed box), so only the velocity prediction bridges the gap.
    boxes = walk(20, 50, 10)
    core = IoUTracker(predict=predict)
    for f, b in enumerate(boxes):
        res = core.step(f, [] if 8 <= f <= 10 else [BoxRecord(b)])
        if f == 11:
            if bridged:
                assert res.matches == {1: 0} and not res.new_tracks
            else:
                assert not res.matches and res.new_tracks == {2: 0}
    ids = [t.track_id for t in core.tracks]
    assert ids == ([1] if bridged else [1, 2])
    if bridged:
        assert core.tracks[0].frames == [f for f in range(20) if not 8 <= f <= 10]


def test_crossing_boxes_keep_ids():
    # A walks right, B walks left; they are vertically offset (overlap 40 of 100 px) so their mutual
    # IoU never exceeds 0.25 < min_iou, while each matches its own constant-velocity prediction.
    a, b = walk(30, 0, 10, y=200), walk(30, 290, -10, y=260)
    assert box_iou(np.stack(a), np.stack(b)).max() < 0.3
    core = IoUTracker()
    for f in range(30):
        dets = [BoxRecord(a[f]), BoxRecord(b[f])] if f % 2 else [BoxRecord(b[f]), BoxRecord(a[f])]
        res = core.step(f, dets)
        if f == 0:
            assert res.new_tracks == {1: 0, 2: 1}
            first = {1: "b", 2: "a"}
        else:
            assert not res.new_tracks
            for tid, di in res.matches.items():
                assert ("a" if (di == 0) == bool(f % 2) else "b") == first[tid]
            assert len(res.matches) == 2
    assert sorted(t.track_id for t in core.tracks) == [1, 2]


def test_empty_frames():
    core = IoUTracker(TrackerConfig.tiny())
    res = core.step(0, [])
    assert not res.matches and not res.new_tracks and res.cost.shape == (0, 0)
    core.step(1, [BoxRecord(box(100, 100))])
    core.step(2, [BoxRecord(box(105, 100))])
    assert core.tracks[0].is_confirmed
    for f in range(3, 6):  # tiny: max_age 3 -> survives 3 misses, deleted at the 4th
        res = core.step(f, [])
        assert res.cost.shape == (1, 0) and not res.deleted
    res = core.step(6, [])
    assert res.deleted == [1] and core.tracks == []
    res = core.step(7, [BoxRecord(box(0, 0))])
    assert res.new_tracks == {2: 0}
    assert iou_cost([], [BoxRecord(box(0, 0))]).shape == (0, 1)
