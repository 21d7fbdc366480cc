"""Procedural activities: SMPL body poses as functions of a phase and a few random parameters.

No mocap is used. Each activity is an :class:`Activity`: ``params(rng, n)`` draws per-sample
parameters (stride, depth, style, ...), and ``pose(phase, params)`` turns phases in [0, 1) into
joint rotations, so a fixed set of parameters and a moving phase gives a motion
(:func:`workbench.data.pose_prior.sample_motion`).

Frame and signs. Rotations are SMPL axis-angle in the body frame at rest (T-pose): y up, x to the
body's left, z forward. A :class:`PoseBuilder` writes anatomical angles (radians) into that form,
for the left limb; the right limb gets the mirrored rotation ``(x, -y, -z)``, so every activity
is left/right symmetric by construction. Anatomical signs used below:
* hip ``flex`` > 0 moves the thigh forward (axis-angle -x); knee ``knee`` >= 0 bends it (+x);
* ankle ``ankle`` > 0 points the toes down (plantar flexion, +x);
* spine/neck ``flex`` > 0 bends forward (+x);
* arm ``flex`` swings the arm forward from hanging (pi/2: forward horizontal, pi: overhead),
  ``abd`` raises it sideways (pi/2: T-pose); elbow ``elbow`` >= 0 bends it;
* root ``lean`` > 0 tilts the whole body forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from workbench.body.keypoints import SMPL_JOINT_NAMES

BODY_JOINTS = SMPL_JOINT_NAMES[1:]  # the 23 joints of ``body_pose``
J = {name: i for i, name in enumerate(BODY_JOINTS)}
MIRROR = np.array([1.0, -1.0, -1.0])  # left axis-angle -> right axis-angle


def _side_joints(side: str, part: str) -> int:
    return J[f"{side}_{part}"]


def _swing_twist(rest: np.ndarray, direction: np.ndarray, twist: np.ndarray) -> np.ndarray:
    """Axis-angle (n, 3) that turns the unit bone ``rest`` (3,) onto ``direction`` (n, 3) by the
    shortest arc, after a twist of ``twist`` (n,) radians about the bone itself."""
    d = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    axis = np.cross(rest, d)
    s = np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arctan2(s, (d @ rest)[:, None])
    swing = np.where(s > 1e-9, axis / np.maximum(s, 1e-12) * angle, 0.0)
    return (Rotation.from_rotvec(swing) * Rotation.from_rotvec(rest[None] * twist[:, None])).as_rotvec()


_HANG = Rotation.from_rotvec([0.0, 0.0, -np.pi / 2])  # left arm from T-pose to hanging at the side


class PoseBuilder:
    """Accumulates a batch of n body poses, (n, 23, 3) axis-angle, from anatomical angles."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.body = np.zeros((n, 23, 3))
        self.root = np.zeros((n, 3))  # extra root rotation (axis-angle, body frame): leaning, lying

    def _set(self, side: str, part: str, left_value: np.ndarray) -> None:
        value = np.broadcast_to(left_value, (self.n, 3))
        self.body[:, _side_joints(side, part)] = value if side == "left" else value * MIRROR

    def spine(self, flex=0.0, bend=0.0, twist=0.0) -> None:
        """Forward flexion, lateral bend and twist of the whole spine, shared by spine1/2/3."""
        for name, w in (("spine1", 0.4), ("spine2", 0.3), ("spine3", 0.3)):
            self.body[:, J[name]] = w * np.stack(np.broadcast_arrays(flex, twist, bend, np.zeros(self.n))[:3], -1)

    def head(self, flex=0.0, turn=0.0, tilt=0.0) -> None:
        """Nod (forward > 0), turn and tilt, 40 % in the neck and 60 % in the head joint."""
        v = np.stack(np.broadcast_arrays(flex, turn, tilt, np.zeros(self.n))[:3], -1)
        self.body[:, J["neck"]] = 0.4 * v
        self.body[:, J["head"]] = 0.6 * v

    def leg(self, side: str, flex=0.0, abd=0.0, twist=0.0, knee=0.0, ankle=0.0, toe=0.0) -> None:
        """Hip as swing-twist of the thigh, then hinge knee, ankle and toes."""
        flex, abd, twist, knee, ankle, toe = (np.broadcast_to(np.asarray(a, float), (self.n,))
                                              for a in (flex, abd, twist, knee, ankle, toe))
        direction = np.stack([np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1)
        self._set(side, "hip", _swing_twist(np.array([0.0, -1.0, 0.0]), direction, twist))
        zero = np.zeros(self.n)
        self._set(side, "knee", np.stack([knee, zero, zero], -1))
        self._set(side, "ankle", np.stack([ankle, zero, 0.1 * twist], -1))
        self._set(side, "foot", np.stack([toe, zero, zero], -1))

    def leg_on_ground(self, side: str, lean, thigh, shin, foot_pitch=0.0, abd=0.0, twist=0.0) -> None:
        """A leg given world angles (forward from straight down) of thigh and shin, for a body whose
        root leans by ``lean``; the ankle keeps the foot at ``foot_pitch`` (0: flat)."""
        lean, thigh, shin = (np.asarray(a, float) for a in (lean, thigh, shin))
        self.leg(side, flex=thigh + lean, abd=abd, twist=twist, knee=np.maximum(thigh - shin, 0.0),
                 ankle=shin + foot_pitch)

    def arm(self, side: str, flex=0.0, abd=0.1, twist=0.0, elbow=0.0, wrist=0.0, fingers=0.0) -> None:
        """Shoulder as swing-twist of the upper arm *from hanging* (so elbow flexion stays in the
        plane of a forward/backward swing), the collar taking a share above shoulder height; then
        elbow flexion, wrist flexion and a finger curl (the SMPL hand joint). ``twist`` > 0 turns
        the arm inwards (a bent forearm moves across the body)."""
        flex, abd, twist, elbow, wrist, fingers = (np.broadcast_to(np.asarray(a, float), (self.n,))
                                                   for a in (flex, abd, twist, elbow, wrist, fingers))
        direction = np.stack([np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], -1)
        elevation = np.arccos(np.clip(-direction[:, 1], -1.0, 1.0))  # 0 hanging, pi overhead
        shrug = 0.25 * np.clip(elevation - 1.6, 0.0, None)
        zero = np.zeros(self.n)
        self._set(side, "collar", np.stack([zero, zero, shrug], -1))
        # The collar already raised the shoulder: aim the arm in the collar's rotated frame.
        local_dir = Rotation.from_rotvec(np.stack([zero, zero, -shrug], -1)).apply(direction)
        swing = Rotation.from_rotvec(_swing_twist(np.array([0.0, -1.0, 0.0]), local_dir, twist))
        self._set(side, "shoulder", (swing * _HANG).as_rotvec())
        self._set(side, "elbow", np.stack([zero, -elbow, zero], -1))
        self._set(side, "wrist", np.stack([zero, 0.2 * wrist, -wrist], -1))
        self._set(side, "hand", np.stack([zero, zero, -fingers], -1))

    def lean(self, forward=0.0, side=0.0, twist=0.0) -> None:
        self.root = np.stack(np.broadcast_arrays(forward, twist, side, np.zeros(self.n))[:3], -1)


@dataclass(frozen=True)
class Activity:
    """A registered activity.

    Attributes:
        name: registry key.
        params: ``(rng, n) -> dict`` of parameter arrays, samples along axis 0.
        pose: ``(phase (n,), params) -> PoseBuilder`` with body (n, 23, 3) and root (n, 3).
        cycles_per_second: (lo, hi) phase speed for motions, Hz.
        camera_pitch_deg: (mean, std) of the camera's downward pitch for this activity.
        any_yaw: the body's heading is uniform (lying people are seen from every side) instead of
            mostly facing the camera.
    """

    name: str
    params: Callable[[np.random.Generator, int], dict]
    pose: Callable[[np.ndarray, dict], PoseBuilder]
    cycles_per_second: tuple[float, float] = (0.2, 0.5)
    camera_pitch_deg: tuple[float, float] = (5.0, 10.0)
    any_yaw: bool = False


ACTIVITIES: dict[str, Activity] = {}


def register_activity(activity: Activity) -> Activity:
    """Add (or replace) an activity; a notebook can register its own without editing the package."""
    ACTIVITIES[activity.name] = activity
    return activity


def list_activities() -> list[str]:
    return list(ACTIVITIES)


# ----------------------------------------------------------------------------- helpers
def _u(rng, lo, hi, n):
    return rng.uniform(lo, hi, n)


def _choice(rng, n, k, p=None):
    return rng.choice(k, size=n, p=p)


def keyframes(phase: np.ndarray, times, values) -> np.ndarray:
    """Periodic smooth (cosine-eased) interpolation of keyframes.

    Args:
        phase: (n,) in [0, 1).
        times: (K,) increasing keyframe times in [0, 1).
        values: K values at those times, each a scalar, (n,) or (n, ...) per sample.

    Returns:
        (n, ...) interpolated values; the curve wraps from the last key to the first.
    """
    t = np.asarray(times, float)
    v = np.stack(np.broadcast_arrays(*values))  # (K, n, ...) or (K,) for scalars
    if v.ndim == 1:
        v = np.broadcast_to(v[:, None], (len(t), len(phase)))
    t_ext = np.append(t, t[0] + 1.0)
    p = np.where(phase < t[0], phase + 1.0, phase)
    k = np.clip(np.searchsorted(t_ext, p, side="right") - 1, 0, len(t) - 1)
    a = (p - t_ext[k]) / (t_ext[k + 1] - t_ext[k])
    ease = (0.5 - 0.5 * np.cos(np.pi * a)).reshape(-1, *([1] * (v.ndim - 2)))
    cols = np.arange(len(phase))
    return v[k, cols] * (1.0 - ease) + v[(k + 1) % len(t), cols] * ease


def _bump(angle: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump of ``angle`` (radians) around ``centre``."""
    d = np.angle(np.exp(1j * (angle - centre)))
    return np.exp(-0.5 * (d / width) ** 2)


# The built-in activities live in their own module; importing it registers them.
from workbench.data import activity_library  # noqa: E402, F401
