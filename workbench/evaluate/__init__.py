"""Evaluation: pose metrics with HMR 2.0's protocol (more suites join as they land)."""

from workbench.evaluate.pose_metrics import mpjpe, pa_mpjpe, pck, pose_metrics, summarize

__all__ = ["mpjpe", "pa_mpjpe", "pck", "pose_metrics", "summarize"]
