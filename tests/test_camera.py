"""Tests for workbench.geometry.camera: hand-computed values, crop/full consistency, validation."""

import pytest
import torch

from workbench.geometry import (
    FOCAL_LENGTH,
    IMAGE_SIZE,
    cam_crop_to_full,
    cam_to_translation,
    default_focal_length,
    intrinsics_matrix,
    perspective_projection,
    project_to_crop,
    translation_to_cam,
)

DTYPES = [torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _random_scene(B, dtype, device, depth=0.0, seed=0):
    """Crop cameras, boxes inside a 1280x720 image, and a body-sized point cloud (B, 50, 3)."""
    g = torch.Generator().manual_seed(seed)
    u = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    pred_cam = torch.stack([0.5 + u(B), 0.4 * u(B) - 0.2, 0.4 * u(B) - 0.2], dim=-1)
    image_wh = torch.tensor([1280.0, 720.0], dtype=torch.float64).expand(B, 2)
    box_size = 100 + 400 * u(B)
    box_center = torch.stack([200 + 880 * u(B), 150 + 420 * u(B)], dim=-1)
    points = torch.cat([2 * u(B, 50, 2) - 1, depth * (2 * u(B, 50, 1) - 1)], dim=-1)
    to = lambda t: t.to(dtype=dtype, device=device)  # noqa: E731
    return to(pred_cam), to(box_center), to(box_size), to(image_wh), to(points)


def _crop_to_full_pixels(points, pred_cam, box_center, box_size):
    """Independent route: project in the crop, then place the crop in the image via the box."""
    crop_norm = project_to_crop(points, cam_to_translation(pred_cam))
    return box_center[:, None, :] + crop_norm * box_size[:, None, None]


# ----------------------------------------------------------------------------- hand-computed
def test_cam_to_translation_by_hand():
    t = cam_to_translation(torch.tensor([[1.0, 0.1, -0.2], [2.0, 0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(t[0], torch.tensor([0.1, -0.2, 2 * 5000 / 256], dtype=torch.float64))
    assert torch.allclose(t[1, 2], torch.tensor(5000 / 256, dtype=torch.float64))
    assert FOCAL_LENGTH == 5000.0 and IMAGE_SIZE == 256


@pytest.mark.parametrize("dtype", DTYPES)
def test_translation_to_cam_inverts(dtype):
    cam = torch.tensor([[0.9, 0.05, 0.2], [1.7, -0.3, 0.0]], dtype=dtype)
    assert torch.allclose(translation_to_cam(cam_to_translation(cam)), cam, atol=1e-6)
    assert cam_to_translation(torch.rand(2, 5, 3) + 0.1).shape == (2, 5, 3)


def test_perspective_projection_by_hand():
    points = torch.tensor([[[0.1, -0.2, 0.0], [0.0, 0.0, 10.0]]], dtype=torch.float64)
    t = torch.tensor([[0.0, 0.0, 10.0]], dtype=torch.float64)
    pp = torch.tensor([[320.0, 240.0]], dtype=torch.float64)
    uv = perspective_projection(points, t, 1000.0, pp)
    assert torch.allclose(uv, torch.tensor([[[330.0, 220.0], [320.0, 240.0]]], dtype=torch.float64))
    # (fx, fy) per sample and a (B,) focal give the same as the float when equal.
    uv2 = perspective_projection(points, t, torch.tensor([[1000.0, 1000.0]], dtype=torch.float64), pp)
    uv3 = perspective_projection(points, t, torch.tensor([1000.0], dtype=torch.float64), pp)
    assert torch.equal(uv, uv2) and torch.equal(uv, uv3)
    uv4 = perspective_projection(points, t, torch.tensor([[1000.0, 500.0]], dtype=torch.float64))
    assert torch.allclose(uv4[0, 0], torch.tensor([10.0, -10.0], dtype=torch.float64))


def test_project_to_crop_by_hand_and_matches_crop_pixels():
    # With s = 1 a point 0.5 m right of the root lands at 0.25 (weak perspective: u = s x / 2).
    cam_t = cam_to_translation(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))
    uv = project_to_crop(torch.tensor([[[0.5, 0.0, 0.0]]], dtype=torch.float64), cam_t)
    assert torch.allclose(uv, torch.tensor([[[0.25, 0.0]]], dtype=torch.float64))
    # Normalised crop coordinates are crop pixels (focal 5000, principal point 128) / 256 - 0.5.
    pred_cam, _, _, _, points = _random_scene(4, torch.float64, "cpu", depth=0.3)
    cam_t = cam_to_translation(pred_cam)
    pixels = perspective_projection(points, cam_t, FOCAL_LENGTH, torch.full((4, 2), 128.0, dtype=torch.float64))
    assert torch.allclose(project_to_crop(points, cam_t), pixels / 256 - 0.5, atol=1e-12)


def test_cam_crop_to_full_by_hand():
    full = cam_crop_to_full(
        torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64),
        box_center=torch.tensor([[600.0, 300.0]], dtype=torch.float64),
        box_size=torch.tensor([200.0], dtype=torch.float64),
        image_size_wh=torch.tensor([[1000.0, 500.0]], dtype=torch.float64),
    )
    F = 5000 / 256 * 1000
    assert torch.allclose(full, torch.tensor([[1.0, 0.5, 2 * F / 200]], dtype=torch.float64))


def test_default_focal_length():
    assert default_focal_length(1920, 1080) == pytest.approx(5000 / 256 * 1920)
    f = default_focal_length(torch.tensor([640.0, 480.0]), torch.tensor([480.0, 640.0]))
    assert torch.allclose(f, torch.tensor([12500.0, 12500.0]))


def test_intrinsics_matrix_agrees_with_projection():
    f = torch.tensor([[900.0, 950.0], [1200.0, 1200.0]], dtype=torch.float64)
    pp = torch.tensor([[640.0, 360.0], [600.0, 400.0]], dtype=torch.float64)
    K = intrinsics_matrix(f, pp)
    assert K.shape == (2, 3, 3) and K[0, 0, 1] == 0 and K[1, 2, 2] == 1
    points = torch.randn(2, 10, 3, dtype=torch.float64)
    t = torch.tensor([[0.0, 0.0, 8.0], [0.3, -0.1, 12.0]], dtype=torch.float64)
    homog = (points + t[:, None]) @ K.transpose(1, 2)
    assert torch.allclose(homog[..., :2] / homog[..., 2:], perspective_projection(points, t, f, pp))
    assert torch.equal(intrinsics_matrix(torch.tensor([5.0]))[0], torch.diag(torch.tensor([5.0, 5.0, 1.0])))
    assert intrinsics_matrix(700.0, pp).shape == (2, 3, 3)


# ----------------------------------------------------------------------------- consistency
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("focal", ["default", "user"])
def test_cam_crop_to_full_consistent_with_crop_projection(dtype, device, focal):
    """At the body's depth (z = 0) the crop route and the full-image camera must agree exactly."""
    pred_cam, box_center, box_size, image_wh, points = _random_scene(16, dtype, device, depth=0.0)
    if focal == "default":
        F, pp = default_focal_length(image_wh[:, 0], image_wh[:, 1]), None
        pp_pixels = image_wh / 2
    else:  # real intrinsics: own focal and an off-centre principal point
        F = torch.linspace(800, 3000, 16, dtype=dtype, device=device)
        pp = pp_pixels = image_wh / 2 + torch.tensor([13.0, -21.0], dtype=dtype, device=device)
    user_focal = None if focal == "default" else F
    cam_full = cam_crop_to_full(pred_cam, box_center, box_size, image_wh, focal_length=user_focal, principal_point=pp)
    full = perspective_projection(points, cam_full, F, pp_pixels)
    via_crop = _crop_to_full_pixels(points, pred_cam, box_center, box_size)
    tol = 1e-3 if dtype == torch.float32 else 1e-8  # pixels
    assert full.dtype == dtype
    assert (full - via_crop).abs().max() < tol


def test_cam_crop_to_full_first_order_off_plane():
    """Off the z = 0 plane the two cameras differ only by the depth's perspective effect."""
    pred_cam, box_center, box_size, image_wh, points = _random_scene(16, torch.float64, "cpu", depth=0.3)
    cam_full = cam_crop_to_full(pred_cam, box_center, box_size, image_wh)
    F = default_focal_length(image_wh[:, 0], image_wh[:, 1])
    full = perspective_projection(points, cam_full, F, image_wh / 2)
    via_crop = _crop_to_full_pixels(points, pred_cam, box_center, box_size)
    err = (full - via_crop).norm(dim=-1).max(dim=-1).values
    assert (err < 0.02 * box_size).all()


# ----------------------------------------------------------------------------- validation
def test_cam_errors():
    with pytest.raises(ValueError, match=r"\(s, tx, ty\)"):
        cam_to_translation(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="scale s must be > 0"):
        cam_to_translation(torch.tensor([[0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        cam_to_translation(torch.tensor([[float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="tz must be > 0"):
        translation_to_cam(torch.tensor([[0.0, 0.0, -3.0]]))
    # Training loops can opt out of the data-dependent checks (and their device sync).
    assert cam_to_translation(torch.tensor([[-1.0, 0.0, 0.0]]), validate=False)[0, 2] < 0


def test_cam_crop_to_full_errors():
    args = dict(
        pred_cam=torch.tensor([[1.0, 0.0, 0.0]]),
        box_center=torch.tensor([[100.0, 100.0]]),
        box_size=torch.tensor([50.0]),
        image_size_wh=torch.tensor([[640.0, 480.0]]),
    )
    cam_crop_to_full(**args)
    bad = [
        (dict(box_size=torch.tensor([0.0])), "box_size must be > 0"),
        (dict(box_size=torch.tensor([[50.0]])), r"box_size must have shape \(B,\)"),
        (dict(box_center=torch.tensor([[float("nan"), 1.0]])), "box_center contains NaN"),
        (dict(pred_cam=torch.tensor([[-0.5, 0.0, 0.0]])), "scale s must be > 0"),
        (dict(image_size_wh=torch.tensor([640.0, 480.0])), "image_size_wh must have shape"),
        (dict(focal_length=torch.tensor([-10.0])), "focal_length must be > 0"),
        (dict(focal_length=torch.tensor([[1000.0, 1000.0]])), "pass one focal"),
        (dict(principal_point=torch.tensor([320.0, 240.0])), "principal_point must have shape"),
    ]
    for override, message in bad:
        with pytest.raises(ValueError, match=message):
            cam_crop_to_full(**{**args, **override})


def test_projection_errors():
    t = torch.tensor([[0.0, 0.0, 5.0]])
    with pytest.raises(ValueError, match=r"points must have shape \(B, N, 3\)"):
        perspective_projection(torch.zeros(1, 4, 2), t, 1000.0)
    with pytest.raises(ValueError, match="translation must have shape"):
        perspective_projection(torch.zeros(1, 4, 3), torch.zeros(2, 3), 1000.0)
    with pytest.raises(ValueError, match="focal_length must be a float"):
        perspective_projection(torch.zeros(1, 4, 3), t, torch.ones(3, 3))
    with pytest.raises(ValueError, match="focal_length must be > 0"):
        perspective_projection(torch.zeros(1, 4, 3), t, 0.0)
    with pytest.raises(ValueError, match="points contains NaN"):
        perspective_projection(torch.full((1, 4, 3), float("nan")), t, 1000.0)
    with pytest.raises(ValueError, match="batch size"):
        intrinsics_matrix(1000.0)


def test_fit_crop_cam_to_box_puts_the_points_in_the_box():
    from workbench.geometry import fit_crop_cam_to_box

    g = torch.Generator().manual_seed(0)
    points = torch.randn(2, 50, 3, generator=g, dtype=torch.float64) * torch.tensor([0.2, 0.8, 0.1], dtype=torch.float64)
    box_wh = torch.tensor([[60.0, 180.0], [100.0, 120.0]], dtype=torch.float64)
    box_size = box_wh.amax(dim=1)
    cam = fit_crop_cam_to_box(points, box_wh, box_size, fill=1.0)
    uv = project_to_crop(points, cam_to_translation(cam)) * box_size[:, None, None]  # pixels from crop centre
    extent = uv.amax(dim=1) - uv.amin(dim=1)
    centre = (uv.amax(dim=1) + uv.amin(dim=1)) / 2
    # perspective differs from the weak-perspective fit by depth/tz (< 2% here)
    ratio = (extent / box_wh).amax(dim=1)
    torch.testing.assert_close(ratio, torch.ones(2, dtype=torch.float64), atol=0.02, rtol=0)
    assert centre.abs().max() < 0.02 * box_size.max()
