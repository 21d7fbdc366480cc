"""A pose prior without mocap files: joint limits, procedural activities, orientations, motions.

HMR 2.0 trains on real images and draws its discriminator's "real" poses from CMU mocap; we can
ship neither, so poses come from here. Everything is a deterministic function of the generator:

* :func:`joint_limits` -- anatomical ranges per axis of the SMPL axis-angle of the 23 body joints
  (body frame at rest: y up, x to the body's left, z forward), e.g. knees bend one way only;
* :data:`ACTIVITIES` (see :mod:`workbench.data.activities`) -- walking, running, jumping, sitting,
  squatting, reaching, kicking, dancing, lying, standing, each a function of a phase, plus
  ``random``: blends of random poses within the limits, for unusual poses;
* :func:`sample_global_orient` -- the root rotation in HMR 2.0's camera frame (x right, y down,
  z forward), so a person standing upright and facing the camera has ``global_orient ~ (pi, 0, 0)``;
* :func:`sample_poses`, :func:`sample_motion`, :class:`MocapPrior` -- the public samplers.

Samples are plausible, not statistically faithful to real motion: there is no self-contact
model and no balance/physics. They cover the pose space broadly, which is what synthetic
training crops need.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from workbench.data.activities import (
    ACTIVITIES,
    BODY_JOINTS,
    MIRROR,
    Activity,
    PoseBuilder,
    keyframes,
    register_activity,
)

# ----------------------------------------------------------------------------- joint limits
# (x, y, z) ranges in radians for the left side and the midline; right = mirror (x, -y, -z).
_LIMITS = {
    "hip": ((-2.4, 0.7), (-1.0, 1.0), (-0.6, 1.5)),
    "knee": ((0.0, 2.6), (-0.15, 0.15), (-0.15, 0.15)),
    "ankle": ((-0.7, 1.0), (-0.4, 0.4), (-0.4, 0.4)),
    "foot": ((-0.6, 0.5), (-0.2, 0.2), (-0.2, 0.2)),
    "collar": ((-0.3, 0.3), (-0.4, 0.4), (-0.3, 0.6)),
    "shoulder": ((-2.1, 2.1), (-2.4, 1.4), (-1.9, 1.8)),
    "elbow": ((-0.8, 0.8), (-2.6, 0.0), (-0.3, 0.3)),
    "wrist": ((-0.8, 0.8), (-0.5, 0.5), (-1.2, 1.0)),
    "hand": ((-0.3, 0.3), (-0.3, 0.3), (-1.2, 0.3)),
    "spine1": ((-0.5, 1.0), (-0.5, 0.5), (-0.5, 0.5)),
    "spine2": ((-0.4, 0.7), (-0.4, 0.4), (-0.4, 0.4)),
    "spine3": ((-0.4, 0.7), (-0.4, 0.4), (-0.4, 0.4)),
    "neck": ((-0.6, 0.8), (-0.7, 0.7), (-0.5, 0.5)),
    "head": ((-0.6, 0.8), (-1.0, 1.0), (-0.5, 0.5)),
}


@functools.cache
def _joint_limits() -> np.ndarray:
    out = np.zeros((23, 3, 2))
    for j, name in enumerate(BODY_JOINTS):
        side, _, part = name.partition("_")
        if side not in ("left", "right"):
            part = name
        lim = np.array(_LIMITS[part], float)  # (3, 2), left
        if side == "right":  # mirror: y and z change sign, so their ranges swap ends
            lim[1:] = -lim[1:, ::-1]
        out[j] = lim
    out.flags.writeable = False
    return out


def joint_limits() -> np.ndarray:
    """Per-axis limits of the 23 body joints' axis-angle.

    Returns:
        (23, 3, 2) float64 ``[joint, axis, (lo, hi)]`` in radians, body frame (x left, y up,
        z forward); joint order as ``body_pose`` (SMPL joints 1..23). Left/right mirror images.
    """
    return _joint_limits().copy()


def within_limits(pose, tol: float = 1e-6) -> np.ndarray:
    """Whether each pose respects :func:`joint_limits`.

    Args:
        pose: (n, 24, 3) (global orient first, ignored) or (n, 23, 3) axis-angle; numpy or torch.
        tol: slack in radians.

    Returns:
        (n,) bool.
    """
    p = np.asarray(pose.detach().cpu() if isinstance(pose, torch.Tensor) else pose, float)
    body = p[:, 1:] if p.shape[1] == 24 else p
    lim = _joint_limits()
    return np.all((body >= lim[..., 0] - tol) & (body <= lim[..., 1] + tol), axis=(1, 2))


def clip_to_limits(body_pose: np.ndarray) -> np.ndarray:
    """Clip (n, 23, 3) axis-angle body poses into the limits, component by component."""
    lim = _joint_limits()
    return np.clip(body_pose, lim[..., 0], lim[..., 1])


# ----------------------------------------------------------------------------- "random" activity
_RANDOM_KEYS = (0.0, 0.25, 0.5, 0.75)


def _random_params(rng, n):
    """Four random key poses per sample: each component ~ N(neutral, 0.3 range), clipped."""
    lim = _joint_limits()
    lo, hi = lim[..., 0], lim[..., 1]
    neutral = np.clip(0.0, lo, hi)
    keys = rng.normal(neutral, 0.3 * (hi - lo), (n, len(_RANDOM_KEYS), 23, 3))
    return {"keys": np.clip(keys, lo, hi), "lean": rng.normal(0, 0.3, (n, len(_RANDOM_KEYS)))}


def _random(phase, p):
    """Smooth periodic blend of the key poses: the limits are a box, so blends stay inside."""
    n = len(phase)
    b = PoseBuilder(n)
    b.body = keyframes(phase, _RANDOM_KEYS, list(p["keys"].transpose(1, 0, 2, 3)))
    b.lean(forward=keyframes(phase, _RANDOM_KEYS, list(p["lean"].T)))
    return b


register_activity(Activity("random", _random_params, _random, (0.1, 0.3)))

DEFAULT_MIX = {
    "standing": 0.12, "walking": 0.14, "running": 0.09, "jumping": 0.07, "sitting": 0.1, "squatting": 0.07,
    "reaching": 0.1, "kicking": 0.05, "dancing": 0.1, "lying": 0.04, "random": 0.12,
}


# ----------------------------------------------------------------------------- orientation
@dataclass
class OrientationConfig:
    """How the root is oriented relative to the camera (degrees; ours, not from a paper).

    Attributes:
        yaw_std: spread of the heading around facing the camera.
        any_yaw_fraction: share of samples with a uniform heading (back and side views).
        roll_std: camera roll.
        arbitrary_fraction: share of uniformly random rotations, upside-down included.
    """

    yaw_std: float = 45.0
    any_yaw_fraction: float = 0.35
    roll_std: float = 5.0
    arbitrary_fraction: float = 0.03


def _generator(generator) -> np.random.Generator:
    """numpy Generator from None, an int seed, a numpy Generator or a torch.Generator (which is
    advanced, so consecutive calls differ but stay reproducible from its seed)."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
    return np.random.default_rng(generator)


