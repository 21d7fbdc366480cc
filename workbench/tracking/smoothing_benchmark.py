"""Does smoothing help? Jitter and pose error of tracks before / after, on the synthetic benchmark.

    python -m workbench.tracking.smoothing_benchmark --out smoothing.csv [--fast]

Each video of the synthetic tracking benchmark (``benchmark_videos("normal")``) is tracked by PHALP'
(as in ``workbench.tracking.benchmark``) with two pose engines:

* ``noisy_gt`` - the ground truth with known, deterministic per-frame noise (:class:`PoseNoise`:
  a random rotation of every joint, translation and, larger, depth noise): a pose engine whose
  jitter we know, so the benefit of smoothing is measured, not guessed;
* ``clean_gt`` - the ground truth itself: whatever smoothing changes is its bias (lag, cut peaks);
* ``hmr2`` - our shipped HMR 2.0 (short-trained: limbs near the mean pose, so a weak test).

Every track is matched to the person its detections came from (the synthetic detections carry
``gt_ids``) and scored on those frames, raw and smoothed with each filter and strength
(:mod:`workbench.tracking.smoothing`): acceleration error (mm/frame^2, pelvis-aligned as in
HMR / VIBE, and in the camera), jitter, MPJPE (mm, 24 SMPL joints, pelvis-aligned) and root error
(cm, camera). Rows are frame-weighted means over tracks of all videos.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.config import fast_mode
from workbench.evaluate.motion_metrics import acceleration_error, jitter, mpjpe, root_error
from workbench.tracking.engines import GroundTruthEngine
from workbench.tracking.smoothing import METHODS, SmoothConfig, smooth_motion

__all__ = ["ENGINES", "PoseNoise", "noisy_lookup", "smpl_joints", "smoothing_benchmark", "track_identities"]

STRENGTHS = (0.25, 0.5, 0.75, 1.0)
ENGINES = ("noisy_gt", "clean_gt", "hmr2")
METRICS = ["accel_err", "accel_err_cam", "jitter", "mpjpe", "root_err_cm"]


@dataclass(frozen=True)
class PoseNoise:
    """Per-frame noise of the ``noisy_gt`` engine (independent across frames and people).

    rotation_deg: RMS angle of a random rotation applied to every joint (and the root), degrees.
    translation_m: standard deviation of x and y translation noise, metres.
    depth_m: standard deviation of z (depth) noise, metres (monocular depth is the least certain).
    """

    rotation_deg: float = 8.0
    translation_m: float = 0.03
    depth_m: float = 0.10
    seed: int = 0


def noisy_lookup(lookup, noise: PoseNoise):
    """Wrap a ground-truth ``lookup(frame, gt_id) -> dict | None`` with deterministic noise.

    The noise depends only on (seed, frame, gt_id), so a cached or repeated query gets the same pose.
    """
    from scipy.spatial.transform import Rotation

    def noisy(frame: int, gt_id: int):
        gt = lookup(frame, gt_id)
        if gt is None:
            return None
        rng = np.random.default_rng([noise.seed, int(frame), int(gt_id)])
        aa = np.concatenate([np.reshape(gt["global_orient"], (1, 3)), np.reshape(gt["body_pose"], (23, 3))])
        # A rotation vector with i.i.d. N(0, s^2 / 3) components has RMS angle s.
        jolt = Rotation.from_rotvec(np.deg2rad(noise.rotation_deg) / np.sqrt(3) * rng.normal(size=aa.shape))
        aa = (jolt * Rotation.from_rotvec(aa)).as_rotvec()
        sigma = np.array([noise.translation_m, noise.translation_m, noise.depth_m])
        return {**gt, "global_orient": aa[0], "body_pose": aa[1:],
                "transl": np.asarray(gt["transl"], np.float64) + sigma * rng.normal(size=3)}

    return noisy


def track_identities(result, detections: dict) -> dict[int, dict[int, int]]:
    """``{track_id: {frame: gt_id}}`` for the detected frames of every track.

    A tracked record keeps its detection's box, so the box finds the detection and its ``gt_id``.
    """
    out: dict[int, dict[int, int]] = {}
    for f, people in result.people.items():
        dets = detections[f]
        for p in people:
            if not p.observed or len(dets) == 0:
                continue
            gap = np.abs(np.asarray(dets.boxes, np.float64) - np.asarray(p.record.bbox, np.float64)).max(1)
            if gap.min() < 1e-2:
                out.setdefault(p.track_id, {})[f] = int(np.asarray(dets.gt_ids).reshape(-1)[gap.argmin()])
    return out


def smpl_joints(body, rotmats, betas) -> np.ndarray:
    """The 24 SMPL joints by forward kinematics alone (no skinning: ~50x faster than ``body(...)``).

    Args:
        body: a :class:`~workbench.body.BodyModel`. rotmats: (T, 24, 3, 3) root then body rotations.
        betas: (T, 10) shape.

    Returns:
        (T, 24, 3) float64 joints relative to the body origin, metres (``body(...).joints[:, :24]``).
    """
    import torch
    from smplx.lbs import batch_rigid_transform

    layer = body.layer
    regressor, template = layer.J_regressor.double(), layer.v_template.double()
    k = np.shape(betas)[1]
    shapedirs = torch.einsum("jv,vck->jck", regressor, layer.shapedirs[..., :k].double())
    rest = regressor @ template + torch.einsum("jck,tk->tjc", shapedirs, torch.as_tensor(betas, dtype=torch.float64))
    posed, _ = batch_rigid_transform(torch.as_tensor(rotmats, dtype=torch.float64), rest, layer.parents,
                                     dtype=torch.float64)
    return posed.numpy()


def _gt_joints(video, person_id: int, frames: np.ndarray, body) -> np.ndarray:
    """(T, 24, 3) true joints of one person in the video camera, metres."""
    from scipy.spatial.transform import Rotation

    k = person_id - 1
    aa = np.concatenate([video.global_orient[frames, k][:, None], video.body_pose[frames, k]], axis=1)
    rotmats = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(len(frames), 24, 3, 3)
    betas = np.repeat(video.betas[k][None], len(frames), 0)
    return smpl_joints(body, rotmats, betas) + video.transl[frames, k][:, None]


def _scores(pred: np.ndarray, gt: np.ndarray, frames: np.ndarray) -> dict:
    """Metrics of one track: pred, gt (T, 24, 3) metres over the same ``frames`` (T,)."""
    pa, ga = pred - pred[:, :1], gt - gt[:, :1]
    return {"accel_err": acceleration_error(pa, ga, frames=frames),
            "accel_err_cam": acceleration_error(pred, gt, frames=frames),
            "jitter": jitter(pa, frames=frames), "mpjpe": mpjpe(pred, gt),
            "root_err_cm": root_error(pred, gt) / 10.0}


def _settings(strengths, methods, causal: bool) -> list[tuple[str, float, SmoothConfig | None]]:
    out: list[tuple[str, float, SmoothConfig | None]] = [("none", 0.0, None)]
    for method in methods:
        for s in strengths:
            out.append((method, s, SmoothConfig(strength=s, method=method)))
    if causal and "one_euro" in methods:
        out += [("one_euro_causal", s, SmoothConfig(strength=s, zero_phase=False)) for s in strengths]
    return out


def _evaluate_video(video, detections, result, engine: str, settings, body) -> list[dict]:
    """Per-track rows (one per setting) of one tracked video."""
    from workbench.tracking.motion import track_motions

    ids = track_identities(result, detections)
    rows = []
    for tid, motion in track_motions(result, min_frames=3).items():
        votes = Counter(g for g in ids.get(tid, {}).values() if g >= 0)
        if not votes:
            continue  # a track of false positives: no person to compare with
        person = votes.most_common(1)[0][0]
        keep = np.array([ids[tid].get(int(f)) == person for f in motion.frames])
        frames = motion.frames[keep]
        gt = _gt_joints(video, person, frames, body)
        for name, strength, config in settings:
            smoothed = motion if config is None else smooth_motion(motion, config)
            pred = smpl_joints(body, smoothed.rotmats[keep], smoothed.betas[keep]) + smoothed.transl[keep][:, None]
            rows.append({"engine": engine, "video": video.config.seed, "track": tid, "person": person,
                         "filter": name, "strength": strength, "frames": int(keep.sum()),
                         **_scores(pred, gt, frames)})
    return rows


def _summarise(per_track: pd.DataFrame) -> pd.DataFrame:
    def weighted(g: pd.DataFrame) -> pd.Series:
        w = g["frames"].to_numpy(float)
        means = {m: float(np.nansum(g[m] * w) / w[g[m].notna()].sum()) for m in METRICS}
        return pd.Series({"tracks": len(g), "frames": int(w.sum()), **means})

    keys = ["engine", "filter", "strength"]
    out = per_track.groupby(keys, sort=False)[["frames", *METRICS]].apply(weighted).reset_index()
    return out.astype({"tracks": int, "frames": int})


def smoothing_benchmark(engines=ENGINES, strengths=STRENGTHS, methods=METHODS, causal: bool = True,
                        noise: PoseNoise | None = None, fast: bool | None = None, progress: bool = True,
                        per_track: bool = False) -> pd.DataFrame:
    """Acceleration error and pose error of tracks before / after smoothing.

    Args:
        engines: any of :data:`ENGINES` ("noisy_gt", "clean_gt", "hmr2").
        strengths: smoothing strengths in (0, 1] for every method (the raw tracks are "none", 0).
        methods: filters from :data:`~workbench.tracking.smoothing.METHODS`.
        causal: also the forward-only One-Euro filter.
        noise: the noisy ground truth's :class:`PoseNoise`.
        fast: the 2 tiny videos of fast mode (default: ``$WORKBENCH_FAST``).
        per_track: return one row per (engine, video, track, filter, strength) instead.

    Returns:
        DataFrame: engine, filter, strength, tracks, frames, accel_err (mm/frame^2, pelvis-aligned),
        accel_err_cam (mm/frame^2, camera), jitter (mm/frame^2), mpjpe (mm, pelvis-aligned),
        root_err_cm (cm, camera).
    """
    from tqdm.auto import tqdm

    from workbench.tracking.benchmark import Method, run_method
    from workbench.tracking.engines import HMR2Engine
    from workbench.tracking.synth_video import benchmark_videos, detections_by_frame, render_video, \
        simulate_detections

    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise ValueError(f"engines must be among {ENGINES}; got {sorted(unknown)}.")
    if any(not 0 < s <= 1 for s in strengths):
        raise ValueError(f"strengths must be in (0, 1]; got {list(strengths)}.")
    noise = noise or PoseNoise()
    settings = _settings(strengths, methods, causal)
    hmr2 = HMR2Engine() if "hmr2" in engines else None
    rows: list[dict] = []
    for cfg in tqdm(benchmark_videos("normal", fast=fast_mode() if fast is None else fast), desc="videos",
                    disable=not progress):
        video = render_video(cfg)
        detections = detections_by_frame(simulate_detections(video), len(video.frames))
        for engine in engines:
            lookup = noisy_lookup(video.smpl_params, noise) if engine == "noisy_gt" else video.smpl_params
            pose_engine = hmr2 if engine == "hmr2" else GroundTruthEngine(lookup, focal=video.focal)
            key = "hmr2" if engine == "hmr2" else "ground_truth"
            result = run_method(video, Method(engine=key), detections, {key: pose_engine})
            result.intrinsics = video.intrinsics
            rows += _evaluate_video(video, detections, result, engine, settings, result.body)
    table = pd.DataFrame(rows)
    return table if per_track else _summarise(table)


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.tracking.smoothing_benchmark [--fast] [--out CSV] [--per-track]``."""
    import argparse
    import time

    from workbench.io import atomic_write_bytes, check_writable_target

    parser = argparse.ArgumentParser(prog="python -m workbench.tracking.smoothing_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="the 2 tiny videos of fast mode")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--strengths", nargs="+", type=float, default=list(STRENGTHS))
    parser.add_argument("--per-track", action="store_true", help="one row per track and setting")
    parser.add_argument("--out", default=None, help="also write the table as CSV here")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.out:
        check_writable_target(args.out, args.overwrite)
    start = time.perf_counter()
    table = smoothing_benchmark(args.engines, args.strengths, fast=args.fast or None, per_track=args.per_track)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        print(table.round(2).to_string(index=False))
    print(f"took {time.perf_counter() - start:.0f} s")
    if args.out:
        atomic_write_bytes(args.out, table.to_csv(index=False).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
