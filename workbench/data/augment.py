"""HMR 2.0's training augmentation (``hmr2/datasets/utils.py``), as pure numpy functions.

Published values (``DataConfig``): scale ``1 + 0.3 clip(N, -1, 1)``; rotation ``30 clip(N, -2, 2)``
degrees with probability 0.6; box-centre shift ``0.02 box clip(N, -1, 1)`` per axis; colour
``U(0.8, 1.2)`` per channel then clip; horizontal flip with probability 0.5; extreme crop with
probability 0.1.

Conventions. Keypoints are in normalised crop coordinates ``u = pixel / 256 - 0.5`` (centre 0).
``rot`` is the angle by which the *sampled box* is turned (as in
:func:`workbench.geometry.crop_affine`), so image content turns by ``-rot``. One augmentation maps
source-crop coordinates ``u`` to ``u' = R(rot) M (u - delta) / sigma``, where ``(delta, sigma)``
is the new box in units of the source box (extreme crop, shift, scale), ``M`` mirrors x when
flipping and ``R(rot) = [[c, s], [-s, c]]``. The 3D quantities follow with
``R3 = [[c, s, 0], [-s, c, 0], [0, 0, 1]]``, a rotation about the camera's optical axis:
keypoints_3d and cam_t are mirrored (x -> -x) then rotated; ``global_orient`` becomes
``R3 M R M``; body_pose swaps left/right joints and negates the y and z axis-angle components.
Rotation and flip keep the projection of (keypoints_3d + cam_t) exactly equal to keypoints_2d;
shift and scale are exact in the weak-perspective limit (HMR 2.0's crop camera is at ~40 m, so
the residual is ~1e-3 crop units).

Extreme crop (simplified "aggressive" level 1): with all of both knees and ankles visible, pick
hips (upper body down to the hips) 0.2, shoulders 0.1, head 0.1, torso 0.1, right arm 0.1, left
arm 0.1, legs 0.1, right leg 0.1, left leg 0.1; with only the upper body visible, shoulders, head,
torso, right arm, left arm at 0.2 each. The new square box is the bounding box of the visible
keypoints of that part, padded x U(1.1, 1.3); it is skipped if fewer than 2 of them are visible
or if it would be smaller than 4 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from workbench.body.keypoints import HMR_FLIP_PERMUTATION, SMPL_FLIP_PERMUTATION
from workbench.geometry.camera import FOCAL_LENGTH, IMAGE_SIZE

FOCAL_NORMALISED = FOCAL_LENGTH / IMAGE_SIZE  # crop focal in normalised units (5000 / 256)
_HMR_FLIP = np.array(HMR_FLIP_PERMUTATION)
_BODY_FLIP = np.array(SMPL_FLIP_PERMUTATION[1:]) - 1  # the 23 body joints
_MIRROR = np.array([-1.0, 1.0, 1.0])

# 44-joint subsets used by the extreme crop (indices into workbench.body.keypoints.HMR_JOINT_NAMES).
_LOWER = (10, 11, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26, 29, 30)
EXTREME_PARTS = {
    "hips": tuple(i for i in range(44) if i not in _LOWER),
    "shoulders": (0, 1, 2, 5, 15, 16, 17, 18, 33, 34, 37, 38, 40, 42, 43),
    "head": (0, 15, 16, 17, 18, 38, 42, 43),
    "torso": (1, 2, 5, 8, 9, 12, 27, 28, 33, 34, 37, 39, 40, 41),
    "right_arm": (2, 3, 4, 31, 32, 33),
    "left_arm": (5, 6, 7, 34, 35, 36),
    "legs": (9, 10, 11, 12, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30),
    "right_leg": (9, 10, 11, 22, 23, 24, 25, 26, 27),
    "left_leg": (12, 13, 14, 19, 20, 21, 28, 29, 30),
}
_FULL_BODY_CHOICES = (("hips", 0.2), ("shoulders", 0.1), ("head", 0.1), ("torso", 0.1), ("right_arm", 0.1),
                      ("left_arm", 0.1), ("legs", 0.1), ("right_leg", 0.1), ("left_leg", 0.1))
_UPPER_BODY_CHOICES = (("shoulders", 0.2), ("head", 0.2), ("torso", 0.2), ("right_arm", 0.2), ("left_arm", 0.2))


@dataclass
class AugParams:
    """One draw of HMR 2.0's augmentation. The identity by default.

    Attributes:
        scale: box side multiplier.
        rot: degrees the sampled box turns (content turns by -rot).
        tx, ty: box-centre shift as a fraction of the box side.
        flip: mirror left-right.
        color: (3,) per-channel multipliers.
        extreme_crop: crop to a body part; ``extreme_u`` picks the part, ``extreme_pad`` pads it.
    """

    scale: float = 1.0
    rot: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    flip: bool = False
    color: np.ndarray = field(default_factory=lambda: np.ones(3))
    extreme_crop: bool = False
    extreme_u: float = 0.0
    extreme_pad: float = 1.2


def sample_augmentation(rng: np.random.Generator, cfg) -> AugParams:
    """HMR 2.0's ``do_augmentation`` with the values of a :class:`~workbench.config.DataConfig`."""
    def c(lo, hi):
        return float(np.clip(rng.standard_normal(), lo, hi))

    scale = 1.0 + cfg.scale_factor * c(-1, 1)
    rot = cfg.rot_factor * c(-2, 2)
    rot = rot if rng.random() < cfg.rot_aug_rate else 0.0
    tx, ty = cfg.trans_factor * c(-1, 1), cfg.trans_factor * c(-1, 1)
    flip = bool(rng.random() < cfg.flip_aug_rate)
    color = rng.uniform(1.0 - cfg.color_scale, 1.0 + cfg.color_scale, 3)
    extreme = bool(rng.random() < cfg.extreme_crop_aug_rate)
    return AugParams(scale, rot, tx, ty, flip, color, extreme, float(rng.random()), float(rng.uniform(1.1, 1.3)))


