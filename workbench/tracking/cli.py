"""``python -m workbench track``: argparse namespace -> tracking run -> outputs + a printed summary.

Camera options (all in pixels of the first frame; none given: HMR 2.0's default focal
``5000 * max(H, W) / 256``): ``--focal F`` or ``--focal FX FY``, or ``--fov DEG`` (horizontal field of
view), optionally with ``--principal-point CX CY`` (default: the image centre). With a camera, the
ground plane is fitted from the people's feet (skip with ``--no-ground``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.outputs import write_outputs
from workbench.tracking.phalp import PHALPConfig
from workbench.tracking.pipeline import TrackConfig, track_video

__all__ = ["add_track_arguments", "intrinsics_from_args", "main", "run_track"]


def add_track_arguments(tk: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``python -m workbench track`` (added to ``tk``, which is returned)."""
    tk.add_argument("source", help="a video file or a folder of images (sorted by name)")
    tk.add_argument("--out", default=None, help="output folder (default: outputs/track/<video name>)")
    tk.add_argument("--detector", default="hog", help="hog, mediapipe or given (needs --boxes)")
    tk.add_argument("--boxes", default=None, help="JSON file of per-frame boxes, for --detector given")
    tk.add_argument("--checkpoint", default=None,
                    help="HMR 2.0 weights: ours (.safetensors) or the official .ckpt (default: the shipped tiny)")
    tk.add_argument("--pose-predictor", default="transformer", choices=["transformer", "last"])
    tk.add_argument("--no-appearance", action="store_true", help="track without the texel-map appearance term")
    tk.add_argument("--start", type=int, default=0, help="first frame")
    tk.add_argument("--stop", type=int, default=None, help="stop before this frame (default: the whole video)")
    tk.add_argument("--focal", type=float, nargs="+", default=None, metavar="PX",
                    help="the camera's focal length in pixels: F, or FX FY (default: HMR 2.0's 5000*max(H,W)/256)")
    tk.add_argument("--principal-point", type=float, nargs=2, default=None, metavar=("CX", "CY"),
                    help="principal point in pixels (default: the image centre); needs --focal or --fov")
    tk.add_argument("--fov", type=float, default=None, metavar="DEG",
                    help="horizontal field of view in degrees, instead of --focal")
    tk.add_argument("--no-ground", action="store_true", help="do not fit the ground plane from the feet")
    tk.add_argument("--smooth", type=float, default=0.0, metavar="S",
                    help="smooth every track in time, strength 0 (off, default) to 1 (One-Euro, zero phase)")
    tk.add_argument("--export", default=None, metavar="FORMATS",
                    help="also export every track into <out>/exports: comma-separated obj,ply,glb,bvh")
    tk.add_argument("--no-video", action="store_true", help="skip the overlay video")
    tk.add_argument("--no-html", action="store_true", help="skip the 4D HTML viewer")
    tk.add_argument("--device", default=None)
    tk.add_argument("--overwrite", action="store_true", help="replace earlier results in --out")
    return tk


def intrinsics_from_args(focal=None, principal_point=None, fov=None, image_hw=None) -> Intrinsics | None:
    """The camera the command line describes for an (H, W) first frame; None when nothing was given.

    Raises:
        ValueError: both a focal length and a field of view, a principal point alone, or intrinsics
            that cannot belong to the image (:meth:`Intrinsics.validate` says why).
    """
    if focal is not None and fov is not None:
        raise ValueError(f"--focal {' '.join(f'{f:g}' for f in focal)} and --fov {fov:g} both set the focal length; "
                         "give one of them.")
    if focal is None and fov is None:
        if principal_point is not None:
            raise ValueError("--principal-point needs a focal length too (--focal PX or --fov DEG): HMR 2.0's "
                             "default focal is a guess that a measured principal point does not go with.")
        return None
    if focal is not None and len(focal) not in (1, 2):
        raise ValueError(f"--focal takes one number (F) or two (FX FY) in pixels, got {len(focal)}.")
    if fov is not None:
        k = Intrinsics.from_fov(image_hw, fov)
        focal = (k.fx, k.fy)
    return Intrinsics.from_user(focal, principal_point, image_hw).validate(image_hw)


