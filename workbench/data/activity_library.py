"""The built-in procedural activities (standing, walking, running, jumping, sitting, squatting,
reaching, kicking, dancing, lying), registered on import. Conventions: see
:mod:`workbench.data.activities`."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from workbench.data.activities import (
    PoseBuilder,
    Activity,
    register_activity,
    keyframes,
    _u,
    _choice,
    _bump,
)

def _standing_params(rng, n):
    return {"style": _choice(rng, n, 6, [0.35, 0.15, 0.12, 0.12, 0.14, 0.12]), "weight": _u(rng, -1, 1, n),
            "knee": _u(rng, 0.0, 0.25, n), "abd": _u(rng, 0.05, 0.35, n), "flex": _u(rng, -0.3, 0.4, n),
            "elbow": _u(rng, 0.05, 0.6, n), "turn": rng.normal(0, 0.3, n), "nod": _u(rng, -0.2, 0.4, n),
            "wave_side": _choice(rng, n, 2)}


def _standing(phase, p):
    n = len(phase)
    b = PoseBuilder(n)
    w = 2 * np.pi * phase
    b.spine(flex=0.05 + 0.03 * np.sin(w), bend=0.05 * p["weight"])
    b.head(flex=p["nod"], turn=p["turn"] + 0.1 * np.sin(w))
    for side, s in (("left", 1.0), ("right", -1.0)):
        load = np.clip(s * p["weight"], 0, 1)  # contrapposto: the unloaded leg bends
        b.leg(side, flex=0.05 + 0.15 * (1 - load), abd=0.05 + 0.08 * load, knee=p["knee"] + 0.3 * (1 - load),
              twist=0.1, ankle=0.05)
    style = p["style"]
    for side, waving in (("left", p["wave_side"] == 0), ("right", p["wave_side"] == 1)):
        flex, abd, elbow, twist = p["flex"] + 0.05 * np.sin(w), p["abd"], p["elbow"], np.zeros(n)
        hips = style == 1  # hands on hips
        flex, abd, elbow, twist = (np.where(hips, -0.2, flex), np.where(hips, 0.75, abd),
                                   np.where(hips, 1.9, elbow), np.where(hips, 1.2, twist))
        crossed = style == 2  # arms crossed on the chest
        flex, abd, elbow, twist = (np.where(crossed, 0.5, flex), np.where(crossed, 0.05, abd),
                                   np.where(crossed, 2.2, elbow), np.where(crossed, 1.0, twist))
        phone = (style == 3) & waving  # one hand at the ear
        flex, abd, elbow = np.where(phone, 0.5, flex), np.where(phone, 0.35, abd), np.where(phone, 2.4, elbow)
        wave = (style == 4) & waving  # waving: upper arm raised, forearm swinging
        flex, abd, elbow = (np.where(wave, 0.4, flex), np.where(wave, 2.2, abd),
                            np.where(wave, 0.9 + 0.5 * np.sin(4 * w), elbow))
        holding = style == 5  # hands in front, holding something
        flex, elbow = np.where(holding, 0.45, flex), np.where(holding, 1.4, elbow)
        b.arm(side, flex=flex, abd=abd, elbow=elbow, twist=twist, wrist=0.2, fingers=0.3)
    return b


def _walking_params(rng, n):
    return {"hip": _u(rng, 0.3, 0.55, n), "knee": _u(rng, 0.7, 1.1, n), "arm": _u(rng, 0.15, 0.5, n),
            "elbow": _u(rng, 0.1, 0.5, n), "lean": _u(rng, 0.0, 0.12, n), "turn": rng.normal(0, 0.25, n),
            "abd": _u(rng, 0.05, 0.2, n)}


def _gait(phase, p, b, stance_knee=0.1, swing_peak=-0.3, hip_bias=0.05):
    w = 2 * np.pi * phase
    for side, off in (("left", 0.0), ("right", np.pi)):
        hip = hip_bias + p["hip"] * np.sin(w + off)
        knee = stance_knee + p["knee"] * _bump(w + off, swing_peak, 0.8) + 0.15 * _bump(w + off, 2.2, 0.4)
        ankle = 0.25 * np.sin(w + off - 1.2)
        b.leg(side, flex=hip, knee=knee, ankle=ankle, abd=0.04, twist=0.1)
        # Arms swing against the leg of the same side; the elbow bends as the arm comes forward.
        arm = -p["arm"] * np.sin(w + off)
        b.arm(side, flex=arm, abd=p["abd"], elbow=p["elbow"] + 0.5 * np.clip(arm, 0, None), wrist=0.1,
              fingers=0.3)
    return w


def _walking(phase, p):
    b = PoseBuilder(len(phase))
    w = _gait(phase, p, b)
    b.spine(flex=0.05, twist=-0.08 * np.sin(w))
    b.head(flex=0.1, turn=p["turn"])
    b.lean(forward=p["lean"])
    return b


def _running_params(rng, n):
    return {"hip": _u(rng, 0.55, 0.9, n), "knee": _u(rng, 1.2, 1.9, n), "arm": _u(rng, 0.4, 0.9, n),
            "elbow": _u(rng, 1.2, 1.8, n), "lean": _u(rng, 0.1, 0.3, n), "turn": rng.normal(0, 0.15, n),
            "abd": _u(rng, 0.1, 0.3, n)}


def _running(phase, p):
    b = PoseBuilder(len(phase))
    w = _gait(phase, p, b, stance_knee=0.35, swing_peak=0.3, hip_bias=0.3)
    b.spine(flex=0.1, twist=-0.15 * np.sin(w))
    b.head(flex=-p["lean"] * 0.8, turn=p["turn"])
    b.lean(forward=p["lean"])
    return b


_JUMP_T = [0.0, 0.3, 0.5, 0.7, 0.9]


def _jumping_params(rng, n):
    return {"style": _choice(rng, n, 3, [0.45, 0.3, 0.25]), "depth": _u(rng, 0.6, 1.0, n),
            "arms": _u(rng, 2.2, 3.0, n), "turn": rng.normal(0, 0.2, n)}


def _jumping(phase, p):
    """Countermovement (0), tuck (1) and star (2) jumps: crouch, take-off, flight, landing."""
    b = PoseBuilder(len(phase))
    d, tuck, star = p["depth"], p["style"] == 1, p["style"] == 2
    hip = keyframes(phase, _JUMP_T, [0.05, 1.1 * d, -0.05, np.where(tuck, 1.7, 0.2), 0.7 * d])
    knee = keyframes(phase, _JUMP_T, [0.1, 1.8 * d, 0.05, np.where(tuck, 2.2, 0.3), 1.1 * d])
    ankle = keyframes(phase, _JUMP_T, [0.0, -0.4, 0.7, 0.4, -0.2])
    arm = keyframes(phase, _JUMP_T, [0.1, -0.6, p["arms"], np.where(tuck, 1.2, 1.6), 0.6])
    elbow = keyframes(phase, _JUMP_T, [0.2, 0.1, 0.2, 0.6, 0.4])
    spread = keyframes(phase, _JUMP_T, [0.0, 0.0, 1.0, 1.0, 0.0]) * star
    lean = keyframes(phase, _JUMP_T, [0.0, 0.5 * d, -0.05, 0.2, 0.3 * d])
    for side in ("left", "right"):
        b.leg(side, flex=np.where(star, 0.1 + 0.2 * hip, hip) + lean, abd=0.05 + 0.45 * spread,
              knee=np.where(star, 0.2 + 0.2 * knee, knee), ankle=ankle, twist=0.1)
        b.arm(side, flex=np.where(star, 0.1, arm), abd=0.1 + 2.3 * spread, elbow=elbow, fingers=0.2)
    b.spine(flex=0.5 * lean)
    b.head(flex=-0.3 * lean, turn=p["turn"])
    b.lean(forward=lean)
    return b


def _sitting_params(rng, n):
    return {"style": _choice(rng, n, 3, [0.6, 0.2, 0.2]), "thigh": _u(rng, 1.3, 1.7, n),
            "shin": _u(rng, -0.3, 0.4, n), "lean": _u(rng, -0.25, 0.3, n), "spread": _u(rng, 0.0, 0.35, n),
            "arm": _u(rng, 0.2, 0.9, n), "elbow": _u(rng, 0.8, 1.9, n), "nod": _u(rng, -0.1, 0.5, n),
            "turn": rng.normal(0, 0.3, n), "cross": _choice(rng, n, 2)}


def _sitting(phase, p):
    """On a chair (0), on the floor with legs out (1) or cross-legged (2)."""
    n = len(phase)
    b = PoseBuilder(n)
    w = 2 * np.pi * phase
    chair, long_sit, cross = p["style"] == 0, p["style"] == 1, p["style"] == 2
    for side, s in (("left", 1.0), ("right", -1.0)):
        thigh = np.where(chair, p["thigh"], 1.55)
        shin = np.where(chair, p["shin"], np.where(long_sit, 1.35, -0.6))
        abd = np.where(cross, 0.6, p["spread"])
        # Feet flat on the floor, except legs stretched out on the floor: ankle near neutral.
        b.leg_on_ground(side, p["lean"], thigh, shin, foot_pitch=np.where(long_sit, 0.2 - shin, 0.0), abd=abd,
                        twist=np.where(cross, 0.5, 0.1))
        arm = p["arm"] + 0.15 * np.sin(w + s)
        b.arm(side, flex=arm, abd=0.15, elbow=p["elbow"] + 0.2 * np.sin(w - s), twist=0.5, wrist=0.2, fingers=0.4)
    b.spine(flex=0.25 - 0.5 * p["lean"] + 0.05 * np.sin(w), twist=0.1 * np.sin(0.5 * w))
    b.head(flex=p["nod"], turn=p["turn"])
    b.lean(forward=p["lean"])
    return b


def _squatting_params(rng, n):
    return {"thigh": _u(rng, 1.1, 1.8, n), "lean": _u(rng, 0.2, 0.6, n), "spread": _u(rng, 0.15, 0.45, n),
            "arms": _choice(rng, n, 3), "turn": rng.normal(0, 0.3, n)}


def _squatting(phase, p):
    """Down and up: the phase sets the depth; arms forward for balance, on the knees, or down."""
    b = PoseBuilder(len(phase))
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * phase)
    thigh = 0.15 + (p["thigh"] - 0.15) * depth
    lean = 0.05 + (p["lean"] - 0.05) * depth
    shin = -0.05 - 0.5 * depth
    for side in ("left", "right"):
        b.leg_on_ground(side, lean, thigh, shin, abd=p["spread"], twist=0.3)
        forward = p["arms"] == 0
        on_knees = p["arms"] == 1
        b.arm(side, flex=np.where(forward, 1.4 * depth + 0.1, np.where(on_knees, 0.7 + 0.4 * depth, 0.2)),
              abd=0.2, elbow=np.where(on_knees, 0.6, 0.2), fingers=0.3)
    b.spine(flex=0.4 * depth)
    b.head(flex=-0.4 * depth, turn=p["turn"])
    b.lean(forward=lean)
    return b


def _reaching_params(rng, n):
    return {"flex": _u(rng, 0.4, 3.0, n), "abd": _u(rng, -0.3, 1.3, n), "both": rng.random(n) < 0.3,
            "side": _choice(rng, n, 2), "pickup": rng.random(n) < 0.25, "bend": _u(rng, 0.6, 1.3, n),
            "twist": _u(rng, -0.8, 0.8, n)}


def _reaching(phase, p):
    """One or both arms reach towards a target (overhead reaches go on tiptoe); or pick up from the floor."""
    n = len(phase)
    b = PoseBuilder(n)
    extend = 0.5 - 0.5 * np.cos(2 * np.pi * phase)  # 0 rest, 1 full reach
    pickup = p["pickup"]
    lean = np.where(pickup, p["bend"] * extend, 0.1 * extend * (p["flex"] < 1.0))
    tiptoe = np.where(p["flex"] > 2.4, 0.5 * extend, 0.0)
    for side, k in (("left", 0), ("right", 1)):
        reaching = p["both"] | (p["side"] == k)
        flex = np.where(reaching, 0.1 + (np.where(pickup, 1.0, p["flex"]) - 0.1) * extend, 0.1)
        b.arm(side, flex=flex, abd=np.where(reaching, np.clip(p["abd"], -0.3, None) * extend + 0.1, 0.15),
              elbow=np.where(reaching, 1.0 - 0.9 * extend, 0.3), twist=0.3 * reaching, wrist=0.1, fingers=0.5 * extend)
        b.leg_on_ground(side, lean, 0.2 * lean, 0.1 * lean, foot_pitch=tiptoe)
    b.spine(flex=np.where(pickup, 0.5 * lean, 0.0), twist=p["twist"] * extend * ~p["both"] * 0.5,
            bend=0.2 * extend * np.where(p["side"] == 0, -1.0, 1.0) * ~p["both"])
    b.head(flex=np.where(pickup, 0.3, -0.3 * np.clip(p["flex"] - 1.5, 0, None) * extend),
           turn=0.3 * np.where(p["side"] == 0, 1.0, -1.0) * extend * ~p["both"])
    b.lean(forward=lean)
    return b


_KICK_T = [0.0, 0.3, 0.5, 0.65, 0.85]


def _kicking_params(rng, n):
    return {"side": _choice(rng, n, 2), "style": _choice(rng, n, 2, [0.7, 0.3]), "height": _u(rng, 0.9, 1.7, n),
            "arms": _u(rng, 0.4, 1.3, n)}


def _kicking(phase, p):
    """Front kick (0: back-swing, strike, follow-through) or side kick (1: knee up, extend sideways)."""
    n = len(phase)
    b = PoseBuilder(n)
    side_kick = p["style"] == 1
    h = p["height"]
    flex = keyframes(phase, _KICK_T, [0.1, -0.45, 0.5 * h, h, 0.3])
    knee = keyframes(phase, _KICK_T, [0.2, 1.7, 1.0, 0.1, 0.5])
    ankle = keyframes(phase, _KICK_T, [0.0, 0.4, 0.7, 0.6, 0.1])
    chamber = keyframes(phase, _KICK_T, [0.0, 0.6, 1.0, 1.0, 0.3])  # side kick: 0 down, 1 extended sideways
    lean_back = keyframes(phase, _KICK_T, [0.0, 0.05, -0.1, -0.25, -0.05])
    for side, k in (("left", 0), ("right", 1)):
        kicking = p["side"] == k
        leg_flex = np.where(side_kick, 0.9 * chamber, flex)
        leg_abd = np.where(side_kick, 1.1 * chamber, 0.05)
        leg_knee = np.where(side_kick, 2.0 * chamber * (1 - chamber) * 2 + 0.1, knee)
        b.leg(side, flex=np.where(kicking, leg_flex, 0.15), abd=np.where(kicking, leg_abd, 0.05),
              knee=np.where(kicking, leg_knee, 0.3), ankle=np.where(kicking, ankle, 0.0), twist=0.1)
        swing = np.where(kicking, -0.5, 0.6) * np.clip(flex, 0, None) * ~side_kick
        b.arm(side, flex=swing, abd=p["arms"], elbow=0.4 + 0.8 * side_kick, fingers=0.4)
    b.spine(flex=-0.3 * lean_back, bend=0.4 * chamber * side_kick * np.where(p["side"] == 0, 1.0, -1.0))
    b.head(flex=0.2)
    b.lean(forward=lean_back, side=0.35 * chamber * side_kick * np.where(p["side"] == 0, -1.0, 1.0))
    return b


_DANCE_DOFS = ("arm_flex", "arm_abd", "elbow", "hip", "knee", "bend", "twist", "head")


def _dancing_params(rng, n):
    p = {}
    for i, dof in enumerate(_DANCE_DOFS):
        p[dof + "_f"] = rng.integers(1, 3, n)  # cycles per phase period: 1 or 2 (keeps motions periodic)
        p[dof + "_phi"] = rng.uniform(0, 2 * np.pi, (n, 2))  # independent left/right phases
    p["arm_flex_c"], p["arm_flex_a"] = _u(rng, -0.2, 1.8, n), _u(rng, 0.2, 1.0, n)
    p["arm_abd_c"], p["arm_abd_a"] = _u(rng, 0.2, 2.0, n), _u(rng, 0.2, 0.9, n)
    p["elbow_c"], p["elbow_a"] = _u(rng, 0.3, 1.6, n), _u(rng, 0.2, 0.8, n)
    p["hip_a"], p["knee_c"] = _u(rng, 0.05, 0.45, n), _u(rng, 0.1, 0.7, n)
    p["lean"] = _u(rng, -0.1, 0.25, n)
    return p


def _dancing(phase, p):
    """Sums of sinusoids per degree of freedom, with random centres, amplitudes and phases."""
    b = PoseBuilder(len(phase))
    w = 2 * np.pi * phase

    def wave(dof, k=0):
        return np.sin(p[dof + "_f"] * w + p[dof + "_phi"][:, k])

    for side, k in (("left", 0), ("right", 1)):
        b.arm(side, flex=p["arm_flex_c"] + p["arm_flex_a"] * wave("arm_flex", k),
              abd=np.clip(p["arm_abd_c"] + p["arm_abd_a"] * wave("arm_abd", k), -0.2, 2.9),
              elbow=np.clip(p["elbow_c"] + p["elbow_a"] * wave("elbow", k), 0, 2.3), twist=0.3 * wave("twist", k),
              wrist=0.3 * wave("elbow", 1 - k), fingers=0.3)
        knee = np.clip(p["knee_c"] + 0.3 * wave("knee", k), 0, None)
        b.leg(side, flex=p["hip_a"] * wave("hip", k) + 0.5 * knee, abd=0.1 + 0.1 * wave("hip", 1 - k), knee=knee,
              ankle=0.3 * knee, twist=0.2 * wave("twist", 1 - k))
    b.spine(flex=0.1 + 0.1 * wave("bend", 1), bend=0.25 * wave("bend"), twist=0.35 * wave("twist"))
    b.head(flex=0.2 * wave("head"), turn=0.4 * wave("head", 1), tilt=0.15 * wave("bend"))
    b.lean(forward=p["lean"], side=0.1 * wave("bend", 1))
    return b


def _lying_params(rng, n):
    return {"style": _choice(rng, n, 4, [0.35, 0.2, 0.3, 0.15]), "arms": _choice(rng, n, 3),
            "knee": _u(rng, 0.0, 0.5, n), "curl": _u(rng, 0.8, 1.0, n), "turn": _u(rng, -0.8, 0.8, n),
            "on_left": rng.random(n) < 0.5}


def _lying(phase, p):
    """On the back (0), on the front (1), on the side curled up (2), or on the back with a knee up (3)."""
    n = len(phase)
    b = PoseBuilder(n)
    w = 2 * np.pi * phase
    front, side_lying, knee_up = (p["style"] == k for k in (1, 2, 3))  # 0: on the back
    curl = p["curl"] * side_lying
    for side, k in (("left", 0), ("right", 1)):
        knee = np.where(knee_up & (k == 0), 1.5, p["knee"]) + 1.7 * curl
        b.leg(side, flex=0.5 * knee + 0.6 * curl, abd=0.1, knee=knee, ankle=0.3 + 0.2 * front, twist=0.2)
        overhead = p["arms"] == 1
        bent = p["arms"] == 2
        b.arm(side, flex=np.where(overhead, 2.8, np.where(bent, 0.6, 0.0)) + 1.2 * curl,
              abd=np.where(overhead, 0.3, 0.25 + 0.1 * np.sin(w)), elbow=np.where(bent, 1.6, 0.2) + 1.0 * curl,
              fingers=0.4)
    b.spine(flex=0.5 * curl, twist=0.1 * np.sin(w))
    b.head(flex=0.4 * curl - 0.3 * front, turn=np.where(front, 1.0, p["turn"]))
    # Whole body horizontal: face up (-x), face down (+x) or on a side (about z).
    tilt_x = np.where(front, np.pi / 2, np.where(side_lying, 0.0, -np.pi / 2))
    tilt_z = np.where(side_lying, np.where(p["on_left"], np.pi / 2, -np.pi / 2), 0.0)
    b.root = Rotation.from_rotvec(np.stack([tilt_x, np.zeros(n), tilt_z], -1)).as_rotvec()
    return b


for _activity in (
    Activity("standing", _standing_params, _standing, (0.1, 0.3)),
    Activity("walking", _walking_params, _walking, (0.8, 1.1)),
    Activity("running", _running_params, _running, (1.3, 1.6)),
    Activity("jumping", _jumping_params, _jumping, (0.35, 0.55)),
    Activity("sitting", _sitting_params, _sitting, (0.05, 0.2), camera_pitch_deg=(10.0, 12.0)),
    Activity("squatting", _squatting_params, _squatting, (0.2, 0.5), camera_pitch_deg=(8.0, 12.0)),
    Activity("reaching", _reaching_params, _reaching, (0.2, 0.5)),
    Activity("kicking", _kicking_params, _kicking, (0.6, 1.0)),
    Activity("dancing", _dancing_params, _dancing, (0.4, 0.8)),
    Activity("lying", _lying_params, _lying, (0.02, 0.1), camera_pitch_deg=(35.0, 15.0), any_yaw=True),
):
    register_activity(_activity)
