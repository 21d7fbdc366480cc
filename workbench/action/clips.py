"""Labelled synthetic action clips for pose-based action recognition (LART-style, AVA-style labels).

Each clip is ``num_frames`` frames at 30 fps of one *ego* person and, in person-interaction clips
(and in some others, as a bystander), a second person, slot 1. Motions are procedural
(:mod:`workbench.action.motions`), placed on a ground plane seen by a camera 1.6 m above the floor
(pitch ~8 deg, focal 0.9 W, image 480x640, as :mod:`workbench.tracking.synth_video`), at depths where
a person is 100-400 px tall. The body's lowest keypoint touches the floor (plus flight in jumps),
so pelvis height follows the pose (it drops when sitting down).

Per clip, person and frame we store what the tracker would hand to LART:

* ``pose`` (229): :func:`workbench.tracking.records.pose_vector` in the tracker's *canvas camera*
  (focal 5000 at 256 px, i.e. 12 500 px for a 640-wide frame). A body keeps its image position and
  size, so its canvas translation is the scene one with the depth scaled by 12500 / 576 ~ 21.7
  (:func:`canvas_translation`, as :class:`~workbench.tracking.engines.GroundTruthEngine` does):
  ``tz`` is ~50-220 m and ``tz / 200`` ~ 0.25-1.1 (what HMR 2.0 + PHALP give for 100-400 px people;
  a brief's "1-5" would mean people 20-100 px tall);
* ``joints_3d`` (45, 3): the 44 HMR keypoints of the open body + the SMPL origin, body frame
  (global orientation applied, no translation) -- ``DetectionRecord.joints_3d``;
* :func:`lart_joints` (135): LART's ``joints_3D``: we read "45 joints + camera" as the 45 points
  moved into the camera by the canvas translation (joint 44 then *is* the camera vector), flattened;
* ``labels`` (C,) multi-hot, ``has_detection`` (missed detections: random drops, short gaps and
  frames where the pelvis leaves the image). Pose and joints are zero where there is no detection
  (a model must not see them); labels stay (AVA labels exist whatever the detector did).

Label rules: whole-body segments label the frames they cover (``stand``, ``sit``, ``walk``, ``run``
are states; ``jump``, ``sit_down``, ``stand_up``, ``fall``, ``turn``, ``bend`` label their
transition only; the lying that follows a fall is unlabelled). Arm actions label the frames where
their blend weight is >= 0.5. Hand shake, hug and hand over label both people; push and point at
label the actor (the pushed person steps back, unlabelled). Classes not requested are dropped from
the label matrix. Every requested class has a minimum duration (``motions.DURATION``); a
``num_frames`` below the largest minimum raises ``ValueError``.

Through a pose engine: :func:`perturb_poses` gives ground truth with per-frame rotation noise of
known RMS size and betas jitter (joints recomputed by the body). Real engines render each clip as a
video, detect, lift and track its people (:func:`workbench.action.engines.rendered_engines`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation

from workbench.action import motions as mo
from workbench.config import fast_mode
from workbench.tracking.records import CANVAS_RES, FOCAL, pose_vector

ACTION_CLASSES: dict[str, str] = {
    "stand": "PM", "sit": "PM", "walk": "PM", "run": "PM", "jump": "PM", "sit_down": "PM", "stand_up": "PM",
    "fall": "PM", "turn": "PM", "bend": "PM",
    "hand_shake": "PI", "hug": "PI", "push": "PI", "hand_over": "PI", "point_at": "PI",
    "lift": "OM", "throw": "OM", "wave": "OM", "drink": "OM",
}
GROUPS = ("PM", "PI", "OM")
FPS = 30.0
IMAGE_HW = (480, 640)
FOCAL_REAL = 0.9 * IMAGE_HW[1]  # pixels, the scene camera
FOCAL_CANVAS_PX = FOCAL * max(IMAGE_HW) / CANVAS_RES  # 12 500 px: the tracker's canvas camera in frame pixels
CAMERA_HEIGHT = 1.6
NUM_PEOPLE = 2  # slot 0: ego; slot 1: partner or bystander
SPLIT_SIZES = {"train": 512, "val": 128, "test": 128}
FAST_SPLIT_SIZES = {"train": 57, "val": 19, "test": 19}  # 3 / 1 / 1 clips per class
PAIR_DISTANCE = {"hand_shake": (0.8, 1.0), "hug": (0.35, 0.5), "push": (0.6, 0.8), "hand_over": (0.9, 1.2),
                 "point_at": (1.5, 2.8)}  # pelvis to pelvis, metres (ours)
BOTH_LABELLED = ("hand_shake", "hug", "hand_over")

__all__ = ["ACTION_CLASSES", "GROUPS", "ActionClips", "canvas_translation", "class_counts", "clips_to_frame",
           "lart_joints", "make_clips", "make_split", "min_frames", "perturb_poses", "pose_error_mm", "scene_translation", "with_poses"]


@dataclass
class ActionClips:
    """N clips of T frames, P = 2 person slots (0 = ego). float32 unless stated.

    Attributes:
        classes: the C label names, columns of ``labels``.
        pose: (N, P, T, 229) pose vectors (canvas camera; zero where no detection).
        joints_3d: (N, P, T, 45, 3) body-frame keypoints + origin, metres (zero where no detection).
        camera: (N, P, T, 3) canvas translation (tx, ty, tz), metres.
        labels: (N, P, T, C) bool multi-hot.
        has_detection: (N, P, T) bool. present: (N, P) bool, the slot holds a person.
        global_orient: (N, P, T, 3) axis-angle, camera frame; body_pose: (N, P, T, 23, 3); betas: (N, P, 10).
        root_world: (N, P, T, 3) pelvis in the world (y up, floor y = 0), metres.
        seeds: (N,) int64 clip seeds. meta: one dict per clip (primary class, classes present, roles).
    """

    classes: tuple[str, ...]
    pose: np.ndarray
    joints_3d: np.ndarray
    camera: np.ndarray
    labels: np.ndarray
    has_detection: np.ndarray
    present: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    root_world: np.ndarray
    seeds: np.ndarray
    meta: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seeds)

    def take(self, indices) -> "ActionClips":
        """The clips at ``indices`` (ints or a boolean mask over the N clips), as a new ActionClips."""
        idx = np.arange(len(self))[np.asarray(indices)].reshape(-1)
        arrays = {f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}
        return ActionClips(classes=self.classes, meta=[self.meta[i] for i in idx], **arrays)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(ACTION_CLASSES[c] for c in self.classes)


# ----------------------------------------------------------------------------- body
@functools.cache
def _skin():
    """SparseBody restricted to the vertices the 44 keypoints need (~100x fewer than the mesh)."""
    from workbench.body import BodyModel
    from workbench.data.skinning import SparseBody

    full = SparseBody(BodyModel.open_body())
    skin = SparseBody.__new__(SparseBody)
    skin.__dict__.update(full.__dict__)
    need = np.unique(np.concatenate([full.surface_vertex_ids, full.extra_regressor.nonzero()[1]]))
    V, K = full.num_vertices, full.num_betas
    skin.v_template = full.v_template[need]
    skin.shapedirs = full.shapedirs.reshape(K, V, 3)[:, need].reshape(K, -1).copy()
    skin.posedirs = None if full.posedirs is None else full.posedirs.reshape(-1, V, 3)[:, need].reshape(207, -1)
    skin.weights = full.weights[need]
    skin.extra_regressor = full.extra_regressor[:, need]
    skin.surface_vertex_ids = np.searchsorted(need, full.surface_vertex_ids)
    skin.num_vertices = len(need)
    return skin


def keypoints(pose: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, 24, 3) axis-angle, (B, 10) betas -> 44 keypoints (B, 44, 3) and pelvis J0 (B, 3), body frame."""
    out = _skin()(pose, betas)
    return out.keypoints.astype(np.float64), out.joints[:, 0].astype(np.float64)


