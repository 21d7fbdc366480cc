"""Tests for workbench.geometry.crop: box expansion, affine geometry, image crops, point maps."""

import cv2
import numpy as np
import pytest
import torch

from workbench.geometry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    antialias_sigma,
    apply_affine,
    box_to_center_scale,
    crop_affine,
    crop_image,
    crop_to_image_points,
    crop_to_vit_columns,
    expand_to_aspect_ratio,
    image_to_crop_points,
    normalize_image,
    square_box_size,
)


def _hmr2_three_point_affine(center, box_size, out_size, rotation_deg, flip, image_width):
    """Slow reference: HMR 2.0 flips the image first, then maps three rotated box points."""
    cx, cy = center
    if flip:
        cx = image_width - cx - 1
    t = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    c = np.array([cx, cy])
    src = np.stack([c, c + rot @ [0, box_size / 2], c + rot @ [box_size / 2, 0]])
    h = out_size / 2
    dst = np.array([[h, h], [h, 2 * h], [2 * h, h]])
    A = cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    if flip:  # fold the image flip x -> W - 1 - x into the matrix
        A = A @ np.array([[-1.0, 0, image_width - 1], [0, 1, 0], [0, 0, 1]])
    return A


# ----------------------------------------------------------------------------- boxes
def test_expand_to_aspect_ratio_grows_only_deficient_side():
    sizes = np.array([[100.0, 200.0], [300.0, 100.0], [150.0, 200.0]])
    out = expand_to_aspect_ratio(sizes)
    np.testing.assert_allclose(out, [[150.0, 200.0], [300.0, 400.0], [150.0, 200.0]])
    assert np.all(out >= sizes)
    np.testing.assert_allclose(expand_to_aspect_ratio(sizes, None), sizes)
    np.testing.assert_allclose(square_box_size(sizes), [200.0, 400.0, 200.0])
    np.testing.assert_allclose(square_box_size(sizes, aspect=None), [200.0, 300.0, 200.0])


def test_box_to_center_scale():
    center, size = box_to_center_scale([[10, 20, 110, 220], [0, 0, 4, 2]])
    np.testing.assert_allclose(center, [[60, 120], [2, 1]])
    np.testing.assert_allclose(size, [[100, 200], [4, 2]])
    _, size = box_to_center_scale([[10, 20, 110, 220]], rescale=1.2)
    np.testing.assert_allclose(size, [[120, 240]])


def test_box_errors():
    with pytest.raises(ValueError, match="box 1 .* has zero size"):
        box_to_center_scale([[0, 0, 10, 10], [5, 5, 5, 30]])
    with pytest.raises(ValueError, match="has zero size"):
        box_to_center_scale([[0, 0, 10, -10]])
    with pytest.raises(ValueError, match="NaN"):
        box_to_center_scale([[0, 0, np.nan, 10]])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_to_center_scale([0, 0, 10, 10])
    with pytest.raises(ValueError, match="has zero size"):
        crop_affine([10, 10], 0.0)
    with pytest.raises(ValueError, match="NaN"):
        crop_affine([np.inf, 10], 50.0)


# ----------------------------------------------------------------------------- affine
def test_affine_maps_expanded_box_corners_to_crop_corners():
    center, size = box_to_center_scale([[100, 50, 200, 350]])  # 100 x 300, too narrow for 3:4
    side = square_box_size(size)[0]
    assert side == 300
    A = crop_affine(center[0], side)
    x1, y1 = center[0] - side / 2
    x2, y2 = center[0] + side / 2
    corners = apply_affine([[x1, y1], [x2, y1], [x1, y2], [x2, y2], center[0]], A)
    np.testing.assert_allclose(corners, [[0, 0], [256, 0], [0, 256], [256, 256], [128, 128]], atol=1e-9)


@pytest.mark.parametrize("rotation_deg, flip", [(0, False), (30, False), (-75, False), (0, True), (20, True)])
def test_affine_matches_hmr2_three_point_construction(rotation_deg, flip):
    center, side, W = (321.5, 207.25), 183.0, 640
    ours = crop_affine(center, side, 256, rotation_deg, flip)
    ref = _hmr2_three_point_affine(center, side, 256, rotation_deg, flip, W)[:2]
    np.testing.assert_allclose(ours, ref, atol=1e-3)  # the reference solves in float32


def test_three_by_four_box_fills_exactly_the_vit_columns():
    # A box already at 3:4 becomes a square of its height; its sides land on columns 32 and 224.
    center, size = box_to_center_scale([[100, 50, 250, 250]])  # 150 x 200
    side = square_box_size(size)[0]
    A = crop_affine(center[0], side)
    left_right = apply_affine([[100, 150], [250, 150]], A)
    np.testing.assert_allclose(left_right[:, 0], [32, 224], atol=1e-9)

    image = np.zeros((400, 400, 3), np.uint8)
    image[50:250, 100:250] = 255  # pixel centres 100..249: box edge to box edge minus one
    crop, _ = crop_image(image, center[0], side)
    vit = crop_to_vit_columns(crop)
    assert vit.shape == (256, 192, 3)
    rows = slice(4, 252)
    assert vit[rows, :191].min() == 255  # every kept column is inside the box ...
    assert vit[rows, 191].min() > 0.7 * 255  # (last one straddles the box's right pixel edge)
    assert crop[rows, :31].max() == 0 and crop[rows, 225:].max() == 0  # ... and nothing outside is


