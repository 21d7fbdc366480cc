"""HMR 2.0 cameras: the weak-perspective crop camera, its full-image counterpart, and projection.

Frame: metres; camera at the origin, x right, y down, z forward (OpenCV). HMR 2.0 predicts
``pred_cam = (s, tx, ty)`` for a 256x256 crop seen by a pinhole camera of focal 5000 px.
The depth that makes a body of scale ``s`` fill the crop is ``tz = 2 F / (256 s)``.

Two image spaces appear:
* normalised crop coordinates (HMR 2.0's ``pred_keypoints_2d``): focal 5000/256, principal point 0,
  so the crop spans about [-0.5, 0.5];
* full-image pixels: focal ``5000/256 * max(W, H)`` by default, principal point at the image centre.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "FOCAL_LENGTH",
    "IMAGE_SIZE",
    "cam_to_translation",
    "translation_to_cam",
    "default_focal_length",
    "cam_crop_to_full",
    "perspective_projection",
    "project_to_crop",
    "intrinsics_matrix",
]

FOCAL_LENGTH = 5000.0  # pixels, for a crop of IMAGE_SIZE pixels (HMR 2.0 EXTRA.FOCAL_LENGTH)
IMAGE_SIZE = 256  # crop side in pixels (HMR 2.0 MODEL.IMAGE_SIZE)
# HMR 2.0 adds this to the depth denominator; kept so translations match it bit for bit.
_EPS = 1e-9


# ----------------------------------------------------------------------------- validation
def _check_finite(name: str, tensor) -> None:
    """Raise ValueError if ``tensor`` (torch or numpy) holds NaN or Inf."""
    if isinstance(tensor, torch.Tensor):
        ok = bool(torch.isfinite(tensor).all())
    else:
        ok = bool(np.isfinite(np.asarray(tensor, dtype=np.float64)).all())
    if not ok:
        raise ValueError(
            f"{name} contains NaN or Inf values. Find where they come from (a diverged prediction, "
            f"a zero-size box, a missing annotation) and filter or fix those samples before calling."
        )


def _check_shape(name: str, tensor: torch.Tensor, shape: tuple, desc: str) -> None:
    """``shape`` uses None for 'any size'; ``desc`` is the human-readable expected shape."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {desc}; got {type(tensor).__name__}.")
    if tensor.dim() != len(shape) or any(want is not None and got != want for got, want in zip(tensor.shape, shape)):
        raise ValueError(f"{name} must have shape {desc}; got {tuple(tensor.shape)}. Reshape it (batch first).")


def _check_positive(name: str, tensor: torch.Tensor, hint: str) -> None:
    if not bool((tensor > 0).all()):
        raise ValueError(f"{name} must be > 0 everywhere; got min {float(tensor.min()):.4g}. {hint}")


def _focal_xy(focal_length, batch: int, like: torch.Tensor, validate: bool) -> torch.Tensor:
    """Broadcast a focal length given as float, (B,) or (B, 2) to (B, 2) on ``like``'s dtype/device."""
    f = torch.as_tensor(focal_length, dtype=like.dtype, device=like.device)
    if f.dim() == 0:
        f = f.expand(batch, 2)
    elif f.dim() == 1 and f.shape[0] == batch:
        f = f[:, None].expand(batch, 2)
    elif not (f.dim() == 2 and tuple(f.shape) == (batch, 2)):
        raise ValueError(
            f"focal_length must be a float, shape (B,) or (B, 2) with B={batch}; got {tuple(f.shape)}. "
            f"Pass one focal per sample, or (fx, fy) per sample."
        )
    if validate:
        _check_finite("focal_length", f)
        _check_positive("focal_length", f, "Focal lengths are in pixels and must be positive.")
    return f


