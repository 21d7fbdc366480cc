"""``TrackExplorer``: scrub through a tracked video and see every track in 3D with its trajectory.

Panels: the frame with the tracked meshes (coloured by track id, filled frames paler), a plotly 3D
scene (each person's surface points at the current time, each track's whole path on the floor, the
camera frustum, the floor) and a top-down map of the paths in metres; a time slider with a play
button and a track picker that highlights one track and reports its position and speed.

    >>> ex = TrackExplorer(result, frames)         # result = track_video(...); frames: the same video  # doctest: +SKIP
    >>> ex.select(frame=42, track=3)               # latency in ms                                       # doctest: +SKIP

Camera: the result's reporting camera (``result.intrinsics`` when the user gave one). Without known
intrinsics HMR 2.0's default focal puts people ~200 m away; the scene is then re-read for a normal
lens (``field_of_view_deg``, as the 4D HTML viewer does): depth scales, pixels and sizes stay.
With a fitted floor (``plane``, :class:`~workbench.tracking.ground.GroundPlane`) paths are drawn on
it and positions are reported in floor metres; otherwise the floor is a level plane under the feet.
"""

from __future__ import annotations

import time

import numpy as np

from workbench.viz.prediction_explorer import _frames_of, jpeg_bytes
from workbench.viz.traces import camera_frustum_traces

__all__ = ["TrackExplorer"]

ALL = "all"


def _rgb(track_id: int) -> str:
    from workbench.tracking.outputs import track_color

    return "rgb({},{},{})".format(*track_color(track_id))


