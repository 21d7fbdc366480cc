"""A LART-style action transformer over people's 3D pose tracks (pose-only; appearance optional).

LART (Rajasegaran et al. 2023, ``brjathu/LART``) classifies AVA actions from PHALP tracklets. Per
frame and per person it builds one token from the 3D pose, runs a transformer over all (time ×
person) tokens of a clip and reads out a multi-label action score at every frame. Ours follows the
published recipe (``configs/lart.yaml``, see ``shared/reference/hmr2_facts.md`` §5):

1. **Tokens.** Each input stream has its own MLP encoder: the 229-d PHALP pose vector
   (229→229→128), the 45 3D joints (135→256→256→128) and, optionally, an appearance feature
   (2048→512→512→256). The encodings are concatenated; when appearance is off their width (256)
   is projected to the model width (ours: LART's concat is exactly ``in_feat`` = 512).
2. **Masking.** Frames without a detection (and padded frames / people) are replaced by a learned
   ``mask_token`` and removed from the attention keys. In training, a further ``mask_ratio`` (0.4)
   of the detected frames are masked the same way (LART's BERT-style "random" masking), so the
   model learns to fill actions in from context; at test only missing detections are masked
   (LART's "zero" mode).
3. **Positions.** A learned 2D (time × person) embedding, initialised with 2D sin-cos and sliced
   to the clip's ``(T, P)``.
4. **Attend, read out.** Pre-norm blocks (vit-pytorch style, as LART: ``heads × dim_head`` inner
   width, GELU MLP, dropout, stochastic depth), a final LayerNorm and ``Linear(width → C)`` at every
   (person, frame): logits ``(B, P, T, C)``.

Left out on purpose: LART's per-person class token and Kinetics head, its SMPL/location heads
(off for ``action_BCE``) and EMA of weights.

Input normalisation (ours): ``pose`` and ``joints`` are standardised with mean/std buffers that the
training loop sets from detected training frames, so they travel with the weights.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.weights import load_weights, save_weights

__all__ = ["ActionConfig", "ActionTransformer", "POSE_DIM", "JOINTS_DIM", "PRESETS", "load_action_model",
           "save_action_model", "sincos_2d"]

POSE_DIM = 229  # PHALP pose vector: 24 rotmats (216) + betas (10) + camera (3)
JOINTS_DIM = 135  # 45 3D joints × 3 (LART's joints_3D)


@dataclass
class ActionConfig:
    """Architecture. ``lart()`` is the published size; ``cpu()`` trains in minutes on one CPU thread.

    ``width`` is LART's ``in_feat``; encoders are MLPs whose last entry is the stream's code width.
    ``appearance_dim`` 0 turns the appearance stream off (pose-only, what the workbench trains).
    """

    num_classes: int = 60
    width: int = 512
    depth: int = 16
    heads: int = 16
    dim_head: int = 64
    mlp: int = 512
    dropout: float = 0.1
    droppath: float = 0.4
    frame_length: int = 125
    max_people: int = 5
    mask_ratio: float = 0.4  # BERT-style random masking of detected frames, training only
    pose_mlp: tuple[int, ...] = (229, 128)
    joints_mlp: tuple[int, ...] = (256, 256, 128)
    appearance_dim: int = 0  # 0: off; LART-Hiera uses 2048
    appearance_mlp: tuple[int, ...] = (512, 512, 256)
    std_floor: float = 1e-3  # normalisation never divides by a near-constant feature's std

    @classmethod
    def lart(cls, num_classes: int = 60, **overrides) -> ActionConfig:
        """Published LART sizes (appearance off unless ``appearance_dim=2048`` is given)."""
        return replace(cls(num_classes=num_classes), **overrides)

    @classmethod
    def cpu(cls, num_classes: int = 60, **overrides) -> ActionConfig:
        """Small preset: width 128, 3 blocks, 64-frame windows of 2 people (~0.6 M parameters)."""
        base = cls(num_classes=num_classes, width=128, depth=3, heads=4, dim_head=32, mlp=256, dropout=0.1,
                   droppath=0.1, frame_length=64, max_people=2, pose_mlp=(128, 64), joints_mlp=(128, 64),
                   appearance_mlp=(256, 64))
        return replace(base, **overrides)

    @classmethod
    def tiny(cls, num_classes: int = 4, **overrides) -> ActionConfig:
        """For tests: width 32, one block."""
        base = cls(num_classes=num_classes, width=32, depth=1, heads=2, dim_head=16, mlp=64, dropout=0.0,
                   droppath=0.0, frame_length=16, max_people=2, pose_mlp=(32, 16), joints_mlp=(32, 16),
                   appearance_mlp=(32, 16))
        return replace(base, **overrides)

    def __post_init__(self):
        self.pose_mlp, self.joints_mlp = tuple(self.pose_mlp), tuple(self.joints_mlp)
        self.appearance_mlp = tuple(self.appearance_mlp)
        if self.width % 4:
            raise ValueError(f"width must be divisible by 4 for the 2D sin-cos embedding; got {self.width}.")
        if self.num_classes < 1 or self.frame_length < 1 or self.max_people < 1:
            raise ValueError(f"need num_classes, frame_length, max_people >= 1; got {self.num_classes}, "
                             f"{self.frame_length}, {self.max_people}.")


PRESETS = {"lart": ActionConfig.lart, "cpu": ActionConfig.cpu, "tiny": ActionConfig.tiny}


# ----------------------------------------------------------------------------- building blocks
def sincos_2d(width: int, num_t: int, num_p: int) -> Tensor:
    """MAE-style 2D sin-cos table (num_t, num_p, width): first half encodes time, second half person."""
    def sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(dim // 2) / (dim / 2.0))
        out = pos[:, None] * omega[None]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)  # (n, dim)

    t = sincos_1d(width // 2, np.arange(num_t, dtype=np.float64))  # (num_t, w/2)
    p = sincos_1d(width // 2, np.arange(num_p, dtype=np.float64))  # (num_p, w/2)
    table = np.concatenate([np.repeat(t[:, None], num_p, 1), np.repeat(p[None], num_t, 0)], axis=-1)
    return torch.from_numpy(table).float()


def mlp(dims: tuple[int, ...]) -> nn.Sequential:
    """Linear→GELU→...→Linear over ``dims`` (input first); no activation after the last layer."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers += [nn.Linear(a, b)] + ([nn.GELU()] if i < len(dims) - 2 else [])
    return nn.Sequential(*layers)


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability ``p`` (training)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    """Pre-norm attention + MLP. ``allowed`` (B, 1, 1, L) bool marks the keys every query may see."""

    def __init__(self, width: int, heads: int, dim_head: int, mlp_dim: int, dropout: float, droppath: float):
        super().__init__()
        self.heads, self.dim_head, self.dropout = heads, dim_head, dropout
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * heads * dim_head, bias=False)
        self.proj = nn.Sequential(nn.Linear(heads * dim_head, width), nn.Dropout(dropout))
        self.mlp = nn.Sequential(nn.Linear(width, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, width), nn.Dropout(dropout))
        self.drop_path = DropPath(droppath)

    def forward(self, h: Tensor, allowed: Tensor) -> Tensor:
        B, L, _ = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(B, L, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, nh, L, hs)
        h = h + self.drop_path(self.proj(a.transpose(1, 2).reshape(B, L, -1)))
        return h + self.drop_path(self.mlp(self.norm2(h)))