# ----------------------------------------------------------------------------- flips
def flip_keypoints_2d(kp: np.ndarray) -> np.ndarray:
    """(..., 44, 2 or 3) normalised crop keypoints of a mirrored crop: x -> -x, left <-> right."""
    out = kp[..., _HMR_FLIP, :].copy()
    out[..., 0] *= -1
    return out


def flip_keypoints_3d(kp: np.ndarray) -> np.ndarray:
    """(..., 44, 3 or 4) camera-frame keypoints of a mirrored crop: x -> -x, left <-> right."""
    return flip_keypoints_2d(kp)


def flip_global_orient(go: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle: ``M R M`` with M = diag(-1, 1, 1) negates the y and z components."""
    return go * _MIRROR * -1.0


def flip_body_pose(body_pose: np.ndarray) -> np.ndarray:
    """(..., 69) axis-angle: swap left/right joints, negate the y and z components."""
    p = body_pose.reshape(*body_pose.shape[:-1], 23, 3)[..., _BODY_FLIP, :] * np.array([1.0, -1.0, -1.0])
    return p.reshape(body_pose.shape)


def flip_cam_t(cam_t: np.ndarray) -> np.ndarray:
    return cam_t * _MIRROR


# ----------------------------------------------------------------------------- in-plane rotation
def rotation_2d(rot_deg: float) -> np.ndarray:
    """(2, 2) ``[[c, s], [-s, c]]``: turns crop coordinates as a box sampled at ``rot_deg`` does."""
    t = np.deg2rad(rot_deg)
    return np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


def rotation_3d(rot_deg: float) -> np.ndarray:
    """(3, 3) the same rotation about the camera's z axis."""
    R = np.eye(3)
    R[:2, :2] = rotation_2d(rot_deg)
    return R


def rotate_global_orient(go: np.ndarray, rot_deg: float) -> np.ndarray:
    """(3,) axis-angle of ``R3 R_go`` (quaternion product; R3 turns by -rot_deg about z)."""
    go = np.asarray(go, np.float64)
    angle = np.linalg.norm(go)
    q = np.concatenate([[np.cos(angle / 2)], go * (np.sinc(angle / (2 * np.pi)) / 2)])  # (w, xyz), safe at 0
    h = -np.deg2rad(rot_deg) / 2
    w, x, y, z = q
    out = np.array([np.cos(h) * w - np.sin(h) * z, np.cos(h) * x - np.sin(h) * y,
                    np.cos(h) * y + np.sin(h) * x, np.cos(h) * z + np.sin(h) * w])
    if out[0] < 0:
        out = -out
    n = np.linalg.norm(out[1:])
    return out[1:] * (2 * np.arctan2(n, out[0]) / n) if n > 1e-12 else out[1:] * 2.0


def rotate_about_root(points: np.ndarray, rot_deg: float, root: np.ndarray | None = None) -> np.ndarray:
    """(..., N, 3) points turned by R3 about ``root`` (3,) -- the pivot of ``global_orient``, so that the
    rotated points are what the body model gives for the rotated orientation; None pivots at 0."""
    R = rotation_3d(rot_deg)
    r = np.zeros(3) if root is None else np.asarray(root, float)
    return (points - r) @ R.T + r


def rotate_cam_t(cam_t: np.ndarray, rot_deg: float, root: np.ndarray | None = None) -> np.ndarray:
    """(3,) translation that keeps ``rotate_about_root(P) + cam_t'`` = ``R3 (P + cam_t)``."""
    R = rotation_3d(rot_deg)
    r = np.zeros(3) if root is None else np.asarray(root, float)
    return R @ (cam_t + r) - r


# ----------------------------------------------------------------------------- boxes
def extreme_crop_box(keypoints_2d: np.ndarray, u: float, pad: float) -> tuple[np.ndarray, float, str] | None:
    """New square box around a body part (see the module docstring), or None to keep the box.

    Args:
        keypoints_2d: (44, 3) with confidence; any units (the box comes back in the same units).
        u: uniform draw in [0, 1) that picks the part.
        pad: box side = pad x the larger side of the part's keypoint bounding box.

    Returns:
        ``(center (2,), size, part name)`` or None.
    """
    vis = keypoints_2d[:, 2] > 0
    if vis[[10, 11, 13, 14]].all():
        choices = _FULL_BODY_CHOICES
    elif vis[[2, 5]].all():
        choices = _UPPER_BODY_CHOICES
    else:
        return None
    cum = np.cumsum([p for _, p in choices])
    name = choices[min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(choices) - 1)][0]
    idx = [i for i in EXTREME_PARTS[name] if vis[i]]
    if len(idx) < 2:
        return None
    pts = keypoints_2d[idx, :2]
    lo, hi = pts.min(0), pts.max(0)
    return (lo + hi) / 2, float(pad * (hi - lo).max()), name


