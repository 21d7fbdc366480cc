"""The training loop: plain PyTorch, HMR 2.0's manual GAN-style stepping, exact resume, DDP.

One step, as published:
1. generator: forward the image batch, sum the weighted losses (``workbench.losses``), AdamW step
   on backbone + head;
2. discriminator: LSGAN on the detached predictions vs pose/shape prior samples, scaled by the
   adversarial weight, its own AdamW step.

Determinism: the samples of step ``s`` and every random draw in it are functions of
``(seed, s, rank)``, so a run resumed from ``state.pt`` reproduces the uninterrupted loss curve
exactly. Everything written goes through atomic writes; an existing run folder is continued
(``resume``) or replaced only with ``overwrite``.

Run: ``python -m workbench train --preset tiny --out runs/tiny --steps 2000`` or, on several
processes, ``torchrun --nproc_per_node 2 -m workbench train ...`` (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset

from workbench.config import Config
from workbench.evaluate.pose_metrics import pose_metrics, summarize
from workbench.io import atomic_write_bytes, atomic_write_json
from workbench.losses import NonFiniteLossError, compute_losses, discriminator_loss

STATE, LOG, CONFIG, BEST = "state.pt", "log.csv", "config.json", "best.safetensors"


@dataclass
class TrainResult:
    log: pd.DataFrame  # one row per logged step (loss terms) and per validation (metrics)
    out_dir: Path
    step: int
    best: dict  # best validation metrics so far


class StepIndices:
    """Dataset indices of each step: (step, rank) -> batch indices, a fresh permutation per epoch.

    Depends only on (seed, step, rank, world), which is what makes resume exact.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch, self.seed, self.rank, self.world = num_samples, batch_size, seed, rank, world
        self._perms: dict[int, torch.Tensor] = {}

    def __call__(self, step: int) -> list[int]:
        start = (step * self.world + self.rank) * self.batch
        out = []
        for pos in range(start, start + self.batch):
            epoch, offset = divmod(pos, self.n)
            if epoch not in self._perms:
                self._perms = {epoch: torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))}
            out.append(int(self._perms[epoch][offset]))
        return out


class _StepSampler(torch.utils.data.Sampler):
    def __init__(self, indices: StepIndices, start: int, stop: int) -> None:
        self.indices, self.start, self.stop = indices, start, stop

    def __iter__(self) -> Iterator[list[int]]:
        return (self.indices(s) for s in range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def _step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 101 + rank) % (2**63)


def lr_factor(step: int, warmup: int, total: int, cosine: bool = True) -> float:
    """Multiplier of the base lr at 0-based ``step``: linear warm-up over ``warmup`` steps, then
    cosine decay to 0 at ``total`` (or constant when ``cosine`` is False)."""
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def to_device(batch, device):
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device, non_blocking=True) if torch.is_tensor(batch) else batch


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def evaluate(model: torch.nn.Module, data: Dataset, batch_size: int = 32, device: str | torch.device = "cpu",
             num_workers: int = 0) -> dict[str, float]:
    """MPJPE / PA-MPJPE (mm) and PCK@0.05/0.1 of ``model`` on ``data`` (HMR 2.0 protocol)."""
    was_training = model.training
    model.eval()
    per_batch = []
    with torch.inference_mode():
        for batch in DataLoader(data, batch_size=batch_size, num_workers=num_workers):
            batch = to_device(batch, device)
            per_batch.append({k: v.cpu() for k, v in pose_metrics(model(batch["img"]), batch).items()})
    model.train(was_training)
    return summarize(per_batch)


def load_backbone_init(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Fill ``model.backbone`` from a ViTPose-layout file (``backbone.*`` / ``keypoint_head.*`` keys)."""
    from workbench.models import load_vitpose_backbone

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train.init_backbone {str(path)!r} does not exist; pre-train one with "
                                "`python -m workbench pretrain --preset tiny --out runs/p2` or set it to null.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(path)
    else:  # ViTPose's .pth may pickle mmcv metadata: read it as inert data, as the official checkpoint is
        from workbench.models.checkpoint import torch_load_weights_only

        state = torch_load_weights_only(path)
    load_vitpose_backbone(model.backbone, state, source=str(path))


def load_weights_init(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Fill ``model`` from one of our checkpoints (``save_checkpoint``), checking every tensor's shape."""
    from safetensors.torch import load_file

    from workbench.models.state import diff_state_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train.init_weights {str(path)!r} does not exist; point it at a run's "
                                "best.safetensors (or assets/checkpoints/hmr2_tiny.safetensors) or set it to null.")
    weights = load_file(path)
    diff_state_dict(model.state_dict(), weights).raise_if_any(
        str(path), "Was it trained with another preset? Start from a checkpoint of the same architecture.")
    model.load_state_dict(weights, strict=True)


