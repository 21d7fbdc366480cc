"""Synthetic multi-person videos with ground truth: a tracking benchmark that needs no dataset.

A scene is a floor and a back wall seen by a pinhole camera standing ``camera_height`` metres above
the floor, pitched down, optionally panning. Several open bodies (random shape, outfit from
:mod:`workbench.data.appearance`) walk, run, turn round, stand or dance along ground-plane paths
designed to cross in the image, so that people occlude each other. Everything is a deterministic
function of :class:`SynthVideoConfig` (its ``seed`` above all).

Frames (world and camera):

* world: metres, y up, the floor is ``y = 0``; the camera is at ``(0, camera_height, 0)`` and, at
  pan 0, looks along ``-z`` (people stand at ``z < 0``), as in :mod:`workbench.data.pose_prior`
  where ``R_x(pi)`` turns a y-up world into the camera frame;
* camera: x right, y down, z forward; ``x_cam = R_cw(t) (x_world - C)`` with
  ``R_cw(t) = R_x(pi + pitch) R_y(-pan(t))``; pinhole with focal ``f`` px and principal point at
  the image centre.

Bodies are posed by :func:`workbench.data.sample_motion` (the body pose, 23 joints); its global
orientation (a random camera pitch and heading) is replaced by the path's heading in the world
and a small forward lean, so people face where they walk and stand upright on the floor (the
lowest vertex touches ``y = 0`` in every frame). Feet may slide a little: gait and speed are drawn
independently.

Ground truth per frame and person (1-based ``person_id``): the box of the projected mesh clipped
to the image, the visible fraction (pixels not hidden by other people and inside the image, over
the pixels of the person rendered alone on an unbounded image) and the SMPL parameters in the
camera frame: ``body(global_orient, body_pose, betas).vertices + transl`` are the rendered vertices.

    >>> video = render_video(SynthVideoConfig.tiny())           # doctest: +SKIP
    >>> video.frames.shape, video.gt.columns.tolist()            # doctest: +SKIP
    >>> dets = simulate_detections(video)                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation

from workbench.config import fast_mode
from workbench.data.appearance import open_body_parts
from workbench.geometry.intrinsics import Intrinsics

SPLITS = ("normal", "occlusion")
MOVING = {"walking": (1.0, 1.6), "running": (2.2, 3.0), "turning": (0.9, 1.4)}  # speed range, m/s
LEAN = {"walking": (0.0, 0.08), "running": (0.1, 0.22), "turning": (0.0, 0.08), "standing": (0.0, 0.0),
        "dancing": (0.0, 0.05)}  # forward lean of the root, radians (ours)
MOTION = {"walking": "walking", "running": "running", "turning": "walking", "standing": "standing",
          "dancing": "dancing"}  # our activity -> sample_motion's
NEAR = 0.3  # metres: a person with a vertex nearer than this to the camera plane is not rendered


@dataclass
class DetectionNoise:
    """How :func:`simulate_detections` degrades ground truth into detector output (ours).

    Attributes:
        centre_jitter: std of the box centre shift, fraction of the box width/height.
        size_jitter: std of the log scale of width and height.
        miss_rate: probability of missing a fully visible person.
        occlusion_miss: extra miss probability per unit of hidden fraction (``1 - visible_fraction``).
        min_visible: people with a visible fraction below this are always missed.
        fp_per_frame: mean number of false positives per frame (Poisson).
        score_range: (lo, hi) scores of true detections, higher for more visible people.
        fp_score_range: (lo, hi) uniform scores of false positives.
    """

    centre_jitter: float = 0.03
    size_jitter: float = 0.04
    miss_rate: float = 0.03
    occlusion_miss: float = 0.3
    min_visible: float = 0.25
    fp_per_frame: float = 0.08
    score_range: tuple[float, float] = (0.8, 0.99)
    fp_score_range: tuple[float, float] = (0.5, 0.95)


@dataclass
class SynthVideoConfig:
    """One synthetic video (values are ours; no paper has this benchmark).

    Attributes:
        seed: everything random follows from it.
        split: ``"normal"`` or ``"occlusion"``; only a label (the presets set the fields below).
        num_people: N bodies.
        num_frames: T.
        fps: frames per second.
        image_size: (H, W) pixels.
        focal_factor: focal length in units of the image width (0.9: ~58 degrees horizontal view).
        camera_height: metres above the floor.
        camera_pitch_deg: downward pitch.
        pan_deg_per_s: camera yaw rate (0: static); the pan is centred on the middle frame.
        depth_range: (near, far) distance of the people's crossing points from the camera, metres.
        activity_mix: weights of walking / running / turning (walks, turns round, walks back) /
            standing / dancing.
        pair_fraction: share of people placed behind another at the same bearing and time, which
            makes full occlusions.
        pair_depth_gap: (lo, hi) metres between the people of a pair.
        follow_prob: probability that a pair walks the same way (long occlusions) rather than
            crossing in opposite directions.
        similar_outfit_prob: probability that a person copies an earlier person's outfit (with a
            small colour change), so appearance alone does not identify people.
        visible_threshold: ``gt.visible`` is ``visible_fraction >= visible_threshold``.
        detection: :class:`DetectionNoise` for :func:`simulate_detections`.
    """

    seed: int = 0
    split: str = "normal"
    num_people: int = 5
    num_frames: int = 150
    fps: float = 30.0
    image_size: tuple[int, int] = (480, 640)
    focal_factor: float = 0.9
    camera_height: float = 1.7
    camera_pitch_deg: float = 8.0
    pan_deg_per_s: float = 0.0
    depth_range: tuple[float, float] = (3.5, 9.0)
    activity_mix: dict = field(default_factory=lambda: {"walking": 0.55, "running": 0.1, "turning": 0.1,
                                                        "standing": 0.15, "dancing": 0.1})
    pair_fraction: float = 0.2
    pair_depth_gap: tuple[float, float] = (1.0, 3.0)
    follow_prob: float = 0.2
    similar_outfit_prob: float = 0.3
    visible_threshold: float = 0.3
    detection: DetectionNoise = field(default_factory=DetectionNoise)

    @property
    def focal(self) -> float:
        return self.focal_factor * self.image_size[1]

    @classmethod
    def occlusion(cls, **kwargs) -> "SynthVideoConfig":
        """Occlusion-heavy: more people, most in pairs at one bearing, closer in depth, often walking
        together (long full occlusions), and a detector that misses more."""
        values = dict(split="occlusion", num_people=6, pair_fraction=0.8, pair_depth_gap=(0.6, 1.8), follow_prob=0.5,
                      depth_range=(3.5, 7.5), detection=DetectionNoise(miss_rate=0.06, occlusion_miss=0.5,
                                                                       min_visible=0.3))
        return cls(**{**values, **kwargs})

    @classmethod
    def tiny(cls, **kwargs) -> "SynthVideoConfig":
        """Three people, one second at 160x120: for tests."""
        return cls(**{**dict(num_people=3, num_frames=30, image_size=(120, 160)), **kwargs})


def benchmark_videos(split: str = "normal", fast: bool | None = None) -> list[SynthVideoConfig]:
    """The benchmark's videos of a split: 5 of 150 frames at 640x480 (fast mode: 2 of 30 at 160x120).

    Videos 1 and 3 pan (4 and -6 degrees per second); seeds differ across splits and videos.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    fast = fast_mode() if fast is None else fast
    n, size, frames = (2, (120, 160), 30) if fast else (5, (480, 640), 150)
    make = SynthVideoConfig.occlusion if split == "occlusion" else SynthVideoConfig
    pans = (0.0, 4.0, 0.0, -6.0, 0.0)
    return [make(seed=1000 * SPLITS.index(split) + i, image_size=size, num_frames=frames, pan_deg_per_s=pans[i])
            for i in range(n)]