def canvas_translation(origin: np.ndarray) -> np.ndarray:
    """Body origin in the scene camera (..., 3) metres -> the tracker's canvas translation (..., 3).

    The canvas camera's focal is ``FOCAL_CANVAS_PX / FOCAL_REAL`` times longer; scaling the depth by that
    ratio keeps the origin's projection (and, to first order, the body's size in pixels)."""
    return np.asarray(origin) * np.array([1.0, 1.0, FOCAL_CANVAS_PX / FOCAL_REAL])


def scene_translation(camera: np.ndarray) -> np.ndarray:
    """Inverse of :func:`canvas_translation`: canvas translation (..., 3) -> scene-camera origin, metres."""
    return np.asarray(camera) * np.array([1.0, 1.0, FOCAL_REAL / FOCAL_CANVAS_PX])


# ----------------------------------------------------------------------------- planning
def min_frames(classes) -> int:
    """Shortest clip in frames that fits every class's minimum duration."""
    return int(np.ceil(max(mo.DURATION[c][0] for c in classes) * FPS))


def _window(rng, T: int, kind: str) -> slice:
    lo, hi = mo.DURATION[kind]
    n = int(round(rng.uniform(lo, min(hi, T / FPS)) * FPS))
    n = min(max(n, int(np.ceil(lo * FPS))), T)
    s = int(rng.integers(0, T - n + 1))
    return slice(s, s + n)


