"""Run a model over an evaluation dataset: one row per sample, then HMR 2.0's aggregate table.

:func:`evaluate_model` works with any dataset whose items carry ``img``, ``keypoints_2d`` (44, 3)
and ``keypoints_3d`` (44, 4) -- :class:`~workbench.data.synth.SynthHumans`,
:class:`~workbench.evaluate.synthbench.SynthBench`, :class:`~workbench.evaluate.datasets.EvalNpzDataset`.
Optional item keys it understands: ``box_scale`` (PCK normaliser, default 1), ``has_keypoints_3d``
(default 1; 3D metrics are NaN without it) and ``meta`` (a dict of scalars, copied into columns).

The frame keeps, per sample, the per-keypoint PCK flags (``kp_visible``, ``kp_correct@0.05``,
``kp_correct@0.1``, (44,) bool arrays), so any slice of it (``df[df.activity == "lying"]``) can be
summarised with the published aggregate by :func:`summary_table`, which calls
:func:`~workbench.evaluate.pose_metrics.summarize`.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.body.keypoints import NUM_HMR_JOINTS
from workbench.evaluate.pose_metrics import mpjpe, pa_mpjpe, pck, summarize

__all__ = ["PCK_THRESHOLDS", "check_body_compatible", "evaluate_model", "summary_table"]

PCK_THRESHOLDS = (0.05, 0.1)
SUMMARY_COLUMNS = ("samples", "mpjpe", "pa_mpjpe", "pck@0.05", "pck@0.1", "no_visible_2d")


def _body_spec(model) -> dict:
    body = getattr(model, "smpl", None)
    if body is None:
        raise TypeError(f"{type(model).__name__} has no body model (.smpl); evaluate_model expects a workbench HMR2.")
    return {"name": getattr(body, "name", type(body).__name__), "num_vertices": int(body.layer.v_template.shape[0])}


def check_body_compatible(model, dataset) -> None:
    """Raise ValueError when the dataset's ground truth comes from another body than the model's.

    Datasets declare ``body_spec`` = {name, num_vertices, num_keypoints} when their labels are a
    body model's (SynthBench: the open body); ``None`` means keypoint ground truth, valid for any
    body that outputs the 44-joint set (checked on the first batch).
    """
    spec = getattr(dataset, "body_spec", None)
    if spec is None:
        return
    mine = _body_spec(model)
    if mine["num_vertices"] != spec["num_vertices"] or mine["name"] != spec["name"]:
        raise ValueError(
            f"the model's body ({mine['name']}, {mine['num_vertices']} vertices) is not the dataset's "
            f"({spec['name']}, {spec['num_vertices']} vertices): its keypoints are regressed from another mesh, so "
            f"MPJPE would measure the difference of joint definitions. Build the dataset with the model's body "
            f"(e.g. SynthBench(split, body=model.smpl)) or evaluate a model of the dataset's body.")


def _collate_meta(batch: dict, n: int) -> dict[str, list]:
    meta = batch.get("meta", {})
    cols = {}
    for key, value in meta.items():
        values = value.tolist() if torch.is_tensor(value) else list(value)
        cols[key] = values if len(values) == n else [value] * n
    return cols


def evaluate_model(model: torch.nn.Module, dataset, batch_size: int = 32, device=None, num_workers: int = 0,
                   progress: bool = True):
    """Per-sample HMR 2.0 metrics of ``model`` on ``dataset``.

    Args:
        model: a workbench :class:`~workbench.models.HMR2` (runs through ``model.predict``).
        dataset: items as described in the module docstring.
        batch_size: crops per forward pass.
        device: where to run; default the model's device.
        num_workers: DataLoader workers (rendering datasets are CPU-bound).
        progress: tqdm bar.

    Returns:
        pandas DataFrame, one row per sample: ``mpjpe``, ``pa_mpjpe`` (mm; NaN without 3D ground
        truth), ``pck@0.05``, ``pck@0.1`` (share of the sample's visible keypoints within the
        threshold; NaN with none visible), ``num_visible``, the PCK flag arrays and the dataset's
        ``meta`` columns.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if len(dataset) == 0:
        raise ValueError(f"{type(dataset).__name__} is empty: there is nothing to evaluate "
                         "(were all samples dropped, e.g. by skip_missing?).")
    check_body_compatible(model, dataset)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    rows: dict[str, list] = {}
    for batch in tqdm(loader, desc=f"evaluate {getattr(dataset, 'name', getattr(dataset, 'split', ''))}".strip(),
                      disable=not progress):
        out = model.predict(batch["img"].to(device))
        pred_3d, pred_2d = out["pred_keypoints_3d"].float().cpu(), out["pred_keypoints_2d"].float().cpu()
        gt_3d, gt_2d = batch["keypoints_3d"].float(), batch["keypoints_2d"].float()
        if pred_3d.shape[1] != gt_3d.shape[1] or gt_2d.shape[1] != NUM_HMR_JOINTS:
            raise ValueError(f"joint sets differ: the model predicts {pred_3d.shape[1]} keypoints, the dataset labels "
                             f"{gt_2d.shape[1]} (2D) / {gt_3d.shape[1]} (3D); both must be HMR 2.0's "
                             f"{NUM_HMR_JOINTS}-joint set (workbench.body.keypoints.HMR_JOINT_NAMES).")
        n = len(gt_3d)
        has_3d = batch.get("has_keypoints_3d", torch.ones(n)).bool()
        nan = torch.full((n,), float("nan"))
        cols = {"mpjpe": torch.where(has_3d, mpjpe(pred_3d, gt_3d), nan),
                "pa_mpjpe": torch.where(has_3d, pa_mpjpe(pred_3d, gt_3d), nan)}
        box_scale = batch.get("box_scale")
        visible = None
        for thr in PCK_THRESHOLDS:
            correct, visible = pck(pred_2d, gt_2d, thr, None if box_scale is None else box_scale.float())
            count = visible.sum(1)
            cols[f"pck@{thr}"] = torch.where(count > 0, correct.sum(1) / count.clamp(min=1), nan)
            cols[f"kp_correct@{thr}"] = list(correct.numpy())
        cols["num_visible"] = visible.sum(1)
        cols["kp_visible"] = list(visible.numpy())
        cols.update(_collate_meta(batch, n))
        for key, value in cols.items():
            rows.setdefault(key, []).extend(value.tolist() if torch.is_tensor(value) else value)
    return pd.DataFrame(rows)


