"""Camera translation from 2D-3D correspondences, in closed form (SPIN's ``estimate_translation``).

For a pinhole camera with no rotation, a 3D point ``P = (X, Y, Z)`` translated by ``t`` projects to
``u = fx (X + tx) / (Z + tz) + cx``. Multiplying out the depth makes each observation *linear* in t:

    fx tx - (u - cx) tz = (u - cx) Z - fx X
    fy ty - (v - cy) tz = (v - cy) Z - fy Y

so N keypoints give 2N equations in 3 unknowns, solved by weighted least squares. This is what SPIN
(and HMR 2.0's data pipeline, for pseudo ground truth) uses to place a fitted body in the image.
It minimises the *algebraic* error (pixel residual times depth), not the reprojection error, which
is exact for noiseless data and close to it when the body's depth range is small against its distance.

Frame: metres; camera at the origin, x right, y down, z forward; pixels u right, v down.
"""

from __future__ import annotations

import torch

from workbench.geometry.camera import _check_finite, _check_shape, _focal_xy


def estimate_translation(points_3d: torch.Tensor, keypoints_2d: torch.Tensor, focal_length,
                         principal_point, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Translation ``t`` that makes ``points_3d + t`` project onto ``keypoints_2d``, in closed form.

    Args:
        points_3d: (B, N, 3) metres, in camera orientation (root rotation applied), before translation.
        keypoints_2d: (B, N, 2) pixels ``(u, v)`` they should project to.
        focal_length: float, (B,) or (B, 2) ``(fx, fy)``, pixels.
        principal_point: (B, 2) or (2,) pixels ``(cx, cy)``, e.g. the image centre.
        weights: (B, N) non-negative confidence per keypoint (0 ignores it, e.g. an undetected
            keypoint or an outlier); None: all 1. Each weight multiplies that keypoint's squared residual.

    Returns:
        (B, 3) translation in metres, in the dtype of ``points_3d`` (solved in float64). Needs at
        least two keypoints with non-zero weight per item; an item without them comes back NaN.

    Raises:
        ValueError: on shapes that do not match, non-finite inputs, or a focal length <= 0.
    """
    _check_shape("points_3d", points_3d, (None, None, 3), "(B, N, 3)")
    B, N = points_3d.shape[:2]
    _check_shape("keypoints_2d", keypoints_2d, (B, N, 2), f"(B, N, 2) with B={B}, N={N}")
    f = _focal_xy(focal_length, B, points_3d, validate=True).double()  # (B, 2)
    pp = torch.as_tensor(principal_point, dtype=torch.float64, device=points_3d.device)
    if pp.shape == (2,):
        pp = pp.expand(B, 2)
    _check_shape("principal_point", pp, (B, 2), f"(B, 2) or (2,) with B={B}")
    w = points_3d.new_ones(B, N) if weights is None else weights
    _check_shape("weights", w, (B, N), f"(B, N) with B={B}, N={N}")
    for name, x in (("points_3d", points_3d), ("keypoints_2d", keypoints_2d), ("principal_point", pp),
                    ("weights", w)):
        _check_finite(name, x)
    if bool((w < 0).any()):
        raise ValueError("weights must be >= 0 (a confidence per keypoint; 0 ignores it).")

    P, uv, w = points_3d.double(), keypoints_2d.double(), w.double()
    # 1. Centred pixel offsets (B, N, 2): (u - cx, v - cy).
    d = uv - pp[:, None, :]
    # 2. Two equations per keypoint, A t = b with A (B, N, 2, 3) and b (B, N, 2).
    A = P.new_zeros(B, N, 2, 3)
    A[..., 0, 0] = f[:, None, 0]
    A[..., 1, 1] = f[:, None, 1]
    A[..., :, 2] = -d
    b = d * P[..., 2:3] - f[:, None, :] * P[..., :2]
    # 3. Weighted normal equations (B, 3, 3), (B, 3): sum_i w_i A_i^T A_i t = sum_i w_i A_i^T b_i.
    A, b, w2 = A.reshape(B, 2 * N, 3), b.reshape(B, 2 * N), w.repeat_interleave(2, dim=1)
    AtA = torch.einsum("bn,bni,bnj->bij", w2, A, A)
    Atb = torch.einsum("bn,bni,bn->bi", w2, A, b)
    t, info = torch.linalg.solve_ex(AtA, Atb)
    solvable = (info == 0) & ((w > 0).sum(1) >= 2)  # one keypoint fixes a ray, not a point
    t = torch.where(solvable[:, None], t, torch.full_like(t, float("nan")))
    return t.to(points_3d.dtype)
