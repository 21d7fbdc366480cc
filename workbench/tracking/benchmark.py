"""The tracking benchmark (paper Tables 3-4 style) on synthetic videos with ground truth.

    >>> from workbench.tracking.benchmark import run_benchmark      # doctest: +SKIP
    >>> table = run_benchmark()                                        # every method on both splits  # doctest: +SKIP

A *method* is a tracker with a pose engine and its cost terms (:class:`Method`). Detections are simulated
from the ground truth (jitter, misses that grow with occlusion, false positives), the same for every
method, so differences come from the tracker. Metrics follow the published PoseTrack protocol
(``workbench.evaluate.tracking_metrics``): HOTA / DetA / AssA through trackeval (mean over videos),
MOTA / IDF1 / ID switches through motmetrics (pooled over videos), boxes of detected people against
the visible ground-truth people.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from workbench.config import fast_mode
from workbench.tracking.engines import GroundTruthEngine, HMR2Engine
from workbench.tracking.iou_baseline import IoUTracker
from workbench.tracking.phalp import PHALPConfig, PHALPTracker
from workbench.tracking.pipeline import TrackingResult, run_tracking
from workbench.tracking.synth_video import SynthVideo, benchmark_videos, detections_by_frame, render_video, \
    simulate_detections

__all__ = ["METHODS", "Method", "ablation_methods", "cost_ablation", "predicted_boxes", "run_benchmark", "run_method"]


@dataclass(frozen=True)
class Method:
    """tracker: "phalp" or "iou"; engine: "hmr2" or "ground_truth"; terms: PHALP cost factors kept."""

    tracker: str = "phalp"
    engine: str = "hmr2"
    terms: str = "APLN"
    pose_predictor: str = "transformer"

    def label(self) -> str:
        if self.tracker == "iou":
            return "2D IoU baseline"
        engine = {"hmr2": "HMR 2.0 (ours)", "ground_truth": "ground-truth poses"}[self.engine]
        extra = "" if self.terms == "APLN" else f", terms {self.terms}"
        return f"PHALP' + {engine}{extra}"


METHODS = (Method(engine="hmr2"), Method(engine="ground_truth"), Method(tracker="iou", engine="ground_truth"))


class _CachedEngine:
    """An engine whose outputs are memoised per frame (several methods track the same video)."""

    def __init__(self, engine):
        self.engine, self.cache = engine, {}
        self.faces, self.body = engine.faces, getattr(engine, "body", None) or engine.model.smpl

    def __call__(self, frame, detections, index):
        if index not in self.cache:
            self.cache[index] = self.engine(frame, detections, index)
        return self.cache[index]


def predicted_boxes(result: TrackingResult) -> pd.DataFrame:
    """``frame, id, x1, y1, x2, y2`` of every *detected* tracked person (what the metrics compare)."""
    rows = [(f, p.track_id, *p.record.bbox) for f, ps in result.people.items() for p in ps if p.observed]
    return pd.DataFrame(rows, columns=["frame", "id", "x1", "y1", "x2", "y2"])


def run_method(video: SynthVideo, method: Method, detections: dict, engines: dict) -> TrackingResult:
    """Track one video with one method. ``engines``: a per-video cache {engine name: cached engine}."""
    if method.engine not in engines:
        engines[method.engine] = _CachedEngine(
            HMR2Engine() if method.engine == "hmr2"
            else GroundTruthEngine(video.smpl_params, focal=video.focal))
    engine = engines[method.engine]
    if method.tracker == "iou":
        tracker, appearance = IoUTracker(), False
    else:
        tracker = PHALPTracker(PHALPConfig(terms=method.terms, pose_predictor=method.pose_predictor))
        appearance = "A" in method.terms
    frames = ((i, f"{i:06d}.png", f) for i, f in enumerate(video.frames))
    return run_tracking(frames, lambda frame, i: detections[i], engine, tracker, appearance=appearance,
                        complete_gaps=False, fps=video.config.fps, source=f"synthetic_{video.config.seed}",
                        progress=False)


def run_benchmark(methods=METHODS, splits=("normal", "occlusion"), fast: bool | None = None,
                  progress: bool = True, per_video: bool = False) -> pd.DataFrame:
    """Every method on every split; one row per (split, method) with HOTA, DetA, AssA, MOTA, IDF1, IDs.

    ``per_video=True`` returns the per-video rows too (column ``video``; "overall" for the summary).
    """
    from tqdm.auto import tqdm

    from workbench.evaluate.tracking_metrics import evaluate_videos

    fast = fast_mode() if fast is None else fast
    rows = []
    for split in splits:
        configs = benchmark_videos(split, fast=fast)
        runs: dict[Method, list] = {m: [] for m in methods}
        for cfg in tqdm(configs, desc=f"{split} videos", disable=not progress):
            video = render_video(cfg)
            detections = detections_by_frame(simulate_detections(video), len(video.frames))
            engines: dict = {}
            gt = video.gt_boxes()
            for m in methods:
                result = run_method(video, m, detections, engines)
                runs[m].append((f"{split}_{cfg.seed}", gt, predicted_boxes(result)))
        for m in methods:
            table = evaluate_videos(runs[m])
            table.insert(0, "method", m.label())
            table.insert(0, "split", split)
            rows.append(table if per_video else table[table.video == "overall"].drop(columns="video"))
    out = pd.concat(rows, ignore_index=True)
    keep = ["split", "method", *(["video"] if per_video else []), "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDs",
            "precision", "recall"]
    return out[[c for c in keep if c in out.columns]]


def ablation_methods(engine: str = "hmr2") -> list[Method]:
    """The full PHALP' cost, then one factor removed at a time (appearance, pose, location, depth)."""
    base = Method(engine=engine)
    return [base] + [replace(base, terms=base.terms.replace(t, "")) for t in "APLN"]


def cost_ablation(engine: str = "hmr2", splits=("normal", "occlusion"), fast: bool | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """The PHALP' cost with one factor removed at a time (:func:`ablation_methods`)."""
    return run_benchmark(ablation_methods(engine), splits, fast=fast, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.tracking.benchmark [--ablation] [--fast] [--out CSV]``: print the table."""
    import argparse

    from workbench.io import atomic_write_bytes, check_writable_target

    parser = argparse.ArgumentParser(prog="python -m workbench.tracking.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--ablation", action="store_true", help="also ablate the cost terms (HMR 2.0 engine)")
    parser.add_argument("--fast", action="store_true", help="the small videos of fast mode")
    parser.add_argument("--out", default=None, help="also write the table as CSV here")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.out:
        check_writable_target(args.out, args.overwrite)
    methods = list(METHODS) + ([m for m in ablation_methods() if m not in METHODS] if args.ablation else [])
    table = run_benchmark(methods, fast=args.fast or None)  # one pass: HMR 2.0 runs once per video
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    if args.out:
        atomic_write_bytes(args.out, table.to_csv(index=False).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