def augmented_box(params: AugParams, keypoints_2d: np.ndarray | None = None,
                  min_size: float = 4.0 / IMAGE_SIZE) -> tuple[np.ndarray, float, str | None]:
    """The augmented box in units of the source box: centre offset ``delta`` (2,), side ``sigma``,
    and the extreme-crop part used (None if none).

    Extreme crop first (if drawn and possible), then the shift by ``(tx, ty)`` of the current box
    side, then the scale -- HMR 2.0's order.

    Args:
        params: :class:`AugParams`.
        keypoints_2d: (44, 3) normalised source-crop keypoints (needed for the extreme crop).
        min_size: smallest extreme-crop box accepted, source-box units (4 px at 256).
    """
    delta, sigma, part = np.zeros(2), 1.0, None
    if params.extreme_crop and keypoints_2d is not None:
        box = extreme_crop_box(keypoints_2d, params.extreme_u, params.extreme_pad)
        if box is not None and box[1] >= min_size:
            delta, sigma, part = box
    delta = delta + sigma * np.array([params.tx, params.ty])
    return delta, sigma * params.scale, part


def transform_keypoints_2d(kp: np.ndarray, params: AugParams, delta: np.ndarray, sigma: float) -> np.ndarray:
    """(44, 3) source-crop keypoints -> augmented crop; confidence zeroed outside the new crop."""
    xy = (kp[:, :2] - delta) / sigma
    if params.flip:
        xy[:, 0] *= -1
    xy = xy @ rotation_2d(params.rot).T
    out = np.concatenate([xy, kp[:, 2:]], axis=1)
    if params.flip:
        out = out[_HMR_FLIP]
    out[np.any(np.abs(out[:, :2]) > 0.5, axis=1), 2] = 0.0
    return out


def crop_affine_normalised(delta: np.ndarray, sigma: float, rot: float, flip: bool, in_size: int,
                           out_size: int = IMAGE_SIZE) -> np.ndarray:
    """(2, 3) cv2 affine (pixel centres at integer coordinates) of ``u' = R(rot) M (u - delta) / sigma``.

    The same geometry as :func:`workbench.geometry.crop_affine` (box turned by ``rot``, mirrored
    before turning), written for normalised coordinates ``u = (x + 0.5) / size - 0.5`` so that
    image and keypoints agree to the sub-pixel.
    """
    L = rotation_2d(rot) @ np.diag([-1.0 if flip else 1.0, 1.0]) / sigma
    linear = out_size / in_size * L
    offset = out_size * (L @ (np.full(2, 0.5 / in_size - 0.5) - delta) + 0.5) - 0.5
    return np.concatenate([linear, offset[:, None]], axis=1)