def sample_global_orient(rng: np.random.Generator, root: np.ndarray, pitch_deg: np.ndarray,
                         any_yaw: np.ndarray, config: OrientationConfig | None = None) -> np.ndarray:
    """Camera-frame global orientation of n bodies.

    ``R = R_x(pi) R_x(pitch) R_z(roll) R_y(yaw) R_root``: the activity's root rotation (leaning,
    lying) in a y-up world, a heading about the world vertical, the camera's roll and downward
    pitch, and the flip from y-up to the camera's y-down frame.

    Args:
        rng: numpy Generator.
        root: (n, 3) axis-angle from the activity.
        pitch_deg: (n,) camera pitch (looking down > 0).
        any_yaw: (n,) bool, uniform heading for these samples.
        config: :class:`OrientationConfig`.

    Returns:
        (n, 3) axis-angle.
    """
    cfg = config or OrientationConfig()
    n = len(root)
    yaw = np.deg2rad(rng.normal(0.0, cfg.yaw_std, n))
    uniform = any_yaw | (rng.random(n) < cfg.any_yaw_fraction)
    yaw = np.where(uniform, rng.uniform(-np.pi, np.pi, n), yaw)
    roll = np.deg2rad(rng.normal(0.0, cfg.roll_std, n))
    e = np.zeros(n)
    R = (Rotation.from_rotvec(np.stack([np.pi + np.deg2rad(pitch_deg), e, e], -1))
         * Rotation.from_rotvec(np.stack([e, e, roll], -1))
         * Rotation.from_rotvec(np.stack([e, yaw, e], -1))
         * Rotation.from_rotvec(root))
    out = R.as_rotvec()
    arbitrary = rng.random(n) < cfg.arbitrary_fraction
    if arbitrary.any():
        out[arbitrary] = Rotation.random(int(arbitrary.sum()), random_state=rng).as_rotvec()
    return out


