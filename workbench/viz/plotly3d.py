"""Plotly 3D figures of people, skeletons and the camera: pure functions, numpy or torch in, figures out.

Frames (metres): the *camera frame* of HMR 2.0 (camera at the origin, x right, y down, z forward)
for scenes, and SMPL's *body frame* (y up, facing +z) for a single body. Scenes are shown with the
plotly camera's up vector set to -y, so image-up is screen-up, and with equal aspect on all axes.

Sizes: vertices are sent as float32 and faces as int32, which plotly >= 6 writes as base64 typed
arrays; a 13.7k-vertex body adds ~0.7 MB to a figure's JSON (the embedded plotly.js is ~4.8 MB).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from workbench.io import atomic_write_bytes

from workbench.viz.traces import (  # noqa: F401  (re-exported for callers of plotly3d)
    AXIS_COLORS, FOVY, GROUP_COLORS, MESH_LIGHTING, PALETTE, VIEWS, as_array, as_faces, as_points, axes_traces,
    bone_polyline, bones_from_parents, camera_frustum_traces, default_bones, frustum_corners, ground_plane_trace,
    keypoint_group_traces, mesh_trace, skeleton_traces, vertex_rgb_strings,
)


@dataclass
class ScenePerson:
    """One person in a scene. vertices (V, 3) and keypoints (K, 3) in metres, faces (F, 3) int."""

    vertices: Any
    faces: Any
    keypoints: Any = None
    color: str | None = None
    name: str | None = None


@dataclass
class SceneCamera:
    """A pinhole camera at the origin: focal in px (scalar or (fx, fy)), image (W, H) in px,
    principal point (cx, cy) in px (None: image centre), frustum depth in m (None: to the people)."""

    focal: Any
    image_wh: tuple[int, int]
    principal_point: Any = None
    depth: float | None = None


# ----------------------------------------------------------------------------- input checks
def fixed_scene_layout(lo: np.ndarray, hi: np.ndarray, target: np.ndarray, view_dir: np.ndarray,
                       up: Sequence[float], eye_distance: float) -> dict:
    """``layout.scene`` with fixed ranges [lo, hi] (m), equal aspect, and the eye at
    ``target + eye_distance * view_dir`` (m), looking at ``target``.

    Why 'manual' and not ``aspectmode='data'``: with 'data' plotly scales each axis by the extent of
    the *traces*, not of the axis ranges, so fixed ranges (needed to place the eye in metres, and to
    keep the view still while an explorer updates the mesh) would distort the aspect. With ranges of
    extents e_i and aspectratio e_i / max(e), plotly's normalised coordinates are exactly
    ``(p - centre) / max(e)``, equal on all axes.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    extent = np.maximum(hi - lo, 1e-3)
    mid, scale = (lo + hi) / 2, extent.max()
    view_dir = np.asarray(view_dir, np.float64) / np.linalg.norm(view_dir)

    def xyz(values) -> dict:
        return dict(zip("xyz", map(float, values)))

    eye, center = (target + eye_distance * view_dir - mid) / scale, (target - mid) / scale
    axes = {f"{t}axis": dict(range=[float(lo[n]), float(hi[n])], title=f"{t} (m)") for n, t in enumerate("xyz")}
    return dict(**axes, aspectmode="manual", aspectratio=xyz(extent / scale),
                camera=dict(eye=xyz(eye), center=xyz(center), up=xyz(up), projection=dict(type="perspective")))


def framing_distance(points: np.ndarray, center: np.ndarray, view_dir: Any, up: Any,
                     viewport_aspect: float = 1.2, margin: float = 1.1) -> float:
    """Distance (m) from ``center`` along ``view_dir`` at which plotly's camera (45° vertical field of
    view, a viewport ``viewport_aspect`` times wider than tall) sees all ``points`` (N, 3).

    A point ``along`` m towards the eye and ``off`` m off-axis fits if ``d >= along + off / tan(fov/2)``.
    """
    d = np.asarray(view_dir, np.float64) / np.linalg.norm(view_dir)
    right = np.cross(-d, np.asarray(up, np.float64))
    right /= np.linalg.norm(right)
    vertical = np.cross(right, -d)
    rel = np.asarray(points, np.float64) - center
    tan_v = np.tan(FOVY / 2)
    off = np.maximum(np.abs(rel @ vertical) / tan_v, np.abs(rel @ right) / (tan_v * viewport_aspect))
    need = rel @ d + margin * off
    return float(need.max())


