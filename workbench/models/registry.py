"""Backbones and SMPL heads by name, so the paper's ablations are config changes.

``BackboneConfig.type`` picks a backbone and ``HeadConfig.type`` a head. A notebook adds its own::

    @register_backbone("my_cnn")
    def my_cnn(cfg: BackboneConfig) -> nn.Module: ...   # needs an ``out_channels`` attribute

A backbone maps (B, 3, H, W) crops (``cfg.img_size``) to a (B, C, h, w) feature map and exposes
``out_channels = C``. A head is built as ``factory(head_cfg, context_dim=C, mean_params=...)`` and
returns ``(pred_smpl_params, pred_cam, per_iteration)`` like :class:`SMPLTransformerDecoderHead`.
"""

from __future__ import annotations

from torch import nn

from workbench.config import BackboneConfig, HeadConfig
from workbench.models.ief_head import MLPIEFHead
from workbench.models.resnet import ResNet50
from workbench.models.smpl_head import SMPLTransformerDecoderHead
from workbench.models.vit import ViT
from workbench.registry import Registry

__all__ = ["register_backbone", "register_head", "create_backbone", "create_head", "list_backbones", "list_heads"]

BACKBONES = Registry("backbone")  # factory(cfg: BackboneConfig) -> nn.Module
HEADS = Registry("head")  # factory(cfg: HeadConfig, context_dim: int, mean_params=None) -> nn.Module
register_backbone, list_backbones = BACKBONES.register, BACKBONES.names
register_head, list_heads = HEADS.register, HEADS.names


def create_backbone(cfg: BackboneConfig) -> nn.Module:
    return BACKBONES.lookup(cfg.type)(cfg)


def create_head(cfg: HeadConfig, context_dim: int, mean_params=None) -> nn.Module:
    return HEADS.lookup(cfg.type)(cfg, context_dim=context_dim, mean_params=mean_params)


register_backbone("vit")(ViT.from_config)
register_backbone("resnet50")(ResNet50.from_config)
register_head("transformer_decoder")(SMPLTransformerDecoderHead)
register_head("mlp_ief")(MLPIEFHead)
