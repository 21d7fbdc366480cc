"""How responsive the explorers are: milliseconds per update against the 200 ms budget, in one run.

    python benchmarks/bench_explorer.py [--repeats 5] [--frames 60]

On the bundled clip (``assets/demo/vtest_excerpt.mp4``, 768x576, HOG boxes, our HMR 2.0), one
person selected, torch on 1 thread (as in a notebook kernel beside a browser on 2 cores):

* PredictionExplorer, a frame seen for the first time (detection + HMR 2.0 + drawing),
* PredictionExplorer, a frame seen before (cached prediction; drawing only), alone and with a
  second engine compared (the fitting engine on the shipped pseudo-label keypoints, cached),
* BodyExplorer (``edit()``), one slider move: body model + 3D mesh + overlay + reprojection error,
* TrackExplorer, one step of the time slider over a tracked clip.

Each row: median and worst of ``--repeats`` updates, and the median as a fraction of the budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.evaluate.pseudo_labels import load_real_photo_labels  # noqa: E402
from workbench.io import open_frames  # noqa: E402
from workbench.tracking import HMR2Engine, TrackConfig, track_video  # noqa: E402
from workbench.detect import DetectConfig, create_detector  # noqa: E402
from workbench.viz.prediction_explorer import PredictionExplorer, labelled_detector, targets_from_labels  # noqa: E402
from workbench.viz.track_explorer import TrackExplorer  # noqa: E402

CLIP = ROOT / "assets" / "demo" / "vtest_excerpt.mp4"
BUDGET_MS = 200.0


def row(name: str, times: list[float]) -> str:
    med = statistics.median(times)
    return f"| {name} | {med:.0f} | {max(times):.0f} | {med / BUDGET_MS:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60, help="clip frames tracked for the TrackExplorer row")
    args = parser.parse_args()
    torch.set_num_threads(1)
    frames = [f for _, _, f in open_frames(CLIP).frames()]
    targets = targets_from_labels(load_real_photo_labels(), "demo/vtest_excerpt.mp4")
    from workbench.fitting import FitEngine

    engines = {"hmr2": HMR2Engine(), "fit": FitEngine()}
    hog = create_detector("hog", config=DetectConfig.hog())
    ex = PredictionExplorer(frames, engines=engines, detector=labelled_detector(targets, hog), targets=targets)
    first, cached, compared, slider, scrub = [], [], [], [], []
    for k in range(args.repeats):
        first.append(ex.select(frame=1 + 7 * k, person=0, compare="(none)"))
    for k in range(args.repeats):
        cached.append(ex.select(frame=1 + 7 * k, person=0))
    ex.select(frame=30, person=0, compare="fit")  # the fit is computed once (not timed)
    for k in range(args.repeats):
        compared.append(ex.select(frame=30, person=k % 2))
    editor = ex.edit()
    for k in range(args.repeats):
        editor.set_joint_rotation("left_knee", [10.0 * (k + 1), 0.0, 0.0])
        slider.append(editor.update())
    start = time.perf_counter()
    result = track_video(CLIP, TrackConfig(stop=args.frames), progress=False)
    track_s = time.perf_counter() - start
    te = TrackExplorer(result, frames)
    for k in range(args.repeats):
        scrub.append(te.select(frame=result.frames[(7 * k + 3) % len(result.frames)].index))
    print(f"explorer latency on {CLIP.name} (768x576), 1 torch thread, {args.repeats} updates each; "
          f"budget {BUDGET_MS:.0f} ms")
    print("| update | median ms | worst ms | median / budget |")
    print("|---|---|---|---|")
    print(row("PredictionExplorer: new frame (HOG + HMR 2.0 + drawing)", first))
    print(row("PredictionExplorer: frame seen before (drawing)", cached))
    print(row("PredictionExplorer: with a second engine compared", compared))
    print(row("BodyExplorer slider (edit the prediction)", slider))
    print(row(f"TrackExplorer: time step ({len(result.track_ids)} tracks)", scrub))
    print(f"(tracking the {args.frames} frames for the TrackExplorer took {track_s:.1f} s, not counted)")


if __name__ == "__main__":
    main()
