"""2D pictures for notebooks: keypoints, boxes and labels drawn on images, panels laid out in rows
and grids, and bodies rendered side by side.

Images are RGB ``(H, W, 3) uint8`` (numpy or torch in; numpy out) with pixel coordinates (u right,
v down, origin at the top-left corner of the top-left pixel). Every function returns a *new* image
and leaves its input untouched, so a notebook can draw the same photo several ways.

    >>> from workbench.viz import draw_keypoints, image_row, render_body_grid            # doctest: +SKIP
    >>> shown = draw_keypoints(crop, uv, skeleton=HMR_SKELETON)                         # doctest: +SKIP
    >>> image_row([before, after], labels=["before", "after"], height=384)              # doctest: +SKIP
    >>> render_body_grid(out.vertices, model.faces, ncols=3, views=("front", "side"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import cv2
import numpy as np

from workbench.arrays import to_numpy as _numpy

from workbench.render import render, rotation_about_axis

KEYPOINT_COLOR = (220, 30, 30)
BONE_COLOR = (40, 90, 200)
BOX_COLORS = ((230, 40, 40), (40, 180, 40), (40, 90, 230), (230, 160, 20), (150, 60, 200), (20, 170, 170))
"""Saturated colours that read on photographs: red, green, blue, orange, purple, teal."""

BODY_VIEWS = {"front": 0.0, "side": 90.0, "back": 180.0}
"""Turns (degrees, right-handed about the body's vertical y axis) for :func:`render_body_grid`."""

FONT = cv2.FONT_HERSHEY_SIMPLEX


# ----------------------------------------------------------------------------- inputs
def as_image(image: Any) -> np.ndarray:
    """A new ``(H, W, 3) uint8`` array from an image.

    Args:
        image: (H, W, 3) or (H, W) grey, numpy or torch; uint8, or floats read as 0..255 pixel
            values (as :func:`~workbench.geometry.crop_image` returns; scale a [0, 1] image by 255).
    """
    a = _numpy(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey; got shape {a.shape}.")
    if a.dtype == np.uint8:
        return a.copy()
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"image must hold numbers (uint8, or floats in 0..255); got dtype {a.dtype}.")
    return np.clip(np.nan_to_num(a.astype(np.float64)) + 0.5, 0, 255).astype(np.uint8)


def _color(c: Any) -> tuple[int, int, int]:
    """One RGB colour as a tuple of ints 0..255 (what OpenCV wants)."""
    rgb = np.asarray(c, np.float64).ravel()
    if rgb.size != 3:
        raise ValueError(f"a colour is 3 numbers (R, G, B) in 0..255; got {c!r}.")
    return tuple(int(v) for v in np.clip(np.round(rgb), 0, 255))


def _pixel(p: np.ndarray) -> tuple[int, int]:
    """Round a float pixel position; clip far-off values, which OpenCV clips anyway but cannot hold as int."""
    return tuple(int(v) for v in np.clip(np.round(p), -1e5, 1e5))


# ----------------------------------------------------------------------------- drawing
def draw_keypoints(image: Any, keypoints_2d: Any, skeleton: Sequence[tuple[int, int]] | None = None,
                   color: Any = KEYPOINT_COLOR, bone_color: Any = BONE_COLOR, radius: int = 2,
                   thickness: int = 1, min_conf: float = 0.0) -> np.ndarray:
    """Keypoints as filled dots, optionally joined by bones, on a copy of ``image``.

    Args:
        image: (H, W, 3) RGB, see :func:`as_image`.
        keypoints_2d: (K, 2) pixels ``(u, v)``, or (K, 3) with a confidence in the last column.
        skeleton: (a, b) keypoint index pairs to join with lines, e.g. ``HMR_SKELETON``; None: dots only.
        color, bone_color: RGB 0..255 of the dots and of the bones.
        radius: dot radius (px). thickness: bone width (px).
        min_conf: with (K, 3) input, only keypoints with ``conf > min_conf`` are drawn (OpenPose
            marks missing keypoints with conf 0), and only bones whose two ends are drawn.

    Returns:
        (H, W, 3) uint8. Non-finite keypoints are skipped.
    """
    out = as_image(image)
    kp = _numpy(keypoints_2d).astype(np.float64)
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise ValueError(f"keypoints_2d must be (K, 2) pixels or (K, 3) with confidence; got {kp.shape}. "
                         "For a batch pass one item, e.g. kp[0].")
    shown = np.isfinite(kp[:, :2]).all(1)
    if kp.shape[1] == 3:
        shown &= kp[:, 2] > min_conf
    bones = np.asarray(skeleton if skeleton is not None else (), np.int64).reshape(-1, 2)
    if bones.size and (bones.min() < 0 or bones.max() >= len(kp)):
        raise ValueError(f"skeleton indexes keypoints {bones.min()}..{bones.max()} but there are {len(kp)}; "
                         "use the skeleton of the same keypoint set.")
    bone_rgb, dot_rgb = _color(bone_color), _color(color)
    for a, b in bones:
        if shown[a] and shown[b]:
            cv2.line(out, _pixel(kp[a, :2]), _pixel(kp[b, :2]), bone_rgb, thickness, cv2.LINE_AA)
    for i in np.flatnonzero(shown):
        cv2.circle(out, _pixel(kp[i, :2]), radius, dot_rgb, -1, cv2.LINE_AA)
    return out


def put_label(image: Any, text: str, xy: tuple[int, int] = (8, 6), color: Any = (0, 0, 0),
              background: Any = None, scale: float = 0.5, thickness: int = 1) -> np.ndarray:
    """Text on a copy of ``image``, its box's top-left corner at ``xy`` (px).

    Args:
        color: RGB of the text. background: RGB of a filled box behind it (readable on any photo),
            or None. scale: OpenCV font scale (0.5 is ~10 px tall). thickness: stroke width (px).
    """
    out = as_image(image)
    (w, h), base = cv2.getTextSize(text, FONT, scale, thickness)
    x, y = int(xy[0]), int(xy[1])
    if background is not None:
        cv2.rectangle(out, (x - 3, y - 3), (x + w + 3, y + h + base + 1), _color(background), -1)
    cv2.putText(out, text, (x, y + h), FONT, scale, _color(color), thickness, cv2.LINE_AA)
    return out


def draw_boxes(image: Any, boxes_xyxy: Any, colors: Any = None, thickness: int = 2,
               labels: Sequence[str] | None = None) -> np.ndarray:
    """Rectangles ``(x1, y1, x2, y2)`` on a copy of ``image``.

    Args:
        boxes_xyxy: (N, 4) or (4,) pixels.
        colors: None (:data:`BOX_COLORS` in turn), one RGB colour, or (N, 3) one per box.
        thickness: line width (px).
        labels: N strings written above each box's top-left corner (inside it if there is no room).
    """
    out = as_image(image)
    boxes = _numpy(boxes_xyxy).astype(np.float64).reshape(-1, 4)
    if colors is None:
        rgb = [BOX_COLORS[i % len(BOX_COLORS)] for i in range(len(boxes))]
    else:
        c = np.asarray(colors, np.float64)
        rgb = [c] * len(boxes) if c.ndim == 1 else list(c)
        if len(rgb) != len(boxes):
            raise ValueError(f"got {len(rgb)} colours for {len(boxes)} boxes; give one colour or one per box.")
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"got {len(labels)} labels for {len(boxes)} boxes.")
    for n, (box, c) in enumerate(zip(boxes, rgb)):
        cv2.rectangle(out, _pixel(box[:2]), _pixel(box[2:]), _color(c), thickness)
        if labels is not None:
            x, y = _pixel(box[:2])
            y = y - 18 if y >= 18 else y + thickness + 3
            out = put_label(out, labels[n], (x + 2, y), color=(255, 255, 255), background=c)
    return out