def _ego(rng, primary: str, allowed: set, T: int):
    """The ego's motion for a clip whose main class is ``primary``; returns (Motion, base state)."""
    m, style = mo.new_motion(T, 0.0, rng)
    seg = lambda kind, f, label=True: mo.add_segment(m, kind, f, style, rng, label)  # noqa: E731
    om = [c for c in ("wave", "drink", "lift", "throw") if c in allowed]
    base = "stand"
    if primary in ("stand", "sit", "walk", "run"):
        base = primary
        seg(base, slice(0, T))
        if primary == "walk" and "turn" in allowed and rng.random() < 0.25:
            seg("turn", _window(rng, T, "turn"))
        light = [c for c in om if c in ("wave", "drink")] if primary in ("walk", "sit", "run") else om
        if light and primary != "run" and rng.random() < 0.5:
            mo.add_arm_action(m, rng.choice(light), _window(rng, T, "wave"), rng.choice(["l", "r"]), rng)
    elif primary in ("jump", "bend", "turn"):
        base = "walk" if primary == "turn" and rng.random() < 0.4 else "stand"
        seg(base, slice(0, T))
        seg(primary, _window(rng, T, primary))
    elif primary in ("sit_down", "stand_up", "fall"):
        w = _window(rng, T, primary)
        before, after = {"sit_down": ("stand", "sit"), "stand_up": ("sit", "stand"), "fall": ("stand", None)}[primary]
        seg(before, slice(0, w.start))
        seg(primary, w)
        if after:
            seg(after, slice(w.stop, T))
        base = before
    elif primary in om:
        base = rng.choice(["stand", "walk", "sit"], p=[0.6, 0.2, 0.2]) if primary in ("wave", "drink") else "stand"
        seg(base, slice(0, T))
        mo.add_arm_action(m, primary, _window(rng, T, primary), rng.choice(["l", "r"]), rng)
    else:  # person interaction: the pair is set up in _pair
        seg("stand", slice(0, T))
    return m, base


def _pair(rng, primary: str, m_ego, T: int):
    """Partner motion for an interaction; writes the ego's arm action too."""
    m, style = mo.new_motion(T, 0.0, rng)
    mo.add_segment(m, "stand", slice(0, T), style, rng)
    w = _window(rng, T, primary)
    both = primary in BOTH_LABELLED
    if primary == "hug":
        mo.add_arm_action(m_ego, "hug", w, "r", rng)
        mo.add_arm_action(m, "hug", w, "r", rng)
    elif primary == "hand_shake":
        mo.add_arm_action(m_ego, "hand_shake", w, "r", rng)
        mo.add_arm_action(m, "hand_shake", w, "r", rng)
    elif primary == "hand_over":
        mo.add_arm_action(m_ego, "hand_over", w, "r", rng)
        lag = int(0.3 * FPS)  # the receiver reaches a moment later, with the facing hand
        mo.add_arm_action(m, "hand_over", slice(min(w.start + lag, w.stop - 10), w.stop), "l", rng, label=both)
    elif primary == "push":
        mo.add_arm_action(m_ego, "push", w, "r", rng)
        mo.recoil(m, w, rng)
    elif primary == "point_at":
        mo.add_arm_action(m_ego, "point_at", w, rng.choice(["l", "r"]), rng)
    return m


