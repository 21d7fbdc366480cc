"""workbench.predict: crops as the demo makes them, predictions placed in the full photo agree with the
crop, overlays draw where the people are."""

import numpy as np
import pytest
import torch

from workbench.config import BackboneConfig, HeadConfig, preset
from workbench.geometry import crop_to_image_points, square_box_size
from workbench.models import build_model
from workbench.predict import crop_keypoints_px, crop_overlays, crop_people, predict_people, render_predictions

BOXES = np.array([[30.0, 78.0, 172.0, 480.0], [300.0, 100.0, 420.0, 300.0]])


@pytest.fixture(scope="module")
def model():
    """A micro HMR2 whose readouts start near the mean (gain 0.01): a sane camera, an upright body."""
    cfg = preset("tiny")
    cfg.model.backbone = BackboneConfig(embed_dim=32, depth=1, num_heads=2)
    cfg.model.head = HeadConfig(dim=32, depth=1, heads=2, dim_head=16, mlp_dim=32, readout_init_gain=0.01)
    torch.manual_seed(0)
    return build_model(cfg).eval()


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)


def test_crop_people_follows_the_demo_recipe(photo):
    people = crop_people(photo, BOXES)
    assert people.img.shape == (2, 3, 256, 256) and people.crops.shape == (2, 256, 256, 3)
    np.testing.assert_allclose(people.centers, (BOXES[:, :2] + BOXES[:, 2:]) / 2)
    np.testing.assert_allclose(people.sizes, square_box_size(BOXES[:, 2:] - BOXES[:, :2]))
    with pytest.raises(ValueError, match="no person boxes"):
        crop_people(photo, np.zeros((0, 4)))


def test_full_image_keypoints_agree_with_the_crop(model, photo):
    pred = predict_people(model, photo, BOXES)
    assert pred.vertices.shape[0] == 2 and pred.keypoints_2d.shape == (2, 44, 2)
    assert pred.focal == pytest.approx(5000 / 256 * 640)
    # The crop keypoints mapped back through the box land where the full-image camera projects the
    # body: exactly at the body's depth, to first order in (body depth / distance) elsewhere.
    via_crop = crop_to_image_points(pred.output["pred_keypoints_2d"], pred.crops.centers, pred.crops.sizes)
    err = (pred.keypoints_2d.double() - via_crop).norm(dim=-1).max(dim=1).values
    assert torch.all(err < 0.01 * torch.as_tensor(pred.crops.sizes))
    assert torch.all(pred.cam_t[:, 2] > 0)


def test_a_given_focal_moves_the_body_not_its_projection(model, photo):
    default, real = predict_people(model, photo, BOXES[:1]), predict_people(model, photo, BOXES[:1], focal_length=600.0)
    assert real.cam_t[0, 2] < default.cam_t[0, 2]  # a shorter focal brings the person closer
    # Same place in the photo, up to perspective: at ~3 m the body's own depth matters more than at ~50 m.
    size = float(default.crops.sizes[0])
    torch.testing.assert_close(real.keypoints_2d, default.keypoints_2d, atol=0.05 * size, rtol=0)


def test_render_predictions_draws_inside_the_box_only(model, photo):
    pred = predict_people(model, photo, BOXES[:1])
    shown = render_predictions(photo, pred, model.smpl.faces)
    assert shown.shape == photo.shape and shown.dtype == np.uint8
    changed = np.any(shown != photo, axis=-1)
    x1, y1, x2, y2 = BOXES[0].astype(int)
    assert changed[y1:y2, x1:x2].mean() > 0.05
    assert not changed[:, 400:].any()


def test_crop_overlays_and_pixel_keypoints(model):
    crops = [np.full((256, 256, 3), 128, np.uint8)] * 2
    with torch.no_grad():
        output = model(torch.zeros(2, 3, 256, 256))
    gt = torch.zeros(2, 44, 3)
    shown = crop_overlays(crops, output, model.smpl.faces, gt_keypoints_2d=gt)
    assert len(shown) == 2 and shown[0].shape == (256, 256, 3) and (shown[0] != 128).any()
    px = crop_keypoints_px(torch.tensor([[[-0.5, 0.0, 1.0], [0.5, 0.25, 0.0]]]))
    torch.testing.assert_close(px, torch.tensor([[[0.0, 128.0, 1.0], [256.0, 192.0, 0.0]]]))