def pad_image(image: Any, pad: int, color: Any = (160, 160, 160)) -> np.ndarray:
    """``image`` (H, W, 3) with a border of ``pad`` px on every side: (H + 2 pad, W + 2 pad, 3) uint8.

    Pixel (u, v) of the input lands at (u + pad, v + pad): shift what you draw by ``pad``.
    """
    return cv2.copyMakeBorder(as_image(image), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=_color(color))


# ----------------------------------------------------------------------------- layout
def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    shrink = height < image.shape[0]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def image_row(panels: Sequence[Any], labels: Sequence[str | None] | None = None, height: int | None = None,
              gap: int = 8, background: int = 255, label_scale: float = 0.5) -> np.ndarray:
    """Panels side by side at one height, each optionally labelled, separated by ``gap`` px.

    Args:
        panels: images (H_i, W_i, 3) or (H_i, W_i), see :func:`as_image`.
        labels: one string (or None) per panel, drawn at its top-left on a white box *after*
            resizing, so every label has the same size on screen.
        height: output height (px); None: the tallest panel's. Each panel keeps its aspect ratio.
        gap: columns of ``background`` (grey level 0..255) between panels.

    Returns:
        (height, sum of resized widths + gaps, 3) uint8.
    """
    images = [as_image(p) for p in panels]
    if not images:
        raise ValueError("image_row needs at least one panel.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} panels; use None for an unlabelled panel.")
    h = int(height or max(im.shape[0] for im in images))
    out = []
    for n, im in enumerate(images):
        im = _resize(im, h, max(1, round(im.shape[1] * h / im.shape[0])))
        if labels is not None and labels[n]:
            im = put_label(im, labels[n], background=(255, 255, 255), scale=label_scale)
        if n:
            out.append(np.full((h, gap, 3), background, np.uint8))
        out.append(im)
    return np.hstack(out)