# ----------------------------------------------------------------------------- sampling
@dataclass
class PoseSample:
    """Sampled poses.

    Attributes:
        pose: (n, 24, 3) float32 axis-angle; [:, 0] is the camera-frame global orientation,
            [:, 1:] the body pose (within :func:`joint_limits`).
        activity: (n,) int64 index into ``activity_names``.
        phase: (n,) float64 in [0, 1).
        activity_names: names of the activity ids at sampling time.
    """

    pose: np.ndarray
    activity: np.ndarray
    phase: np.ndarray
    activity_names: tuple[str, ...] = field(default_factory=lambda: tuple(ACTIVITIES))

    @property
    def names(self) -> list[str]:
        return [self.activity_names[i] for i in self.activity]


def activity_id(name: str) -> int:
    names = list(ACTIVITIES)
    if name not in names:
        raise KeyError(f"unknown activity {name!r}; registered: {names}.")
    return names.index(name)


def _pose_activity(act: Activity, rng, phase: np.ndarray, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    b = act.pose(phase, act.params(rng, len(phase)))
    body = b.body + rng.normal(0.0, jitter, b.body.shape) if jitter > 0 else b.body
    return clip_to_limits(body), b.root


def sample_poses(n: int, generator=None, activity: str | None = None, mix: dict[str, float] | None = None,
                 orientation: OrientationConfig | None = None, jitter: float = 0.04) -> PoseSample:
    """Draw n poses from the procedural prior.

    Args:
        n: number of poses.
        generator: None, int seed, ``np.random.Generator`` or ``torch.Generator``.
        activity: one registered activity for all samples, or None to draw from ``mix``.
        mix: activity -> weight (normalised); default :data:`DEFAULT_MIX`.
        orientation: :class:`OrientationConfig` for the global orientation.
        jitter: std (radians) of independent noise added to every joint before clipping.

    Returns:
        :class:`PoseSample`.
    """
    rng = _generator(generator)
    names = list(ACTIVITIES)
    if activity is not None:
        ids = np.full(n, activity_id(activity))
    else:
        weights = dict(DEFAULT_MIX if mix is None else mix)
        unknown = set(weights) - set(names)
        if unknown:
            raise KeyError(f"mix names unknown activities {sorted(unknown)}; registered: {names}.")
        keys = list(weights)
        p = np.array([weights[k] for k in keys], float)
        ids = np.array([names.index(k) for k in keys])[rng.choice(len(keys), size=n, p=p / p.sum())]
    phase = rng.random(n)
    body = np.zeros((n, 23, 3))
    root = np.zeros((n, 3))
    pitch = np.zeros(n)
    any_yaw = np.zeros(n, bool)
    for a in np.unique(ids):
        idx = np.flatnonzero(ids == a)
        act = ACTIVITIES[names[a]]
        body[idx], root[idx] = _pose_activity(act, rng, phase[idx], jitter)
        pitch[idx] = rng.normal(*act.camera_pitch_deg, len(idx))
        any_yaw[idx] = act.any_yaw
    go = sample_global_orient(rng, root, pitch, any_yaw, orientation)
    pose = np.concatenate([go[:, None], body], axis=1).astype(np.float32)
    return PoseSample(pose=pose, activity=ids.astype(np.int64), phase=phase, activity_names=tuple(names))


def _smooth_noise(rng, num_frames: int, fps: float, shape: tuple, cutoff_hz: float) -> np.ndarray:
    """Band-limited noise (T, *shape) with unit std: a few random sinusoids below ``cutoff_hz``."""
    t = np.arange(num_frames) / fps
    k = 4
    freq = rng.uniform(0.05, cutoff_hz, (k, *shape))
    phi = rng.uniform(0, 2 * np.pi, (k, *shape))
    waves = np.sin(2 * np.pi * freq[None] * t.reshape(-1, *([1] * (len(shape) + 1))) + phi[None])
    return waves.sum(1) * np.sqrt(2.0 / k)


def sample_motion(activity: str, num_frames: int, fps: float = 30.0, generator=None,
                  orientation: OrientationConfig | None = None, jitter: float = 0.03) -> np.ndarray:
    """A smooth pose sequence of one activity.

    The activity's parameters are drawn once; the phase advances at a cadence drawn from the
    activity's ``cycles_per_second`` (varying by up to +-10 %, smoothly); every joint gets a
    small band-limited (< 1.5 Hz) wobble; the heading turns slowly (< ~20 deg/s).

    Args:
        activity: a registered activity name.
        num_frames: T.
        fps: frames per second.
        generator: None, int seed, numpy or torch generator.
        orientation: :class:`OrientationConfig` for the starting orientation.
        jitter: wobble amplitude in radians.

    Returns:
        (T, 24, 3) float32 axis-angle, global orientation (camera frame) first.
    """
    rng = _generator(generator)
    act = ACTIVITIES[list(ACTIVITIES)[activity_id(activity)]]
    T = int(num_frames)
    params = {k: np.repeat(v, T, axis=0) for k, v in act.params(rng, 1).items()}  # one draw for all frames
    cadence = rng.uniform(*act.cycles_per_second) * (1.0 + 0.1 * _smooth_noise(rng, T, fps, (), 0.3) / 1.5)
    phase = (rng.random() + np.cumsum(cadence) / fps) % 1.0
    b = act.pose(phase, params)
    body = clip_to_limits(b.body + jitter * _smooth_noise(rng, T, fps, (23, 3), 1.5))
    pitch = np.full(T, rng.normal(*act.camera_pitch_deg))
    start = sample_global_orient(rng, np.zeros((1, 3)), pitch[:1], np.array([act.any_yaw]), orientation)
    # Heading change about the world vertical, applied between the camera and the body's root.
    cam = Rotation.from_rotvec(np.array([[np.pi + np.deg2rad(pitch[0]), 0.0, 0.0]]))
    turn = np.deg2rad(20.0) * np.cumsum(_smooth_noise(rng, T, fps, (), 0.2)) / fps / 1.5
    heading = cam.inv() * Rotation.from_rotvec(start)  # everything after the camera flip and pitch
    go = (cam * Rotation.from_rotvec(np.stack([np.zeros(T), turn, np.zeros(T)], -1)) * heading
          * Rotation.from_rotvec(b.root)).as_rotvec()
    return np.concatenate([go[:, None], body], axis=1).astype(np.float32)


class MocapPrior:
    """Stand-in for HMR 2.0's CMU mocap file: "real" samples for the pose discriminator.

    Args:
        num_betas: shape coefficients per sample; betas ~ N(0, I).
        mix: activity weights (default :data:`DEFAULT_MIX`).
    """

    def __init__(self, num_betas: int = 10, mix: dict[str, float] | None = None) -> None:
        self.num_betas = num_betas
        self.mix = mix

    def sample(self, n: int, generator=None, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns body_pose (n, 23, 3, 3) rotation matrices and betas (n, num_betas)."""
        rng = _generator(generator)
        body = sample_poses(n, rng, mix=self.mix).pose[:, 1:]
        rotmats = Rotation.from_rotvec(body.reshape(-1, 3).astype(np.float64)).as_matrix().reshape(n, 23, 3, 3)
        betas = rng.standard_normal((n, self.num_betas))
        return (torch.as_tensor(rotmats, dtype=dtype, device=device),
                torch.as_tensor(betas, dtype=dtype, device=device))


__all__ = [
    "ACTIVITIES", "DEFAULT_MIX", "MIRROR", "MocapPrior", "OrientationConfig", "PoseSample", "activity_id",
    "clip_to_limits", "joint_limits", "sample_global_orient", "sample_motion", "sample_poses", "within_limits",
]
