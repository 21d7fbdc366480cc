"""``python -m workbench track``: argparse namespace -> tracking run -> outputs + a printed summary."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.tracking.outputs import write_outputs
from workbench.tracking.phalp import PHALPConfig
from workbench.tracking.pipeline import TrackConfig, track_video


def run_track(args) -> dict[str, Path]:
    """Run the tracker as the command line asked and write its outputs; returns their paths."""
    from workbench.io import open_frames

    source = Path(args.source)
    out = Path(args.out) if args.out else Path("outputs/track") / (source.stem or "frames")
    if (out / "summary.json").exists() and not args.overwrite:  # fail before hours of work, not after
        raise FileExistsError(f"{out} already holds tracking results; pass --overwrite or choose another --out.")
    detector_kwargs = {}
    if args.detector == "given":
        if not args.boxes:
            raise ValueError("--detector given needs --boxes FILE (JSON: {frame index: [[x1, y1, x2, y2, score], ...]}).")
        detector_kwargs["source"] = args.boxes
    engine_kwargs = {"checkpoint": args.checkpoint, "device": args.device}
    cfg = TrackConfig(detector=args.detector, detector_kwargs=detector_kwargs, engine_kwargs=engine_kwargs,
                      tracker=PHALPConfig(pose_predictor=args.pose_predictor), appearance=not args.no_appearance,
                      start=args.start, stop=args.stop)
    result = track_video(source, cfg)
    frames = open_frames(source, cfg.start, cfg.stop, cfg.step)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(result, frames.frames(), out, overwrite=args.overwrite, video=not args.no_video,
                          html=not args.no_html, progress=True)
    print(json.dumps(result.summary(), indent=1))
    for kind, path in paths.items():
        print(f"{kind:>8}: {path}")
    return paths