def _first_frame_size(source, start: int, stop: int | None) -> tuple[int, int]:
    from workbench.io import open_frames

    reader = open_frames(source, start, stop).frames()
    first = next(reader, None)
    reader.close()
    if first is None:
        raise ValueError(f"{source} yields no frames between --start {start} and --stop {stop}.")
    return first[2].shape[:2]


def _fit_ground(result):
    """The fitted ground plane, or None with a printed reason (never fails the run)."""
    from workbench.tracking.ground import fit_ground_plane

    if result.intrinsics is None:
        print("ground plane: not fitted - it needs the real camera (--focal or --fov); with HMR 2.0's default "
              "lens the floor comes out tilted by degrees.")
        return None
    try:
        plane = fit_ground_plane(result)
    except ValueError as err:
        print(f"ground plane: not fitted - {err}")
        return None
    print(f"ground plane: camera {plane.camera_height:.2f} m above the floor, pitched {plane.camera_pitch_deg:.1f} "
          f"deg down, roll {plane.camera_roll_deg:.1f} deg ({plane.num_points} feet, "
          f"{100 * plane.inlier_fraction:.0f}% inliers, rms {100 * plane.rms:.1f} cm)")
    return plane


def run_track(args) -> dict[str, Path]:
    """Run the tracker as the command line asked and write its outputs; returns their paths."""
    from workbench.io import open_frames

    source = Path(args.source)
    out = Path(args.out) if args.out else Path("outputs/track") / (source.stem or "frames")
    if (out / "summary.json").exists() and not args.overwrite:  # fail before hours of work, not after
        raise FileExistsError(f"{out} already holds tracking results; pass --overwrite or choose another --out.")
    focal, pp, fov = (getattr(args, k, None) for k in ("focal", "principal_point", "fov"))
    intrinsics = None
    if focal is not None or pp is not None or fov is not None:
        intrinsics = intrinsics_from_args(focal, pp, fov, _first_frame_size(source, args.start, args.stop))
    detector_kwargs = {}
    if args.detector == "given":
        if not args.boxes:
            raise ValueError("--detector given needs --boxes FILE (JSON: {frame index: [[x1, y1, x2, y2, score], ...]}).")
        detector_kwargs["source"] = args.boxes
    engine_kwargs = {"checkpoint": args.checkpoint, "device": args.device}
    cfg = TrackConfig(detector=args.detector, detector_kwargs=detector_kwargs, engine_kwargs=engine_kwargs,
                      tracker=PHALPConfig(pose_predictor=args.pose_predictor), appearance=not args.no_appearance,
                      start=args.start, stop=args.stop, intrinsics=intrinsics)
    smooth = None
    if getattr(args, "smooth", 0.0):
        from workbench.tracking.smoothing import SmoothConfig

        smooth = SmoothConfig(strength=args.smooth)  # checked before the work, like everything above
    formats = None
    if getattr(args, "export", None):
        from workbench.export import FORMATS

        formats = tuple(f.strip().lower() for f in args.export.split(",") if f.strip())
        if not formats or set(formats) - set(FORMATS):
            raise ValueError(f"--export {args.export!r}: give comma-separated formats from {', '.join(FORMATS)}.")
    result = track_video(source, cfg)
    if smooth is not None:
        from workbench.tracking.smoothing import smooth_result

        result = smooth_result(result, smooth)
    plane = None if getattr(args, "no_ground", False) else _fit_ground(result)
    frames = open_frames(source, cfg.start, cfg.stop, cfg.step)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(result, frames.frames(), out, overwrite=args.overwrite, video=not args.no_video,
                          html=not args.no_html, progress=True, plane=plane)
    if formats:
        from workbench.export import export_tracks

        export_tracks(result, out / "exports", formats=formats, overwrite=args.overwrite)
        paths["exports"] = out / "exports"
    print(json.dumps(result.summary(), indent=1))
    for kind, path in paths.items():
        print(f"{kind:>8}: {path}")
    return paths


def run_track_command(args) -> int:
    """:func:`run_track` as a command: bad input prints what was wrong on stderr and returns exit status 2."""
    import sys

    try:
        run_track(args)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.tracking.cli SOURCE [options]``: the ``track`` command on its own (exit 2 on bad input)."""
    args = add_track_arguments(argparse.ArgumentParser(prog="python -m workbench.tracking.cli",
                                                       description=__doc__.splitlines()[0])).parse_args(argv)
    return run_track_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
