"""``HMR2``: crop -> backbone -> SMPL head -> camera -> body -> 3D and 2D keypoints.

Outputs are a dict with exactly the published keys (``pred_cam``, ``pred_smpl_params``,
``pred_cam_t``, ``focal_length``, ``pred_keypoints_3d``, ``pred_vertices``, ``pred_keypoints_2d``) so
code written for HMR 2.0 reads them unchanged.

The body model (``self.smpl``) is a sub-module so ``.to(device)`` moves it, but its buffers are
*not* part of the model's state: ``state_dict()`` leaves out every ``smpl.*`` key and
``load_state_dict()`` ignores incoming ``smpl.*`` keys and keeps the body it was built with. The
body is data the user brings (open body or licensed SMPL), not something a checkpoint should ship
or silently replace. Both are done with state-dict hooks, so they also hold when the model is
wrapped (e.g. in DistributedDataParallel).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from workbench.body import BodyModel
from workbench.config import Config, ModelConfig
from workbench.geometry import cam_to_translation, crop_to_vit_columns, project_to_crop
from workbench.models.discriminator import Discriminator
from workbench.models.registry import create_backbone, create_head

__all__ = ["HMR2", "build_model", "ablation_config", "ABLATIONS", "OUTPUT_KEYS"]

OUTPUT_KEYS = ("pred_cam", "pred_smpl_params", "pred_cam_t", "focal_length", "pred_keypoints_3d",
               "pred_vertices", "pred_keypoints_2d")
_BODY = "smpl"  # attribute (and state-dict prefix) of the body model, as published


def check_crops(img: Tensor, image_size: int) -> None:
    """Raise a ValueError (TypeError for non-tensors) that says what is wrong with a crop batch."""
    want = f"(B, 3, {image_size}, {image_size})"
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"img must be a torch.Tensor {want}; got {type(img).__name__}. Use torch.as_tensor(...).")
    if img.dim() != 4:
        hint = " Add a batch dimension: img[None]." if img.dim() == 3 else ""
        raise ValueError(f"img must have shape {want}; got {tuple(img.shape)}.{hint}")
    if img.shape[0] == 0:
        raise ValueError(f"img is an empty batch {tuple(img.shape)}: there is no crop to run. Skip the model when "
                         "no person was detected.")
    if img.shape[1] != 3:
        raise ValueError(f"img has {img.shape[1]} channel(s), shape {tuple(img.shape)}; the model expects RGB "
                         f"{want}. Channels first; repeat a grey image to 3 channels.")
    if tuple(img.shape[2:]) != (image_size, image_size):
        raise ValueError(f"img crops are {img.shape[2]}x{img.shape[3]}; the model expects {image_size}x{image_size} "
                         f"{want}. Crop with workbench.geometry.crop_image(..., out_size={image_size}).")
    if not img.is_floating_point():
        raise ValueError(f"img has dtype {img.dtype}; pass float crops normalised with ImageNet mean/std "
                         "(workbench.geometry.normalize_image).")


def _drop_body_state(module: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    """state_dict post-hook: the body's buffers are not saved with the model."""
    for key in [k for k in state_dict if k.startswith(f"{prefix}{_BODY}.")]:
        del state_dict[key]


