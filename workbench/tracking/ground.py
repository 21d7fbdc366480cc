"""The ground plane of a static camera, from where the tracked people put their feet.

People stand on the floor: in every frame, each person's lowest foot point touches it. Collected
over a video, those contact points sample one plane in the camera frame; a robust fit (MSAC, then
least squares on the inliers) gives its up normal and the camera's height above it, and with them
the camera's pitch and roll and every trajectory in metres on the floor.

    >>> plane = fit_ground_plane(result)                   # result.intrinsics should be the true camera  # doctest: +SKIP
    >>> plane.camera_height, plane.camera_pitch_deg        # doctest: +SKIP
    >>> floor_trajectories(result, plane).head()           # doctest: +SKIP

Frames. Camera: metres, x right, y down, z forward (OpenCV), the camera of ``result.intrinsics``
(:func:`~workbench.tracking.motion.reporting_intrinsics`). Floor: origin at the camera's foot point
(the camera centre dropped onto the plane), ``z`` forward along the viewing direction projected onto
the floor, ``x`` to the right, and height up (against gravity).

Assumptions. The camera does not move: a handheld or tilting camera moves the plane in the camera
frame and the fit breaks (few inliers, a large residual). A pure pan about the vertical axis keeps
the plane fixed in the camera frame, so the plane and heights stay right, but floor coordinates then
turn with the camera. Depth, hence the plane, is only as good as the intrinsics: with HMR 2.0's
default focal (a 2.9° lens) people are stretched ~20x in depth and the floor comes out tilted
(``python -m workbench.tracking.ground --benchmark`` measures it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GroundPlane", "fit_ground_plane", "fit_plane_to_points", "floor_trajectories", "foot_contact_points",
           "ground_plane_error"]

FOOT_JOINTS = (7, 8, 10, 11)  # SMPL left/right ankle and foot: the vertices they mostly skin are the feet
MID_HIP = 8  # OpenPose MidHip in the 44 HMR 2.0 keypoints: a track's position on the floor


@dataclass(frozen=True, eq=False)
class GroundPlane:
    """The floor in the camera frame: ``height(x) = normal . x + offset`` (metres).

    Attributes:
        normal: (3,) unit vector pointing up (against gravity) in camera coordinates (y is down, so
            a level camera has normal ~ (0, -1, 0)).
        offset: metres; the camera centre's height above the floor.
        rms: root-mean-square distance of the inlier feet to the plane, metres (NaN if not fitted).
        num_points: feet points the fit saw. inlier_fraction: the share within the threshold.
        intrinsics: the camera the points were in (None: unknown).
    """

    normal: np.ndarray
    offset: float
    rms: float = float("nan")
    num_points: int = 0
    inlier_fraction: float = float("nan")
    intrinsics: object = None

    def height(self, points) -> np.ndarray:
        """(..., 3) camera points, metres -> (...,) signed height above the floor, metres."""
        return np.asarray(points, np.float64) @ self.normal + self.offset

    @property
    def axes(self) -> np.ndarray:
        """(3, 3) rows: floor x (right), floor z (forward), up, as camera-frame unit vectors."""
        forward = np.array([0.0, 0.0, 1.0]) - self.normal[2] * self.normal
        if np.linalg.norm(forward) < 1e-6:  # looking straight down: image up is "forward"
            forward = np.array([0.0, -1.0, 0.0]) - self.normal[1] * self.normal
        forward /= np.linalg.norm(forward)
        return np.stack([np.cross(forward, self.normal), forward, self.normal])

    @property
    def origin(self) -> np.ndarray:
        """(3,) the camera's foot point (floor origin) in camera coordinates, metres."""
        return -self.offset * self.normal

    def to_floor(self, points) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) camera points -> floor coordinates (..., 2) ``(x right, z forward)`` and height (...,), metres."""
        local = (np.asarray(points, np.float64) - self.origin) @ self.axes.T
        return local[..., :2], local[..., 2]

    def from_floor(self, xz, height=0.0) -> np.ndarray:
        """Floor coordinates (..., 2) and height (...,) (metres) -> (..., 3) camera points."""
        xz = np.asarray(xz, np.float64)
        h = np.broadcast_to(np.asarray(height, np.float64), xz.shape[:-1])
        return self.origin + np.concatenate([xz, h[..., None]], -1) @ self.axes

    @property
    def camera_height(self) -> float:
        """Metres of the camera centre above the floor."""
        return float(self.offset)

    @property
    def camera_pitch_deg(self) -> float:
        """Degrees the optical axis points below the horizon (negative: looking up)."""
        return math.degrees(math.asin(float(np.clip(-self.normal[2], -1.0, 1.0))))

    @property
    def camera_roll_deg(self) -> float:
        """Degrees the horizon is turned in the image: 0 level, positive when "up" leans to image right."""
        return math.degrees(math.atan2(float(self.normal[0]), float(-self.normal[1])))

    def as_dict(self) -> dict:
        """Plain numbers for ``summary.json``."""
        return {"normal": [round(float(v), 6) for v in self.normal], "camera_height_m": round(self.camera_height, 4),
                "camera_pitch_deg": round(self.camera_pitch_deg, 3), "camera_roll_deg": round(self.camera_roll_deg, 3),
                "rms_m": round(float(self.rms), 4), "num_points": int(self.num_points),
                "inlier_fraction": round(float(self.inlier_fraction), 3)}


def _plane_through(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane of (N, 3) points: unit normal (3,) and offset d with n . x + d = 0."""
    centre = points.mean(0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][-1]
    return normal, -float(normal @ centre)


