"""PHALP's location predictor: per-track ridge regression on time with Student-t prediction intervals.

Over a track's history (7 detections in the published tracker, initialised with 7 copies of the first
one) each of three signals is regressed on time with features [1, t]:

    log-depth  n = log(t_z)      alpha 5.0
    x of joint 44 (canvas / 256) alpha 1.2
    y of joint 44 (canvas / 256) alpha 2.0

sklearn's ``Ridge`` (default ``fit_intercept=True``) centres the data, so the intercept is not
penalised and the constant feature vanishes; in closed form, with tm, ym the means,

    slope = sum (t - tm)(y - ym) / (sum (t - tm)^2 + alpha),   intercept = ym - slope * tm.

The prediction is made at ``t* = t_last + min(time_since_update, 48) + 1`` with the 95 % interval

    PI = t_{0.975, n-2} * s * sqrt(1 + 1/n + (t* - tm)^2 / sum (t - tm)^2),  s^2 = sum resid^2 / (n - 2)

divided by ``1 + #duplicate timestamps`` (the padding copies). ``predict_location`` is batched over
tracks (all tracks share the history length H); ``predict_location_reference`` is the slow per-track
version built on ``numpy.linalg.lstsq`` with augmented ridge rows.

Degenerate history (all timestamps equal, e.g. a track seen once): the published formula gives
0 * inf = NaN, which the cost then turns into a 0 cost (a match with anything). We instead return an
infinite interval (``degenerate_pi = inf``): the location terms fall back to their softest gate
(tanh -> 1) without claiming a perfect match. This is our choice; the published code's handling of
this case was not verified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHAS = {"log_depth": 5.0, "x": 1.2, "y": 2.0}
MAX_HORIZON = 48
HISTORY = 7


@dataclass
class LocationPrediction:
    """Predicted joint-44 position and depth for T tracks. All fields (T,).

    x, y: joint 44 on the 256 canvas / 256; log_depth: log t_z; x_pi, y_pi, log_depth_pi: interval
    half-widths in the same units. ``depth`` = e^{log_depth} and ``depth_pi`` = e^{log_depth_pi} are the
    values the published ``loca`` vector stores and ``phalp_cost`` expects.
    """

    x: np.ndarray
    y: np.ndarray
    log_depth: np.ndarray
    x_pi: np.ndarray
    y_pi: np.ndarray
    log_depth_pi: np.ndarray

    @property
    def depth(self) -> np.ndarray:
        return np.exp(self.log_depth)

    @property
    def depth_pi(self) -> np.ndarray:
        return np.exp(self.log_depth_pi)

    @property
    def xy(self) -> np.ndarray:
        """(T, 2) predicted joint-44 position."""
        return np.stack([self.x, self.y], -1)


def ridge_predict_with_interval(
    times: np.ndarray,
    values: np.ndarray,
    t_query: np.ndarray,
    alpha: float,
    confidence: float = 0.95,
    degenerate_pi: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched 1-D ridge regression ``value ~ [1, t]`` and its Student-t prediction interval.

    times, values: (T, H); t_query: (T,) -> (prediction (T,), half-width (T,)), before the
    duplicate-timestamp division. Needs H >= 3 (n - 2 degrees of freedom).
    """
    t, v = np.asarray(times, np.float64), np.asarray(values, np.float64)
    n = t.shape[-1]
    if n < 3:
        raise ValueError(f"need at least 3 history entries for n-2 dof, got {n}")
    # 1. Centred closed-form ridge (intercept unpenalised, as sklearn)
    tm, vm = t.mean(-1, keepdims=True), v.mean(-1, keepdims=True)
    sxx = ((t - tm) ** 2).sum(-1)  # (T,)
    slope = ((t - tm) * (v - vm)).sum(-1) / (sxx + alpha)
    intercept = vm[:, 0] - slope * tm[:, 0]
    pred = intercept + slope * np.asarray(t_query, np.float64)
    # 2. Prediction interval from the residuals of the fit
    resid = v - (intercept[:, None] + slope[:, None] * t)
    s_err = np.sqrt((resid**2).sum(-1) / (n - 2))
    tq = stats.t.ppf(0.5 + confidence / 2, n - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = tq * s_err * np.sqrt(1.0 + 1.0 / n + (np.asarray(t_query) - tm[:, 0]) ** 2 / sxx)
    return pred, np.where(sxx > 0, pi, degenerate_pi)


def query_time(last_time: np.ndarray, time_since_update: np.ndarray) -> np.ndarray:
    """Published prediction time t_last + min(time_since_update, 48) + 1. Inputs (T,) frames."""
    return np.asarray(last_time, np.float64) + np.minimum(np.asarray(time_since_update), MAX_HORIZON) + 1


def num_duplicates(times: np.ndarray) -> np.ndarray:
    """(T, H) -> (T,) number of history entries whose timestamp repeats an earlier one."""
    t = np.sort(np.asarray(times), axis=-1)
    return (np.diff(t, axis=-1) == 0).sum(-1)


def predict_location(
    times: np.ndarray,
    log_depth: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    time_since_update: np.ndarray,
    alphas: dict[str, float] = ALPHAS,
    degenerate_pi: float = np.inf,
) -> LocationPrediction:
    """Predict where each of T tracks will be, from a history of H entries (batched).

    Args:
        times: (T, H) frame index of each history entry (padding copies repeat the first time).
        log_depth: (T, H) log t_z; x, y: (T, H) joint-44 position, canvas / 256.
        time_since_update: (T,) frames since the track's last matched detection (0 if just updated).
    """
    t = np.asarray(times, np.float64)
    t_star = query_time(t.max(-1), time_since_update)
    div = 1.0 + num_duplicates(t)
    out = {}
    for name, vals in (("log_depth", log_depth), ("x", x), ("y", y)):
        out[name], pi = ridge_predict_with_interval(t, vals, t_star, alphas[name], degenerate_pi=degenerate_pi)
        out[name + "_pi"] = pi / div
    return LocationPrediction(**out)


def predict_location_reference(
    times,
    log_depth,
    x,
    y,
    time_since_update,
    alphas: dict[str, float] = ALPHAS,
    degenerate_pi: float = np.inf,
) -> LocationPrediction:
    """Per-track loop: ridge by least squares on centred [t] with an augmented row sqrt(alpha)."""
    T = len(times)
    res = {k: np.zeros(T) for k in ("x", "y", "log_depth", "x_pi", "y_pi", "log_depth_pi")}
    for i in range(T):
        t = np.asarray(times[i], np.float64)
        n = len(t)
        t_star = t.max() + min(int(time_since_update[i]), MAX_HORIZON) + 1
        dup = n - len(np.unique(t))
        for name, vals in (("log_depth", log_depth[i]), ("x", x[i]), ("y", y[i])):
            v = np.asarray(vals, np.float64)
            tc, vc = t - t.mean(), v - v.mean()
            A = np.concatenate([tc[:, None], [[np.sqrt(alphas[name])]]])  # ridge = LS with one extra row
            slope = np.linalg.lstsq(A, np.concatenate([vc, [0.0]]), rcond=None)[0][0]
            b = v.mean() - slope * t.mean()
            res[name][i] = b + slope * t_star
            sxx = float((tc**2).sum())
            if sxx == 0:
                res[name + "_pi"][i] = degenerate_pi
                continue
            s = np.sqrt(((v - (b + slope * t)) ** 2).sum() / (n - 2))
            pi = stats.t.ppf(0.975, n - 2) * s * np.sqrt(1 + 1 / n + (t_star - t.mean()) ** 2 / sxx)
            res[name + "_pi"][i] = pi / (1 + dup)
    return LocationPrediction(**res)