def apply_color_scale(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 times per-channel factors, clipped to 0..255, uint8 (a lookup table)."""
    color = np.asarray(color, np.float64)
    if np.all(color == 1.0):
        return image
    lut = np.clip(np.arange(256)[:, None] * color[None, :], 0, 255).astype(np.uint8)  # (256, 3)
    return cv2.LUT(np.ascontiguousarray(image), lut.reshape(256, 1, 3))


# ----------------------------------------------------------------------------- whole examples
def flip_labels(item: dict) -> dict:
    """Labels of the mirrored crop (image untouched): 2D/3D keypoints, SMPL parameters, cam_t."""
    out = dict(item)
    out["keypoints_2d"] = flip_keypoints_2d(item["keypoints_2d"])
    out["keypoints_3d"] = flip_keypoints_3d(item["keypoints_3d"])
    sp = item["smpl_params"]
    out["smpl_params"] = {"global_orient": flip_global_orient(sp["global_orient"]),
                          "body_pose": flip_body_pose(sp["body_pose"]), "betas": sp["betas"].copy()}
    if "cam_t" in item:
        out["cam_t"] = flip_cam_t(item["cam_t"])
    if "root_joint" in item:
        out["root_joint"] = item["root_joint"] * _MIRROR
    return out


def rotate_labels(item: dict, rot_deg: float) -> dict:
    """Labels of a crop whose sampling box turned by ``rot_deg`` (content by -rot_deg)."""
    out = dict(item)
    root = item.get("root_joint")
    kp2 = item["keypoints_2d"].copy()
    kp2[:, :2] = kp2[:, :2] @ rotation_2d(rot_deg).T
    out["keypoints_2d"] = kp2
    kp3 = item["keypoints_3d"].copy()
    kp3[:, :3] = rotate_about_root(kp3[:, :3], rot_deg, root)
    out["keypoints_3d"] = kp3
    out["smpl_params"] = dict(item["smpl_params"], global_orient=rotate_global_orient(
        item["smpl_params"]["global_orient"], rot_deg))
    if "cam_t" in item:
        out["cam_t"] = rotate_cam_t(item["cam_t"], rot_deg, root)
    return out


def augment_crop(item: dict, params: AugParams, out_size: int = IMAGE_SIZE) -> dict:
    """Augment a stored crop in image space, as HMR 2.0 augments a photo.

    ``item['image']`` is an (S, S, 3) uint8 crop whose box is the whole crop; labels as in a raw item
    of :meth:`~workbench.data.synth.SynthHumans.render_scene` (numpy). Zooming out or rotating shows the black
    border outside the stored crop (HMR 2.0's constant border). Returns a new dict (float32
    labels, uint8 image); ``cam_t`` is moved with the weak-perspective rule.
    """
    img = item["image"]
    S = img.shape[0]
    delta, sigma, _ = augmented_box(params, item["keypoints_2d"])
    A = crop_affine_normalised(delta, sigma, params.rot, params.flip, S, out_size)
    out = dict(item)
    out["image"] = apply_color_scale(cv2.warpAffine(img, A, (out_size, out_size), flags=cv2.INTER_LINEAR,
                                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0), params.color)
    if "mask" in item:
        out["mask"] = cv2.warpAffine(item["mask"], A, (out_size, out_size), flags=cv2.INTER_NEAREST, borderValue=0)
    labels = flip_labels(item) if params.flip else dict(item)
    if "cam_t" in item:  # shift and zoom of the box = moving the body in the crop camera
        t = labels["cam_t"].astype(np.float64)
        d = delta * (_MIRROR[:2] if params.flip else 1.0)
        labels["cam_t"] = np.array([t[0] - d[0] * t[2] / FOCAL_NORMALISED, t[1] - d[1] * t[2] / FOCAL_NORMALISED,
                                    t[2] * sigma])
    labels = rotate_labels(labels, params.rot)
    out.update({k: labels[k] for k in ("keypoints_3d", "smpl_params", "cam_t", "root_joint") if k in labels})
    out["keypoints_2d"] = transform_keypoints_2d(item["keypoints_2d"], params, delta, sigma)
    for key in ("keypoints_2d", "keypoints_3d", "cam_t", "root_joint"):
        if key in out:
            out[key] = np.asarray(out[key], np.float32)
    out["smpl_params"] = {k: np.asarray(v, np.float32) for k, v in out["smpl_params"].items()}
    return out