# ----------------------------------------------------------------------------- scene: camera and paths
def camera_rotations(config: SynthVideoConfig) -> np.ndarray:
    """World-to-camera rotations ``R_cw(t) = R_x(pi + pitch) R_y(-pan(t))``, (T, 3, 3) float64."""
    t = (np.arange(config.num_frames) - (config.num_frames - 1) / 2) / config.fps
    pan = np.deg2rad(config.pan_deg_per_s) * t
    pitch = Rotation.from_rotvec([np.pi + np.deg2rad(config.camera_pitch_deg), 0.0, 0.0])
    return (pitch * Rotation.from_rotvec(np.outer(-pan, [0.0, 1.0, 0.0]))).as_matrix()


@dataclass
class Person:
    """One person's plan. ``xz``: (T, 2) ground position of the pelvis, metres; ``heading``: (T,)
    radians about the world vertical (0 faces the camera, +z); ``pose``: (T, 24, 3) axis-angle with
    the world-frame root (heading and lean) first; ``betas``: (10,)."""

    activity: str
    xz: np.ndarray
    heading: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    look: object


def _bearing_point(config: SynthVideoConfig, depth: float, bearing: float) -> np.ndarray:
    """Ground point (x, z) at ``depth`` metres in front of the camera (pan 0), at ``bearing`` =
    fraction of the half image width."""
    half = config.image_size[1] / 2 / config.focal
    return np.array([bearing * half * depth, -depth])


