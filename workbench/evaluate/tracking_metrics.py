"""Tracking metrics with the published PoseTrack protocol (PHALP ``evaluate_PHALP.py``), computed by
the reference packages rather than re-implemented:

* HOTA, DetA, AssA: TrackEval's ``HOTA().eval_sequence`` on a dense IoU similarity per video; each
  is the mean over the 19 localisation thresholds alpha = 0.05..0.95, and a set of videos reports
  the mean over videos (as published);
* MOTA, IDF1, ID switches, precision, recall: py-motmetrics, distance ``1 - IoU`` from
  ``motmetrics.distances.iou_matrix(gt, pred, max_iou)``, one accumulator per video,
  ``compute_many(metrics=motchallenge_metrics, generate_overall=True)``, the OVERALL row for a set.

``max_iou`` is motmetrics' largest *distance* ``1 - IoU`` that may be matched. The published script
used 0.99 (any overlap above IoU 0.01 can match), our default; the MOTChallenge convention is 0.5
(IoU >= 0.5).

Boxes are DataFrames with columns ``frame, id, x1, y1, x2, y2`` (pixels; ``person_id`` or
``track_id`` are accepted for ``id``). Every frame that appears in either table is evaluated. With
no ground truth or no predictions the library values that are undefined (0/0) are reported as 0.

Install: ``pip install motmetrics`` and ``pip install --no-deps trackeval==1.3.0`` plus
``pycocotools tabulate`` (``make venv`` does it; trackeval's declared ``opencv-python`` would
overwrite our headless OpenCV).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PUBLISHED_MAX_IOU = 0.99
"""``max_iou`` (a 1 - IoU distance) of PHALP's ``evaluate_PHALP.py``."""

HOTA_KEYS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA")
MOT_KEYS = {"mota": "MOTA", "idf1": "IDF1", "num_switches": "IDs", "precision": "precision", "recall": "recall",
            "num_false_positives": "FP", "num_misses": "FN", "num_objects": "num_gt", "num_predictions": "num_pred"}
COLUMNS = ["video", *HOTA_KEYS, *MOT_KEYS.values()]