def image_grid(rows: Sequence[Any], gap: int = 8, background: int = 255) -> np.ndarray:
    """Rows stacked top to bottom, left-aligned, ``gap`` px apart; short rows padded with ``background``.

    Args:
        rows: each an image (H_i, W_i, 3) (e.g. from :func:`image_row`) or a list of panels, which
            is laid out with ``image_row(row, gap=gap, background=background)``.

    Returns:
        (sum H_i + gaps, max W_i, 3) uint8.
    """
    images = [as_image(r) if hasattr(r, "shape") else image_row(r, gap=gap, background=background) for r in rows]
    if not images:
        raise ValueError("image_grid needs at least one row.")
    width = max(im.shape[1] for im in images)
    out = []
    for n, im in enumerate(images):
        if n:
            out.append(np.full((gap, width, 3), background, np.uint8))
        pad = np.full((im.shape[0], width - im.shape[1], 3), background, np.uint8)
        out.append(np.hstack([im, pad]))
    return np.vstack(out)


# ----------------------------------------------------------------------------- bodies
def _body_list(vertices: Any, faces: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """N (V_i, 3) float64 vertex arrays and N (F_i, 3) face arrays from a batch or from lists."""
    if isinstance(vertices, (list, tuple)):
        verts = [_numpy(v).astype(np.float64) for v in vertices]
    else:
        v = _numpy(vertices).astype(np.float64)
        verts = list(v) if v.ndim == 3 else [v]
    if not verts or any(v.ndim != 2 or v.shape[1] != 3 for v in verts):
        raise ValueError("vertices must be (N, V, 3) or a list of (V_i, 3) arrays, in metres; "
                         f"got shapes {[v.shape for v in verts]}.")
    if isinstance(faces, (list, tuple)):
        if len(faces) != len(verts):
            raise ValueError(f"got {len(faces)} face arrays for {len(verts)} bodies; give one for all or one each.")
        face_list = [_numpy(f) for f in faces]
    else:
        face_list = [_numpy(faces)] * len(verts)
    return verts, face_list


def render_body_grid(vertices: Any, faces: Any, ncols: int | None = None, labels: Sequence[str] | None = None,
                     views: Sequence[str | float] = ("front",), cell_px: int | tuple[int, int] = 256,
                     center: Any = None, extent_m: float | None = None, colors: Any = None,
                     gap: int = 8, margin: float = 1.1) -> np.ndarray:
    """Render N bodies in a labelled grid, each in its own cell, all at the same scale.

    Each body is turned by each view about its vertical axis, moved from the body frame to the
    camera frame (a 180° turn about x: negate y and z, so it stands upright facing the camera),
    centred in its cell and rendered with :func:`workbench.render.render` on white. One scale
    (pixels per metre) serves every cell, so sizes compare across cells; the camera stands ten
    extents away, so the picture is close to orthographic.

    Args:
        vertices: (N, V, 3) in SMPL's body frame (metres, y up, facing +z), or a list of (V_i, 3).
        faces: (F, 3) int shared by all bodies, or a list of N face arrays (e.g. open body and SMPL).
        ncols: bodies per row (None: all in one row). With several views a row shows its bodies'
            first view, then the same bodies' next view, and so on.
        labels: N strings, written in each body's first-view cell.
        views: names in :data:`BODY_VIEWS` (``"front"``, ``"side"``, ``"back"``) or angles in degrees.
        cell_px: cell height in px, or (height, width); the default width fits the widest body in
            that view (a square cell when ``extent_m`` is given: a close-up).
        center: (3,) or (N, 3) body-frame point (m) to put at each cell's centre; None: each
            body's bounding-box centre.
        extent_m: metres of scene a cell's height shows; None: the tallest body times ``margin``.
        colors: mesh colour(s) as for :func:`~workbench.render.render` (one, or one per body).

    Returns:
        (H, W, 3) uint8 picture on white.
    """
    verts, face_list = _body_list(vertices, faces)
    n = len(verts)
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} bodies.")
    angles = [BODY_VIEWS[v] if isinstance(v, str) and v in BODY_VIEWS else v for v in views]
    if not angles or any(isinstance(a, str) for a in angles):
        raise ValueError(f"views must be names in {sorted(BODY_VIEWS)} or angles in degrees; got {views!r}.")
    centers = None if center is None else np.broadcast_to(_numpy(center).astype(np.float64), (n, 3))
    # 1. Turn every body for every view about its own centre; keep x/y offsets from the cell centre.
    turned = []  # [view][body] (V_i, 3), centred
    for a in angles:
        R = rotation_about_axis("y", float(a))
        row = []
        for i, v in enumerate(verts):
            c = (v.min(0) + v.max(0)) / 2 if centers is None else centers[i]
            row.append((v - c) @ R.T)
        turned.append(row)
    # 2. One scale for all cells: the cell height shows ``extent`` metres.
    half_h = max(np.abs(v[:, 1]).max() for row in turned for v in row)
    extent = float(extent_m) if extent_m is not None else 2 * half_h * margin
    cell_h, cell_w = (cell_px, None) if np.isscalar(cell_px) else cell_px
    if cell_w is None and extent_m is not None:
        cell_w = cell_h
    px_per_m = cell_h / extent
    distance = 10.0 * extent
    # 3. Render each cell (body in the camera frame: negate y and z, then push it ``distance`` away).
    to_camera = np.array([1.0, -1.0, -1.0])
    ncols = n if ncols is None else int(ncols)
    color_list = [None] * n
    if colors is not None:
        c = np.asarray(colors, np.float64)
        color_list = [c] * n if c.ndim == 1 else list(c)
        if len(color_list) != n:
            raise ValueError(f"got {len(color_list)} colours for {n} bodies; give one colour or one per body.")
    cells = [[None] * len(angles) for _ in range(n)]
    for k, row in enumerate(turned):
        half_w = max(np.abs(v[:, 0]).max() for v in row)
        w = int(cell_w or max(8, math.ceil(2 * half_w * margin * px_per_m)))
        for i, v in enumerate(row):
            cam = v * to_camera + [0.0, 0.0, distance]
            white = np.full((int(cell_h), w, 3), 255, np.uint8)
            rgb = render((cam.astype(np.float32), face_list[i]), (int(cell_h), w), px_per_m * distance,
                         colors=color_list[i], background=white).rgb
            if labels is not None and k == 0 and labels[i]:
                rgb = put_label(rgb, labels[i])
            cells[i][k] = rgb
    # 4. Lay out: per grid row, the first view of its bodies, then the next view, ...
    rows = []
    for start in range(0, n, ncols):
        members = range(start, min(start + ncols, n))
        rows.append([cells[i][k] for k in range(len(angles)) for i in members])
    return image_grid(rows, gap=gap)
