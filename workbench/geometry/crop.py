"""Person crops as HMR 2.0 makes them at inference (numpy / OpenCV).

Recipe (``hmr2/datasets/vitdet_dataset.py``): detector box (x1, y1, x2, y2) -> centre and size;
grow the deficient side to the ViT's 3:4 (w:h) aspect; take the square of the larger side;
blur if the crop downsamples by more than 2.2x; warp to 256x256 (bilinear, black border);
the ViT then sees the central 192 columns, which is exactly the 3:4 box.

Pixel convention (HMR 2.0's): the box's left edge maps to crop x = 0 and its centre to
``out_size / 2``; normalised crop coordinates are ``crop_px / out_size - 0.5``, so that
``image_px = center + normalised * box_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from workbench.geometry.camera import _check_finite

__all__ = [
    "BBOX_SHAPE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropInfo",
    "expand_to_aspect_ratio",
    "box_to_center_scale",
    "square_box_size",
    "crop_affine",
    "apply_affine",
    "antialias_sigma",
    "crop_image",
    "crop_to_vit_columns",
    "crop_to_image_points",
    "image_to_crop_points",
    "normalize_image",
]

BBOX_SHAPE = (192, 256)  # ViT input (w, h); HMR 2.0 MODEL.BBOX_SHAPE
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, on the 0..1 scale
IMAGENET_STD = (0.229, 0.224, 0.225)
_ANTIALIAS_THRESHOLD = 1.1  # blur when (box_size / out_size) / 2 exceeds this (HMR 2.0 demo)


@dataclass
class CropInfo:
    """Where a crop came from.

    Attributes:
        center: (2,) box centre in image pixels.
        box_size: square box side in image pixels.
        affine: (2, 3) float64 matrix mapping image pixels to crop pixels.
        out_size: crop side in pixels.
    """

    center: np.ndarray
    box_size: float
    affine: np.ndarray
    out_size: int = 256


def _check_box_size(box_size, what: str = "box") -> None:
    _check_finite(f"{what} size", box_size)
    bs = box_size.detach().cpu().numpy() if isinstance(box_size, torch.Tensor) else np.asarray(box_size)
    if not np.all(bs > 0):
        raise ValueError(
            f"{what} has zero size (min side {float(np.min(bs)):.4g} px); a crop needs a positive box. "
            f"Drop degenerate detections first, e.g. keep boxes with x2 > x1 and y2 > y1."
        )


def expand_to_aspect_ratio(size_wh, aspect=BBOX_SHAPE) -> np.ndarray:
    """Grow the deficient side of boxes so that w:h equals ``aspect``; never shrinks.

    Args:
        size_wh: (..., 2) box ``(w, h)`` in pixels.
        aspect: target ``(w, h)`` ratio, e.g. (192, 256) = 3:4; None returns the size unchanged
            (HMR 2.0 training crops).

    Returns:
        (..., 2) float64 expanded ``(w, h)``.
    """
    size_wh = np.asarray(size_wh, dtype=np.float64)
    if aspect is None:
        return size_wh.copy()
    w_t, h_t = float(aspect[0]), float(aspect[1])
    w, h = size_wh[..., 0], size_wh[..., 1]
    # A too-tall box needs a wider w, a too-wide box a taller h; the other max is a no-op.
    return np.stack([np.maximum(w, h * w_t / h_t), np.maximum(h, w * h_t / w_t)], axis=-1)


def box_to_center_scale(boxes_xyxy, rescale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Detector boxes to centre and size.

    Args:
        boxes_xyxy: (N, 4) ``(x1, y1, x2, y2)`` in pixels.
        rescale: multiply the size by this (HMR 2.0's demo uses 1.0; some forks pad to 1.2).

    Returns:
        center (N, 2) and size (N, 2) ``(w, h)``, float64 pixels (not SPIN's size/200 "scale").
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"boxes_xyxy must have shape (N, 4) = (x1, y1, x2, y2); got {boxes.shape}. Use boxes.reshape(-1, 4)."
        )
    _check_finite("boxes_xyxy", boxes)
    size = (boxes[:, 2:4] - boxes[:, 0:2]) * rescale
    bad = np.flatnonzero(~np.all(size > 0, axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"box {i} {boxes[i].tolist()} has zero size (w={size[i, 0]:.4g}, h={size[i, 1]:.4g}); "
            f"boxes must satisfy x2 > x1 and y2 > y1. Drop degenerate detections before cropping."
        )
    return (boxes[:, 0:2] + boxes[:, 2:4]) / 2.0, size


def square_box_size(size_wh, aspect=BBOX_SHAPE) -> np.ndarray:
    """Side of the square crop: the larger side after aspect expansion.

    Args:
        size_wh: (..., 2) box ``(w, h)`` in pixels.
        aspect: (w, h) target aspect, or None for plain ``max(w, h)`` (training crops).

    Returns:
        (...) square side in pixels.
    """
    return expand_to_aspect_ratio(size_wh, aspect).max(axis=-1)


def crop_affine(
    center, box_size: float, out_size: int = 256, rotation_deg: float = 0.0, flip: bool = False
) -> np.ndarray:
    """Affine map from image pixels to crop pixels for a square box.

    Same geometry as HMR 2.0's ``gen_trans_from_patch_cv``: the box centre goes to
    ``(out_size/2, out_size/2)``, its edges to 0 and ``out_size``; the sampled box is rotated by
    ``rotation_deg`` about its centre (rotating image x towards image y); ``flip`` mirrors the
    crop horizontally (as flipping the image first and cropping the mirrored box).

    Args:
        center: (2,) box centre in image pixels.
        box_size: square box side in image pixels.
        out_size: crop side in pixels.
        rotation_deg: rotation of the sampled box, degrees.
        flip: mirror left-right.

    Returns:
        (2, 3) float64 ``A`` with ``crop = A[:, :2] @ image + A[:, 2]``; use with cv2.warpAffine.
    """
    center = np.asarray(center, dtype=np.float64).reshape(2)
    _check_finite("center", center)
    _check_box_size(box_size)
    theta = np.deg2rad(rotation_deg)
    c, s = np.cos(theta), np.sin(theta)
    # crop = c_out + k * R(-theta) @ F @ (x - center), with F the optional mirror.
    linear = (out_size / float(box_size)) * np.array([[c, s], [-s, c]]) @ np.diag([-1.0 if flip else 1.0, 1.0])
    offset = np.full(2, out_size / 2.0) - linear @ center
    return np.concatenate([linear, offset[:, None]], axis=1)


def apply_affine(points, affine) -> np.ndarray:
    """Apply a (2, 3) affine to (..., 2) points; returns (..., 2) float64."""
    points, affine = np.asarray(points, dtype=np.float64), np.asarray(affine, dtype=np.float64)
    return points @ affine[:, :2].T + affine[:, 2]


def antialias_sigma(box_size: float, out_size: int = 256) -> float:
    """Gaussian sigma HMR 2.0 applies before downsampling, 0.0 when it does not blur.

    With ``f = (box_size / out_size) / 2``, blur with ``sigma = (f - 1) / 2`` when ``f > 1.1``.
    """
    f = (float(box_size) / out_size) / 2.0
    return (f - 1.0) / 2.0 if f > _ANTIALIAS_THRESHOLD else 0.0


def crop_image(
    image: np.ndarray,
    center,
    box_size: float,
    out_size: int = 256,
    rotation_deg: float = 0.0,
    flip: bool = False,
    antialias: bool = True,
) -> tuple[np.ndarray, CropInfo]:
    """Crop a square box to ``out_size`` x ``out_size`` as HMR 2.0 does.

    Args:
        image: (H, W, 3) uint8, RGB if the crop goes to :func:`normalize_image`.
        center: (2,) box centre in pixels.
        box_size: square side in pixels (see :func:`square_box_size`).
        out_size: crop side in pixels.
        rotation_deg, flip: augmentation, see :func:`crop_affine`.
        antialias: Gaussian blur before large downsampling (:func:`antialias_sigma`).

    Returns:
        crop (out_size, out_size, 3) float32 in 0..255 (float like HMR 2.0's pipeline, so the
        blur is not rounded), and its :class:`CropInfo`. Outside the image is 0.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"shape {image.shape} dtype {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(
            f"image must be an (H, W, 3) uint8 numpy array; got {got}. "
            f"Load with cv2.imread + cv2.cvtColor(img, cv2.COLOR_BGR2RGB), or convert with img.astype(np.uint8)."
        )
    affine = crop_affine(center, box_size, out_size, rotation_deg, flip)
    src = image.astype(np.float32)
    sigma = antialias_sigma(box_size, out_size) if antialias else 0.0
    if sigma > 0:
        # ksize (0, 0): OpenCV sizes the kernel from sigma (+-4 sigma for float, like skimage);
        # replicate border = skimage.filters.gaussian's default 'nearest'.
        src = cv2.GaussianBlur(src, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    crop = cv2.warpAffine(
        src, affine, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    center = np.asarray(center, dtype=np.float64).reshape(2)
    return crop, CropInfo(center=center, box_size=float(box_size), affine=affine, out_size=out_size)


def crop_to_vit_columns(crop, aspect=BBOX_SHAPE):
    """Keep the central columns that the ViT sees: 256x256 -> 256x192 (columns 32:224).

    Args:
        crop: numpy (H, W, C) or (N, H, W, C), or torch (..., C, H, W); square H == W.
        aspect: (w, h) of the ViT input.

    Returns:
        The same type with width ``H * w / h``, a view (no copy).
    """
    is_torch = isinstance(crop, torch.Tensor)
    h_axis, w_axis = (-2, -1) if is_torch else (-3, -2)
    H, W = crop.shape[h_axis], crop.shape[w_axis]
    keep = H * aspect[0] / aspect[1]
    if H != W or keep != int(keep) or (W - int(keep)) % 2:
        layout = "(..., C, H, W)" if is_torch else "(H, W, C)"
        raise ValueError(
            f"crop must be a square {layout} whose kept width H * {aspect[0]}/{aspect[1]} is a whole number of "
            f"pixels, centred; got {tuple(crop.shape)}. Crop with crop_image(..., out_size=256) first."
        )
    start = (W - int(keep)) // 2
    return crop[..., start : W - start] if is_torch else crop[..., start : W - start, :]


def _broadcast_box(points, center, box_size):
    """Give center (..., 1, 2) and box_size (..., 1, 1) matching points (..., K, 2), same library."""
    if isinstance(points, torch.Tensor):
        center = torch.as_tensor(center, dtype=points.dtype, device=points.device)
        box_size = torch.as_tensor(box_size, dtype=points.dtype, device=points.device)
    else:
        points = np.asarray(points, dtype=np.float64)
        center, box_size = np.asarray(center, dtype=np.float64), np.asarray(box_size, dtype=np.float64)
    if points.shape[-1] != 2 or center.shape[-1] != 2:
        raise ValueError(
            f"points must be (..., K, 2) and center (..., 2); got {tuple(points.shape)} and {tuple(center.shape)}."
        )
    _check_finite("center", center)
    _check_box_size(box_size)
    return points, center[..., None, :], box_size[..., None, None]


def crop_to_image_points(points, center, box_size, out_size: int = 256, normalized: bool = True):
    """Map crop coordinates back to full-image pixels (axis-aligned crop, no rotation/flip).

    Args:
        points: (..., K, 2) numpy or torch; normalised crop coordinates (``pred_keypoints_2d``,
            about [-0.5, 0.5]) if ``normalized`` else crop pixels in [0, out_size].
        center: (..., 2) box centre in image pixels.
        box_size: (...) square box side in image pixels.
        out_size: crop side in pixels (for crop-pixel input).
        normalized: whether ``points`` are normalised or crop pixels.

    Returns:
        (..., K, 2) image pixels, same library as ``points``.
    """
    points, center, box_size = _broadcast_box(points, center, box_size)
    norm = points if normalized else points / out_size - 0.5
    return center + norm * box_size


def image_to_crop_points(points, center, box_size, out_size: int = 256, normalized: bool = True):
    """Inverse of :func:`crop_to_image_points`: image pixels to crop coordinates.

    Args:
        points: (..., K, 2) image pixels, numpy or torch.
        center, box_size, out_size: as in :func:`crop_to_image_points`.
        normalized: return normalised coordinates (True) or crop pixels (False).

    Returns:
        (..., K, 2) crop coordinates, same library as ``points``.
    """
    points, center, box_size = _broadcast_box(points, center, box_size)
    norm = (points - center) / box_size
    return norm if normalized else (norm + 0.5) * out_size


def normalize_image(image) -> torch.Tensor:
    """ImageNet-normalise an RGB image on the 0..255 scale and move channels first.

    Args:
        image: (..., H, W, 3) RGB, uint8 or float in 0..255 (numpy or torch).

    Returns:
        (..., 3, H, W) float32 ``(pixel - 255 * mean) / (255 * std)``.
    """
    x = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    if x.shape[-1] != 3:
        raise ValueError(
            f"image must be (..., H, W, 3) RGB; got {tuple(x.shape)}. For channels-first input use x.movedim(-3, -1)."
        )
    x = x.float()
    mean = 255.0 * torch.tensor(IMAGENET_MEAN, device=x.device)
    std = 255.0 * torch.tensor(IMAGENET_STD, device=x.device)
    return ((x - mean) / std).movedim(-1, -3).contiguous()
