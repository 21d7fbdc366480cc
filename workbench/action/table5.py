"""Paper Table 5 at workbench scale: one action model, trained and tested on poses from different engines.

The paper's claim (§5.4): a better 3D pose engine gives better pose-only action recognition. Here every
engine sees the same labelled synthetic clips (``workbench.action.clips``); an engine is how the poses
are produced: ``0`` = ground truth, a number = ground truth with that RMS rotation error in degrees
(:func:`~workbench.action.clips.perturb_poses`), or a callable ``clips -> clips`` (e.g. a real pose
engine run on rendered clips). Train and test poses come from the same engine, as when a model is
trained on the tracker's output.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from workbench.action.clips import ACTION_CLASSES, ActionClips, lart_joints, perturb_poses, pose_error_mm
from workbench.action.model import ActionConfig
from workbench.action.train import ActionArrays, train_action_model

__all__ = ["DEFAULT_ENGINES", "arrays_from_clips", "run_table5"]

DEFAULT_ENGINES = {"ground truth": 0.0, "noise 10 deg": 10.0, "noise 25 deg": 25.0, "noise 45 deg": 45.0}


def arrays_from_clips(clips: ActionClips) -> ActionArrays:
    """The model's inputs: 229-d poses, LART's 135-d joints, detection masks and multi-hot labels."""
    return ActionArrays(clips.pose, lart_joints(clips), clips.has_detection, clips.labels, class_names=clips.classes)


def _through(engine: float | Callable, clips: ActionClips, seed: int) -> ActionClips:
    if callable(engine):
        return engine(clips)
    return clips if float(engine) == 0.0 else perturb_poses(clips, float(engine), seed=seed)


def run_table5(train: ActionClips, test: ActionClips, engines: dict | None = None, steps: int = 300,
               cfg: ActionConfig | None = None, seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """mAP overall and per group (PM / PI / OM, in %) of the same model trained on each engine's poses.

    Returns one row per engine with ``pose_err_mm`` (the engine's pelvis-aligned keypoint error on the
    test clips, :func:`~workbench.action.clips.pose_error_mm`), ``mAP``, the group columns, ``train_s``
    and ``empty_classes`` (test classes without positives: their AP is undefined and left out of the means).
    Engines that track (:func:`~workbench.action.engines.rendered_engines`) add ``coverage`` (detected
    person-frames of the test clips that reached the model, %) and ``fragments`` (tracks per person).
    """
    engines = DEFAULT_ENGINES if engines is None else engines
    groups = {c: ACTION_CLASSES[c] for c in train.classes}
    cfg = cfg or ActionConfig.cpu(num_classes=len(train.classes))
    rows = []
    for name, engine in engines.items():
        t0 = time.perf_counter()
        seen_train = _through(engine, train, seed)
        seen_test = _through(engine, test, seed + 1)
        result = train_action_model(arrays_from_clips(seen_train), arrays_from_clips(seen_test), cfg, steps,
                                    seed=seed, groups=groups, progress=progress)
        m = result.metrics
        tracked = [c for c in seen_test.meta if "coverage" in c]
        track_stats = {"coverage": 100 * np.mean([c["coverage"] for c in tracked]),
                       "fragments": np.mean([c["fragments"] for c in tracked])} if tracked else {}
        rows.append({"engine": name, "pose_err_mm": round(pose_error_mm(seen_test, test), 1), "mAP": 100 * m.mAP,
                     **{g: 100 * v for g, v in m.group_mAP.items()}, **track_stats,
                     "train_s": round(time.perf_counter() - t0, 1), "empty_classes": ", ".join(m.empty_classes)})
    return pd.DataFrame(rows)