def plan_people(config: SynthVideoConfig) -> list[Person]:
    """Activities, paths, poses, shapes and outfits of every person (no rendering)."""
    from workbench.data import sample_motion
    from workbench.data.appearance import sample_look

    rng = np.random.default_rng([config.seed, 0])
    T, fps = config.num_frames, config.fps
    time = np.arange(T) / fps
    names = list(config.activity_mix)
    p = np.array([config.activity_mix[k] for k in names], float)
    people: list[Person] = []
    anchors: list[tuple[np.ndarray, float, float]] = []  # (crossing point, time, direction) of each person
    light = None
    for i in range(config.num_people):
        activity = names[rng.choice(len(names), p=p / p.sum())]
        paired = i > 0 and rng.random() < config.pair_fraction
        if paired:  # behind an earlier person, at the same bearing around the same time
            point, t_c, direction = anchors[rng.integers(len(anchors))]
            gap = rng.uniform(*config.pair_depth_gap) * rng.choice([-1.0, 1.0])
            depth = float(np.clip(-point[1] + gap, 2.5, 12.0))
            point = point * depth / -point[1]
            t_c = t_c + rng.normal(0.0, 0.3)
            direction = direction if rng.random() < config.follow_prob else -direction
            if activity not in MOVING:
                activity = "walking"
        else:
            depth = rng.uniform(*config.depth_range)
            point = _bearing_point(config, depth, rng.uniform(-0.5, 0.5))
            t_c = rng.uniform(0.25, 0.75) * T / fps
            direction = rng.choice([-1.0, 1.0])
        anchors.append((point, t_c, direction))
        # 1. Path: lateral walking (within +-35 degrees), a U-turn for "turning", or standing still.
        if activity in MOVING:
            speed = rng.uniform(*MOVING[activity])
            angle = np.pi / 2 * direction + np.deg2rad(rng.uniform(-35, 35))  # heading, 0 = towards camera
            heading = np.full(T, angle)
            if activity == "turning":
                t_turn = rng.uniform(0.3, 0.7) * T / fps
                heading = angle + np.pi * np.clip((time - t_turn) / 1.2, 0.0, 1.0) * rng.choice([-1.0, 1.0])
            velocity = speed * np.stack([np.sin(heading), np.cos(heading)], 1)  # (T, 2) m/s in (x, z)
            xz = np.cumsum(velocity, 0) / fps
            xz += point - np.array([np.interp(t_c, time, xz[:, 0]), np.interp(t_c, time, xz[:, 1])])
            xz[:, 1] = np.minimum(xz[:, 1], -2.5)  # never walk into the camera
        else:
            xz = np.tile(point, (T, 1))
            facing = np.arctan2(-point[0], -point[1]) + np.deg2rad(rng.normal(0, 40))
            sway = 0.6 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * time + rng.uniform(0, 6.3))
            heading = facing + (sway if activity == "dancing" else np.zeros(T))
        # 2. Body pose from the motion generator; the root becomes heading + lean in the world.
        motion = sample_motion(MOTION[activity], T, fps, np.random.default_rng([config.seed, 1, i]))
        lean = rng.uniform(*LEAN[activity])
        root = Rotation.from_rotvec(np.outer(heading, [0.0, 1.0, 0.0])) * Rotation.from_rotvec([lean, 0.0, 0.0])
        pose = np.concatenate([root.as_rotvec()[:, None], motion[:, 1:]], 1)
        betas = np.clip(rng.standard_normal(10), -2.5, 2.5)
        # 3. Outfit: sometimes a near copy of an earlier person's; one light for the whole scene.
        look = sample_look(np.random.default_rng([config.seed, 2, i]))
        if people and rng.random() < config.similar_outfit_prob:
            other = people[rng.integers(len(people))].look
            look = dataclasses.replace(look, colour=np.clip(other.colour + rng.normal(0, 0.03, other.colour.shape), 0, 1),
                                       colour2=other.colour2, pattern=other.pattern, period=other.period)
        if light is None:
            light = look
        look = dataclasses.replace(look, light_dir=light.light_dir, light_rgb=light.light_rgb, ambient=light.ambient,
                                   diffuse=light.diffuse, headlight=light.headlight)
        people.append(Person(activity, xz, heading, pose.astype(np.float64), betas, look))
    return people


