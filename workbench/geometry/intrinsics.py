"""Pinhole intrinsics of a real camera, and moving a person from one camera to another.

HMR 2.0 does not know the camera: it assumes focal ``5000 * max(W, H) / 256`` px with the principal
point at the image centre (:meth:`Intrinsics.default`). When a user knows their camera (a calibration,
EXIF, a phone's 26 mm equivalent), :func:`retarget_translation` re-expresses each predicted person in
it: the body is kept, its image-plane position is kept, and its depth scales with the focal length
(the weak-perspective reading HMR 2.0 is trained with: apparent size ~ focal / depth).

Frame: metres, camera at the origin, x right, y down, z forward (OpenCV), pixels with (0, 0) at the
top-left pixel's corner as everywhere else in the workbench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.geometry.camera import default_focal_length

__all__ = ["Intrinsics", "retarget_translation"]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels: focal lengths ``fx, fy`` and principal point ``cx, cy``."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def default(cls, image_hw) -> "Intrinsics":
        """HMR 2.0's assumption for an (H, W) image: focal ``5000 * max(H, W) / 256``, centre principal point."""
        H, W = float(image_hw[0]), float(image_hw[1])
        f = float(default_focal_length(W, H))
        return cls(f, f, W / 2.0, H / 2.0)

    @classmethod
    def from_fov(cls, image_hw, horizontal_fov_deg: float) -> "Intrinsics":
        """Square pixels and a centred principal point from the horizontal field of view (degrees)."""
        if not 1.0 <= float(horizontal_fov_deg) <= 170.0:
            raise ValueError(f"horizontal_fov_deg={horizontal_fov_deg}: a field of view must lie in [1, 170] degrees "
                             "(what validate() accepts).")
        H, W = float(image_hw[0]), float(image_hw[1])
        f = W / 2.0 / math.tan(math.radians(horizontal_fov_deg) / 2.0)
        return cls(f, f, W / 2.0, H / 2.0)

    @classmethod
    def from_user(cls, focal, principal_point=None, image_hw=None) -> "Intrinsics":
        """From what a user types: ``focal`` (one number or (fx, fy)) and an optional principal point
        (cx, cy); a missing principal point is the image centre (``image_hw`` then required)."""
        f = np.atleast_1d(np.asarray(focal, dtype=np.float64)).reshape(-1)
        if f.size not in (1, 2):
            raise ValueError(f"focal={focal!r}: give one focal length in pixels, or two (fx, fy).")
        fx, fy = (float(f[0]), float(f[0])) if f.size == 1 else (float(f[0]), float(f[1]))
        if principal_point is None:
            if image_hw is None:
                raise ValueError("no principal point and no image size: give principal_point=(cx, cy) in pixels, "
                                 "or the image size so the centre can be used.")
            cx, cy = float(image_hw[1]) / 2.0, float(image_hw[0]) / 2.0
        else:
            pp = np.asarray(principal_point, dtype=np.float64).reshape(-1)
            if pp.size != 2:
                raise ValueError(f"principal_point={principal_point!r}: give two numbers (cx, cy) in pixels.")
            cx, cy = float(pp[0]), float(pp[1])
        out = cls(fx, fy, cx, cy)
        if image_hw is not None:
            out.validate(image_hw)
        return out

    @property
    def focal(self) -> float:
        """The geometric-mean focal length, pixels (what scales depth)."""
        return math.sqrt(self.fx * self.fy)

    @property
    def principal_point(self) -> np.ndarray:
        return np.array([self.cx, self.cy])

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsics matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def horizontal_fov_deg(self, width: float) -> float:
        return math.degrees(2.0 * math.atan(float(width) / 2.0 / self.fx))

    def validate(self, image_hw) -> "Intrinsics":
        """Raise a ValueError saying what is wrong if these intrinsics cannot belong to an (H, W) image.

        Checks: finite, positive focal lengths giving a horizontal field of view between 1° and 170°,
        aspect fx/fy within [0.5, 2], principal point inside the image.
        """
        H, W = float(image_hw[0]), float(image_hw[1])
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"intrinsics {self} contain NaN or inf.")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal length ({self.fx:g}, {self.fy:g}) px must be positive.")
        fov = self.horizontal_fov_deg(W)
        if not 1.0 <= fov <= 170.0:
            raise ValueError(
                f"focal length {self.fx:g} px gives a {fov:.1f}° horizontal field of view on a {W:g} px wide image; "
                "expected 1-170°. Is the focal length in pixels (not mm)? focal_px = focal_mm * width_px / "
                "sensor_width_mm, e.g. a 26 mm-equivalent lens: 26 * W / 36.")
        if not 0.5 <= self.fx / self.fy <= 2.0:
            raise ValueError(f"fx/fy = {self.fx / self.fy:.2f}: pixels that far from square are unlikely; check fx, fy.")
        if not (0.0 <= self.cx <= W and 0.0 <= self.cy <= H):
            raise ValueError(f"principal point ({self.cx:g}, {self.cy:g}) px lies outside the {W:g}x{H:g} image; "
                             "give it in pixels of this image (usually near (W/2, H/2)).")
        return self

    def project(self, points) -> np.ndarray:
        """(..., 3) camera-frame points (metres, z > 0) -> (..., 2) pixels."""
        p = np.asarray(points, dtype=np.float64)
        z = p[..., 2:3]
        return np.concatenate([self.fx * p[..., 0:1] / z + self.cx, self.fy * p[..., 1:2] / z + self.cy], axis=-1)


def retarget_translation(translation, source: Intrinsics, target: Intrinsics) -> np.ndarray:
    """Move people seen by ``source`` into ``target`` so each body origin projects to the same pixel
    and keeps its apparent size: depth scales by ``target.focal / source.focal``.

    Args:
        translation: (..., 3) body-origin translations in the source camera, metres.
        source, target: the two cameras of the same image.

    Returns:
        (..., 3) translations in the target camera, metres (float64).
    """
    t = np.asarray(translation, dtype=np.float64)
    if t.shape[-1] != 3:
        raise ValueError(f"translation has shape {t.shape}; expected (..., 3) metres.")
    uv = source.project(t)
    z = t[..., 2] * (target.focal / source.focal)
    x = (uv[..., 0] - target.cx) * z / target.fx
    y = (uv[..., 1] - target.cy) * z / target.fy
    return np.stack([x, y, z], axis=-1)
