"""AVA-style action metrics: AP against a hand-computed example and a slow reference, empty classes, groups."""

import numpy as np
import pytest

from workbench.action.metrics import (
    average_precision,
    average_precision_reference,
    evaluate_actions,
    smooth_scores,
)


def test_ap_hand_computed():
    # Ranked labels 1 0 1 0 1: precision at the positives 1, 2/3, 3/5; the envelope keeps them
    # (each is the best from its rank on), so AP = (1 + 2/3 + 3/5) / 3.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 0, 1])
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # Interpolation matters: ranked 0 1 1 -> precision 1/2, 2/3 at the positives; the envelope lifts
    # the first to 2/3, so AP = 2/3 (not (1/2 + 2/3) / 2).
    assert average_precision([0.9, 0.8, 0.7], [0, 1, 1]) == pytest.approx(2 / 3)
    # A positive the detector missed (AVA's unmatched ground-truth box) caps recall: AP halves here.
    assert average_precision([0.9, 0.1], [1, 0], num_positives=2) == pytest.approx(0.5)
    assert average_precision([0.2, 0.9], [1, 0]) == pytest.approx(0.5)
    assert average_precision([0.9, 0.2], [1, 0]) == 1.0
    assert np.isnan(average_precision([0.3, 0.4], [0, 0]))


def test_ap_matches_slow_reference():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(1, 40))
        scores = np.round(rng.random(n), 1)  # ties on purpose
        labels = rng.random(n) < 0.3
        extra = int(rng.integers(0, 3))
        if labels.sum() + extra == 0:
            continue
        fast = average_precision(scores, labels, int(labels.sum()) + extra)
        slow = average_precision_reference(scores, labels, int(labels.sum()) + extra)
        assert fast == pytest.approx(slow), trial


def test_smooth_scores_matches_loop():
    rng = np.random.default_rng(1)
    scores, det, k = rng.random((2, 3, 12, 4)), rng.random((2, 3, 12)) < 0.6, 2
    out = smooth_scores(scores, det, k)
    for i in range(2):
        for p in range(3):
            for t in range(12):
                window = [s for s in range(max(0, t - k), min(12, t + k + 1)) if det[i, p, s]]
                want = scores[i, p, window].mean(0) if window else scores[i, p, t]
                np.testing.assert_allclose(out[i, p, t], want)
    np.testing.assert_array_equal(smooth_scores(scores, det, 0), scores)


def _toy_split():
    """(N=2, P=1, T=4, C=3): class a perfectly ranked, b inverted, c never positive."""
    labels = np.zeros((2, 1, 4, 3))
    scores = np.zeros((2, 1, 4, 3))
    labels[0, 0, :2, 0] = 1
    scores[..., 0] = [[[0.9, 0.8, 0.1, 0.2]], [[0.3, 0.1, 0.2, 0.0]]]
    labels[1, 0, 0, 1] = 1
    scores[..., 1] = [[[0.9, 0.8, 0.7, 0.6]], [[0.1, 0.5, 0.5, 0.5]]]
    scores[..., 2] = 0.5
    return scores, labels, np.ones((2, 1, 4), bool)


def test_empty_class_is_nan_listed_and_excluded():
    scores, labels, det = _toy_split()
    m = evaluate_actions(scores, labels, det, ["a", "b", "c"])
    assert m.ap["a"] == 1.0 and m.ap["b"] == pytest.approx(1 / 8)  # b's positive ranks last of 8
    assert np.isnan(m.ap["c"]) and m.empty_classes == ["c"]
    assert m.mAP == pytest.approx((1 + 1 / 8) / 2)
    assert m.num_positives == {"a": 2, "b": 1, "c": 0} and m.num_samples == 8
    table = m.table(percent=True)
    assert list(table["class"]) == ["a", "b", "c"] and table["AP"].isna().sum() == 1


def test_group_means_and_group_validation():
    scores, labels, det = _toy_split()
    groups = {"a": "PM", "b": "PI", "c": "PI"}
    m = evaluate_actions(scores, labels, det, ["a", "b", "c"], groups)
    assert m.group_mAP == pytest.approx({"PM": 1.0, "PI": 1 / 8})
    assert m.summary(percent=True)["PM"] == pytest.approx(100.0)
    all_empty = evaluate_actions(scores, labels, det, ["a", "b", "c"], {"a": "PM", "b": "PM", "c": "OM"})
    assert np.isnan(all_empty.group_mAP["OM"])  # a group with only empty classes: NaN, still reported
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        evaluate_actions(scores, labels, det, ["a", "b", "c"], {"a": "PM", "b": "PI"})
    with pytest.raises(ValueError, match="unknown \\['z'\\]"):
        evaluate_actions(scores, labels, det, ["a", "b", "c"], {**groups, "z": "OM"})


def test_only_detected_frames_are_scored_and_missed_positives_count_on_request():
    scores, labels, det = _toy_split()
    det = det.copy()
    det[0, 0, 1] = False  # a positive of class a undetected
    kept = evaluate_actions(scores, labels, det, ["a", "b", "c"])
    assert kept.ap["a"] == 1.0 and kept.num_positives["a"] == 1 and kept.num_samples == 7
    missed = evaluate_actions(scores, labels, det, ["a", "b", "c"], count_missed=True)
    assert missed.ap["a"] == pytest.approx(0.5)
    scores[0, 0, 1, 0] = np.nan  # NaN where nothing is scored is fine; at a scored frame it is an error
    evaluate_actions(scores, labels, det, ["a", "b", "c"])
    scores[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate_actions(scores, labels, det, ["a", "b", "c"])
