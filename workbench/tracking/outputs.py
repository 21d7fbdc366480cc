"""What a tracking run leaves on disk: the PHALP pkl, a tidy table, an overlay video, a 4D viewer.

``write_outputs(result, frames, out_dir)`` writes, each file atomically, into a folder it refuses to
reuse without ``overwrite=True``:

* ``results/demo_<video>.pkl`` - the published per-frame dictionary (PHALP / 4DHumans ``track.py``):
  ``{frame_name: {time, shot, frame_path, tid, bbox, tracked_ids, tracked_bbox, tracked_time, appe, loca,
  pose, center, scale, size, img_path, img_name, class_name, conf, annotations, smpl, camera,
  camera_bbox, 3d_joints, 2d_joints, mask, extra_data}}``, per-person values in lists. A plain pickle
  (``joblib.load`` reads it too). ``appe`` is our texel map as an (M, 4) float32 array (RGB in [0, 1] and
  visibility), not HMAR's 4096-d code. Translations (``camera``, ``3d_joints``...) stay in the tracker's
  canvas camera (focal ``5000 max(H, W) / 256``) whatever intrinsics were given, as the published file;
* ``tracks.csv`` - one row per (frame, track), :meth:`TrackingResult.table` (translations in the
  reporting camera: the given intrinsics, else the canvas camera), plus ``floor_x, floor_z,
  pelvis_height`` when a ground plane was fitted (:func:`tracks_table`);
* ``PHALP_<video>.mp4`` - every frame with the tracked meshes coloured by track id (filled frames
  drawn fainter), ids and boxes;
* ``tracks_4d.html`` - the people in 3D over time with a time slider (standalone, works offline),
  on the fitted floor when there is one;
* ``summary.json`` - counts, timings, the reporting ``camera`` and the fitted ``ground`` (or null).
"""

from __future__ import annotations

import colorsys
import os
import pickle
from pathlib import Path

import numpy as np

from workbench.io import atomic_open, atomic_write_bytes, atomic_write_json
from workbench.tracking.engines import frame_camera
from workbench.tracking.pipeline import TrackedPerson, TrackingResult
from workbench.tracking.records import record_to_phalp_dict

__all__ = ["phalp_pkl", "track_color", "tracks_4d_figure", "tracks_table", "write_outputs", "write_overlay_video"]

