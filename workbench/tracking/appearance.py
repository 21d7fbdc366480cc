"""Appearance by texture sampling (4DHumans "T" mode), with no learned weights, on the CPU.

Each detected person's mesh is projected into the frame; the colours of its *visible* surface are
gathered into a fixed map of texels (our stand-in for the published 256x256 UV image), blended
into a running map per track, and track and detection maps are compared on their commonly
visible texels (:func:`workbench.tracking.cost.appearance_distance_texels`).

The atlas. The open body has no UV coordinates, so we build our own, deterministically, from any
SMPL-format body (vertices, faces, skinning weights, rest template):

1. every face belongs to its dominant body part (largest summed skinning weight of its 3 vertices);
2. each part is unwrapped cylindrically in the rest pose around its bone (:func:`bone_axes`):
   position along the bone (proximal -> distal) x angle around it (front of the body in the middle, the back at the edges);
3. a part owns one ``tile x tile`` tile. Rows split the part's faces into equal-count bands along
   the axis, columns split each band into equal-count sectors by angle, so every texel averages
   about the same number of faces and (almost) every texel is used whatever the mesh density.

A texel's colour is the mean colour of its visible faces (the pixel under each face centroid); a
texel with no visible face is masked out. Visibility is the published depth test against one
depth render of *all* people of the frame, so a person hidden by another is not coloured by the
occluder.

Tile layout (:data:`LAYOUT`, used by :func:`texel_image`): a "paper doll" seen from the front, the
person's right on the image's left; 9 x 11 tiles (SMPL part index in each)::

    .   .   .   .   .   15  .   .   .   .   .        15 head
    .   .   .   .   .   12  .   .   .   .   .        12 neck
    23  21  19  17  14  9   13  16  18  20  22       23/22 R/L fingers, 21/20 hands, 19/18 forearms,
    .   .   .   .   .   6   .   .   .   .   .           17/16 upper arms, 14/13 collars, 9 chest
    .   .   .   .   .   3   .   .   .   .   .        6, 3 spine (belly), 0 pelvis
    .   .   .   .   2   0   1   .   .   .   .        2/1 R/L thighs
    .   .   .   .   5   .   4   .   .   .   .        5/4 R/L shins
    .   .   .   .   8   .   7   .   .   .   .        8/7 R/L feet
    .   .   .   .   11  .   10  .   .   .   .        11/10 R/L toes

Texel ``k`` of the flat maps is part ``k // tile**2``, row ``(k // tile) % tile`` (along the axis),
column ``k % tile`` (angle, front in the middle).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.render import inputs
from workbench.render.raster import rasterize_people
from workbench.render.visibility import project_points, visible_points
from workbench.tracking.cost import appearance_distance_texels

NUM_PARTS = 24
DEFAULT_TILE = 8
"""Texels per tile side: 24 x 8 x 8 = 1,536 texels (~18 faces of the open body per texel). Measured
on synthetic shaded scenes (3 outfits, 20 deg turn, new pose): different-/same-outfit distance
ratio ~9-11x for tiles of 4, 8 and 16 alike (the mean colour distance barely depends on it), but
16 leaves 6 % of texels empty and sees fewer texels in common; 8 keeps an eighth of a bone of
detail (sleeve or trouser length) for a readable :func:`texel_image`. Sampling time is the same."""

MIN_FACING = 0.3
"""Faces seen more edge-on than ~73 deg are not sampled (not in the published sampler): their pixels
mix in the background and the occluder's edge, and a fitted mesh is least accurate at its
silhouette. Measured on synthetic shaded scenes, 0.3 lowers the same-person distance by 10-20 %
after a 20 deg turn and keeps ~85 % of the visible texels."""

VISIBLE_RTOL, VISIBLE_ATOL = 1e-4, 1e-2
"""Depth-test tolerance ``max(rtol * z, atol)`` metres (:func:`workbench.render.visible_points`)."""

GREY = 128  # masked texels in :func:`texel_image`
WHITE = 255  # grid cells with no part

# (row, column) of each SMPL part's tile in the paper-doll image, indexed by part.
LAYOUT = np.array([
    (5, 5), (5, 6), (5, 4), (4, 5), (6, 6), (6, 4), (3, 5), (7, 6), (7, 4), (2, 5), (8, 6), (8, 4),
    (1, 5), (2, 6), (2, 4), (0, 5), (2, 7), (2, 3), (2, 8), (2, 2), (2, 9), (2, 1), (2, 10), (2, 0),
])
LAYOUT_SHAPE = (9, 11)
FORWARD = np.array([0.0, 0.0, 1.0])  # SMPL rest pose: y up, z forward (the way the body faces)
UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class TexelAtlas:
    """A fixed texel map of one body topology.

    Attributes:
        tile: texels per tile side; ``num_texels = 24 * tile**2``.
        face_texel: (F,) int64 texel of each face (every face has one).
        texel_part: (M,) int64 body part (0..23, SMPL order) of each texel.
        texel_faces: (M,) int64 number of faces averaged by each texel (0 for an unused texel).
        part_axis: (24, 3) rest-pose direction of a tile's rows (its bone, proximal -> distal).
        part_side: (24, 3) rest-pose direction in which a tile's columns go, seen from the front.
        num_vertices: V of the body the atlas was built for.
        faces: (F, 3) int64 triangles of that body (to check the caller's topology).
    """

    tile: int
    face_texel: np.ndarray
    texel_part: np.ndarray
    texel_faces: np.ndarray
    part_axis: np.ndarray
    part_side: np.ndarray
    num_vertices: int
    faces: np.ndarray

    @property
    def num_texels(self) -> int:
        return NUM_PARTS * self.tile * self.tile


@dataclass
class TexelMap:
    """Colours of one person's texels.

    Attributes:
        rgb: (M, 3) float32 in [0, 1]; meaningless where ``mask`` is False.
        mask: (M,) bool, texel seen (now, or at some update of a track).
    """

    rgb: np.ndarray
    mask: np.ndarray


# ----------------------------------------------------------------------------------------- atlas

def _body_arrays(body: Any) -> tuple[np.ndarray, ...]:
    """(v_template (V, 3), faces (F, 3) int64, weights (V, 24), joints (24, 3), parents (24,)) of a
    BodyModel or BodyData, rest pose, float64."""
    if hasattr(body, "layer"):  # workbench.body.BodyModel (smplx layer inside)
        layer = body.layer
        v, w, jreg = (t.detach().cpu().numpy() for t in (layer.v_template, layer.lbs_weights, layer.J_regressor))
        f, parents = np.asarray(body.faces), layer.parents.detach().cpu().numpy()
    elif hasattr(body, "arrays"):  # workbench.body.model.BodyData
        a = body.arrays
        v, w, jreg, f, parents = a["v_template"], a["weights"], a["J_regressor"], a["f"], a["kintree_table"][0]
    else:
        raise ValueError(f"body must be a workbench BodyModel or BodyData, got {type(body).__name__}.")
    v, w, f = np.asarray(v, np.float64), np.asarray(w, np.float64), np.asarray(f, np.int64)
    if w.shape != (len(v), NUM_PARTS):
        raise ValueError(f"skinning weights must be (V, {NUM_PARTS}) = ({len(v)}, {NUM_PARTS}), got {w.shape}.")
    joints = np.asarray(jreg, np.float64) @ v
    return v, f, w, joints, np.asarray(parents, np.int64)


def bone_axes(joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(24, 3) unit axis of each part, pointing away from the root, from rest joints (24, 3).

    A joint's bone goes to its child; with several children (pelvis, chest), to the child that
    continues the parent's bone best (chest -> neck), or for the root to the child with the largest
    subtree (pelvis -> spine); a leaf (head, toes, fingers) continues its parent's bone.
    """
    n = len(parents)
    children = [[c for c in range(n) if parents[c] == j] for j in range(n)]

    def subtree(j: int) -> int:
        return 1 + sum(subtree(c) for c in children[j])

    def unit(d: np.ndarray) -> np.ndarray:
        return d / max(np.linalg.norm(d), 1e-12)

    axes = np.zeros((n, 3))
    for j in range(n):  # SMPL order lists parents before children
        incoming = unit(joints[j] - joints[parents[j]]) if parents[j] >= 0 else None
        if not children[j]:
            axes[j] = incoming
        elif incoming is None:
            axes[j] = unit(joints[max(children[j], key=subtree)] - joints[j])
        else:
            axes[j] = max((unit(joints[c] - joints[j]) for c in children[j]), key=lambda d: d @ incoming)
    return axes


def _front_and_side(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions across a unit axis (3,): the body's front (angle 0; up for the feet, which
    point forward) and ``axis x front`` (angle +90 deg)."""
    ref = next(d - (d @ axis) * axis for d in (FORWARD, UP) if np.linalg.norm(d - (d @ axis) * axis) > 0.3)
    ref = ref / np.linalg.norm(ref)
    return ref, np.cross(axis, ref)


def _unwrap_part(points: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cylindrical coordinates of (N, 3) rest-pose points of one part around its unit axis (3,)
    -> (axial (N,) metres, angle (N,) radians in (-pi, pi], 0 = the body's front)."""
    front, side = _front_and_side(axis)
    rel = points - points.mean(0)
    return rel @ axis, np.arctan2(rel @ side, rel @ front)


def _equal_count_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin index 0..bins-1 of each value such that bins hold (almost) equal counts, by rank."""
    rank = np.empty(len(values), np.int64)
    rank[np.argsort(values, kind="stable")] = np.arange(len(values))
    return rank * bins // max(len(values), 1)


def build_texel_atlas(vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray, axes: np.ndarray,
                      tile: int = DEFAULT_TILE) -> TexelAtlas:
    """Build the atlas from rest-pose arrays (uncached; see :func:`texel_atlas`).

    Args:
        vertices: (V, 3) rest template, metres, SMPL frame (y up, z forward).
        faces: (F, 3) int triangles.
        weights: (V, 24) skinning weights.
        axes: (24, 3) unit axis of each part (:func:`bone_axes`).
        tile: texels per tile side.
    """
    if tile < 1:
        raise ValueError(f"tile must be >= 1 texel, got {tile}.")
    faces = np.asarray(faces, np.int64)
    # 1. Dominant part of every face, and its centroid in the rest pose.
    face_part = np.argmax(weights[faces].sum(1), axis=1)
    centroids = vertices[faces].mean(1)
    face_texel = np.empty(len(faces), np.int64)
    for part in range(NUM_PARTS):
        idx = np.flatnonzero(face_part == part)
        if len(idx) == 0:
            continue
        # 2. Cylindrical unwrap, 3. rows = equal-count bands along the axis, columns = by angle.
        axial, angle = _unwrap_part(centroids[idx], axes[part])
        rows = _equal_count_bins(axial, tile)
        cols = np.empty(len(idx), np.int64)
        for r in range(tile):
            band = rows == r
            cols[band] = _equal_count_bins(angle[band], tile)
        face_texel[idx] = part * tile * tile + rows * tile + cols
    num_texels = NUM_PARTS * tile * tile
    return TexelAtlas(
        tile=tile,
        face_texel=face_texel,
        texel_part=np.repeat(np.arange(NUM_PARTS), tile * tile),
        texel_faces=np.bincount(face_texel, minlength=num_texels),
        part_axis=np.asarray(axes, np.float64),
        part_side=np.stack([_front_and_side(a)[1] for a in axes]),
        num_vertices=len(vertices),
        faces=faces,
    )


_ATLASES: dict[tuple[str, int], TexelAtlas] = {}


def texel_atlas(body: Any, tile: int = DEFAULT_TILE) -> TexelAtlas:
    """The texel atlas of a body (``BodyModel`` or ``BodyData``), cached per body content and tile.

    Cached by a digest of the rest template, faces and weights, so the open body and a user's SMPL
    each get their own atlas, and rebuilding the same body model reuses it (~1 ms per call).
    """
    v, f, w, joints, parents = _body_arrays(body)
    digest = hashlib.sha1(b"".join(np.ascontiguousarray(a).tobytes() for a in (v, f, w))).hexdigest()
    key = (digest, int(tile))
    if key not in _ATLASES:
        _ATLASES[key] = build_texel_atlas(v, f, w, bone_axes(joints, parents), tile)
    return _ATLASES[key]


# -------------------------------------------------------------------------------------- sampling

def _check_frame(frame_rgb: Any) -> np.ndarray:
    frame = inputs.to_numpy(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame_rgb must be an (H, W, 3) uint8 RGB image, got shape {frame.shape} "
                         f"dtype {frame.dtype}.")
    return frame


def _check_vertices(vertices: Any, faces: Any, atlas: TexelAtlas) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(inputs.to_numpy(vertices), np.float32)
    if v.ndim != 3 or v.shape[2] != 3:
        raise ValueError(f"vertices must be (B, V, 3) full-frame camera coordinates in metres, got "
                         f"{v.shape}; for one person use vertices[None].")
    if v.shape[1] != atlas.num_vertices:
        raise ValueError(f"vertices have V = {v.shape[1]} but the atlas was built for a body with "
                         f"{atlas.num_vertices}; build it with texel_atlas(<the same body model>).")
    f = np.asarray(inputs.to_numpy(faces), np.int64)
    if f.shape != atlas.faces.shape or not np.array_equal(f, atlas.faces):
        raise ValueError(f"faces {f.shape} are not the faces of the atlas's body {atlas.faces.shape}.")
    if not np.isfinite(v).all():
        raise ValueError("vertices contain NaN or inf.")
    return v, f


def pixel_of(uv: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) int64 of the pixels that contain (N, 2) positions (u, v), clamped to the image.

    Pixel (row i, column j) covers ``u in [j, j+1)``, ``v in [i, i+1)`` (:mod:`workbench.render`).
    """
    H, W = image_size
    return (np.clip(uv[:, 1].astype(np.int64), 0, H - 1), np.clip(uv[:, 0].astype(np.int64), 0, W - 1))


def sample_texel_maps(
    frame_rgb: Any,
    vertices: Any,
    faces: Any,
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None,
    atlas: TexelAtlas,
    min_facing: float = MIN_FACING,
) -> list[TexelMap]:
    """Texel maps of B people seen in one frame, from one depth render of all of them together.

    Args:
        frame_rgb: (H, W, 3) uint8 RGB frame.
        vertices: (B, V, 3) full-frame camera coordinates, metres (x right, y down, z forward);
            for HMR 2.0 ``pred_vertices + cam_t_full`` (:func:`workbench.geometry.cam_crop_to_full`).
        faces: (F, 3) int triangles of the body (the atlas's).
        focal: pixels, scalar or (fx, fy), of that frame.
        principal_point: (cx, cy) pixels; None = image centre.
        atlas: :func:`texel_atlas` of the body.
        min_facing: smallest cosine between a face's normal and the ray to the camera for the
            face to be sampled; drops surface seen edge-on, whose pixels mix in the background.

    Returns:
        B :class:`TexelMap`, rgb (M, 3) float32 in [0, 1], mask (M,) bool.
    """
    frame = _check_frame(frame_rgb)
    v, f = _check_vertices(vertices, faces, atlas)
    B = len(v)
    M = atlas.num_texels
    if B == 0:
        return []
    H, W = frame.shape[:2]
    fxy = inputs.as_focal(focal)
    cxy = inputs.as_principal_point(principal_point, (H, W))
    # 1. One depth map of everybody. Back faces culled: the body is closed and wound outwards, so
    #    the nearest surface is always front-facing (halves the raster work).
    raster = rasterize_people(v, f, (H, W), fxy, cxy)
    owner = np.where(raster.face_id >= 0, raster.face_id // len(f), -1)  # (H, W) person of each pixel
    # 2. Face centroids of every person that face the camera and pass the published depth test
    #    (z <= depth + tol). The pixel must also show this person: an empty pixel has depth +inf,
    #    and a thin finger's centroid can fall between pixel centres onto the background.
    a, b, c = v[:, f[:, 0]].reshape(-1, 3), v[:, f[:, 1]].reshape(-1, 3), v[:, f[:, 2]].reshape(-1, 3)
    points = (a + b + c) / 3.0  # (B * F, 3) face centroids, person-major
    normals = np.cross(b - a, c - a)
    # cos(normal, to camera) >= min_facing, without square roots: both sides squared, lhs >= 0.
    dot = -np.einsum("ij,ij->i", normals, points)
    facing = (dot > 0) & (dot * dot >= min_facing**2 * np.einsum("ij,ij->i", normals, normals)
                          * np.einsum("ij,ij->i", points, points))
    candidates = np.flatnonzero(facing)
    z = points[candidates, 2]
    uv = points[candidates, :2] / z[:, None] * np.asarray(fxy, np.float32) + np.asarray(cxy, np.float32)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
    candidates, z, uv = candidates[inside], z[inside], uv[inside]
    rows, cols = uv[:, 1].astype(np.int64), uv[:, 0].astype(np.int64)
    # The tolerances of :func:`workbench.render.visible_points` (the reference path calls it).
    ok = (z <= raster.depth[rows, cols] + np.maximum(VISIBLE_RTOL * z, VISIBLE_ATOL)) & (
        owner[rows, cols] == candidates // len(f))
    seen, rows, cols = candidates[ok], rows[ok], cols[ok]
    # 3. Colour of the pixel under each visible centroid (the pixel the depth test vouched for; a
    #    bilinear sample, as published, would mix in the neighbours: background at the silhouette),
    #    averaged per texel of each person.
    rgb = frame[rows, cols].astype(np.float32) / 255.0
    texel = (seen // len(f)) * M + atlas.face_texel[seen % len(f)]  # person-major flat texel id
    count = np.bincount(texel, minlength=B * M).astype(np.float32)
    sums = np.stack([np.bincount(texel, rgb[:, c], minlength=B * M) for c in range(3)], axis=1)
    mean = (sums / np.maximum(count, 1)[:, None]).astype(np.float32).reshape(B, M, 3)
    mask = (count > 0).reshape(B, M)
    return [TexelMap(rgb=np.clip(mean[b], 0.0, 1.0), mask=mask[b]) for b in range(B)]


def sample_texel_maps_reference(frame_rgb, vertices, faces, focal, principal_point, atlas,
                                min_facing: float = MIN_FACING) -> list[TexelMap]:
    """Slow, obviously-correct :func:`sample_texel_maps`: the ray-cast renderer for the depth,
    and a loop over people and texels."""
    from workbench.render import render

    frame = _check_frame(frame_rgb)
    v, f = _check_vertices(vertices, faces, atlas)
    H, W = frame.shape[:2]
    fxy = inputs.as_focal(focal)
    cxy = inputs.as_principal_point(principal_point, (H, W))
    hits = render([(person, f) for person in v], (H, W), fxy, cxy)
    maps = []
    for b, person in enumerate(v):
        rgb = np.zeros((atlas.num_texels, 3), np.float32)
        mask = np.zeros(atlas.num_texels, bool)
        for k in range(atlas.num_texels):
            tri = person[f[atlas.face_texel == k]].astype(np.float64)  # (n, 3, 3) this texel's faces
            centre = tri.mean(1)
            normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            cos = -(normal * centre).sum(1) / (np.linalg.norm(normal, axis=1) * np.linalg.norm(centre, axis=1))
            rows, cols = pixel_of(project_points(centre, fxy, cxy), (H, W))
            ok = (visible_points(centre, hits.depth, fxy, cxy, VISIBLE_RTOL, VISIBLE_ATOL) & (cos >= min_facing)
                  & (hits.mesh_id[rows, cols] == b))
            if ok.any():
                mask[k] = True
                rgb[k] = frame[rows[ok], cols[ok]].mean(0) / 255.0
        maps.append(TexelMap(rgb=rgb, mask=mask))
    return maps


# ------------------------------------------------------------------------------- track and cost

def blend(track: TexelMap | None, det: TexelMap, conf: float, alpha: float = 0.1) -> TexelMap:
    """Update a track's map with a matched detection (4DHumans rule; a new track takes ``det``).

    With ``a = alpha * conf**2``: texels seen by both -> ``(1 - a) * old + a * new``; only by the
    track -> old; only by the detection -> new; mask = union. Returns a new map.
    """
    if track is None:
        return TexelMap(rgb=det.rgb.copy(), mask=det.mask.copy())
    if track.rgb.shape != det.rgb.shape or track.mask.shape != det.mask.shape:
        raise ValueError(f"track map {track.rgb.shape} and detection map {det.rgb.shape} differ; "
                         f"were they sampled with the same atlas?")
    a = float(alpha) * float(conf) ** 2
    both = (track.mask & det.mask)[:, None]
    only_new = (det.mask & ~track.mask)[:, None]
    rgb = np.where(both, (1.0 - a) * track.rgb + a * det.rgb, np.where(only_new, det.rgb, track.rgb))
    return TexelMap(rgb=rgb.astype(np.float32), mask=track.mask | det.mask)


def appearance_cost(tracks: list[TexelMap], dets: list[TexelMap]) -> np.ndarray:
    """(T, D) appearance distance, via :func:`~workbench.tracking.cost.appearance_distance_texels`
    (100 x mean squared colour difference on commonly visible texels; NaN where none in common)."""
    if not tracks or not dets:
        return np.zeros((len(tracks), len(dets)))
    return appearance_distance_texels(
        np.stack([t.rgb for t in tracks]), np.stack([t.mask for t in tracks]),
        np.stack([d.rgb for d in dets]), np.stack([d.mask for d in dets]),
    )


def _orient_tile(tile: np.ndarray, axis: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Turn a (t, t, 3) tile so that it reads like the body seen from the front: image right =
    the body's left (+x), image down = -y. Tiles of horizontal parts (arms) are transposed."""
    right, down = np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])
    if abs(axis @ right) > abs(axis @ down):  # rows run along an arm: make them columns
        tile, axis, side = tile.transpose(1, 0, 2), side, axis
    if axis @ down < 0:
        tile = tile[::-1]
    if side @ right < 0:
        tile = tile[:, ::-1]
    return tile


def texel_image(m: TexelMap, atlas: TexelAtlas, scale: int = 1) -> np.ndarray:
    """The map as a paper-doll image (:data:`LAYOUT`): (9 tile, 11 tile, 3) x scale, uint8.

    Masked texels are grey, grid cells without a part white.
    """
    t = atlas.tile
    img = np.full((LAYOUT_SHAPE[0] * t, LAYOUT_SHAPE[1] * t, 3), WHITE, np.uint8)
    colours = np.where(m.mask[:, None], np.round(np.clip(m.rgb, 0, 1) * 255), GREY).astype(np.uint8)
    tiles = colours.reshape(NUM_PARTS, t, t, 3)
    for part, (r, c) in enumerate(LAYOUT):
        img[r * t:(r + 1) * t, c * t:(c + 1) * t] = _orient_tile(tiles[part], atlas.part_axis[part],
                                                                 atlas.part_side[part])
    return np.kron(img, np.ones((scale, scale, 1), np.uint8)) if scale > 1 else img
