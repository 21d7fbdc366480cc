"""PHALP cost: vectorised matrix vs double-loop reference, and each term's behaviour; Hungarian gate."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.tracking.assignment import hungarian_assign, hungarian_assign_reference
from workbench.tracking.cost import (
    BETAS,
    appearance_distance_embedding,
    appearance_distance_texels,
    pairwise_sq_l2,
    phalp_cost,
    phalp_cost_reference,
)


def _inputs(T=4, D=5, seed=0):
    r = np.random.default_rng(seed)
    return dict(
        track_pose=r.normal(0, 0.1, (T, 229)),
        det_pose=r.normal(0, 0.1, (D, 229)),
        track_xy=r.uniform(0, 1, (T, 2)),
        det_xy=r.uniform(0, 1, (D, 2)),
        track_z=r.uniform(20, 60, T),
        det_z=r.uniform(20, 60, D),
        x_pi=r.uniform(0, 0.1, T),
        y_pi=r.uniform(0, 0.1, T),
        depth_pi=np.exp(r.uniform(0, 0.5, T)),
        appearance=r.uniform(0, 2, (T, D)),
    )


def _one(**over):
    """One track vs one detection, everything equal unless overridden."""
    kw = dict(
        track_pose=np.zeros((1, 229)),
        det_pose=np.zeros((1, 229)),
        track_xy=np.full((1, 2), 0.5),
        det_xy=np.full((1, 2), 0.5),
        track_z=np.array([30.0]),
        det_z=np.array([30.0]),
        x_pi=np.array([0.05]),
        y_pi=np.array([0.05]),
        depth_pi=np.array([1.2]),
        appearance=None,
    )
    kw.update(over)
    return float(phalp_cost(**kw)[0, 0])


@pytest.mark.parametrize("distance_type", ["EQ_019", "EQ_010"])
@pytest.mark.parametrize("terms", ["APLN", "A", "P", "L", "N", "PL", ""])
def test_vectorised_matches_reference(distance_type, terms):
    kw = _inputs()
    fast = phalp_cost(**kw, distance_type=distance_type, terms=terms)
    slow = phalp_cost_reference(**kw, distance_type=distance_type, terms=terms)
    assert fast.shape == (4, 5)
    np.testing.assert_allclose(fast, slow, rtol=1e-10)


def test_reference_agrees_with_nan_and_degenerate_entries():
    kw = _inputs(3, 3, seed=1)
    kw["det_xy"][1] = np.nan
    kw["x_pi"][2] = np.inf
    kw["depth_pi"][0] = np.inf
    np.testing.assert_allclose(phalp_cost(**kw), phalp_cost_reference(**kw), rtol=1e-10)


def test_identical_pair_costs_one():
    assert _one() == pytest.approx(1.0)


def test_known_value_eq019():
    b0, b1, b2, b3 = BETAS["EQ_019"]
    pose = np.zeros((1, 229))
    pose[0, 0] = 0.5  # P = 0.25
    c = _one(det_pose=pose, det_xy=np.array([[0.5, 0.6]]), det_z=np.array([33.0]), appearance=np.array([[0.2]]))
    L, cxy = 0.1, np.hypot(0.05, 0.05)
    N, cn = abs(np.log(30 / 33)), abs(np.log(1 / 1.2))
    want = (
        (1 + b0 * 0.2) * (1 + b1 * 0.25) * np.exp(L / (0.1 + np.tanh(cxy)) / b2) * np.exp(N / (0.1 + np.tanh(cn)) / b3)
    )
    assert c == pytest.approx(want, rel=1e-12)


def test_monotonic_in_location_and_depth_and_softened_by_interval():
    d = [_one(det_xy=np.array([[0.5 + s, 0.5]])) for s in (0.0, 0.05, 0.1, 0.2)]
    assert np.all(np.diff(d) > 0)
    z = [_one(det_z=np.array([v])) for v in (30.0, 36.0, 45.0, 60.0)]
    assert np.all(np.diff(z) > 0)
    assert _one(det_z=np.array([15.0])) == pytest.approx(_one(det_z=np.array([60.0])))  # |log| symmetric
    far = dict(det_xy=np.array([[0.7, 0.5]]))
    assert _one(**far, x_pi=np.array([0.5])) < _one(**far, x_pi=np.array([0.01]))  # uncertain track tolerates more


def test_pose_clipped_and_camera_ignored():
    big = np.zeros((1, 229))
    big[0, 0] = 10.0
    huge = np.zeros((1, 229))
    huge[0, 0] = 100.0
    b1 = BETAS["EQ_019"][1]
    assert _one(det_pose=big) == pytest.approx(1 + b1 * 1.5)
    assert _one(det_pose=huge) == pytest.approx(1 + b1 * 1.5)
    assert _one(det_pose=big, distance_type="EQ_010") == pytest.approx(1 + BETAS["EQ_010"][1] * 1.2)
    cam = np.zeros((1, 229))
    cam[0, -3:] = 5.0  # the last 3 entries (camera) are not part of P
    assert _one(det_pose=cam) == pytest.approx(1.0)


def test_nan_becomes_zero_and_ablation_drops_terms():
    assert _one(det_xy=np.array([[np.nan, 0.5]])) == 0.0
    kw = _inputs()
    only_l = phalp_cost(**kw, terms="L")
    with_a = phalp_cost(**{**kw, "appearance": kw["appearance"] * 10}, terms="L")
    np.testing.assert_array_equal(only_l, with_a)  # A dropped: appearance does not matter
    np.testing.assert_array_equal(phalp_cost(**kw, terms=""), np.ones((4, 5)))
    with pytest.raises(ValueError):
        phalp_cost(**kw, terms="X")
    with pytest.raises(ValueError):
        phalp_cost(**kw, distance_type="EQ_999")


def test_empty_inputs():
    kw = _inputs()
    for T, D in ((0, 5), (4, 0)):
        sub = {
            k: (v[:T] if k.startswith(("track", "x_", "y_", "depth")) else v[:D] if k.startswith("det") else v[:T, :D])
            for k, v in kw.items()
        }
        assert phalp_cost(**sub).shape == (T, D)


def test_appearance_helpers():
    r = np.random.default_rng(2)
    a, b = r.normal(size=(3, 16)) * 100, r.normal(size=(4, 16)) * 100
    want = np.array([[np.sum((x / 1e3 - y / 1e3) ** 2) for y in b] for x in a])
    np.testing.assert_allclose(appearance_distance_embedding(a, b), want, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(pairwise_sq_l2(a, b), want * 1e6, rtol=1e-9)

    rgb_t, rgb_d = r.uniform(size=(2, 50, 3)), r.uniform(size=(3, 50, 3))
    m_t, m_d = r.uniform(size=(2, 50)) > 0.4, r.uniform(size=(3, 50)) > 0.4
    m_d[2] = False  # no common texel -> NaN
    got = appearance_distance_texels(rgb_t, m_t, rgb_d, m_d)
    for i in range(2):
        for j in range(2):
            common = m_t[i] & m_d[j]
            assert got[i, j] == pytest.approx(100 * np.mean((rgb_t[i, common] - rgb_d[j, common]) ** 2))
    assert np.isnan(got[:, 2]).all()


# -- assignment --------------------------------------------------------------------------------
def test_hungarian_optimal_and_gate():
    r = np.random.default_rng(3)
    for T, D in ((3, 3), (2, 4), (4, 2)):
        c = r.uniform(0, 150, (T, D))
        a = hungarian_assign(c)
        gated = np.minimum(c, 100 + 1e-5)
        assert all(c[i, j] <= 100 for i, j in a.matches)
        # the solver reached the brute-force optimum before rejecting gated pairs
        n_rejected = min(T, D) - len(a.matches)
        total = gated[a.matches[:, 0], a.matches[:, 1]].sum() + n_rejected * (100 + 1e-5)
        assert total == pytest.approx(hungarian_assign_reference(c))
        assert sorted([*a.matches[:, 0], *a.unmatched_tracks]) == list(range(T))
        assert sorted([*a.matches[:, 1], *a.unmatched_detections]) == list(range(D))


def test_hungarian_rejects_above_threshold_and_handles_empty():
    a = hungarian_assign(np.array([[1.0, 200.0], [300.0, 100.5]]))
    assert a.matches.tolist() == [[0, 0]]
    assert a.unmatched_tracks.tolist() == [1] and a.unmatched_detections.tolist() == [1]
    assert hungarian_assign(np.array([[np.nan]])).matches.shape == (0, 2)
    e = hungarian_assign(np.zeros((0, 3)))
    assert e.matches.shape == (0, 2) and e.unmatched_detections.tolist() == [0, 1, 2]
    e = hungarian_assign(np.zeros((2, 0)))
    assert e.unmatched_tracks.tolist() == [0, 1] and len(e.unmatched_detections) == 0