PER_PERSON_KEYS = ("tid", "bbox", "tracked_ids", "tracked_bbox", "tracked_time", "appe", "loca", "pose", "center",
                   "scale", "size", "conf", "annotations", "smpl", "camera", "camera_bbox", "3d_joints", "2d_joints",
                   "mask", "extra_data", "class_name")


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour (0..255) per track id (golden-ratio hues)."""
    h = (0.13 + 0.618033988749895 * int(track_id)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.65, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def _appe_array(appearance) -> np.ndarray | None:
    if appearance is None:
        return None
    return np.concatenate([np.asarray(appearance.rgb, np.float32),
                           np.asarray(appearance.mask, np.float32)[:, None]], axis=1)


def phalp_pkl(result: TrackingResult) -> dict:
    """The published per-frame dictionary for every processed frame (empty lists where nobody is tracked).

    Only detected people (``observed``) are entries, as in the published file; filled frames are in the table.
    """
    out = {}
    for info in result.frames:
        frame_path = str(Path(result.source) / info.name) if Path(result.source).is_dir() else info.name
        entry = {"time": info.index, "shot": 0, "frame_path": frame_path, "img_path": frame_path,
                 "img_name": info.name, **{k: [] for k in PER_PERSON_KEYS}}
        for p in result.people.get(info.index, []):
            if not p.observed:
                continue
            d = record_to_phalp_dict(p.record, tid=p.track_id, time=info.index, img_path=frame_path,
                                     img_name=info.name)
            d["appe"] = _appe_array(p.record.appearance)
            d["tracked_ids"], d["tracked_bbox"], d["tracked_time"] = p.track_id, d["bbox"], 0
            for k in PER_PERSON_KEYS:
                entry[k].append(d[k])
        out[info.name] = entry
    return out


def _posed_people(people: list[TrackedPerson], body, transl: np.ndarray | None = None) -> np.ndarray:
    """(N, V, 3) vertices of tracked people, metres: placed at ``transl`` (N, 3) (default: the tracker camera's)."""
    import torch

    go = torch.as_tensor(np.stack([np.asarray(p.record.smpl["global_orient"]).reshape(1, 3, 3) for p in people]),
                         dtype=torch.float32)
    bp = torch.as_tensor(np.stack([np.asarray(p.record.smpl["body_pose"]).reshape(23, 3, 3) for p in people]),
                         dtype=torch.float32)
    be = torch.as_tensor(np.stack([np.asarray(p.record.smpl["betas"]).reshape(-1) for p in people]),
                         dtype=torch.float32)
    with torch.no_grad():
        v = body(global_orient=go, body_pose=bp, betas=be).vertices.numpy()
    t = np.stack([p.record.camera for p in people]) if transl is None else np.asarray(transl)
    return v + t.astype(np.float32)[:, None]


def overlay_frame(frame: np.ndarray, people: list[TrackedPerson], body, alpha: float = 0.8) -> np.ndarray:
    """One frame with its tracked people drawn: meshes by track id (filled ones at half opacity), boxes, ids."""
    from workbench.render import overlay
    from workbench.viz import draw_boxes

    out = frame
    focal, pp = frame_camera(frame.shape[:2])
    for observed, a in ((False, alpha * 0.5), (True, alpha)):
        group = [p for p in people if p.observed == observed]
        if group:
            out = overlay(out, list(_posed_people(group, body)), body.faces, focal, tuple(pp),
                          color=np.array([track_color(p.track_id) for p in group]) / 255.0, alpha=a)
    if people:
        out = draw_boxes(out, np.stack([p.record.bbox for p in people]),
                         colors=[track_color(p.track_id) for p in people], thickness=2,
                         labels=[f"{p.track_id}" + ("" if p.observed else " (filled)") for p in people])
    return out


def write_overlay_video(result: TrackingResult, frames, path: str | os.PathLike, body, fps: float | None = None,
                        progress: bool = False) -> Path:
    """Render every frame of ``frames`` (``(index, name, rgb)``, the source again) with its tracked people.

    Frames whose size differs from the first are letterboxed into the first frame's size.
    """
    import cv2
    from tqdm.auto import tqdm

    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist; create it first.")
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")  # OpenCV writes by name: replace when complete
    writer, size = None, None
    try:
        for index, _, frame in tqdm(frames, desc="render", disable=not progress, unit="frame"):
            img = overlay_frame(frame, result.people.get(index, []), body)
            if size is None:
                size = img.shape[1], img.shape[0]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps or result.fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write an mp4 video to {tmp}.")
            if (img.shape[1], img.shape[0]) != size:
                img = _letterbox(img, size)
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if writer is None:
            raise ValueError("no frames to render; the source yielded none.")
        writer.release()
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    return path


def _letterbox(img: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    import cv2

    W, H = size_wh
    s = min(W / img.shape[1], H / img.shape[0])
    small = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    out = np.zeros((H, W, 3), np.uint8)
    y, x = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def _floor_grid(lo: np.ndarray, hi: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """(M, 3) polyline (NaN-separated) of floor lines every ``spacing`` m over [lo, hi] (x, z), height 0."""
    xs = np.arange(np.floor(lo[0]), np.ceil(hi[0]) + 1e-9, spacing)
    zs = np.arange(np.floor(lo[1]), np.ceil(hi[1]) + 1e-9, spacing)
    gap = np.full(3, np.nan)
    lines = [q for x in xs for q in ([x, zs[0], 0.0], [x, zs[-1], 0.0], gap)]
    lines += [q for z in zs for q in ([xs[0], z, 0.0], [xs[-1], z, 0.0], gap)]
    return np.array(lines, np.float64)


def tracks_4d_figure(result: TrackingResult, body, points_per_person: int = 350, height: int = 650,
                     field_of_view_deg: float | None = 55.0, plane=None):
    """The tracked people in 3D over time: skeletons and surface points coloured by track id, each
    track's path on the ground so far, and a time slider / play button (plotly animation frames).

    Where people are placed:

    * ``result.intrinsics`` given (or a ``plane``): in the reporting camera, as in ``tracks.csv``;
    * neither: HMR 2.0 assumes a very long lens (focal ``5000 max(H, W) / 256``, a 2.9 degree view),
      which puts people ~200 m away and spreads them over tens of metres in depth, so
      ``field_of_view_deg`` re-reads the scene for a normal lens: every depth is scaled by
      ``f_normal / f_hmr``, which keeps where each body's origin projects and its size in metres.
      None keeps the tracker's camera.

    Axes: with a ``plane`` (:class:`~workbench.tracking.ground.GroundPlane`, fitted in the reporting
    camera) the floor frame (x right, z forward, up; metres), the floor drawn as a 1 m grid, the paths
    on it and the camera marked; else camera x, depth z and up = -y (metres).
    """
    import plotly.graph_objects as go

    from workbench.body.keypoints import HMR_SKELETON
    from workbench.tracking.motion import display_intrinsics, reported_translations, reporting_intrinsics

    if plane is not None and plane.intrinsics is not None and result.frames \
            and plane.intrinsics != reporting_intrinsics(result):
        raise ValueError(f"the plane was fitted in camera {plane.intrinsics}, the result reports in "
                         f"{reporting_intrinsics(result)}; fit it on this result (fit_ground_plane(result)).")
    rng = np.random.default_rng(0)
    num_v = body.layer.v_template.shape[0]
    reread = result.intrinsics is None and plane is None and field_of_view_deg is not None
    camera = display_intrinsics(result, field_of_view_deg if reread else None) if result.frames else None

    def view(p: np.ndarray) -> np.ndarray:
        """(..., 3) camera points -> (..., 3) plotted (x, depth, up)."""
        if plane is None:
            return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)
        xz, h = plane.to_floor(p)
        return np.concatenate([xz, h[..., None]], -1)

    sample = np.sort(rng.choice(num_v, size=min(points_per_person, num_v), replace=False))
    frames_idx = [f.index for f in result.frames]
    tracked = [p for f in frames_idx for p in result.people.get(f, [])]
    placed = dict(zip(((p.frame, p.track_id) for p in tracked),
                      reported_translations(result, tracked, camera) if tracked else []))
    per_frame, paths, all_pts = {}, {}, []
    for f in frames_idx:
        people = result.people.get(f, [])
        if not people:
            per_frame[f] = None
            continue
        t = np.stack([placed[p.frame, p.track_id] for p in people])
        verts = view(_posed_people(people, body, t)[:, sample].astype(np.float64))
        joints = view(np.stack([p.record.joints_3d[:44] for p in people]) + t[:, None])
        per_frame[f] = (people, verts, joints)
        all_pts.append(verts.reshape(-1, 3))
        for p, j in zip(people, joints):
            paths.setdefault(p.track_id, []).append((f, j[8] if len(j) > 8 else j.mean(0)))  # 8: mid-hip
    pts = np.concatenate(all_pts) if all_pts else np.array([[-1.0, 2.0, -1.0], [1.0, 6.0, 1.0]])
    floor = 0.0 if plane is not None else (float(np.percentile(pts[:, 2], 0.5)) if all_pts else -1.0)
    slots = max((len(d[0]) for d in per_frame.values() if d is not None), default=0)

    def traces(f):
        """One points trace and one skeleton trace per person slot (same count in every frame), paths, ids."""
        data = per_frame.get(f)
        people, verts, joints = data if data is not None else ([], np.zeros((0, 1, 3)), np.zeros((0, 44, 3)))
        out = []
        for k in range(slots):
            if k < len(people):
                c = f"rgb{track_color(people[k].track_id)}"
                v = verts[k].astype(np.float32).T
                bones = np.array([q for a, b in HMR_SKELETON for q in (joints[k][a], joints[k][b], np.full(3, np.nan))])
                b_ = bones.astype(np.float32).T
            else:
                c, v, b_ = "grey", ([], [], []), ([], [], [])
            out += [go.Scatter3d(x=v[0], y=v[1], z=v[2], mode="markers", marker=dict(size=2, color=c), hoverinfo="skip"),
                    go.Scatter3d(x=b_[0], y=b_[1], z=b_[2], mode="lines", line=dict(color=c, width=5), hoverinfo="skip")]
        trail, tc = [], []
        for p in people:
            hist = [q for t, q in paths[p.track_id] if t <= f]
            trail += [np.array([q[0], q[1], floor]) for q in hist] + [np.full(3, np.nan)]
            tc += [f"rgb{track_color(p.track_id)}"] * (len(hist) + 1)
        tr = np.array(trail, np.float32).reshape(-1, 3).T
        heads = np.array([[j[0, 0], j[0, 1], j[:, 2].max() + 0.15] for j in joints], np.float32).reshape(-1, 3).T
        out += [go.Scatter3d(x=tr[0], y=tr[1], z=tr[2], mode="lines", line=dict(color=tc or "grey", width=3),
                             hoverinfo="skip"),
                go.Scatter3d(x=heads[0], y=heads[1], z=heads[2], mode="text", hoverinfo="skip",
                             text=[f"id {p.track_id}" + ("" if p.observed else " (filled)") for p in people])]
        return out

    static = []  # after the animated traces, so animation frames (which replace traces by index) keep them
    if plane is not None:
        cam = np.array([0.0, 0.0, plane.camera_height])
        pts = np.concatenate([pts, cam[None]])
        grid = _floor_grid(pts[:, :2].min(0), pts[:, :2].max(0)).T
        static = [go.Scatter3d(x=grid[0], y=grid[1], z=grid[2], mode="lines", name="floor",
                               line=dict(color="rgb(150,150,150)", width=1), hoverinfo="skip"),
                  go.Scatter3d(x=[0.0, 0.0], y=[0.0, 0.0], z=[0.0, cam[2]], mode="lines+markers+text", name="camera",
                               text=["", f"camera {cam[2]:.2f} m"], line=dict(color="black", width=2),
                               marker=dict(size=3, color="black"), hoverinfo="skip")]
    lo, hi = pts.min(0) - 0.3, pts.max(0) + 0.3
    first = frames_idx[0] if frames_idx else 0
    fig = go.Figure(data=traces(first) + static, frames=[go.Frame(data=traces(f), name=str(f)) for f in frames_idx])
    steps = [dict(method="animate", label=str(f), args=[[str(f)], dict(mode="immediate", frame=dict(duration=0,
                                                                           redraw=True), transition=dict(duration=0))])
             for f in frames_idx]
    play = dict(type="buttons", showactive=False, x=0.02, y=0.02, xanchor="left", yanchor="bottom", buttons=[
        dict(label="play", method="animate", args=[None, dict(frame=dict(duration=1000 / result.fps, redraw=True),
                                                              fromcurrent=True, transition=dict(duration=0))]),
        dict(label="pause", method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0))]),
    ])
    if plane is not None:
        note, axes = " (on the fitted floor)", ("floor x (m)", "floor z, forward (m)", "height (m)")
    else:
        note = " (depths read for a {:g} deg lens)".format(field_of_view_deg) if reread else ""
        axes = ("x (m)", "depth (m)", "up (m)")
    fig.update_layout(
        height=height, showlegend=False, margin=dict(l=0, r=0, t=40, b=0),
        title=f"{Path(result.source).name}: {len(result.track_ids)} tracks over {len(frames_idx)} frames{note}",
        scene=dict(xaxis=dict(range=[lo[0], hi[0]], title=axes[0]), yaxis=dict(range=[lo[1], hi[1]], title=axes[1]),
                   zaxis=dict(range=[lo[2], hi[2]], title=axes[2]), aspectmode="data",
                   camera=dict(eye=dict(x=0.0, y=-1.6, z=0.9), up=dict(x=0, y=0, z=1))),
        updatemenus=[play], sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="frame "), x=0.12,
                                          len=0.86, y=0.02)],
    )
    return fig


