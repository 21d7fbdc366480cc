"""Pose-based action recognition on 3D tracks (LART-style, paper §5.4 / Table 5).

* ``clips``   - labelled synthetic action clips (19 classes in AVA-style groups PM / PI / OM), noisy pose engines
* ``motions`` - the procedural motions behind them
* ``model``   - ``ActionTransformer``: per-frame tokens from the 229-d pose and 3D joints, (time x person)
  position embedding, masked frames without detection, multi-label head
* ``train``   - windows, the BCE training loop, scoring
* ``metrics`` - AVA-style AP per class, mAP overall and per group
* ``engines`` - real pose engines: render each clip as a video, detect, lift (HMR 2.0, a baseline, the truth)
  and track (PHALP')
* ``table5``  - the same model trained on poses from different pose engines
"""

from workbench.action.clips import (
    ACTION_CLASSES,
    GROUPS,
    ActionClips,
    class_counts,
    clips_to_frame,
    lart_joints,
    make_clips,
    make_split,
    perturb_poses,
    pose_error_mm,
    with_poses,
)
from workbench.action.engines import model_engine, render_clip, render_clip_crops, rendered_engines
from workbench.action.metrics import ActionMetrics, average_precision, evaluate_actions, smooth_scores
from workbench.action.model import ActionConfig, ActionTransformer, load_action_model, save_action_model
from workbench.action.train import ActionArrays, action_bce, predict_scores, train_action_model, windows

__all__ = [
    "ACTION_CLASSES", "GROUPS", "ActionArrays", "ActionClips", "ActionConfig", "ActionMetrics", "ActionTransformer",
    "action_bce", "average_precision", "class_counts", "clips_to_frame", "evaluate_actions", "lart_joints",
    "load_action_model", "make_clips", "make_split", "model_engine", "perturb_poses", "pose_error_mm",
    "predict_scores", "render_clip", "render_clip_crops", "rendered_engines", "save_action_model", "smooth_scores",
    "train_action_model", "windows", "with_poses",
]