def _frame_to_batch(df) -> dict[str, torch.Tensor]:
    """A per-sample frame back into :func:`pose_metrics`' per-batch layout (3D rows without ground truth dropped)."""
    batch = {k: torch.tensor(df[k].dropna().to_numpy(np.float64)) for k in ("mpjpe", "pa_mpjpe")}
    visible = torch.from_numpy(np.stack(df["kp_visible"].to_numpy())) if len(df) else torch.zeros(0, NUM_HMR_JOINTS)
    for thr in PCK_THRESHOLDS:
        batch[f"pck@{thr}_visible"] = visible.bool()
        batch[f"pck@{thr}_correct"] = (torch.from_numpy(np.stack(df[f"kp_correct@{thr}"].to_numpy())).bool()
                                       if len(df) else visible.bool())
    return batch


def summary_table(frames: dict):
    """HMR 2.0's dataset-level numbers for each per-sample frame (or slice of one).

    Args:
        frames: name -> DataFrame from :func:`evaluate_model`.
    Returns:
        DataFrame indexed by name: samples, mpjpe, pa_mpjpe (mean mm over samples with 3D ground
        truth), pck@0.05, pck@0.1 (mean of per-keypoint accuracies, keypoints never visible left
        out -- :func:`~workbench.evaluate.pose_metrics.summarize`), no_visible_2d (samples without
        a visible keypoint).
    """
    import pandas as pd

    if not frames:
        raise ValueError("summary_table needs at least one frame: {name: evaluate_model(model, dataset)}.")
    table = {}
    for name, df in frames.items():
        needed = {"mpjpe", "pa_mpjpe", "kp_visible", *(f"kp_correct@{t}" for t in PCK_THRESHOLDS)}
        if needed - set(df.columns):
            raise ValueError(f"frame {name!r} lacks columns {sorted(needed - set(df.columns))}; "
                             "pass the frames evaluate_model returns (or slices of them).")
        row = summarize([_frame_to_batch(df)]) if len(df) else dict.fromkeys(SUMMARY_COLUMNS[1:5], float("nan"))
        table[name] = {"samples": len(df), **row,
                       "no_visible_2d": int((df["num_visible"] == 0).sum()) if "num_visible" in df else 0}
    return pd.DataFrame.from_dict(table, orient="index")[list(SUMMARY_COLUMNS)]
