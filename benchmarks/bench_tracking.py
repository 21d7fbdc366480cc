"""Time the 4DHumans tracker, in one run: the tracker alone at 1/5/10/20 people, then the whole pipeline.

    python benchmarks/bench_tracking.py [--frames 60] [--clip-frames 100]

1. Tracker per frame, networks excluded: N people walking (records from the open body in random
   poses, a random texel map each), ``PHALPTracker.step`` per frame = vectorised PHALP cost (with the
   texel appearance distance) + Hungarian + lifecycle + appearance blending + ridge location
   prediction, with the last-pose predictor; then the same with the masked pose transformer (a
   network, shown separately). Texture sampling (depth render + sampling of N people at 768x576) is
   the per-frame appearance cost, also shown separately.
2. End to end on the bundled clip (``assets/demo/vtest_excerpt.mp4``, 768x576, HOG + HMR 2.0 tiny +
   appearance + PHALP'): frames per second and where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.body import BodyModel  # noqa: E402
from workbench.tracking import (  # noqa: E402
    PHALPConfig,
    PHALPTracker,
    TexelMap,
    frame_camera,
    records_from_smpl,
    sample_texel_maps,
    texel_atlas,
)

H, W = 576, 768
PEOPLE = (1, 5, 10, 20)


def walkers(n: int, frames: int, body: BodyModel, seed: int = 0):
    """Per frame: records of n people spread over the frame, walking; plus their vertices (frame 0)."""
    rng = np.random.default_rng(seed)
    focal, pp = frame_camera((H, W))
    x0 = rng.uniform(-0.4, 0.4, n) * 60.0  # metres at ~200 m depth (HMR 2.0's long lens)
    z = rng.uniform(150, 260, n)
    vx = rng.normal(0, 0.3, n)
    with torch.no_grad():
        out = body(global_orient=torch.tensor([[np.pi, 0, 0]] * n, dtype=torch.float32),
                   body_pose=torch.as_tensor(rng.normal(0, 0.1, (n, 69)), dtype=torch.float32),
                   betas=torch.as_tensor(rng.normal(size=(n, 10)), dtype=torch.float32))
    per_frame = []
    M = texel_atlas(body).num_texels
    appe = [TexelMap(rng.random((M, 3), dtype=np.float32), rng.random(M) < 0.6) for _ in range(n)]
    for f in range(frames):
        cam = np.stack([x0 + vx * f, np.full(n, 8.0), z], 1)
        uv = focal * cam[:, :2] / cam[:, 2:] + pp
        half = np.stack([focal * 0.35 / z, focal * 0.9 / z], 1)
        boxes = np.concatenate([uv - half, uv + half], 1)
        smpl = {"global_orient": out.rotmats[:, :1], "body_pose": out.rotmats[:, 1:], "betas": np.zeros((n, 10))}
        recs = records_from_smpl(smpl, cam, out.keypoints, boxes, np.full(n, 0.9), (H, W), f, appearance=appe)
        per_frame.append(recs)
    verts = out.vertices.numpy() + np.stack([x0, np.full(n, 8.0), z], 1)[:, None].astype(np.float32)
    return per_frame, verts


def time_tracker(per_frame, predictor: str) -> float:
    """Median ms per frame of PHALPTracker.step over the frames (after the tracks are confirmed)."""
    tracker = PHALPTracker(PHALPConfig(pose_predictor=predictor))
    times = []
    for f, recs in enumerate(per_frame):
        t0 = time.perf_counter()
        tracker.step(f, recs)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[5:])


def time_sampling(verts, body, repeats: int = 5) -> float:
    focal, pp = frame_camera((H, W))
    frame = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    atlas = texel_atlas(body)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sample_texel_maps(frame, verts, body.faces, focal, pp, atlas)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per tracker timing")
    parser.add_argument("--clip-frames", type=int, default=100, help="frames of the demo clip (0 = skip)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    body = BodyModel.open_body()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; frame {W}x{H}; {args.frames} frames\n")
    print("1. Tracker per frame (ms), networks excluded except where named")
    print(f"{'people':>6} | {'tracker (last pose)':>19} | {'+ pose transformer':>18} | {'texture sampling':>16} | "
          f"{'tracker ms/person':>17}")
    base = None
    for n in PEOPLE:
        per_frame, verts = walkers(n, args.frames, body)
        t_last = time_tracker(per_frame, "last")
        t_tr = time_tracker(per_frame, "transformer")
        t_s = time_sampling(verts, body)
        base = base or t_last
        print(f"{n:>6} | {t_last:>19.2f} | {t_tr:>18.2f} | {t_s:>16.1f} | {t_last / n:>17.3f}")
    if args.clip_frames:
        from workbench.assets import asset_path
        from workbench.tracking import TrackConfig, track_video

        print(f"\n2. End to end on {args.clip_frames} frames of the demo clip (HOG + HMR 2.0 tiny + appearance + PHALP')")
        result = track_video(asset_path("demo/vtest_excerpt.mp4"), TrackConfig(stop=args.clip_frames), progress=False)
        s = result.summary()
        total = s["total_s"]
        print(f"{s['frames']} frames, {s['detections']} detections, {s['tracks']} tracks: {s['fps']:.2f} fps "
              f"({1e3 * total / s['frames']:.0f} ms/frame)")
        for k in ("detect_s", "engine_s", "appearance_s", "tracker_s", "completion_s"):
            print(f"  {k[:-2]:>10}: {1e3 * s[k] / s['frames']:7.1f} ms/frame  ({100 * s[k] / total:4.1f} %)")


if __name__ == "__main__":
    main()
