"""Backbones and SMPL heads by name, so the paper's ablations are config changes.

``BackboneConfig.type`` picks a backbone and ``HeadConfig.type`` a head. A notebook adds its own::

    @register_backbone("my_cnn")
    def my_cnn(cfg: BackboneConfig) -> nn.Module: ...   # needs an ``out_channels`` attribute

A backbone maps (B, 3, H, W) crops (``cfg.img_size``) to a (B, C, h, w) feature map and exposes
``out_channels = C``. A head is built as ``factory(head_cfg, context_dim=C, mean_params=...)`` and
returns ``(pred_smpl_params, pred_cam, per_iteration)`` like :class:`SMPLTransformerDecoderHead`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from workbench.config import BackboneConfig, HeadConfig
from workbench.models.ief_head import MLPIEFHead
from workbench.models.resnet import ResNet50
from workbench.models.smpl_head import SMPLTransformerDecoderHead
from workbench.models.vit import ViT

__all__ = ["register_backbone", "register_head", "create_backbone", "create_head", "list_backbones", "list_heads"]

BACKBONES: dict[str, Callable[[BackboneConfig], nn.Module]] = {}
HEADS: dict[str, Callable[..., nn.Module]] = {}


def register_backbone(name: str):
    """Decorator: ``factory(cfg: BackboneConfig) -> nn.Module`` registered as ``name``."""
    def add(factory):
        BACKBONES[name] = factory
        return factory
    return add


def register_head(name: str):
    """Decorator: ``factory(cfg: HeadConfig, context_dim: int, mean_params=None) -> nn.Module``."""
    def add(factory):
        HEADS[name] = factory
        return factory
    return add


def create_backbone(cfg: BackboneConfig) -> nn.Module:
    if cfg.type not in BACKBONES:
        raise KeyError(f"unknown backbone {cfg.type!r}; registered: {list_backbones()}.")
    return BACKBONES[cfg.type](cfg)


def create_head(cfg: HeadConfig, context_dim: int, mean_params=None) -> nn.Module:
    if cfg.type not in HEADS:
        raise KeyError(f"unknown head {cfg.type!r}; registered: {list_heads()}.")
    return HEADS[cfg.type](cfg, context_dim=context_dim, mean_params=mean_params)


def list_backbones() -> list[str]:
    return sorted(BACKBONES)


def list_heads() -> list[str]:
    return sorted(HEADS)


register_backbone("vit")(ViT.from_config)
register_backbone("resnet50")(ResNet50.from_config)
register_head("transformer_decoder")(SMPLTransformerDecoderHead)
register_head("mlp_ief")(MLPIEFHead)