def _import(name: str):
    """``trackeval`` or ``motmetrics``, with an error that says how to install them."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f"tracking metrics need {name}: `pip install motmetrics` and `pip install --no-deps trackeval==1.3.0 "
            "pycocotools tabulate` (or `make venv`)."
        ) from err


def _tidy(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """Columns frame, id, x1, y1, x2, y2 (float boxes, int frame/id), rows with finite boxes only."""
    df = df.rename(columns={c: "id" for c in ("person_id", "track_id") if c in df.columns and "id" not in df.columns})
    missing = {"frame", "id", "x1", "y1", "x2", "y2"} - set(df.columns)
    if missing:
        raise ValueError(f"{what} needs columns frame, id, x1, y1, x2, y2; missing {sorted(missing)}.")
    out = df[["frame", "id", "x1", "y1", "x2", "y2"]].copy()
    out = out[np.isfinite(out[["x1", "y1", "x2", "y2"]].to_numpy(float)).all(1)]
    return out.astype({"frame": np.int64, "id": np.int64, "x1": float, "y1": float, "x2": float, "y2": float})


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N, 4) and (M, 4) boxes (x1, y1, x2, y2) -> (N, M); the similarity fed to HOTA."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), -1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), -1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def iou_distance(gt: np.ndarray, pred: np.ndarray, max_iou: float = PUBLISHED_MAX_IOU) -> np.ndarray:
    """``motmetrics.distances.iou_matrix`` on (x1, y1, x2, y2) boxes: (N, M) ``1 - IoU``, NaN above ``max_iou``.

    motmetrics 1.4.0 (the newest) calls ``np.asfarray``, removed in numpy 2; there we evaluate the
    same two lines on motmetrics' own ``boxiou``.
    """
    mm = _import("motmetrics")
    xywh = lambda x: np.concatenate([x[:, :2], x[:, 2:] - x[:, :2]], 1).astype(float)  # noqa: E731
    if hasattr(np, "asfarray"):
        return mm.distances.iou_matrix(xywh(gt), xywh(pred), max_iou=max_iou)
    if gt.size == 0 or pred.size == 0:
        return np.empty((0, 0))
    dist = 1 - mm.distances.boxiou(xywh(gt)[:, None], xywh(pred)[None, :])
    return np.where(dist > max_iou, np.nan, dist)


def hota_sequence(gt: pd.DataFrame, pred: pd.DataFrame) -> dict[str, float]:
    """TrackEval HOTA of one video: each field averaged over alpha = 0.05..0.95 (IoU similarity)."""
    trackeval = _import("trackeval")
    frames = np.union1d(gt["frame"].unique(), pred["frame"].unique())
    gt_ids, pr_ids = np.unique(gt["id"]), np.unique(pred["id"])  # TrackEval wants ids 0..n-1
    g_by, p_by = dict(tuple(gt.groupby("frame"))), dict(tuple(pred.groupby("frame")))
    empty = gt.iloc[:0]
    data = {"num_gt_ids": len(gt_ids), "num_tracker_ids": len(pr_ids), "num_gt_dets": len(gt),
            "num_tracker_dets": len(pred), "gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for t in frames:
        g, p = g_by.get(t, empty), p_by.get(t, empty)
        data["gt_ids"].append(np.searchsorted(gt_ids, g["id"].to_numpy()))
        data["tracker_ids"].append(np.searchsorted(pr_ids, p["id"].to_numpy()))
        data["similarity_scores"].append(box_iou_matrix(g[["x1", "y1", "x2", "y2"]].to_numpy(),
                                                        p[["x1", "y1", "x2", "y2"]].to_numpy()))
    res = trackeval.metrics.HOTA().eval_sequence(data)
    return {k: float(np.mean(res[k])) for k in HOTA_KEYS}


def mot_accumulator(gt: pd.DataFrame, pred: pd.DataFrame, max_iou: float = PUBLISHED_MAX_IOU):
    """A ``motmetrics.MOTAccumulator`` over every frame of either table."""
    mm = _import("motmetrics")
    acc = mm.MOTAccumulator(auto_id=True)
    g_by, p_by = dict(tuple(gt.groupby("frame"))), dict(tuple(pred.groupby("frame")))
    empty = gt.iloc[:0]
    for t in np.union1d(gt["frame"].unique(), pred["frame"].unique()):
        g, p = g_by.get(t, empty), p_by.get(t, empty)
        dist = iou_distance(g[["x1", "y1", "x2", "y2"]].to_numpy(), p[["x1", "y1", "x2", "y2"]].to_numpy(), max_iou)
        acc.update(g["id"].to_numpy(), p["id"].to_numpy(), dist.reshape(len(g), len(p)))
    return acc


def evaluate_videos(videos, max_iou: float = PUBLISHED_MAX_IOU) -> pd.DataFrame:
    """Tracking metrics of several videos with the published protocol.

    Args:
        videos: iterable of ``(name, gt, pred)``; gt and pred DataFrames with columns
            ``frame, id, x1, y1, x2, y2``.
        max_iou: motmetrics' matching gate, a ``1 - IoU`` distance (published 0.99; 0.5 is MOTChallenge's).

    Returns:
        DataFrame, one row per video plus ``"overall"``: HOTA, DetA, AssA (and DetRe, DetPr, AssRe,
        AssPr, LocA) in [0, 1], per video and their mean over videos; MOTA, IDF1, IDs (switches),
        precision, recall, FP, FN, num_gt, num_pred per video and motmetrics' OVERALL.
    """
    mm = _import("motmetrics")
    names, hota, accs = [], [], []
    for name, gt, pred in videos:
        gt, pred = _tidy(gt, "gt"), _tidy(pred, "pred")
        names.append(str(name))
        hota.append(hota_sequence(gt, pred))
        accs.append(mot_accumulator(gt, pred, max_iou))
    if not names:
        raise ValueError("evaluate_videos needs at least one (name, gt, pred) video.")
    metrics = [k for k in MOT_KEYS if k not in ("num_predictions",)]
    summary = mm.metrics.create().compute_many(accs, names=names, metrics=metrics, generate_overall=True)
    table = pd.DataFrame(hota, index=names)
    table.loc["overall"] = table.mean()
    summary = summary.rename(index={"OVERALL": "overall"}).rename(columns=MOT_KEYS)
    table = table.join(summary)
    table["num_pred"] = table["num_gt"] - table["FN"] + table["FP"]  # matches + false positives
    table = table.replace([np.inf, -np.inf], np.nan).fillna(0.0)
    for k in ("IDs", "FP", "FN", "num_gt", "num_pred"):
        table[k] = table[k].astype(np.int64)
    return table.rename_axis("video").reset_index()[COLUMNS]


def evaluate_tracking(gt: pd.DataFrame, pred: pd.DataFrame, max_iou: float = PUBLISHED_MAX_IOU) -> dict:
    """Tracking metrics of one video: ``{HOTA, DetA, AssA, ..., MOTA, IDF1, IDs, precision, recall, ...}``
    (see :func:`evaluate_videos`)."""
    row = evaluate_videos([("video", gt, pred)], max_iou).iloc[0]
    return {k: (int(v) if isinstance(v, (np.integer, int)) else float(v)) for k, v in row.items() if k != "video"}
