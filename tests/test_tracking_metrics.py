"""Tracking metrics (TrackEval HOTA, py-motmetrics CLEAR/ID) on tiny hand-checked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("trackeval")
pytest.importorskip("motmetrics")

from workbench.evaluate.tracking_metrics import (  # noqa: E402
    PUBLISHED_MAX_IOU,
    box_iou_matrix,
    evaluate_tracking,
    evaluate_videos,
    iou_distance,
)


def walk(num_frames=10, swap_at=None, drop=None, shift=0.0):
    """Two people walking right, 100 px apart; optionally ids swapped from ``swap_at``, one dropped,
    or every box shifted by ``shift`` px."""
    rows = []
    for t in range(num_frames):
        for pid, x in ((1, 0.0), (2, 100.0)):
            if pid == drop:
                continue
            track = pid if swap_at is None or t < swap_at else 3 - pid
            rows.append((t, track, x + t + shift, 0.0, x + t + shift + 40, 80.0))
    return pd.DataFrame(rows, columns=["frame", "id", "x1", "y1", "x2", "y2"])


def test_perfect_tracking():
    m = evaluate_tracking(walk(), walk())
    assert m["HOTA"] == m["DetA"] == m["AssA"] == m["MOTA"] == m["IDF1"] == pytest.approx(1.0)
    assert m["IDs"] == 0 and m["precision"] == m["recall"] == 1.0


def test_id_swap_midway_matches_hand_computation():
    m = evaluate_tracking(walk(), walk(swap_at=5))
    assert m["IDs"] == 2 and m["DetA"] == pytest.approx(1.0)
    # each GT id shares 5 of its 10 frames with each prediction id: IoU-of-tracks 5 / (10 + 10 - 5)
    assert m["AssA"] == pytest.approx(1 / 3)
    assert m["HOTA"] == pytest.approx(np.sqrt(1 / 3))
    assert m["IDF1"] == pytest.approx(2 * 10 / (20 + 20))  # IDTP = 5 + 5
    assert m["MOTA"] == pytest.approx(1 - 2 / 20)


def test_missing_track_lowers_detection():
    m = evaluate_tracking(walk(), walk(drop=2))
    assert m["DetA"] == pytest.approx(0.5) and m["AssA"] == pytest.approx(1.0)
    assert m["MOTA"] == pytest.approx(0.5) and m["recall"] == 0.5 and m["FN"] == 10 and m["IDs"] == 0


def test_localisation_is_alpha_averaged():
    """Boxes 40 px wide shifted by 10 px: IoU 30/50 = 0.6, so a match at alpha <= 0.6 only (12 of 19)."""
    m = evaluate_tracking(walk(), walk(shift=10.0))
    assert m["DetA"] == pytest.approx(12 / 19)
    # TrackEval counts LocA as 1 at the alphas without matches: (12 * 0.6 + 7 * 1) / 19
    assert m["LocA"] == pytest.approx((12 * 0.6 + 7) / 19)


def test_empty_predictions_and_empty_ground_truth():
    gt = walk()
    none = gt.iloc[:0]
    for a, b in ((gt, none), (none, gt), (none, none)):
        m = evaluate_tracking(a, b)
        assert m["HOTA"] == m["MOTA"] == m["IDF1"] == 0.0 and m["IDs"] == 0
    assert evaluate_tracking(gt, none)["FN"] == 20 and evaluate_tracking(none, gt)["FP"] == 20


def test_evaluate_videos_overall_row():
    table = evaluate_videos([("a", walk(), walk()), ("b", walk(), walk(drop=2))])
    assert list(table.video) == ["a", "b", "overall"]
    overall = table.set_index("video").loc["overall"]
    assert overall.HOTA == pytest.approx((1 + np.sqrt(0.5)) / 2)  # mean over videos (published)
    assert overall.MOTA == pytest.approx(1 - 10 / 40)  # motmetrics OVERALL pools the videos
    assert overall.FN == 10 and overall.num_gt == 40


def test_person_id_column_and_gate():
    gt = walk().rename(columns={"id": "person_id"})
    assert evaluate_tracking(gt, walk())["MOTA"] == 1.0
    # IoU 0.6 passes the published gate (distance 0.4 <= 0.99) but not a strict one (0.3)
    assert evaluate_tracking(walk(), walk(shift=10.0))["MOTA"] == 1.0
    assert evaluate_tracking(walk(), walk(shift=10.0), max_iou=0.3)["MOTA"] == pytest.approx(-1.0)
    assert PUBLISHED_MAX_IOU == 0.99


def test_iou_distance_is_motmetrics_convention():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(box_iou_matrix(a, b), [[50 / 150, 0.0]])
    d = iou_distance(a, b, max_iou=0.99)
    assert d[0, 0] == pytest.approx(1 - 50 / 150) and np.isnan(d[0, 1])
    assert iou_distance(a, np.zeros((0, 4))).size == 0
