"""The ground plane from the tracked people's feet: robust fit, floor frame, trajectories, the viewer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.ground import GroundPlane, fit_ground_plane, fit_plane_to_points, floor_trajectories, \
    ground_plane_error
from workbench.tracking.ground_benchmark import true_ground


def _camera_plane(pitch_deg: float, roll_deg: float, height: float) -> GroundPlane:
    """The floor seen by a camera ``height`` m above it, pitched down and rolled (camera frame)."""
    R = Rotation.from_euler("xz", [180 + pitch_deg, roll_deg], degrees=True).as_matrix()  # R_z(roll) R_x(pi + pitch)
    return GroundPlane(R @ np.array([0.0, 1.0, 0.0]), height)


def _feet(plane: GroundPlane, n: int, rng, noise: float = 0.01, outliers: float = 0.2) -> np.ndarray:
    """Points on the floor 2-10 m ahead, ``noise`` m of jitter, a share ``outliers`` lifted 0.1-0.6 m
    (swing feet, bad estimates) or sunk."""
    xz = np.column_stack([rng.uniform(-3, 3, n), rng.uniform(2, 10, n)])
    h = rng.normal(0, noise, n)
    bad = rng.random(n) < outliers
    h[bad] = rng.uniform(0.1, 0.6, bad.sum()) * rng.choice([1, 1, 1, -1], bad.sum())
    return plane.from_floor(xz, h)


def test_plane_recovered_from_noisy_feet_with_outliers():
    rng = np.random.default_rng(0)
    for pitch, roll, height in [(8, 0, 1.7), (25, 4, 3.0), (-5, -2, 1.2)]:
        truth = _camera_plane(pitch, roll, height)
        assert truth.camera_pitch_deg == pytest.approx(pitch)
        assert truth.camera_roll_deg == pytest.approx(roll)
        fit = fit_plane_to_points(_feet(truth, 300, rng), up=(0, -1, 0))
        err = ground_plane_error(fit, truth.normal, height)
        assert err["normal_error_deg"] < 1.0 and abs(err["height_error_cm"]) < 2.0
        assert 0.7 < fit.inlier_fraction < 0.9 and fit.rms < 0.02


def test_tilt_limit_keeps_the_floor_over_a_larger_wall_of_bad_feet():
    rng = np.random.default_rng(3)
    floor = _camera_plane(8, 0, 1.7)
    wall = GroundPlane(np.array([0.0, 0.0, 1.0]), -6.0)  # z = 6 m: feet whose depths collapsed onto one value
    points = np.concatenate([_feet(floor, 100, rng, outliers=0.0),
                             wall.from_floor(rng.uniform(-3, 3, (160, 2)))])
    assert ground_plane_error(fit_plane_to_points(points), floor.normal, 1.7)["normal_error_deg"] > 45
    fit = fit_plane_to_points(points, up=(0, -1, 0), max_tilt_deg=45)
    assert ground_plane_error(fit, floor.normal, 1.7)["normal_error_deg"] < 1.0


def test_degenerate_or_too_few_feet_raise():
    rng = np.random.default_rng(1)
    plane = _camera_plane(8, 0, 1.7)
    one_spot = plane.from_floor(np.array([1.0, 5.0]) + rng.normal(0, 0.02, (100, 2)))
    with pytest.raises(ValueError, match="one spot or along one line"):
        fit_plane_to_points(one_spot)
    line = plane.from_floor(np.column_stack([np.linspace(-3, 3, 100), np.full(100, 5.0)]))
    with pytest.raises(ValueError, match="one spot or along one line"):
        fit_plane_to_points(line)
    with pytest.raises(ValueError, match="at least"):
        fit_plane_to_points(_feet(plane, 5, rng))
    points = _feet(plane, 50, rng)
    points[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_plane_to_points(points)
    with pytest.raises(ValueError, match="shape"):
        fit_plane_to_points(np.zeros((10, 2)))


def test_floor_frame():
    plane = _camera_plane(12, 3, 1.6)
    axes = plane.axes
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(axes) == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    xz = rng.uniform(-5, 5, (20, 2))
    on_floor = plane.from_floor(xz)
    np.testing.assert_allclose(plane.height(on_floor), 0, atol=1e-12)
    back, h = plane.to_floor(on_floor)
    np.testing.assert_allclose(back, xz, atol=1e-12)
    np.testing.assert_allclose(h, 0, atol=1e-12)
    assert plane.height(np.zeros(3)) == pytest.approx(1.6)  # the camera
    np.testing.assert_allclose(plane.to_floor(np.zeros(3))[0], 0, atol=1e-12)  # stands over the floor origin
    ahead, _ = plane.to_floor(np.array([0.0, 0.0, 5.0]))  # a point on the optical axis is straight ahead
    assert abs(ahead[0]) < 1e-9 and ahead[1] > 0
    right, _ = plane.to_floor(np.array([1.0, 0.0, 5.0]))
    assert right[0] > 0


@pytest.fixture(scope="module")
def tracked():
    """A tiny static synthetic video, tracked with ground-truth poses."""
    from workbench.tracking.benchmark import Method, run_method
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, \
        simulate_detections

    video = render_video(SynthVideoConfig.tiny(seed=5, camera_pitch_deg=12.0, camera_height=2.2))
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    result = run_method(video, Method(engine="ground_truth", terms="PLN"), detections, {})
    result.intrinsics = video.intrinsics
    return video, result


def test_ground_plane_of_a_synthetic_video(tracked):
    video, result = tracked
    normal, height = true_ground(video)
    plane = fit_ground_plane(result)
    err = ground_plane_error(plane, normal, height)
    assert err["normal_error_deg"] < 0.5 and abs(err["height_error_cm"]) < 2.0
    assert plane.camera_pitch_deg == pytest.approx(12.0, abs=0.5)
    assert plane.intrinsics == result.intrinsics
    # HMR 2.0's default lens stretches depth ~20x: the floor comes out nearly level instead of 12 deg down.
    true_k, result.intrinsics = result.intrinsics, None
    try:
        wrong = fit_ground_plane(result)
    finally:
        result.intrinsics = true_k
    assert ground_plane_error(wrong, normal, height)["normal_error_deg"] > 5.0


def test_floor_trajectories_table_and_viewer(tracked, body):
    from workbench.tracking.outputs import tracks_4d_figure, tracks_table

    video, result = tracked
    plane = fit_ground_plane(result)
    traj = floor_trajectories(result, plane)
    assert list(traj.columns) == ["frame", "time_s", "track_id", "observed", "floor_x", "floor_z", "pelvis_height"]
    assert len(traj) == len(result.table())
    assert traj.pelvis_height.between(0.6, 1.3).all()  # standing or walking adults
    assert (traj.floor_z > 1.0).all()  # everyone is in front of the camera
    table = tracks_table(result, plane)
    assert {"floor_x", "floor_z", "pelvis_height"} <= set(table.columns) and table.floor_x.notna().all()
    assert "floor_x" not in tracks_table(result).columns
    fig = tracks_4d_figure(result, body, points_per_person=20, plane=plane)
    names = [t.name for t in fig.data]
    assert "floor" in names and "camera" in names
    assert "floor" not in [t.name for t in tracks_4d_figure(result, body, points_per_person=20).data]
    other = GroundPlane(plane.normal, plane.offset, intrinsics=Intrinsics(999, 999, 80, 60))
    with pytest.raises(ValueError, match="another camera|fitted in camera"):
        tracks_4d_figure(result, body, points_per_person=20, plane=other)
