"""Backgrounds and occluders for synthetic crops: procedural textures and people-free photo patches.

Procedural kinds: linear gradients, multi-octave value noise, stripes, checkerboards, "dead
leaves" (layered random shapes, a classic stand-in for natural image statistics) and a simple
room (wall, floor, a door or shelf). Photo patches come only from hand-picked regions of the
shipped photos (``assets/images``) that contain no person -- the wall and door of the two
basketball frames and the grass below the footballer (:data:`PHOTO_REGIONS`) -- randomly cropped,
rescaled, flipped, tinted and blurred (the basketball frames are grey, so a tint adds colour).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from workbench.assets import ASSETS_DIR

KINDS = ("gradient", "noise", "stripes", "checker", "dead_leaves", "room", "photo")
DEFAULT_WEIGHTS = (0.1, 0.2, 0.1, 0.08, 0.27, 0.15, 0.1)

# (file, x1, y1, x2, y2): regions without people, checked by eye.
PHOTO_REGIONS = (
    ("basketball1.png", 205, 0, 425, 470),
    ("basketball2.png", 210, 0, 425, 470),
    ("messi5.jpg", 0, 272, 200, 342),
)


def _random_colour(rng, n: int = 1) -> np.ndarray:
    return rng.uniform(0, 255, (n, 3)) * rng.uniform(0.3, 1.0, (n, 1))


@functools.cache
def _photo_patches() -> tuple[np.ndarray, ...]:
    patches = []
    for name, x1, y1, x2, y2 in PHOTO_REGIONS:
        img = cv2.imread(str(ASSETS_DIR / "images" / name), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"background photo {ASSETS_DIR / 'images' / name} is missing from assets/images.")
        patches.append(np.ascontiguousarray(img[y1:y2, x1:x2, ::-1]))  # RGB
    return tuple(patches)


@functools.cache
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return xx, yy


def _colourise(t: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Map a field t in [0, 1] (H, W) through a piecewise-linear palette of K colours: (H, W, 3) uint8."""
    stops = np.linspace(0, 1, len(colours))
    ramp = np.linspace(0, 1, 256)
    lut = np.stack([np.interp(ramp, stops, colours[:, c]) for c in range(3)], 1)
    return np.clip(lut, 0, 255).astype(np.uint8)[(np.clip(t, 0, 1) * 255).astype(np.uint8)]


def _gradient(rng, size):
    xx, yy = _grid(size)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(theta)) * xx + np.float32(np.sin(theta)) * yy
    lo, hi = ramp.min(), ramp.max()
    return _colourise((ramp - lo) / (hi - lo + 1e-6), _random_colour(rng, 2))


def _value_noise(rng, size, octaves=4):
    out = np.zeros((size, size), np.float32)
    base = rng.integers(2, 6)
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.random((cells, cells)).astype(np.float32)
        out += cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) * np.float32(0.6**o)
    lo, hi = out.min(), out.max()
    return _colourise((out - lo) / (hi - lo + 1e-6), _random_colour(rng, 3))


def _stripes(rng, size):
    xx, yy = _grid(size)
    theta, period = rng.uniform(0, np.pi), rng.uniform(0.025, 0.25) * size
    phase = xx * np.float32(2 * np.pi * np.cos(theta) / period) + yy * np.float32(2 * np.pi * np.sin(theta) / period)
    sharpness = np.float32(rng.uniform(1, 6))  # soft or hard edges
    return _colourise(np.clip(np.sin(phase) * sharpness, -1, 1) * 0.5 + 0.5, _random_colour(rng, 2))


def _checker(rng, size):
    xx, yy = _grid(size)
    cell = rng.uniform(0.03, 0.2) * size
    theta = rng.uniform(0, np.pi / 2)
    c, s = np.float32(np.cos(theta) / cell), np.float32(np.sin(theta) / cell)
    t = (np.floor(xx * c + yy * s) + np.floor(yy * c - xx * s)) % 2
    return _colourise(t, _random_colour(rng, 2))


