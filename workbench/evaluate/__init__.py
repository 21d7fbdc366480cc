"""Evaluation: pose metrics with HMR 2.0's protocol and tracking metrics with the PoseTrack protocol."""

from workbench.evaluate.pose_metrics import mpjpe, pa_mpjpe, pck, pose_metrics, summarize
from workbench.evaluate.tracking_metrics import PUBLISHED_MAX_IOU, evaluate_tracking, evaluate_videos

__all__ = ["PUBLISHED_MAX_IOU", "evaluate_tracking", "evaluate_videos", "mpjpe", "pa_mpjpe", "pck", "pose_metrics",
           "summarize"]
