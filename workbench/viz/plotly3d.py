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

from workbench.body.keypoints import HMR_JOINT_NAMES, HMR_SKELETON, SMPL_JOINT_NAMES, SMPL_PARENTS
from workbench.io import atomic_write_bytes

PALETTE = ("#a9c4e8", "#eab39a", "#b5dcb0", "#d6b8ea", "#f0d68a", "#9ed8d4")
"""Light, distinct colours for people; light so that the shading stays readable."""

MESH_LIGHTING = dict(ambient=0.4, diffuse=0.75, specular=0.15, roughness=0.6, fresnel=0.15)
# plotly.js places ``lightposition`` in view coordinates (it is mapped through the inverse
# projection-view-model matrix), so the default upper-right light suits any frame: we keep it and only
# lower the ambient term (plotly's 0.8 washes the body out).

GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
AXIS_COLORS = ("#d62728", "#2ca02c", "#1f77b4")  # x, y, z: red, green, blue

FOVY = np.pi / 4  # vertical field of view of plotly.js' perspective camera (gl-plot3d's default)
VIEWS = ("camera", "side", "top")


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
def as_array(x: Any) -> np.ndarray:
    """numpy array from numpy, a list or torch (detached, moved to the CPU); dtype kept."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def as_points(x: Any, name: str = "points", count: int | None = None) -> np.ndarray:
    """(N, 3) float32 numpy array from numpy or torch (detached, moved to the CPU); checked."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2 or a.shape[1] != 3 or (count is not None and a.shape[0] != count):
        want = f"({count}, 3)" if count is not None else "(N, 3)"
        raise ValueError(f"{name} must have shape {want} in metres; got {a.shape}. "
                         "For a batch pass one item, e.g. x[0].")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf; drop this item or fix the parameters that produced it.")
    return a


def as_faces(faces: Any, num_vertices: int) -> np.ndarray:
    """(F, 3) int32 triangle indices, range-checked (int32 so plotly sends a typed array, not a list)."""
    if hasattr(faces, "detach"):
        faces = faces.detach().cpu().numpy()
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be an integer (F, 3) array; got shape {f.shape}, dtype {f.dtype}.")
    if f.size and (f.min() < 0 or f.max() >= num_vertices):
        raise ValueError(f"faces index vertices {f.min()}..{f.max()} but the mesh has {num_vertices}; "
                         "use the faces of the same body model.")
    return f.astype(np.int32)


def default_bones(num_keypoints: int) -> tuple[tuple[int, int], ...]:
    """Bones for the 44 HMR keypoints or the 24 SMPL joints (from their parents)."""
    if num_keypoints == len(HMR_JOINT_NAMES):
        return HMR_SKELETON
    if num_keypoints == len(SMPL_JOINT_NAMES):
        return bones_from_parents(SMPL_PARENTS)
    raise ValueError(f"no default skeleton for {num_keypoints} keypoints (known: 44 HMR, 24 SMPL); "
                     "pass bones or parents.")


