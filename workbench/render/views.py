"""Side and top views of a reconstruction, like the HMR 2.0 demo's ``--side_view`` / ``--top_view``.

A monocular reconstruction looks right from the camera almost by construction; depth errors
(a person too far, leaning the wrong way, people in the wrong order) only show from another
viewpoint. We keep the camera and rotate the scene instead: all meshes turn together about their
joint centroid, so relative placements (who stands behind whom) are preserved, and the result is
drawn with the same focal length, at the same distance, on a white background.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.render import inputs
from workbench.render.scene import RenderResult, render

WHITE = 255


def rotation_about_axis(axis: str, angle_deg: float) -> np.ndarray:
    """(3, 3) right-handed rotation by ``angle_deg`` about the camera's ``"x"`` or ``"y"`` axis."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    raise ValueError(f"axis must be 'x' or 'y', got {axis!r}.")


def rotate_about_centroid(meshes: Any, rotation: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rotate every mesh by ``rotation`` (3, 3) about the centroid of all their vertices together.

    Returns:
        list of K ``(vertices (V_k, 3) float32, faces (F_k, 3) int32)`` in the camera frame.
    """
    vertices, faces = inputs.as_meshes(meshes)
    if not vertices:
        return []
    centroid = np.concatenate(vertices).mean(axis=0)
    R = rotation.astype(np.float32)
    return [(((v - centroid) @ R.T + centroid).astype(np.float32), f) for v, f in zip(vertices, faces)]


def _rotated_view(meshes, axis, angle_deg, image_size, focal, principal_point, colors, background) -> RenderResult:
    size = inputs.as_image_size(image_size)
    if background is None:
        background = np.full((*size, 3), WHITE, np.uint8)
    rotated = rotate_about_centroid(meshes, rotation_about_axis(axis, angle_deg))
    return render(rotated, size, focal, principal_point, colors=colors, background=background)


def side_view(
    meshes: Any,
    image_size: tuple[int, int],
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    colors: Any = None,
    background: np.ndarray | None = None,
    angle_deg: float = 90.0,
) -> RenderResult:
    """Render the scene turned by ``angle_deg`` about the vertical (camera y) axis.

    With the default +90 deg (right-handed about y, which points down), a person facing the camera
    ends up facing the left of the image, showing their left side; -90 shows the other side.

    Args:
        meshes: as in :func:`~workbench.render.scene.render`; camera frame, metres.
        image_size: (H, W) pixels. focal: pixels, scalar or (fx, fy).
        principal_point: (cx, cy) pixels or None (image centre).
        colors: None, one RGB colour, or one per mesh.
        background: (H, W, 3) uint8; None = white.
        angle_deg: rotation angle in degrees.

    Returns:
        :class:`~workbench.render.scene.RenderResult` of the rotated scene.
    """
    return _rotated_view(meshes, "y", angle_deg, image_size, focal, principal_point, colors, background)


def top_view(
    meshes: Any,
    image_size: tuple[int, int],
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    colors: Any = None,
    background: np.ndarray | None = None,
    angle_deg: float = 90.0,
) -> RenderResult:
    """Render the scene seen from above: turned by ``angle_deg`` about the camera x axis.

    With +90 deg, what was up (-y) comes towards the camera, so we look down on the heads, and
    what was nearer the camera moves to the bottom of the image.

    Args and returns as :func:`side_view`.
    """
    return _rotated_view(meshes, "x", angle_deg, image_size, focal, principal_point, colors, background)
