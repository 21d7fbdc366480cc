"""AVA-style action metrics: average precision per class, mAP overall and per group (PM / PI / OM).

**What is scored.** AVA scores person boxes at key frames with ActivityNet's
``get_ava_performance`` (``PascalBoxes_Precision/mAP@0.5IOU``). In the workbench every (person,
frame) with a detection is one "box" already matched to its ground-truth person (the track *is*
that person), so AVA's evaluation reduces to ranking these samples by score, per class. Ground-truth
people at frames without a detection are AVA's missed boxes: with ``count_missed=True`` their
positives enter the recall denominator (recall then cannot reach 1), as in AVA; by default only
detected frames are scored, as LART's prediction files hold detections only.

**AP.** ActivityNet's ``compute_average_precision`` (PASCAL VOC 2010+ all-point interpolation):
sort by score (descending), precision/recall after each sample, make precision monotone from the
right (the interpolated precision at recall r is the best precision at any recall >= r), and sum
precision × recall increments. Ties are broken by input order (stable sort).

**Smoothing.** LART's ``track.fullframe@avg.6``: a frame's sigmoid score is the mean over the
detected frames of the same track within ±k frames (:func:`smooth_scores`).

**Empty classes.** A class with no positive in the evaluation split has undefined AP: it is NaN in
``ap``, listed in ``empty_classes`` and left out of every mean; it is never dropped silently.

Values are fractions in [0, 1]; ``table(percent=True)`` gives the ×100 numbers papers report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["average_precision", "average_precision_reference", "smooth_scores", "evaluate_actions",
           "ActionMetrics", "GROUP_NAMES"]

GROUP_NAMES = {"PM": "person movement", "PI": "person interaction", "OM": "object manipulation"}


def average_precision(scores: np.ndarray, labels: np.ndarray, num_positives: int | None = None) -> float:
    """VOC/AVA all-point interpolated AP of one class.

    Args:
        scores: (N,) confidence per sample; labels: (N,) bool / {0, 1} ground truth.
        num_positives: recall denominator; default ``labels.sum()``. Larger when positives were
            missed (never scored), as AVA counts ground-truth boxes without a detection.

    Returns:
        AP in [0, 1]; NaN when there is no positive (AP undefined).
    """
    scores, labels = np.asarray(scores, np.float64).ravel(), np.asarray(labels).ravel().astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ in size.")
    n_pos = int(labels.sum()) if num_positives is None else int(num_positives)
    if n_pos < labels.sum():
        raise ValueError(f"num_positives={n_pos} is smaller than the {int(labels.sum())} positives given.")
    if n_pos == 0:
        return float("nan")
    # 1. Rank by score; precision and recall after each sample.
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(labels[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / n_pos
    # 2. Sentinels, then the interpolated (non-increasing) precision envelope.
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    # 3. Area under the step curve at the points where recall changes.
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def average_precision_reference(scores: np.ndarray, labels: np.ndarray, num_positives: int | None = None) -> float:
    """Slow, obviously-correct AP (for tests): the mean over positives of the interpolated precision
    at their rank, ``(1/n_pos) Σ_{positive at rank i} max_{j >= i} precision@j``; missed positives add 0."""
    scores, labels = np.asarray(scores, np.float64).ravel(), np.asarray(labels).ravel().astype(bool)
    n_pos = int(labels.sum()) if num_positives is None else int(num_positives)
    if n_pos == 0:
        return float("nan")
    ranked = labels[np.argsort(-scores, kind="stable")]
    precision_at = [ranked[: j + 1].sum() / (j + 1) for j in range(len(ranked))]
    total = 0.0
    for i in range(len(ranked)):
        if ranked[i]:
            total += max(precision_at[i:])
    return total / n_pos


def smooth_scores(scores: np.ndarray, has_detection: np.ndarray, k: int) -> np.ndarray:
    """Mean score over the detected frames within ±k of each frame (LART's ``avg.k``).

    Args:
        scores: (..., T, C) per-frame probabilities (sigmoid of the logits, not logits);
        has_detection: (..., T) bool; k: half-window in frames (0 = unchanged).

    Returns:
        (..., T, C) float64; frames with no detected frame in their window keep their own score.
    """
    scores = np.asarray(scores, np.float64)
    det = np.asarray(has_detection, bool)
    if k <= 0:
        return scores.copy()
    T = scores.shape[-2]
    w = det[..., None].astype(np.float64)  # (..., T, 1)
    # Window sums by cumulative sums: sum over [t-k, t+k] = c[min(t+k, T-1)+1] - c[max(t-k, 0)].
    pad = [(0, 0)] * (scores.ndim - 2) + [(1, 0), (0, 0)]
    cs, cw = np.pad(np.cumsum(scores * w, -2), pad), np.pad(np.cumsum(w, -2), pad)
    hi, lo = np.minimum(np.arange(T) + k, T - 1) + 1, np.maximum(np.arange(T) - k, 0)
    num = np.take(cs, hi, -2) - np.take(cs, lo, -2)
    den = np.take(cw, hi, -2) - np.take(cw, lo, -2)
    return np.where(den > 0, num / np.maximum(den, 1e-12), scores)


@dataclass
class ActionMetrics:
    """Per-class AP and its means. NaN AP = class without positives (listed in ``empty_classes``)."""

    ap: dict[str, float]  # class -> AP (NaN if undefined)
    num_positives: dict[str, int]  # class -> positives among scored samples
    mAP: float  # mean over classes with a defined AP
    group_mAP: dict[str, float] = field(default_factory=dict)  # group -> mean AP of its defined classes
    groups: dict[str, str] = field(default_factory=dict)  # class -> group (as given)
    empty_classes: list[str] = field(default_factory=list)
    num_samples: int = 0  # scored (person, frame) samples

    def table(self, percent: bool = False):
        """One row per class (name, group, positives, AP) as a pandas DataFrame."""
        import pandas as pd

        s = 100.0 if percent else 1.0
        return pd.DataFrame([{"class": c, "group": self.groups.get(c, ""), "positives": self.num_positives[c],
                              "AP": self.ap[c] * s} for c in self.ap])

    def summary(self, percent: bool = False) -> dict[str, float]:
        """``{"mAP": .., "PM": .., "PI": .., "OM": ..}`` (groups as given)."""
        s = 100.0 if percent else 1.0
        return {"mAP": self.mAP * s, **{g: v * s for g, v in self.group_mAP.items()}}


def _nanmean(values: Sequence[float]) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def evaluate_actions(scores: np.ndarray, labels: np.ndarray, has_detection: np.ndarray,
                     class_names: Sequence[str], groups: Mapping[str, str] | None = None, k: int = 0,
                     count_missed: bool = False, labelled: np.ndarray | None = None) -> ActionMetrics:
    """AVA-style AP per class, mAP and per-group mAP.

    Args:
        scores: (..., T, C) probabilities (e.g. (N, P, T, C)); labels: (..., T, C) multi-hot;
        has_detection: (..., T) bool: the scored samples. class_names: C names.
        groups: class name -> group name (e.g. "PM" / "PI" / "OM"); must name every class, and only those.
        k: LART's ±k-frame score averaging over a track's detected frames (0 = off).
        count_missed: positives at frames without detection (but ``labelled``) lower the recall, as
            AVA's ground-truth boxes the detector missed.
        labelled: (..., T) bool, frames that carry ground truth (default: all frames; padding has
            all-zero labels so it adds no positive).
    """
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    det = np.asarray(has_detection, bool)
    C = len(class_names)
    if scores.shape != labels.shape or scores.shape[-1] != C or det.shape != scores.shape[:-1]:
        raise ValueError(f"expected scores and labels (..., T, {C}) and has_detection (..., T); got "
                         f"{scores.shape}, {labels.shape}, {det.shape}.")
    if groups is not None:
        missing = [c for c in class_names if c not in groups]
        unknown = [c for c in groups if c not in set(class_names)]
        if missing or unknown:
            raise ValueError(f"groups must map exactly the evaluated classes: missing {missing}, unknown {unknown}.")
    if np.isnan(scores[det]).any():
        raise ValueError("scores contain NaN at detected frames; the model diverged or inputs had NaN.")
    scored = smooth_scores(scores, det, k)[det]  # (S, C)
    truth = labels[det]  # (S, C)
    missed = np.zeros(C, np.int64)
    if count_missed:
        lab = np.ones(det.shape, bool) if labelled is None else np.asarray(labelled, bool)
        missed = labels[lab & ~det].sum(0)
    ap, n_pos = {}, {}
    for c, name in enumerate(class_names):
        n_pos[name] = int(truth[:, c].sum())
        ap[name] = average_precision(scored[:, c], truth[:, c], n_pos[name] + int(missed[c]))
    groups = dict(groups or {})
    group_mAP = {g: _nanmean([ap[c] for c in class_names if groups[c] == g]) for g in dict.fromkeys(groups.values())}
    return ActionMetrics(ap=ap, num_positives=n_pos, mAP=_nanmean(list(ap.values())), group_mAP=group_mAP,
                         groups=groups, empty_classes=[c for c in class_names if np.isnan(ap[c])],
                         num_samples=int(det.sum()))
