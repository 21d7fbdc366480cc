"""Training the action transformer on labelled pose clips, LART's ``action_BCE`` recipe.

Data are plain arrays (:class:`ActionArrays`), so this module does not depend on where clips come
from (synthetic generator, tracker output with any pose engine):

    pose (N, P, T, 229), joints (N, P, T, 135), has_detection (N, P, T) bool, labels (N, P, T, C)

**Recipe** (``configs/lart.yaml``, scaled down): AdamW (wd 0.05, betas (0.9, 0.95)), linear warmup
then cosine decay, gradient clipping at 2.0, loss = 10 × BCE-with-logits averaged over the classes
and over the (person, frame) samples *with a detection* (randomly masked ones included: the model
must fill them in from context). No EMA of weights (LART uses 0.9999, meant for ~10^5 steps).

Long tracks are cut into ``frame_length`` windows by :func:`windows`; shorter ones are padded with
undetected (masked) frames.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from workbench.action.metrics import ActionMetrics, evaluate_actions
from workbench.action.model import JOINTS_DIM, POSE_DIM, ActionConfig, ActionTransformer, save_action_model
from workbench.io import atomic_write_bytes, check_writable_target
from workbench.runtime import torch_threads

__all__ = ["ActionArrays", "ActionTrainResult", "windows", "predict_scores", "train_action_model", "action_bce",
           "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "action_model.safetensors"
BCE_WEIGHT = 10.0  # LART's action_BCE weight


# ----------------------------------------------------------------------------- data
@dataclass
class ActionArrays:
    """N clips of P people × T frames. Undetected frames may hold anything (they are ignored).

    ``clip``/``start`` (N,) say which source clip and first frame a window came from (set by
    :func:`windows`; default: clip i, frame 0).
    """

    pose: np.ndarray  # (N, P, T, 229) float32
    joints: np.ndarray  # (N, P, T, 135) float32
    has_detection: np.ndarray  # (N, P, T) bool
    labels: np.ndarray  # (N, P, T, C) float32 multi-hot
    class_names: tuple[str, ...] | None = None
    appearance: np.ndarray | None = None  # (N, P, T, D) or None
    clip: np.ndarray | None = None
    start: np.ndarray | None = None

    def __post_init__(self):
        self.pose = np.asarray(self.pose, np.float32)
        self.joints = np.asarray(self.joints, np.float32)
        self.has_detection = np.asarray(self.has_detection, bool)
        self.labels = np.asarray(self.labels, np.float32)
        N, P, T = self.has_detection.shape if self.has_detection.ndim == 3 else (None,) * 3
        C = self.labels.shape[-1]
        if (N is None or self.pose.shape != (N, P, T, POSE_DIM) or self.joints.shape != (N, P, T, JOINTS_DIM)
                or self.labels.shape != (N, P, T, C)):
            raise ValueError(f"expected pose (N, P, T, {POSE_DIM}), joints (N, P, T, {JOINTS_DIM}), has_detection "
                             f"(N, P, T), labels (N, P, T, C); got {self.pose.shape}, {self.joints.shape}, "
                             f"{self.has_detection.shape}, {self.labels.shape}.")
        if self.class_names is not None:
            self.class_names = tuple(self.class_names)
            if len(self.class_names) != C:
                raise ValueError(f"{len(self.class_names)} class names for {C} label columns.")
        if self.appearance is not None:
            self.appearance = np.asarray(self.appearance, np.float32)
        self.clip = np.arange(N) if self.clip is None else np.asarray(self.clip, np.int64)
        self.start = np.zeros(N, np.int64) if self.start is None else np.asarray(self.start, np.int64)

    @classmethod
    def from_clips(cls, clips: Sequence[Mapping[str, np.ndarray]], class_names: Sequence[str] | None = None,
                   max_people: int | None = None) -> ActionArrays:
        """Stack clips of different lengths / people counts, padding with undetected frames.

        Each clip has ``pose`` (P, T, 229) or (T, 229) for one person, ``joints``, ``has_detection``,
        ``labels`` likewise (optional ``appearance``). People beyond ``max_people`` are dropped
        (keep the person of interest first, as LART's ego track).
        """
        if not clips:
            raise ValueError("no clips given.")
        one_person_ndim = {"pose": 2, "joints": 2, "has_detection": 1, "labels": 2, "appearance": 2}
        per = [{k: np.asarray(v)[None] if np.ndim(v) == one_person_ndim[k] else np.asarray(v)
                for k, v in c.items() if k in one_person_ndim} for c in clips]
        P = max(c["has_detection"].shape[0] for c in per)
        P = P if max_people is None else min(P, max_people)
        T = max(c["has_detection"].shape[1] for c in per)
        out = {}
        for key in per[0]:
            shape = (len(per), P, T) + per[0][key].shape[2:]
            arr = np.zeros(shape, bool if key == "has_detection" else np.float32)
            for i, c in enumerate(per):
                v = c[key][:P]
                arr[i, : v.shape[0], : v.shape[1]] = v
            out[key] = arr
        return cls(**out, class_names=class_names)

    def __len__(self) -> int:
        return self.has_detection.shape[0]

    @property
    def num_classes(self) -> int:
        return self.labels.shape[-1]

    def subset(self, index) -> ActionArrays:
        index = np.asarray(index)
        take = {f.name: getattr(self, f.name) for f in fields(self)}
        return ActionArrays(**{k: (v[index] if isinstance(v, np.ndarray) else v) for k, v in take.items()})

    def batch(self, index, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The model's input dict (plus ``labels``) for clips ``index``."""
        out = {"pose": self.pose[index], "joints": self.joints[index], "has_detection": self.has_detection[index],
               "labels": self.labels[index]}
        if self.appearance is not None:
            out["appearance"] = self.appearance[index]
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in out.items()}


