"""``PredictionExplorer``: pick a frame and a person, see what a pose engine made of them.

Panels: the model's crop, the frame with every person drawn (the chosen one in colour), a plotly 3D
scene (meshes, skeleton, camera frustum, other people, floor), side and top views; a second engine
side by side (``compare``); the chosen person's prediction opened in the pose/shape sliders of
:class:`~workbench.viz.explorer.BodyExplorer` (``edit()``), with the reprojection error against 2D
keypoints when some are known (``targets``).

    >>> ex = PredictionExplorer(frames, engines={"hmr2": HMR2Engine(), "fit": FitEngine(...)})  # doctest: +SKIP
    >>> ex                      # in JupyterLab: the widgets                                      # doctest: +SKIP
    >>> ex.select(frame=40, person=1, compare="fit")   # returns the update latency in ms         # doctest: +SKIP

Cameras: people are shown in ``intrinsics`` (the user's camera) when given, else in HMR 2.0's default
camera (focal ``5000 * max(H, W) / 256``); translations are moved with
:func:`~workbench.geometry.intrinsics.retarget_translation`. Frame: metres, x right, y down, z forward.
Predictions are cached per (engine, frame), so revisiting a frame costs only the drawing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from workbench.body.keypoints import HMR_SKELETON
from workbench.geometry.intrinsics import Intrinsics, retarget_translation
from workbench.tracking.iou_baseline import box_iou
from workbench.viz.plotly3d import PALETTE, SceneCamera, scene_figure
from workbench.viz.traces import hex_to_rgb

__all__ = ["FramePrediction", "PredictionExplorer", "jpeg_bytes", "labelled_detector", "predict_frame",
           "targets_from_labels"]

OTHER_RGB = (0.62, 0.62, 0.62)
NONE = "(none)"
VIEW_DEPTH = 4.0  # m, where the side and top views place the chosen person
ZOOM_PX = 256  # side of the zoomed overlays of the chosen person


@dataclass
class FramePrediction:
    """What one engine found in one frame, in the display camera.

    boxes (N, 4) px; vertices (N, V, 3) and keypoints_3d (N, 44, 3) metres in the camera frame;
    keypoints_2d (N, 44, 2) px; global_orient (N, 3, 3), body_pose (N, 23, 3, 3), betas (N, 10),
    transl (N, 3) metres (vertices = body(...) + transl); engine_ms: the engine's time for the frame.
    """

    boxes: np.ndarray
    vertices: np.ndarray
    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    intrinsics: Intrinsics
    engine_ms: float

    def __len__(self) -> int:
        return len(self.boxes)


def predict_frame(engine, frame: np.ndarray, detections, index: int, intrinsics: Intrinsics | None = None
                  ) -> FramePrediction:
    """Run a pose engine (``workbench.tracking.engines``) on one frame and move its people into ``intrinsics``."""
    from workbench.tracking.motion import canvas_intrinsics

    start = time.perf_counter()
    people = engine(frame, detections, index)
    ms = (time.perf_counter() - start) * 1e3
    hw = frame.shape[:2]
    target = intrinsics or Intrinsics.default(hw)
    n = len(people)
    canvas_t = np.array([r.camera for r in people.records]).reshape(n, 3)
    transl = retarget_translation(canvas_t, canvas_intrinsics(hw), target).astype(np.float32)
    vertices = people.vertices - canvas_t[:, None].astype(np.float32) + transl[:, None]
    kp3d = np.array([r.joints_3d[:44] for r in people.records], np.float32).reshape(n, 44, 3) + transl[:, None]
    return FramePrediction(
        boxes=np.asarray(detections.boxes, np.float64).reshape(n, 4), vertices=vertices, keypoints_3d=kp3d,
        keypoints_2d=target.project(kp3d).astype(np.float32).reshape(n, 44, 2),
        global_orient=np.array([np.asarray(r.smpl["global_orient"]).reshape(3, 3) for r in people.records]).reshape(n, 3, 3),
        body_pose=np.array([np.asarray(r.smpl["body_pose"]).reshape(23, 3, 3) for r in people.records]).reshape(n, 23, 3, 3),
        betas=np.array([np.asarray(r.smpl["betas"]).reshape(-1)[:10] for r in people.records]).reshape(n, 10),
        transl=transl, intrinsics=target, engine_ms=ms)


def targets_from_labels(labels, source: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """2D keypoint targets for one source from a labels table (``load_real_photo_labels()``).

    Returns {frame index (0 for a photo): (boxes (M, 4) px, keypoints (M, 44, 3) px + confidence)}.
    """
    rows = labels[labels["source"] == source]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for frame, group in rows.groupby("frame"):
        out[max(int(frame), 0)] = (np.stack(list(group["box"])), np.stack(list(group["keypoints_44"])))
    return out


def labelled_detector(targets: dict, fallback=None):
    """A detector that returns the labelled boxes *with their 2D keypoints* where ``targets`` has a frame
    (so keypoint-driven engines such as ``FitEngine`` can run there), and ``fallback(frame, index)``
    (e.g. HOG) or nobody elsewhere. ``targets`` as :func:`targets_from_labels` returns."""
    from workbench.detect import Detections

    def detect(frame: np.ndarray, index: int):
        if index in targets:
            boxes, keypoints = targets[index]
            return Detections(boxes, np.ones(len(boxes)), keypoints=keypoints)
        return fallback(frame, index) if fallback is not None else Detections(np.zeros((0, 4)), np.zeros(0))

    return detect


def jpeg_bytes(rgb: np.ndarray, quality: int = 88) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes for an ``ipywidgets.Image`` (much smaller than PNG per update)."""
    return cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _frames_of(frames) -> tuple[Callable[[int], np.ndarray], int]:
    """Random access to frames: a list/array of (H, W, 3) uint8, one image, or a path ``open_frames`` reads."""
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        frames = [frames]
    if isinstance(frames, (list, tuple)) or (isinstance(frames, np.ndarray) and frames.ndim == 4):
        items = list(frames)
        return lambda i: items[i], len(items)
    from workbench.io import open_frames

    source = open_frames(frames)
    items = [f for _, _, f in source.frames()]
    return lambda i: items[i], len(items)


