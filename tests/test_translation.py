"""Closed-form camera translation from 2D-3D correspondences (SPIN's estimate_translation)."""

import numpy as np
import pytest
import torch

from workbench.geometry import estimate_translation, perspective_projection

B, N = 4, 24


@pytest.fixture
def scene():
    """Body-sized point clouds (float64) placed 3-40 m away, and their exact projections."""
    g = torch.Generator().manual_seed(0)
    points = 0.4 * torch.randn(B, N, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([[0.1, -0.2, 3.0], [-0.5, 0.3, 8.0], [0.0, 0.0, 40.0], [1.0, 0.5, 5.0]], dtype=torch.float64)
    focal = torch.tensor([[600.0, 600.0], [1000.0, 980.0], [12500.0, 12500.0], [500.0, 520.0]], dtype=torch.float64)
    pp = torch.tensor([[320.0, 240.0], [640.0, 360.0], [320.0, 240.0], [300.0, 250.0]], dtype=torch.float64)
    return points, t, focal, pp, perspective_projection(points, t, focal, pp)


def reference_translation(points, uv, focal, pp, weights):
    """Slow reference: per item, SPIN's numpy formulation (sqrt-weighted rows, np.linalg.lstsq)."""
    out = []
    for P, x, f, c, w in zip(points.numpy(), uv.numpy(), focal.numpy(), pp.numpy(), weights.numpy()):
        rows, rhs = [], []
        for (X, Y, Z), (u, v), wi in zip(P, x, np.sqrt(w)):
            rows += [wi * np.array([f[0], 0.0, -(u - c[0])]), wi * np.array([0.0, f[1], -(v - c[1])])]
            rhs += [wi * ((u - c[0]) * Z - f[0] * X), wi * ((v - c[1]) * Z - f[1] * Y)]
        out.append(np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0])
    return torch.from_numpy(np.array(out))


def test_recovers_a_known_translation_exactly_from_noiseless_projections(scene):
    points, t, focal, pp, uv = scene
    torch.testing.assert_close(estimate_translation(points, uv, focal, pp), t, atol=1e-9, rtol=0)


@pytest.mark.parametrize("focal, pp", [(800.0, (320.0, 240.0)), ("per_item", "batched")])
def test_focal_and_principal_point_forms(scene, focal, pp):
    points, t, _, _, _ = scene
    f = torch.tensor([500.0, 700.0, 900.0, 1100.0], dtype=torch.float64) if focal == "per_item" else focal
    c = torch.tensor(pp, dtype=torch.float64) if pp != "batched" else torch.full((B, 2), 200.0, dtype=torch.float64)
    uv = perspective_projection(points, t, f, c.expand(B, 2))
    torch.testing.assert_close(estimate_translation(points, uv, f, c), t, atol=1e-9, rtol=0)


def test_zero_weights_ignore_outliers(scene):
    points, t, focal, pp, uv = scene
    corrupted, weights = uv.clone(), torch.ones(B, N, dtype=torch.float64)
    corrupted[:, :3] += 150.0  # three keypoints detected 150 px off
    weights[:, :3] = 0.0
    assert (estimate_translation(points, corrupted, focal, pp) - t).abs().max() > 0.01
    torch.testing.assert_close(estimate_translation(points, corrupted, focal, pp, weights), t, atol=1e-9, rtol=0)


def test_weighted_noisy_fit_matches_slow_numpy_reference(scene):
    points, _, focal, pp, uv = scene
    g = torch.Generator().manual_seed(1)
    noisy = uv + 3.0 * torch.randn(uv.shape, generator=g, dtype=torch.float64)
    weights = torch.rand(B, N, generator=g, dtype=torch.float64)
    fast = estimate_translation(points, noisy, focal, pp, weights)
    torch.testing.assert_close(fast, reference_translation(points, noisy, focal, pp, weights), atol=1e-8, rtol=1e-8)


def test_float32_in_float32_out_and_too_few_points_give_nan(scene):
    points, t, focal, pp, uv = scene
    t32 = estimate_translation(points.float(), uv.float(), focal.float(), pp.float())
    assert t32.dtype == torch.float32
    torch.testing.assert_close(t32, t.float(), atol=1e-3, rtol=1e-4)
    weights = torch.ones(B, N, dtype=torch.float64)
    weights[1, 1:] = 0.0  # item 1: a single keypoint fixes a ray, not a point
    out = estimate_translation(points, uv, focal, pp, weights)
    assert torch.isnan(out[1]).all() and torch.isfinite(out[[0, 2, 3]]).all()


def test_gradients_flow_to_the_points(scene):
    points, _, focal, pp, uv = scene
    P = points[:1, :6].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: estimate_translation(p, uv[:1, :6], focal[:1], pp[:1]), (P,))


@pytest.mark.parametrize("change, match", [
    (dict(points_3d=torch.zeros(N, 3)), r"points_3d must have shape \(B, N, 3\)"),
    (dict(keypoints_2d=torch.zeros(B, N - 1, 2)), "keypoints_2d must have shape"),
    (dict(principal_point=torch.zeros(B, 3)), "principal_point must have shape"),
    (dict(weights=torch.ones(B, N, 1)), "weights must have shape"),
    (dict(weights=-torch.ones(B, N)), "weights must be >= 0"),
    (dict(focal_length=torch.ones(B + 1)), "focal_length must be"),
    (dict(focal_length=0.0), "must be > 0"),
    (dict(keypoints_2d=torch.full((B, N, 2), float("nan"))), "NaN"),
])
def test_bad_input_raises_value_error(change, match):
    args = dict(points_3d=torch.zeros(B, N, 3), keypoints_2d=torch.zeros(B, N, 2), focal_length=500.0,
                principal_point=torch.zeros(B, 2), weights=None) | change
    with pytest.raises(ValueError, match=match):
        estimate_translation(**args)
