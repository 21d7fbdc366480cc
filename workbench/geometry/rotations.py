"""Rotation representations used by HMR 2.0: 6D (Zhou et al. 2019), rotation matrices, axis-angle.

HMR 2.0 regresses every joint rotation as 6 numbers. Their *order* is part of the checkpoint
contract: HMR 2.0 (and PHALP's SMPL head) read them as two consecutive 3-vectors
``a1 = x[..., 0:3]`` and ``a2 = x[..., 3:6]``, which become the first two *columns* of R after
Gram-Schmidt. SPIN reads the same 6 numbers interleaved (``view(3, 2)``, so ``a1 = x[0::2]``).
Both give valid rotations, so loading weights with the wrong convention fails silently; the
tests show a case where the two disagree.

All functions accept arbitrary leading batch dimensions and any float dtype/device.
"""

from __future__ import annotations

import roma
import torch

__all__ = [
    "rot6d_to_rotmat",
    "rotmat_to_rot6d",
    "axis_angle_to_rotmat",
    "rotmat_to_axis_angle",
    "rot6d_to_axis_angle",
]

# torch.nn.functional.normalize's default eps, which HMR 2.0 uses: a zero 6D vector then maps to
# a finite (degenerate) matrix instead of NaN, and outputs match HMR 2.0 to the last bit.
_GRAM_SCHMIDT_EPS = 1e-12


def _check_trailing_shape(name: str, tensor: torch.Tensor, trailing: tuple[int, ...]) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}. Wrap it with torch.as_tensor(...).")
    n = len(trailing)
    if tensor.dim() < n or tuple(tensor.shape[-n:]) != trailing:
        want = "(..., " + ", ".join(str(d) for d in trailing) + ")"
        raise ValueError(
            f"{name} must have shape {want}; got {tuple(tensor.shape)}. "
            f"Reshape so the last dimension(s) are {trailing}, e.g. x.reshape(B, 24, {', '.join(map(str, trailing))})."
        )


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """Convert HMR 2.0's 6D rotation representation to rotation matrices.

    Convention (HMR 2.0 / PHALP, *not* SPIN): ``a1 = x[..., 0:3]``, ``a2 = x[..., 3:6]``;
    ``b1 = a1/|a1|``, ``b2 = normalize(a2 - (b1.a2) b1)``, ``b3 = b1 x b2``; ``R = [b1 b2 b3]`` (columns).

    Args:
        x: (..., 6) unnormalised 6D rotations (unitless).

    Returns:
        (..., 3, 3) rotation matrices (det +1 unless a1, a2 are colinear or zero).
    """
    _check_trailing_shape("x", x, (6,))
    # (..., 2, 3) rows a1, a2 -> transpose so a1, a2 are the first two columns roma expects.
    columns = x.unflatten(-1, (2, 3)).transpose(-1, -2)
    return roma.special_gramschmidt(columns, epsilon=_GRAM_SCHMIDT_EPS)


def rotmat_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rot6d_to_rotmat` on rotation matrices: first column, then second column.

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (..., 6) with ``out[..., 0:3] = R[..., :, 0]`` and ``out[..., 3:6] = R[..., :, 1]``.
    """
    _check_trailing_shape("R", R, (3, 3))
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def axis_angle_to_rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle (rotation vector) to rotation matrix.

    Args:
        axis_angle: (..., 3) rotation vectors; direction = axis, norm = angle in radians.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_trailing_shape("axis_angle", axis_angle, (3,))
    return roma.rotvec_to_rotmat(axis_angle)


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to axis-angle (rotation vector), angle in [0, pi].

    Goes through unit quaternions (roma), which stays accurate near angle 0 and pi where
    the trace/arccos formula loses precision.

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) rotation vectors in radians.
    """
    _check_trailing_shape("R", R, (3, 3))
    return roma.rotmat_to_rotvec(R)


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    """HMR 2.0 6D rotations to axis-angle, e.g. to export SMPL ``body_pose`` as (B, 69).

    Args:
        x: (..., 6) unnormalised 6D rotations (HMR 2.0 convention, see :func:`rot6d_to_rotmat`).

    Returns:
        (..., 3) rotation vectors in radians.
    """
    return rotmat_to_axis_angle(rot6d_to_rotmat(x))