# ----------------------------------------------------------------------------- realising
def _realise(rng, people: list, T: int):
    """Place the motions in the world and the canvas camera. ``people``: list of
    (Motion, anchor xz (2,), base heading, centred path) -> dict of per-person arrays (P, T, ...)."""
    P = len(people)
    pitch = np.deg2rad(rng.normal(8.0, 3.0))
    R_cw = Rotation.from_rotvec([np.pi + pitch, 0.0, 0.0]).as_matrix()
    C = np.array([0.0, CAMERA_HEIGHT, 0.0])
    betas = np.clip(rng.standard_normal((P, 10)), -2.0, 2.0)
    body, root = zip(*(mo.channels_to_pose(m.ch) for m, *_ in people))
    heading = np.stack([m.heading + h for m, _, h, _ in people])  # (P, T)
    R_w = (Rotation.from_rotvec(np.outer(heading.ravel(), [0, 1, 0])) * Rotation.from_rotvec(np.concatenate(root)))
    pose = np.concatenate([R_w.as_rotvec()[:, None], np.concatenate(body)], 1)  # (P*T, 24, 3)
    kp, j0 = keypoints(pose, np.repeat(betas, T, 0))
    rel = kp - j0[:, None]
    height = -rel[..., 1].min(1).reshape(P, T) + np.stack([m.flight for m, *_ in people])
    xz = np.zeros((P, T, 2))
    for k, (m, anchor, _, centred) in enumerate(people):
        v = m.speed[:, None] * np.stack([np.sin(heading[k]), np.cos(heading[k])], 1)
        path = np.cumsum(v, 0) / FPS
        xz[k] = anchor + path - (path.mean(0) if centred else path[0])
    pelvis = np.stack([xz[..., 0], height, xz[..., 1]], -1)  # (P, T, 3) world
    # Camera frame: rotate the body; canvas translation keeps the image position and size.
    go = R_cw @ R_w.as_matrix()  # (P*T, 3, 3)
    kp_cam = (rel @ R_cw.T) + j0[:, None]
    pelvis_cam = (pelvis.reshape(-1, 3) - C) @ R_cw.T
    camera = canvas_translation(pelvis_cam - j0)
    rotmats = Rotation.from_rotvec(pose[:, 1:].reshape(-1, 3)).as_matrix().reshape(-1, 23, 3, 3)
    vec = pose_vector(go[:, None], rotmats, np.repeat(betas, T, 0), camera)
    # Detections: the pelvis must be in the image; then random drops and short gaps.
    H, W = IMAGE_HW
    u = FOCAL_REAL * pelvis_cam[:, :2] / np.maximum(pelvis_cam[:, 2:], 1e-6) + (W / 2, H / 2)
    seen = ((pelvis_cam[:, 2] > 1.0) & (u[:, 0] > 0) & (u[:, 0] < W) & (u[:, 1] > 0) & (u[:, 1] < H)).reshape(P, T)
    seen &= rng.random((P, T)) >= 0.04
    for k in range(P):
        for _ in range(rng.poisson(0.7)):
            s, n = rng.integers(0, T), rng.integers(3, 11)
            seen[k, s:s + n] = False
    j3d = np.concatenate([kp_cam, np.zeros((P * T, 1, 3))], 1).reshape(P, T, 45, 3)
    return {"pose": vec.reshape(P, T, 229) * seen[..., None], "joints_3d": j3d * seen[..., None, None],
            "camera": camera.reshape(P, T, 3), "has_detection": seen,
            "global_orient": Rotation.from_matrix(go).as_rotvec().reshape(P, T, 3),
            "body_pose": pose[:, 1:].reshape(P, T, 23, 3), "betas": betas, "root_world": pelvis}


def _depth(rng) -> float:
    """Distance at which a 1.7 m person is 100-400 px tall (log-uniform in pixels)."""
    return FOCAL_REAL * 1.7 / np.exp(rng.uniform(np.log(100), np.log(400)))