def _bounds(points: np.ndarray, pad: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = points.min(0), points.max(0)
    margin = pad * max(float((hi - lo).max()), 0.5)
    return lo - margin, hi + margin


def _as_person(p: Any, index: int) -> ScenePerson:
    if isinstance(p, ScenePerson):
        return p
    if isinstance(p, dict):
        unknown = set(p) - {"vertices", "faces", "keypoints", "color", "name"}
        if unknown or not {"vertices", "faces"} <= set(p):
            raise ValueError(f"person {index}: needs keys 'vertices', 'faces' (optional 'keypoints', 'color', "
                             f"'name'); got {sorted(p)}.")
        return ScenePerson(**p)
    raise ValueError(f"person {index}: expected a dict or ScenePerson, got {type(p).__name__}.")


# ----------------------------------------------------------------------------- figures
def scene_figure(people: Sequence[Any], camera: SceneCamera | dict | None = None,
                 ground_plane: float | str | None = None, view: str = "camera",
                 opacity: float = 1.0, height: int = 600) -> go.Figure:
    """People (and the camera) in the camera frame (m; x right, y down, z forward), image-up on top.

    Args:
        people: dicts or :class:`ScenePerson` with ``vertices`` (V, 3) in the camera frame, ``faces``
            (F, 3), optional ``keypoints`` (44, 3) or (24, 3), ``color``, ``name``.
        camera: :class:`SceneCamera` or a dict of its fields; draws the frustum (default depth: the
            farthest vertex, so the people stand inside it).
        ground_plane: None, a height ``y`` in m (positive is below the camera), or ``"auto"`` (under the
            lowest vertex). Assumes a level camera, as the HMR 2.0 demo's side view does.
        view: ``"camera"`` (from the camera towards the people, framed on them), ``"side"`` (from +x,
            depth to the right) or ``"top"`` (from above, depth upwards).
    Returns:
        ``go.Figure`` with, per person, a Mesh3d (+ skeleton traces), then the frustum and ground.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}; got {view!r}.")
    persons = [_as_person(p, i) for i, p in enumerate(people)]
    fig = go.Figure()
    verts = []
    for i, p in enumerate(persons):
        v = as_points(p.vertices, f"person {i} vertices")
        color, name = p.color or PALETTE[i % len(PALETTE)], p.name or f"person {i}"
        fig.add_trace(mesh_trace(v, p.faces, color, opacity, name))
        if p.keypoints is not None:
            fig.add_traces(skeleton_traces(p.keypoints, color="#333333", name=f"{name} skeleton"))
        verts.append(v)
    people_pts = np.concatenate(verts) if verts else np.zeros((1, 3), np.float32) + [0, 0, 1]
    scene_pts = [people_pts, np.zeros((1, 3))]
    if camera is not None:
        cam = camera if isinstance(camera, SceneCamera) else SceneCamera(**camera)
        depth = cam.depth or max(float(people_pts[:, 2].max()), 0.1)
        fig.add_traces(camera_frustum_traces(cam.focal, cam.image_wh, depth, cam.principal_point))
        scene_pts.append(frustum_corners(cam.focal, cam.image_wh, depth, cam.principal_point))
    if ground_plane is not None:
        if isinstance(ground_plane, str) and ground_plane != "auto":
            raise ValueError(f"ground_plane must be None, a height y in metres, or 'auto'; got {ground_plane!r}.")
        floor_y = float(people_pts[:, 1].max()) if ground_plane == "auto" else float(ground_plane)
        xz = np.concatenate(scene_pts)[:, [0, 2]]
        xz_min, xz_max = xz.min(0) - 0.5, xz.max(0) + 0.5
        fig.add_trace(ground_plane_trace(floor_y, xz_min, xz_max))
        scene_pts.append(np.array([[xz_min[0], floor_y, xz_min[1]], [xz_max[0], floor_y, xz_max[1]]]))
    all_pts = np.concatenate(scene_pts).astype(np.float64)
    if view == "camera":
        target, up = (people_pts.min(0) + people_pts.max(0)) / 2.0, (0, -1, 0)
        to_camera = -target / max(np.linalg.norm(target), 1e-6)
        # Framed on the people, but never behind the camera (plotly's 45° view is much wider
        # than a photo's, so from the camera centre itself the people would look tiny).
        dist = min(framing_distance(people_pts, target, to_camera, up), float(np.linalg.norm(target)))
        view_dir = to_camera
    else:
        # Framed on the people and the camera centre: what a side/top view is for is their relative
        # placement; the frustum's far corners and the floor may run off the edges.
        key_pts = np.concatenate([people_pts, np.zeros((1, 3), np.float32)])
        target = (key_pts.min(0) + key_pts.max(0)) / 2.0
        view_dir, up = ((1, 0, 0), (0, -1, 0)) if view == "side" else ((0, -1, 0), (0, 0, 1))
        dist = framing_distance(key_pts, target, view_dir, up)
    lo, hi = _bounds(all_pts)
    fig.update_layout(scene=fixed_scene_layout(lo, hi, target, view_dir, up, dist), height=height,
                      margin=dict(l=0, r=0, t=30, b=0), legend=dict(itemsizing="constant"),
                      uirevision="scene")
    return fig


def body_figure(output: Any, faces: Any, index: int = 0, color: str = PALETTE[0], opacity: float = 0.6,
                skeleton: str | None = "smpl", frame: str = "body", half_extent: float | None = None,
                height: int = 500) -> go.Figure:
    """One posed body from a :class:`~workbench.body.model.BodyOutput`, mesh and skeleton.

    Args:
        output: ``BodyOutput`` with vertices (B, V, 3), joints (B, 24, 3), keypoints (B, 44, 3), metres.
        faces: (F, 3) int, e.g. ``model.faces``.
        index: which item of the batch.
        opacity: mesh opacity; below 1 so the skeleton shows through.
        skeleton: ``"smpl"`` (24 joints), ``"hmr"`` (44 keypoints) or None.
        frame: ``"body"`` (y up, seen from the front, +z) or ``"camera"`` (y down: a body posed with
            ``global_orient`` ≈ [pi, 0, 0], seen from the camera side, -z).
        half_extent: None fits the axes to the body; a value in m fixes a cube of that half-size around
            the pelvis, so the view stays still while the body changes (the explorer uses 1.3).
    Returns:
        ``go.Figure``: [Mesh3d] + [bones, joints] if ``skeleton``.
    """
    if frame not in ("body", "camera"):
        raise ValueError(f"frame must be 'body' (y up) or 'camera' (y down); got {frame!r}.")
    if not 0 <= index < output.vertices.shape[0]:
        raise ValueError(f"index {index} is out of range for a batch of {output.vertices.shape[0]}.")
    v = as_points(output.vertices[index], "vertices")
    fig = go.Figure(mesh_trace(v, faces, color, opacity, "body"))
    if skeleton is not None:
        if skeleton not in ("smpl", "hmr"):
            raise ValueError(f"skeleton must be 'smpl', 'hmr' or None; got {skeleton!r}.")
        kp = output.joints[index] if skeleton == "smpl" else output.keypoints[index]
        fig.add_traces(skeleton_traces(kp, name=f"{skeleton} skeleton"))
    if half_extent is None:
        lo, hi = _bounds(v)
    else:
        pelvis = as_points(output.joints[index], "joints")[0]
        lo, hi = pelvis - half_extent, pelvis + half_extent
    target = (v.min(0) + v.max(0)) / 2.0
    view_dir, up = ((0.3, 0.15, 1.0), (0, 1, 0)) if frame == "body" else ((0, 0, -1.0), (0, -1, 0))
    dist = framing_distance(v, target, view_dir, up)
    fig.update_layout(scene=fixed_scene_layout(lo, hi, target, view_dir, up, dist), height=height,
                      margin=dict(l=0, r=0, t=10, b=0), showlegend=False, uirevision="body")
    return fig


def save_html(fig: go.Figure, path: str | Path, title: str | None = None) -> Path:
    """Write ``fig`` as one standalone HTML file (plotly.js embedded: works offline), atomically.

    Returns the path. The folder must exist. Expect ~5 MB, of which ~4.8 MB is plotly.js.
    """
    path = Path(path)
    html = fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    if title:
        html = html.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
    atomic_write_bytes(path, html.encode("utf-8"))
    return path


def coordinate_frames_figure(intrinsics, image_wh: tuple[int, int], body_vertices: Any, faces: Any,
                             body_origin: Any, body_rotation: Any, floor_origin: Any, floor_rotation: Any,
                             height: int = 560) -> go.Figure:
    """The workbench's coordinate frames in one picture, drawn in the camera frame (metres).

    * camera: at the origin, x right, y down, z forward (OpenCV / HMR 2.0), with its frustum for
      ``intrinsics`` (an :class:`~workbench.geometry.intrinsics.Intrinsics`) and image (W, H) px;
    * body: SMPL's frame (y up, z out of the chest), at ``body_origin`` (3,) turned by ``body_rotation``
      (3, 3) = the global orientation, with the body's ``body_vertices`` (V, 3) in the camera frame;
    * floor: origin under the camera, axes given by the columns of ``floor_rotation`` (x, forward, up),
      as :class:`~workbench.tracking.ground.GroundPlane` reports floor coordinates.
    """
    v = as_points(body_vertices, "body_vertices")
    depth = float(np.linalg.norm(np.asarray(body_origin, np.float64))) * 1.1
    fig = go.Figure(mesh_trace(v, faces, PALETTE[0], 0.45, "body"))
    fig.add_traces(camera_frustum_traces((intrinsics.fx, intrinsics.fy), image_wh, depth,
                                         (intrinsics.cx, intrinsics.cy)))
    fig.add_traces(axes_traces(length=0.8, names=("x (right)", "y (down)", "z (forward)"), name="camera"))
    fig.add_traces(axes_traces(body_origin, body_rotation, length=0.5, names=("x", "y (up)", "z (front)"),
                               name="body (SMPL)"))
    fig.add_traces(axes_traces(floor_origin, floor_rotation, length=1.0,
                               names=("floor x", "floor forward", "up"), name="floor"))
    o, R = np.asarray(floor_origin, np.float64), np.asarray(floor_rotation, np.float64)
    corners = np.array([o + a * R[:, 0] + b * R[:, 1] for a, b in ((-2, 0), (2, 0), (2, depth), (-2, depth))])
    fig.add_trace(go.Mesh3d(x=corners[:, 0], y=corners[:, 1], z=corners[:, 2], i=[0, 0], j=[1, 2], k=[2, 3],
                            color="#bbbbbb", opacity=0.35, name="floor", hoverinfo="skip", flatshading=True))
    pts = np.concatenate([v, corners, np.zeros((1, 3)), frustum_corners((intrinsics.fx, intrinsics.fy), image_wh,
                                                                         depth, (intrinsics.cx, intrinsics.cy))])
    lo, hi = _bounds(pts)
    view_dir, up = np.array([1.0, -0.6, -0.5]), (0, -1, 0)
    target = (lo + hi) / 2
    fig.update_layout(scene=fixed_scene_layout(lo, hi, target, view_dir, up, framing_distance(pts, target, view_dir, up)),
                      height=height, margin=dict(l=0, r=0, t=30, b=0), title="coordinate frames (metres)")
    return fig