# ----------------------------------------------------------------------------- crop camera
def cam_to_translation(
    pred_cam: torch.Tensor,
    focal_length: float = FOCAL_LENGTH,
    image_size: float = IMAGE_SIZE,
    validate: bool = True,
) -> torch.Tensor:
    """HMR 2.0 weak-perspective crop camera to a camera-frame translation.

    Args:
        pred_cam: (..., 3) ``(s, tx, ty)``; s unitless (> 0), tx/ty in metres.
        focal_length: crop focal length in pixels (HMR 2.0: 5000).
        image_size: crop side in pixels (HMR 2.0: 256).
        validate: check finiteness and ``s > 0`` (forces a device sync; turn off in training loops).

    Returns:
        (..., 3) translation ``(tx, ty, 2 F / (image_size * s + 1e-9))`` in metres.
    """
    if pred_cam.shape[-1:] != (3,):
        raise ValueError(f"pred_cam must have shape (..., 3) = (s, tx, ty); got {tuple(pred_cam.shape)}.")
    s, txy = pred_cam[..., :1], pred_cam[..., 1:]
    if validate:
        _check_finite("pred_cam", pred_cam)
        _check_positive("pred_cam scale s", s, "A non-positive scale puts the body at or behind the camera.")
    tz = 2.0 * focal_length / (image_size * s + _EPS)
    return torch.cat([txy, tz], dim=-1)


def translation_to_cam(
    cam_t: torch.Tensor,
    focal_length: float = FOCAL_LENGTH,
    image_size: float = IMAGE_SIZE,
    validate: bool = True,
) -> torch.Tensor:
    """Inverse of :func:`cam_to_translation`.

    Args:
        cam_t: (..., 3) translation in metres with ``tz > 0``.
        focal_length: crop focal length in pixels.
        image_size: crop side in pixels.
        validate: check finiteness and ``tz > 0``.

    Returns:
        (..., 3) ``(s, tx, ty)``.
    """
    if cam_t.shape[-1:] != (3,):
        raise ValueError(f"cam_t must have shape (..., 3) = (tx, ty, tz); got {tuple(cam_t.shape)}.")
    txy, tz = cam_t[..., :2], cam_t[..., 2:]
    if validate:
        _check_finite("cam_t", cam_t)
        _check_positive("cam_t depth tz", tz, "The body must be in front of the camera (z forward).")
    s = (2.0 * focal_length / tz - _EPS) / image_size
    return torch.cat([s, txy], dim=-1)


# ----------------------------------------------------------------------------- full image
def default_focal_length(W, H):
    """HMR 2.0's full-image focal length when the intrinsics are unknown: ``5000/256 * max(W, H)``.

    Args:
        W, H: image width and height in pixels; Python numbers or tensors of equal shape (B,).

    Returns:
        float, or tensor (B,) in pixels.
    """
    if isinstance(W, torch.Tensor) or isinstance(H, torch.Tensor):
        W, H = torch.as_tensor(W), torch.as_tensor(H)
        return FOCAL_LENGTH / IMAGE_SIZE * torch.maximum(W, H)
    return FOCAL_LENGTH / IMAGE_SIZE * max(W, H)


