"""Ablations: train variants of a config on the same data with the same budget, then compare them.

    >>> with_term = copy.deepcopy(cfg); with_term.loss.weights["joint_limits"] = 0.01   # doctest: +SKIP
    >>> runs = compare_runs({"baseline": cfg, "+ joint limits": with_term}, steps=300, out_root=tmp)  # doctest: +SKIP
    >>> runs.table   # one row per variant: final loss terms, validation metrics, measured terms  # doctest: +SKIP

What makes the comparison fair: the trainer draws the samples of step ``s`` and every random number
in it from ``(seed, s)`` (see :mod:`workbench.train`), so variants with the same data config and the
same ``train.seed`` see the same crops in the same order, start from the same initial weights when
their architectures match, and are validated on the same held-out crops. ``compare_runs`` refuses
variants whose data, seed or batch size differ.

What it does not make fair: a loss weight also changes the *scale* of the total, and a few hundred
steps say little about where a run ends. Short comparisons show the mechanics, not conclusions.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.config import Config
from workbench.losses import LOSSES
from workbench.train import STATE, to_device, train

__all__ = ["Comparison", "compare_runs", "measure_losses", "run_seeded_ablation", "table6_variants", "varied_terms"]

VAL_METRICS = ("mpjpe", "pa_mpjpe", "pck@0.05", "pck@0.1")


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per variant (index: its name), see compare_runs
    log: pd.DataFrame  # every run's training log (train and val rows) with a "run" column
    out_dirs: dict[str, Path]  # variant -> run folder


def varied_terms(configs: dict[str, Config]) -> list[str]:
    """Loss names whose weight differs between the variants (a missing name counts as weight 0)."""
    names = sorted({n for cfg in configs.values() for n in cfg.loss.weights})
    return [n for n in names if len({cfg.loss.weights.get(n, 0.0) for cfg in configs.values()}) > 1]


def measure_losses(model: torch.nn.Module, data: Dataset, names, batch_size: int = 32) -> dict[str, float]:
    """Mean value *per person* of the registered losses ``names`` on ``data`` (eval mode, no gradients).

    The published terms are sums over the batch; dividing by the number of people makes values
    from different batch sizes comparable. Weights play no part: every term is measured unweighted,
    whether or not the model was trained with it.
    """
    was_training = model.training
    model.eval()
    totals, count = dict.fromkeys(names, 0.0), 0
    with torch.inference_mode():
        for batch in DataLoader(data, batch_size=batch_size):
            batch = to_device(batch, next(model.parameters()).device)
            output = model(batch["img"])
            for name in names:
                totals[name] += float(LOSSES[name](output, batch, model))
            count += batch["img"].shape[0]
    model.train(was_training)
    return {name: total / count for name, total in totals.items()}


def _check_comparable(configs: dict[str, Config]) -> None:
    if not configs:
        raise ValueError("compare_runs needs at least one config (name -> Config).")
    (first_name, first), *rest = configs.items()
    for name, cfg in rest:
        for what, a, b in [("data", first.data, cfg.data), ("train.seed", first.train.seed, cfg.train.seed),
                           ("train.batch_size", first.train.batch_size, cfg.train.batch_size)]:
            if a != b:
                raise ValueError(f"variants {first_name!r} and {name!r} differ in {what}; a comparison needs the same "
                                 "data, seed and batch size. Change only what you are testing.")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "run"


def compare_runs(configs: dict[str, Config], steps: int, out_root: str | Path, *, measure=None,
                 train_data: Dataset | None = None, val_data: Dataset | None = None, overwrite: bool = False,
                 progress: bool = True) -> Comparison:
    """Train every variant for ``steps`` on the same data, then compare them.

    Args:
        configs: variant name -> :class:`Config` (same data config, seed and batch size).
        steps: training steps of each run.
        out_root: runs go to ``out_root/<name>``; an existing run there is resumed (so calling again
            with more steps continues every variant) unless ``overwrite``.
        measure: loss names to measure on the validation data for every final model, trained with
            them or not; None: the terms whose weights differ between the variants (:func:`varied_terms`).
        train_data, val_data: datasets shared by all runs; None: SynthHumans of the first config.
        progress: a progress bar per run.
    Returns:
        :class:`Comparison`. ``table`` columns: ``steps``, ``seconds``; the last logged value of each
        training term (``<term> (train)``, summed over the batch as logged); the final validation
        metrics (``mpjpe``, ``pa_mpjpe`` in mm, PCK); each measured term per person on the
        validation data (``<term> (val, per person)``).
    """
    from workbench.data import SynthHumans
    from workbench.models import build_model

    _check_comparable(configs)
    first = next(iter(configs.values()))
    train_data = train_data if train_data is not None else SynthHumans(first.data, split="train")
    val_data = val_data if val_data is not None else SynthHumans(first.data, split="val", augment=False)
    measure = varied_terms(configs) if measure is None else list(measure)
    terms = list(dict.fromkeys(n for cfg in configs.values() for n in cfg.loss.weights)) + ["discriminator", "total"]
    columns = ["steps", "seconds", *(f"{k} (train)" for k in terms), *VAL_METRICS,
               *(f"{k} (val, per person)" for k in measure)]
    rows, logs, out_dirs = {}, [], {}
    for name, cfg in configs.items():
        out_dir = Path(out_root) / _slug(name)
        t0 = time.perf_counter()
        result = train(cfg, out_dir, steps=steps, overwrite=overwrite, train_data=train_data, val_data=val_data,
                       progress=progress)
        seconds = time.perf_counter() - t0
        model = build_model(cfg)
        model.load_state_dict(torch.load(out_dir / STATE, map_location="cpu", weights_only=True)["model"])
        log = result.log.assign(run=name)
        last_train = log[log.kind == "train"].iloc[-1].dropna()
        last_val = log[log.kind == "val"].iloc[-1]
        row = {"steps": result.step, "seconds": round(seconds, 1)}
        row |= {f"{k} (train)": last_train[k] for k in terms if k in last_train}
        row |= {k: last_val[k] for k in VAL_METRICS}
        row |= {f"{k} (val, per person)": v for k, v in measure_losses(model, val_data, measure).items()}
        rows[name], out_dirs[name] = row, out_dir
        logs.append(log)
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns).dropna(axis=1, how="all")
    return Comparison(table=table, log=pd.concat(logs, ignore_index=True), out_dirs=out_dirs)


# ------------------------------------------------------------------ Table 6: variants x seeds, on SynthBench
def table6_variants(base: Config, less_data: int = 2_000, pretrained: str | Path | None = None) -> dict[str, Config]:
    """The paper's Table 6 questions as config variants of ``base`` (every variant a few fields changed).

    * ``B1``: ResNet-50 + MLP head with IEF (HMR/SPIN); ``B2``: ViT + MLP head with IEF;
    * ``HMR 2.0``: ViT + transformer decoder (``base`` itself);
    * ``D1 (less data)``: ``base`` trained on only ``less_data`` distinct crops (the generator cycles over
      them), against ``HMR 2.0``'s ``base.data.num_train`` distinct crops (D2 in the paper's spirit).

    * ``P2 (heat-map pretrained)``, when ``pretrained`` names a ViTPose-layout backbone file (ours:
      ``assets/checkpoints/vit_tiny_heatmaps.safetensors``, made by ``python -m workbench pretrain``):
      ``base`` started from it, against ``HMR 2.0`` started from random weights (P1). ``base`` itself
      should then start from random weights (``base.train.init_backbone = None``).
    """
    import copy

    from workbench.models.hmr2 import ablation_config

    out = {}
    for name, arch in (("B1", "B1"), ("B2", "B2"), ("HMR 2.0", "hmr2")):
        cfg = copy.deepcopy(base)
        cfg.model = ablation_config(arch, base.model)
        out[name] = cfg
    small = copy.deepcopy(base)
    small.data.num_train = min(int(less_data), base.data.num_train)
    out["D1 (less data)"] = small
    if pretrained is not None:
        p2 = copy.deepcopy(base)
        p2.train.init_backbone = str(pretrained)
        out["P2 (heat-map pretrained)"] = p2
    return out


def run_seeded_ablation(configs: dict[str, Config], steps: int, out_root: str | Path, seeds=(0, 1),
                        bench_splits=("standard", "unusual"), bench_samples: int | None = None,
                        overwrite: bool = False, progress: bool = True) -> pd.DataFrame:
    """Train every variant with every seed on the same budget, evaluate each final model on SynthBench-Img.

    Returns one row per (variant, split) with the mean and the spread (half the range; the standard
    deviation needs 3+ seeds) over seeds of MPJPE / PA-MPJPE (mm) and PCK, and the number of seeds;
    also written to ``out_root/table6.csv`` (refused if it exists, unless ``overwrite``).
    """
    import copy

    from workbench.evaluate.runner import evaluate_model, summary_table
    from workbench.evaluate.synthbench import SynthBench
    from workbench.io import atomic_write_bytes, check_writable_target
    from workbench.models import build_model

    out_root = Path(out_root)
    table_path = check_writable_target(out_root / "table6.csv", overwrite)
    benches = {s: SynthBench(s, num_samples=bench_samples) for s in bench_splits}
    rows = []
    for seed in seeds:
        for name, cfg in configs.items():
            cfg = copy.deepcopy(cfg)
            cfg.train.seed = int(seed)
            run = compare_runs({name: cfg}, steps, out_root / f"seed{seed}", overwrite=overwrite, progress=progress,
                               measure=[])
            model = build_model(cfg)
            model.load_state_dict(torch.load(run.out_dirs[name] / STATE, map_location="cpu", weights_only=True)["model"])
            model.eval()
            for split, bench in benches.items():
                summary = summary_table({split: evaluate_model(model, bench, progress=False)}).iloc[0]
                rows.append({"variant": name, "seed": seed, "split": split,
                             **{k: float(summary[k]) for k in VAL_METRICS}, "seconds": run.table.loc[name, "seconds"]})
    per_seed = pd.DataFrame(rows)
    grouped = per_seed.groupby(["variant", "split"], sort=False)
    table = grouped[list(VAL_METRICS)].mean()
    spread = (grouped[list(VAL_METRICS)].max() - grouped[list(VAL_METRICS)].min()) / 2
    table = table.join(spread.add_suffix(" ±")).assign(seeds=grouped.size()).reset_index()
    out_root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(table_path, table.to_csv(index=False).encode())
    atomic_write_bytes(out_root / "table6_per_seed.csv", per_seed.to_csv(index=False).encode())
    return table
