"""Dataclass configs with the paper's defaults, and named presets.

A notebook builds a config, changes a field, runs:

    >>> cfg = preset("tiny")
    >>> cfg.model.head.depth = 2
    >>> cfg.loss.weights["keypoints_3d"] = 0.1

``paper`` is HMR 2.0 as published (ViT-H/16 at 256x192, decoder 6x1024, the published loss weights
and optimiser); ``tiny`` is the same code path sized for two CPU cores. Values not given by the
paper are marked as ours.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field

FAST_ENV = "WORKBENCH_FAST"


def fast_mode() -> bool:
    """True when ``$WORKBENCH_FAST`` is set to 1/true/yes: notebooks and heavy jobs run small configs."""
    return os.environ.get(FAST_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class BackboneConfig:
    """Image encoder. ``vit``: ViTPose-style ViT (HMR 2.0); ``resnet50``: the paper's baseline (timm)."""

    type: str = "vit"
    img_size: tuple[int, int] = (256, 192)  # (H, W) the ViT sees: central columns of the 256 crop
    patch_size: int = 16
    patch_padding: int = 2  # ViTPose's patch conv padding: 256x192 -> 16x12 tokens
    embed_dim: int = 1280
    depth: int = 32
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path_rate: float = 0.55


@dataclass
class HeadConfig:
    """SMPL head. ``transformer_decoder`` (HMR 2.0) or ``mlp_ief`` (HMR/SPIN-style baseline)."""

    type: str = "transformer_decoder"
    dim: int = 1024  # decoder width
    depth: int = 6
    heads: int = 8
    dim_head: int = 64
    mlp_dim: int = 1024
    dropout: float = 0.0
    ief_iters: int = 1  # transformer decoder: 1 (published); mlp_ief baseline: 3
    mlp_hidden: int = 1024  # mlp_ief hidden width
    mlp_dropout: float = 0.5  # mlp_ief dropout after each hidden layer (SPIN's nn.Dropout() default)
    num_betas: int = 10
    readout_init_gain: float | None = None  # None: PyTorch default init (published); ours: 0.01 from scratch


@dataclass
class ModelConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    body: str = "open_body"  # "open_body", "smpl" or a path (see workbench.body.BodyModel.create)
    focal_length: float = 5000.0  # pixels at image_size (HMR 2.0 EXTRA.FOCAL_LENGTH)
    image_size: int = 256  # crop side, pixels
    discriminator: bool = True


@dataclass
class LossConfig:
    """Loss weights by registered name (see ``workbench.losses``). Published values for ``paper``."""

    weights: dict[str, float] = field(default_factory=lambda: {
        "keypoints_3d": 0.05,
        "keypoints_2d": 0.01,
        "global_orient": 0.001,
        "body_pose": 0.001,
        "betas": 0.0005,
        "adversarial": 0.0005,
    })


@dataclass
class DataConfig:
    """Synthetic training data (SynthHumans) and augmentation (HMR 2.0's published values)."""

    seed: int = 0
    num_train: int = 100_000  # samples per epoch of the on-the-fly generator
    num_val: int = 512  # held-out synthetic validation crops (a different seed stream)
    num_workers: int = 0
    scale_factor: float = 0.3
    rot_factor: float = 30.0
    rot_aug_rate: float = 0.6
    trans_factor: float = 0.02
    color_scale: float = 0.2
    flip_aug_rate: float = 0.5
    extreme_crop_aug_rate: float = 0.10
    do_augment: bool = True


@dataclass
class TrainConfig:
    lr: float = 1e-5
    weight_decay: float = 1e-4
    batch_size: int = 48  # per process
    max_steps: int = 1_000_000
    val_every: int = 1000
    ckpt_every: int = 10_000
    log_every: int = 100
    mocap_batch_size: int = 96  # discriminator "real" samples per step (2 x batch in the paper)
    grad_clip: float | None = None
    amp: bool = True  # bf16 autocast on GPU; ignored on CPU
    seed: int = 0
    warmup_steps: int = 0  # linear lr warm-up (ours; the published run uses a constant lr)
    cosine_decay: bool = False  # ours: decay the lr to 0 at max_steps after the warm-up
    # ViTPose-layout backbone weights to start from (HMR 2.0 starts from ViTPose; ours: ``python -m
    # workbench pretrain``). A .safetensors, or a .pth/.pt read with weights_only=True. None: random.
    init_backbone: str | None = None
    # One of our HMR 2.0 checkpoints (.safetensors + .json) to start the whole model from (loaded
    # before init_backbone), e.g. to fine-tune after a frozen-backbone stage. None: random.
    init_weights: str | None = None
    # Train the head (and discriminator) only: the backbone keeps its weights and runs in eval mode.
    freeze_backbone: bool = False


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "paper"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """Inverse of :meth:`to_dict` (e.g. the config stored next to a checkpoint)."""
        return _from_dict(cls, d)


