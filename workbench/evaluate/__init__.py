"""Evaluation: pose metrics (HMR 2.0's protocol), evaluation datasets (published npz layout, COCO json,
SynthBench-Img), the evaluation runner, and tracking metrics (PoseTrack protocol)."""

from workbench.evaluate.datasets import (
    COCO_TO_HMR44,
    EVAL_SETS,
    EvalNpzDataset,
    coco_keypoint_arrays,
    coco_keypoint_dataset,
    published_eval_set,
)
from workbench.evaluate.pose_metrics import mpjpe, pa_mpjpe, pck, pose_metrics, summarize
from workbench.evaluate.pseudo_labels import load_real_photo_labels, mediapipe_to_hmr44, real_photo_items
from workbench.evaluate.runner import check_body_compatible, evaluate_model, summary_table
from workbench.evaluate.synthbench import BENCH_SPLITS, SynthBench, bench_scene, build_synthbench
from workbench.evaluate.tracking_metrics import PUBLISHED_MAX_IOU, evaluate_tracking, evaluate_videos

__all__ = [
    "BENCH_SPLITS", "COCO_TO_HMR44", "EVAL_SETS", "EvalNpzDataset", "PUBLISHED_MAX_IOU", "SynthBench", "bench_scene",
    "build_synthbench", "check_body_compatible", "coco_keypoint_arrays", "coco_keypoint_dataset", "evaluate_model",
    "evaluate_tracking", "evaluate_videos", "load_real_photo_labels", "mediapipe_to_hmr44", "mpjpe", "pa_mpjpe", "pck", "pose_metrics", "published_eval_set",
    "real_photo_items", "summarize", "summary_table",
]