def tracks_table(result: TrackingResult, plane=None):
    """:meth:`TrackingResult.table`, plus ``floor_x, floor_z, pelvis_height`` (metres,
    :func:`~workbench.tracking.ground.floor_trajectories`) when a ground ``plane`` is given."""
    table = result.table()
    if plane is None or table.empty:
        return table
    from workbench.tracking.ground import floor_trajectories

    floor = floor_trajectories(result, plane)[["frame", "track_id", "floor_x", "floor_z", "pelvis_height"]]
    return table.merge(floor, on=["frame", "track_id"], how="left")


def write_outputs(result: TrackingResult, frames, out_dir: str | os.PathLike, body=None, overwrite: bool = False,
                  video: bool = True, html: bool = True, progress: bool = False, plane=None) -> dict[str, Path]:
    """Write the four outputs (and ``summary.json``) into ``out_dir``; returns their paths.

    ``frames``: the source's frames again (``FrameSource.frames()``), for the overlay video.
    ``body``: the body model to pose (default: the engine's, ``result.body``).
    ``plane``: a fitted :class:`~workbench.tracking.ground.GroundPlane` (reporting camera): adds the
    floor columns to ``tracks.csv``, the floor to the 4D viewer and ``ground`` to ``summary.json``.
    Refuses a folder that already holds results unless ``overwrite``.
    """
    from workbench.viz.plotly3d import save_html

    body = body if body is not None else result.body
    if body is None:
        raise ValueError("write_outputs needs the body model the people were estimated with (body=...).")

    out = Path(out_dir)
    name = Path(result.source).stem or "frames"
    paths = {"pkl": out / "results" / f"demo_{name}.pkl", "table": out / "tracks.csv",
             "video": out / f"PHALP_{name}.mp4", "html": out / "tracks_4d.html", "summary": out / "summary.json"}
    existing = [p for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds tracking results ({', '.join(p.name for p in existing)}); "
                              "pass --overwrite (overwrite=True) or choose another --out folder.")
    paths["pkl"].parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(paths["pkl"]) as fh:
        pickle.dump(phalp_pkl(result), fh, protocol=4)
    atomic_write_bytes(paths["table"], tracks_table(result, plane).to_csv(index=False).encode())
    if video:
        write_overlay_video(result, frames, paths["video"], body, progress=progress)
    else:
        paths.pop("video")
    if html:
        save_html(tracks_4d_figure(result, body, plane=plane), paths["html"], title=f"4D tracks: {name}")
    else:
        paths.pop("html")
    atomic_write_json(paths["summary"], {**result.summary(), "ground": None if plane is None else plane.as_dict()})
    return paths
