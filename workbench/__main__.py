"""Command line of the workbench.

    python -m workbench demo  [--image PATH] [--box X1 Y1 X2 Y2] [--out DIR] [--overwrite]
    python -m workbench shards --preset tiny --out DIR --count N       (pre-render SynthHumans crops)
    python -m workbench pretrain --preset tiny --out DIR [--steps N] [--shards DIR] [--overwrite] [--set ...]
    python -m workbench train --preset tiny --out DIR [--steps N] [--shards DIR] [--overwrite] [--set train.lr=1e-4 ...]
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
    sh = sub.add_parser("shards", help="pre-render SynthHumans training crops to disk (resumable)")
    sh.add_argument("--preset", default="tiny", help="config preset whose data settings to use")
    sh.add_argument("--out", required=True, help="shard folder")
    sh.add_argument("--count", type=int, required=True, help="number of crops")
    sh.add_argument("--workers", type=int, default=0, help="rendering processes besides the main one")
    for name, what, folder in (("train", "train HMR 2.0 on SynthHumans", "state.pt, log.csv, best.safetensors"),
                               ("pretrain", "pre-train the ViT on 2D keypoint heat maps (ViTPose step, P2)",
                                "state.pt, log.csv, backbone.safetensors")):
        tr = sub.add_parser(name, help=f"{what} (resumes an existing run folder)")
        tr.add_argument("--preset", default="tiny", help="config preset: tiny or paper")
        tr.add_argument("--out", required=True, help=f"run folder ({folder})")
        tr.add_argument("--steps", type=int, default=None, help="train until this step (default: the preset's)")
        tr.add_argument("--shards", default=None, help="train on crops pre-rendered by `python -m workbench shards` "
                                                       "(augmented on the fly) instead of rendering each step")
        tr.add_argument("--overwrite", action="store_true", help="start over in an existing run folder")
        tr.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override config fields, e.g. train.lr=1e-4 data.num_workers=2 "
                             "train.init_backbone=runs/p2/backbone.safetensors")
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
    elif args.command == "shards":
        from workbench.config import preset
        from workbench.data import SynthHumans, write_shards

        try:
            data = SynthHumans(preset(args.preset).data, split="train", augment=False, num_samples=args.count)
            write_shards(data, args.out, num_workers=args.workers)
        except (KeyError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{args.count} crops in {args.out}")
    elif args.command in ("train", "pretrain"):
        return _run_training(args)
    elif args.command == "track":
        from workbench.tracking.cli import run_track_command

        return run_track_command(args)
    return 0


def _run_training(args: argparse.Namespace) -> int:
    from workbench.config import apply_overrides, preset

    try:
        if args.command == "train":
            from workbench.train import train

            cfg = apply_overrides(preset(args.preset), args.set)
        else:
            from workbench.pretrain import PretrainConfig, pretrain_backbone

            cfg = apply_overrides(PretrainConfig.from_preset(args.preset), args.set)
        train_data = None
        if args.shards:
            from workbench.data import ShardDataset

            train_data = ShardDataset(args.shards, augment=cfg.data, seed=cfg.data.seed)
        if args.command == "train":
            result = train(cfg, args.out, steps=args.steps, overwrite=args.overwrite, device=args.device,
                           train_data=train_data)
            print(f"trained to step {result.step}; best validation: {result.best}")
        else:
            log = pretrain_backbone(cfg, args.out, steps=args.steps, overwrite=args.overwrite, device=args.device,
                                    train_data=train_data)
            val = log[log["kind"] == "val"]
            print(f"pre-trained to step {int(log['step'].max())}; last validation: "
                  f"{val.iloc[-1].dropna().to_dict() if len(val) else 'none'}")
    except (FileExistsError, FileNotFoundError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
