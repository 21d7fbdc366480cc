import numpy as np
import pytest

from workbench.evaluate.motion_metrics import acceleration, acceleration_error, jitter, mpjpe, root_error


def _constant_acceleration(a, T=10, J=4):
    """(T, J, 3) metres: every joint at 0.5 a t^2 (t in frames), a (3,) metres / frame^2."""
    t = np.arange(T, dtype=float)[:, None, None]
    return np.broadcast_to(0.5 * np.asarray(a) * t ** 2, (T, J, 3)).copy()


def test_constant_acceleration_known_values():
    x = _constant_acceleration([0.003, 0.0, 0.004])  # |a| = 5 mm / frame^2
    acc = acceleration(x)
    assert acc.shape == (8, 4, 3)
    np.testing.assert_allclose(acc, np.broadcast_to([3.0, 0.0, 4.0], acc.shape), atol=1e-9)
    assert jitter(x) == pytest.approx(5.0)
    assert jitter(x, fps=30.0) == pytest.approx(5.0 * 900)  # mm/s^2
    gt = _constant_acceleration([0.001, 0.0, 0.0])
    assert acceleration_error(x, gt) == pytest.approx(np.hypot(2.0, 4.0))
    assert acceleration_error(gt, gt) == 0.0


def test_uniform_motion_has_no_jitter_and_offsets_no_accel_error():
    t = np.arange(12, dtype=float)[:, None, None]
    x = np.broadcast_to(t * np.array([0.01, -0.02, 0.03]), (12, 5, 3))
    assert jitter(x) == pytest.approx(0.0, abs=1e-9)
    assert acceleration_error(x + 0.5, x) == pytest.approx(0.0, abs=1e-9)  # a constant offset is not jitter


def test_acceleration_error_matches_loop_reference():
    rng = np.random.default_rng(0)
    pred, gt = rng.normal(size=(2, 20, 24, 3))
    ref = np.mean([np.linalg.norm((pred[t - 1] - 2 * pred[t] + pred[t + 1]) - (gt[t - 1] - 2 * gt[t] + gt[t + 1]),
                                  axis=-1).mean() for t in range(1, 19)]) * 1000
    assert acceleration_error(pred, gt) == pytest.approx(ref)


def test_gaps_drop_triplets_across_them():
    frames = np.array([0, 1, 2, 4, 5, 6])
    x = _constant_acceleration([0.002, 0, 0], T=6)
    x[3:] += 10.0  # a jump across the gap must not count as acceleration
    assert acceleration(x, frames=frames).shape[0] == 2
    assert jitter(x, frames=frames) == pytest.approx(2.0)
    assert np.isnan(jitter(x[:2]))
    assert np.isnan(jitter(x[[0, 1, 3]], frames=[0, 1, 3]))
    with pytest.raises(ValueError, match="frames"):
        acceleration(x, frames=[0, 1])


def test_mpjpe_pelvis_aligned_and_camera():
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(7, 24, 3))
    assert mpjpe(gt + [0.1, 0.2, 0.3], gt) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(gt + [0.0, 0.0, 0.2], gt, align="none") == pytest.approx(200.0)
    moved = gt.copy()
    moved[:, 5, 0] += 0.024  # one of 24 joints off by 24 mm -> 1 mm mean
    assert mpjpe(moved, gt) == pytest.approx(1.0)
    assert root_error(gt + [0.0, 0.03, 0.04], gt) == pytest.approx(50.0)
    assert root_error(gt[:, 0] + [0.0, 0.03, 0.04], gt[:, 0]) == pytest.approx(50.0)


def test_bad_inputs_give_clear_errors():
    x = np.zeros((5, 24, 3))
    with pytest.raises(ValueError, match=r"\(T, J, 3\)"):
        jitter(np.zeros((5, 24)))
    with pytest.raises(ValueError, match="same shape"):
        acceleration_error(x, x[:4])
    with pytest.raises(ValueError, match="align"):
        mpjpe(x, x, align="procrustes")
