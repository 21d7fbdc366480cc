"""HMR 2.0 networks: ViT and ResNet-50 backbones, transformer-decoder and MLP-IEF SMPL heads, the
discriminator, the ``HMR2`` assembly, and checkpoint adapters (ours, ViTPose, official HMR 2.0)."""

from workbench.models.checkpoint import load_checkpoint, load_official_checkpoint, load_pretrained, save_checkpoint
from workbench.models.discriminator import Discriminator
from workbench.models.hmr2 import ABLATIONS, HMR2, OUTPUT_KEYS, ablation_config, build_model
from workbench.models.ief_head import MLPIEFHead
from workbench.models.inspect import cross_attention_maps, parameter_table, pipeline_shapes
from workbench.models.registry import (
    create_backbone,
    create_head,
    list_backbones,
    list_heads,
    register_backbone,
    register_head,
)
from workbench.models.resnet import ResNet50
from workbench.models.smpl_head import SMPLTransformerDecoderHead
from workbench.models.vit import ViT, load_vitpose_backbone

__all__ = [
    "ABLATIONS",
    "HMR2",
    "OUTPUT_KEYS",
    "Discriminator",
    "MLPIEFHead",
    "ResNet50",
    "SMPLTransformerDecoderHead",
    "ViT",
    "ablation_config",
    "build_model",
    "create_backbone",
    "create_head",
    "cross_attention_maps",
    "list_backbones",
    "list_heads",
    "load_checkpoint",
    "load_pretrained",
    "load_official_checkpoint",
    "load_vitpose_backbone",
    "parameter_table",
    "pipeline_shapes",
    "register_backbone",
    "register_head",
    "save_checkpoint",
]