def bones_from_parents(parents: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """(parent, child) pairs from a parent list in which roots have parent -1."""
    return tuple((int(p), c) for c, p in enumerate(parents) if p >= 0)


def bone_polyline(keypoints: np.ndarray, bones: Sequence[tuple[int, int]]) -> np.ndarray:
    """(3, 3 * num_bones) float32 x/y/z rows: each bone's two ends then NaN, which plotly draws as a gap.

    One trace for all bones keeps the figure light (one trace per bone would be ~20x more JSON).
    """
    b = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
    seg = np.full((len(b), 3, 3), np.nan, np.float32)
    seg[:, 0], seg[:, 1] = keypoints[b[:, 0]], keypoints[b[:, 1]]
    return np.ascontiguousarray(seg.reshape(-1, 3).T)


# ----------------------------------------------------------------------------- traces
def mesh_trace(vertices: Any, faces: Any, color: str = PALETTE[0], opacity: float = 1.0,
               name: str = "body", vertex_colors: Any = None, intensity: Any = None,
               colorscale: str = "Viridis", colorbar_title: str | None = None) -> go.Mesh3d:
    """A smooth-shaded triangle mesh. vertices (V, 3) in metres; faces (F, 3) int.

    Colour: one ``color`` for the whole mesh, or per vertex either ``vertex_colors`` (V, 3) RGB
    (floats in [0, 1] or ints in 0..255) or ``intensity`` (V,) scalars mapped through ``colorscale``
    (with a colour bar titled ``colorbar_title``). Not both.
    """
    v = as_points(vertices, "vertices")
    f = as_faces(faces, len(v))
    if vertex_colors is not None and intensity is not None:
        raise ValueError("give vertex_colors (V, 3) or intensity (V,), not both.")
    paint: dict = dict(color=color)
    if vertex_colors is not None:
        paint = dict(vertexcolor=vertex_rgb_strings(vertex_colors, len(v)))
    elif intensity is not None:
        values = as_array(intensity).astype(np.float32)
        if values.shape != (len(v),):
            raise ValueError(f"intensity must have shape ({len(v)},), one value per vertex; got {values.shape}.")
        paint = dict(intensity=values, colorscale=colorscale, showscale=colorbar_title is not None,
                     colorbar=dict(title=colorbar_title) if colorbar_title else None)
    return go.Mesh3d(
        x=np.ascontiguousarray(v[:, 0]), y=np.ascontiguousarray(v[:, 1]), z=np.ascontiguousarray(v[:, 2]),
        i=np.ascontiguousarray(f[:, 0]), j=np.ascontiguousarray(f[:, 1]), k=np.ascontiguousarray(f[:, 2]),
        opacity=opacity, name=name, showlegend=True, flatshading=False,
        lighting=MESH_LIGHTING, hoverinfo="name", **paint,
    )


def vertex_rgb_strings(colors: Any, count: int) -> np.ndarray:
    """(V,) ``"rgb(r,g,b)"`` strings, the form plotly's ``vertexcolor`` takes, from (V, 3) RGB.

    Floats are read in [0, 1] unless some exceed 1.0, ints in 0..255; values are rounded and clipped.
    """
    c = as_array(colors)
    if c.shape != (count, 3):
        raise ValueError(f"vertex_colors must have shape ({count}, 3), one RGB per vertex; got {c.shape}.")
    scale = 255.0 if np.issubdtype(c.dtype, np.floating) and c.max(initial=0.0) <= 1.0 else 1.0
    c = c.astype(np.float64) * scale
    rgb = np.clip(np.round(c), 0, 255).astype(np.int64)
    return np.array([f"rgb({r},{g},{b})" for r, g, b in rgb])


def skeleton_traces(keypoints: Any, bones: Sequence[tuple[int, int]] | None = None,
                    parents: Sequence[int] | None = None, color: str = "#333333", name: str = "skeleton",
                    joint_names: Sequence[str] | None = None, marker_size: float = 3.0,
                    line_width: float = 5.0) -> list[go.Scatter3d]:
    """Bones as one line trace and joints as one marker trace (hover shows the joint name).

    Args:
        keypoints: (K, 3) metres. 44 (HMR set) and 24 (SMPL joints) have default bones and names.
        bones: (parent, child) index pairs; or ``parents`` (K,) with -1 for roots. Not both.
    Returns:
        ``[bones (Scatter3d lines), joints (Scatter3d markers)]``.
    """
    kp = as_points(keypoints, "keypoints")
    if bones is not None and parents is not None:
        raise ValueError("give bones or parents, not both.")
    bones = bones_from_parents(parents) if parents is not None else bones or default_bones(len(kp))
    if joint_names is None:
        joint_names = {44: HMR_JOINT_NAMES, 24: SMPL_JOINT_NAMES}.get(len(kp), [str(i) for i in range(len(kp))])
    x, y, z = bone_polyline(kp, bones)
    lines = go.Scatter3d(x=x, y=y, z=z, mode="lines", line=dict(color=color, width=line_width),
                         name=name, legendgroup=name, hoverinfo="skip")
    points = go.Scatter3d(x=kp[:, 0], y=kp[:, 1], z=kp[:, 2], mode="markers",
                          marker=dict(color=color, size=marker_size), name=f"{name} joints",
                          legendgroup=name, showlegend=False, text=list(joint_names), hoverinfo="text")
    return [lines, points]


def keypoint_group_traces(keypoints: Any, groups: dict[str, Any], names: Sequence[str] | None = None,
                          colors: Sequence[str] | None = None, marker_size: float = 5.0) -> list[go.Scatter3d]:
    """One marker trace per named group of keypoints, so the legend tells the groups apart.

    Args:
        keypoints: (K, 3) metres.
        groups: legend name -> indices into the K keypoints (list, numpy or torch).
        names: (K,) hover text per keypoint; None: the HMR (44) or SMPL (24) names, else the index.
        colors: one colour per group; None: plotly's default sequence (blue, orange, green, ...).
    Returns:
        ``[Scatter3d markers]``, one per group, in the order of ``groups``.
    """
    kp = as_points(keypoints, "keypoints")
    if names is None:
        names = {44: HMR_JOINT_NAMES, 24: SMPL_JOINT_NAMES}.get(len(kp), [str(i) for i in range(len(kp))])
    colors = colors or GROUP_COLORS
    traces = []
    for n, (group, index) in enumerate(groups.items()):
        idx = as_array(index).astype(np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= len(kp)):
            raise ValueError(f"group {group!r} indexes keypoints {idx.min()}..{idx.max()} but there are {len(kp)}.")
        p = kp[idx]
        traces.append(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", name=group,
                                   marker=dict(size=marker_size, color=colors[n % len(colors)]),
                                   text=[names[i] for i in idx], hoverinfo="text"))
    return traces


