"""Plotly trace builders: meshes (uniform or per-vertex colours), skeletons, keypoint groups,
coordinate-frame arrows, camera frustums and ground planes. Inputs numpy or torch, metres."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from workbench.arrays import to_numpy as as_array

from workbench.body.keypoints import HMR_JOINT_NAMES, HMR_SKELETON, SMPL_JOINT_NAMES, SMPL_PARENTS

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


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    """'#rrggbb' -> RGB floats in [0, 1], so a 2D render uses a 3D view's colour."""
    return tuple(int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


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
