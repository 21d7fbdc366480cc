"""Checks and conversions for renderer inputs, with errors that say what was wrong and what to do.

Rendering fails late and silently on bad geometry (a NaN vertex makes a BVH box infinite, an
out-of-range face index reads foreign memory inside the native kernel), so every public entry
point of :mod:`workbench.render` funnels its arguments through these functions first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.arrays import to_numpy  # noqa: F401  (re-exported: render.inputs.to_numpy)


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def as_meshes(meshes: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Normalise the ways a scene can be given into K vertex and K face arrays.

    Accepted: one ``(vertices, faces)`` pair; an object with ``.vertices`` and ``.faces`` (e.g.
    ``trimesh.Trimesh``); or a list of either. vertices: (V, 3) camera frame, metres, numpy or
    torch; faces: (F, 3) integer indices into vertices.

    Returns:
        ``([V_k x 3 float32 C-contiguous], [F_k x 3 int32 C-contiguous])``, K may be 0.
    """
    if hasattr(meshes, "vertices") and hasattr(meshes, "faces"):
        meshes = [meshes]
    elif isinstance(meshes, tuple) and len(meshes) == 2 and all(_is_array(m) for m in meshes):
        meshes = [meshes]
    if not isinstance(meshes, Sequence):
        raise ValueError(
            f"meshes must be a (vertices, faces) pair, a mesh object with .vertices/.faces, or a list "
            f"of those; got {type(meshes).__name__}. For a batch sharing one topology pass "
            f"[(v, faces) for v in vertices]."
        )
    vertices, faces = [], []
    for k, mesh in enumerate(meshes):
        if hasattr(mesh, "vertices") and hasattr(mesh, "faces"):
            v, f = mesh.vertices, mesh.faces
        elif isinstance(mesh, (tuple, list)) and len(mesh) == 2:
            v, f = mesh
        else:
            raise ValueError(
                f"mesh {k}: expected a (vertices, faces) pair or an object with .vertices/.faces, "
                f"got {type(mesh).__name__}."
            )
        v, f = check_mesh(v, f, name=f"mesh {k}")
        vertices.append(v)
        faces.append(f)
    return vertices, faces


def check_mesh(vertices: Any, faces: Any, name: str = "mesh") -> tuple[np.ndarray, np.ndarray]:
    """Validate one mesh; return (V, 3) float32 and (F, 3) int32, both C-contiguous."""
    v = to_numpy(vertices)
    f = to_numpy(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise ValueError(
            f"{name}: vertices must have shape (V, 3) with V >= 1, got {v.shape}. "
            f"For a batch (B, V, 3) pass one (vertices[b], faces) pair per person."
        )
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(f"{name}: faces must have shape (F, 3) with F >= 1 (triangles), got {f.shape}.")
    if not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"{name}: faces must be integers, got dtype {f.dtype}; use faces.astype(np.int64).")
    lo, hi = int(f.min()), int(f.max())
    if lo < 0 or hi >= len(v):
        raise ValueError(
            f"{name}: faces index vertices {lo}..{hi} but there are only {len(v)} vertices "
            f"(valid indices 0..{len(v) - 1}). Check that the faces belong to these vertices "
            f"(same body model / topology)."
        )
    v = np.ascontiguousarray(v, dtype=np.float32)
    finite = np.isfinite(v).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{name}: {len(bad)} vertices are not finite (NaN or inf), first at index {bad[0]}. "
            f"The model output is probably broken for this person; drop the mesh or fix its parameters."
        )
    return v, np.ascontiguousarray(f, dtype=np.int32)


def as_image_size(image_size: Any) -> tuple[int, int]:
    """(H, W) as two positive ints."""
    try:
        H, W = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (H, W) in pixels, got {image_size!r}.") from None
    if H <= 0 or W <= 0:
        raise ValueError(f"image_size must be positive (H, W) in pixels, got ({H}, {W}); e.g. image.shape[:2].")
    return H, W


def as_focal(focal: Any) -> tuple[float, float]:
    """(fx, fy) in pixels from a scalar or a pair (numpy/torch accepted)."""
    f = to_numpy(focal).astype(np.float64).ravel()
    if f.size == 1:
        f = np.repeat(f, 2)
    if f.size != 2 or not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"focal must be a positive focal length in pixels, or (fx, fy); got {focal!r}.")
    return float(f[0]), float(f[1])


def as_principal_point(principal_point: Any, image_size: tuple[int, int]) -> tuple[float, float]:
    """(cx, cy) in pixels; None -> image centre (W/2, H/2)."""
    H, W = image_size
    if principal_point is None:
        return W / 2.0, H / 2.0
    c = to_numpy(principal_point).astype(np.float64).ravel()
    if c.size != 2 or not np.all(np.isfinite(c)):
        raise ValueError(f"principal_point must be (cx, cy) in pixels or None (image centre); got {principal_point!r}.")
    return float(c[0]), float(c[1])


def as_background(background: Any, image_size: tuple[int, int]) -> np.ndarray | None:
    """(H, W, 3) uint8 background, or None."""
    if background is None:
        return None
    b = to_numpy(background)
    H, W = image_size
    if b.shape != (H, W, 3):
        raise ValueError(
            f"background must be an (H, W, 3) image matching image_size (H, W) = ({H}, {W}); got shape "
            f"{b.shape}. Resize it (cv2.resize(img, (W, H))), drop an alpha channel (img[..., :3]), or "
            f"pass image_size=img.shape[:2]."
        )
    if b.dtype != np.uint8:
        raise ValueError(
            f"background must be uint8 (0..255), got {b.dtype}; for a float image in [0, 1] pass "
            f"(img * 255).round().astype(np.uint8)."
        )
    return b


def as_colors(colors: Any, n_meshes: int, default: Sequence[float]) -> np.ndarray:
    """(K, 3) float32 RGB in [0, 1] from None, one colour, or one colour per mesh.

    Floats are read in [0, 1]; integer arrays (e.g. ``(255, 128, 0)`` as uint8/int) in [0, 255].
    """
    if colors is None:
        return np.tile(np.asarray(default, np.float32), (n_meshes, 1))
    c = to_numpy(colors)
    c = c.astype(np.float32) / 255.0 if np.issubdtype(c.dtype, np.integer) else c.astype(np.float32)
    if c.shape == (3,):
        c = np.tile(c, (n_meshes, 1))
    if c.shape != (n_meshes, 3) or not np.all(np.isfinite(c)) or c.min() < 0 or c.max() > 1:
        raise ValueError(
            f"colors must be one RGB colour or one per mesh ({n_meshes}, 3), floats in [0, 1] or "
            f"integers in [0, 255]; got shape {np.shape(colors)} with range "
            f"[{np.min(c) if c.size else 'n/a'}, {np.max(c) if c.size else 'n/a'}]."
        )
    return c
