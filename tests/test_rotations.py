"""Tests for workbench.geometry.rotations: conventions, round trips, scipy agreement, gradients."""

import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from workbench.geometry import (
    axis_angle_to_rotmat,
    rot6d_to_axis_angle,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)

DTYPES = [torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _tol(dtype):
    return dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-10, rtol=1e-10)


def _random_rotmats(n, dtype, seed=0):
    return torch.from_numpy(Rotation.random(n, random_state=seed).as_matrix()).to(dtype)


def _spin_rot6d_to_rotmat(x):
    """SPIN's convention: the 6 numbers are a row-major (3, 2) matrix, so a1 = x[0::2]."""
    a = x.reshape(-1, 3, 2)
    a1, a2 = a[:, :, 0], a[:, :, 1]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2)], dim=-1)


def _is_rotation(R, **tol):
    eye = torch.eye(3, dtype=R.dtype, device=R.device).expand_as(R)
    return torch.allclose(R.transpose(-1, -2) @ R, eye, **tol) and torch.allclose(
        torch.linalg.det(R), torch.ones_like(R[..., 0, 0]), **tol
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_rot6d_gives_rotations_and_keeps_dtype_device(dtype, device):
    x = torch.randn(64, 6, dtype=dtype, device=device)
    R = rot6d_to_rotmat(x)
    assert R.shape == (64, 3, 3) and R.dtype == dtype and R.device.type == device
    assert _is_rotation(R, **_tol(dtype))


def test_convention_first_two_columns():
    R = _random_rotmats(8, torch.float64)
    x = rotmat_to_rot6d(R)
    assert torch.equal(x[:, 0:3], R[:, :, 0])
    assert torch.equal(x[:, 3:6], R[:, :, 1])
    # A hand-checkable case: 90 deg about z sends x to y, so the first column is (0, 1, 0).
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert rotmat_to_rot6d(Rz).tolist() == [0.0, 1.0, 0.0, -1.0, 0.0, 0.0]


def test_gram_schmidt_by_hand():
    # a1 = (2, 0, 0) -> b1 = x; a2 = (1, 3, 0) -> minus its x part -> (0, 3, 0) -> b2 = y; b3 = z.
    x = torch.tensor([2.0, 0.0, 0.0, 1.0, 3.0, 0.0], dtype=torch.float64)
    assert torch.allclose(rot6d_to_rotmat(x), torch.eye(3, dtype=torch.float64))


def test_spin_interleaved_convention_differs():
    x = rotmat_to_rot6d(axis_angle_to_rotmat(torch.tensor([[0.3, -1.1, 0.7]], dtype=torch.float64)))
    R_ours = rot6d_to_rotmat(x)
    R_spin = _spin_rot6d_to_rotmat(x)
    assert _is_rotation(R_spin, atol=1e-10)  # a valid rotation, which is why the mix-up is silent
    assert (R_ours - R_spin).abs().max() > 0.1
    # Reordering the numbers to SPIN's interleaving makes them agree.
    spin_order = torch.stack([x[:, 0:3], x[:, 3:6]], dim=-1).reshape(-1, 6)
    assert torch.allclose(_spin_rot6d_to_rotmat(spin_order), R_ours, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotmat_rot6d_round_trip(dtype):
    R = _random_rotmats(100, dtype)
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(R)), R, **_tol(dtype))
    x = torch.randn(100, 6, dtype=dtype)  # unnormalised 6D: round trip is only defined via R
    R6 = rot6d_to_rotmat(x)
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(R6)), R6, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_angle_matches_scipy(dtype):
    rotvec = Rotation.random(200, random_state=1).as_rotvec()
    R = axis_angle_to_rotmat(torch.from_numpy(rotvec).to(dtype))
    assert torch.allclose(R, torch.from_numpy(Rotation.from_rotvec(rotvec).as_matrix()).to(dtype), **_tol(dtype))
    aa = rotmat_to_axis_angle(R)
    assert torch.allclose(aa, torch.from_numpy(rotvec).to(dtype), atol=1e-4 if dtype == torch.float32 else 1e-9)


def test_axis_angle_round_trip_including_edge_angles():
    axis = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=-1)
    angles = torch.tensor([0.0, 1e-8, 0.5, math.pi - 1e-6, math.pi], dtype=torch.float64)
    aa = axis * angles[:, None]
    R = axis_angle_to_rotmat(aa)
    assert _is_rotation(R, atol=1e-10)
    # At pi the sign of the axis is ambiguous, so compare the matrices, not the vectors.
    assert torch.allclose(axis_angle_to_rotmat(rotmat_to_axis_angle(R)), R, atol=1e-9)
    assert torch.allclose(rotmat_to_axis_angle(R)[:3], aa[:3], atol=1e-9)


def test_rot6d_to_axis_angle_matches_composition_and_scipy():
    x = torch.randn(50, 6, dtype=torch.float64)
    aa = rot6d_to_axis_angle(x)
    expected = Rotation.from_matrix(rot6d_to_rotmat(x).numpy()).as_rotvec()
    assert torch.allclose(aa, torch.from_numpy(expected), atol=1e-9)


def test_arbitrary_leading_dims():
    x = torch.randn(2, 3, 24, 6)
    R = rot6d_to_rotmat(x)
    assert R.shape == (2, 3, 24, 3, 3)
    assert rotmat_to_rot6d(R).shape == (2, 3, 24, 6)
    assert torch.allclose(R[1, 2, 5], rot6d_to_rotmat(x[1, 2, 5]))
    assert rot6d_to_rotmat(torch.randn(6)).shape == (3, 3)
    assert axis_angle_to_rotmat(torch.randn(4, 5, 3)).shape == (4, 5, 3, 3)
    assert rotmat_to_axis_angle(axis_angle_to_rotmat(torch.randn(4, 5, 3))).shape == (4, 5, 3)
    assert rot6d_to_axis_angle(torch.randn(7, 24, 6)).shape == (7, 24, 3)


def test_zero_input_stays_finite():
    assert torch.isfinite(rot6d_to_rotmat(torch.zeros(2, 6))).all()


def test_gradcheck_rot6d_to_rotmat():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot6d_to_rotmat, (x,))


def test_gradcheck_axis_angle_to_rotmat():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_rotmat, (x,))


@pytest.mark.parametrize(
    "fn, shape",
    [(rot6d_to_rotmat, (4, 9)), (rotmat_to_rot6d, (4, 3, 2)), (axis_angle_to_rotmat, (4, 4)), (rotmat_to_axis_angle, (4, 9))],
)
def test_wrong_shapes_raise(fn, shape):
    with pytest.raises(ValueError, match="must have shape"):
        fn(torch.zeros(shape))
