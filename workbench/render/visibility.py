"""Which 3D points does the camera see? A depth-buffer test against a rendered depth map.

Used to decide which mesh surface points may take their colour from the image (texture
sampling): a point hidden by another person, or on the far side of its own body, must not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.render import inputs


def project_points(
    points: np.ndarray, focal: tuple[float, float], principal_point: tuple[float, float]
) -> np.ndarray:
    """Pinhole projection (N, 3) camera frame -> (N, 2) pixel coordinates (u, v).

    Pixel (row i, column j) covers ``u in [j, j+1)``, ``v in [i, i+1)``. Points with z <= 0 get NaN.
    """
    z = points[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = points[:, :2] / np.where(z > 0, z, np.nan)[:, None]
    return uv * np.asarray(focal) + np.asarray(principal_point)


def visible_points(
    points: Any,
    depth: np.ndarray,
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-2,
) -> np.ndarray:
    """Depth test: a point is visible iff it projects inside the image, in front of the camera, and
    its z is at most the rendered depth of its pixel plus a tolerance.

    The tolerance is ``max(rtol * z, atol)``. It must absorb the gap between a surface point and
    the surface as sampled at its pixel's centre, which grows with the surface slope: about
    ``0.7 * (z / f) * tan(slope)`` metres. The default 1 cm covers slopes up to ~70 deg for a body at
    3 m seen with f = 1000 px; points nearer the silhouette than that may be reported hidden.
    It should stay below the thinnest thing that can occlude (a hand: ~2 cm).

    Args:
        points: (N, 3) camera frame, metres (numpy or torch).
        depth: (H, W) float z-depth map in metres, +inf where empty (``RenderResult.depth``) --
            rendered with the same camera.
        focal: pixels, scalar or (fx, fy).
        principal_point: (cx, cy) pixels; None = image centre.
        rtol: relative tolerance (fraction of the point's z).
        atol: absolute tolerance in metres.

    Returns:
        (N,) bool.
    """
    p = inputs.to_numpy(points).astype(np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3) (camera frame, metres), got {p.shape}.")
    d = inputs.to_numpy(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be an (H, W) map such as RenderResult.depth, got shape {d.shape}.")
    H, W = d.shape
    uv = project_points(p, inputs.as_focal(focal), inputs.as_principal_point(principal_point, (H, W)))
    # NaN (behind the camera) compares False, so those points are outside.
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
    visible = np.zeros(len(p), bool)
    cols = uv[inside, 0].astype(np.int64)
    rows = uv[inside, 1].astype(np.int64)
    z = p[inside, 2]
    visible[inside] = z <= d[rows, cols] + np.maximum(rtol * z, atol)
    return visible
