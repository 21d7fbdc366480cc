import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.evaluate.motion_metrics import acceleration_error
from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.motion import TrackMotion, track_motions
from workbench.tracking.smoothing import SmoothConfig, gaussian_filter, one_euro_filter, smooth_motion, smooth_result
from workbench.tracking.smoothing_benchmark import PoseNoise, noisy_lookup, smpl_joints, track_identities

torch.set_num_threads(1)
FPS = 30.0


def _sinusoid(frames, noise_deg=6.0, noise_m=0.03, seed=0):
    """(clean, noisy) TrackMotion: joints swinging at 1 Hz, walking sideways, plus per-frame noise."""
    frames = np.asarray(frames)
    T, t = len(frames), frames / FPS
    rng = np.random.default_rng(seed)
    swing = 0.6 * np.sin(2 * np.pi * t)[:, None, None] * np.linspace(0.2, 1.0, 24)[None, :, None] * [1, 0.5, 0]
    transl = np.stack([np.sin(2 * np.pi * 0.5 * t), 0.1 * np.cos(2 * np.pi * t), 5 + 0.5 * t], 1)
    noisy_aa = (Rotation.from_rotvec(np.deg2rad(noise_deg) / np.sqrt(3) * rng.normal(size=(T * 24, 3)))
                * Rotation.from_rotvec(swing.reshape(-1, 3))).as_matrix().reshape(T, 24, 3, 3)
    clean_aa = Rotation.from_rotvec(swing.reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)

    def motion(R, tr):
        return TrackMotion(7, frames, R[:, 0], R[:, 1:], np.zeros((T, 10)), tr, np.ones(T, bool), FPS,
                           Intrinsics(500.0, 500.0, 320.0, 240.0))

    return motion(clean_aa, transl), motion(noisy_aa, transl + noise_m * rng.normal(size=(T, 3)))


def _joints(body, m: TrackMotion) -> np.ndarray:
    return smpl_joints(body, m.rotmats, m.betas) + m.transl[:, None]


@pytest.mark.parametrize("method", ["one_euro", "gaussian"])
def test_smoothing_lowers_acceleration_error_of_noisy_sinusoid(body, method):
    clean, noisy = _sinusoid(np.arange(60))
    gt = _joints(body, clean)
    smoothed = smooth_motion(noisy, SmoothConfig(strength=0.5, method=method))
    raw_err = acceleration_error(_joints(body, noisy), gt)
    assert acceleration_error(_joints(body, smoothed), gt) < 0.3 * raw_err
    # The root translation alone, too.
    assert (acceleration_error(smoothed.transl[:, None], clean.transl[:, None])
            < 0.3 * acceleration_error(noisy.transl[:, None], clean.transl[:, None]))


def test_strength_zero_is_identity():
    _, noisy = _sinusoid(np.arange(20))
    out = smooth_motion(noisy, SmoothConfig(strength=0.0))
    for name in ("global_orient", "body_pose", "transl", "betas", "frames"):
        np.testing.assert_array_equal(getattr(out, name), getattr(noisy, name))
    assert out.global_orient is not noisy.global_orient  # a copy, not the caller's arrays
    only_rot = smooth_motion(noisy, SmoothConfig(strength=0.5, translation_strength=0.0))
    np.testing.assert_array_equal(only_rot.transl, noisy.transl)
    assert not np.allclose(only_rot.body_pose, noisy.body_pose)


@pytest.mark.parametrize("method", ["one_euro", "gaussian"])
def test_rotations_stay_rotations(method):
    _, noisy = _sinusoid(np.arange(40), noise_deg=30.0)
    R = smooth_motion(noisy, SmoothConfig(strength=1.0, method=method)).rotmats
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)


@pytest.mark.parametrize("method", ["one_euro", "gaussian"])
def test_frame_gaps_are_longer_time_steps(method):
    """A jump across a 15-frame gap is mostly real motion: it is smoothed less than a jump between neighbours."""
    x = np.concatenate([np.zeros(10), np.ones(10)])[:, None]
    config = SmoothConfig(strength=0.5, method=method)
    gap_frames = np.concatenate([np.arange(10), np.arange(25, 35)])

    def smoothed(frames):
        m = TrackMotion(1, frames, np.broadcast_to(np.eye(3), (20, 3, 3)).copy(),
                        np.broadcast_to(np.eye(3), (20, 23, 3, 3)).copy(), np.zeros((20, 10)),
                        np.concatenate([x, x, x], 1), np.ones(20, bool), FPS, Intrinsics(1, 1, 0, 0))
        return smooth_motion(m, config).transl[:, 0]

    with_gap, contiguous = smoothed(gap_frames), smoothed(np.arange(20))
    assert abs(with_gap[10] - 1) < 0.5 * abs(contiguous[10] - 1)
    assert abs(with_gap[9]) < 0.5 * abs(contiguous[9])