def _clip(seed, primary: str, classes: tuple, T: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    allowed = set(classes)
    m_ego, base = _ego(rng, primary, allowed, T)
    d = max(_depth(rng), 2.5)
    anchor = np.array([rng.uniform(-0.3, 0.3) * d * IMAGE_HW[1] / 2 / FOCAL_REAL, -d])
    moving = base in ("walk", "run")
    heading = (np.pi / 2 * rng.choice([-1, 1]) + np.deg2rad(rng.uniform(-35, 35)) if moving
               else np.deg2rad(rng.normal(0, 40)))
    people = [(m_ego, anchor, heading, moving)]
    roles = ["ego"]
    if ACTION_CLASSES[primary] == "PI":
        m_partner = _pair(rng, primary, m_ego, T)
        D = rng.uniform(*PAIR_DISTANCE[primary])
        theta = np.deg2rad(rng.uniform(-40, 40)) + np.pi * rng.integers(2)
        other = anchor + D * np.array([np.cos(theta), np.sin(theta)])
        other[1] = min(other[1], -2.5)
        dx, dz = other - anchor
        h = np.arctan2(dx, dz)
        people.append((m_partner, other, h + np.pi + rng.normal(0, 0.1), False))
        people[0] = (m_ego, anchor, h + rng.normal(0, 0.1), False)
        roles.append("partner")
    elif rng.random() < 0.3:  # a bystander, doing its own thing a few metres away
        kind = rng.choice(["stand", "walk"])
        m_by, _ = _ego(rng, kind, allowed - {c for c, g in ACTION_CLASSES.items() if g != "PM"}, T)
        other = anchor + rng.uniform(2.5, 5.0) * np.array([rng.choice([-1, 1]), rng.uniform(-0.5, 0.5)])
        other[1] = min(other[1], -2.5)
        h = np.pi / 2 * rng.choice([-1, 1]) if kind == "walk" else np.deg2rad(rng.normal(0, 40))
        people.append((m_by, other, h, kind == "walk"))
        roles.append("bystander")
    out = _realise(rng, people, T)
    labels = np.zeros((len(people), T, len(classes)), bool)
    for k, (m, *_) in enumerate(people):
        for name, frames in m.labels.items():
            if name in allowed:
                labels[k, :, classes.index(name)] = frames
    out["labels"] = labels
    present = sorted({classes[c] for c in np.flatnonzero(labels.any((0, 1)))}, key=classes.index)
    return out, {"primary": primary, "classes_present": present, "roles": roles, "base": base}


def make_clips(num_clips: int, num_frames: int = 64, seed: int = 0, classes=None, progress: bool = False,
               _stream: int = 0) -> ActionClips:
    """Generate labelled clips; deterministic in (seed, clip index).

    Args:
        num_clips: N. Main classes cycle through ``classes`` (so N >= C covers every class).
        num_frames: T at 30 fps; at least :func:`min_frames` of the classes.
        seed: base seed; clip i uses ``np.random.default_rng([seed, _stream, i])``.
        classes: names from :data:`ACTION_CLASSES` (default all, in that order).
        progress: tqdm bar.

    Returns:
        :class:`ActionClips`.

    Raises:
        KeyError: unknown class names (the message lists the known ones).
        ValueError: ``num_frames`` shorter than a class's minimum duration.
    """
    from tqdm.auto import tqdm

    classes = tuple(ACTION_CLASSES) if classes is None else tuple(classes)
    unknown = [c for c in classes if c not in ACTION_CLASSES]
    if unknown:
        raise KeyError(f"unknown action classes {unknown}; known: {list(ACTION_CLASSES)}")
    if not classes:
        raise ValueError("classes is empty")
    need = min_frames(classes)
    if num_frames < need:
        longest = [c for c in classes if np.ceil(mo.DURATION[c][0] * FPS) == need]
        raise ValueError(f"num_frames={num_frames} is shorter than the minimum {need} frames of {longest} at "
                         f"{FPS:g} fps; use num_frames >= {need} or leave those classes out.")
    T, N, P = int(num_frames), int(num_clips), NUM_PEOPLE
    keys = ["pose", "joints_3d", "camera", "has_detection", "global_orient", "body_pose", "betas", "root_world",
            "labels"]
    arrays = {k: [] for k in keys}
    meta, seeds = [], []
    for i in tqdm(range(N), desc="action clips", disable=not progress):
        clip_seed = [int(seed), int(_stream), i]
        out, info = _clip(clip_seed, classes[i % len(classes)], classes, T)
        n = len(out["pose"])
        for k in keys:
            a = out[k]
            pad = np.zeros((P - n, *a.shape[1:]), a.dtype)
            arrays[k].append(np.concatenate([a, pad]))
        meta.append(info | {"seed": clip_seed})
        seeds.append(int(np.random.SeedSequence(clip_seed).generate_state(1)[0]))
    st = {k: np.stack(v) if v else np.zeros((0, P)) for k, v in arrays.items()}
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    present = np.array([[k < len(m["roles"]) for k in range(P)] for m in meta], bool).reshape(N, P)
    return ActionClips(classes=classes, pose=f32(st["pose"]), joints_3d=f32(st["joints_3d"]), camera=f32(st["camera"]),
                       labels=st["labels"].astype(bool), has_detection=st["has_detection"].astype(bool),
                       present=present, global_orient=f32(st["global_orient"]), body_pose=f32(st["body_pose"]),
                       betas=f32(st["betas"]), root_world=f32(st["root_world"]), seeds=np.array(seeds, np.int64),
                       meta=meta)


SPLIT_STREAMS = {"train": 1, "val": 2, "test": 3}


def make_split(split: str, num_clips: int | None = None, num_frames: int = 64, seed: int = 0, classes=None,
               fast: bool | None = None, progress: bool = False) -> ActionClips:
    """A train / val / test set: disjoint seed streams, default sizes :data:`SPLIT_SIZES`
    (:data:`FAST_SPLIT_SIZES` with ``WORKBENCH_FAST=1``)."""
    if split not in SPLIT_STREAMS:
        raise ValueError(f"split must be one of {list(SPLIT_STREAMS)}, got {split!r}")
    fast = fast_mode() if fast is None else fast
    n = (FAST_SPLIT_SIZES if fast else SPLIT_SIZES)[split] if num_clips is None else num_clips
    return make_clips(n, num_frames, seed, classes, progress, _stream=SPLIT_STREAMS[split])


# ----------------------------------------------------------------------------- views
def lart_joints(clips: ActionClips) -> np.ndarray:
    """LART's 135-d ``joints_3D`` token input: the 45 points moved by the canvas camera, (N, P, T, 135);
    zero where there is no detection."""
    j = clips.joints_3d + clips.camera[..., None, :] * clips.has_detection[..., None, None]
    return j.reshape(*j.shape[:3], 135)


def class_counts(clips: ActionClips) -> pd.DataFrame:
    """Per class: its group, clips containing it (any person), person-tracks with it, labelled frames."""
    lab = clips.labels
    return pd.DataFrame({"group": clips.groups, "clips": lab.any((1, 2)).sum(0), "tracks": lab.any(2).sum((0, 1)),
                         "frames": lab.sum((0, 1, 2))}, index=pd.Index(clips.classes, name="class"))


def clips_to_frame(clips: ActionClips) -> pd.DataFrame:
    """Tidy table, one row per (clip, person, frame) of present people: role, detection, pelvis
    position (world), canvas depth, and the labels as a ``;``-joined string."""
    rows = []
    for i, m in enumerate(clips.meta):
        for k, role in enumerate(m["roles"]):
            lab = clips.labels[i, k]
            names = [";".join(c for c, on in zip(clips.classes, row) if on) for row in lab]
            T = lab.shape[0]
            rows.append(pd.DataFrame({
                "clip": i, "person": k, "role": role, "frame": np.arange(T), "primary": m["primary"],
                "has_detection": clips.has_detection[i, k], "x": clips.root_world[i, k, :, 0],
                "height": clips.root_world[i, k, :, 1], "z": clips.root_world[i, k, :, 2],
                "tz": clips.camera[i, k, :, 2], "labels": names}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def with_poses(clips: ActionClips, rotmats: np.ndarray, betas: np.ndarray, seen: np.ndarray | None = None,
               meta: dict | None = None) -> ActionClips:
    """``clips`` as a pose engine saw them: new rotations and shape per frame, the same labels and camera.

    Args:
        rotmats: (N, P, T, 24, 3, 3) global orientation (camera frame) and body pose per frame.
        betas: (N, P, T, 10) shape per frame (an engine estimates it anew every frame).
        seen: (N, P, T) bool, frames the engine produced a pose for; None = every detected frame.
            Detections the engine skipped become missing frames.
        meta: added to every clip's meta dict.

    Keypoints and the 229-d pose vectors are recomputed by the body; the canvas translation is kept.
    """
    N, P, T = clips.has_detection.shape
    detected = clips.has_detection if seen is None else clips.has_detection & seen
    R = np.asarray(rotmats, np.float64).reshape(N * P * T, 24, 3, 3)
    b = np.asarray(betas, np.float64).reshape(N * P * T, 10)
    kp, _ = keypoints(R, b) if len(b) else (np.zeros((0, 44, 3)), None)
    on = detected.reshape(-1)
    vec = pose_vector(R[:, :1], R[:, 1:], b, clips.camera.reshape(-1, 3)) * on[:, None]
    j3d = np.concatenate([kp, np.zeros((len(kp), 1, 3))], 1) * on[:, None, None]
    aa = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(N, P, T, 24, 3)
    return ActionClips(classes=clips.classes, pose=vec.reshape(N, P, T, 229).astype(np.float32),
                       joints_3d=j3d.reshape(N, P, T, 45, 3).astype(np.float32), camera=clips.camera,
                       labels=clips.labels, has_detection=detected, present=clips.present,
                       global_orient=aa[..., 0, :].astype(np.float32), body_pose=aa[..., 1:, :].astype(np.float32),
                       betas=clips.betas, root_world=clips.root_world, seeds=clips.seeds,
                       meta=[m | (meta or {}) for m in clips.meta])


def perturb_poses(clips: ActionClips, rotation_noise_deg: float, seed: int = 0, betas_noise: float = 0.1) -> ActionClips:
    """Ground truth seen through a noisy "pose engine" of known error.

    Every joint rotation of every frame (global orientation included) becomes ``R exp([n]x)``, with
    n ~ N(0, (sigma^2 / 3) I): an RMS rotation error of ``rotation_noise_deg`` degrees, independent
    per frame; betas get N(0, betas_noise^2) per frame. Keypoints are recomputed by the body; the
    camera translation is kept. Returns a new :class:`ActionClips` (labels, masks shared).
    """
    rng = np.random.default_rng(seed)
    N, P, T = clips.has_detection.shape
    sigma = np.deg2rad(rotation_noise_deg) / np.sqrt(3.0)
    aa = np.concatenate([clips.global_orient[..., None, :], clips.body_pose], -2).reshape(-1, 3).astype(np.float64)
    noisy = (Rotation.from_rotvec(aa) * Rotation.from_rotvec(rng.normal(0, sigma, aa.shape))).as_matrix()
    betas = np.repeat(clips.betas.reshape(N * P, 1, 10), T, 1).reshape(-1, 10)
    betas = betas + rng.normal(0, betas_noise, betas.shape)
    return with_poses(clips, noisy.reshape(N, P, T, 24, 3, 3), betas.reshape(N, P, T, 10),
                      meta={"rotation_noise_deg": rotation_noise_deg, "noise_seed": seed})


def pose_error_mm(engine_clips: ActionClips, truth: ActionClips) -> float:
    """Pelvis-aligned mean keypoint error (mm, 44 keypoints, camera orientation) over frames both detect:
    how good a pose engine is on these clips, the x-axis of Table 5's "better pose -> better actions"."""
    both = engine_clips.has_detection & truth.has_detection
    if not both.any():
        return float("nan")
    a, b = engine_clips.joints_3d[both][:, :44], truth.joints_3d[both][:, :44]
    a, b = a - a[:, 39:40], b - b[:, 39:40]  # pelvis (joint 39), as the paper's MPJPE
    return float(1000 * np.linalg.norm(a - b, axis=-1).mean())
