"""Command line of the workbench.

    python -m workbench demo  [--image PATH] [--box X1 Y1 X2 Y2] [--out DIR] [--overwrite]
    python -m workbench train --preset tiny --out DIR [--steps N] [--overwrite] [--set train.lr=1e-4 ...]
    python -m workbench track VIDEO|FOLDER [--out DIR] [--detector hog] [--checkpoint PATH]
                              [--focal PX | --fov DEG] [--principal-point CX CY] [--smooth S]
                              [--export obj,ply,glb,bvh] [--overwrite]   (all options: track --help)
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="render the open body over a photo (PNG + interactive HTML)")
    demo.add_argument("--image", default=None, help="photo to use (default: a shipped OpenCV sample)")
    demo.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"), default=None,
                      help="person box in pixels (default: the shipped box for the sample photo)")
    demo.add_argument("--out", default="outputs/demo", help="output folder")
    demo.add_argument("--overwrite", action="store_true", help="replace earlier results in --out")
    tr = sub.add_parser("train", help="train HMR 2.0 on SynthHumans (resumes an existing run folder)")
    tr.add_argument("--preset", default="tiny", help="config preset: tiny or paper")
    tr.add_argument("--out", required=True, help="run folder (state.pt, log.csv, best.safetensors)")
    tr.add_argument("--steps", type=int, default=None, help="train until this step (default: the preset's)")
    tr.add_argument("--overwrite", action="store_true", help="start over in an existing run folder")
    tr.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override config fields, e.g. train.lr=1e-4 model.head.depth=2 data.num_workers=2")
    tr.add_argument("--device", default=None)
    from workbench.tracking.cli import add_track_arguments

    add_track_arguments(sub.add_parser("track", help="detect, lift to 3D and track every person of a video "
                                                     "(4DHumans)"))
    args = parser.parse_args(argv)

    if args.command == "demo":
        from workbench.demo import run_demo

        try:
            run_demo(args.image, args.box, args.out, overwrite=args.overwrite)
        except (FileNotFoundError, FileExistsError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    elif args.command == "train":
        from workbench.config import apply_overrides, preset
        from workbench.train import train

        try:
            cfg = apply_overrides(preset(args.preset), args.set)
            result = train(cfg, args.out, steps=args.steps, overwrite=args.overwrite, device=args.device)
        except (FileExistsError, KeyError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"trained to step {result.step}; best validation: {result.best}")
    elif args.command == "track":
        from workbench.tracking.cli import run_track_command

        return run_track_command(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