# ----------------------------------------------------------------------------- image crops
def test_crop_of_drawn_rectangle_lands_where_expected():
    image = np.zeros((480, 640, 3), np.uint8)
    image[100:300, 200:300] = (200, 100, 50)
    center, size = box_to_center_scale([[200, 100, 300, 300]])
    side = square_box_size(size)[0]  # 100 x 200 -> 150 x 200 -> square 200, 1.28 crop px per px
    crop, info = crop_image(image, center[0], side)
    assert crop.shape == (256, 256, 3) and crop.dtype == np.float32
    assert info.box_size == 200 and info.out_size == 256
    np.testing.assert_allclose(info.center, [250, 200])
    # Rectangle x in [200, 299] -> crop columns [64, 190.7]; y in [100, 299] -> rows [0, 254.7].
    np.testing.assert_array_equal(crop[2:253, 66:189], np.broadcast_to([200, 100, 50], (251, 123, 3)))
    assert crop[:, :62].max() == 0 and crop[:, 193:].max() == 0


def test_crop_outside_image_is_black():
    image = np.full((100, 100, 3), 255, np.uint8)
    crop, _ = crop_image(image, (0.0, 50.0), 100.0)  # box half outside on the left
    assert crop[:, :126].max() == 0 and crop[2:254, 129:].min() == 255  # 2.56 crop px per image px


def test_blur_only_above_threshold():
    # Blur when (box_size / 256) / 2 > 1.1, i.e. box_size > 563.2 px.
    assert antialias_sigma(563.0) == 0.0
    assert antialias_sigma(563.3) > 0.0
    assert antialias_sigma(768.0) == pytest.approx(0.25)
    assert antialias_sigma(256.0) == 0.0
    noise = np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
    center = (750.0, 750.0)
    below_aa, _ = crop_image(noise, center, 560.0, antialias=True)
    below_raw, _ = crop_image(noise, center, 560.0, antialias=False)
    np.testing.assert_array_equal(below_aa, below_raw)
    above_aa, _ = crop_image(noise, center, 1200.0, antialias=True)
    above_raw, _ = crop_image(noise, center, 1200.0, antialias=False)
    assert above_aa.std() < 0.8 * above_raw.std()  # a low-pass filter removes noise energy
    assert abs(above_aa.mean() - above_raw.mean()) < 2.0  # ... but keeps brightness


def test_image_validation():
    for bad in [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), [[0]]]:
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
            crop_image(bad, (5, 5), 10)


# ----------------------------------------------------------------------------- ViT columns and normalisation
def test_crop_to_vit_columns_numpy_and_torch():
    crop = np.arange(256)[None, :, None].repeat(256, 0).repeat(3, 2)  # value = column index
    vit = crop_to_vit_columns(crop)
    assert vit.shape == (256, 192, 3) and vit[0, 0, 0] == 32 and vit[0, -1, 0] == 223
    batch = torch.arange(256.0).expand(2, 3, 256, 256)
    vit_t = crop_to_vit_columns(batch)
    assert vit_t.shape == (2, 3, 256, 192) and vit_t[0, 0, 0, 0] == 32 and vit_t[0, 0, 0, -1] == 223
    assert crop_to_vit_columns(np.zeros((4, 256, 256, 3))).shape == (4, 256, 192, 3)
    with pytest.raises(ValueError, match="square"):
        crop_to_vit_columns(np.zeros((256, 192, 3)))


def test_normalize_image():
    mean_pixel = (255 * np.array(IMAGENET_MEAN)).astype(np.float32)
    image = np.broadcast_to(mean_pixel, (4, 5, 3)).copy()
    image[0, 0] += 255 * np.array(IMAGENET_STD, dtype=np.float32)
    x = normalize_image(image)
    assert x.shape == (3, 4, 5) and x.dtype == torch.float32
    assert torch.allclose(x[:, 0, 0], torch.ones(3), atol=1e-5)
    assert torch.allclose(x[:, 1:, :], torch.zeros(1), atol=1e-5)
    assert normalize_image(np.zeros((2, 8, 8, 3), np.uint8)).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="RGB"):
        normalize_image(np.zeros((3, 8, 8)))


# ----------------------------------------------------------------------------- points
def test_points_round_trip_numpy():
    rng = np.random.default_rng(1)
    center, box_size = rng.uniform(100, 500, (5, 2)), rng.uniform(50, 400, 5)
    points = rng.uniform(0, 640, (5, 44, 2))
    for normalized in (True, False):
        crop = image_to_crop_points(points, center, box_size, normalized=normalized)
        np.testing.assert_allclose(crop_to_image_points(crop, center, box_size, normalized=normalized), points, atol=1e-9)
    # Crop pixels agree with the affine used for the image crop.
    for i in range(5):
        np.testing.assert_allclose(
            image_to_crop_points(points[i], center[i], box_size[i], normalized=False),
            apply_affine(points[i], crop_affine(center[i], box_size[i])),
            atol=1e-9,
        )


def test_points_round_trip_torch_and_known_values():
    center = torch.tensor([[300.0, 200.0]], dtype=torch.float64)
    box_size = torch.tensor([200.0], dtype=torch.float64)
    norm = torch.tensor([[[0.0, 0.0], [-0.5, -0.5], [0.5, 0.25]]], dtype=torch.float64)
    image = crop_to_image_points(norm, center, box_size)
    assert isinstance(image, torch.Tensor) and image.dtype == torch.float64
    assert torch.allclose(image, torch.tensor([[[300.0, 200.0], [200.0, 100.0], [400.0, 250.0]]], dtype=torch.float64))
    assert torch.allclose(image_to_crop_points(image, center, box_size), norm)
    pixels = image_to_crop_points(image, center, box_size, normalized=False)
    assert torch.allclose(pixels, torch.tensor([[[128.0, 128.0], [0.0, 0.0], [256.0, 192.0]]], dtype=torch.float64))
    with pytest.raises(ValueError, match="zero size"):
        crop_to_image_points(norm, center, torch.zeros(1))
