"""ViTPose-style Vision Transformer, the HMR 2.0 backbone (ViT-H/16 at 256x192 in the paper).

Parameter names are those of HMR 2.0's ``hmr2/models/backbones/vit.py`` (``patch_embed.proj``,
``pos_embed``, ``blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``, ``last_norm``), so the
published backbone weights load with no renaming. The blocks are timm's ``Block`` (pre-norm,
fused ``scaled_dot_product_attention``), whose sub-module names happen to match ViTPose's.

Two ViTPose details that differ from a textbook ViT, both part of the weight contract:

* the patch convolution has ``padding=2`` (ViTPose's ``4 + 2 * (ratio // 2 - 1)`` with ratio 1);
  256x192 still gives a 16x12 token grid;
* ``pos_embed`` has a class-token slot but no class token is used: slot 0 is *added to every
  patch token* together with that token's own position.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from workbench.config import BackboneConfig
from workbench.models.state import diff_state_dict

__all__ = ["PatchEmbed", "ViT", "load_vitpose_backbone", "resize_pos_embed"]


class PatchEmbed(nn.Module):
    """Image to patch tokens: Conv2d(3, C, k=patch, s=patch, padding).

    (B, 3, H, W) -> tokens (B, Hp*Wp, C) and the grid (Hp, Wp).
    """

    def __init__(self, patch_size: int, embed_dim: int, padding: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, padding=padding)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        x = self.proj(x)  # (B, C, Hp, Wp)
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid


def token_grid(img_size: tuple[int, int], patch_size: int, padding: int) -> tuple[int, int]:
    """Output grid (Hp, Wp) of the patch convolution for an (H, W) input (standard conv arithmetic)."""
    return tuple((s + 2 * padding - patch_size) // patch_size + 1 for s in img_size)


class ViT(nn.Module):
    """ViTPose-style ViT: (B, 3, H, W) ImageNet-normalised -> feature map (B, C, Hp, Wp).

    Paper values (``BackboneConfig()``): 256x192 input, patch 16 (padding 2) -> 16x12 = 192 tokens,
    C = 1280, 32 blocks, 16 heads, MLP 5120, stochastic depth 0 -> 0.55 linearly over the blocks.
    """

    def __init__(
        self,
        img_size: tuple[int, int] = (256, 192),
        patch_size: int = 16,
        patch_padding: int = 2,
        embed_dim: int = 1280,
        depth: int = 32,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.55,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}.")
        self.img_size = tuple(img_size)
        self.grid = token_grid(self.img_size, patch_size, patch_padding)
        self.out_channels = embed_dim
        norm_layer = functools.partial(nn.LayerNorm, eps=1e-6)
        self.patch_embed = PatchEmbed(patch_size, embed_dim, patch_padding)
        num_patches = self.grid[0] * self.grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))  # slot 0: ViTPose's class slot
        # Stochastic depth grows linearly 0 -> drop_path_rate (plain floats: also works under a meta device).
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=rate, norm_layer=norm_layer)
            for rate in rates
        )
        self.last_norm = norm_layer(embed_dim)
        self.reset_parameters()

    @classmethod
    def from_config(cls, cfg: BackboneConfig) -> "ViT":
        return cls(cfg.img_size, cfg.patch_size, cfg.patch_padding, cfg.embed_dim, cfg.depth, cfg.num_heads,
                   cfg.mlp_ratio, cfg.qkv_bias, cfg.drop_path_rate)

    def reset_parameters(self) -> None:
        """ViTPose's initialisation: truncated normal (std 0.02) for pos_embed and Linear weights."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, C, Hp, Wp); (256, 192) -> (16, 12) in the paper."""
        if tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(f"the ViT was built for {self.img_size} (H, W) inputs; got {tuple(x.shape[-2:])}.")
        B = x.shape[0]
        tokens, (hp, wp) = self.patch_embed(x)  # (B, N, C)
        # No class token: its slot of pos_embed is a learned bias shared by every patch token.
        tokens = tokens + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.last_norm(tokens)
        return tokens.transpose(1, 2).reshape(B, -1, hp, wp)


# ----------------------------------------------------------------------------- ViTPose weights
def resize_pos_embed(pos_embed: Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]) -> Tensor:
    """Bicubic resize of the patch part of a (1, 1 + Hp*Wp, C) pos_embed; the class slot is kept.

    Args:
        pos_embed: (1, 1 + old_h * old_w, C).
        old_grid, new_grid: (Hp, Wp) token grids.
    Returns:
        (1, 1 + new_h * new_w, C), same dtype.
    """
    cls_slot, patches = pos_embed[:, :1], pos_embed[:, 1:]
    C = patches.shape[-1]
    patches = patches.reshape(1, *old_grid, C).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=new_grid, mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], C).to(pos_embed.dtype)
    return torch.cat([cls_slot, patches], dim=1)


def _square_or_known_grid(num_patches: int, reference: tuple[int, int]) -> tuple[int, int]:
    """Guess the token grid of a foreign pos_embed: the model's aspect ratio, else square."""
    h_over_w = reference[0] / reference[1]
    w = round(math.sqrt(num_patches / h_over_w))
    if w > 0 and num_patches % w == 0 and abs(num_patches // w / w - h_over_w) < 0.2:
        return num_patches // w, w
    side = math.isqrt(num_patches)
    if side * side == num_patches:
        return side, side
    raise ValueError(f"cannot infer the token grid of a pos_embed with {num_patches} patches.")


def load_vitpose_backbone(model: ViT, state_dict: Mapping[str, Tensor],
                          source: str = "ViTPose state dict") -> list[str]:
    """Load ViTPose (or HMR 2.0 ``vitpose_backbone.pth``) weights into ``model``, checking every shape.

    Accepts keys with or without a ``backbone.`` prefix (a ``{'state_dict': ...}`` wrapper is
    unwrapped); ``keypoint_head.*`` (ViTPose's heatmap decoder) is ignored. If the checkpoint's
    token grid differs from the model's, the patch part of ``pos_embed`` is resized bicubically.

    Args:
        model: the :class:`ViT` to fill (in place).
        state_dict: tensor mapping, e.g. ``torch.load(path, map_location="cpu", weights_only=True)``.
        source: name used in error messages (the file path).
    Returns:
        The model keys that were loaded (all of them).
    Raises:
        ValueError listing every missing key, unexpected key and shape mismatch.
    """
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], Mapping):
        state_dict = state_dict["state_dict"]
    weights = {}
    for key, value in state_dict.items():
        if key.startswith("keypoint_head."):
            continue
        weights[key.removeprefix("backbone.")] = value
    expected = model.state_dict()
    pos = weights.get("pos_embed")
    if pos is not None and pos.dim() == 3 and pos.shape[1] != expected["pos_embed"].shape[1] \
            and pos.shape[2] == expected["pos_embed"].shape[2]:
        old_grid = _square_or_known_grid(pos.shape[1] - 1, model.grid)
        weights["pos_embed"] = resize_pos_embed(pos, old_grid, model.grid)
    diff = diff_state_dict(expected, weights)
    diff.raise_if_any(source, "Is it a ViTPose backbone of this width and depth? Build the ViT with the "
                              "checkpoint's embed_dim/depth/num_heads (BackboneConfig) and try again.")
    model.load_state_dict(weights, strict=True)
    return list(expected)