def _set_modes(model: torch.nn.Module, tc) -> None:
    """Training mode, except a frozen backbone, which stays in eval mode (no drop-path, fixed BatchNorm)."""
    model.train()
    if tc.freeze_backbone:
        model.backbone.eval()


def _save_state(path: Path, step: int, model, optimizer, disc_optimizer, best: dict) -> None:
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "disc_optimizer": None if disc_optimizer is None else disc_optimizer.state_dict(),
        "best": best,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _prepare_out_dir(out_dir: Path, cfg: Config, resume: bool, overwrite: bool) -> bool:
    """Create/validate the run folder. Returns True when an earlier run is to be resumed."""
    has_state = (out_dir / STATE).exists()
    if has_state and overwrite:
        for name in (STATE, LOG, BEST, "best.json"):
            (out_dir / name).unlink(missing_ok=True)
        has_state = False
    elif has_state and not resume:
        raise FileExistsError(f"{out_dir} holds an earlier run; resume it (resume=True / --resume) "
                              "or replace it (overwrite=True / --overwrite).")
    elif has_state:
        stored = json.loads((out_dir / CONFIG).read_text())
        if stored != json.loads(json.dumps(cfg.to_dict())):  # compare as JSON: tuples come back as lists
            raise ValueError(f"{out_dir} was trained with a different config; resume with the same config "
                             f"(see {out_dir / CONFIG}) or use another folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    return has_state


def train(cfg: Config, out_dir: str | Path, *, steps: int | None = None, resume: bool = True, overwrite: bool = False,
          train_data: Dataset | None = None, val_data: Dataset | None = None, device: str | None = None,
          progress: bool = True, on_log: Callable[[dict], None] | None = None) -> TrainResult:
    """Train HMR 2.0 as configured; returns the log. ``steps`` overrides ``cfg.train.max_steps``."""
    from tqdm.auto import tqdm

    from workbench.data import MocapPrior, SynthHumans
    from workbench.models import build_model, save_checkpoint

    out_dir = Path(out_dir)
    tc = cfg.train
    stop = steps if steps is not None else tc.max_steps
    rank, world = _distributed()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    resuming = _prepare_out_dir(out_dir, cfg, resume, overwrite) if rank == 0 else (out_dir / STATE).exists() and resume
    if world > 1:
        dist.barrier()

    torch.manual_seed(tc.seed)
    model = build_model(cfg)
    if tc.init_weights and not resuming:
        load_weights_init(model, tc.init_weights)
    if tc.init_backbone and not resuming:
        load_backbone_init(model, tc.init_backbone)
    if tc.freeze_backbone:
        model.backbone.requires_grad_(False)
    model = model.to(device)
    disc = getattr(model, "discriminator", None)
    disc_params = set(disc.parameters()) if disc is not None else set()
    gen_params = [p for p in model.parameters() if p.requires_grad and p not in disc_params]
    optimizer = torch.optim.AdamW(gen_params, lr=tc.lr, weight_decay=tc.weight_decay)
    adv_weight = cfg.loss.weights.get("adversarial", 0.0)
    disc_optimizer = (torch.optim.AdamW(disc.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
                      if disc is not None and adv_weight > 0 else None)

    start, best, rows = 0, {"pa_mpjpe": float("inf")}, []
    if resuming:
        state = torch.load(out_dir / STATE, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if disc_optimizer is not None and state["disc_optimizer"] is not None:
            disc_optimizer.load_state_dict(state["disc_optimizer"])
        start, best = state["step"], state["best"]
        if (out_dir / LOG).exists():
            rows = pd.read_csv(out_dir / LOG).query("step <= @start").to_dict("records")
    if rank == 0:
        atomic_write_json(out_dir / CONFIG, cfg.to_dict())

    gen_model, disc_fn = model, disc
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ignore = [f"discriminator.{n}" for n, _ in disc.named_parameters()] if disc is not None else []
        DDP._set_params_and_buffers_to_ignore_for_model(model, ignore)
        gen_model = DDP(model, broadcast_buffers=False)
        if disc_optimizer is not None:
            disc_fn = DDP(disc, broadcast_buffers=False)

    train_data = train_data or SynthHumans(cfg.data, split="train")
    val_data = val_data if val_data is not None else SynthHumans(cfg.data, split="val", augment=False)
    indices = StepIndices(len(train_data), tc.batch_size, tc.seed, rank, world)
    loader = DataLoader(train_data, batch_sampler=_StepSampler(indices, start, stop), num_workers=cfg.data.num_workers,
                        persistent_workers=False)
    prior = MocapPrior(num_betas=cfg.model.head.num_betas)
    use_amp = tc.amp and device.type == "cuda"

    def flush_log() -> None:
        if rank == 0 and rows:
            atomic_write_bytes(out_dir / LOG, pd.DataFrame(rows).to_csv(index=False).encode())

    bar = tqdm(total=stop, initial=start, desc="train", disable=not progress or rank != 0, dynamic_ncols=True)
    _set_modes(model, tc)
    t_last, n_seen = time.perf_counter(), 0
    for step, batch in enumerate(loader, start=start + 1):
        g = torch.Generator().manual_seed(_step_seed(tc.seed, step, rank))
        torch.manual_seed(_step_seed(tc.seed, step, rank))  # drop-path / dropout draws of this step
        if tc.warmup_steps or tc.cosine_decay:  # one schedule for generator and discriminator
            lr = tc.lr * lr_factor(step - 1, tc.warmup_steps, tc.max_steps, tc.cosine_decay)
            for opt in filter(None, (optimizer, disc_optimizer)):
                for group in opt.param_groups:
                    group["lr"] = lr
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            output = gen_model(batch["img"])
        try:
            total, terms = compute_losses(output, batch, model, cfg.loss.weights, step=step)
        except NonFiniteLossError:
            bar.close()
            flush_log()
            raise
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(gen_params, tc.grad_clip)
        optimizer.step()

        if disc_optimizer is not None:
            real_pose, real_betas = prior.sample(tc.mocap_batch_size, g)
            params = output["pred_smpl_params"]
            d_loss = adv_weight * discriminator_loss(disc_fn, params["body_pose"].float(), params["betas"].float(),
                                                     real_pose.to(device), real_betas.to(device))
            disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_optimizer.step()
            terms["discriminator"] = float(d_loss.detach())

        n_seen += batch["img"].shape[0] * world
        bar.update(1)
        if step % tc.log_every == 0 or step == stop:
            now = time.perf_counter()
            row = {"step": step, "kind": "train", **terms, "lr": optimizer.param_groups[0]["lr"],
                   "img_per_s": n_seen / (now - t_last)}
            t_last, n_seen = now, 0
            rows.append(row)
            bar.set_postfix({k: f"{v:.3g}" for k, v in terms.items() if k in ("total", "keypoints_3d", "keypoints_2d")})
            if on_log:
                on_log(row)
        if rank == 0 and (step % tc.val_every == 0 or step == stop):
            metrics = evaluate(model, val_data, device=device)
            _set_modes(model, tc)
            rows.append({"step": step, "kind": "val", **metrics})
            if on_log:
                on_log(rows[-1])
            if metrics["pa_mpjpe"] < best["pa_mpjpe"]:
                best = {"step": step, **metrics}
                save_checkpoint(out_dir / BEST, model, cfg, {"metrics": best, "step": step})
        if rank == 0 and (step % tc.ckpt_every == 0 or step == stop):
            _save_state(out_dir / STATE, step, model, optimizer, disc_optimizer, best)
            flush_log()
    bar.close()
    flush_log()
    if world > 1:
        dist.barrier()
    log = pd.DataFrame(rows)
    return TrainResult(log=log, out_dir=out_dir, step=max(start, stop), best=best)


def copy_best(run_dir: str | Path, dest: str | Path, overwrite: bool = False) -> Path:
    """Copy a run's best weights (and their JSON sidecar) to ``dest`` (e.g. assets/checkpoints/)."""
    run_dir, dest = Path(run_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in (BEST, "best.json"):
        target = dest / name
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it.")
        shutil.copyfile(run_dir / name, target)
    return dest / BEST