class PredictionExplorer:
    """Frames x people x pose engines, explored with widgets (see the module docstring).

    Args:
        frames: a list of (H, W, 3) uint8 RGB frames, one image, or a video / folder path.
        engines: {name: pose engine}; default {"hmr2": HMR2Engine()} (our shipped checkpoint).
        detector: ``(frame, index) -> Detections``; or ``boxes``: {frame index: (N, 4) px} given boxes.
            Default: OpenCV HOG with the published filter.
        intrinsics: the camera of the frames (:class:`Intrinsics`); None: HMR 2.0's default camera.
        targets: {frame index: (boxes (M, 4), keypoints (M, 44, 3))} 2D keypoints to measure the
            reprojection error against (matched to a detection by box IoU >= 0.3), e.g.
            :func:`targets_from_labels`.
        display_side: the longest side of the images shown, px (errors stay in frame pixels).
    """

    def __init__(self, frames, engines: dict | None = None, detector=None, boxes: dict | None = None,
                 intrinsics: Intrinsics | None = None, targets: dict | None = None, display_side: int = 480):
        import ipywidgets as widgets

        self._frame, self.num_frames = _frames_of(frames)
        if self.num_frames == 0:
            raise ValueError("no frames to explore: the source is empty.")
        if engines is None:
            from workbench.tracking import HMR2Engine

            engines = {"hmr2": HMR2Engine()}
        if not engines:
            raise ValueError("engines is empty: give at least one pose engine, e.g. {'hmr2': HMR2Engine()}.")
        self.engines = dict(engines)
        self.detector = self._detector(detector, boxes)
        first = self._frame(0)
        self.intrinsics = None if intrinsics is None else intrinsics.validate(first.shape[:2])
        self.targets = targets or {}
        self.display_side = int(display_side)
        self._detections: dict[int, Any] = {}
        self._cache: dict[tuple[str, int], FramePrediction] = {}
        names = list(self.engines)
        self.frame_slider = widgets.IntSlider(0, 0, self.num_frames - 1, description="frame", continuous_update=False)
        self.person_dropdown = widgets.Dropdown(options=[0], description="person")
        self.engine_dropdown = widgets.Dropdown(options=names, value=names[0], description="engine")
        self.compare_dropdown = widgets.Dropdown(options=[NONE, *names], value=NONE, description="compare")
        self.view_buttons = widgets.ToggleButtons(options=["camera", "side", "top"], description="3D view")
        self.edit_button = widgets.Button(description="edit pose and shape")
        self.crop_image, self.overlay_image, self.zoom_image, self.compare_image = (
            widgets.Image(format="jpeg") for _ in range(4))
        self.side_image, self.top_image = widgets.Image(format="jpeg"), widgets.Image(format="jpeg")
        self.label, self.editor_box = widgets.HTML(), widgets.Box()
        import plotly.graph_objects as go

        self.figure = go.FigureWidget()
        self.editor = None
        self._syncing = False
        for w in (self.frame_slider, self.person_dropdown, self.engine_dropdown, self.compare_dropdown,
                  self.view_buttons):
            w.observe(self._on_change, names="value")
        self.edit_button.on_click(lambda _: self.edit())
        controls = widgets.VBox([self.frame_slider, self.person_dropdown, self.engine_dropdown,
                                 self.compare_dropdown, self.view_buttons, self.edit_button])
        self.widget = widgets.VBox([
            widgets.HBox([controls, self.crop_image, self.label]),
            widgets.HBox([self.overlay_image, self.zoom_image, self.compare_image]),
            widgets.HBox([self.figure, widgets.VBox([self.side_image, self.top_image])]),
            self.editor_box])
        self.last_update_ms = float("nan")
        self.update()

    # ------------------------------------------------------------------ programmatic API
    def select(self, frame: int | None = None, person: int | None = None, engine: str | None = None,
               compare: str | None = None, view: str | None = None) -> float:
        """Move the widgets and redraw once; returns the latency in ms. ``compare="(none)"`` hides it."""
        if frame is not None and not 0 <= int(frame) < self.num_frames:
            raise ValueError(f"frame {frame} does not exist; frames are 0..{self.num_frames - 1}.")
        for name, value, options in (("engine", engine, self.engine_dropdown.options),
                                     ("compare", compare, self.compare_dropdown.options),
                                     ("view", view, self.view_buttons.options)):
            if value is not None and value not in options:
                raise ValueError(f"unknown {name} {value!r}; choose one of {list(options)}.")
        self._syncing = True
        try:
            for w, v in ((self.frame_slider, frame), (self.engine_dropdown, engine),
                         (self.compare_dropdown, compare), (self.view_buttons, view)):
                if v is not None:
                    w.value = int(v) if w is self.frame_slider else v
            self._sync_people()
            if person is not None:
                if person not in self.person_dropdown.options:
                    raise ValueError(f"person {person} is not in frame {self.frame_slider.value}; "
                                     f"people there: {list(self.person_dropdown.options)}.")
                self.person_dropdown.value = person
        finally:
            self._syncing = False
        return self.update()

    def prediction(self, engine: str | None = None, frame: int | None = None) -> FramePrediction:
        """The (cached) prediction of ``engine`` on ``frame`` (default: the selected ones)."""
        name = engine or self.engine_dropdown.value
        index = self.frame_slider.value if frame is None else int(frame)
        if (name, index) not in self._cache:
            image = self._frame(index)
            self._cache[name, index] = predict_frame(self.engines[name], image, self._detect(index), index,
                                                     self.intrinsics)
        return self._cache[name, index]

    def reprojection_error(self, engine: str | None = None) -> float | None:
        """Mean px distance between the selected person's projected keypoints and the matched targets."""
        pred, person = self.prediction(engine), self.person_dropdown.value
        target = self._target(pred, person)
        if target is None:
            return None
        ok = target[:, 2] > 0.3
        return float(np.linalg.norm(pred.keypoints_2d[person][ok] - target[ok, :2], axis=1).mean()) if ok.any() else None

    def edit(self):
        """Open the selected person's prediction in :class:`BodyExplorer` sliders (shown below) and return it."""
        from workbench.viz.explorer import BodyExplorer

        pred, person = self.prediction(), self.person_dropdown.value
        if len(pred) == 0:
            raise ValueError(f"nobody was detected in frame {self.frame_slider.value}; pick another frame.")
        engine = self.engines[self.engine_dropdown.value]
        body = getattr(engine, "body", None) or engine.model.smpl
        image = self._frame(self.frame_slider.value)
        target = self._target(pred, person)
        k = pred.intrinsics
        self.editor = BodyExplorer(body, image=image, cam_t=pred.transl[person], focal=(k.fx, k.fy),
                                   principal_point=(k.cx, k.cy), betas=pred.betas[person],
                                   body_pose=pred.body_pose[person], global_orient=pred.global_orient[person],
                                   target_keypoints_2d=target, max_image_side=self.display_side)
        self.editor_box.children = (self.editor.widget,)
        return self.editor

    def update(self) -> float:
        """Redraw every panel for the current selection; returns the latency in ms."""
        start = time.perf_counter()
        index, person = self.frame_slider.value, self.person_dropdown.value
        image = self._frame(index)
        pred = self.prediction()
        other = None if self.compare_dropdown.value == NONE else self.prediction(self.compare_dropdown.value)
        scale = min(1.0, self.display_side / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        self.overlay_image.value = jpeg_bytes(self._overlay(small, pred, person, PALETTE[0], scale))
        self.zoom_image.value = jpeg_bytes(self._zoom(image, pred, person, PALETTE[0]))
        self.compare_image.value = (jpeg_bytes(self._zoom(image, other, person, PALETTE[1]))
                                    if other is not None else b"")
        self.compare_image.layout.display = None if other is not None else "none"
        self._draw_crop(image, pred, person)
        self._draw_views(image, pred, other, person, scale)
        self._draw_scene(image, pred, other, person)
        self.last_update_ms = (time.perf_counter() - start) * 1e3
        self.label.value = self._label_text(pred, other, person)
        return self.last_update_ms

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _detector(detector, boxes):
        if detector is not None and boxes is not None:
            raise ValueError("give a detector or boxes, not both.")
        if boxes is not None:
            from workbench.detect import Detections

            given = {int(k): np.asarray(v, np.float64).reshape(-1, 4) for k, v in boxes.items()}
            return lambda frame, i: Detections(given.get(i, np.zeros((0, 4))), np.ones(len(given.get(i, ()))))
        if detector is None:
            from workbench.detect import DetectConfig, create_detector

            return create_detector("hog", config=DetectConfig.hog())
        return detector

    def _detect(self, index: int):
        if index not in self._detections:
            self._detections[index] = self.detector(self._frame(index), index)
        return self._detections[index]

    def _sync_people(self) -> None:
        n = len(self._detect(self.frame_slider.value))
        options = list(range(n)) or [0]
        if list(self.person_dropdown.options) != options:
            self.person_dropdown.options = options
            self.person_dropdown.value = 0

    def _on_change(self, change) -> None:
        if self._syncing:
            return
        if change["owner"] is self.frame_slider:
            self._syncing = True
            try:
                self._sync_people()
            finally:
                self._syncing = False
        self.update()

    def _target(self, pred: FramePrediction, person: int) -> np.ndarray | None:
        """(44, 3) target keypoints (px + confidence) matched to the person's box, or None."""
        found = self.targets.get(self.frame_slider.value)
        if found is None or len(pred) == 0:
            return None
        boxes, keypoints = found
        iou = box_iou(pred.boxes[person], boxes)[0]
        best = int(np.argmax(iou)) if len(iou) else -1
        return None if best < 0 or iou[best] < 0.3 else np.asarray(keypoints[best], np.float32)

    def _overlay(self, image, pred: FramePrediction, person: int, color: str, scale: float,
                 intrinsics: Intrinsics | None = None) -> np.ndarray:
        """Every person drawn over ``image`` (the chosen one in ``color``), its projected keypoints in
        green and the matched targets in red. ``image`` is the frame resized by ``scale``, or any image
        of the same camera with its own ``intrinsics`` (a zoomed crop); keypoints follow the same map."""
        from workbench.render import overlay
        from workbench.viz.draw import draw_keypoints

        if len(pred) == 0:
            return image
        k = pred.intrinsics
        view = intrinsics or Intrinsics(k.fx * scale, k.fy * scale, k.cx * scale, k.cy * scale)
        to_view = np.array([view.fx / k.fx, view.fy / k.fy]), np.array([view.cx - k.cx * view.fx / k.fx,
                                                                         view.cy - k.cy * view.fy / k.fy])
        rgb = np.array([hex_to_rgb(color) if i == person else OTHER_RGB for i in range(len(pred))])
        out = overlay(image, list(pred.vertices), self._faces(), (view.fx, view.fy), (view.cx, view.cy), color=rgb,
                      alpha=0.75)
        radius = max(1, round(max(image.shape[:2]) / 150))
        out = draw_keypoints(out, pred.keypoints_2d[person] * to_view[0] + to_view[1], HMR_SKELETON,
                             color=(40, 200, 60), radius=radius)
        target = self._target(pred, person)
        if target is not None:
            pts = np.where(target[:, 2:3] > 0.3, target[:, :2], np.nan) * to_view[0] + to_view[1]
            out = draw_keypoints(out, pts, None, color=(230, 40, 40), radius=radius)
        return out

    def _zoom(self, image, pred: FramePrediction, person: int, color: str, size: int = ZOOM_PX) -> np.ndarray:
        """The chosen person's box (1.2x, square) drawn as :meth:`_overlay` at ``size`` px: the crop is a
        camera of its own (focal and principal point scaled and shifted by the crop's affine map)."""
        from workbench.geometry.crop import box_to_center_scale, crop_image, square_box_size

        if len(pred) == 0:
            return np.zeros((size, size, 3), np.uint8)
        centre, size_wh = box_to_center_scale(pred.boxes[person:person + 1])
        crop, info = crop_image(image, centre[0], 1.2 * square_box_size(size_wh)[0], size)
        a, k = info.affine, pred.intrinsics
        view = Intrinsics(k.fx * a[0, 0], k.fy * a[1, 1], k.cx * a[0, 0] + a[0, 2], k.cy * a[1, 1] + a[1, 2])
        return self._overlay(np.clip(crop, 0, 255).astype(np.uint8), pred, person, color, 1.0, view)

    def _draw_crop(self, image, pred: FramePrediction, person: int) -> None:
        from workbench.geometry.crop import box_to_center_scale, crop_image, square_box_size

        if len(pred) == 0:
            self.crop_image.value = b""
            return
        centre, size_wh = box_to_center_scale(pred.boxes[person:person + 1])
        crop = crop_image(image, centre[0], square_box_size(size_wh)[0], 192)[0]
        self.crop_image.value = jpeg_bytes(np.clip(crop, 0, 255).astype(np.uint8))

    def _draw_views(self, image, pred, other, person: int, scale: float) -> None:
        """Side and top views of the chosen person (and the compared prediction), centred on them at
        ``VIEW_DEPTH`` m and framed so a 2 m body fills ~80% of the panel."""
        from workbench.render import side_view, top_view

        if len(pred) == 0:
            self.side_image.value = self.top_image.value = b""
            return
        size = (max(1, round(self.display_side * 0.4)),) * 2
        centre = pred.vertices[person].mean(0)
        shift = np.array([0.0, 0.0, VIEW_DEPTH], np.float32) - centre
        meshes = [(pred.vertices[person] + shift, self._faces())]
        colors = [hex_to_rgb(PALETTE[0])]
        if other is not None and len(other):
            meshes.append((other.vertices[person] - other.vertices[person].mean(0) + [0.0, 0.0, VIEW_DEPTH],
                           self._faces()))
            colors.append(hex_to_rgb(PALETTE[1]))
        focal = 0.8 * size[0] * VIEW_DEPTH / 2.0
        args = dict(image_size=size, focal=focal, colors=np.array(colors))
        self.side_image.value = jpeg_bytes(side_view(meshes, **args).rgb)
        self.top_image.value = jpeg_bytes(top_view(meshes, **args).rgb)

    def _draw_scene(self, image, pred, other, person: int) -> None:
        people = [dict(vertices=v, faces=self._faces(), color=PALETTE[0] if i == person else "#aaaaaa",
                       keypoints=pred.keypoints_3d[i] if i == person else None,
                       name=f"person {i}" + (f" ({self.engine_dropdown.value})" if i == person else ""))
                  for i, v in enumerate(pred.vertices)]
        if other is not None and len(other):
            people.append(dict(vertices=other.vertices[person], faces=self._faces(), color=PALETTE[1],
                               name=f"person {person} ({self.compare_dropdown.value})"))
        k = pred.intrinsics
        camera = SceneCamera(focal=(k.fx, k.fy), image_wh=(image.shape[1], image.shape[0]),
                             principal_point=(k.cx, k.cy))
        fig = scene_figure(people, camera, ground_plane="auto" if people else None, view=self.view_buttons.value,
                           opacity=0.9, height=460)
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(fig.data)
            self.figure.layout = fig.layout
            self.figure.layout.width = 560

    def _label_text(self, pred, other, person: int) -> str:
        k = pred.intrinsics
        lines = [f"<b>frame {self.frame_slider.value}</b>, {len(pred)} people; camera f = {k.fx:.0f} px"
                 f"{' (given)' if self.intrinsics is not None else ' (HMR 2.0 default)'}"]
        if len(pred):
            t = pred.transl[person]
            lines.append(f"person {person}: translation ({t[0]:.2f}, {t[1]:.2f}, {t[2]:.2f}) m")
            err = self.reprojection_error()
            lines.append("reprojection error vs targets: " + ("no targets for this person" if err is None
                                                               else f"<b>{err:.1f} px</b>"))
            if other is not None and len(other):
                a = pred.keypoints_3d[person] - pred.keypoints_3d[person, 39]
                b = other.keypoints_3d[person] - other.keypoints_3d[person, 39]
                dist = 1e3 * float(np.linalg.norm(a - b, axis=1).mean())
                err_b = self.reprojection_error(self.compare_dropdown.value)
                lines.append(f"vs {self.compare_dropdown.value}: pelvis-aligned keypoint distance {dist:.0f} mm"
                             + ("" if err_b is None else f", its reprojection error {err_b:.1f} px"))
        lines.append(f"engine {pred.engine_ms:.0f} ms (first visit only) · update {self.last_update_ms:.0f} ms")
        return "<br>".join(lines)

    def _faces(self) -> np.ndarray:
        engine = self.engines[self.engine_dropdown.value]
        return np.asarray(engine.faces)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
