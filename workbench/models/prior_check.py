"""Does the adversarial prior know a plausible body when it sees one?

HMR 2.0's :class:`~workbench.models.Discriminator` learns, alongside the network, to tell mocap
bodies ("real") from the network's predictions ("fake"); the network's ``adversarial`` loss then
pushes its predictions towards what the discriminator calls real. To see what such a prior can
learn on its own, train it for a few hundred quick steps with the pose prior as "real" and
deliberately implausible bodies as "fake", then score held-out bodies of both kinds:

    >>> from workbench.data import MocapPrior                                        # doctest: +SKIP
    >>> disc = Discriminator()                                                       # doctest: +SKIP
    >>> log = train_discriminator(disc, MocapPrior(), random_rotation_sampler(), steps=300,
    ...                           lr=3e-4, generator=0)                              # doctest: +SKIP
    >>> penalty = generator_penalty(disc, body_pose, betas)  # (n,) what the loss adds per body  # doctest: +SKIP

The loss is HMR 2.0's own (LSGAN, :func:`workbench.losses.discriminator_loss`); only the fakes differ
from training, where they are the network's predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import torch
from torch import Tensor, nn

from workbench.geometry import axis_angle_to_rotmat
from workbench.losses import discriminator_loss

__all__ = ["KNEES", "as_generator", "generator_penalty", "random_rotation_sampler", "random_rotations", "reverse_knees",
           "train_discriminator"]

KNEES = (3, 4)  # body_pose rows of left_knee and right_knee (SMPL joints 4 and 5)

FakeSampler = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]


def as_generator(generator: torch.Generator | int | None) -> torch.Generator:
    """A torch.Generator from a generator (used as is), an int seed, or None (seeded from torch's global RNG)."""
    if isinstance(generator, torch.Generator):
        return generator
    seed = int(torch.randint(0, 2**62, (1,))) if generator is None else int(generator)
    return torch.Generator().manual_seed(seed)


def random_rotations(n: int, generator: torch.Generator | int | None = None, max_angle: float = math.pi,
                     num_joints: int = 23) -> Tensor:
    """Body poses with every joint turned by a random rotation: mostly far beyond any joint limit.

    Args:
        n: number of poses.
        generator: torch.Generator or int seed.
        max_angle: largest rotation angle (radians); angles are uniform in [0, max_angle], axes uniform
            on the sphere.
    Returns:
        (n, num_joints, 3) float32 axis-angle.
    """
    g = as_generator(generator)
    axis = torch.randn(n, num_joints, 3, generator=g)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    angle = max_angle * torch.rand(n, num_joints, 1, generator=g)
    return axis * angle


def reverse_knees(body_pose: Tensor, bend: float = 1.2) -> Tensor:
    """A copy of ``body_pose`` with both knees bent backwards by ``bend`` radians (a rotation of
    ``-bend`` about the joint's x axis; real knees bend only one way: 0 to about 2.6 rad about x).

    Args:
        body_pose: (n, 23, 3) axis-angle.
    Returns:
        (n, 23, 3), every other joint unchanged.
    """
    out = body_pose.clone()
    out[:, list(KNEES)] = torch.tensor([-bend, 0.0, 0.0], dtype=out.dtype, device=out.device)
    return out


def random_rotation_sampler(num_betas: int = 10, max_angle: float = math.pi) -> FakeSampler:
    """``fake_sampler`` for :func:`train_discriminator`: :func:`random_rotations` as matrices, betas ~ N(0, I)
    (the prior's shape distribution, so only the pose gives a fake away)."""

    def sample(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        pose = axis_angle_to_rotmat(random_rotations(n, generator, max_angle))  # (n, 23, 3, 3)
        return pose, torch.randn(n, num_betas, generator=generator)

    return sample


def train_discriminator(disc: nn.Module, prior, fake_sampler: FakeSampler, steps: int = 300, lr: float = 3e-4,
                        generator: torch.Generator | int | None = None, batch_size: int = 64,
                        weight_decay: float = 1e-4, progress: bool = True) -> pd.DataFrame:
    """Train ``disc`` alone: the prior's bodies are real, ``fake_sampler``'s are fake (HMR 2.0's LSGAN loss).

    Args:
        disc: a :class:`~workbench.models.Discriminator` (trained in place, left in eval mode).
        prior: has ``sample(n, generator) -> (body_pose (n, 23, 3, 3), betas (n, 10))``, e.g.
            :class:`workbench.data.MocapPrior`.
        fake_sampler: ``(n, generator) -> (body_pose (n, 23, 3, 3), betas (n, 10))``.
        steps: optimiser steps. lr, weight_decay: AdamW (HMR 2.0 uses AdamW; its lr 1e-5 is for
            a million steps, a quick check wants more).
        generator: torch.Generator or int seed; the same seed gives the same run.
        batch_size: real and fake bodies per step (each).
        progress: show a tqdm bar.
    Returns:
        Log, one row per step: ``step``, ``loss`` (the LSGAN loss), ``real_score`` and ``fake_score``
        (mean of the 25 outputs over the step's batch, before the update; targets 1 and 0).
    """
    from tqdm.auto import tqdm

    g = as_generator(generator)
    optimizer = torch.optim.AdamW(disc.parameters(), lr=lr, weight_decay=weight_decay)
    param = next(disc.parameters())
    scores: list[Tensor] = []  # the loss's own forward, caught by a hook: fakes first, then reals
    hook = disc.register_forward_hook(lambda module, args, output: scores.append(output.detach()))
    disc.train()
    rows = []
    try:
        for step in tqdm(range(1, steps + 1), desc="discriminator", disable=not progress):
            real_pose, real_betas = (t.to(param) for t in prior.sample(batch_size, g))
            fake_pose, fake_betas = (t.to(param) for t in fake_sampler(batch_size, g))
            scores.clear()
            loss = discriminator_loss(disc, fake_pose, fake_betas, real_pose, real_betas)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            rows.append({"step": step, "loss": float(loss.detach()), "real_score": float(scores[0][batch_size:].mean()),
                         "fake_score": float(scores[0][:batch_size].mean())})
    finally:
        hook.remove()
        disc.eval()
    return pd.DataFrame(rows, columns=["step", "loss", "real_score", "fake_score"])


def generator_penalty(disc: nn.Module, body_pose: Tensor, betas: Tensor) -> Tensor:
    """What the ``adversarial`` loss charges each body: ``sum_k (D_k - 1)^2`` over the 25 scores.

    0 for a body the discriminator calls perfectly real, 25 for one it calls perfectly fake. The
    loss term of a batch is the mean of this over the batch.

    Args:
        body_pose: (n, 23, 3) axis-angle or (n, 23, 3, 3) rotation matrices.
        betas: (n, 10).
    Returns:
        (n,) float, no gradient.
    """
    if body_pose.shape[-1] == 3 and body_pose.dim() == 3:
        body_pose = axis_angle_to_rotmat(body_pose)
    with torch.no_grad():
        return ((disc(body_pose, betas) - 1.0) ** 2).sum(dim=1)
