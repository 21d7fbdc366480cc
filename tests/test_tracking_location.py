"""Ridge location predictor: batched vs per-track reference, hand computation, constant velocity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench.tracking.location import (
    ALPHAS,
    num_duplicates,
    predict_location,
    predict_location_reference,
    query_time,
    ridge_predict_with_interval,
)


def _histories(T=6, H=7, seed=0):
    r = np.random.default_rng(seed)
    times = np.sort(r.choice(40, size=(T, H)), axis=-1).astype(float)
    times[0] = [3, 3, 3, 3, 4, 5, 6]  # padding copies
    return times, r.normal(3.5, 0.2, (T, H)), r.uniform(0, 1, (T, H)), r.uniform(0, 1, (T, H)), r.integers(0, 60, T)


def test_batched_matches_reference():
    times, n, x, y, tsu = _histories()
    fast, slow = predict_location(times, n, x, y, tsu), predict_location_reference(times, n, x, y, tsu)
    for k in ("x", "y", "log_depth", "x_pi", "y_pi", "log_depth_pi"):
        np.testing.assert_allclose(getattr(fast, k), getattr(slow, k), rtol=1e-9, err_msg=k)


def test_hand_computation_with_augmented_lstsq():
    t = np.array([10.0, 11, 12, 14, 15, 15, 17])
    v = np.array([0.30, 0.32, 0.33, 0.37, 0.40, 0.41, 0.44])
    alpha, tsu = ALPHAS["x"], 2
    # ridge on [1, t] with unpenalised intercept = least squares with one extra row [0, sqrt(alpha)] -> 0
    X = np.concatenate([np.stack([np.ones(7), t], 1), [[0.0, np.sqrt(alpha)]]])
    b, m = np.linalg.lstsq(X, np.concatenate([v, [0.0]]), rcond=None)[0]
    t_star = 17 + tsu + 1
    s = np.sqrt(np.sum((v - b - m * t) ** 2) / 5)
    pi = stats.t.ppf(0.975, 5) * s * np.sqrt(1 + 1 / 7 + (t_star - t.mean()) ** 2 / np.sum((t - t.mean()) ** 2))
    pred, got_pi = ridge_predict_with_interval(t[None], v[None], np.array([t_star]), alpha)
    assert pred[0] == pytest.approx(b + m * t_star, rel=1e-10)
    assert got_pi[0] == pytest.approx(pi, rel=1e-10)
    out = predict_location(t[None], v[None], v[None], v[None], np.array([tsu]))
    assert out.x_pi[0] == pytest.approx(pi / 2)  # one duplicate timestamp (15, 15)


def test_constant_velocity_track():
    t = np.arange(20, 27, dtype=float)[None]
    x, y = 0.2 + 0.01 * t, 0.6 - 0.005 * t
    logz = np.log(40.0) + 0 * t
    out = predict_location(t, logz, x, y, np.array([0]))
    # ridge shrinks the slope by sxx / (sxx + alpha) = 28 / 29.2 for x; the prediction is close, not exact
    assert out.x[0] == pytest.approx(0.2 + 0.01 * 27, abs=2e-3)
    assert out.y[0] == pytest.approx(0.6 - 0.005 * 27, abs=2e-3)
    assert out.depth[0] == pytest.approx(40.0)
    assert out.log_depth_pi[0] == pytest.approx(0.0, abs=1e-12) and out.depth_pi[0] == pytest.approx(1.0)
    # predictions move forward with time since update, capped at 48
    far = predict_location(t, logz, x, y, np.array([10]))
    assert far.x[0] > out.x[0]
    cap = predict_location(t, logz, x, y, np.array([48]))
    np.testing.assert_allclose(predict_location(t, logz, x, y, np.array([500])).x, cap.x)


def test_interval_widens_with_noise_and_horizon():
    r = np.random.default_rng(1)
    t = np.arange(7, dtype=float)[None]
    x = 0.5 + 0.01 * t + r.normal(0, 0.01, (1, 7))
    near = predict_location(t, 0 * t, x, x, np.array([0]))
    far = predict_location(t, 0 * t, x, x, np.array([20]))
    noisy = predict_location(t, 0 * t, x + r.normal(0, 0.05, (1, 7)), x, np.array([0]))
    assert far.x_pi[0] > near.x_pi[0] > 0
    assert noisy.x_pi[0] > near.x_pi[0]


def test_helpers_and_degenerate_history():
    assert num_duplicates(np.array([[3, 3, 3, 4, 5], [1, 2, 3, 4, 5]])).tolist() == [2, 0]
    assert query_time(np.array([10]), np.array([60]))[0] == 10 + 48 + 1
    t = np.full((1, 7), 5.0)  # a track seen once: 7 copies of its first detection
    out = predict_location(t, np.full((1, 7), 3.0), np.full((1, 7), 0.4), np.full((1, 7), 0.6), np.array([0]))
    assert out.x[0] == pytest.approx(0.4) and out.log_depth[0] == pytest.approx(3.0)
    assert np.isinf(out.x_pi[0]) and np.isinf(out.depth_pi[0])
    ref = predict_location_reference(t, np.full((1, 7), 3.0), np.full((1, 7), 0.4), np.full((1, 7), 0.6), [0])
    assert np.isinf(ref.x_pi[0])
    with pytest.raises(ValueError):
        ridge_predict_with_interval(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1), 1.0)
