"""Command line: ``python -m workbench demo`` (more commands join as capabilities land).

    python -m workbench demo [--image PATH] [--box X1 Y1 X2 Y2] [--out DIR] [--overwrite]
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
    args = parser.parse_args(argv)

    if args.command == "demo":
        from workbench.demo import run_demo

        try:
            run_demo(args.image, args.box, args.out, overwrite=args.overwrite)
        except (FileNotFoundError, FileExistsError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
