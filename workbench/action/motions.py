"""Procedural action motions: per-frame anatomical channels for one person, with frame labels.

A person's motion is a table of *channels* (angles in radians, heading, speed), one value per
frame, written by a sequence of whole-body segments (stand, walk, sit down, fall ...) and then
overwritten, on the arms (and a little spine/head), by arm actions (wave, drink, hand shake ...)
with a smooth weight. Blending in channel space is linear in anatomical angles, so overlapping
actions (walk + wave, sit + drink) stay anatomically meaningful. :func:`channels_to_pose` turns the
table into SMPL axis-angle with :class:`workbench.data.activities.PoseBuilder` (conventions there:
body frame x left, y up, z forward; hip ``flex`` > 0 thigh forward, arm ``flex`` forward swing,
``abd`` sideways raise, root ``lean`` > 0 forward).

Every segment labels the frames it covers with its class (``lie`` after a fall is unlabelled);
arm actions label the frames where their weight is >= 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.data.activities import PoseBuilder, _bump, keyframes
from workbench.data.pose_prior import clip_to_limits

SIDES = ("left", "right")
CHANNELS = (
    "hip_l", "hip_r", "abd_l", "abd_r", "knee_l", "knee_r", "ankle_l", "ankle_r",
    "spine", "twist", "head", "head_turn", "lean", "lean_side",
    "arm_l", "arm_r", "arm_abd_l", "arm_abd_r", "arm_twist_l", "arm_twist_r", "elbow_l", "elbow_r",
    "wrist_l", "wrist_r",
)
CH = {name: i for i, name in enumerate(CHANNELS)}

# (lo, hi) durations in seconds of the non-cyclic actions; the minimum sets the shortest clip.
DURATION = {
    "jump": (0.8, 1.1), "sit_down": (1.0, 1.6), "stand_up": (1.0, 1.6), "fall": (0.7, 1.1), "turn": (0.7, 1.4),
    "bend": (1.2, 2.2), "wave": (1.0, 2.5), "drink": (1.2, 2.5), "lift": (1.0, 1.8), "throw": (0.7, 1.1),
    "hand_shake": (1.2, 2.5), "hug": (1.5, 3.0), "push": (0.6, 1.0), "hand_over": (1.0, 2.0), "point_at": (1.0, 2.5),
    "stand": (0.5, 0.5), "sit": (0.5, 0.5), "walk": (0.5, 0.5), "run": (0.5, 0.5),
}


@dataclass
class Motion:
    """One person's motion over T frames.

    Attributes:
        ch: (T, len(CHANNELS)) anatomical channels, radians.
        heading: (T,) radians about the world vertical (0 faces +z, the camera).
        speed: (T,) forward speed along the heading, m/s (negative: backwards).
        flight: (T,) extra pelvis height above ground contact (jumps), metres.
        labels: {class name: (T,) bool}.
    """

    ch: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    flight: np.ndarray
    labels: dict = field(default_factory=dict)

    def label(self, name: str, frames) -> None:
        T = len(self.heading)
        self.labels.setdefault(name, np.zeros(T, bool))[frames] = True


def new_motion(T: int, heading: float, rng: np.random.Generator) -> tuple[Motion, dict]:
    """A motion filled with this person's neutral standing pose; returns it and the person's style."""
    style = {"abd": rng.uniform(0.05, 0.25), "elbow": rng.uniform(0.05, 0.4), "knee": rng.uniform(0.0, 0.15),
             "arm": rng.uniform(-0.1, 0.15), "head": rng.uniform(-0.1, 0.25)}
    m = Motion(np.zeros((T, len(CHANNELS))), np.full(T, float(heading)), np.zeros(T), np.zeros(T))
    _standing(m, slice(0, T), style, rng)
    return m, style


def _put(m: Motion, frames: slice, **values) -> None:
    for k, v in values.items():
        m.ch[frames, CH[k]] = v


def _progress(frames: slice) -> np.ndarray:
    n = frames.stop - frames.start
    return np.linspace(0.0, 1.0, n, endpoint=False) + 0.5 / max(n, 1)


# ----------------------------------------------------------------------------- whole-body segments
def _standing(m, frames, s, rng):
    n = frames.stop - frames.start
    sway = 0.03 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * np.arange(n) / 30 + rng.uniform(0, 6.3))
    _put(m, frames, hip_l=0.05, hip_r=0.05, abd_l=0.05, abd_r=0.05, knee_l=s["knee"], knee_r=s["knee"], ankle_l=0.03,
         ankle_r=0.03, spine=0.05 + sway, twist=0.0, head=s["head"], head_turn=sway, lean=0.0, lean_side=sway,
         arm_l=s["arm"], arm_r=s["arm"], arm_abd_l=s["abd"], arm_abd_r=s["abd"], arm_twist_l=0.0, arm_twist_r=0.0,
         elbow_l=s["elbow"], elbow_r=s["elbow"], wrist_l=0.1, wrist_r=0.1)


def _sitting_values(s):
    return dict(hip_l=1.45, hip_r=1.45, abd_l=0.15, abd_r=0.15, knee_l=1.5, knee_r=1.5, ankle_l=0.0, ankle_r=0.0,
                spine=0.15, lean=-0.05, arm_l=0.5, arm_r=0.5, elbow_l=1.0, elbow_r=1.0)


def _sitting(m, frames, s, rng):
    _standing(m, frames, s, rng)
    _put(m, frames, **_sitting_values(s))


def _gait(m, frames, s, rng, run: bool):
    n = frames.stop - frames.start
    cadence = rng.uniform(1.3, 1.6) if run else rng.uniform(0.8, 1.05)  # strides per second
    w = 2 * np.pi * (rng.random() + cadence * np.arange(n) / 30.0)
    hip_a, knee_a = (rng.uniform(0.55, 0.85), rng.uniform(1.2, 1.8)) if run else (rng.uniform(0.3, 0.5),
                                                                                   rng.uniform(0.7, 1.0))
    lean = rng.uniform(0.1, 0.25) if run else rng.uniform(0.0, 0.1)
    for side, off in (("l", 0.0), ("r", np.pi)):
        hip = (0.3 if run else 0.05) + hip_a * np.sin(w + off)
        knee = (0.35 if run else 0.1) + knee_a * _bump(w + off, 0.3 if run else -0.3, 0.8)
        arm = -(0.7 if run else 0.35) * np.sin(w + off)
        _put(m, frames, **{f"hip_{side}": hip + lean, f"knee_{side}": knee, f"ankle_{side}": 0.25 * np.sin(w + off - 1.2),
                           f"arm_{side}": arm, f"elbow_{side}": (1.4 if run else s["elbow"]) + 0.5 * np.clip(arm, 0, None)})
    _put(m, frames, twist=-0.1 * np.sin(w), lean=lean, spine=0.05)
    m.speed[frames] = (rng.uniform(2.2, 3.0) if run else rng.uniform(1.0, 1.6)) * (1 + 0.05 * np.sin(w / 2))


def _transition(m, frames, start: dict, end: dict, bump: dict | None = None):
    """Ease every channel from ``start`` to ``end`` values over the frames, plus optional mid bumps."""
    a = 0.5 - 0.5 * np.cos(np.pi * _progress(frames))
    for k in set(start) | set(end):
        v0 = start.get(k, m.ch[frames.start, CH[k]])
        v1 = end.get(k, m.ch[frames.start, CH[k]])
        m.ch[frames, CH[k]] = (1 - a) * v0 + a * v1
    for k, h in (bump or {}).items():
        m.ch[frames, CH[k]] += h * np.sin(np.pi * a)


def _sit_down(m, frames, s, rng):
    _transition(m, frames, {}, _sitting_values(s), {"lean": rng.uniform(0.4, 0.6), "hip_l": 0.4, "hip_r": 0.4})


def _stand_up(m, frames, s, rng):
    stand = {k: m.ch[frames.start, CH[k]] for k in _sitting_values(s)}
    _sitting(m, slice(frames.start, frames.start + 1), s, rng)
    sit = {k: m.ch[frames.start, CH[k]] for k in _sitting_values(s)}
    _transition(m, frames, sit, stand, {"lean": rng.uniform(0.5, 0.7), "hip_l": 0.5, "hip_r": 0.5})


def _jump(m, frames, s, rng):
    p = _progress(frames)
    d = rng.uniform(0.6, 1.0)
    t = [0.0, 0.3, 0.5, 0.75, 0.9]
    lean = keyframes(p, t, [0.0, 0.5 * d, -0.05, 0.15, 0.3 * d])
    hip = keyframes(p, t, [0.05, 1.1 * d, -0.05, 0.3, 0.7 * d])
    knee = keyframes(p, t, [0.1, 1.8 * d, 0.05, 0.4, 1.1 * d])
    arm = keyframes(p, t, [0.1, -0.6, rng.uniform(2.0, 2.8), 1.4, 0.5])
    _put(m, frames, lean=lean, hip_l=hip + lean, hip_r=hip + lean, knee_l=knee, knee_r=knee, arm_l=arm, arm_r=arm,
         ankle_l=keyframes(p, t, [0.0, -0.4, 0.7, 0.4, -0.2]), ankle_r=keyframes(p, t, [0.0, -0.4, 0.7, 0.4, -0.2]))
    m.flight[frames] = rng.uniform(0.2, 0.45) * np.sin(np.pi * np.clip((p - 0.42) / 0.4, 0, 1))


def _fall(m, frames, s, rng):
    """Forward (onto the front, arms bracing) or backward (onto the back); ends lying on the floor."""
    direction = rng.choice([-1.0, 1.0])
    end = dict(lean=direction * np.pi / 2, hip_l=0.1, hip_r=0.25, knee_l=0.2, knee_r=0.4, spine=0.0,
               arm_l=1.2 + 0.8 * direction, arm_r=1.0 + 0.8 * direction, elbow_l=0.4, elbow_r=0.6)
    _transition(m, frames, {}, end, {"knee_l": 0.9, "knee_r": 0.9, "hip_l": 0.6, "hip_r": 0.6})
    after = slice(frames.stop, len(m.heading))
    _put(m, after, **end)


def _turn(m, frames, s, rng):
    angle = rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 2, np.pi)
    a = 0.5 - 0.5 * np.cos(np.pi * _progress(frames))
    m.heading[frames] = m.heading[frames.start] + angle * a
    m.heading[frames.stop:] = m.heading[frames.start] + angle
    if m.speed[frames].max() <= 0:  # turning on the spot: small steps
        w = 2 * np.pi * 2.0 * _progress(frames) * (frames.stop - frames.start) / 30
        for side, off in (("l", 0.0), ("r", np.pi)):
            step = 0.25 * np.clip(np.sin(w + off), 0, None)
            _put(m, frames, **{f"hip_{side}": 0.05 + step, f"knee_{side}": 0.1 + 2 * step})
    m.ch[frames, CH["head_turn"]] += 0.3 * np.sign(angle) * np.sin(np.pi * a)


def _bend(m, frames, s, rng):
    p = _progress(frames)
    depth = rng.uniform(0.8, 1.3)
    down = keyframes(p, [0.0, 0.35, 0.65], [0.0, 1.0, 1.0])
    lean, spine = 0.6 * depth * down, 0.5 * depth * down
    _put(m, frames, lean=lean, spine=spine, hip_l=lean + 0.05, hip_r=lean + 0.05, knee_l=0.3 * down, knee_r=0.3 * down,
         arm_l=0.9 * (lean + spine), arm_r=0.9 * (lean + spine), head=-0.3 * down)


SEGMENTS = {"stand": _standing, "sit": _sitting, "walk": lambda m, f, s, r: _gait(m, f, s, r, False),
            "run": lambda m, f, s, r: _gait(m, f, s, r, True), "sit_down": _sit_down, "stand_up": _stand_up,
            "jump": _jump, "fall": _fall, "turn": _turn, "bend": _bend}


def add_segment(m: Motion, kind: str, frames: slice, style: dict, rng, label: bool = True) -> None:
    """Write a whole-body segment over ``frames`` (and label it, unless ``label`` is False)."""
    SEGMENTS[kind](m, frames, style, rng)
    if label:
        m.label(kind, frames)


# ----------------------------------------------------------------------------- arm actions
def _arm_values(kind: str, p: np.ndarray, rng, side: str) -> dict:
    """Target channels (n,) of an arm action at progress p in [0, 1); ``side`` is 'l' or 'r'."""
    if kind == "wave":
        f = rng.uniform(1.5, 2.5) * 2 * np.pi * p * 2
        return {f"arm_{side}": 0.3, f"arm_abd_{side}": rng.uniform(2.2, 2.6), f"elbow_{side}": 0.9 + 0.5 * np.sin(f),
                f"arm_twist_{side}": -0.3}
    if kind == "drink":
        return {f"arm_{side}": rng.uniform(0.5, 0.7), f"arm_abd_{side}": 0.35, f"elbow_{side}": 2.4,
                f"arm_twist_{side}": 0.4, f"wrist_{side}": 0.4, "head": -0.3 * np.sin(np.pi * p)}
    if kind == "lift":
        up = keyframes(p, [0.0, 0.3, 0.8], [0.0, 0.0, 1.0])
        low = 1.0 - up
        return {f"arm_{s}": 0.2 + 1.1 * up + 0.8 * low for s in "lr"} | {
            f"elbow_{s}": 0.2 + 1.3 * up for s in "lr"} | {"lean": 0.7 * low, "spine": 0.4 * low,
                                                         "hip_l": 0.75 * low, "hip_r": 0.75 * low,
                                                         "knee_l": 0.5 * low, "knee_r": 0.5 * low}
    if kind == "throw":
        t = [0.0, 0.45, 0.7, 0.9]
        return {f"arm_{side}": keyframes(p, t, [0.3, 2.6, 1.3, 0.6]), f"arm_abd_{side}": keyframes(p, t, [0.2, 0.6, 0.3, 0.2]),
                f"elbow_{side}": keyframes(p, t, [0.3, 1.6, 0.1, 0.3]),
                "twist": keyframes(p, t, [0.0, 0.4, -0.3, 0.0]) * (1 if side == "r" else -1)}
    if kind == "hand_shake":
        return {f"arm_{side}": 0.75 + 0.1 * np.sin(2 * np.pi * 2.5 * p * 2), f"arm_abd_{side}": 0.1,
                f"elbow_{side}": 0.7, f"arm_twist_{side}": 0.3}
    if kind == "hug":
        return {f"arm_{s}": 1.2 for s in "lr"} | {f"arm_abd_{s}": 1.1 for s in "lr"} | {
            f"elbow_{s}": 1.5 for s in "lr"} | {f"arm_twist_{s}": 1.0 for s in "lr"} | {"head_turn": 0.5}
    if kind == "push":
        ext = keyframes(p, [0.0, 0.4, 0.7], [0.0, 0.0, 1.0])
        return {f"arm_{s}": 1.35 for s in "lr"} | {f"elbow_{s}": 1.8 - 1.6 * ext for s in "lr"} | {
            f"arm_abd_{s}": 0.15 for s in "lr"} | {"lean": 0.25 * ext}
    if kind == "hand_over":
        return {f"arm_{side}": 0.95, f"elbow_{side}": 0.6, f"arm_abd_{side}": 0.1, f"arm_twist_{side}": 0.2}
    if kind == "point_at":
        return {f"arm_{side}": 1.5, f"elbow_{side}": 0.05, f"arm_abd_{side}": 0.15, "head": 0.0}
    raise KeyError(kind)


ARM_ACTIONS = ("wave", "drink", "lift", "throw", "hand_shake", "hug", "push", "hand_over", "point_at")


def add_arm_action(m: Motion, kind: str, frames: slice, side: str, rng, label: bool = True,
                   ramp: float = 0.25) -> None:
    """Blend an arm action into ``frames`` with a weight that eases in and out over ``ramp`` seconds;
    label the frames whose weight is >= 0.5."""
    p = _progress(frames)
    n = len(p)
    r = max(ramp * 30 / n, 1e-3)
    w = np.clip(np.minimum(p, 1 - p) / r, 0, 1)
    w = 0.5 - 0.5 * np.cos(np.pi * w)
    for k, v in _arm_values(kind, p, rng, side).items():
        c = m.ch[frames, CH[k]]
        m.ch[frames, CH[k]] = (1 - w) * c + w * v
    if label:
        m.label(kind, np.arange(frames.start, frames.stop)[w >= 0.5])


def recoil(m: Motion, frames: slice, rng) -> None:
    """Being pushed: a quick step back with a backward lean (unlabelled)."""
    p = _progress(frames)
    back = np.sin(np.pi * np.clip((p - 0.55) / 0.45, 0, 1))
    m.speed[frames] = -rng.uniform(0.8, 1.5) * back
    m.ch[frames, CH["lean"]] -= 0.25 * back
    m.ch[frames, CH["hip_l"]] += 0.4 * back


# ----------------------------------------------------------------------------- to SMPL
def channels_to_pose(ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, C) channels -> body pose (T, 23, 3) axis-angle (within the joint limits) and the root's
    extra rotation (T, 3) axis-angle in the body frame (forward / side lean)."""
    c = {k: ch[:, i] for k, i in CH.items()}
    b = PoseBuilder(len(ch))
    b.spine(flex=c["spine"], twist=c["twist"])
    b.head(flex=c["head"], turn=c["head_turn"])
    for side, s in zip(SIDES, "lr"):
        b.leg(side, flex=c[f"hip_{s}"], abd=c[f"abd_{s}"], knee=np.maximum(c[f"knee_{s}"], 0), ankle=c[f"ankle_{s}"],
              twist=0.1)
        b.arm(side, flex=c[f"arm_{s}"], abd=c[f"arm_abd_{s}"], twist=c[f"arm_twist_{s}"],
              elbow=np.maximum(c[f"elbow_{s}"], 0), wrist=c[f"wrist_{s}"], fingers=0.3)
    b.lean(forward=c["lean"], side=c["lean_side"])
    return clip_to_limits(b.body), b.root
