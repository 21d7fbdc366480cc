"""What a tracking run leaves on disk: the PHALP pkl, a tidy table, an overlay video, a 4D viewer.

``write_outputs(result, frames, out_dir)`` writes, each file atomically, into a folder it refuses to
reuse without ``overwrite=True``:

* ``results/demo_<video>.pkl`` - the published per-frame dictionary (PHALP / 4DHumans ``track.py``):
  ``{frame_name: {time, shot, frame_path, tid, bbox, tracked_ids, tracked_bbox, tracked_time, appe, loca,
  pose, center, scale, size, img_path, img_name, class_name, conf, annotations, smpl, camera,
  camera_bbox, 3d_joints, 2d_joints, mask, extra_data}}``, per-person values in lists. A plain pickle
  (``joblib.load`` reads it too). ``appe`` is our texel map as an (M, 4) float32 array (RGB in [0, 1] and
  visibility), not HMAR's 4096-d code;
* ``tracks.csv`` - one row per (frame, track), :meth:`TrackingResult.table`;
* ``PHALP_<video>.mp4`` - every frame with the tracked meshes coloured by track id (filled frames
  drawn fainter), ids and boxes;
* ``tracks_4d.html`` - the people in 3D over time with a time slider (standalone, works offline).
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

__all__ = ["phalp_pkl", "track_color", "tracks_4d_figure", "write_outputs", "write_overlay_video"]

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


def _posed_people(people: list[TrackedPerson], body, depth_scale: float = 1.0) -> np.ndarray:
    """(N, V, 3) vertices of tracked people in the tracker camera, translation depths times ``depth_scale``."""
    import torch

    go = torch.as_tensor(np.stack([np.asarray(p.record.smpl["global_orient"]).reshape(1, 3, 3) for p in people]),
                         dtype=torch.float32)
    bp = torch.as_tensor(np.stack([np.asarray(p.record.smpl["body_pose"]).reshape(23, 3, 3) for p in people]),
                         dtype=torch.float32)
    be = torch.as_tensor(np.stack([np.asarray(p.record.smpl["betas"]).reshape(-1) for p in people]),
                         dtype=torch.float32)
    with torch.no_grad():
        v = body(global_orient=go, body_pose=bp, betas=be).vertices.numpy()
    t = np.stack([p.record.camera for p in people]) * [1.0, 1.0, depth_scale]
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


def tracks_4d_figure(result: TrackingResult, body, points_per_person: int = 350, height: int = 650,
                     field_of_view_deg: float | None = 55.0):
    """The tracked people in 3D over time: skeletons and surface points coloured by track id, each
    track's path on the ground so far, and a time slider / play button (plotly animation frames).

    Axes: x right, z depth (away from the camera), up = -y (metres, tracker camera).

    HMR 2.0 assumes a very long lens when the intrinsics are unknown (focal ``5000 max(H, W) / 256``,
    a 2.9 degree view), which puts people ~200 m away and spreads them over tens of metres in depth.
    ``field_of_view_deg`` re-reads the scene for a normal lens instead: every translation's depth is
    scaled by ``f_normal / f_hmr``, which keeps where each body's origin projects (x/z and y/z scale
    with the focal) and its size in metres. None keeps the tracker's camera.
    """
    import plotly.graph_objects as go

    from workbench.body.keypoints import HMR_SKELETON

    rng = np.random.default_rng(0)
    num_v = body.layer.v_template.shape[0]
    k = 1.0
    if field_of_view_deg is not None and result.frames:
        H, W = result.frames[0].size
        k = max(H, W) / 2 / np.tan(np.deg2rad(field_of_view_deg) / 2) / frame_camera((H, W))[0]
    sample = np.sort(rng.choice(num_v, size=min(points_per_person, num_v), replace=False))
    frames_idx = [f.index for f in result.frames]
    per_frame, paths, all_pts = {}, {}, []
    for f in frames_idx:
        people = result.people.get(f, [])
        if not people:
            per_frame[f] = None
            continue
        verts = _posed_people(people, body, k)[:, sample]
        joints = np.stack([p.record.joints_3d[:44] + p.record.camera * [1.0, 1.0, k] for p in people])
        per_frame[f] = (people, verts, joints)
        all_pts.append(verts.reshape(-1, 3))
        for p, j in zip(people, joints):
            paths.setdefault(p.track_id, []).append((f, j[8] if len(j) > 8 else j.mean(0)))  # 8: mid-hip
    pts = np.concatenate(all_pts) if all_pts else np.array([[-1.0, -1.0, 2.0], [1.0, 1.0, 6.0]])
    floor = float(np.percentile(pts[:, 1], 99.5)) if all_pts else 1.0

    def view(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return p[..., 0], p[..., 2], -p[..., 1]

    slots = max((len(d[0]) for d in per_frame.values() if d is not None), default=0)

    def traces(f):
        """One points trace and one skeleton trace per person slot (same count in every frame), paths, ids."""
        data = per_frame.get(f)
        people, verts, joints = data if data is not None else ([], np.zeros((0, 1, 3)), np.zeros((0, 44, 3)))
        out = []
        for k in range(slots):
            if k < len(people):
                c = f"rgb{track_color(people[k].track_id)}"
                vx, vy, vz = view(verts[k].astype(np.float32))
                bones = np.array([q for a, b in HMR_SKELETON for q in (joints[k][a], joints[k][b], np.full(3, np.nan))])
                lx, ly, lz = view(bones.astype(np.float32))
            else:
                c, (vx, vy, vz), (lx, ly, lz) = "grey", ([], [], []), ([], [], [])
            out += [go.Scatter3d(x=vx, y=vy, z=vz, mode="markers", marker=dict(size=2, color=c), hoverinfo="skip"),
                    go.Scatter3d(x=lx, y=ly, z=lz, mode="lines", line=dict(color=c, width=5), hoverinfo="skip")]
        trail, tc = [], []
        for p in people:
            c = f"rgb{track_color(p.track_id)}"
            hist = [q for t, q in paths[p.track_id] if t <= f]
            trail += [np.array([q[0], floor, q[2]]) for q in hist] + [np.full(3, np.nan)]
            tc += [c] * (len(hist) + 1)
        tx, ty, tz = view(np.array(trail, np.float32).reshape(-1, 3))
        if people:
            heads = np.stack([j[:, 1].min() * np.array([0, 1, 0]) + j[0] * np.array([1, 0, 1]) for j in joints])
            hx, hy, hz = view((heads - np.array([0, 0.15, 0])).astype(np.float32))
        else:
            hx, hy, hz = [], [], []
        out += [go.Scatter3d(x=tx, y=ty, z=tz, mode="lines", line=dict(color=tc or "grey", width=3), hoverinfo="skip"),
                go.Scatter3d(x=hx, y=hy, z=hz, mode="text", hoverinfo="skip",
                             text=[f"id {p.track_id}" + ("" if p.observed else " (filled)") for p in people])]
        return out

    lo, hi = pts.min(0) - 0.3, pts.max(0) + 0.3
    first = frames_idx[0] if frames_idx else 0
    fig = go.Figure(data=traces(first), frames=[go.Frame(data=traces(f), name=str(f)) for f in frames_idx])
    steps = [dict(method="animate", label=str(f), args=[[str(f)], dict(mode="immediate", frame=dict(duration=0,
                                                                           redraw=True), transition=dict(duration=0))])
             for f in frames_idx]
    play = dict(type="buttons", showactive=False, x=0.02, y=0.02, xanchor="left", yanchor="bottom", buttons=[
        dict(label="play", method="animate", args=[None, dict(frame=dict(duration=1000 / result.fps, redraw=True),
                                                              fromcurrent=True, transition=dict(duration=0))]),
        dict(label="pause", method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0))]),
    ])
    fig.update_layout(
        height=height, showlegend=False, margin=dict(l=0, r=0, t=40, b=0),
        title=f"{Path(result.source).name}: {len(result.track_ids)} tracks over {len(frames_idx)} frames"
              + ("" if field_of_view_deg is None else f" (depths read for a {field_of_view_deg:g} deg lens)"),
        scene=dict(xaxis=dict(range=[lo[0], hi[0]], title="x (m)"), yaxis=dict(range=[lo[2], hi[2]], title="depth (m)"),
                   zaxis=dict(range=[-hi[1], -lo[1]], title="up (m)"), aspectmode="data",
                   camera=dict(eye=dict(x=0.0, y=-1.6, z=0.9), up=dict(x=0, y=0, z=1))),
        updatemenus=[play], sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="frame "), x=0.12,
                                          len=0.86, y=0.02)],
    )
    return fig


def write_outputs(result: TrackingResult, frames, out_dir: str | os.PathLike, body=None, overwrite: bool = False,
                  video: bool = True, html: bool = True, progress: bool = False) -> dict[str, Path]:
    """Write the four outputs (and ``summary.json``) into ``out_dir``; returns their paths.

    ``frames``: the source's frames again (``FrameSource.frames()``), for the overlay video.
    ``body``: the body model to pose (default: the engine's, ``result.body``).
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
    atomic_write_bytes(paths["table"], result.table().to_csv(index=False).encode())
    if video:
        write_overlay_video(result, frames, paths["video"], body, progress=progress)
    else:
        paths.pop("video")
    if html:
        save_html(tracks_4d_figure(result, body), paths["html"], title=f"4D tracks: {name}")
    else:
        paths.pop("html")
    atomic_write_json(paths["summary"], result.summary())
    return paths