def _dead_leaves(rng, size):
    img = np.empty((size, size, 3), np.uint8)
    img[:] = _random_colour(rng)[0]
    n = int(rng.integers(15, 60))
    colours = _random_colour(rng, n)
    centres = rng.integers(-size // 4, size + size // 4, (n, 2))
    radii = (size * rng.uniform(0.02, 0.3, n)).astype(int)
    circle = rng.random(n) < 0.5
    half = (rng.uniform(0.5, 2.0, (n, 2)) * radii[:, None]).astype(int) + 1
    for k in range(n):
        (x, y), colour = centres[k].tolist(), colours[k].tolist()
        if circle[k]:
            cv2.circle(img, (x, y), int(radii[k]), colour, -1)
        else:
            w, h = half[k].tolist()
            cv2.rectangle(img, (x - w, y - h), (x + w, y + h), colour, -1)
    return img


def _room(rng, size):
    wall, floor, thing = _random_colour(rng, 3)
    horizon = int(size * rng.uniform(0.45, 0.95))
    img = np.empty((size, size, 3), np.float32)
    img[:horizon] = wall
    shade = np.linspace(0.8, 1.1, size - horizon, dtype=np.float32)[:, None, None]
    img[horizon:] = floor * shade
    if rng.random() < 0.5:  # floor boards / tiles receding
        period = rng.uniform(0.04, 0.16) * size
        lines = (np.arange(size)[None, :] % period) < max(1.0, 0.006 * size)
        img[horizon:][np.broadcast_to(lines, (size - horizon, size))] *= 0.7
    x = int(rng.uniform(0, size))
    w = int(rng.uniform(0.1, 0.4) * size)
    top = int(rng.uniform(0.0, 0.4) * horizon)
    img[top:horizon, x:x + w] = thing  # a door, a cupboard, a window
    cv2.rectangle(img, (x, top), (x + w, horizon), tuple(float(c) for c in thing * 0.6), 2)
    return np.clip(img, 0, 255).astype(np.uint8)


def _photo(rng, size):
    patches = _photo_patches()
    src = patches[rng.integers(len(patches))]
    h, w = src.shape[:2]
    side = int(min(h, w) * rng.uniform(0.3, 1.0))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(src[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = cv2.flip(crop, 1)
    # Per-channel gain and offset (a tint: the basketball frames are grey), saturating in uint8.
    m = np.concatenate([np.diag(rng.uniform(0.6, 1.4, 3)), rng.uniform(-30, 30, (3, 1))], 1)
    return cv2.transform(crop, m)


_MAKERS = {"gradient": _gradient, "noise": _value_noise, "stripes": _stripes, "checker": _checker,
           "dead_leaves": _dead_leaves, "room": _room, "photo": _photo}


def sample_background(rng: np.random.Generator, size: int = 256, weights=DEFAULT_WEIGHTS) -> tuple[np.ndarray, int]:
    """A random background.

    Args:
        rng: numpy Generator.
        size: side in pixels.
        weights: probability of each of ``KINDS``.

    Returns:
        (size, size, 3) uint8 RGB, and the index of its kind in ``KINDS``.
    """
    p = np.asarray(weights, float)
    kind = int(rng.choice(len(KINDS), p=p / p.sum()))
    # Procedural kinds are drawn at half size and upsampled (4x cheaper; backgrounds are rarely sharp).
    half = KINDS[kind] != "photo"
    img = _MAKERS[KINDS[kind]](rng, size // 2 if half else size)
    if rng.random() < 0.4:  # out-of-focus background
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0) / (2 if half else 1))
    if half:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    return img, kind


def _occluder_shape(rng, kind: int, cx: float, cy: float, w: float, h: float, size: int):
    """Geometry of one occluder: a function that draws it on a canvas with a value."""
    if kind == 0:  # axis-aligned box entering from a side
        bw, bh = rng.uniform(0.2, 0.7) * w, rng.uniform(0.15, 0.5) * h
        p1, p2 = (int(cx - bw / 2), int(cy - bh / 2)), (int(cx + bw / 2), int(cy + bh / 2))
        return lambda canvas, value: cv2.rectangle(canvas, p1, p2, value, -1)
    if kind == 1:  # rotated box
        rect = ((float(cx), float(cy)), (float(rng.uniform(0.2, 0.6) * w), float(rng.uniform(0.1, 0.4) * h)),
                float(rng.uniform(0, 180)))
        corners = cv2.boxPoints(rect).astype(np.int32)
        return lambda canvas, value: cv2.fillConvexPoly(canvas, corners, value)
    if kind == 2:  # ellipse
        axes = (int(rng.uniform(0.1, 0.35) * w) + 1, int(rng.uniform(0.08, 0.25) * h) + 1)
        angle = float(rng.uniform(0, 180))
        return lambda canvas, value: cv2.ellipse(canvas, (int(cx), int(cy)), axes, angle, 0, 360, value, -1)
    # pole or rail crossing the whole crop
    theta = rng.uniform(0, np.pi)
    d = np.array([np.cos(theta), np.sin(theta)]) * 2 * size
    thick = int(rng.uniform(0.04, 0.12) * w) + 2
    p1, p2 = (int(cx - d[0]), int(cy - d[1])), (int(cx + d[0]), int(cy + d[1]))
    return lambda canvas, value: cv2.line(canvas, p1, p2, value, thick)


def draw_occluders(rng: np.random.Generator, image: np.ndarray, person_box: np.ndarray,
                   max_count: int = 2, min_count: int = 1) -> np.ndarray:
    """Draw random shapes in front of the person, in place: rectangles, rotated boxes, ellipses, poles,
    filled with a flat colour or a procedural texture.

    Args:
        rng: numpy Generator.
        image: (S, S, 3) uint8, modified in place.
        person_box: (4,) ``(x1, y1, x2, y2)`` of the person in pixels; occluders overlap it.
        max_count, min_count: the number of shapes is uniform in ``min_count..max_count``.

    Returns:
        (S, S) bool mask of the occluded pixels.
    """
    size = image.shape[0]
    mask = np.zeros((size, size), np.uint8)
    x1, y1, x2, y2 = person_box
    w, h = max(x2 - x1, 8.0), max(y2 - y1, 8.0)
    for _ in range(rng.integers(min_count, max_count + 1)):
        draw = _occluder_shape(rng, int(rng.integers(4)), rng.uniform(x1, x2), rng.uniform(y1, y2), w, h, size)
        if rng.random() < 0.5:  # flat colour: straight into the image
            draw(image, _random_colour(rng)[0].tolist())
            draw(mask, 1)
        else:  # texture: through a mask layer
            layer = np.zeros((size, size), np.uint8)
            draw(layer, 1)
            fill = sample_background(rng, size, weights=(0.3, 0.3, 0.2, 0.2, 0.0, 0.0, 0.0))[0]
            np.copyto(image, fill, where=layer[..., None].astype(bool))
            mask |= layer
    return mask > 0
