"""HMR 2.0's losses: published reductions (sums), masking, pelvis alignment, the registry, NaN."""

from __future__ import annotations

import pytest
import torch

from workbench import losses
from workbench.geometry import axis_angle_to_rotmat
from workbench.losses import (
    NonFiniteLossError,
    compute_losses,
    discriminator_loss,
    keypoint_2d_l1,
    keypoint_3d_l1,
    register_loss,
)


class ConstantDisc(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, body_pose, betas):
        return torch.full((betas.shape[0], 25), self.value)


class FakeModel(torch.nn.Module):
    def __init__(self, disc_value: float = 0.0):
        super().__init__()
        self.discriminator = ConstantDisc(disc_value)


def make_batch(b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    aa = 0.3 * torch.randn(b, 24, 3, generator=g)
    output = {
        "pred_keypoints_2d": torch.rand(b, 44, 2, generator=g) - 0.5,
        "pred_keypoints_3d": torch.randn(b, 44, 3, generator=g),
        "pred_smpl_params": {
            "global_orient": axis_angle_to_rotmat(aa[:, :1]),
            "body_pose": axis_angle_to_rotmat(aa[:, 1:]),
            "betas": torch.randn(b, 10, generator=g),
        },
    }
    batch = {
        "keypoints_2d": torch.cat([torch.rand(b, 44, 2, generator=g) - 0.5, torch.ones(b, 44, 1)], -1),
        "keypoints_3d": torch.cat([torch.randn(b, 44, 3, generator=g), torch.ones(b, 44, 1)], -1),
        "smpl_params": {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(b, 69),
                        "betas": torch.zeros(b, 10)},
        "has_smpl_params": {k: torch.ones(b) for k in ("global_orient", "body_pose", "betas")},
    }
    return output, batch


def test_2d_loss_is_a_confidence_weighted_sum():
    pred = torch.zeros(2, 44, 2)
    gt = torch.zeros(2, 44, 3)
    gt[..., :2] = 0.1
    gt[0, :, 2] = 1.0  # second sample invisible
    assert keypoint_2d_l1(pred, gt).item() == pytest.approx(44 * 2 * 0.1)  # a sum, not a mean
    gt[1, :, 2] = 1.0
    assert keypoint_2d_l1(pred, gt).item() == pytest.approx(2 * 44 * 2 * 0.1)


def test_3d_loss_ignores_translation_and_uses_joint_39():
    g = torch.Generator().manual_seed(0)
    gt = torch.cat([torch.randn(3, 44, 3, generator=g), torch.ones(3, 44, 1)], -1)
    pred = gt[..., :3] + torch.tensor([1.0, -2.0, 5.0])
    assert keypoint_3d_l1(pred, gt).item() == pytest.approx(0.0, abs=1e-4)  # float32 round-off over 396 terms
    moved = pred.clone()
    moved[:, 39] += 0.1  # moving the pelvis moves every aligned joint but the pelvis itself
    assert keypoint_3d_l1(moved, gt).item() == pytest.approx(3 * 43 * 3 * 0.1, rel=1e-4)


def test_parameter_losses_match_an_independent_computation_and_mask():
    output, batch = make_batch()
    expected = ((output["pred_smpl_params"]["betas"] - 0.0) ** 2).sum()
    assert losses.LOSSES["betas"](output, batch, None).item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses.LOSSES["body_pose"](output, batch, None).item() == pytest.approx(0.0, abs=1e-5)  # same pose
    batch["has_smpl_params"]["betas"] = torch.tensor([1.0, 0.0])
    masked = (output["pred_smpl_params"]["betas"][0] ** 2).sum()
    assert losses.LOSSES["betas"](output, batch, None).item() == pytest.approx(masked.item(), rel=1e-5)


def test_adversarial_terms_follow_lsgan():
    output, _ = make_batch(b=4)
    assert losses.LOSSES["adversarial"](output, {}, FakeModel(1.0)).item() == pytest.approx(0.0)
    assert losses.LOSSES["adversarial"](output, {}, FakeModel(0.0)).item() == pytest.approx(25.0)  # sum(1)/B * 25
    real_pose, real_betas = torch.eye(3).expand(6, 23, 3, 3), torch.zeros(6, 10)
    # fakes scored 0 and reals scored 0: only the real term counts, divided by the IMAGE batch (4)
    params = output["pred_smpl_params"]
    value = discriminator_loss(ConstantDisc(0.0), params["body_pose"], params["betas"], real_pose, real_betas)
    assert value.item() == pytest.approx(6 * 25 / 4)


def test_compute_losses_weights_logs_and_registry():
    output, batch = make_batch()
    weights = {"keypoints_2d": 0.01, "keypoints_3d": 0.05, "betas": 0.0}
    total, terms = compute_losses(output, batch, FakeModel(), weights)
    assert set(terms) == {"keypoints_2d", "keypoints_3d", "total"}
    assert total.item() == pytest.approx(0.01 * terms["keypoints_2d"] + 0.05 * terms["keypoints_3d"], rel=1e-5)

    @register_loss("test_constant")
    def constant(output, batch, model):
        return torch.tensor(3.0)

    try:
        _, terms = compute_losses(output, batch, FakeModel(), {"test_constant": 2.0})
        assert terms == {"test_constant": 3.0, "total": 6.0}
    finally:
        losses.LOSSES.pop("test_constant")
    with pytest.raises(KeyError, match="no registered loss"):
        compute_losses(output, batch, FakeModel(), {"nope": 1.0})


def test_nan_loss_names_the_term_and_step():
    output, batch = make_batch()
    batch["keypoints_3d"][0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="'keypoints_3d' is nan at step 7"):
        compute_losses(output, batch, FakeModel(), {"keypoints_2d": 1.0, "keypoints_3d": 1.0}, step=7)