# ----------------------------------------------------------------------------- background
def _hash2(i: np.ndarray, k: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell (i, k)."""
    h = (i.astype(np.int64) * 73856093) ^ (k.astype(np.int64) * 19349663) ^ (salt * 83492791)
    return ((h * 2654435761) % 4294967296) / 4294967296.0


def render_background(config: SynthVideoConfig, R_cw: np.ndarray, palette: dict) -> tuple[np.ndarray, np.ndarray]:
    """Floor tiles and a panelled back wall seen through the camera (consistent under panning).

    Args:
        config: the video.
        R_cw: (3, 3) world-to-camera rotation of this frame.
        palette: ``floor``, ``wall`` (3,) RGB in [0, 1], ``tile`` size (m), ``wall_z`` (m), ``salt``.

    Returns:
        image (H, W, 3) float32 in 0..255, and floor_xz (H, W, 2) float32 world (x, z) of the floor
        seen at each pixel (NaN where the wall is seen).
    """
    H, W = config.image_size
    f, C = config.focal, np.array([0.0, config.camera_height, 0.0])
    j, i = np.meshgrid((np.arange(W) + 0.5 - W / 2) / f, (np.arange(H) + 0.5 - H / 2) / f)
    d = np.stack([j, i, np.ones_like(j)], -1) @ R_cw  # (H, W, 3) world ray directions (R_cw^T d)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[..., 1] < 0, -C[1] / d[..., 1], np.inf)
        t_wall = np.where(d[..., 2] < 0, (-palette["wall_z"] - C[2]) / d[..., 2], np.inf)
    floor = t_floor < t_wall
    t = np.minimum(t_floor, t_wall)
    p = C + np.nan_to_num(t[..., None] * d, posinf=1e3, neginf=-1e3)  # (H, W, 3) hit point
    # Floor: tiles with a grey level each, dark grout, fading to the mean colour with distance (no aliasing).
    s = palette["tile"]
    u, v = p[..., 0] / s, p[..., 2] / s
    tile = 0.9 + 0.2 * _hash2(np.floor(u), np.floor(v), palette["salt"])
    grout = np.minimum(np.abs(u - np.round(u)), np.abs(v - np.round(v))) < 0.025
    fade = np.clip((t - 5.0) / 15.0, 0.0, 1.0)
    floor_level = (1 - fade) * np.where(grout, 0.6, tile) + fade * 0.97
    # Wall: 1.5 m panels, a darker skirting board, lighter towards the top.
    panel = 0.92 + 0.16 * _hash2(np.floor(p[..., 0] / 1.5), np.zeros_like(p[..., 0]), palette["salt"] + 1)
    wall_level = np.where(p[..., 1] < 0.2, 0.55, panel * (0.85 + 0.05 * np.clip(p[..., 1], 0, 4)))
    level = np.where(floor, floor_level, wall_level)[..., None]
    image = 255.0 * level * np.where(floor[..., None], palette["floor"], palette["wall"])
    floor_xz = np.where(floor[..., None], p[..., [0, 2]], np.nan)
    return image.astype(np.float32), floor_xz.astype(np.float32)


def _panning_background(config: SynthVideoConfig, R_cw: np.ndarray, palette: dict) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_background` at half resolution, upsampled: 4x cheaper for the per-frame
    backgrounds of a panning camera (the floor and wall are smooth; people stay sharp)."""
    import cv2

    H, W = config.image_size
    half = dataclasses.replace(config, image_size=((H + 1) // 2, (W + 1) // 2))
    image, floor_xz = render_background(half, R_cw, palette)
    return (cv2.resize(image, (W, H), interpolation=cv2.INTER_LINEAR),
            cv2.resize(floor_xz, (W, H), interpolation=cv2.INTER_LINEAR))


def _palette(seed: int) -> dict:
    rng = np.random.default_rng([seed, 4])
    floors = np.array([[0.55, 0.52, 0.48], [0.62, 0.45, 0.30], [0.40, 0.42, 0.46], [0.58, 0.58, 0.55]])
    walls = np.array([[0.85, 0.82, 0.74], [0.70, 0.76, 0.80], [0.80, 0.72, 0.66], [0.74, 0.78, 0.70]])
    return {"floor": floors[rng.integers(4)] * rng.uniform(0.9, 1.1), "wall": walls[rng.integers(4)],
            "tile": float(rng.choice([0.5, 0.6, 1.0])), "wall_z": float(rng.uniform(13.0, 18.0)),
            "salt": int(rng.integers(1 << 20))}


# ----------------------------------------------------------------------------- the video
@dataclass
class SynthVideo:
    """A rendered synthetic video and its ground truth.

    Attributes:
        config: the :class:`SynthVideoConfig` it was rendered from.
        frames: (T, H, W, 3) uint8 RGB.
        gt: one row per (frame, person), all people in all frames: ``frame`` (0-based),
            ``person_id`` (1-based), ``x1, y1, x2, y2`` (pixels, clipped to the image; NaN when the
            person is entirely outside it), ``visible_fraction`` in [0, 1], ``visible`` (bool,
            ``visible_fraction >= config.visible_threshold``), ``depth`` (camera z of the pelvis, m).
        global_orient: (T, N, 3) axis-angle, camera frame.
        body_pose: (T, N, 23, 3) axis-angle.
        betas: (N, 10).
        transl: (T, N, 3) metres: camera-frame vertices = body(global_orient, body_pose, betas) + transl.
        focal: pixels; the principal point is the image centre, ``principal_point`` = (W/2, H/2).
        camera_rotation: (T, 3, 3) world-to-camera; the camera sits at (0, camera_height, 0).
        activities: N activity names.
    """

    config: SynthVideoConfig
    frames: np.ndarray
    gt: pd.DataFrame
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    focal: float
    camera_rotation: np.ndarray
    activities: list[str]

    @property
    def principal_point(self) -> tuple[float, float]:
        H, W = self.config.image_size
        return (W / 2.0, H / 2.0)

    @property
    def intrinsics(self):
        """The video's true camera, an :class:`~workbench.geometry.intrinsics.Intrinsics`."""
        return Intrinsics(self.focal, self.focal, *self.principal_point)

    def smpl_params(self, frame: int, person_id: int) -> dict | None:
        """SMPL parameters of one person in one frame (``person_id`` 1-based; None for -1 / unknown).

        Returns ``global_orient`` (3,), ``body_pose`` (23, 3), ``betas`` (10,), ``transl`` (3,), the
        lookup that :class:`workbench.tracking.engines.GroundTruthEngine` expects.
        """
        k = int(person_id) - 1
        if not (0 <= k < len(self.betas) and 0 <= frame < len(self.frames)):
            return None
        return {"global_orient": self.global_orient[frame, k], "body_pose": self.body_pose[frame, k],
                "betas": self.betas[k], "transl": self.transl[frame, k]}

    def gt_boxes(self, visible_only: bool = True) -> pd.DataFrame:
        """Ground truth for :func:`workbench.evaluate.tracking_metrics.evaluate_tracking`:
        columns ``frame, id, x1, y1, x2, y2`` of the visible (or all in-image) people."""
        keep = self.gt["visible"] if visible_only else self.gt["x1"].notna()
        return self.gt.loc[keep, ["frame", "person_id", "x1", "y1", "x2", "y2"]].rename(
            columns={"person_id": "id"}).reset_index(drop=True)

    def write(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the frames as an mp4 (see :func:`write_video`)."""
        return write_video(self.frames, path, self.config.fps, overwrite)


def _full_area(v: np.ndarray, faces: np.ndarray, box: np.ndarray, f: float, cx: float, cy: float) -> int:
    """Pixels of one person rendered alone on an unbounded image (truncation ignored): rasterised on
    a canvas covering its projected box, pixel grid aligned with the frame's."""
    from workbench.render.raster import rasterize

    x0, y0 = np.floor(box[:2]).astype(int)
    w, h = (np.ceil(box[2:]).astype(int) - (x0, y0)).clip(1, 4000)
    return int(rasterize(v, faces, (h, w), f, (cx - x0, cy - y0), cull_back=True).mask.sum())


def render_video(config: SynthVideoConfig, progress: bool = False) -> SynthVideo:
    """Render a video and its ground truth (see the module docstring).

    Measured ~60 ms per 640x480 frame with 5-6 people (9 s per 150-frame video, 45 s for the normal
    split, on a busy 2-core machine): one z-buffer pass (:func:`workbench.render.raster.rasterize`)
    for everyone, plus a solo pass for each person whose box overlaps another's or the image border
    (for the visible fraction); people are skinned 30 frames at a time. ``progress`` shows a tqdm bar.
    """
    import cv2
    from tqdm.auto import tqdm

    from workbench.data.appearance import shade_meshes
    from workbench.render.raster import rasterize_people

    skin, parts = open_body_parts()
    faces = skin.faces
    people = plan_people(config)
    T, N, (H, W) = config.num_frames, len(people), config.image_size
    f, cx, cy = config.focal, W / 2.0, H / 2.0
    camera = Intrinsics(f, f, cx, cy)
    C = np.array([0.0, config.camera_height, 0.0])
    R_cw = camera_rotations(config)
    palette = _palette(config.seed)
    static_bg = render_background(config, R_cw[0], palette) if config.pan_deg_per_s == 0 else None
    frames = np.empty((T, H, W, 3), np.uint8)
    go, transl, pelvis_cam = np.zeros((T, N, 3)), np.zeros((T, N, 3)), np.zeros((T, N, 3))
    rows = []
    chunk = 30
    bar = tqdm(total=T, desc=f"render seed {config.seed}", disable=not progress)
    for start in range(0, T, chunk):
        sl = slice(start, min(start + chunk, T))
        # 1. Skin every person for this chunk in its world orientation; feet on the floor.
        world, root_world = [], []
        for k, person in enumerate(people):
            out = skin(person.pose[sl], np.repeat(person.betas[None], sl.stop - sl.start, 0))
            rel = out.vertices - out.joints[:, :1]  # (t, V, 3) about the pelvis
            pelvis = np.concatenate([person.xz[sl, :1], -rel[..., 1].min(1, keepdims=True), person.xz[sl, 1:]], 1)
            world.append(rel + pelvis[:, None].astype(np.float32))
            root_world.append(pelvis)
            # SMPL in the camera: rotate the root; transl puts the pelvis (rest joint J0) where it belongs.
            R_wo = Rotation.from_rotvec(person.pose[sl, 0]).as_matrix()
            go[sl, k] = Rotation.from_matrix(R_cw[sl] @ R_wo).as_rotvec()
            pelvis_cam[sl, k] = np.einsum("tij,tj->ti", R_cw[sl], pelvis - C)
            transl[sl, k] = pelvis_cam[sl, k] - out.joints[0, 0]
        for t in range(sl.start, sl.stop):
            R = R_cw[t].astype(np.float32)
            # 2. Which people are in view; render them together (one z-buffer).
            in_view, verts, boxes = [], [], np.full((N, 4), np.nan)
            for k in range(N):
                v = (world[k][t - sl.start] - C.astype(np.float32)) @ R.T
                if v[:, 2].min() < NEAR:
                    continue
                uv = camera.project(v)
                box = np.concatenate([uv.min(0), uv.max(0)])
                if box[0] < W and box[1] < H and box[2] > 0 and box[3] > 0:
                    in_view.append(k)
                    verts.append(v)
                    boxes[k] = box
            bg, floor_xz = static_bg if static_bg is not None else _panning_background(config, R_cw[t], palette)
            image = bg.copy()
            _blob_shadows(image, floor_xz, boxes[in_view], [root_world[k][t - sl.start] for k in in_view])
            visible_px = np.zeros(N)
            if in_view:
                r = rasterize_people(verts, faces, (H, W), f, (cx, cy))
                px, which, colour = shade_meshes(r.face_id, r.normal, parts, [people[k].look for k in in_view])
                visible_px[in_view] = np.bincount(which, minlength=len(in_view))
                # Soft outer silhouette: boundary pixels blend with the background.
                alpha = cv2.blur(r.mask.astype(np.float32), (3, 3)).ravel()[px, None] * 0.5 + 0.5
                flat = image.reshape(-1, 3)
                flat[px] = alpha * colour + (1 - alpha) * flat[px]
            frames[t] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
            # 3. Ground truth rows.
            # A person inside the image whose box overlaps no other box is fully visible: skip its
            # solo render (the costly part of the ground truth).
            inside = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= W) & (boxes[:, 3] <= H)
            overlap = ((boxes[:, None, :2] < boxes[None, :, 2:]) & (boxes[None, :, :2] < boxes[:, None, 2:])).all(-1)
            alone = inside & (overlap.sum(1) == 1)  # NaN boxes (not in view) overlap nothing, not even themselves
            for k in range(N):
                if k not in in_view:
                    full = 0
                elif alone[k]:
                    full = visible_px[k]
                else:
                    full = _full_area(verts[in_view.index(k)], faces, boxes[k], f, cx, cy)
                vis = min(1.0, visible_px[k] / full) if full > 0 else 0.0
                box = np.clip(boxes[k], 0, [W, H, W, H])
                rows.append((t, k + 1, *box, vis, vis >= config.visible_threshold, pelvis_cam[t, k, 2]))
            bar.update(1)
    bar.close()
    gt = pd.DataFrame(rows, columns=["frame", "person_id", "x1", "y1", "x2", "y2", "visible_fraction", "visible",
                                     "depth"])
    return SynthVideo(config=config, frames=frames, gt=gt, global_orient=go,
                      body_pose=np.stack([p.pose[:, 1:] for p in people], 1), betas=np.stack([p.betas for p in people]),
                      transl=transl, focal=f, camera_rotation=R_cw, activities=[p.activity for p in people])


def _blob_shadows(image: np.ndarray, floor_xz: np.ndarray, boxes: np.ndarray, feet: list[np.ndarray],
                  radius: float = 0.45) -> None:
    """Darken the floor under each person (a soft disc around the pelvis's ground point), in place.

    Args:
        image: (H, W, 3) float32 frame; floor_xz: (H, W, 2) floor point per pixel (NaN off the floor);
        boxes: (K, 4) the people's projected boxes, pixels (the shadow is looked for around their
            bottom edge); feet: K world points (x, y, z) of the pelvises.
    """
    H, W = floor_xz.shape[:2]
    for box, p in zip(boxes, feet):
        w, h = box[2] - box[0], box[3] - box[1]
        x0, x1 = int(max(box[0] - w, 0)), int(min(box[2] + w, W))
        y0, y1 = int(max(box[3] - 0.3 * h, 0)), int(min(box[3] + 0.3 * h + 2, H))
        if x1 <= x0 or y1 <= y0:
            continue
        xz = floor_xz[y0:y1, x0:x1]
        d2 = ((xz[..., 0] - p[0]) ** 2 + (xz[..., 1] - p[2]) ** 2) / radius**2
        shade = 1.0 - 0.45 * np.exp(-np.where(np.isnan(d2), 1e3, d2))
        image[y0:y1, x0:x1] *= shade[..., None]


# ----------------------------------------------------------------------------- detections and files
def simulate_detections(video: SynthVideo, noise: DetectionNoise | None = None, seed: int | None = None) -> pd.DataFrame:
    """Detector-like boxes from the ground truth: jittered, sometimes missed, plus false positives.

    Args:
        video: a rendered :class:`SynthVideo`.
        noise: :class:`DetectionNoise`; default ``video.config.detection``.
        seed: default ``video.config.seed``.

    Returns:
        DataFrame with columns ``frame, x1, y1, x2, y2`` (pixels, inside the image), ``score`` and
        ``gt_id`` (the 1-based person it came from; -1 for a false positive), sorted by frame.
    """
    noise = noise or video.config.detection
    rng = np.random.default_rng([video.config.seed if seed is None else seed, 3])
    H, W = video.config.image_size
    gt = video.gt[video.gt["x1"].notna()]
    vis = gt["visible_fraction"].to_numpy()
    # 1. Misses: always below min_visible, else more often the more hidden.
    p_miss = np.where(vis < noise.min_visible, 1.0, noise.miss_rate + noise.occlusion_miss * (1.0 - vis))
    kept = gt[rng.random(len(gt)) >= p_miss]
    box = kept[["x1", "y1", "x2", "y2"]].to_numpy(float)
    # 2. Jitter: centre by a fraction of the size, size by a log-normal factor.
    size = box[:, 2:] - box[:, :2]
    centre = (box[:, :2] + box[:, 2:]) / 2 + rng.normal(0, noise.centre_jitter, size.shape) * size
    size = size * np.exp(rng.normal(0, noise.size_jitter, size.shape))
    box = np.clip(np.concatenate([centre - size / 2, centre + size / 2], 1), 0, [W, H, W, H])
    lo, hi = noise.score_range
    v = kept["visible_fraction"].to_numpy()
    score = np.clip(lo + (hi - lo) * v + rng.normal(0, 0.02, len(v)), 0, 1)
    true = pd.DataFrame({"frame": kept["frame"].to_numpy(), "x1": box[:, 0], "y1": box[:, 1], "x2": box[:, 2],
                         "y2": box[:, 3], "score": score, "gt_id": kept["person_id"].to_numpy()})
    # 3. False positives: person-shaped boxes (height 20-60 % of the image, width ~0.4 height) anywhere.
    num_fp = rng.poisson(noise.fp_per_frame, len(video.frames))
    frame = np.repeat(np.arange(len(video.frames)), num_fp)
    h = rng.uniform(0.2, 0.6, len(frame)) * H
    w = h * rng.uniform(0.3, 0.5, len(frame))
    x1, y1 = rng.uniform(0, 1, len(frame)) * (W - w), rng.uniform(0, 1, len(frame)) * (H - h)
    fp = pd.DataFrame({"frame": frame, "x1": x1, "y1": y1, "x2": x1 + w, "y2": y1 + h,
                       "score": rng.uniform(*noise.fp_score_range, len(frame)), "gt_id": -1})
    out = pd.concat([true, fp], ignore_index=True) if len(fp) else true
    return out.sort_values(["frame", "gt_id"], kind="stable").reset_index(drop=True)


def detections_by_frame(detections: pd.DataFrame, num_frames: int) -> dict:
    """``{frame: workbench.detect.Detections}`` (with ``gt_ids``) for every frame, empty ones included;
    a :class:`workbench.detect.GivenBoxes` detector accepts this mapping."""
    from workbench.detect import Detections

    out = {t: Detections.empty() for t in range(num_frames)}
    for t, rows in detections.groupby("frame"):
        out[int(t)] = Detections(rows[["x1", "y1", "x2", "y2"]].to_numpy(), rows["score"].to_numpy(),
                                 gt_ids=rows["gt_id"].to_numpy())
    return out


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: float = 30.0, overwrite: bool = False) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames as an mp4 ('mp4v'), atomically (temporary file, then
    ``os.replace``), so ``python -m workbench track`` can read it. Returns the path."""
    import cv2

    from workbench.io import check_writable_target

    path = check_writable_target(path, overwrite)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist; create it first.")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".mp4")
    os.close(fd)
    try:
        H, W = frames.shape[1:3]
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (W, H))
        if not writer.isOpened():
            raise ValueError(f"OpenCV cannot write {path.suffix or '.mp4'} video here; use an .mp4 path.")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