def fit_plane_to_points(points, *, threshold: float = 0.05, iterations: int = 256, min_points: int = 10,
                        min_spread: float = 0.25, up=(0.0, -1.0, 0.0), max_tilt_deg: float | None = None, seed: int = 0,
                        intrinsics=None) -> GroundPlane:
    """Robust plane through (N, 3) floor-contact points (metres, camera frame).

    1. MSAC: ``iterations`` random triples, each plane scored by ``sum(min(d^2, threshold^2))``.
    2. Least squares on the best plane's inliers (``|d| < threshold``), twice (inliers re-selected).
    3. The normal is turned to agree with ``up`` (3,), a rough up direction (default: image up).

    ``max_tilt_deg``: candidate planes whose normal is further than this from ``up`` are not
    considered (None: any), so noisy feet spread in depth cannot win with a wall-like plane.

    Raises:
        ValueError: non-finite points, fewer than ``min_points``, or points that do not span a
            plane: their second principal spread (std, metres) is below ``min_spread`` (everyone at
            one spot, or walking along one line), or too few inliers.
    """
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"points have shape {p.shape}; expected (N, 3) metres.")
    if not np.isfinite(p).all():
        raise ValueError("foot points contain NaN or inf; drop them before fitting a ground plane.")
    if len(p) < min_points:
        raise ValueError(f"only {len(p)} foot points; a ground plane needs at least {min_points} "
                         "(track more frames, or more people).")
    spread = np.linalg.svd(p - p.mean(0), compute_uv=False) / math.sqrt(len(p))
    if spread[1] < min_spread:
        raise ValueError(f"the feet are degenerate for a plane: they spread {spread[0]:.2f} m along one direction "
                         f"but only {spread[1]:.2f} m across it (< {min_spread} m), i.e. at one spot or along one "
                         "line, so the floor's tilt about that line is unknown. Needs people at several places.")
    # 1. MSAC over random triples (all at once).
    rng = np.random.default_rng(seed)
    tri = p[np.stack([rng.choice(len(p), 3, replace=False) for _ in range(iterations)])]  # (I, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(normals, axis=1)
    ok = norm > 1e-9
    if not ok.any():
        raise ValueError("every sampled triple of foot points is collinear; the feet do not span a plane.")
    normals = normals[ok] / norm[ok, None]
    tri = tri[ok]
    if max_tilt_deg is not None:
        u = np.asarray(up, np.float64) / np.linalg.norm(up)
        upright = np.abs(normals @ u) >= math.cos(math.radians(max_tilt_deg))
        if not upright.any():
            raise ValueError(f"no plane through the feet is within {max_tilt_deg} deg of the people's up direction; "
                             "the feet are too noisy, or the intrinsics are wrong.")
        normals, tri = normals[upright], tri[upright]
    d = -np.einsum("ij,ij->i", normals, tri[:, 0])
    residual = np.abs(p @ normals.T + d)  # (N, I)
    best = int(np.argmin((np.minimum(residual, threshold) ** 2).sum(0)))
    inliers = residual[:, best] < threshold
    # 2. Least squares on the inliers, re-selected once with the refined plane.
    for _ in range(2):
        if inliers.sum() < 3:
            break
        normal, offset = _plane_through(p[inliers])
        inliers = np.abs(p @ normal + offset) < threshold
    if inliers.sum() < max(3, min_points // 2):
        raise ValueError(f"only {int(inliers.sum())} of {len(p)} foot points lie within {threshold} m of one plane; "
                         "the feet are too noisy or the camera moves. Raise threshold= or check the intrinsics.")
    normal, offset = _plane_through(p[inliers])
    # 3. Orient up.
    if normal @ np.asarray(up, np.float64) < 0:
        normal, offset = -normal, -offset
    rms = float(np.sqrt(np.mean((p[inliers] @ normal + offset) ** 2)))
    return GroundPlane(normal, offset, rms, len(p), float(inliers.mean()), intrinsics)


@functools.lru_cache(maxsize=4)
def _foot_vertices(body) -> np.ndarray:
    """Indices of the vertices skinned mostly to the ankles and feet of ``body``."""
    weights = body.layer.lbs_weights.detach().cpu().numpy()
    return np.flatnonzero(np.isin(weights.argmax(1), FOOT_JOINTS))


def _as_motions(source):
    from workbench.tracking.motion import track_motions

    if isinstance(source, dict):
        return list(source.values()), None
    if hasattr(source, "people"):
        return list(track_motions(source).values()), source
    return list(source), None


def foot_contact_points(motions, body, up=None, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The lowest foot vertex of every observed frame of every track.

    The lowest vertex of the feet, not the ankle joint, because it is what touches the floor (and what
    the synthetic videos put on it): the ankle sits 6-10 cm above the sole by an amount that changes
    with heel strike and toe-off. Frames filled by amodal completion are skipped.

    Args:
        motions: :class:`~workbench.tracking.motion.TrackMotion` s (camera frame of their intrinsics).
        body: the body model they were estimated with.
        up: (3,) camera-frame up that "lowest" is measured against; default: the mean up axis of the
            people's bodies (their root's y axis), which is gravity's for people standing or walking.

    Returns:
        points (N, 3) metres and the up (3,) used.
    """
    import torch

    motions = [m for m in motions if m.observed.any()]
    if not motions:
        raise ValueError("no observed frames in any track: there are no feet to fit a ground plane to.")
    go = np.concatenate([m.global_orient[m.observed] for m in motions])
    if up is None:
        up = go[:, :, 1].mean(0)  # the body's rest up (+y) in the camera
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    feet = _foot_vertices(body)
    out = []
    for m in motions:
        sel = np.flatnonzero(m.observed)
        for s in range(0, len(sel), batch):
            i = sel[s:s + batch]
            with torch.no_grad():
                v = body(global_orient=torch.as_tensor(m.global_orient[i, None], dtype=torch.float32),
                         body_pose=torch.as_tensor(m.body_pose[i], dtype=torch.float32),
                         betas=torch.as_tensor(m.betas[i], dtype=torch.float32)).vertices[:, feet].double().numpy()
            v += m.transl[i, None]
            out.append(v[np.arange(len(i)), np.argmin(v @ up, axis=1)])
    return np.concatenate(out), up


def fit_ground_plane(source, body=None, *, threshold: float = 0.05, min_points: int = 20, min_spread: float = 0.25,
                     max_tilt_deg: float = 45.0, refine: int = 2, seed: int = 0) -> GroundPlane:
    """The floor under the tracked people of a static camera (see the module docstring).

    Args:
        source: a :class:`~workbench.tracking.pipeline.TrackingResult` (its reporting camera: give the
            true ``intrinsics``), or TrackMotions (a dict by id or a list).
        body: the body model (default: ``result.body``).
        threshold: inlier distance, metres. min_points, min_spread: see :func:`fit_plane_to_points`.
        max_tilt_deg: the floor's normal is at most this far from the people's mean body axis (they
            stand on it), which keeps depth-noisy feet from fitting a wall-like plane.
        refine: rounds of re-choosing each frame's lowest foot point against the last fitted normal.

    Returns:
        :class:`GroundPlane` in the source's camera frame.

    Raises:
        ValueError: no body, too few feet, degenerate feet (one spot, one line), no consistent plane.
    """
    motions, result = _as_motions(source)
    body = body if body is not None else getattr(result, "body", None)
    if body is None:
        raise ValueError("fit_ground_plane needs the body model the people were estimated with (body=...).")
    intrinsics = motions[0].intrinsics if motions else None
    up, plane = None, None
    for _ in range(max(1, refine)):
        points, up = foot_contact_points(motions, body, up)
        plane = fit_plane_to_points(points, threshold=threshold, min_points=min_points, min_spread=min_spread, up=up,
                                    max_tilt_deg=max_tilt_deg, seed=seed, intrinsics=intrinsics)
        up = plane.normal
    return plane


def floor_trajectories(result, plane: GroundPlane) -> pd.DataFrame:
    """Where every track is on the floor: one row per (frame, track).

    Returns:
        columns ``frame, time_s, track_id, observed, floor_x, floor_z`` (metres: the mid-hip dropped
        onto the floor, in the floor frame of ``plane``) and ``pelvis_height`` (metres above the floor).
    """
    from workbench.tracking.motion import track_motions

    cols = ["frame", "time_s", "track_id", "observed", "floor_x", "floor_z", "pelvis_height"]
    keypoints = {(p.frame, p.track_id): p.record.joints_3d[MID_HIP] for ps in result.people.values() for p in ps}
    parts = []
    for tid, m in track_motions(result).items():
        hips = np.stack([keypoints[(int(f), tid)] for f in m.frames]) + m.transl
        xz, h = plane.to_floor(hips)
        parts.append(pd.DataFrame({"frame": m.frames, "time_s": m.times, "track_id": tid, "observed": m.observed,
                                   "floor_x": xz[:, 0], "floor_z": xz[:, 1], "pelvis_height": h}))
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True).sort_values(["frame", "track_id"], ignore_index=True)[cols]


def ground_plane_error(plane: GroundPlane, true_normal, true_height: float) -> dict:
    """How far a fitted plane is from the truth: normal angle (degrees) and camera height (cm, signed:
    fitted minus true)."""
    n = np.asarray(true_normal, np.float64)
    cos = float(np.clip(plane.normal @ n / np.linalg.norm(n), -1.0, 1.0))
    return {"normal_error_deg": math.degrees(math.acos(cos)),
            "height_error_cm": 100.0 * (plane.camera_height - float(true_height))}


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.tracking.ground --benchmark [--fast]``: print the fit-error table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workbench.tracking.ground", description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", action="store_true", help="fit on the synthetic videos, print the errors")
    parser.add_argument("--fast", action="store_true", help="small videos, ground-truth engine only")
    args = parser.parse_args(argv)
    if not args.benchmark:
        parser.print_help()
        return 0
    from workbench.tracking.ground_benchmark import ground_benchmark, summarise

    table = ground_benchmark(fast=args.fast)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        print()
        print(summarise(table).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
