"""Similarity Procrustes alignment (scale, rotation, translation), as used for PA-MPJPE.

Same algorithm as SPIN / HMR 2.0 ``compute_similarity_transform`` (Umeyama 1991), batched:
centre both point sets, SVD of the cross-covariance, flip the last singular direction when
the best orthogonal map would be a reflection (so det R = +1), then the optimal scale.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["ProcrustesResult", "similarity_procrustes"]


class ProcrustesResult(NamedTuple):
    """Output of :func:`similarity_procrustes`; unpacks as ``aligned, scale, rotation, translation``.

    Attributes:
        aligned: (B, N, 3) ``scale * R @ S1_i + t``, the source aligned onto the target.
        scale: (B,) unitless.
        rotation: (B, 3, 3) proper rotation (det +1), acting on column vectors.
        translation: (B, 3) in the units of the inputs.
    """

    aligned: torch.Tensor
    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor


def similarity_procrustes(
    S1: torch.Tensor, S2: torch.Tensor, weights: torch.Tensor | None = None
) -> ProcrustesResult:
    """Find ``scale, R, t`` minimising ``sum_i w_i |scale R S1_i + t - S2_i|^2`` per batch element.

    Args:
        S1: (B, N, 3) source points (e.g. predicted joints), any unit.
        S2: (B, N, 3) target points (e.g. ground-truth joints), same unit.
        weights: (B, N) non-negative per-point weights (e.g. visibility), or None for all ones.
            Each row needs a positive sum and, for a unique R, three non-colinear weighted points.

    Returns:
        :class:`ProcrustesResult` ``(aligned (B, N, 3), scale (B,), rotation (B, 3, 3), translation (B, 3))``.
    """
    if S1.dim() != 3 or S1.shape[-1] != 3 or S1.shape != S2.shape:
        raise ValueError(
            f"S1 and S2 must both have shape (B, N, 3); got {tuple(S1.shape)} and {tuple(S2.shape)}. "
            f"Select the same joints in the same order from both."
        )
    B, N, _ = S1.shape
    if weights is None:
        weights = S1.new_ones(B, N)
    elif tuple(weights.shape) != (B, N):
        raise ValueError(f"weights must have shape (B, N) = {(B, N)}; got {tuple(weights.shape)}.")
    w = weights.to(S1)[..., None]  # (B, N, 1)

    # 1. Weighted centroids and centred point sets.
    w_sum = w.sum(dim=1, keepdim=True)  # (B, 1, 1)
    mu1 = (w * S1).sum(dim=1, keepdim=True) / w_sum  # (B, 1, 3)
    mu2 = (w * S2).sum(dim=1, keepdim=True) / w_sum
    X1, X2 = S1 - mu1, S2 - mu2

    # 2. Cross-covariance K = X1^T W X2 (3x3) and its SVD K = U diag(sigma) V^T.
    K = X1.transpose(1, 2) @ (w * X2)  # (B, 3, 3)
    U, _, Vh = torch.linalg.svd(K)
    V = Vh.transpose(1, 2)

    # 3. R = V Z U^T; Z flips the smallest singular direction when V U^T is a reflection.
    Z = torch.eye(3, dtype=S1.dtype, device=S1.device).repeat(B, 1, 1)
    Z[:, 2, 2] = torch.sign(torch.linalg.det(V @ U.transpose(1, 2)))
    R = V @ Z @ U.transpose(1, 2)

    # 4. Optimal scale trace(R K) / sum_i w_i |X1_i|^2, then the translation that matches centroids.
    var1 = (w * X1.square()).sum(dim=(1, 2))  # (B,)
    scale = (R @ K).diagonal(dim1=-2, dim2=-1).sum(dim=-1) / var1
    t = mu2[:, 0] - scale[:, None] * (R @ mu1[:, 0, :, None])[..., 0]  # (B, 3)

    aligned = scale[:, None, None] * S1 @ R.transpose(1, 2) + t[:, None, :]
    return ProcrustesResult(aligned, scale, R, t)