def cam_crop_to_full(
    pred_cam: torch.Tensor,
    box_center: torch.Tensor,
    box_size: torch.Tensor,
    image_size_wh: torch.Tensor,
    focal_length=None,
    principal_point: torch.Tensor | None = None,
) -> torch.Tensor:
    """Translation of the body in the full-image camera from the crop camera (HMR 2.0 demo).

    The crop camera sees the square box as if it were centred on the optical axis. Moving the
    box to its place in the image shifts the body laterally by ``2 (c - p) / (box_size * s)``
    metres, and a focal ``F`` puts it at ``tz = 2 F / (box_size * s)``. Projections agree with
    the crop exactly for points at the body's depth (z = 0 in the body frame) and to first
    order in depth / tz otherwise.

    Args:
        pred_cam: (B, 3) ``(s, tx, ty)`` crop camera, s > 0.
        box_center: (B, 2) square box centre in image pixels.
        box_size: (B,) square box side in image pixels, > 0.
        image_size_wh: (B, 2) image ``(W, H)`` in pixels.
        focal_length: None (``5000/256 * max(W, H)``), a float, or (B,) focal in pixels
            (e.g. real intrinsics ``fx``).
        principal_point: (B, 2) in pixels, or None for the image centre ``(W/2, H/2)``.

    Returns:
        (B, 3) translation ``(tx, ty, tz)`` in metres, camera at origin.
    """
    _check_shape("pred_cam", pred_cam, (None, 3), "(B, 3) = (s, tx, ty)")
    B = pred_cam.shape[0]
    _check_shape("box_center", box_center, (B, 2), f"(B, 2) with B={B}")
    _check_shape("box_size", box_size, (B,), f"(B,) with B={B} (one square side per box)")
    _check_shape("image_size_wh", image_size_wh, (B, 2), f"(B, 2) = (W, H) with B={B}")
    inputs = {"pred_cam": pred_cam, "box_center": box_center, "box_size": box_size, "image_size_wh": image_size_wh}
    for name, t in inputs.items():
        _check_finite(name, t)
    _check_positive("pred_cam scale s", pred_cam[:, 0], "A non-positive scale puts the body at or behind the camera.")
    _check_positive("box_size", box_size, "Drop zero-size boxes before running the model.")
    _check_positive("image_size_wh", image_size_wh, "Pass the image (width, height) in pixels.")

    like = pred_cam
    W, H = image_size_wh[:, 0].to(like), image_size_wh[:, 1].to(like)
    if focal_length is None:
        focal = default_focal_length(W, H)
    else:
        focal = torch.as_tensor(focal_length, dtype=like.dtype, device=like.device)
        if focal.dim() not in (0, 1) or (focal.dim() == 1 and focal.shape[0] != B):
            raise ValueError(
                f"focal_length must be None, a float or shape (B,) with B={B}; got {tuple(focal.shape)}. "
                f"With fx != fy no single depth reproduces the crop; pass one focal (fx, or the mean)."
            )
        _check_finite("focal_length", focal)
        _check_positive("focal_length", focal, "Focal lengths are in pixels and must be positive.")
    if principal_point is None:
        px, py = W / 2.0, H / 2.0
    else:
        _check_shape("principal_point", principal_point, (B, 2), f"(B, 2) with B={B}")
        _check_finite("principal_point", principal_point)
        px, py = principal_point[:, 0].to(like), principal_point[:, 1].to(like)

    s, tx, ty = pred_cam.unbind(-1)
    cx, cy = box_center[:, 0].to(like), box_center[:, 1].to(like)
    bs = box_size.to(like) * s + _EPS  # twice the image pixels per metre at the body's depth
    tz = 2.0 * focal / bs
    tx_full = 2.0 * (cx - px) / bs + tx
    ty_full = 2.0 * (cy - py) / bs + ty
    return torch.stack([tx_full, ty_full, tz], dim=-1)


# ----------------------------------------------------------------------------- projection
def perspective_projection(
    points: torch.Tensor,
    translation: torch.Tensor,
    focal_length,
    principal_point: torch.Tensor | None = None,
    validate: bool = True,
) -> torch.Tensor:
    """Pinhole projection of points translated into the camera frame (no rotation, no distortion).

    ``u = fx (X + tx) / (Z + tz) + px``, ``v = fy (Y + ty) / (Z + tz) + py``. No epsilon on the
    depth, as in HMR 2.0: points at z = 0 give Inf, points behind the camera project mirrored.

    Args:
        points: (B, N, 3) in metres (e.g. SMPL joints in the body frame).
        translation: (B, 3) in metres, added to every point.
        focal_length: float, (B,) or (B, 2) ``(fx, fy)`` in output units per metre of x/z.
        principal_point: (B, 2) in output units, or None for 0.
        validate: check finiteness and positive focal (forces a device sync).

    Returns:
        (B, N, 2) image coordinates (pixels if focal/principal point are in pixels).
    """
    _check_shape("points", points, (None, None, 3), "(B, N, 3)")
    B = points.shape[0]
    _check_shape("translation", translation, (B, 3), f"(B, 3) with B={B}")
    f = _focal_xy(focal_length, B, points, validate)
    if principal_point is None:
        pp = points.new_zeros(B, 2)
    else:
        _check_shape("principal_point", principal_point, (B, 2), f"(B, 2) with B={B}")
        pp = principal_point.to(points)
    if validate:
        _check_finite("points", points)
        _check_finite("translation", translation)
        _check_finite("principal_point", pp)

    cam_points = points + translation[:, None, :]
    xy = cam_points[..., :2] / cam_points[..., 2:3]
    return xy * f[:, None, :] + pp[:, None, :]


