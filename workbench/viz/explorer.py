"""``BodyExplorer``: sliders for shape and joint rotations, a live 3D view, and the body drawn over a photo.

Made for JupyterLab (``display(explorer)``), and drivable without a browser: ``set_betas``,
``set_joint_rotation``, then ``update()``, which returns its latency in ms. An update runs the
body model once, moves the vertices of the existing plotly mesh (the figure is never rebuilt, so
the user's 3D camera stays put), and, with an image, re-renders the overlay and the keypoints.

Speed (one 13.7k-vertex body, 2 cores): the body model runs on one thread. Its ops touch ~40k
floats each, too little for OpenMP to pay, and when another process holds a core OpenMP's barriers
make each op ~1000x slower (measured while another process held one of the 2 cores: a forward
pass took 100 ms on 2 threads, 8 ms on 1). Large
photos are shown at most ``max_image_side`` px, because rendering costs grow with the pixel count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

import cv2
import numpy as np
import torch

from workbench.arrays import to_numpy
from workbench.body.keypoints import NUM_HMR_JOINTS, NUM_SMPL_JOINTS, SMPL_JOINT_NAMES
from workbench.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from workbench.runtime import torch_threads
from workbench.viz.plotly3d import PALETTE, body_figure, bone_polyline, default_bones
from workbench.viz.traces import hex_to_rgb

BETA_RANGE = 3.0  # slider half-range; the shape space is roughly unit-Gaussian per component
JOINT_COLOR, SELECTED_COLOR = "#333333", "#d62728"
PROJECTED_BGR, TARGET_BGR, RESIDUAL_BGR = (60, 200, 40), (40, 40, 230), (0, 215, 255)


def _to_numpy(x: Any, dtype=np.float32) -> np.ndarray:
    return to_numpy(x, dtype)


def _as_axis_angle(x: Any, num_joints: int, name: str) -> np.ndarray:
    """(num_joints, 3) canonical axis-angle (radians, norm <= pi) from axis-angle or rotation matrices,
    with or without a leading batch of 1. Canonical so every component fits the ±180° sliders."""
    a = _to_numpy(x)
    if a.ndim >= 1 and a.shape[0] == 1 and a.size in (num_joints * 3, num_joints * 9):
        a = a[0]
    if a.size == num_joints * 9 and a.shape[-2:] == (3, 3):
        mats = torch.from_numpy(a.reshape(num_joints, 3, 3))
    elif a.size == num_joints * 3 and a.shape[-1] in (3, num_joints * 3):
        mats = axis_angle_to_rotmat(torch.from_numpy(a.reshape(num_joints, 3)))
    else:
        raise ValueError(f"{name} has shape {a.shape}; expected axis-angle ({num_joints * 3},) / ({num_joints}, 3) "
                         f"in radians, or rotation matrices ({num_joints}, 3, 3).")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf.")
    return rotmat_to_axis_angle(mats).numpy().astype(np.float32)


class BodyExplorer:
    """Interactive body: 10 shape sliders, per-joint axis-angle sliders, a 3D view and an image overlay.

    Args:
        body_model: a :class:`~workbench.body.model.BodyModel`.
        image: (H, W, 3) uint8 RGB photo; enables the 2D panel (overlay, keypoints, error).
        cam_t: (3,) camera-frame translation in m (default: centred, at the depth where a 1.7 m
            person fills 80% of the image height).
        focal: focal length in px, one number or (fx, fy) (default HMR 2.0's ``5000 / 256 * max(W, H)``).
        principal_point: (cx, cy) px (default the image centre).
        betas: (num_betas,) shape coefficients (default zeros).
        body_pose: (69,) / (23, 3) axis-angle in radians, or (23, 3, 3) matrices (default rest pose).
        global_orient: (3,) axis-angle or (3, 3) matrix (default [pi, 0, 0] with an image, i.e. upright
            in the camera frame; zeros otherwise).
        target_keypoints_2d: (44, 2) px in the image, or (44, 3) with a confidence column; rows that
            are NaN or have confidence <= 0 are ignored. Needs ``image``.
        max_image_side: the 2D panel is rendered at most this many px wide/high (errors stay in
            full-image px).
        continuous_update: update while a slider is dragged (True) or when it is released.
        num_threads: torch threads for the body model during an update (see the module docstring).
    """

    def __init__(self, body_model, image=None, cam_t=None, focal=None, principal_point=None, betas=None, body_pose=None,
                 global_orient=None, target_keypoints_2d=None, max_image_side: int = 640,
                 continuous_update: bool = False, num_threads: int = 1) -> None:
        self.model = body_model
        self.faces = body_model.faces
        self.num_threads = num_threads
        self.image = None if image is None else self._check_image(image)
        if target_keypoints_2d is not None and self.image is None:
            raise ValueError("target_keypoints_2d are image pixels: pass the image as well (image=...).")
        self.targets = None if target_keypoints_2d is None else self._check_targets(target_keypoints_2d)

        # 1. State: shape, 24 joint rotations (global orient first), camera.
        self._betas = np.zeros(body_model.num_betas, np.float32)
        if betas is not None:
            self._betas[:] = self._check_betas(betas)
        self._pose = np.zeros((NUM_SMPL_JOINTS, 3), np.float32)
        if body_pose is not None:
            self._pose[1:] = _as_axis_angle(body_pose, NUM_SMPL_JOINTS - 1, "body_pose")
        if global_orient is not None:
            self._pose[:1] = _as_axis_angle(global_orient, 1, "global_orient")
        elif self.image is not None:
            self._pose[0] = (np.pi, 0.0, 0.0)
        self._initial = (self._betas.copy(), self._pose.copy())
        self.focal: float | None = None
        self.cam_t = None if cam_t is None else _to_numpy(cam_t).reshape(-1)  # kept in state() even without image
        self.max_image_side = int(max_image_side)
        if self.image is not None:
            self._setup_camera(cam_t, focal, principal_point)

        # 2. Reused tensors: an update copies into them instead of allocating.
        ref = body_model.extra_regressor
        self._betas_t = torch.zeros(1, body_model.num_betas, dtype=ref.dtype, device=ref.device)
        self._pose_t = torch.zeros(1, NUM_SMPL_JOINTS, 3, dtype=ref.dtype, device=ref.device)

        # 3. Widgets, then the first draw.
        self._syncing = False
        self._build_widgets(self._forward(), continuous_update)
        self.last_update_ms = float("nan")
        self.update()

    def _build_widgets(self, output, continuous_update: bool) -> None:
        import ipywidgets as widgets
        import plotly.graph_objects as go

        # The figure is built once; updates only move its coordinates. A body whose head points
        # along -y (global_orient ≈ [pi, 0, 0]) is in the camera frame: show it -y up, from the camera.
        head_down_y = float(axis_angle_to_rotmat(torch.from_numpy(self._pose[0]))[1, 1]) < 0
        fig = body_figure(output, self.faces, frame="camera" if head_down_y else "body", half_extent=1.3,
                          color=PALETTE[0], height=480)
        self.figure = go.FigureWidget(fig.update_layout(width=480))
        self._bones = default_bones(NUM_SMPL_JOINTS)
        wide = widgets.Layout(width="300px")
        slider = dict(continuous_update=continuous_update, layout=wide)
        self.beta_sliders = [
            widgets.FloatSlider(value=float(b), min=min(-BETA_RANGE, b), max=max(BETA_RANGE, b), step=0.05,
                                description=f"β{i}", readout_format=".2f", **slider)
            for i, b in enumerate(self._betas)]
        self.joint_dropdown = widgets.Dropdown(options=list(SMPL_JOINT_NAMES), description="joint", layout=wide)
        self.rotation_sliders = [widgets.FloatSlider(value=0.0, min=-180, max=180, step=1, description=f"{a} (°)",
                                                     readout_format=".0f", **slider) for a in "xyz"]
        self.reset_button = widgets.Button(description="reset", layout=wide)
        self.image_widget = widgets.Image(format="jpeg") if self.image is not None else None
        self.label = widgets.HTML()
        self._on_joint({"new": self.joint_dropdown.value})
        for i, s in enumerate(self.beta_sliders):
            s.observe(lambda change, i=i: self._on_beta(i, change["new"]), names="value")
        for s in self.rotation_sliders:
            s.observe(self._on_rotation, names="value")
        self.joint_dropdown.observe(self._on_joint, names="value")
        self.reset_button.on_click(lambda _: self.reset())
        controls = widgets.VBox([widgets.HTML("<b>shape</b> (betas)"), *self.beta_sliders,
                                 widgets.HTML("<b>joint rotation</b> (axis-angle, degrees)"), self.joint_dropdown,
                                 *self.rotation_sliders, self.reset_button])
        views = [self.figure] + ([self.image_widget] if self.image_widget is not None else [])
        self.widget = widgets.VBox([widgets.HBox([controls, *views]), self.label])

    # ------------------------------------------------------------------ checks and camera
    @staticmethod
    def _check_image(image: Any) -> np.ndarray:
        img = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            desc = f"shape {img.shape}, dtype {img.dtype}"
            raise ValueError(
                f"image must be an (H, W, 3) uint8 RGB array; got {desc}. For a float image in [0, 1] pass "
                "(img * 255).round().astype(np.uint8); drop an alpha channel with img[..., :3]; convert "
                "cv2.imread's BGR with img[..., ::-1].copy(); for grey use np.repeat(img[..., None], 3, -1).")
        return np.ascontiguousarray(img)

    def _check_betas(self, betas: Any) -> np.ndarray:
        b = _to_numpy(betas)
        if b.ndim == 2 and b.shape[0] == 1:
            b = b[0]
        n = self.model.num_betas
        if b.shape != (n,) or not np.isfinite(b).all():
            raise ValueError(f"betas must be {n} finite numbers (the body model's num_betas); got shape {b.shape}. "
                             f"Pad with zeros or truncate, e.g. np.pad(betas, (0, {n} - len(betas))).")
        return b

    def _check_targets(self, targets: Any) -> np.ndarray:
        t = _to_numpy(targets)
        if t.ndim != 2 or t.shape[0] != NUM_HMR_JOINTS or t.shape[1] not in (2, 3):
            raise ValueError(f"target_keypoints_2d must be ({NUM_HMR_JOINTS}, 2) image px, or ({NUM_HMR_JOINTS}, 3) "
                             f"with a confidence column, in the 44-joint HMR order; got {t.shape}.")
        valid = np.isfinite(t[:, :2]).all(1) & ((t[:, 2] > 0) if t.shape[1] == 3 else True)
        return np.where(valid[:, None], t[:, :2], np.nan).astype(np.float32)

    def _setup_camera(self, cam_t: Any, focal: Any, principal_point: Any = None) -> None:
        from workbench.geometry.intrinsics import Intrinsics

        H, W = self.image.shape[:2]
        if focal is None:
            self.intrinsics = Intrinsics.default((H, W))
        else:
            f = np.asarray(focal, dtype=np.float64).reshape(-1)
            if f.size not in (1, 2) or not np.isfinite(f).all() or (f <= 0).any():
                raise ValueError(f"focal must be a positive focal length in pixels, or (fx, fy); got {focal!r}.")
            self.intrinsics = Intrinsics.from_user(f, principal_point, (H, W))
        if principal_point is not None and focal is None:
            self.intrinsics = Intrinsics.from_user(self.intrinsics.fx, principal_point, (H, W))
        self.focal = float(self.intrinsics.fx)
        if cam_t is None:
            cam_t = (0.0, 0.0, self.intrinsics.fy * 1.7 / (0.8 * H))
        self.cam_t = _to_numpy(cam_t).reshape(-1)
        if self.cam_t.shape != (3,) or not np.isfinite(self.cam_t).all() or self.cam_t[2] <= 0:
            raise ValueError(f"cam_t must be (3,) metres with z > 0 (in front of the camera); got {cam_t!r}.")
        scale = min(1.0, self.max_image_side / max(H, W))
        Hd, Wd = max(1, round(H * scale)), max(1, round(W * scale))
        self._display = (self.image if (Hd, Wd) == (H, W)
                         else cv2.resize(self.image, (Wd, Hd), interpolation=cv2.INTER_AREA))
        self._display_scale = np.array([Wd / W, Hd / H], np.float32)  # image px -> display px, per axis

    # ------------------------------------------------------------------ programmatic API
    def set_betas(self, betas: Any) -> None:
        """Set the (num_betas,) shape coefficients and move the sliders; call :meth:`update` to redraw."""
        self._betas[:] = self._check_betas(betas)
        with self._synced():
            for s, b in zip(self.beta_sliders, self._betas):
                s.min, s.max = min(s.min, float(b)), max(s.max, float(b))
                s.value = float(b)

    def set_joint_rotation(self, name: str, axis_angle_deg: Any) -> None:
        """Set one joint's local rotation, axis-angle (3,) in degrees; call :meth:`update` to redraw.

        ``name`` is one of ``SMPL_JOINT_NAMES`` ("pelvis" is the global orientation).
        """
        if name not in SMPL_JOINT_NAMES:
            raise ValueError(f"unknown joint {name!r}; use one of the 24 SMPL joint names: "
                             f"{', '.join(SMPL_JOINT_NAMES)}.")
        a = _to_numpy(axis_angle_deg).reshape(-1)
        if a.shape != (3,) or not np.isfinite(a).all():
            raise ValueError(f"axis_angle_deg must be 3 finite numbers (degrees); got {axis_angle_deg!r}.")
        self._pose[SMPL_JOINT_NAMES.index(name)] = _as_axis_angle(np.deg2rad(a), 1, "axis_angle_deg")[0]
        if name == self.joint_dropdown.value:
            self._sync_rotation_sliders()

    def reset(self) -> float:
        """Back to the shape and pose given at construction; redraws and returns the latency in ms."""
        self.set_betas(self._initial[0])
        self._pose[:] = self._initial[1]
        self._sync_rotation_sliders()
        return self.update()

    def state(self) -> dict[str, np.ndarray | float | None]:
        """Copies of the current parameters: ``betas`` (num_betas,), ``global_orient`` (3,) and
        ``body_pose`` (23, 3) axis-angle in radians, ``cam_t`` (3,) m or None, ``focal`` px or None."""
        return dict(betas=self._betas.copy(), global_orient=self._pose[0].copy(), body_pose=self._pose[1:].copy(),
                    cam_t=None if self.cam_t is None else self.cam_t.copy(), focal=self.focal)

    def update(self) -> float:
        """Run the body model and redraw the 3D view (and the 2D panel). Returns the latency in ms."""
        start = time.perf_counter()
        output = self._forward()
        vertices, joints = output.vertices[0].numpy(), output.joints[0].numpy()
        with self.figure.batch_update():
            mesh, bones, points = self.figure.data[:3]
            # Contiguous float32 1-D arrays travel to the browser as binary buffers, not JSON lists.
            mesh.x, mesh.y, mesh.z = (np.ascontiguousarray(vertices[:, i]) for i in range(3))
            bones.x, bones.y, bones.z = bone_polyline(joints, self._bones)
            points.x, points.y, points.z = (np.ascontiguousarray(joints[:, i]) for i in range(3))
        if self.image is not None:
            self._keypoints_2d = self._project(output.keypoints[0].numpy())
            self.image_widget.value = self._render_panel(vertices + self.cam_t)
        self.last_update_ms = (time.perf_counter() - start) * 1e3
        self.label.value = self._label_text()
        return self.last_update_ms

    @property
    def keypoints_2d(self) -> np.ndarray | None:
        """(44, 2) projected HMR keypoints in full-image px after the last update; None without image."""
        return None if self.image is None else self._keypoints_2d.copy()

    def reprojection_error(self) -> float | None:
        """Mean distance in image px between projected and target keypoints (valid targets only)."""
        if self.targets is None:
            return None
        d = np.linalg.norm(self._keypoints_2d - self.targets, axis=1)
        return float(np.nanmean(d)) if np.isfinite(d).any() else None

    # ------------------------------------------------------------------ internals
    def _forward(self):
        with torch.inference_mode(), torch_threads(self.num_threads):
            self._betas_t.copy_(torch.from_numpy(self._betas)[None])
            self._pose_t.copy_(torch.from_numpy(self._pose)[None])
            out = self.model(pose=self._pose_t, betas=self._betas_t)
        return dataclasses.replace(out, vertices=out.vertices.float().cpu(), joints=out.joints.float().cpu(),
                                   keypoints=out.keypoints.float().cpu())

    def _project(self, keypoints: np.ndarray) -> np.ndarray:
        """(44, 3) body-frame keypoints -> (44, 2) full-image px."""
        return self.intrinsics.project(keypoints + self.cam_t).astype(np.float32)

    def _render_panel(self, vertices_cam: np.ndarray) -> bytes:
        """Overlay at display resolution, keypoints on top, as JPEG bytes (at 548x342: 1 ms and 54 kB,
        against 9 ms and 317 kB for PNG; every update sends them to the browser)."""
        from workbench.render import overlay  # warp is imported (and compiles once) only with an image

        Hd, Wd = self._display.shape[:2]
        sx, sy = self._display_scale
        k = self.intrinsics
        rgb = overlay(self._display, vertices_cam, self.faces, (k.fx * sx, k.fy * sy), (k.cx * sx, k.cy * sy),
                      color=hex_to_rgb(PALETTE[0]), alpha=0.8)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        r = max(2, round(max(Hd, Wd) / 160))
        projected = self._keypoints_2d * self._display_scale
        if self.targets is not None:
            targets = self.targets * self._display_scale
            for p, t in zip(projected, targets):
                if np.isfinite(t).all():
                    cv2.line(bgr, _px(p), _px(t), RESIDUAL_BGR, 1, cv2.LINE_AA)
                    cv2.drawMarker(bgr, _px(t), TARGET_BGR, cv2.MARKER_CROSS, 3 * r, 2, cv2.LINE_AA)
        for p in projected:
            cv2.circle(bgr, _px(p), r, PROJECTED_BGR, -1, cv2.LINE_AA)
        return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    def _label_text(self) -> str:
        timing = f"update {self.last_update_ms:.0f} ms"
        if self.targets is None:
            return timing
        err = self.reprojection_error()
        n = int(np.isfinite(self.targets).all(1).sum())
        shown = "n/a" if err is None else f"{err:.1f} px"
        return (f"reprojection error <b>{shown}</b> (mean over {n} keypoints; green: model, red: target) · {timing}")

    @contextlib.contextmanager
    def _synced(self):
        """Move widgets to match the state without their observers firing an update."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _sync_rotation_sliders(self) -> None:
        deg = np.rad2deg(self._pose[SMPL_JOINT_NAMES.index(self.joint_dropdown.value)])
        with self._synced():
            for s, d in zip(self.rotation_sliders, deg):
                s.value = float(d)

    def _on_beta(self, i: int, value: float) -> None:
        if not self._syncing:
            self._betas[i] = value
            self.update()

    def _on_rotation(self, _change) -> None:
        if not self._syncing:
            self.set_joint_rotation(self.joint_dropdown.value, [s.value for s in self.rotation_sliders])
            self.update()

    def _on_joint(self, change) -> None:
        self._sync_rotation_sliders()
        selected = SMPL_JOINT_NAMES.index(change["new"])
        points = self.figure.data[2]
        points.marker.color = [SELECTED_COLOR if j == selected else JOINT_COLOR for j in range(NUM_SMPL_JOINTS)]
        points.marker.size = [7 if j == selected else 3 for j in range(NUM_SMPL_JOINTS)]

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _px(p: np.ndarray) -> tuple[int, int]:
    """Display px (float) to an OpenCV point; clipped so far-off keypoints cannot overflow int."""
    x, y = np.clip(np.nan_to_num(p, nan=-1e5), -1e5, 1e5)
    return int(round(float(x))), int(round(float(y)))