def _from_dict(kind: type, values: dict):
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {kind.__name__} fields {sorted(unknown)}; expected some of {sorted(names)}.")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = _from_dict(hint, value)
        elif typing.get_origin(hint) is tuple:
            value = tuple(value)
        kwargs[name] = value
    return kind(**kwargs)


def _paper() -> Config:
    return Config(name="paper")


def _tiny() -> Config:
    """CPU-sized: ViT 192 wide x 4 deep (3 heads of 64), decoder 256 x 2. Ours, chosen by measurement.

    ``python benchmarks/bench_hmr2.py --no-paper --sweep`` on 2 CPU cores, batch 32 training
    (forward + backward + AdamW): 192x6 ran at 20-25 img/s (13 under load), 192x4 at ~33 img/s
    with 84% of the parameters. Depth 4 keeps ViT-Ti's width and head shape and clears the
    20 img/s target with room for the discriminator and the data pipeline. lr 1e-3 (ours): the
    published 1e-5 fine-tunes a pre-trained ViTPose backbone; ours is trained from scratch or from our
    heat-map-pretrained ViT. The shipped ``hmr2_tiny`` is this preset trained by ``make train-tiny``
    (batch 48, warm-up + cosine, ViT from ``vit_tiny_heatmaps``; its sidecar has the recipe);
    ``make train-tiny-p2`` also pre-trains the ViT itself (README, "Training").
    """
    cfg = Config(name="tiny")
    cfg.model.backbone = BackboneConfig(embed_dim=192, depth=4, num_heads=3, drop_path_rate=0.1)
    cfg.model.head = HeadConfig(dim=256, depth=2, heads=4, dim_head=32, mlp_dim=512, readout_init_gain=0.01)
    cfg.train = TrainConfig(lr=1e-3, weight_decay=1e-4, batch_size=32, max_steps=20_000, val_every=500,
                            ckpt_every=500, log_every=25, mocap_batch_size=64)
    return cfg


def _micro() -> Config:
    """The tiny preset shrunk until a step takes milliseconds: for tests and fast-mode notebooks only."""
    cfg = _tiny()
    cfg.name = "micro"
    cfg.model.backbone = BackboneConfig(embed_dim=32, depth=1, num_heads=2, drop_path_rate=0.1)
    cfg.model.head = HeadConfig(dim=32, depth=1, heads=2, dim_head=16, mlp_dim=32, readout_init_gain=0.01)
    cfg.train = TrainConfig(lr=3e-4, weight_decay=1e-4, batch_size=2, max_steps=6, val_every=3, ckpt_every=3,
                            log_every=1, mocap_batch_size=4)
    cfg.data.num_train = 64
    cfg.data.num_val = 4
    return cfg


PRESETS = {"paper": _paper, "tiny": _tiny, "micro": _micro}


def preset(name: str) -> Config:
    """A fresh copy of a named preset (``list_presets()`` lists them)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return copy.deepcopy(PRESETS[name]())


def list_presets() -> list[str]:
    return sorted(PRESETS)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.field=value`` strings (values parsed as JSON when they parse, else strings)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not KEY=VALUE (e.g. train.lr=1e-4).")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *path, last = key.split(".")
        target = cfg
        for part in path:
            if not hasattr(target, part):
                raise KeyError(f"config has no section {part!r} (in {key!r}).")
            target = getattr(target, part)
        if isinstance(target, dict):
            target[last] = value
        elif hasattr(target, last):
            setattr(target, last, tuple(value) if isinstance(getattr(target, last), tuple) else value)
        else:
            raise KeyError(f"config has no field {key!r}.")
    return cfg
