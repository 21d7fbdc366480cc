"""The PHALP association cost for every track-detection pair, as one vectorised matrix.

For track ``a`` (its latest *prediction*) and detection ``b`` (PHALP ``nn_matching._pdist``):

    P   = ||pose_a[:226] - pose_b[:226]||^2, clipped at 1.5 (EQ_019) or 1.2 (EQ_010)
    L   = ||xy_a - xy_b||                     joint-44 2D position, 256-canvas units / 256
    c_xy = sqrt(x_PI^2 + y_PI^2)               the track's location prediction interval
    N   = |log(z_a / z_b)|                    z = depth (camera t_z on the 256 canvas)
    c_n = |log(1 / depth_PI)|                 depth_PI = e^{n_PI}, as stored in the published ``loca``
    A   = appearance distance (precomputed (T, D), or the helpers below)

    cost = (1 + b0 A)(1 + b1 P) exp(L / (0.1 + tanh c_xy) / b2) exp(N / (0.1 + tanh c_n) / b3),  NaN -> 0

The prediction intervals soften the location terms: a track whose position is uncertain (long
occlusion, erratic history) tolerates a larger jump. ``terms`` drops any factor for ablations
(a dropped factor is 1). ``phalp_cost_reference`` is the same formula as a slow double loop.
"""

from __future__ import annotations

import math

import numpy as np

BETAS = {
    "EQ_019": (4.0536, 1.3070, 0.3792, 4.1658),  # 4DHumans track.py default
    "EQ_010": (3.8303, 1.5207, 0.4930, 4.5831),  # original PHALP / PoseTrack script
}
POSE_CLIP = {"EQ_019": 1.5, "EQ_010": 1.2}
POSE_DIMS = 226  # the 229-d pose vector without its camera (tx, ty, tz/200)
ALL_TERMS = "APLN"


def _check_terms(terms: str) -> str:
    unknown = set(terms) - set(ALL_TERMS)
    if unknown:
        raise ValueError(
            f"terms must be letters of {ALL_TERMS!r} (appearance, pose, location, nearness); got {terms!r}"
        )
    return terms


def _betas(distance_type: str) -> tuple[tuple[float, ...], float]:
    if distance_type not in BETAS:
        raise ValueError(f"unknown distance_type {distance_type!r}; choose from {sorted(BETAS)}")
    return BETAS[distance_type], POSE_CLIP[distance_type]


def pairwise_sq_l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances. a: (T, K), b: (D, K) -> (T, D), clipped at 0 against round-off."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.clip(r2, 0.0, None)


def appearance_distance_embedding(track_appe: np.ndarray, det_appe: np.ndarray) -> np.ndarray:
    """The published "A" mode: squared L2 between embeddings scaled by 1/1000.

    track_appe: (T, K), det_appe: (D, K) (K = 4096 for HMAR) -> (T, D).
    """
    return pairwise_sq_l2(np.asarray(track_appe) / 1e3, np.asarray(det_appe) / 1e3)


def appearance_distance_texels(
    track_rgb: np.ndarray, track_mask: np.ndarray, det_rgb: np.ndarray, det_mask: np.ndarray
) -> np.ndarray:
    """Texel-map ("T" mode) distance on the intersection of visible texels; NOT the published value.

    The published 'T' mode masks both UV maps to their common visible texels, encodes each with the
    HMAR autoencoder and takes 100 * ||e_t - e_d||^2. We have no such autoencoder, so this is the
    **mean squared colour difference over commonly visible texels, times 100**. Pairs with no common
    texel get NaN (which the cost turns into 0, as the published cost turns any NaN into 0; callers
    that prefer "unknown appearance" can ``np.nan_to_num`` it first).

    track_rgb: (T, M, C), det_rgb: (D, M, C) colours of M texels (any fixed flattening of the UV map);
    track_mask: (T, M), det_mask: (D, M) visibility (bool or {0,1}) -> (T, D).
    """
    tr, dr = np.asarray(track_rgb, np.float64), np.asarray(det_rgb, np.float64)
    tm, dm = np.asarray(track_mask, np.float64) > 0, np.asarray(det_mask, np.float64) > 0
    if len(tr) == 0 or len(dr) == 0:
        return np.zeros((len(tr), len(dr)))
    # sum over common texels of ||c_t - c_d||^2 = sum m_t m_d (|c_t|^2 + |c_d|^2 - 2 c_t.c_d)
    wt, wd = tm.astype(np.float64), dm.astype(np.float64)
    t2, d2 = (tr * tr).sum(-1) * wt, (dr * dr).sum(-1) * wd  # (T, M), (D, M)
    sq = t2 @ wd.T + wt @ d2.T - 2.0 * np.einsum("tmc,dmc->td", tr * wt[..., None], dr * wd[..., None])
    count = wt @ wd.T  # (T, D) common visible texels
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 100.0 * np.clip(sq, 0.0, None) / count / tr.shape[-1]
    return np.where(count > 0, out, np.nan)


