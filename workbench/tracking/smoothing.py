"""Temporal smoothing of tracks: a One-Euro (or Gaussian) filter on rotations and translation.

A per-frame pose engine estimates every frame on its own, so a track trembles: joint rotations and,
worse, depth (read off the apparent size of a person) jitter from frame to frame. Smoothing a
:class:`~workbench.tracking.motion.TrackMotion` over time removes much of that jitter:

* rotations (global orientation and the 23 body joints) are filtered in HMR 2.0's 6D representation
  (continuous, unlike axis-angle or quaternions) and projected back onto SO(3) by Gram-Schmidt
  (:func:`~workbench.geometry.rotations.rot6d_to_rotmat`);
* the translation is filtered in metres of the motion's camera;
* time comes from the frame indices and ``fps``, so a gap (frames where the person was not detected)
  is a longer time step: the filters smooth less across it instead of treating it as one frame.

Methods: ``"one_euro"`` (Casiez et al. 2012; a low-pass whose cut-off rises with speed, so slow
motion is smoothed hard and fast motion is followed) and ``"gaussian"`` (a centred Gaussian window
in time, for comparison). By default both run without lag: the One-Euro filter forward then
backward (``zero_phase``), as tracks are smoothed offline with the whole video known; a causal
(forward-only) One-Euro filter lags behind motion, which shows up as pose error.

``strength`` in [0, 1] is the one knob (0 = off, the motion is returned unchanged):

* one_euro: minimum cut-off ``f = f0 * (f1 / f0) ** strength`` Hz, log-interpolated from
  ``min_cutoff_hz = (f0, f1) = (8, 0.5)`` (8 Hz barely touches 30-fps motion, 0.5 Hz is heavy);
* gaussian: window standard deviation ``strength * max_sigma_s`` seconds.

The One-Euro speed coefficients were chosen on the synthetic benchmark
(:mod:`workbench.tracking.smoothing_benchmark`): ``beta_rotation = 1`` cuts the bias on clean motion by a
third against 0.3 (7 vs 10 mm MPJPE at strength 0.5) for ~1 mm more error on 8-degree noise; a larger beta lets
the noise through (its speed estimate is noise too). Translation keeps 0.3: depth noise dominates.

    >>> smoothed = smooth_result(result, SmoothConfig(strength=0.5))    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, replace

import numpy as np

from workbench.tracking.motion import TrackMotion, apply_motion, track_motions

__all__ = ["METHODS", "SmoothConfig", "gaussian_filter", "one_euro_filter", "smooth_motion", "smooth_result"]

METHODS = ("one_euro", "gaussian")


@dataclass(frozen=True)
class SmoothConfig:
    """How strongly, and with which filter, to smooth a track.

    Attributes:
        strength: in [0, 1]; 0 = off. Applies to rotations, and to translation unless
            ``translation_strength`` is given.
        method: "one_euro" or "gaussian".
        translation_strength: in [0, 1] or None (= ``strength``); depth jitter is often the larger.
        zero_phase: one_euro only: filter forward then backward (no lag; needs the whole track).
        min_cutoff_hz: (at strength 0+, at strength 1) minimum cut-off of the One-Euro filter, Hz.
        beta_rotation: One-Euro speed coefficient for 6D rotations, seconds (per unit of 6D speed).
        beta_translation: One-Euro speed coefficient for translation, seconds per metre.
        d_cutoff_hz: One-Euro cut-off of its speed estimate, Hz (the paper's 1 Hz).
        max_sigma_s: gaussian only: the window's standard deviation at strength 1, seconds.
    """

    strength: float = 0.5
    method: str = "one_euro"
    translation_strength: float | None = None
    zero_phase: bool = True
    min_cutoff_hz: tuple[float, float] = (8.0, 0.5)
    beta_rotation: float = 1.0
    beta_translation: float = 0.3
    d_cutoff_hz: float = 1.0
    max_sigma_s: float = 0.15

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}.")
        for name in ("strength", "translation_strength"):
            value = getattr(self, name)
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if value is not None and not (number and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1] (0 = off, 1 = strongest); got {value!r}.")
        f0, f1 = self.min_cutoff_hz
        if not (f0 > 0 and f1 > 0):
            raise ValueError(f"min_cutoff_hz must be two positive frequencies (Hz); got {self.min_cutoff_hz}.")
        for name in ("beta_rotation", "beta_translation"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}.")
        if not (self.d_cutoff_hz > 0 and self.max_sigma_s > 0):
            raise ValueError("d_cutoff_hz and max_sigma_s must be positive.")

    @property
    def strengths(self) -> tuple[float, float]:
        """(rotation, translation) strengths."""
        t = self.strength if self.translation_strength is None else self.translation_strength
        return float(self.strength), float(t)

    def min_cutoff(self, strength: float) -> float:
        """One-Euro minimum cut-off, Hz, for a strength in (0, 1]."""
        f0, f1 = self.min_cutoff_hz
        return f0 * (f1 / f0) ** strength


def _alpha(cutoff_hz, dt: float):
    """Exponential-smoothing weight of a first-order low-pass at ``cutoff_hz`` for a step of ``dt`` s."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff_hz * dt))


def _one_euro_pass(x: np.ndarray, times: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    out = np.empty_like(x)
    out[0] = x[0]
    speed = np.zeros(x.shape[1:])
    for t in range(1, len(x)):
        dt = times[t] - times[t - 1]
        a_d = _alpha(d_cutoff, dt)
        speed = a_d * (x[t] - out[t - 1]) / dt + (1.0 - a_d) * speed
        a = _alpha(min_cutoff + beta * np.abs(speed), dt)
        out[t] = a * x[t] + (1.0 - a) * out[t - 1]
    return out


def one_euro_filter(x, times, min_cutoff: float, beta: float, d_cutoff: float = 1.0,
                    zero_phase: bool = True) -> np.ndarray:
    """The One-Euro filter (Casiez et al. 2012), each channel on its own.

    Args:
        x: (T, C) signal (any unit u). times: (T,) strictly increasing seconds.
        min_cutoff: cut-off at rest, Hz. beta: cut-off increase per unit speed, Hz / (u / s).
        d_cutoff: cut-off of the speed estimate, Hz.
        zero_phase: run forward, then backward over the forward output (no lag).

    Returns:
        (T, C) float64 filtered signal.
    """
    x, times = np.asarray(x, np.float64), _check_times(times, len(x))
    if len(x) == 0:
        return x.copy()
    out = _one_euro_pass(x, times, min_cutoff, beta, d_cutoff)
    if zero_phase:
        out = _one_euro_pass(out[::-1], -times[::-1], min_cutoff, beta, d_cutoff)[::-1]
    return np.ascontiguousarray(out)


def gaussian_filter(x, times, sigma_s: float) -> np.ndarray:
    """A centred Gaussian window in time (normalised where it is cut by the ends or by gaps).

    Args:
        x: (T, C) signal. times: (T,) strictly increasing seconds. sigma_s: standard deviation, s.

    Returns:
        (T, C) float64: each sample the weighted mean of the samples within 3 sigma of it.
    """
    x, times = np.asarray(x, np.float64), _check_times(times, len(x))
    lo = np.searchsorted(times, times - 3 * sigma_s, side="left")
    hi = np.searchsorted(times, times + 3 * sigma_s, side="right")
    out = np.empty_like(x)
    for t in range(len(x)):
        w = np.exp(-0.5 * ((times[lo[t]:hi[t]] - times[t]) / sigma_s) ** 2)
        out[t] = w @ x[lo[t]:hi[t]] / w.sum()
    return out


def _check_times(times, n: int) -> np.ndarray:
    times = np.asarray(times, np.float64).reshape(-1)
    if len(times) != n:
        raise ValueError(f"times has {len(times)} entries for a signal of {n} samples.")
    if n > 1 and not np.all(np.diff(times) > 0):
        raise ValueError("times (frame indices / fps) must be strictly increasing.")
    return times


def _filter(x: np.ndarray, times: np.ndarray, strength: float, beta: float, config: SmoothConfig) -> np.ndarray:
    """(T, ...) -> (T, ...) filtered over axis 0 with ``config.method`` at ``strength`` > 0."""
    flat = x.reshape(len(x), -1)
    if config.method == "gaussian":
        out = gaussian_filter(flat, times, strength * config.max_sigma_s)
    else:
        out = one_euro_filter(flat, times, config.min_cutoff(strength), beta, config.d_cutoff_hz,
                              config.zero_phase)
    return out.reshape(x.shape)


def smooth_motion(motion: TrackMotion, config: SmoothConfig | None = None) -> TrackMotion:
    """A track with its rotations (in 6D) and translation (in metres) filtered over time.

    Args:
        motion: one track (``frames`` strictly increasing, gaps allowed; ``fps`` > 0).
        config: :class:`SmoothConfig` (default: One-Euro at strength 0.5, zero phase).

    Returns:
        a new :class:`TrackMotion`: ``global_orient`` (T, 3, 3) and ``body_pose`` (T, 23, 3, 3) exact
        rotations, ``transl`` (T, 3) metres; frames, betas, observed and camera unchanged.
    """
    import torch

    from workbench.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d

    config = config or SmoothConfig()
    if not motion.fps > 0:
        raise ValueError(f"motion.fps must be positive; got {motion.fps!r}.")
    times = _check_times(np.asarray(motion.frames) / float(motion.fps), len(motion))
    s_rot, s_transl = config.strengths
    out = replace(motion, global_orient=motion.global_orient.copy(), body_pose=motion.body_pose.copy(),
                  transl=np.asarray(motion.transl, np.float64).copy())
    if len(motion) < 2:
        return out
    if s_rot > 0:
        rot6d = rotmat_to_rot6d(torch.as_tensor(motion.rotmats, dtype=torch.float64)).numpy()  # (T, 24, 6)
        rot6d = _filter(rot6d, times, s_rot, config.beta_rotation, config)
        mats = rot6d_to_rotmat(torch.as_tensor(rot6d)).numpy()  # (T, 24, 3, 3)
        out.global_orient, out.body_pose = mats[:, 0], mats[:, 1:]
    if s_transl > 0:
        out.transl = _filter(out.transl, times, s_transl, config.beta_translation, config)
    return out


def smooth_result(result, config: SmoothConfig | None = None, body=None):
    """Every track of a :class:`~workbench.tracking.pipeline.TrackingResult`, smoothed.

    Args:
        result: a tracking result (not changed).
        config: :class:`SmoothConfig`; strength 0 returns an unchanged copy.
        body: body model used to rebuild the records' joints (default ``result.body``).

    Returns:
        a new result: same tracks, frames, boxes and appearance; poses, translations and everything
        derived from them (pose / location vectors, 3D and 2D joints, cameras) smoothed.
    """
    config = config or SmoothConfig()
    out = copy.deepcopy(result)
    if config.strengths == (0.0, 0.0):
        return out
    for motion in track_motions(out).values():
        apply_motion(out, smooth_motion(motion, config), body=body, inplace=True)
    return out