def _as_arrays(data) -> ActionArrays:
    if isinstance(data, ActionArrays):
        return data
    if isinstance(data, Mapping):
        return ActionArrays(**{k: v for k, v in data.items() if k in {f.name for f in fields(ActionArrays)}})
    raise TypeError(f"expected ActionArrays or a dict of arrays, got {type(data).__name__}.")


def windows(data: ActionArrays, frame_length: int, stride: int | None = None, max_people: int | None = None,
            min_detections: int = 1) -> ActionArrays:
    """Cut every clip into ``frame_length``-frame windows.

    Args:
        data: N clips of T frames. frame_length: window length L. stride: default L (no overlap);
            the last window is aligned to the clip's end so no frame is left out.
        max_people: keep the first people only. min_detections: drop windows with fewer detected
            (person, frame) samples (a long gap gives empty windows; 0 keeps every window).

    Returns:
        Windows with ``clip``/``start`` pointing into ``data``. A clip shorter than L gives one window,
        padded at the end with undetected frames (masked by the model, never scored).
    """
    data = _as_arrays(data)
    stride = stride or frame_length
    P = data.has_detection.shape[1] if max_people is None else min(max_people, data.has_detection.shape[1])
    T = data.has_detection.shape[2]
    starts = list(range(0, max(T - frame_length, 0) + 1, stride))
    if starts[-1] + frame_length < T:
        starts.append(T - frame_length)
    pad = max(frame_length - T, 0)

    def cut(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        a = np.pad(a[:, :P], [(0, 0), (0, 0), (0, pad)] + [(0, 0)] * (a.ndim - 3))
        return np.stack([a[:, :, s: s + frame_length] for s in starts], axis=1).reshape(-1, P, frame_length,
                                                                                         *a.shape[3:])

    out = ActionArrays(cut(data.pose), cut(data.joints), cut(data.has_detection), cut(data.labels), data.class_names,
                       cut(data.appearance), clip=np.repeat(data.clip, len(starts)),
                       start=(data.start[:, None] + np.asarray(starts)[None]).reshape(-1))
    keep = out.has_detection.sum((1, 2)) >= min_detections
    return out if keep.all() else out.subset(np.flatnonzero(keep))


# ----------------------------------------------------------------------------- loss, prediction
def action_bce(logits: torch.Tensor, labels: torch.Tensor, has_detection: torch.Tensor,
               weight: float = BCE_WEIGHT) -> torch.Tensor:
    """LART's ``action_BCE``: ``weight`` × BCE-with-logits, mean over classes and detected samples.

    logits, labels (B, P, T, C); has_detection (B, P, T) bool. Zero when nothing is detected.
    """
    bce = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").mean(-1)  # (B, P, T)
    det = has_detection.float()
    return weight * (bce * det).sum() / det.sum().clamp_min(1.0)


@torch.no_grad()
def predict_scores(model: ActionTransformer, data, batch_size: int = 32) -> np.ndarray:
    """Sigmoid action scores (N, P, T, C) for every clip of ``data`` (eval mode, no random masking).

    Clips longer than the model's window are scored window by window (non-overlapping, the last one
    aligned to the end) and stitched back; people beyond ``max_people`` get NaN.
    """
    data = _as_arrays(data)
    cfg = model.cfg
    N, P, T = data.has_detection.shape
    data = replace(data, clip=np.arange(N), start=np.zeros(N, np.int64))
    win = windows(data, min(cfg.frame_length, T), max_people=cfg.max_people, min_detections=0)
    was_training = model.training
    model.eval()
    parts = []
    for i in range(0, len(win), batch_size):
        parts.append(torch.sigmoid(model(win.batch(np.arange(i, min(i + batch_size, len(win)))))).numpy())
    model.train(was_training)
    probs = np.concatenate(parts) if parts else np.zeros((0, *win.labels.shape[1:]), np.float32)
    out = np.full((N, P, T, cfg.num_classes), np.nan, np.float32)
    Pm, L = probs.shape[1], probs.shape[2]
    for w, (c, s) in enumerate(zip(win.clip, win.start)):
        n = min(L, T - s)
        out[c, :Pm, s: s + n] = probs[w, :, :n]
    return out


# ----------------------------------------------------------------------------- training
@dataclass
class ActionTrainResult:
    model: ActionTransformer
    log: object  # pandas DataFrame: step, lr, loss, grad_norm, seconds (+ val_loss at eval steps)
    metrics: ActionMetrics | None  # on the validation clips, at the end
    seconds: float
    checkpoint: Path | None


def _normalisation(data: ActionArrays) -> tuple[np.ndarray, ...]:
    det = data.has_detection
    if not det.any():
        raise ValueError("the training clips have no detected frame; nothing to learn from.")
    pose, joints = data.pose[det], data.joints[det]
    return pose.mean(0), pose.std(0), joints.mean(0), joints.std(0)


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warmup to 1, then cosine to 0.01 at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def train_action_model(train_clips, val_clips, cfg: ActionConfig, steps: int, lr: float = 1e-3,
                       batch_size: int = 16, seed: int = 0, out_dir: str | os.PathLike | None = None,
                       overwrite: bool = False, *, groups: Mapping[str, str] | None = None, smooth_k: int = 0,
                       warmup: int | None = None, weight_decay: float = 0.05, grad_clip: float = 2.0,
                       eval_every: int = 0, threads: int = 1, progress: bool = True) -> ActionTrainResult:
    """Train an :class:`ActionTransformer` from scratch.

    Args:
        train_clips, val_clips: :class:`ActionArrays` (or dicts of its arrays); val may be None.
            Clips longer than ``cfg.frame_length`` are cut by :func:`windows` (training: half-overlap).
        cfg: architecture; ``cfg.num_classes`` must equal the labels' C.
        steps, lr, batch_size, seed: optimisation (AdamW, betas (0.9, 0.95)); warmup defaults to 10 %.
        out_dir: if given, writes ``action_model.safetensors`` + ``.json`` sidecar and ``train_log.csv``
            there; refuses to replace an existing checkpoint unless ``overwrite`` (checked before training).
        groups, smooth_k: for the validation metrics (:func:`workbench.action.metrics.evaluate_actions`).
        eval_every: also log the validation loss every so many steps (0: only at the end).
        threads: torch CPU threads for the run (1 is fastest on a shared machine).
    """
    import pandas as pd
    from tqdm import tqdm

    train, val = _as_arrays(train_clips), (None if val_clips is None else _as_arrays(val_clips))
    if train.num_classes != cfg.num_classes:
        raise ValueError(f"labels have {train.num_classes} classes but cfg.num_classes = {cfg.num_classes}.")
    target = None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        target = check_writable_target(Path(out_dir) / CHECKPOINT_NAME, overwrite)
    class_names = train.class_names or tuple(f"class_{c}" for c in range(cfg.num_classes))
    L = cfg.frame_length
    train_w = windows(train, L, stride=max(1, L // 2), max_people=cfg.max_people)
    if len(train_w) == 0:
        raise ValueError("no training window has a detection.")
    warmup = max(1, steps // 10) if warmup is None else warmup

    with torch_threads(threads):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = ActionTransformer(cfg)
        model.set_normalisation(*(torch.from_numpy(a) for a in _normalisation(train_w)))
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and n != "pos_emb"]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or n == "pos_emb"]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, steps, warmup))
        rows, t0 = [], time.perf_counter()
        model.train()
        for step in tqdm(range(steps), desc="action model", disable=not progress, leave=False):
            b = train_w.batch(rng.integers(0, len(train_w), batch_size))
            loss = action_bce(model(b), b["labels"], b["has_detection"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            row = {"step": step, "lr": opt.param_groups[0]["lr"], "loss": loss.item(),
                   "grad_norm": grad_norm.item(), "seconds": time.perf_counter() - t0}
            opt.step()
            sched.step()
            if val is not None and eval_every and (step + 1) % eval_every == 0:
                row["val_loss"] = _val_loss(model, val, batch_size)
            rows.append(row)
        seconds = time.perf_counter() - t0
        metrics = None
        if val is not None:
            scores = predict_scores(model, val, batch_size)
            metrics = evaluate_actions(scores, val.labels, val.has_detection & ~np.isnan(scores[..., 0]),
                                       val.class_names or class_names, groups, k=smooth_k)
    model.eval()
    log = pd.DataFrame(rows)
    if target is not None:
        extra = {"class_names": list(class_names), "groups": dict(groups or {}),
                 "train": {"steps": steps, "lr": lr, "batch_size": batch_size, "seed": seed, "warmup": warmup,
                           "weight_decay": weight_decay, "grad_clip": grad_clip, "seconds": seconds,
                           "num_train_windows": len(train_w), "final_loss": rows[-1]["loss"] if rows else None},
                 "val": None if metrics is None else {"summary": metrics.summary(), "ap": metrics.ap,
                                                      "empty_classes": metrics.empty_classes}}
        save_action_model(target, model, extra)
        atomic_write_bytes(Path(out_dir) / "train_log.csv", log.to_csv(index=False).encode())
    return ActionTrainResult(model=model, log=log, metrics=metrics, seconds=seconds, checkpoint=target)


@torch.no_grad()
def _val_loss(model: ActionTransformer, val: ActionArrays, batch_size: int) -> float:
    """Mean action_BCE on the validation windows (eval mode)."""
    win = windows(val, model.cfg.frame_length, max_people=model.cfg.max_people)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(win), batch_size):
        b = win.batch(np.arange(i, min(i + batch_size, len(win))))
        n = float(b["has_detection"].sum())
        total += action_bce(model(b), b["labels"], b["has_detection"]).item() * n
        count += n
    model.train(was_training)
    return total / max(count, 1.0)
