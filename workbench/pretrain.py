"""Pre-train the ViT on 2D keypoint heat maps (the ViTPose step before HMR 2.0; Table 6's P2).

HMR 2.0 does not train its ViT-H from scratch: the backbone comes from ViTPose, trained to predict
2D keypoint heat maps, and the SMPL head is trained on top. Regressing SMPL through one query
token is a weak signal for a randomly initialised ViT (ours stayed at the mean pose for thousands
of CPU steps); a heat map gives every token a dense, local target, and a ViT learns it quickly.

This module does that step on SynthHumans (or pre-rendered shards): ViT + :class:`HeatmapHead`,
Gaussian targets at a quarter of the input (64x48 for 256x192, sigma 2), ViTPose's weighted MSE,
AdamW with linear warm-up then cosine decay. It writes ``backbone.safetensors`` in ViTPose's key
layout (``backbone.*`` and ``keypoint_head.*``), which ``TrainConfig.init_backbone`` (or
:func:`workbench.models.vit.load_vitpose_backbone`) loads.

Run: ``python -m workbench pretrain --preset tiny --out runs/p2 --steps 3000 [--shards DIR]``.
Runs resume and refuse to replace a finished run without ``overwrite``, as :mod:`workbench.train`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from workbench.config import BackboneConfig, DataConfig, _from_dict, preset
from workbench.evaluate.pose_metrics import pck
from workbench.geometry import crop_to_vit_columns
from workbench.io import atomic_write_bytes, atomic_write_json
from workbench.models.heatmap_head import HeatmapHead, decode_heatmaps, heatmap_loss, heatmap_targets
from workbench.models.registry import create_backbone
from workbench.weights import load_weights, save_weights
from workbench.train import (CONFIG, LOG, STATE, StepIndices, _prepare_out_dir, _save_state, _StepSampler, lr_factor,
                             to_device)

__all__ = ["PretrainConfig", "KeypointModel", "pretrain_backbone", "evaluate_heatmaps", "export_backbone",
           "load_keypoint_model", "predict_keypoints", "BACKBONE_FILE"]

BACKBONE_FILE = "backbone.safetensors"
FORMAT, VERSION = "vitpose-heatmap", 1


@dataclass
class PretrainConfig:
    """Heat-map pre-training. ViTPose's values where they exist (sigma 2, AdamW, warm-up 500)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    data: DataConfig = field(default_factory=DataConfig)
    num_keypoints: int = 44
    head_channels: int = 256  # ViTPose's deconvolution width
    sigma: float = 2.0  # heat-map pixels
    image_size: int = 256
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 500
    batch_size: int = 32
    max_steps: int = 10_000
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 25
    grad_clip: float | None = 1.0
    seed: int = 0
    name: str = "pretrain"

    @classmethod
    def from_preset(cls, name: str) -> "PretrainConfig":
        """The backbone and data settings of an HMR 2.0 preset (``tiny``: head 128 wide)."""
        base = preset(name)
        cfg = cls(backbone=base.model.backbone, data=base.data, image_size=base.model.image_size,
                  name=f"pretrain-{name}")
        if name != "paper":
            cfg.head_channels = 128
            cfg.lr = 1e-3
            cfg.weight_decay = 1e-4
            cfg.warmup_steps = 200
            cfg.max_steps = 3000
            cfg.val_every = cfg.ckpt_every = 250
        if name == "micro":
            cfg.head_channels, cfg.batch_size, cfg.max_steps, cfg.warmup_steps = 8, 2, 6, 2
            cfg.val_every = cfg.ckpt_every = 3
            cfg.log_every = 1
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PretrainConfig":
        return _from_dict(cls, d)


