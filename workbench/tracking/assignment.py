"""Hungarian assignment of detections to tracks with PHALP's gate (``hungarian_th = 100``).

Costs above the threshold are set to ``threshold + 1e-5`` before solving (so an impossible pair
never outweighs the rest of the assignment), and solved pairs whose cost is above the threshold
are rejected: both sides become unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

HUNGARIAN_TH = 100.0


@dataclass
class Assignment:
    """matches: (K, 2) int array of (track row, detection column); unmatched_*: sorted int arrays."""

    matches: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=int))
    unmatched_tracks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    unmatched_detections: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def hungarian_assign(cost: np.ndarray, threshold: float = HUNGARIAN_TH) -> Assignment:
    """Match rows (tracks) to columns (detections) of a (T, D) cost matrix.

    NaN costs count as impossible (above the threshold). Empty inputs give empty matches.
    """
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be (T, D), got shape {cost.shape}")
    T, D = cost.shape
    if T == 0 or D == 0:
        return Assignment(unmatched_tracks=np.arange(T), unmatched_detections=np.arange(D))
    gated = np.where(np.isnan(cost) | (cost > threshold), threshold + 1e-5, cost)
    rows, cols = linear_sum_assignment(gated)
    keep = gated[rows, cols] <= threshold
    rows, cols = rows[keep], cols[keep]
    return Assignment(
        matches=np.stack([rows, cols], -1).astype(int),
        unmatched_tracks=np.setdiff1d(np.arange(T), rows),
        unmatched_detections=np.setdiff1d(np.arange(D), cols),
    )


def hungarian_assign_reference(cost: np.ndarray, threshold: float = HUNGARIAN_TH) -> float:
    """Brute force over all partial injections (tiny problems only): the minimum total gated cost.

    Returns the optimum of sum(min(cost, threshold + 1e-5)) over full assignments of the smaller side,
    which ``hungarian_assign`` must reach before its rejection step.
    """
    from itertools import permutations

    c = np.where(np.isnan(cost) | (cost > threshold), threshold + 1e-5, np.asarray(cost, np.float64))
    T, D = c.shape
    if T == 0 or D == 0:
        return 0.0
    if T <= D:
        return min(sum(c[i, p[i]] for i in range(T)) for p in permutations(range(D), T))
    return min(sum(c[p[j], j] for j in range(D)) for p in permutations(range(T), D))