def axes_traces(origin: Any = (0.0, 0.0, 0.0), rotation: Any = None, length: float = 1.0,
                names: Sequence[str] = ("x", "y", "z"), name: str = "frame",
                colors: Sequence[str] = AXIS_COLORS, cones: bool = True) -> list:
    """Arrows of a coordinate frame: its axes are the columns of ``rotation``, drawn from ``origin``.

    Args:
        origin: (3,) metres, where the frame sits (e.g. a pelvis; the camera centre is 0).
        rotation: (3, 3) whose columns are the frame's x, y, z axes in the plotted frame; None: identity.
        length: arrow length (m). names: text written at each arrow's tip (and in the legend as
            ``"{name}: {names[i]}"``). colors: one per axis (red, green, blue: x, y, z).
        cones: add a cone at each tip (one Cone trace per axis, since a cone trace has one colour scale).
    Returns:
        three ``Scatter3d`` (lines + tip text), then, with ``cones``, three ``Cone`` traces.
    """
    o = as_points(np.reshape(as_array(origin), (1, 3)), "origin")[0].astype(np.float64)
    R = np.eye(3) if rotation is None else as_array(rotation).astype(np.float64)
    if R.shape != (3, 3) or not np.isfinite(R).all():
        raise ValueError(f"rotation must be a finite (3, 3) matrix (columns = axes) or None; got shape {R.shape}.")
    lines, tips = [], []
    for axis, label, color in zip(R.T, names, colors):
        end = o + length * axis
        lines.append(go.Scatter3d(x=[o[0], end[0]], y=[o[1], end[1]], z=[o[2], end[2]], mode="lines+text",
                                  text=["", label], textposition="top center", line=dict(color=color, width=8),
                                  textfont=dict(color=color), name=f"{name}: {label}", legendgroup=name,
                                  hoverinfo="name"))
        # sizemode "raw": the cone is exactly the (u, v, w) vector long, whatever the other traces.
        head = 0.15 * length * axis
        tips.append(go.Cone(x=[end[0]], y=[end[1]], z=[end[2]], u=[head[0]], v=[head[1]], w=[head[2]],
                            anchor="tip", sizemode="raw", sizeref=1.0, colorscale=[[0, color], [1, color]],
                            showscale=False, showlegend=False, legendgroup=name, hoverinfo="skip"))
    return lines + (tips if cones else [])


def frustum_corners(focal: Any, image_wh: tuple[int, int], depth: float,
                    principal_point: Any = None) -> np.ndarray:
    """(4, 3) camera-frame points (m) seen at the image corners (0,0), (W,0), (W,H), (0,H) at ``depth``."""
    f = np.asarray(focal.detach().cpu() if hasattr(focal, "detach") else focal, np.float64).ravel()
    fx, fy = (f[0], f[0]) if f.size == 1 else (f if f.size == 2 else (0.0, 0.0))
    W, H = image_wh
    cx, cy = (W / 2.0, H / 2.0) if principal_point is None else np.asarray(principal_point, np.float64).ravel()
    if not (fx > 0 and fy > 0 and W > 0 and H > 0 and depth > 0):
        raise ValueError(f"need focal > 0 px (scalar or (fx, fy)), image_wh (W, H) > 0 px and depth > 0 m; "
                         f"got focal={focal!r}, image_wh={image_wh!r}, depth={depth!r}.")
    uv = np.array([[0, 0], [W, 0], [W, H], [0, H]], np.float64)
    return np.stack([(uv[:, 0] - cx) * depth / fx, (uv[:, 1] - cy) * depth / fy, np.full(4, depth)], 1)


def camera_frustum_traces(focal: Any, image_wh: tuple[int, int], depth: float = 1.0,
                          principal_point: Any = None, color: str = "#555555",
                          name: str = "camera") -> list[go.Scatter3d]:
    """Wireframe pyramid of a pinhole camera at the origin (x right, y down, z forward).

    The apex is the camera centre; the rectangle is what the image (W, H) px covers at ``depth`` m,
    and a small triangle on its top edge marks image-up (-y), as COLMAP's viewer does.
    """
    c = frustum_corners(focal, image_wh, depth, principal_point)
    top_mid, width = (c[0] + c[1]) / 2, c[1, 0] - c[0, 0]
    tri = [top_mid - [0.15 * width, 0, 0], top_mid + [0.15 * width, 0, 0], top_mid - [0, 0.2 * width, 0]]
    gap = np.full(3, np.nan)
    path = [np.zeros(3), c[0], gap, np.zeros(3), c[1], gap, np.zeros(3), c[2], gap, np.zeros(3), c[3], gap,
            c[0], c[1], c[2], c[3], c[0], gap, tri[0], tri[1], tri[2], tri[0]]
    p = np.asarray(path, np.float32)
    return [go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="lines", line=dict(color=color, width=3),
                         name=name, hoverinfo="name")]


def ground_plane_trace(height: float, xz_min: Sequence[float], xz_max: Sequence[float],
                       color: str = "#bbbbbb", opacity: float = 0.35) -> go.Mesh3d:
    """Horizontal quad at camera-frame ``y = height`` (m, y down) over the x/z box [xz_min, xz_max]."""
    (x0, z0), (x1, z1) = xz_min, xz_max
    return go.Mesh3d(x=[x0, x1, x1, x0], y=[height] * 4, z=[z0, z0, z1, z1], i=[0, 0], j=[1, 2], k=[2, 3],
                     color=color, opacity=opacity, name="ground", hoverinfo="skip", flatshading=True)


# ----------------------------------------------------------------------------- layout
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