def test_filters_keep_constants_and_check_times():
    x = np.full((15, 2), 3.0)
    t = np.arange(15) / FPS
    np.testing.assert_allclose(one_euro_filter(x, t, 1.0, 0.3), x)
    np.testing.assert_allclose(gaussian_filter(x, t, 0.1), x)
    with pytest.raises(ValueError, match="strictly increasing"):
        one_euro_filter(x, t[::-1], 1.0, 0.3)
    _, noisy = _sinusoid(np.arange(5))
    noisy.frames = np.array([0, 1, 1, 2, 3])
    with pytest.raises(ValueError, match="strictly increasing"):
        smooth_motion(noisy, SmoothConfig())
    single = smooth_motion(_sinusoid(np.arange(1))[1])
    assert len(single) == 1


def test_zero_phase_does_not_lag():
    """On a ramp a causal low-pass trails by (slope x time constant); forward-backward cancels it."""
    t = np.arange(90) / FPS
    ramp = 2.0 * t[:, None]
    lag = {zp: np.abs(one_euro_filter(ramp, t, 1.0, 0.0, zero_phase=zp) - ramp)[30:-30].mean() for zp in (True, False)}
    assert lag[False] == pytest.approx(2.0 / (2 * np.pi), rel=0.2)
    assert lag[True] < 0.05 * lag[False]


@pytest.mark.parametrize("kwargs, match", [
    (dict(strength=1.5), "strength"), (dict(strength=-0.1), "strength"), (dict(strength="0.5"), "strength"),
    (dict(translation_strength=2.0), "translation_strength"), (dict(method="kalman"), "method"),
    (dict(min_cutoff_hz=(0.0, 1.0)), "min_cutoff_hz"), (dict(beta_rotation=-1.0), "beta_rotation"),
])
def test_bad_config_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmoothConfig(**kwargs)


def test_smpl_joints_match_the_body_model(body):
    rng = np.random.default_rng(0)
    R = Rotation.from_rotvec(0.4 * rng.normal(size=(3 * 24, 3))).as_matrix().reshape(3, 24, 3, 3)
    betas = rng.normal(size=(3, 10))
    out = body(global_orient=torch.as_tensor(R[:, :1]).float(), body_pose=torch.as_tensor(R[:, 1:]).float(),
               betas=torch.as_tensor(betas).float())
    np.testing.assert_allclose(smpl_joints(body, R, betas), out.joints[:, :24].numpy(), atol=1e-5)


def test_noisy_lookup_is_deterministic():
    gt = {"global_orient": np.zeros(3), "body_pose": np.zeros((23, 3)), "betas": np.zeros(10),
          "transl": np.array([0.0, 0.0, 5.0])}
    lookup = noisy_lookup(lambda f, i: None if i < 0 else gt, PoseNoise(rotation_deg=10.0))
    a, b = lookup(3, 1), lookup(3, 1)
    np.testing.assert_array_equal(a["body_pose"], b["body_pose"])
    assert not np.allclose(lookup(4, 1)["body_pose"], a["body_pose"])
    assert lookup(3, -1) is None
    angles = np.linalg.norm(np.concatenate([lookup(f, 1)["body_pose"] for f in range(40)]), axis=1)
    assert np.sqrt(np.mean(angles ** 2)) == pytest.approx(np.deg2rad(10.0), rel=0.15)


@pytest.fixture(scope="module")
def tracked():
    from workbench.tracking.benchmark import Method, run_method
    from workbench.tracking.engines import GroundTruthEngine
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, \
        simulate_detections

    video = render_video(SynthVideoConfig.tiny())
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    engine = GroundTruthEngine(noisy_lookup(video.smpl_params, PoseNoise()), focal=video.focal)
    result = run_method(video, Method(tracker="iou", engine="ground_truth"), detections, {"ground_truth": engine})
    result.intrinsics = video.intrinsics
    return video, detections, result


def test_smooth_result_round_trip(tracked):
    _, _, result = tracked
    before = track_motions(result)
    smoothed = smooth_result(result, SmoothConfig(strength=0.5))
    after = track_motions(smoothed)
    assert after.keys() == before.keys() and len(before) > 0
    for tid, m in before.items():
        np.testing.assert_array_equal(after[tid].frames, m.frames)
        np.testing.assert_array_equal(after[tid].observed, m.observed)
        assert not np.allclose(after[tid].body_pose, m.body_pose)
        np.testing.assert_allclose(after[tid].rotmats, smooth_motion(m, SmoothConfig(strength=0.5)).rotmats,
                                   atol=1e-5)
    np.testing.assert_array_equal(track_motions(result)[tid].body_pose, m.body_pose)  # input untouched
    off = smooth_result(result, SmoothConfig(strength=0.0))
    np.testing.assert_array_equal(track_motions(off)[tid].transl, m.transl)


def test_track_identities_follow_detections(tracked):
    video, detections, result = tracked
    ids = track_identities(result, detections)
    assert set(ids) == set(result.track_ids) or set(ids) <= set(result.track_ids)
    for tid, by_frame in ids.items():
        persons = [g for g in by_frame.values() if g > 0]
        assert persons and max(persons) <= video.config.num_people