class KeypointModel(nn.Module):
    """ViT + heat-map head with ViTPose's sub-module names: (B, 3, 256, 256) crops -> (B, K, 64, 48)."""

    def __init__(self, cfg: PretrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = create_backbone(cfg.backbone)
        self.keypoint_head = HeatmapHead(self.backbone.out_channels, cfg.num_keypoints, cfg.head_channels)

    def forward(self, img: Tensor) -> Tensor:
        W = self.cfg.backbone.img_size[1]
        return self.keypoint_head(self.backbone(crop_to_vit_columns(img, aspect=(W, self.cfg.image_size))))

    def targets(self, keypoints_2d: Tensor, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        return heatmap_targets(keypoints_2d, tuple(heatmaps.shape[-2:]), self.cfg.sigma, self.cfg.image_size,
                               self.cfg.backbone.img_size[1])

    def keypoints(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """(B, K, H, W) -> (B, K, 2) normalised crop coordinates and (B, K) peak values."""
        return decode_heatmaps(heatmaps, self.cfg.image_size, self.cfg.backbone.img_size[1])


def evaluate_heatmaps(model: KeypointModel, data: Dataset, batch_size: int = 32) -> dict[str, float]:
    """Heat-map loss and PCK@0.05/0.1 (crop units, keypoints with confidence > 0.5) of the arg-max."""
    was_training = model.training
    model.eval()
    losses, correct, visible = [], {0.05: 0, 0.1: 0}, {0.05: 0, 0.1: 0}
    device = next(model.parameters()).device
    with torch.inference_mode():
        for batch in DataLoader(data, batch_size=batch_size):
            batch = to_device(batch, device)
            heatmaps = model(batch["img"])
            targets, weights = model.targets(batch["keypoints_2d"], heatmaps)
            losses.append(float(heatmap_loss(heatmaps, targets, weights)) * len(heatmaps))
            pred, _ = model.keypoints(heatmaps)
            for thr in correct:
                c, v = pck(pred, batch["keypoints_2d"], thr)
                correct[thr] = correct[thr] + c.sum(0)
                visible[thr] = visible[thr] + v.sum(0)
    model.train(was_training)
    out = {"heatmap_loss": sum(losses) / len(data)}
    for thr in correct:
        seen = visible[thr] > 0
        out[f"pck@{thr}"] = float((correct[thr][seen].float() / visible[thr][seen].float()).mean())
    return out


def _save_backbone(path: Path, model: KeypointModel, cfg: PretrainConfig, metrics: dict) -> None:
    save_weights(path, model, FORMAT, VERSION, cfg.to_dict(), {"metrics": metrics})


def pretrain_backbone(cfg: PretrainConfig, out_dir: str | Path, *, steps: int | None = None, resume: bool = True,
                      overwrite: bool = False, train_data: Dataset | None = None, val_data: Dataset | None = None,
                      device: str | None = None, progress: bool = True,
                      on_log: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train ViT + heat-map head; writes ``out_dir/backbone.safetensors`` (best validation PCK@0.05).

    Args:
        cfg: :class:`PretrainConfig` (``PretrainConfig.from_preset("tiny")``).
        out_dir: run folder; an earlier run there is resumed (same config) or replaced with ``overwrite``.
        steps: train until this step (default ``cfg.max_steps``; the schedule always uses ``cfg.max_steps``).
        train_data / val_data: datasets with HMR 2.0's batch keys (default: SynthHumans train / val).
    Returns:
        The log (train rows: loss, lr, img/s; val rows: heat-map loss, PCK).
    """
    from tqdm.auto import tqdm

    from workbench.data import SynthHumans

    out_dir = Path(out_dir)
    stop = steps if steps is not None else cfg.max_steps
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    resuming = _prepare_out_dir(out_dir, cfg, resume, overwrite)
    for stale in (BACKBONE_FILE, Path(BACKBONE_FILE).with_suffix(".json").name):
        if not resuming:
            (out_dir / stale).unlink(missing_ok=True)
    torch.manual_seed(cfg.seed)
    model = KeypointModel(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, best, rows = 0, {"pck@0.05": -1.0}, []
    if resuming:
        state = torch.load(out_dir / STATE, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, best = state["step"], state["best"]
        if (out_dir / LOG).exists():
            rows = pd.read_csv(out_dir / LOG).query("step <= @start").to_dict("records")
    atomic_write_json(out_dir / CONFIG, cfg.to_dict())

    train_data = train_data or SynthHumans(cfg.data, split="train")
    val_data = val_data if val_data is not None else SynthHumans(cfg.data, split="val", augment=False)
    indices = StepIndices(len(train_data), cfg.batch_size, cfg.seed)
    loader = DataLoader(train_data, batch_sampler=_StepSampler(indices, start, stop), num_workers=cfg.data.num_workers)

    def flush() -> None:
        if rows:
            atomic_write_bytes(out_dir / LOG, pd.DataFrame(rows).to_csv(index=False).encode())

    bar = tqdm(total=stop, initial=start, desc="pretrain", disable=not progress, dynamic_ncols=True)
    model.train()
    t_last, seen = time.perf_counter(), 0
    for step, batch in enumerate(loader, start=start + 1):
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # drop-path draws of this step (exact resume)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * lr_factor(step - 1, cfg.warmup_steps, cfg.max_steps)
        batch = to_device(batch, device)
        heatmaps = model(batch["img"])
        loss = heatmap_loss(heatmaps, *model.targets(batch["keypoints_2d"], heatmaps))
        if not torch.isfinite(loss):
            bar.close()
            flush()
            raise FloatingPointError(f"heat-map loss is {float(loss)} at step {step}; the last good state is kept in "
                                     f"{out_dir / STATE}. Lower the learning rate or check the batch for NaN labels.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        seen += len(heatmaps)
        bar.update(1)
        if step % cfg.log_every == 0 or step == stop:
            now = time.perf_counter()
            value = float(loss.detach())
            rows.append({"step": step, "kind": "train", "heatmap_loss": value, "lr": optimizer.param_groups[0]["lr"],
                         "img_per_s": seen / (now - t_last)})
            t_last, seen = now, 0
            bar.set_postfix(loss=f"{value:.3g}")
            if on_log:
                on_log(rows[-1])
        if step % cfg.val_every == 0 or step == stop:
            metrics = evaluate_heatmaps(model, val_data)
            rows.append({"step": step, "kind": "val", **metrics})
            if on_log:
                on_log(rows[-1])
            if metrics["pck@0.05"] > best["pck@0.05"]:
                best = {"step": step, **metrics}
                _save_backbone(out_dir / BACKBONE_FILE, model, cfg, best)
        if step % cfg.ckpt_every == 0 or step == stop:
            _save_state(out_dir / STATE, step, model, optimizer, None, best)
            flush()
    bar.close()
    flush()
    return pd.DataFrame(rows)


def export_backbone(src: str | Path, dest: str | Path, extra: dict | None = None, half: bool = True,
                    overwrite: bool = False) -> Path:
    """Copy a run's ``backbone.safetensors`` (ViT + heat-map head) to ``dest`` for shipping.

    ``half`` stores float16 (half the size; :func:`workbench.train.load_backbone_init` casts back to
    the model's dtype). The JSON sidecar keeps the run's config and metrics, plus ``extra`` (how it
    was trained). Refuses to replace ``dest`` without ``overwrite``.
    """
    from workbench.io import check_writable_target

    dest = Path(dest)
    check_writable_target(dest, overwrite)
    model, meta = _load(src)
    save_weights(dest, model, FORMAT, VERSION, meta["config"], {"metrics": meta.get("metrics", {}), **(extra or {})},
                 dtype=torch.float16 if half else None)
    return dest


def _load(path: str | Path) -> tuple[KeypointModel, dict]:
    return load_weights(path, FORMAT, lambda c: KeypointModel(PretrainConfig.from_dict(c)), "heat-map ViT",
                        "make one with `python -m workbench pretrain --out DIR` (it writes DIR/backbone.safetensors)")


def load_keypoint_model(path: str | Path) -> KeypointModel:
    """The ViT + heat-map head stored by :func:`pretrain_backbone` / :func:`export_backbone` (eval mode).

    The sidecar's hash and every tensor's name and shape are checked (:func:`workbench.weights.load_weights`).
    """
    return _load(path)[0]


def predict_keypoints(model: KeypointModel, image, boxes) -> tuple[Tensor, Tensor]:
    """2D keypoints of the people in a photo, from the heat maps (crops as HMR 2.0's demo).

    Args:
        model: a :class:`KeypointModel`.
        image: (H, W, 3) uint8 RGB; boxes: (N, 4) or (4,) ``(x1, y1, x2, y2)`` pixels.
    Returns:
        (N, 44, 2) keypoints in image pixels and (N, 44) heat-map peaks (a confidence, about 0..1).
    """
    from workbench.predict import crop_people

    people = crop_people(image, boxes, model.cfg.image_size)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        keypoints, peaks = model.keypoints(model(people.img.to(next(model.parameters()).device)))
    model.train(was_training)
    centres = torch.as_tensor(people.centers, dtype=torch.float32)[:, None]
    sizes = torch.as_tensor(people.sizes, dtype=torch.float32)[:, None, None]
    return centres + keypoints.cpu().float() * sizes, peaks.cpu().float()