def phalp_cost(
    track_pose: np.ndarray,
    det_pose: np.ndarray,
    track_xy: np.ndarray,
    det_xy: np.ndarray,
    track_z: np.ndarray,
    det_z: np.ndarray,
    x_pi: np.ndarray,
    y_pi: np.ndarray,
    depth_pi: np.ndarray,
    appearance: np.ndarray | None = None,
    distance_type: str = "EQ_019",
    terms: str = ALL_TERMS,
) -> np.ndarray:
    """PHALP cost for all T tracks x D detections, vectorised.

    Args:
        track_pose: (T, 229) predicted pose vectors; det_pose: (D, 229). Only the first 226 entries are used.
        track_xy: (T, 2) predicted joint-44 (origin) position, 256-canvas pixels / 256; det_xy: (D, 2).
        track_z: (T,) predicted depth (> 0, e^{n_p}); det_z: (D,) detected depth (camera t_z).
        x_pi, y_pi: (T,) half-widths of the 95 % prediction intervals of x and y (canvas / 256 units).
        depth_pi: (T,) e^{n_PI}, the exponentiated log-depth interval (as in the published ``loca``).
        appearance: (T, D) appearance distance A, or None (A = 0).
        distance_type: "EQ_019" (default, 4DHumans) or "EQ_010" (PHALP PoseTrack).
        terms: which factors to keep, a subset of "APLN"; dropped factors are 1.

    Returns:
        (T, D) float64 cost; NaN entries replaced by 0 (published behaviour).
    """
    terms = _check_terms(terms)
    (b0, b1, b2, b3), clip = _betas(distance_type)
    T, D = len(track_pose), len(det_pose)
    cost = np.ones((T, D))
    if T == 0 or D == 0:
        return cost
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if "A" in terms and appearance is not None:
            A = np.asarray(appearance, np.float64)
            if A.shape != (T, D):
                raise ValueError(f"appearance must be (T, D) = {(T, D)}, got {A.shape}")
            cost = cost * (1.0 + b0 * A)
        if "P" in terms:
            P = pairwise_sq_l2(np.asarray(track_pose)[:, :POSE_DIMS], np.asarray(det_pose)[:, :POSE_DIMS])
            cost = cost * (1.0 + b1 * np.minimum(P, clip))
        if "L" in terms:
            L = np.sqrt(pairwise_sq_l2(track_xy, det_xy))  # (T, D)
            c_xy = np.sqrt(np.asarray(x_pi, np.float64) ** 2 + np.asarray(y_pi, np.float64) ** 2)  # (T,)
            cost = cost * np.exp(L / (0.1 + np.tanh(c_xy))[:, None] / b2)
        if "N" in terms:
            ratio = np.asarray(track_z, np.float64)[:, None] / np.asarray(det_z, np.float64)[None, :]
            N = np.abs(np.log(ratio))  # = -log(min(r, 1/r))
            c_n = np.abs(np.log(1.0 / np.asarray(depth_pi, np.float64)))  # (T,)
            cost = cost * np.exp(N / (0.1 + np.tanh(c_n))[:, None] / b3)
    return np.nan_to_num(cost, nan=0.0)


def phalp_cost_reference(
    track_pose,
    det_pose,
    track_xy,
    det_xy,
    track_z,
    det_z,
    x_pi,
    y_pi,
    depth_pi,
    appearance=None,
    distance_type: str = "EQ_019",
    terms: str = ALL_TERMS,
) -> np.ndarray:
    """Slow, obviously-correct double loop over (track, detection) pairs; same arguments as ``phalp_cost``."""
    terms = _check_terms(terms)
    (b0, b1, b2, b3), clip = _betas(distance_type)
    T, D = len(track_pose), len(det_pose)
    out = np.ones((T, D))
    for a in range(T):
        for b in range(D):
            c = 1.0
            if "A" in terms and appearance is not None:
                c *= 1.0 + b0 * float(appearance[a][b])
            if "P" in terms:
                d = [float(track_pose[a][k]) - float(det_pose[b][k]) for k in range(POSE_DIMS)]
                c *= 1.0 + b1 * min(sum(v * v for v in d), clip)
            if "L" in terms:
                L = math.hypot(float(track_xy[a][0]) - float(det_xy[b][0]), float(track_xy[a][1]) - float(det_xy[b][1]))
                c_xy = math.sqrt(float(x_pi[a]) ** 2 + float(y_pi[a]) ** 2)
                c *= _safe_exp(L / (0.1 + _tanh(c_xy)) / b2)
            if "N" in terms:
                N = _abs_log(float(track_z[a]) / float(det_z[b])) if float(det_z[b]) != 0 else math.nan
                c_n = _abs_log(1.0 / float(depth_pi[a])) if float(depth_pi[a]) != 0 else math.inf
                c *= _safe_exp(N / (0.1 + _tanh(c_n)) / b3)
            out[a, b] = 0.0 if math.isnan(c) else c
    return np.nan_to_num(out, nan=0.0)


def _tanh(x: float) -> float:
    return math.nan if math.isnan(x) else math.tanh(x)


def _abs_log(x: float) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    return math.inf if x == 0 or math.isinf(x) else abs(math.log(x))


def _safe_exp(x: float) -> float:
    if math.isnan(x):
        return math.nan
    return math.inf if x > 709 else math.exp(x)
