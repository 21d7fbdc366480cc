"""Tests for workbench.geometry.procrustes against known transforms and a slow numpy reference."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.geometry import similarity_procrustes


def _reference_procrustes(S1, S2, w=None):
    """Slow per-sample numpy version of SPIN's compute_similarity_transform, plus weights.

    S1, S2: (N, 3); w: (N,) or None. Returns aligned (N, 3), scale, R (3, 3), t (3,).
    """
    w = np.ones(len(S1)) if w is None else w
    mu1 = (w[:, None] * S1).sum(0) / w.sum()
    mu2 = (w[:, None] * S2).sum(0) / w.sum()
    X1, X2 = S1 - mu1, S2 - mu2
    K = (w[:, None] * X1).T @ X2
    U, _, Vt = np.linalg.svd(K)
    Z = np.eye(3)
    Z[2, 2] = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ Z @ U.T
    scale = np.trace(R @ K) / (w * (X1**2).sum(1)).sum()
    t = mu2 - scale * R @ mu1
    return (scale * (R @ S1.T)).T + t, scale, R, t


def _known_transform(B, N, seed=0):
    rng = np.random.default_rng(seed)
    S1 = rng.normal(size=(B, N, 3))
    R = Rotation.random(B, random_state=seed).as_matrix()
    scale = rng.uniform(0.5, 2.0, B)
    t = rng.normal(size=(B, 3))
    S2 = scale[:, None, None] * S1 @ R.transpose(0, 2, 1) + t[:, None]
    return [torch.from_numpy(a) for a in (S1, S2, scale, R, t)]


def test_recovers_known_similarity_exactly():
    S1, S2, scale, R, t = _known_transform(8, 14)
    aligned, s_hat, R_hat, t_hat = similarity_procrustes(S1, S2)
    assert torch.allclose(s_hat, scale, atol=1e-12)
    assert torch.allclose(R_hat, R, atol=1e-12)
    assert torch.allclose(t_hat, t, atol=1e-12)
    assert torch.allclose(aligned, S2, atol=1e-12)


def test_float32():
    S1, S2, scale, R, _ = _known_transform(4, 14)
    out = similarity_procrustes(S1.float(), S2.float())
    assert out.aligned.dtype == torch.float32
    assert torch.allclose(out.aligned, S2.float(), atol=1e-4)
    assert torch.allclose(out.rotation, R.float(), atol=1e-4)


def test_reflection_gives_proper_rotation():
    S1, _, _, _, _ = _known_transform(3, 20, seed=2)
    S2 = S1 * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # a mirror image: no rotation fits exactly
    out = similarity_procrustes(S1, S2)
    assert torch.allclose(torch.linalg.det(out.rotation), torch.ones(3, dtype=torch.float64), atol=1e-12)
    # Without the det fix the best orthogonal map would be the reflection itself.
    K = (S1 - S1.mean(1, keepdim=True)).transpose(1, 2) @ (S2 - S2.mean(1, keepdim=True))
    U, _, Vh = torch.linalg.svd(K)
    assert (torch.linalg.det(Vh.transpose(1, 2) @ U.transpose(1, 2)) < 0).all()
    # The constrained optimum is still no worse than the identity.
    err = (out.aligned - S2).norm(dim=-1).mean(-1)
    err_identity = ((S1 - S1.mean(1, keepdim=True)) - (S2 - S2.mean(1, keepdim=True))).norm(dim=-1).mean(-1)
    assert (err > 1e-3).all() and (err <= err_identity + 1e-12).all()
    ref = _reference_procrustes(S1[0].numpy(), S2[0].numpy())
    assert np.allclose(out.rotation[0].numpy(), ref[2], atol=1e-10)


def test_matches_numpy_reference_on_noisy_data():
    S1, S2, _, _, _ = _known_transform(6, 17, seed=3)
    S2 = S2 + 0.1 * torch.randn(S2.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = similarity_procrustes(S1, S2)
    for b in range(6):
        aligned, scale, R, t = _reference_procrustes(S1[b].numpy(), S2[b].numpy())
        np.testing.assert_allclose(out.aligned[b].numpy(), aligned, atol=1e-10)
        np.testing.assert_allclose(out.scale[b].item(), scale, atol=1e-10)
        np.testing.assert_allclose(out.rotation[b].numpy(), R, atol=1e-10)
        np.testing.assert_allclose(out.translation[b].numpy(), t, atol=1e-10)


def test_weights_match_reference_and_ignore_outliers():
    S1, S2, scale, R, t = _known_transform(4, 20, seed=4)
    S2_corrupt = S2.clone()
    S2_corrupt[:, :3] += 5.0  # three wildly wrong points ...
    w = torch.ones(4, 20, dtype=torch.float64)
    w[:, :3] = 0.0  # ... that the weights switch off
    out = similarity_procrustes(S1, S2_corrupt, w)
    assert torch.allclose(out.scale, scale, atol=1e-10)
    assert torch.allclose(out.rotation, R, atol=1e-10)
    assert torch.allclose(out.translation, t, atol=1e-10)
    w_soft = torch.rand(4, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out_soft = similarity_procrustes(S1, S2_corrupt, w_soft)
    ref = _reference_procrustes(S1[1].numpy(), S2_corrupt[1].numpy(), w_soft[1].numpy())
    np.testing.assert_allclose(out_soft.aligned[1].numpy(), ref[0], atol=1e-10)
    assert torch.allclose(similarity_procrustes(S1, S2, torch.ones(4, 20, dtype=torch.float64)).aligned,
                          similarity_procrustes(S1, S2).aligned, atol=1e-12)


def test_batch_independence():
    S1, S2, _, _, _ = _known_transform(5, 14, seed=5)
    S2 = S2 + 0.05 * torch.randn(S2.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    batched = similarity_procrustes(S1, S2)
    for b in range(5):
        single = similarity_procrustes(S1[b : b + 1], S2[b : b + 1])
        for x, y in zip(single, batched):
            assert torch.allclose(x[0], y[b], atol=1e-12)
    S2_changed = S2.clone()
    S2_changed[0] = torch.randn(14, 3, dtype=torch.float64)
    changed = similarity_procrustes(S1, S2_changed)
    assert torch.allclose(changed.aligned[1:], batched.aligned[1:], atol=1e-12)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        similarity_procrustes(torch.zeros(2, 14, 3), torch.zeros(2, 13, 3))
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        similarity_procrustes(torch.zeros(14, 3), torch.zeros(14, 3))
    with pytest.raises(ValueError, match="weights must have shape"):
        similarity_procrustes(torch.zeros(2, 14, 3), torch.zeros(2, 14, 3), torch.ones(2, 13))
