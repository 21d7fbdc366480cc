"""workbench.models.prior_check: implausible-pose samplers, the per-body penalty, a quick discriminator run."""

import math

import numpy as np
import torch

from workbench.data import MocapPrior, sample_poses, within_limits
from workbench.geometry import axis_angle_to_rotmat
from workbench.losses import LOSSES
from workbench.models import Discriminator
from workbench.models.prior_check import (
    KNEES,
    generator_penalty,
    random_rotation_sampler,
    random_rotations,
    reverse_knees,
    train_discriminator,
)


def test_random_rotations_are_seeded_bounded_and_beyond_the_limits():
    a, b = random_rotations(200, 3), random_rotations(200, 3)
    torch.testing.assert_close(a, b)
    assert a.shape == (200, 23, 3)
    assert not torch.allclose(a, random_rotations(200, 4))
    assert a.norm(dim=-1).max() <= math.pi + 1e-6
    assert random_rotations(50, 0, max_angle=0.3).norm(dim=-1).max() <= 0.3 + 1e-6
    assert within_limits(a).mean() < 0.01


def test_reverse_knees_changes_only_the_knees():
    pose = torch.as_tensor(sample_poses(20, 1).pose[:, 1:])
    assert within_limits(pose).all()
    bent = reverse_knees(pose, bend=1.0)
    others = [j for j in range(23) if j not in KNEES]
    torch.testing.assert_close(bent[:, others], pose[:, others])
    assert torch.equal(bent[:, list(KNEES)], torch.tensor([-1.0, 0.0, 0.0]).expand(20, 2, 3))
    assert not within_limits(bent).any()
    assert not torch.equal(bent, pose)  # the input is left alone


def test_penalty_is_the_adversarial_loss_per_body():
    torch.manual_seed(0)
    disc = Discriminator()
    g = torch.Generator().manual_seed(0)
    aa, betas = random_rotations(6, g, max_angle=1.0), torch.randn(6, 10, generator=g)
    rotmats = axis_angle_to_rotmat(aa)
    penalty = generator_penalty(disc, aa, betas)
    torch.testing.assert_close(penalty, generator_penalty(disc, rotmats, betas))  # axis-angle or matrices
    # A slow path: the registered loss (a sum over the batch divided by B) on a model holding disc.
    model = torch.nn.Module()
    model.discriminator = disc
    output = {"pred_smpl_params": {"body_pose": rotmats, "betas": betas}}
    loss = LOSSES["adversarial"](output, {}, model)
    torch.testing.assert_close(penalty.mean(), loss.detach())
    manual = torch.stack([((disc(rotmats[i:i + 1], betas[i:i + 1]) - 1) ** 2).sum() for i in range(6)]).detach()
    torch.testing.assert_close(penalty, manual)


def test_a_quick_run_is_seeded_and_tells_prior_from_random_bodies():
    def run():
        torch.manual_seed(0)
        disc = Discriminator()
        log = train_discriminator(disc, MocapPrior(), random_rotation_sampler(), steps=60, lr=1e-3, generator=1,
                                  batch_size=32, progress=False)
        return disc, log

    disc, log = run()
    _, again = run()
    np.testing.assert_array_equal(log.to_numpy(), again.to_numpy())
    assert list(log.columns) == ["step", "loss", "real_score", "fake_score"] and len(log) == 60
    assert log["loss"].iloc[-10:].mean() < 0.5 * log["loss"].iloc[:5].mean()
    assert not disc.training and not disc._forward_hooks
    g = torch.Generator().manual_seed(99)  # held-out bodies
    real = torch.as_tensor(sample_poses(200, 99).pose[:, 1:])
    betas = torch.randn(200, 10, generator=g)
    plausible = generator_penalty(disc, real, betas)
    implausible = generator_penalty(disc, random_rotations(200, g), betas)
    # Rank separation (AUC): the chance a random body is charged more than a prior body.
    auc = (implausible[:, None] > plausible[None, :]).float().mean()
    assert auc > 0.95, auc