def project_to_crop(
    points: torch.Tensor,
    cam_t: torch.Tensor,
    focal_length: float = FOCAL_LENGTH,
    image_size: float = IMAGE_SIZE,
    validate: bool = True,
) -> torch.Tensor:
    """Project into HMR 2.0's normalised crop coordinates (``pred_keypoints_2d``).

    Uses focal ``focal_length / image_size`` and principal point 0, so the crop spans about
    [-0.5, 0.5]; crop pixels are ``(out + 0.5) * image_size``.

    Args:
        points: (B, N, 3) in metres, body frame.
        cam_t: (B, 3) crop-camera translation from :func:`cam_to_translation`.
        focal_length: crop focal in pixels (5000).
        image_size: crop side in pixels (256).
        validate: see :func:`perspective_projection`.

    Returns:
        (B, N, 2) normalised crop coordinates.
    """
    return perspective_projection(points, cam_t, focal_length / image_size, None, validate)


def intrinsics_matrix(focal_length, principal_point: torch.Tensor | None = None) -> torch.Tensor:
    """Build pinhole intrinsics ``K = [[fx, 0, px], [0, fy, py], [0, 0, 1]]``.

    Args:
        focal_length: (B,) or (B, 2) tensor in pixels, or a float when ``principal_point`` is given.
        principal_point: (B, 2) in pixels, or None for 0.

    Returns:
        (B, 3, 3) intrinsics, dtype/device of the tensor inputs.
    """
    if principal_point is not None:
        _check_shape("principal_point", principal_point, (None, 2), "(B, 2)")
        like, B = principal_point, principal_point.shape[0]
    elif isinstance(focal_length, torch.Tensor) and focal_length.dim() >= 1:
        like, B = focal_length, focal_length.shape[0]
    else:
        raise ValueError(
            "intrinsics_matrix cannot infer the batch size from a scalar focal length alone; "
            "pass focal_length as a (B,) tensor or give principal_point (B, 2)."
        )
    if not like.is_floating_point():
        like = like.float()
    f = _focal_xy(focal_length, B, like, validate=True)
    pp = like.new_zeros(B, 2) if principal_point is None else principal_point.to(like)
    zero, one = like.new_zeros(B), like.new_ones(B)
    K = torch.stack([f[:, 0], zero, pp[:, 0], zero, f[:, 1], pp[:, 1], zero, zero, one], dim=-1)
    return K.reshape(B, 3, 3)


def fit_crop_cam_to_box(points: torch.Tensor, box_wh: torch.Tensor, box_size: torch.Tensor,
                        fill: float = 0.95, match: str = "inside") -> torch.Tensor:
    """The crop camera ``(s, tx, ty)`` that fits a body's points into a person box.

    Weak-perspective reading of HMR 2.0's crop camera: a point at (X, Y) lands at roughly
    ``s/2 * (X + tx, Y + ty)`` in normalised crop units, so the scale that maps the points' extent
    onto the box is ``s = 2 * fill * min(w / (size * ext_x), h / (size * ext_y))``, and (tx, ty)
    centres them. Useful to place a body before any network predicts it (demo, fitting init).

    Args:
        points: (B, N, 3) metres, already oriented for the camera (y down), body-centred.
        box_wh: (B, 2) person box width and height, pixels.
        box_size: (B,) side of the square crop around the box, pixels.
        fill: fraction of the box the body spans along its tighter side.
        match: ``"inside"`` keeps the points inside the box; ``"height"`` matches the box height only
            (a standing person whose arm pose differs from the body's).
    Returns:
        (B, 3) ``pred_cam``.
    """
    _check_finite("points", points)
    lo, hi = points[..., :2].amin(dim=1), points[..., :2].amax(dim=1)
    extent = (hi - lo).clamp_min(1e-6)
    if match not in ("inside", "height"):
        raise ValueError(f"match must be 'inside' or 'height', got {match!r}.")
    ratios = box_wh / (box_size[:, None] * extent)
    scale = 2.0 * fill * (ratios.amin(dim=1) if match == "inside" else ratios[:, 1])
    return torch.cat([scale[:, None], -(lo + hi) / 2], dim=1)
