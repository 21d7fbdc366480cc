"""How well :func:`~workbench.tracking.ground.fit_ground_plane` recovers the floor of synthetic videos.

Each video of :func:`~workbench.tracking.synth_video.benchmark_videos` is tracked (PHALP', simulated
detections) with a pose engine, then the plane is fitted twice: with the video's true intrinsics given
(``result.intrinsics``), and with HMR 2.0's default camera (focal ``5000 max(H, W) / 256``). The truth:
the floor ``y = 0`` of the world, whose up normal in the camera is ``R_cw (0, 1, 0)``, and the camera's
``camera_height``. A pan about the vertical axis leaves that normal unchanged, so panning videos are
scored too (flagged ``static=False``).

    python -m workbench.tracking.ground --benchmark [--fast]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.tracking.ground import fit_ground_plane, ground_plane_error

__all__ = ["ground_benchmark", "summarise", "true_ground"]


def true_ground(video) -> tuple[np.ndarray, float]:
    """(3,) up normal of the floor in the camera of frame 0, and the camera height (metres) of a SynthVideo."""
    return video.camera_rotation[0] @ np.array([0.0, 1.0, 0.0]), float(video.config.camera_height)


def ground_benchmark(fast: bool | None = None, engines=None, split: str = "normal",
                     progress: bool = True) -> pd.DataFrame:
    """One row per (video, engine, intrinsics): fitted camera height / pitch, normal error (degrees),
    height error (cm), feet used and inlier share; a failed fit leaves NaN and says why in ``note``.

    ``engines`` default: ("ground_truth", "hmr2"); fast mode: the small videos, ground truth only.
    """
    from tqdm.auto import tqdm

    from workbench.config import fast_mode
    from workbench.tracking.benchmark import Method, run_method
    from workbench.tracking.synth_video import benchmark_videos, detections_by_frame, render_video, \
        simulate_detections

    fast = fast_mode() if fast is None else fast
    engines = engines or (("ground_truth",) if fast else ("ground_truth", "hmr2"))
    rows = []
    for cfg in tqdm(benchmark_videos(split, fast=fast), desc="videos", disable=not progress):
        video = render_video(cfg)
        detections = detections_by_frame(simulate_detections(video), len(video.frames))
        normal, height = true_ground(video)
        true_k = video.intrinsics
        cache: dict = {}
        for engine in engines:
            result = run_method(video, Method(engine=engine), detections, cache)
            for label, intrinsics in (("true", true_k), ("default", None)):
                result.intrinsics = intrinsics
                row = {"video": cfg.seed, "static": cfg.pan_deg_per_s == 0, "engine": engine, "intrinsics": label,
                       "true_pitch_deg": cfg.camera_pitch_deg, "true_height_m": height}
                try:
                    plane = fit_ground_plane(result)
                except ValueError as err:
                    rows.append({**row, "note": str(err)[:80]})
                    continue
                rows.append({**row, "fit_pitch_deg": plane.camera_pitch_deg, "fit_height_m": plane.camera_height,
                             **ground_plane_error(plane, normal, height), "feet": plane.num_points,
                             "inliers": plane.inlier_fraction, "rms_cm": 100 * plane.rms, "note": ""})
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute errors over the static videos per (engine, intrinsics)."""
    static = table[table.static].assign(abs_height_error_cm=lambda t: t.height_error_cm.abs())
    return (static.groupby(["engine", "intrinsics"], sort=False)
            .agg(videos=("video", "size"), normal_error_deg=("normal_error_deg", "mean"),
                 abs_height_error_cm=("abs_height_error_cm", "mean"), rms_cm=("rms_cm", "mean"))
            .reset_index())