class TrackExplorer:
    """A tracked video explored over time (see the module docstring).

    Args:
        result: a :class:`~workbench.tracking.pipeline.TrackingResult`.
        frames: the video's frames (list of arrays, or the video / folder path), indexed like the result.
        body: the body model (default ``result.body``).
        plane: an optional fitted floor with ``to_floor(points (N, 3)) -> (N, 2), (N,)`` and ``height``.
        points_per_person: surface points drawn per person (fewer = faster updates).
        field_of_view_deg: lens to re-read the scene with when the result has no intrinsics; None keeps
            HMR 2.0's default camera.
        display_side: longest side of the frame shown, px.
    """

    def __init__(self, result, frames, body=None, plane=None, points_per_person: int = 400,
                 field_of_view_deg: float | None = 55.0, display_side: int = 560):
        import ipywidgets as widgets
        import plotly.graph_objects as go

        from workbench.tracking.motion import display_intrinsics, track_motions

        self.result, self.body, self.plane = result, body if body is not None else result.body, plane
        if self.body is None:
            raise ValueError("TrackExplorer needs the body model: pass body=... (result.body is None).")
        if not result.frames:
            raise ValueError("the result has no frames; track a video first.")
        self._frame, n = _frames_of(frames)
        self.frame_indices = [f.index for f in result.frames]
        if max(self.frame_indices) >= n:
            raise ValueError(f"the result covers frame {max(self.frame_indices)} but only {n} frames were given; "
                             "pass the frames the result was tracked on.")
        self.intrinsics = display_intrinsics(result, field_of_view_deg)
        fitted_in = getattr(plane, "intrinsics", None)
        if plane is not None and fitted_in is not None and fitted_in != self.intrinsics:
            raise ValueError(f"the plane was fitted in camera {fitted_in}, but the tracks are shown in "
                             f"{self.intrinsics}; fit it on this result (fit_ground_plane(result)).")
        self.motions = track_motions(result, camera=self.intrinsics)
        rng = np.random.default_rng(0)
        num_v = self.body.layer.v_template.shape[0]
        self._sample = np.sort(rng.choice(num_v, size=min(points_per_person, num_v), replace=False))
        self._points = {tid: m.posed(self.body)[0][:, self._sample] for tid, m in self.motions.items()}
        self._floor_y = self._level_floor()
        self.display_side = int(display_side)

        ids = sorted(self.motions)
        self.play = widgets.Play(min=0, max=len(self.frame_indices) - 1, interval=150, description="play")
        self.time_slider = widgets.IntSlider(0, 0, len(self.frame_indices) - 1, description="time",
                                             continuous_update=False)
        widgets.jslink((self.play, "value"), (self.time_slider, "value"))
        self.track_dropdown = widgets.Dropdown(options=[ALL, *ids], value=ALL, description="track")
        self.frame_image, self.label = widgets.Image(format="jpeg"), widgets.HTML()
        self.figure = go.FigureWidget(self._scene_traces(ids))
        self.figure.update_layout(height=480, width=560, margin=dict(l=0, r=0, t=30, b=0), uirevision="tracks",
                                  scene=dict(aspectmode="data", xaxis_title="x (m)", yaxis_title="depth z (m)",
                                             zaxis_title="up (m)", camera=dict(up=dict(x=0, y=0, z=1))),
                                  title="people at the current time and each track's path")
        self.map = go.FigureWidget(self._map_traces(ids))
        self.map.update_layout(height=360, width=420, margin=dict(l=40, r=10, t=30, b=40), showlegend=False,
                               xaxis_title="floor x (m)" if plane is not None else "x (m)",
                               yaxis_title="floor forward (m)" if plane is not None else "depth z (m)",
                               yaxis=dict(scaleanchor="x"), title="paths seen from above")
        self.time_slider.observe(lambda _: self.update(), names="value")
        self.track_dropdown.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.play, self.time_slider, self.track_dropdown]),
                                    widgets.HBox([self.frame_image, self.label]),
                                    widgets.HBox([self.figure, self.map])])
        self.last_update_ms, self._quiet = float("nan"), False
        self.update()

    # ------------------------------------------------------------------ programmatic API
    def select(self, frame: int | None = None, track: int | str | None = None) -> float:
        """Go to a frame index of the result and/or highlight a track ("all" for none); returns ms."""
        if track is not None and track not in self.track_dropdown.options:
            raise ValueError(f"track {track!r} does not exist; tracks: {list(self.track_dropdown.options)[1:]}.")
        if frame is not None and int(frame) not in self.frame_indices:
            raise ValueError(f"frame {frame} was not tracked; frames {self.frame_indices[0]}..{self.frame_indices[-1]}.")
        self._quiet = True
        try:
            if track is not None:
                self.track_dropdown.value = track
            if frame is not None:
                self.time_slider.value = self.frame_indices.index(int(frame))
        finally:
            self._quiet = False
        return self.update()

    def position(self, track_id: int, frame: int) -> dict | None:
        """Where a track is at a frame: camera-frame translation (m), floor coordinates (m) when a
        plane is known, speed (m/s, central difference on the floor or in x-z), observed flag."""
        m = self.motions.get(track_id)
        if m is None:
            raise KeyError(f"track {track_id} does not exist; tracks: {sorted(self.motions)}.")
        where = np.flatnonzero(m.frames == frame)
        if not len(where):
            return None
        i = int(where[0])
        flat = self._ground(m.transl)
        lo, hi = max(i - 1, 0), min(i + 1, len(m) - 1)
        dt = (m.frames[hi] - m.frames[lo]) / m.fps
        speed = float(np.linalg.norm(flat[hi] - flat[lo]) / dt) if dt > 0 else 0.0
        out = dict(track_id=track_id, frame=int(frame), observed=bool(m.observed[i]), transl=m.transl[i].copy(),
                   speed_m_s=speed)
        if self.plane is not None:
            out["floor_xz"] = flat[i].copy()
        return out

    def update(self) -> float:
        """Redraw for the current time and track; returns the latency in ms."""
        if self._quiet:  # select() moves several widgets, then redraws once
            return float("nan")
        start = time.perf_counter()
        frame = self.frame_indices[self.time_slider.value]
        selected = self.track_dropdown.value
        ids = sorted(self.motions)
        with self.figure.batch_update(), self.map.batch_update():
            for k, tid in enumerate(ids):
                m = self.motions[tid]
                where = np.flatnonzero(m.frames == frame)
                pts = self._points[tid][where[0]] if len(where) else np.zeros((0, 3), np.float32)
                x, z, up = self._view(pts)
                dim = selected != ALL and selected != tid
                trace, path, dot = self.figure.data[3 * k: 3 * k + 3]
                trace.x, trace.y, trace.z = x, z, up
                trace.marker.opacity = 0.15 if dim else (1.0 if len(where) and m.observed[where[0]] else 0.45)
                path.line.width = 7 if selected == tid else 3
                cur = m.transl[where[0]][None] if len(where) else np.zeros((0, 3))
                dot.x, dot.y, dot.z = self._view_floor(cur)
                mp, md = self.map.data[2 * k: 2 * k + 2]
                mp.line.width = 4 if selected == tid else 1.5
                flat = self._ground(cur)
                md.x, md.y = flat[:, 0], flat[:, 1]
        self.frame_image.value = jpeg_bytes(self._overlay(frame))
        self.last_update_ms = (time.perf_counter() - start) * 1e3
        self.label.value = self._label_text(frame, selected)
        return self.last_update_ms

    # ------------------------------------------------------------------ internals
    def _level_floor(self) -> float:
        """Camera-frame y (m, down) of a level floor under the feet: the 99.5th percentile of all points."""
        pts = [p.reshape(-1, 3) for p in self._points.values()]
        return float(np.percentile(np.concatenate(pts)[:, 1], 99.5)) if pts else 1.0

    def _view(self, p: np.ndarray):
        """Camera frame -> the 3D view's axes: x right, depth, up (= -y)."""
        p = np.asarray(p, np.float32).reshape(-1, 3)
        return p[:, 0], p[:, 2], -p[:, 1]

    def _view_floor(self, transl: np.ndarray):
        """Body origins dropped onto the floor, in the view's axes."""
        p = np.asarray(transl, np.float64).reshape(-1, 3).copy()
        if self.plane is not None and len(p):
            p = p - np.outer(self.plane.height(p), self.plane.normal)
        else:
            p[:, 1] = self._floor_y
        return self._view(p)

    def _ground(self, transl: np.ndarray) -> np.ndarray:
        """(N, 3) body origins -> (N, 2) map coordinates: floor metres with a plane, else camera (x, z)."""
        p = np.asarray(transl, np.float64).reshape(-1, 3)
        if self.plane is not None:
            return np.asarray(self.plane.to_floor(p)[0]).reshape(-1, 2) if len(p) else np.zeros((0, 2))
        return p[:, [0, 2]]

    def _scene_traces(self, ids) -> list:
        import plotly.graph_objects as go

        traces = []
        for tid in ids:
            m, c = self.motions[tid], _rgb(tid)
            px, pz, pu = self._view_floor(m.transl)
            traces += [go.Scatter3d(x=[], y=[], z=[], mode="markers", marker=dict(size=2, color=c),
                                    name=f"track {tid}", hoverinfo="name"),
                       go.Scatter3d(x=px, y=pz, z=pu, mode="lines", line=dict(color=c, width=3),
                                    name=f"path {tid}", showlegend=False, hoverinfo="name"),
                       go.Scatter3d(x=[], y=[], z=[], mode="markers", marker=dict(size=5, color=c, symbol="diamond"),
                                    showlegend=False, hoverinfo="skip")]
        all_t = np.concatenate([m.transl for m in self.motions.values()]) if self.motions else np.array([[0, 0, 5.0]])
        if self.plane is not None:
            flat = self._ground(all_t)
            lo, hi = flat.min(0) - 1.0, flat.max(0) + 1.0
            quad = self.plane.from_floor(np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]))
            x, z, up = self._view(quad)
            traces.append(go.Mesh3d(x=x, y=z, z=up, i=[0, 0], j=[1, 2], k=[2, 3], color="#bbbbbb", opacity=0.35,
                                    name="floor (fitted)", hoverinfo="skip", flatshading=True))
        depth = float(np.percentile(all_t[:, 2], 90)) * 1.1
        H, W = self.result.frames[0].size
        k = self.intrinsics
        for tr in camera_frustum_traces((k.fx, k.fy), (W, H), depth, (k.cx, k.cy)):
            x, z, up = self._view(np.stack([tr.x, tr.y, tr.z], axis=1))
            traces.append(go.Scatter3d(x=x, y=z, z=up, mode="lines", line=tr.line, name="camera", hoverinfo="name"))
        return traces

    def _map_traces(self, ids) -> list:
        import plotly.graph_objects as go

        traces = []
        for tid in ids:
            m, c = self.motions[tid], _rgb(tid)
            flat = self._ground(m.transl)
            traces += [go.Scatter(x=flat[:, 0], y=flat[:, 1], mode="lines", line=dict(color=c, width=1.5),
                                  name=f"track {tid}"),
                       go.Scatter(x=[], y=[], mode="markers+text", marker=dict(color=c, size=10),
                                  text=[str(tid)], textposition="top center")]
        return traces

    def _overlay(self, frame: int) -> np.ndarray:
        import cv2

        from workbench.tracking.outputs import overlay_frame

        image = self._frame(frame)
        out = overlay_frame(image, self.result.people.get(frame, []), self.body)
        scale = min(1.0, self.display_side / max(out.shape[:2]))
        return cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else out

    def _label_text(self, frame: int, selected) -> str:
        people = self.result.people.get(frame, [])
        lines = [f"<b>frame {frame}</b> ({frame / self.result.fps:.2f} s): {len(people)} tracked "
                 f"({sum(not p.observed for p in people)} filled by prediction)",
                 f"camera f = {self.intrinsics.fx:.0f} px"
                 + (" (given)" if getattr(self.result, "intrinsics", None) is not None else " (re-read lens)")]
        if selected != ALL:
            pos = self.position(selected, frame)
            if pos is None:
                lines.append(f"track {selected} is not in this frame")
            else:
                t = pos["transl"]
                lines.append(f"track {selected}: ({t[0]:.2f}, {t[1]:.2f}, {t[2]:.2f}) m in the camera, "
                             f"{pos['speed_m_s']:.2f} m/s, {'detected' if pos['observed'] else 'filled'}")
                if "floor_xz" in pos:
                    lines.append("on the floor: ({:.2f}, {:.2f}) m".format(*pos["floor_xz"]))
        lines.append(f"update {self.last_update_ms:.0f} ms")
        return "<br>".join(lines)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
