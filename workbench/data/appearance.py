"""How a synthetic person looks: body parts, outfits (per-part colours and patterns), lighting.

Parts come from the body's skinning weights (``lbs_weights`` argmax over the 24 SMPL joints),
grouped into garment regions; hair is the part of the head above the brow and behind the ears,
found geometrically on the rest mesh. Every triangle gets the part of its first vertex, so a
rendered ``face_id`` map turns into colours with one table lookup. Clothing patterns (stripes,
checks, blotches) are functions of the rest-pose triangle centres, so they move with the body.

Shading is Lambert with one directional light, a head light and ambient, using the interpolated
vertex normals from :func:`workbench.render.raster.rasterize`. All of it is procedural and
synthetic: there are no scanned textures.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

PART_NAMES = ("skin", "hair", "torso", "upper_arm", "forearm", "hand", "hips", "thigh", "shin", "foot")
PART = {name: i for i, name in enumerate(PART_NAMES)}

# SMPL joint (lbs argmax) -> part.
_JOINT_PART = {
    0: "hips", 1: "thigh", 2: "thigh", 3: "torso", 4: "shin", 5: "shin", 6: "torso", 7: "foot", 8: "foot",
    9: "torso", 10: "foot", 11: "foot", 12: "skin", 13: "torso", 14: "torso", 15: "skin", 16: "upper_arm",
    17: "upper_arm", 18: "forearm", 19: "forearm", 20: "hand", 21: "hand", 22: "hand", 23: "hand",
}

PATTERNS = ("plain", "stripes", "checks", "blotches")

_SKIN_LIGHT = np.array([0.96, 0.80, 0.69])
_SKIN_DARK = np.array([0.30, 0.19, 0.13])
_HAIR = np.array([[0.05, 0.04, 0.03], [0.20, 0.12, 0.07], [0.40, 0.26, 0.13], [0.80, 0.66, 0.42],
                  [0.55, 0.22, 0.09], [0.62, 0.62, 0.62]])
_NEUTRALS = np.array([[0.08, 0.08, 0.09], [0.92, 0.92, 0.90], [0.45, 0.45, 0.47], [0.12, 0.16, 0.32],
                      [0.70, 0.62, 0.45], [0.25, 0.30, 0.45]])


@dataclass
class BodyParts:
    """Per-vertex and per-face part labels plus rest-pose face centres, for one body topology.

    Attributes:
        vertex_part: (V,) int part index (see ``PART_NAMES``).
        face_part: (F,) int.
        face_centre: (F, 3) float32 rest-pose centre of each triangle, metres (y up).
    """

    vertex_part: np.ndarray
    face_part: np.ndarray
    face_centre: np.ndarray


@functools.cache
def open_body_parts():
    """The open body's full-mesh numpy skinning (:class:`~workbench.data.skinning.SparseBody`) and its
    garment :class:`BodyParts`, built once per process: what the video and clip renderers shade."""
    from workbench.body import BodyModel
    from workbench.data.skinning import SparseBody

    model = BodyModel.open_body()
    skin = SparseBody(model)
    rest = skin(np.zeros((1, 24, 3)), np.zeros((1, 10)))
    return skin, body_parts(model.layer.lbs_weights.numpy(), skin.v_template, rest.joints[0], skin.faces)


def body_parts(lbs_weights: np.ndarray, v_template: np.ndarray, joints: np.ndarray, faces: np.ndarray) -> BodyParts:
    """Label a body's vertices and faces with garment parts.

    Args:
        lbs_weights: (V, 24) skinning weights (``BodyModel.layer.lbs_weights``).
        v_template: (V, 3) rest vertices, metres, y up, facing +z.
        joints: (24, 3) rest joints.
        faces: (F, 3) int.

    Returns:
        :class:`BodyParts`.
    """
    joint = np.asarray(lbs_weights).argmax(1)
    part = np.array([PART[_JOINT_PART[j]] for j in joint])
    # Hair: head vertices above the brow, or behind the ears and above the neck.
    head = joint == 15
    head_y, head_z = joints[15, 1], joints[15, 2]
    top = v_template[head, 1].max()
    brow = head_y + 0.55 * (top - head_y)
    back = v_template[head, 2] < head_z - 0.01
    hair = head.copy()
    hair[head] = (v_template[head, 1] > brow) | (back & (v_template[head, 1] > head_y - 0.03))
    part[hair] = PART["hair"]
    return BodyParts(vertex_part=part, face_part=part[faces[:, 0]],
                     face_centre=v_template[faces].mean(1).astype(np.float32))


@dataclass
class Look:
    """One person's appearance and light, drawn by :func:`sample_look`.

    Attributes:
        colour: (P, 3) base colour per part, RGB in [0, 1].
        colour2: (P, 3) second colour for patterns.
        pattern: (P,) index into ``PATTERNS``.
        period: (P,) pattern period, metres.
        light_dir: (3,) unit vector from the surface towards the light, camera frame.
        light_rgb: (3,) light colour and intensity.
        ambient, diffuse, headlight: shading weights.
    """

    colour: np.ndarray
    colour2: np.ndarray
    pattern: np.ndarray
    period: np.ndarray
    light_dir: np.ndarray
    light_rgb: np.ndarray
    ambient: float
    diffuse: float
    headlight: float


def _cloth_colour(rng) -> np.ndarray:
    if rng.random() < 0.35:
        c = _NEUTRALS[rng.integers(len(_NEUTRALS))]
        return np.clip(c + rng.normal(0, 0.03, 3), 0, 1)
    h, s, v = rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95)
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6  # HSV -> RGB
    return v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)


def sample_look(rng: np.random.Generator) -> Look:
    """Skin, hair, an outfit (sleeves, trousers/shorts, shoes, patterns) and a light."""
    P = len(PART_NAMES)
    skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * rng.random() + rng.normal(0, 0.02, 3)
    hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.8, 1.2) if rng.random() > 0.1 else skin
    top, bottom, shoes = _cloth_colour(rng), _cloth_colour(rng), _cloth_colour(rng) * 0.7
    if rng.random() < 0.1:  # one-piece: dress, overall, wetsuit
        bottom = top
    sleeves = rng.choice(3, p=[0.15, 0.45, 0.4])  # none, short, long
    long_legs = rng.random() < 0.75
    colour = np.tile(skin, (P, 1))
    colour[PART["hair"]] = hair
    colour[PART["torso"]] = top
    colour[PART["upper_arm"]] = top if sleeves > 0 else skin
    colour[PART["forearm"]] = top if sleeves > 1 else skin
    colour[PART["hips"]] = colour[PART["thigh"]] = bottom
    colour[PART["shin"]] = bottom if long_legs else skin
    colour[PART["foot"]] = shoes if rng.random() > 0.08 else skin
    if rng.random() < 0.05:  # gloves
        colour[PART["hand"]] = _cloth_colour(rng)
    # Patterns: the same on all parts of one garment.
    pattern = np.zeros(P, np.int64)
    colour2 = colour.copy()
    period = np.full(P, 0.1)
    garments = {"top": ["torso", "upper_arm", "forearm"], "bottom": ["hips", "thigh", "shin"]}
    for parts in garments.values():
        kind = rng.choice(len(PATTERNS), p=[0.7, 0.14, 0.1, 0.06])
        second = _cloth_colour(rng)
        per = rng.uniform(0.03, 0.15)
        for part in parts:
            i = PART[part]
            if not np.array_equal(colour[i], skin):  # a garment covers this part
                pattern[i], colour2[i], period[i] = kind, second, per
    # Light: mostly from the camera's side and above, sometimes from behind (rim-lit people).
    az, el = rng.uniform(-np.pi, np.pi) * rng.choice([0.4, 1.0], p=[0.75, 0.25]), rng.uniform(-0.2, 1.2)
    light_dir = np.array([np.sin(az) * np.cos(el), -np.sin(el), -np.cos(az) * np.cos(el)])
    tint = np.clip(1.0 + rng.normal(0, 0.08, 3), 0.8, 1.2)
    return Look(colour=np.clip(colour, 0, 1), colour2=np.clip(colour2, 0, 1), pattern=pattern, period=period,
                light_dir=light_dir, light_rgb=tint * rng.uniform(0.85, 1.25), ambient=rng.uniform(0.2, 0.5),
                diffuse=rng.uniform(0.4, 0.85), headlight=rng.uniform(0.05, 0.35))


def shade_pixels(face_id: np.ndarray, normal: np.ndarray, parts: BodyParts, look: Look) -> np.ndarray:
    """Colour rendered body pixels.

    Args:
        face_id: (N,) visible triangle per pixel (>= 0).
        normal: (N, 3) unit camera-frame normals.
        parts: :class:`BodyParts` of the rendered topology.
        look: :class:`Look`.

    Returns:
        (N, 3) float32 RGB on the 0..255 scale (may exceed 255 before the caller clips).
    """
    part = parts.face_part[face_id]
    albedo = look.colour.astype(np.float32)[part]
    kind = look.pattern[part]
    for k in np.unique(kind[kind > 0]):  # only the patterns this outfit uses, only where used
        sel = np.flatnonzero(kind == k)
        c = parts.face_centre[face_id[sel]] / look.period[part[sel], None].astype(np.float32)
        if PATTERNS[k] == "stripes":
            second = np.sin(2 * np.pi * c[:, 1]) > 0
        elif PATTERNS[k] == "checks":
            second = np.floor(c).sum(1) % 2 > 0
        else:  # blotches
            second = np.sin(2 * np.pi * (1.3 * c[:, 0] + c[:, 2])) * np.sin(2 * np.pi * c[:, 1]) > 0.3
        albedo[sel[second]] = look.colour2[part[sel[second]]]
    light = (look.ambient + look.diffuse * np.clip(normal @ look.light_dir.astype(np.float32), 0, None)
             + look.headlight * np.clip(-normal[:, 2], 0, None))
    return albedo * (light[:, None] * (255.0 * look.light_rgb).astype(np.float32))


def shade_meshes(face_id: np.ndarray, normal: np.ndarray, parts: BodyParts, looks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour the pixels of several bodies rasterised together (body m's faces offset by m * F).

    Args:
        face_id: (H, W) int visible triangle per pixel, -1 where empty.
        normal: (H, W, 3) unit camera-frame normals.
        parts: :class:`BodyParts` of one body's topology (F faces).
        looks: one :class:`Look` per body, in mesh order.

    Returns:
        px: (N,) flat indices of the covered pixels; owner: (N,) which body covers each;
        colour: (N, 3) float32 RGB on the 0..255 scale, as :func:`shade_pixels`.
    """
    F = len(parts.face_part)
    px = np.flatnonzero(face_id.ravel() >= 0)
    fid = face_id.ravel()[px]
    owner, local = fid // F, fid % F
    normals = normal.reshape(-1, 3)[px]
    colour = np.empty((len(px), 3), np.float32)
    for m, look in enumerate(looks):
        sel = owner == m
        colour[sel] = shade_pixels(local[sel], normals[sel], parts, look)
    return px, owner, colour
