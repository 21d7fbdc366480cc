"""HMR 2.0's losses, and a registry so a new loss is one decorated function plus one weight.

Published reductions are **sums** over joints, coordinates and the batch, not means; the published
weights (``workbench.config.LossConfig``) are tuned for that:

    total = 0.05 L3D + 0.01 L2D + 0.001 L_global_orient + 0.001 L_body_pose + 0.0005 L_betas + 0.0005 L_adv

Every registered loss has the signature ``fn(output, batch, model) -> scalar`` where ``output`` is
HMR2's forward dict, ``batch`` the training batch (HMR 2.0 keys) and ``model`` the HMR2 module
(the adversarial term needs its discriminator). Add one in a notebook:

    >>> @register_loss("bone_symmetry")
    ... def bone_symmetry(output, batch, model):
    ...     ...
    >>> cfg.loss.weights["bone_symmetry"] = 0.01
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from workbench.body.keypoints import PELVIS_INDEX
from workbench.geometry import axis_angle_to_rotmat
from workbench.registry import Registry

LossFn = Callable[[dict, dict, torch.nn.Module], Tensor]
LOSSES = Registry("loss")  # name -> fn(output, batch, model) -> scalar tensor


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or inf; carries the term's name (and the step, set by the trainer)."""

    def __init__(self, term: str, value: float, step: int | None = None) -> None:
        self.term, self.value, self.step = term, value, step
        where = f" at step {step}" if step is not None else ""
        super().__init__(
            f"loss term {term!r} is {value}{where}. Training stopped; the last good checkpoint is kept. "
            "Lower the learning rate, check the batch for NaN labels, or enable grad_clip."
        )


def register_loss(name: str) -> Callable[[LossFn], LossFn]:
    """Decorator: make ``fn`` available to :func:`compute_losses` under ``name``."""
    return LOSSES.register(name)


def list_losses() -> list[str]:
    return LOSSES.names()


# --- the published terms -----------------------------------------------------------------------


def keypoint_2d_l1(pred: Tensor, gt: Tensor) -> Tensor:
    """Confidence-weighted L1, summed. pred (B, K, 2); gt (B, K, 3) = (x, y, conf), crop units."""
    conf = gt[..., -1:]
    return (conf * (pred - gt[..., :-1]).abs()).sum()


def keypoint_3d_l1(pred: Tensor, gt: Tensor, pelvis: int = PELVIS_INDEX) -> Tensor:
    """L1 after moving joint ``pelvis`` of each to the origin, confidence-weighted, summed.

    pred (B, K, 3) metres; gt (B, K, 4) = (x, y, z, conf).
    """
    pred = pred - pred[:, pelvis : pelvis + 1]
    target = gt[..., :-1] - gt[:, pelvis : pelvis + 1, :-1]
    return (gt[..., -1:] * (pred - target).abs()).sum()


def parameter_mse(pred: Tensor, gt: Tensor, has: Tensor) -> Tensor:
    """MSE summed over everything, masked per sample by availability ``has`` (B,)."""
    mask = has.to(pred).reshape(-1, *([1] * (pred.dim() - 1)))
    return (mask * (pred - gt) ** 2).sum()


def rotation_mse(output: dict, batch: dict, key: str, num: int) -> Tensor:
    """MSE between predicted and ground-truth rotation matrices of ``key`` (``num`` joints), masked.

    Ground truth may be axis-angle (converted) or matrices, per ``smpl_params_is_axis_angle``.
    """
    pred = output["pred_smpl_params"][key]
    gt = batch["smpl_params"][key]
    is_aa = batch.get("smpl_params_is_axis_angle", {}).get(key, True)
    if bool(torch.as_tensor(is_aa).reshape(-1)[0]):
        gt = axis_angle_to_rotmat(gt.reshape(gt.shape[0], num, 3))
    return parameter_mse(pred.reshape(pred.shape[0], -1), gt.reshape(gt.shape[0], -1), batch["has_smpl_params"][key])


@register_loss("keypoints_2d")
def keypoints_2d_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    return keypoint_2d_l1(output["pred_keypoints_2d"], batch["keypoints_2d"])


@register_loss("keypoints_3d")
def keypoints_3d_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    return keypoint_3d_l1(output["pred_keypoints_3d"], batch["keypoints_3d"])


@register_loss("global_orient")
def global_orient_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    return rotation_mse(output, batch, "global_orient", 1)


@register_loss("body_pose")
def body_pose_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    return rotation_mse(output, batch, "body_pose", 23)


@register_loss("betas")
def betas_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    return parameter_mse(output["pred_smpl_params"]["betas"], batch["smpl_params"]["betas"],
                         batch["has_smpl_params"]["betas"])


@register_loss("adversarial")
def adversarial_generator_loss(output: dict, batch: dict, model: torch.nn.Module) -> Tensor:
    """LSGAN generator term: sum((D(pred) - 1)^2) / B. The discriminator sees the predicted body pose and betas."""
    disc = _discriminator(model)
    params = output["pred_smpl_params"]
    scores = disc(params["body_pose"], params["betas"])
    return ((scores - 1.0) ** 2).sum() / scores.shape[0]


def discriminator_loss(disc: Callable[[Tensor, Tensor], Tensor], fake_body_pose: Tensor, fake_betas: Tensor,
                       real_body_pose: Tensor, real_betas: Tensor) -> Tensor:
    """The discriminator's own step: [sum(D(fake)^2) + sum((D(real) - 1)^2)] / B, B the image batch.

    Fakes are the (detached) predictions (B, 23, 3, 3) / (B, 10); reals (M, 23, 3, 3) / (M, 10) come
    from the pose/shape prior. As published, both sums are divided by the image batch size; the
    trainer weights the result by the adversarial weight. One forward over fakes and reals together
    (so a DistributedDataParallel discriminator sees one forward per backward).
    """
    batch_size = fake_betas.shape[0]
    scores = disc(torch.cat([fake_body_pose.detach(), real_body_pose]), torch.cat([fake_betas.detach(), real_betas]))
    fake, real = scores[:batch_size], scores[batch_size:]
    return (fake**2).sum() / batch_size + ((real - 1.0) ** 2).sum() / batch_size


def _discriminator(model: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(model, "module", model)  # DDP wrapper
    disc = getattr(inner, "discriminator", None)
    if disc is None:
        raise ValueError("the adversarial loss needs a model with a discriminator (ModelConfig.discriminator=True), "
                         "or set its weight to 0.")
    return disc


def compute_losses(output: dict, batch: dict, model: torch.nn.Module, weights: dict[str, float],
                   step: int | None = None) -> tuple[Tensor, dict[str, float]]:
    """Weighted sum of the registered losses named in ``weights`` (weight 0 skips a term).

    Returns the total (a scalar to backpropagate) and every term's unweighted value for logging.
    Raises :class:`NonFiniteLossError` naming the first term that is not finite.
    """
    unknown = [name for name in weights if name not in LOSSES]
    if unknown:
        raise KeyError(f"no registered loss named {unknown}; registered: {list_losses()}.")
    total = None
    terms: dict[str, float] = {}
    for name, weight in weights.items():
        if weight == 0:
            continue
        value = LOSSES[name](output, batch, model)
        scalar = float(value.detach())
        if not math.isfinite(scalar):
            raise NonFiniteLossError(name, scalar, step)
        terms[name] = scalar
        total = weight * value if total is None else total + weight * value
    if total is None:
        raise ValueError("all loss weights are zero; nothing to train.")
    terms["total"] = float(total.detach())
    return total, terms