# ----------------------------------------------------------------------------- model
class ActionTransformer(nn.Module):
    """(time × person) tokens of a clip -> per-frame, per-person action logits."""

    def __init__(self, cfg: ActionConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ActionConfig.cpu()
        self.register_buffer("pose_mean", torch.zeros(POSE_DIM))
        self.register_buffer("pose_std", torch.ones(POSE_DIM))
        self.register_buffer("joints_mean", torch.zeros(JOINTS_DIM))
        self.register_buffer("joints_std", torch.ones(JOINTS_DIM))
        # 1. One encoder per stream; their codes are concatenated.
        self.encoders = nn.ModuleDict({"pose": mlp((POSE_DIM, *cfg.pose_mlp)),
                                       "joints": mlp((JOINTS_DIM, *cfg.joints_mlp))})
        code = cfg.pose_mlp[-1] + cfg.joints_mlp[-1]
        if cfg.appearance_dim:
            self.encoders["appearance"] = mlp((cfg.appearance_dim, *cfg.appearance_mlp))
            code += cfg.appearance_mlp[-1]
        self.project = nn.Identity() if code == cfg.width else nn.Linear(code, cfg.width)
        # 2.-3. Mask token and learnable (time × person) position table.
        self.mask_token = nn.Parameter(0.02 * torch.randn(cfg.width))
        self.pos_emb = nn.Parameter(sincos_2d(cfg.width, cfg.frame_length, cfg.max_people))  # (T, P, C)
        # 4. Blocks with stochastic depth rising linearly to ``droppath`` (timm/LART convention).
        rates = torch.linspace(0, cfg.droppath, cfg.depth).tolist()
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, cfg.dim_head, cfg.mlp, cfg.dropout, r) for r in rates)
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.num_classes)

    def set_normalisation(self, pose_mean: Tensor, pose_std: Tensor, joints_mean: Tensor, joints_std: Tensor):
        """Standardisation of the inputs, (229,) and (135,) each; stds are floored at ``cfg.std_floor``."""
        self.pose_mean.copy_(torch.as_tensor(pose_mean))
        self.pose_std.copy_(torch.as_tensor(pose_std).clamp_min(self.cfg.std_floor))
        self.joints_mean.copy_(torch.as_tensor(joints_mean))
        self.joints_std.copy_(torch.as_tensor(joints_std).clamp_min(self.cfg.std_floor))

    def token_mask(self, has_detection: Tensor) -> Tensor:
        """(B, P, T) bool -> (B, P, T) bool ``visible``: detected and, in training, not BERT-masked."""
        if not self.training or self.cfg.mask_ratio <= 0:
            return has_detection
        dropped = torch.rand(has_detection.shape, device=has_detection.device) < self.cfg.mask_ratio
        return has_detection & ~dropped

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """
        Args:
            batch: ``pose`` (B, P, T, 229), ``joints`` (B, P, T, 135), ``has_detection`` (B, P, T) bool,
                and ``appearance`` (B, P, T, D) when ``cfg.appearance_dim`` > 0. ``P <= max_people``,
                ``T <= frame_length``. Values at frames without detection are ignored.

        Returns:
            logits (B, P, T, C). Every frame gets a score, masked ones from context; a clip with no
            detection at all gets finite but meaningless scores (train and evaluate on detected frames).
        """
        cfg = self.cfg
        pose, joints, det = batch["pose"], batch["joints"], batch["has_detection"].bool()
        if pose.ndim != 4 or pose.shape[-1] != POSE_DIM or joints.shape != (*pose.shape[:3], JOINTS_DIM) \
                or det.shape != pose.shape[:3]:
            raise ValueError(f"expected pose (B, P, T, {POSE_DIM}), joints (B, P, T, {JOINTS_DIM}), has_detection "
                             f"(B, P, T); got {tuple(pose.shape)}, {tuple(joints.shape)}, {tuple(det.shape)}.")
        B, P, T, _ = pose.shape
        if P > cfg.max_people or T > cfg.frame_length:
            raise ValueError(f"clip has {P} people × {T} frames; this model takes at most {cfg.max_people} × "
                             f"{cfg.frame_length}. Cut it with workbench.action.train.windows().")
        # 1. Encode each stream (zeros where undetected, so NaNs or junk there cannot leak).
        keep = det[..., None]
        codes = [self.encoders["pose"](torch.where(keep, (pose - self.pose_mean) / self.pose_std, 0.0)),
                 self.encoders["joints"](torch.where(keep, (joints - self.joints_mean) / self.joints_std, 0.0))]
        if cfg.appearance_dim:
            codes.append(self.encoders["appearance"](torch.where(keep, batch["appearance"], 0.0)))
        h = self.project(torch.cat(codes, dim=-1))  # (B, P, T, C)
        # 2. Mask: undetected (+ random in training) tokens become the mask token and leave the keys.
        visible = self.token_mask(det)  # (B, P, T)
        h = torch.where(visible[..., None], h, self.mask_token)
        # 3. Positions: table is (T, P, C); tokens are (B, P, T, C).
        h = h + self.pos_emb[:T, :P].transpose(0, 1)
        h = h.reshape(B, P * T, cfg.width)  # (B, L, C), person-major
        allowed = visible.reshape(B, 1, 1, P * T)
        allowed = allowed | ~allowed.any(-1, keepdim=True)  # a clip with nothing visible: attend to all (no NaN)
        # 4. Attend and read out.
        for block in self.blocks:
            h = block(h, allowed)
        return self.head(self.norm(h)).view(B, P, T, cfg.num_classes)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ----------------------------------------------------------------------------- checkpoint
FORMAT = "workbench-action"
VERSION = 1


def save_action_model(path: str | os.PathLike, model: ActionTransformer, extra: dict | None = None) -> Path:
    """Write weights (safetensors) and a JSON sidecar (config, SHA-256, ``extra``), both atomically.

    Does not check for an existing file: callers decide (``train_action_model`` refuses to overwrite).
    """
    return save_weights(path, model, FORMAT, VERSION, asdict(model.cfg), extra)


def load_action_model(path: str | os.PathLike) -> tuple[ActionTransformer, dict]:
    """Read a checkpoint written by :func:`save_action_model`; every key and shape is checked."""
    return load_weights(path, FORMAT, lambda config: ActionTransformer(ActionConfig(**config)), "action model",
                        "train one with workbench.action.train.train_action_model(..., out_dir=...)")