def _keep_body_on_load(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """load_state_dict pre-hook: ignore any incoming body keys and 'load' the body's own tensors."""
    for key in [k for k in state_dict if k.startswith(f"{prefix}{_BODY}.")]:
        del state_dict[key]
    for name, tensor in getattr(module, _BODY).state_dict().items():
        state_dict[f"{prefix}{_BODY}.{name}"] = tensor


class HMR2(nn.Module):
    """HMR 2.0 (or an ablation of it) with the published sub-module names.

    Sub-modules: ``backbone`` (ViT-H or a registered alternative), ``smpl_head``,
    ``discriminator`` (if ``cfg.discriminator``), ``smpl`` (the :class:`BodyModel`; outside the state).

    Args:
        cfg: :class:`ModelConfig`.
        body: the body model; None builds ``BodyModel.create(cfg.body)``.
        mean_params: ``smpl_mean_params.npz`` path or arrays for the head's starting point; None =
            ``workbench.assets.mean_params_path(body.name)``.
    """

    def __init__(self, cfg: ModelConfig, body: BodyModel | None = None,
                 mean_params: str | os.PathLike | Mapping[str, np.ndarray] | None = None) -> None:
        super().__init__()
        self.cfg = copy.deepcopy(cfg)
        if cfg.backbone.img_size[0] != cfg.image_size or cfg.backbone.img_size[1] > cfg.image_size:
            raise ValueError(f"backbone img_size {cfg.backbone.img_size} must be {cfg.image_size} high and at most "
                             f"{cfg.image_size} wide: it is the central columns of the {cfg.image_size} crop.")
        if body is None:
            body = BodyModel.create(cfg.body, num_betas=cfg.head.num_betas)
        if mean_params is None:
            from workbench.assets import mean_params_path

            mean_params = mean_params_path(body.name)
        self.backbone = create_backbone(cfg.backbone)
        self.smpl_head = create_head(cfg.head, context_dim=self.backbone.out_channels, mean_params=mean_params)
        if cfg.discriminator:
            self.discriminator = Discriminator(cfg.head.num_betas)
        self.smpl = body
        self.register_state_dict_post_hook(_drop_body_state)
        self.register_load_state_dict_pre_hook(_keep_body_on_load)

    @classmethod
    def from_official_checkpoint(cls, path: str | os.PathLike, body: BodyModel | None = None,
                                 model_cfg: ModelConfig | None = None) -> "HMR2":
        """Load the published HMR 2.0 Lightning checkpoint (see :mod:`workbench.models.checkpoint`)."""
        from workbench.models.checkpoint import load_official_checkpoint

        return load_official_checkpoint(path, body=body, model_cfg=model_cfg)

    def forward(self, img: Tensor) -> dict[str, Tensor | dict[str, Tensor]]:
        """Run on a batch of person crops.

        Args:
            img: (B, 3, 256, 256) RGB crops, ImageNet-normalised (B >= 1).
        Returns:
            ``pred_cam`` (B, 3) crop camera (s, tx, ty);
            ``pred_smpl_params`` {``global_orient`` (B, 1, 3, 3), ``body_pose`` (B, 23, 3, 3), ``betas`` (B, 10)};
            ``pred_cam_t`` (B, 3) metres, ``(tx, ty, 2F / (256 s + 1e-9))``;
            ``focal_length`` (B, 2) pixels at the 256 crop (5000);
            ``pred_keypoints_3d`` (B, 44, 3) metres, body frame (no translation);
            ``pred_vertices`` (B, V, 3) metres, body frame;
            ``pred_keypoints_2d`` (B, 44, 2) normalised crop coordinates (about [-0.5, 0.5]).
        """
        cfg = self.cfg
        check_crops(img, cfg.image_size)
        B = img.shape[0]
        W = cfg.backbone.img_size[1]
        feats = self.backbone(crop_to_vit_columns(img, aspect=(W, cfg.image_size)))  # (B, 3, 256, 192) -> (B, C, h, w)
        pred_smpl_params, pred_cam, _ = self.smpl_head(feats)
        pred_cam = pred_cam.float()
        pred_smpl_params = {k: v.float() for k, v in pred_smpl_params.items()}
        focal_length = torch.full((B, 2), cfg.focal_length, dtype=pred_cam.dtype, device=pred_cam.device)
        pred_cam_t = cam_to_translation(pred_cam, cfg.focal_length, cfg.image_size, validate=False)
        # The body runs in float32 even under autocast: skinning in bf16 costs millimetres.
        with torch.autocast(device_type=img.device.type, enabled=False):
            body = self.smpl(**pred_smpl_params)
        keypoints_3d = body.keypoints  # (B, 44, 3)
        keypoints_2d = project_to_crop(keypoints_3d, pred_cam_t, cfg.focal_length, cfg.image_size, validate=False)
        return {
            "pred_cam": pred_cam,
            "pred_smpl_params": pred_smpl_params,
            "pred_cam_t": pred_cam_t,
            "focal_length": focal_length,
            "pred_keypoints_3d": keypoints_3d,
            "pred_vertices": body.vertices,
            "pred_keypoints_2d": keypoints_2d,
        }

    def predict(self, img: Tensor) -> dict[str, Tensor | dict[str, Tensor]]:
        """Inference: eval mode, ``torch.inference_mode()``, bf16 autocast on CUDA; mode restored after."""
        was_training = self.training
        self.eval()
        try:
            on_gpu = img.device.type == "cuda"
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu):
                return self(img)
        finally:
            self.train(was_training)


def build_model(cfg: Config | ModelConfig, body: BodyModel | None = None, mean_params=None) -> HMR2:
    """An :class:`HMR2` from a full :class:`Config` or its ``model`` part."""
    return HMR2(cfg.model if isinstance(cfg, Config) else cfg, body=body, mean_params=mean_params)


def _b1(cfg: ModelConfig) -> None:
    cfg.backbone.type = "resnet50"
    _b2(cfg)


def _b2(cfg: ModelConfig) -> None:
    cfg.head.type = "mlp_ief"
    cfg.head.ief_iters = 3


ABLATIONS = {  # the paper's Table (architecture rows): name -> edit of a ModelConfig
    "B1": _b1,  # ResNet-50 + MLP with IEF (HMR/SPIN)
    "B2": _b2,  # ViT + MLP with IEF
    "hmr2": lambda cfg: None,  # ViT + transformer decoder (ours)
}


def ablation_config(name: str, base: ModelConfig | None = None) -> ModelConfig:
    """A copy of ``base`` (default: the paper's ModelConfig) changed into ablation ``name``."""
    if name not in ABLATIONS:
        raise KeyError(f"unknown ablation {name!r}; choose one of {sorted(ABLATIONS)}.")
    cfg = copy.deepcopy(base if base is not None else ModelConfig())
    ABLATIONS[name](cfg)
    return cfg
