"""Render meshes seen from the camera: shading, compositing and the HMR 2.0-style overlay.

Shading model: Lambertian with a single "head light" at the camera centre (light direction =
viewing direction) plus a little ambient, ``rgb = base * (AMBIENT + (1 - AMBIENT) * |n . v|)``.
A head light keeps every visible surface lit whatever the person's orientation, as in the HMR 2.0
demo renders; the rim darkens, which is what makes the silhouette readable.

All geometry is in the camera frame (metres, x right, y down, z forward); see
:mod:`workbench.render.raycast` for the pixel convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.render import inputs
from workbench.render.raycast import RayHits, cast_rays

DEFAULT_COLOR = (0.80, 0.76, 0.72)
"""Light warm grey, skin-like: readable over most photographs."""

AMBIENT = 0.25
"""Fraction of the base colour left on surfaces seen edge-on."""


@dataclass
class RenderResult:
    """Everything one render produces; all maps are (H, W).

    Attributes:
        rgb: (H, W, 3) uint8 shaded image composited over the background (black if none).
        depth: (H, W) float32 z-depth in metres along the camera axis; +inf where empty.
        mesh_id: (H, W) int16 index of the visible mesh in the input list; -1 where empty.
        face_id: (H, W) int32 index of the visible triangle within that mesh; -1 where empty.
        mask: (H, W) bool silhouette of all meshes (``mesh_id >= 0``).
    """

    rgb: np.ndarray
    depth: np.ndarray
    mesh_id: np.ndarray
    face_id: np.ndarray
    mask: np.ndarray


def shade(
    hits: RayHits, colors: np.ndarray, background: np.ndarray | None = None, alpha: float = 1.0
) -> np.ndarray:
    """Colour ray hits and alpha-blend them over a background.

    Args:
        hits: per-pixel hits from :func:`~workbench.render.raycast.cast_rays`, maps (H, W).
        colors: (K, 3) float RGB in [0, 1], base colour of each mesh.
        background: (H, W, 3) uint8 or None (black).
        alpha: opacity of the meshes in [0, 1]; pixels outside the silhouette keep the background
            exactly.

    Returns:
        (H, W, 3) uint8.
    """
    H, W = hits.mesh_id.shape
    out = np.zeros((H, W, 3), np.uint8) if background is None else background.copy()
    # Work on silhouette pixels only: a person covers ~10-40% of a frame.
    idx = np.flatnonzero(hits.mesh_id.ravel() >= 0)
    intensity = AMBIENT + (1.0 - AMBIENT) * hits.cosine.ravel()[idx]
    lit = colors[hits.mesh_id.ravel()[idx]] * (255.0 * intensity)[:, None]  # (N, 3)
    flat = out.reshape(-1, 3)
    if alpha < 1.0:
        lit = alpha * lit + (1.0 - alpha) * flat[idx]
    flat[idx] = np.clip(lit + 0.5, 0, 255).astype(np.uint8)
    return out


def render(
    meshes: Any,
    image_size: tuple[int, int],
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    colors: Any = None,
    background: np.ndarray | None = None,
    alpha: float = 1.0,
) -> RenderResult:
    """Render K meshes (people occlude each other by depth) with a pinhole camera at the origin.

    Args:
        meshes: one ``(vertices, faces)`` pair, a mesh object with ``.vertices``/``.faces`` (e.g.
            trimesh), or a list of those. vertices (V, 3) in the camera frame, metres, numpy or
            torch; faces (F, 3) int.
        image_size: (H, W) in pixels.
        focal: focal length in pixels, scalar or (fx, fy).
        principal_point: (cx, cy) in pixels; None = image centre (W/2, H/2).
        colors: None (:data:`DEFAULT_COLOR`), one RGB colour, or (K, 3) one per mesh; floats in
            [0, 1] or ints in [0, 255].
        background: (H, W, 3) uint8 image to composite over; None = black.
        alpha: mesh opacity in [0, 1] when compositing.

    Returns:
        :class:`RenderResult`.

    Raises:
        ValueError: on malformed input (shapes, out-of-range faces, NaN vertices, ...).
    """
    size = inputs.as_image_size(image_size)
    vertices, faces = inputs.as_meshes(meshes)
    fxy = inputs.as_focal(focal)
    cxy = inputs.as_principal_point(principal_point, size)
    base = inputs.as_colors(colors, len(vertices), DEFAULT_COLOR)
    bg = inputs.as_background(background, size)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (1 = opaque meshes), got {alpha!r}.")

    hits = cast_rays(vertices, faces, size, fxy, cxy)
    return RenderResult(
        rgb=shade(hits, base, bg, float(alpha)),
        depth=hits.depth,
        mesh_id=hits.mesh_id,
        face_id=hits.face_id,
        mask=hits.mesh_id >= 0,
    )


def overlay(
    image: np.ndarray,
    vertices: Any,
    faces: Any,
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    color: Any = None,
    alpha: float = 1.0,
) -> np.ndarray:
    """Draw mesh(es) over an image, like the HMR 2.0 demo's full-frame overlay.

    Args:
        image: (H, W, 3) uint8, RGB (a BGR image works too; then give ``color`` as BGR).
        vertices: (V, 3) one mesh, or (K, V, 3) / a list of (V, 3) for K people sharing ``faces``;
            camera frame, metres, numpy or torch.
        faces: (F, 3) int.
        focal: pixels, scalar or (fx, fy).
        principal_point: (cx, cy) in pixels; None = image centre.
        color: one RGB colour or (K, 3); None = :data:`DEFAULT_COLOR`.
        alpha: mesh opacity. 1.0 (default) composites opaquely, as the HMR 2.0 demo does; 0.6-0.8
            lets the person show through.

    Returns:
        (H, W, 3) uint8 composited image; pixels outside the silhouette equal ``image``.
    """
    img = inputs.to_numpy(image)
    if img.ndim != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {img.shape}.")
    if isinstance(vertices, (list, tuple)):
        verts = list(vertices)
    else:
        v = inputs.to_numpy(vertices)
        verts = list(v) if v.ndim == 3 else [v]
    return render(
        [(v, faces) for v in verts],
        img.shape[:2],
        focal,
        principal_point,
        colors=color,
        background=img,
        alpha=alpha,
    ).rgb
