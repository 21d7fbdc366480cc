"""SynthHumans: synthetic HMR 2.0 training crops, rendered on the fly on the CPU.

Everything here is synthetic: procedural poses (:mod:`workbench.data.pose_prior`), the open body
with random shape, procedural clothing colours and light (:mod:`workbench.data.appearance`),
procedural or people-free photo backgrounds and random occluders
(:mod:`workbench.data.backgrounds`). No real person, mocap or licensed dataset is involved.

Sample ``i`` is a deterministic function of ``(seed, split, i)``. How one is made:

1. pose (activity mix, camera-frame global orientation) and betas ~ N(0, I) clipped to +-3;
2. a virtual photo (a common resolution) holding a square person box of random size; the body is
   placed in HMR 2.0's crop camera (focal 5000 px at 256, principal point at the centre) so that
   its silhouette fills 70-95 % of the box, off-centre by up to 5 %; 20 % of boxes hang over an
   image edge (truncation: pixels outside the photo are black, as HMR 2.0's constant border);
3. augmentation (HMR 2.0's, :mod:`workbench.data.augment`) is applied to the *camera* before
   rendering -- the box shift/scale moves the body, the rotation turns it about the optical axis,
   the flip mirrors the finished crop -- so there are no black borders beyond the photo's;
4. the crop is rendered straight at 256x256 (:func:`workbench.render.raster.rasterize`), shaded per
   part, composited over the background with soft edges, occluders drawn in front, blur and noise
   added, and box sizes under 256 px are down- and up-sampled like a real low-resolution person;
5. labels come from projecting the final 3D keypoints, so ``project(keypoints_3d + cam_t)`` equals
   ``keypoints_2d`` exactly (before the weak-perspective-only steps of image-space augmentation).

Visibility rule for ``keypoints_2d[:, 2]``: 1 if the keypoint projects inside the crop, inside the
virtual photo and is not covered by an occluder; 0 otherwise. Self-occluded joints keep 1 (their
position is known, as in HMR 2.0's pseudo-ground-truth). ``keypoints_3d[:, 3]`` is always 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from workbench.config import DataConfig
from workbench.data import augment as aug
from workbench.data.appearance import Look, body_parts, sample_look, shade_pixels
from workbench.data.backgrounds import (
    DEFAULT_WEIGHTS,
    draw_occluders,
    sample_background,
)
from workbench.data.pose_prior import OrientationConfig, sample_poses
from workbench.render.raster import rasterize
from workbench.data.skinning import SparseBody
from workbench.geometry.camera import FOCAL_LENGTH, IMAGE_SIZE
from workbench.geometry.crop import IMAGENET_MEAN, IMAGENET_STD

SPLITS = {"train": 0, "val": 1}
F_N = FOCAL_LENGTH / IMAGE_SIZE  # crop focal in normalised units
_MEAN = 255.0 * np.array(IMAGENET_MEAN, np.float32)
_STD = 255.0 * np.array(IMAGENET_STD, np.float32)


@dataclass
class SceneConfig:
    """Scene randomisation of SynthHumans (ours; HMR 2.0 has no synthetic data).

    Attributes:
        image_sizes: (W, H) of the virtual photos.
        box_fraction: range of the person box side over the photo's shorter side (uniform).
        fill: range of the body's larger silhouette side over the box side.
        centre_jitter: body centre offset from the box centre, fraction of the box side.
        truncation_prob, truncation: share of boxes hanging over a photo edge, and by how much.
        occluder_prob: share of crops with occluders in front of the person.
        min_occluders, max_occluders: an occluded crop has this many occluders (uniform).
        background_weights: probabilities of ``backgrounds.KINDS``.
        noise_std: range of additive pixel noise (0..255 scale).
        motion_blur_prob: share of crops with a short linear motion blur.
        pose_block: poses are drawn this many at a time (one vectorised call, ~10 ms); sample i uses
            block i // pose_block. Blocks are kept (up to ``max_pose_blocks``, ~20 KB each), so a
            shuffled epoch computes each block once per worker; in-order reading is cheapest.
        max_pose_blocks: how many pose blocks a dataset (each worker's copy) keeps.
        activity_mix: activity weights for the pose prior (None: its default).
        orientation: global-orientation distribution.
    """

    image_sizes: tuple = ((640, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1080), (480, 640))
    box_fraction: tuple[float, float] = (0.25, 1.0)
    fill: tuple[float, float] = (0.7, 0.95)
    centre_jitter: float = 0.05
    truncation_prob: float = 0.2
    truncation: tuple[float, float] = (0.1, 0.5)
    occluder_prob: float = 0.3
    min_occluders: int = 1
    max_occluders: int = 2
    background_weights: tuple = DEFAULT_WEIGHTS
    noise_std: tuple[float, float] = (0.0, 6.0)
    motion_blur_prob: float = 0.1
    pose_block: int = 64
    max_pose_blocks: int = 4096
    activity_mix: dict | None = None
    orientation: OrientationConfig = field(default_factory=OrientationConfig)


@dataclass
class Scene:
    """Every random choice behind one sample (edit fields to render variations in tests)."""

    index: int
    pose: np.ndarray  # (24, 3) axis-angle, global orientation (camera frame) first
    activity: int
    betas: np.ndarray  # (10,)
    look: Look
    image_wh: tuple[int, int]
    box_px: float  # person box side in the virtual photo
    box_centre: np.ndarray  # (2,) in the virtual photo, pixels
    truncated: bool
    fill: float
    offset: np.ndarray  # (2,) body centre in the box, normalised
    occluded: bool
    noise_std: float
    motion_blur: bool
    aug: aug.AugParams
    render_seed: tuple  # entropy for backgrounds, occluders and noise


class SynthHumans(torch.utils.data.Dataset):
    """Synthetic HMR 2.0 training crops (see the module docstring).

    Args:
        config: :class:`~workbench.config.DataConfig` (seed, sizes, augmentation values).
        split: ``"train"`` or ``"val"``: disjoint seed streams.
        num_samples: length; default ``config.num_train`` / ``config.num_val``.
        augment: apply HMR 2.0's augmentation; default ``config.do_augment`` for train, False for val.
        scene: :class:`SceneConfig`.
        body: a :class:`~workbench.body.BodyModel` (default: the open body).
        opencv_threads: set OpenCV's global thread count (default 1; None leaves it alone). On
            256-pixel images OpenCV's pool costs more CPU than it saves, DataLoader workers already
            fill the cores, and resizing the pool inside a forked worker can deadlock -- so it is set
            here, in the parent process, before any worker starts.

    Items are dicts of numpy arrays with HMR 2.0's keys (see :meth:`render_scene`); use
    ``DataLoader(ds, batch_size=B, num_workers=k)``; the DataLoader calls :meth:`__getitems__`
    per batch. Shuffling works but adds nothing (samples are independent draws) and costs a little
    (see ``SceneConfig.pose_block``).
    """

    def __init__(self, config: DataConfig | None = None, split: str = "train", num_samples: int | None = None,
                 augment: bool | None = None, scene: SceneConfig | None = None, body=None,
                 opencv_threads: int | None = 1) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}.")
        self.config = config or DataConfig()
        self.split = split
        self.num_samples = int(num_samples if num_samples is not None else
                               (self.config.num_train if split == "train" else self.config.num_val))
        self.augment = (self.config.do_augment and split == "train") if augment is None else bool(augment)
        self.scene_config = scene or SceneConfig()
        if body is None:
            from workbench.body import BodyModel

            body = BodyModel.open_body()
        self.body = SparseBody(body)
        rest = self.body(np.zeros((1, 24, 3)), np.zeros((1, 10)))
        self.parts = body_parts(body.layer.lbs_weights.numpy(), self.body.v_template, rest.joints[0], self.body.faces)
        self._pose_blocks: dict[int, object] = {}
        if opencv_threads is not None and cv2.getNumThreads() != opencv_threads:
            cv2.setNumThreads(opencv_threads)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        return self.render_batch([index])[0]

    def __getitems__(self, indices) -> list[dict]:
        return self.render_batch(indices)

    def render_batch(self, indices) -> list[dict]:
        """Render several samples (consecutive indices share their pose block)."""
        return [finalize(self.render_scene(self.sample_scene(int(i)))) for i in indices]

    # ------------------------------------------------------------------------- scene
    def _entropy(self, *parts) -> list[int]:
        return [int(self.config.seed), SPLITS[self.split], *parts]

    def _poses(self, block: int):
        if block not in self._pose_blocks:
            sc = self.scene_config
            rng = np.random.default_rng(self._entropy(1, block))
            if len(self._pose_blocks) >= sc.max_pose_blocks:
                self._pose_blocks.pop(next(iter(self._pose_blocks)))  # oldest first
            self._pose_blocks[block] = sample_poses(sc.pose_block, rng, mix=sc.activity_mix,
                                                    orientation=sc.orientation)
        return self._pose_blocks[block]

    def sample_scene(self, index: int) -> Scene:
        """All random choices of sample ``index`` (a pure function of seed, split and index)."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples.")
        sc = self.scene_config
        rng = np.random.default_rng(self._entropy(0, index))
        poses = self._poses(index // sc.pose_block)
        k = index % sc.pose_block
        betas = np.clip(rng.standard_normal(10), -3.0, 3.0)
        W, H = sc.image_sizes[rng.integers(len(sc.image_sizes))]
        box = float(rng.uniform(*sc.box_fraction) * min(W, H))
        truncated = bool(rng.random() < sc.truncation_prob)
        centre = np.array([rng.uniform(box / 2, W - box / 2), rng.uniform(box / 2, H - box / 2)])
        if truncated:  # push the box over one edge (mostly the bottom: people cut at the knees)
            edge = rng.choice(4, p=[0.2, 0.2, 0.15, 0.45])  # left, right, top, bottom
            over = rng.uniform(*sc.truncation) * box
            axis, sign = (0, -1) if edge == 0 else (0, 1) if edge == 1 else (1, -1) if edge == 2 else (1, 1)
            size = (W, H)[axis]
            centre[axis] = size / 2 + sign * (size / 2 - box / 2 + over)
        params = aug.sample_augmentation(rng, self.config) if self.augment else aug.AugParams()
        return Scene(
            index=index, pose=poses.pose[k].astype(np.float64), activity=int(poses.activity[k]), betas=betas,
            look=sample_look(rng), image_wh=(int(W), int(H)), box_px=box, box_centre=centre, truncated=truncated,
            fill=float(rng.uniform(*sc.fill)), offset=rng.uniform(-sc.centre_jitter, sc.centre_jitter, 2),
            occluded=bool(rng.random() < sc.occluder_prob), noise_std=float(rng.uniform(*sc.noise_std)),
            motion_blur=bool(rng.random() < sc.motion_blur_prob), aug=params,
            render_seed=tuple(self._entropy(2, index)))

    # ------------------------------------------------------------------------- rendering
    def place(self, vertices: np.ndarray, fill: float, offset: np.ndarray) -> np.ndarray:
        """Crop-camera translation (3,) putting the body's silhouette at ``fill`` of the crop side,
        centred at ``offset`` (normalised units). Weak perspective, then one perspective correction."""
        x, y, z = np.ascontiguousarray(vertices.T, dtype=np.float64)  # 1D reductions: much faster than (V, 2)
        lo, hi = np.array([x.min(), y.min()]), np.array([x.max(), y.max()])
        tz = F_N * float((hi - lo).max()) / fill
        t = np.array([*(offset * tz / F_N - (lo + hi) / 2), tz])
        u, v = F_N * (x + t[0]) / (z + t[2]), F_N * (y + t[1]) / (z + t[2])
        ulo, uhi = np.array([u.min(), v.min()]), np.array([u.max(), v.max()])
        t[2] *= float((uhi - ulo).max()) / fill
        t[:2] += (offset - (ulo + uhi) / 2) * t[2] / F_N
        return t

    def render_scene(self, s: Scene) -> dict:
        """Render one scene into a raw item: ``image`` (256, 256, 3) uint8 plus labels (numpy).

        Raw item keys: image, mask (256, 256) uint8 silhouette, keypoints_2d (44, 3),
        keypoints_3d (44, 4), smpl_params {global_orient (3,), body_pose (69,), betas (10,)},
        cam_t (3,), root_joint (3,), box_center (2,), box_size (), img_size (2,) = (W, H),
        meta {index, activity, truncated, flipped, extreme_crop, occluded_fraction}.
        """
        size = IMAGE_SIZE
        rng = np.random.default_rng(list(s.render_seed))
        posed = self.body(s.pose[None], s.betas[None])
        verts = posed.vertices[0]
        kps, root = posed.keypoints[0].astype(np.float64), posed.joints[0, 0].astype(np.float64)
        W, H = s.image_wh
        # 1. Place the body in the un-augmented crop; which keypoints land inside crop and photo.
        t = self.place(verts, s.fill, s.offset)
        u0 = F_N * (kps[:, :2] + t[:2]) / (kps[:, 2:] + t[2])
        px0 = s.box_centre + u0 * s.box_px
        vis0 = (np.all(np.abs(u0) <= 0.5, 1) & (px0[:, 0] >= 0) & (px0[:, 0] < W) & (px0[:, 1] >= 0) & (px0[:, 1] < H))
        # 2. Augmentation as a new box (delta, sigma) and an in-plane rotation of the camera.
        delta, sigma, extreme_part = aug.augmented_box(s.aug, np.concatenate([u0, vis0[:, None]], 1))
        rot = -s.aug.rot if s.aug.flip else s.aug.rot  # rendered unmirrored, mirrored at the end
        R2 = aug.rotation_2d(rot)
        t_box = np.array([*(t[:2] - delta * t[2] / F_N), t[2] * sigma])
        cam_t = aug.rotate_cam_t(t_box, rot, root)
        kps3d = aug.rotate_about_root(kps, rot, root)
        if rot == 0.0:
            verts_cam = verts + cam_t.astype(np.float32)
        else:
            R3 = aug.rotation_3d(rot).T.astype(np.float32)
            verts_cam = (verts - root.astype(np.float32)) @ R3 + (root + cam_t).astype(np.float32)
        # 3. Render the body and shade it.
        r = rasterize(verts_cam, self.body.faces, (size, size), FOCAL_LENGTH, cull_back=True)
        mask = r.mask
        image, bg_kind = sample_background(rng, size, self.scene_config.background_weights)  # uint8 from here on
        body_px = np.flatnonzero(mask)
        colour = shade_pixels(r.face_id.ravel()[body_px], r.normal.reshape(-1, 3)[body_px], self.parts, s.look)
        # Soft silhouette: boundary pixels blend with the background (a cheap anti-aliasing).
        alpha = cv2.blur(mask.astype(np.float32), (3, 3)).ravel()[body_px, None] * 0.5 + 0.5
        flat = image.reshape(-1, 3)
        flat[body_px] = np.clip(alpha * colour + (1 - alpha) * flat[body_px] + 0.5, 0, 255).astype(np.uint8)
        # 4. Labels in the rendered crop.
        uv = F_N * (kps3d[:, :2] + cam_t[:2]) / (kps3d[:, 2:] + cam_t[2])
        pix = (uv + 0.5) * size
        photo_px = s.box_centre + s.box_px * (delta + sigma * (uv @ R2))  # crop -> virtual photo
        visible = (np.all(np.abs(uv) <= 0.5, 1) & (photo_px[:, 0] >= 0) & (photo_px[:, 0] < W)
                   & (photo_px[:, 1] >= 0) & (photo_px[:, 1] < H))
        # 5. Occluders in front of the person.
        occluded_fraction = 0.0
        if s.occluded and mask.any():
            rows, cols = np.nonzero(mask)
            occ = draw_occluders(rng, image, np.array([cols.min(), rows.min(), cols.max(), rows.max()], float),
                                 max_count=self.scene_config.max_occluders, min_count=self.scene_config.min_occluders)
            occluded_fraction = float((occ & mask).sum() / mask.sum())
            ij = np.clip(np.floor(pix).astype(int), 0, size - 1)
            visible &= ~occ[ij[:, 1], ij[:, 0]]
        # 6. Camera effects: low resolution, motion blur, noise; then black outside the photo.
        crop_px = s.box_px * sigma
        if crop_px < size:
            small = max(round(crop_px), 8)
            image = cv2.resize(cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                               interpolation=cv2.INTER_LINEAR)
        if s.motion_blur:
            k = int(rng.integers(3, 8))
            kernel = np.zeros((k, k), np.float32)
            cv2.line(kernel, (0, int(rng.integers(k))), (k - 1, int(rng.integers(k))), 1.0, 1)
            image = cv2.filter2D(image, -1, kernel / kernel.sum())
        if s.noise_std > 0:  # image + std * N(0, 1), saturating
            gain = s.noise_std / _NOISE_STD
            image = cv2.addWeighted(image, 1.0, _noise_texture(rng, size), gain, -128.0 * gain)
        crop_corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
        crop_in_photo = s.box_centre + s.box_px * (delta + sigma * (crop_corners @ R2))
        inside = np.ones((size, size), np.uint8)
        if not (np.all(crop_in_photo >= 0) and np.all(crop_in_photo <= [W, H])):  # part of the crop is off the photo
            corners = np.array([[0, 0], [W, 0], [W, H], [0, H]], float)
            corners_uv = ((corners - s.box_centre) / s.box_px - delta) @ R2.T / sigma
            inside[:] = 0
            # cv2 puts pixel j's centre at coordinate j (ours at j + 0.5); 4 fractional bits.
            cv2.fillConvexPoly(inside, np.round(((corners_uv + 0.5) * size - 0.5) * 16).astype(np.int32), 1,
                               cv2.LINE_8, 4)
            image = cv2.bitwise_and(image, image, mask=inside)
        go = aug.rotate_global_orient(s.pose[0], rot)
        item = {
            "image": image, "mask": (mask & (inside > 0)).astype(np.uint8),
            "keypoints_2d": np.concatenate([uv, visible[:, None]], 1).astype(np.float32),
            "keypoints_3d": np.concatenate([kps3d, np.ones((44, 1))], 1).astype(np.float32),
            "smpl_params": {"global_orient": go.astype(np.float32),
                            "body_pose": s.pose[1:].reshape(69).astype(np.float32),
                            "betas": s.betas.astype(np.float32)},
            "cam_t": cam_t.astype(np.float32), "root_joint": root.astype(np.float32),
            "box_center": (s.box_centre + s.box_px * delta).astype(np.float32),
            "box_size": np.float32(crop_px), "img_size": np.array([W, H], np.float32),
            "meta": {"index": s.index, "activity": s.activity, "truncated": int(s.truncated),
                     "flipped": int(s.aug.flip), "extreme_crop": int(extreme_part is not None),
                     "occluded_fraction": np.float32(occluded_fraction), "background": bg_kind},
        }
        # 7. Flip the finished crop (and its labels), then HMR 2.0's colour scale.
        if s.aug.flip:
            item = aug.flip_labels(item)
            item["image"] = np.ascontiguousarray(item["image"][:, ::-1])
            item["mask"] = np.ascontiguousarray(item["mask"][:, ::-1])
            item["box_center"] = np.array([W - item["box_center"][0], item["box_center"][1]], np.float32)
        item["image"] = aug.apply_color_scale(item["image"], s.aug.color)
        return _float32(item)


def _float32(item: dict) -> dict:
    """Cast float label arrays (and the SMPL parameter dict) to float32 after numpy maths."""
    for key in ("keypoints_2d", "keypoints_3d", "cam_t", "root_joint", "box_center"):
        item[key] = np.asarray(item[key], np.float32)
    item["smpl_params"] = {k: np.asarray(v, np.float32) for k, v in item["smpl_params"].items()}
    return item


_NOISE: dict[int, np.ndarray] = {}
_NOISE_STD = 16.0


def _noise_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8 Gaussian noise, mean 128 and std 16: a random window of a fixed
    texture twice the size (cheaper than drawing 200k normals per crop)."""
    if size not in _NOISE:
        noise = 128.0 + _NOISE_STD * np.random.default_rng(12345).standard_normal((2 * size, 2 * size, 3))
        _NOISE[size] = np.clip(np.round(noise), 0, 255).astype(np.uint8)
    y, x = rng.integers(0, size, 2)
    return np.ascontiguousarray(_NOISE[size][y:y + size, x:x + size])


_NORMALISE_LUT = (np.arange(256, dtype=np.float32)[None, :] - _MEAN[:, None]) / _STD[:, None]  # (3, 256)


def finalize(raw: dict) -> dict:
    """Raw item (uint8 ``image``) -> training item: ``img`` (3, 256, 256) float32 ImageNet-normalised
    plus HMR 2.0's ``has_smpl_params`` and ``smpl_params_is_axis_angle`` flags."""
    item = {k: v for k, v in raw.items() if k != "image"}
    image = raw["image"]
    item["img"] = np.stack([_NORMALISE_LUT[c][image[..., c]] for c in range(3)])  # a lookup per channel
    item["has_smpl_params"] = {"global_orient": np.float32(1.0), "body_pose": np.float32(1.0), "betas": np.float32(1.0)}
    item["smpl_params_is_axis_angle"] = {"global_orient": True, "body_pose": True, "betas": False}
    return item


def denormalize_image(img) -> np.ndarray:
    """(3, H, W) ImageNet-normalised (numpy or torch) -> (H, W, 3) uint8 RGB, for looking at crops."""
    x = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    return np.clip(x.transpose(1, 2, 0) * _STD + _MEAN + 0.5, 0, 255).astype(np.uint8)
