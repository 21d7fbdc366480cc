"""Export tracked people to files other tools open: one folder per track.

    >>> export_track(result, track_id=3, out_dir="exports")          # doctest: +SKIP
    exports/track_003/track_003.glb   animated skinned body (Blender: File > Import > glTF)
    exports/track_003/track_003.bvh   24-joint SMPL skeleton (Blender: File > Import > BVH, scale 1)
    exports/track_003/obj/frame_000012.obj, ply/frame_000012.ply, ...   one mesh per frame
    exports/track_003/manifest.json   frames, fps, units, frame convention, camera, files

All files share one frame (see :mod:`workbench.export.rig`): metres, the camera at the origin, x right,
y up, z toward the viewer -- the tracker's camera frame (x right, y down, z forward) with y and z negated.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.export.bvh import write_bvh
from workbench.export.gltf import write_glb
from workbench.export.meshes import frame_mesh_name, write_frame_meshes
from workbench.export.rig import body_rig, camera_to_y_up, fill_gaps, rig_animation

__all__ = ["FORMATS", "TrackExport", "export_track", "export_tracks"]

FORMATS = ("obj", "ply", "glb", "bvh")
FRAME_CONVENTION = ("y-up camera frame (OpenGL): metres, camera at the origin, x right, y up, z toward the viewer "
                    "(the camera looks down -z); negate y and z to get the tracker's camera frame "
                    "(x right, y down, z forward).")


@dataclass
class TrackExport:
    """What :func:`export_track` wrote: ``files`` maps a format to its paths (one per frame for meshes)."""

    track_id: int
    folder: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    manifest: Path | None = None

    @property
    def paths(self) -> list[Path]:
        """Every file written, manifest last."""
        return [p for ps in self.files.values() for p in ps] + ([self.manifest] if self.manifest else [])


def _motion_of(result_or_motion, track_id):
    from workbench.tracking.motion import TrackMotion, track_motion

    if isinstance(result_or_motion, TrackMotion):
        if track_id is not None and int(track_id) != result_or_motion.track_id:
            raise ValueError(f"track_id={track_id} but the motion given is track {result_or_motion.track_id}.")
        return result_or_motion
    if track_id is None:
        raise ValueError("pass track_id when exporting from a tracking result (or pass a TrackMotion).")
    return track_motion(result_or_motion, track_id)


def _check_motion(motion) -> None:
    if len(motion) == 0:
        raise ValueError(f"track {motion.track_id} has no frames; there is nothing to export.")
    if not (np.isfinite(motion.fps) and motion.fps > 0):
        raise ValueError(f"track {motion.track_id} has fps={motion.fps}; exports need a positive frame rate.")
    if np.any(np.diff(motion.frames) <= 0):
        raise ValueError(f"track {motion.track_id}: frames must be strictly increasing.")
    for name in ("global_orient", "body_pose", "betas", "transl"):
        if not np.all(np.isfinite(getattr(motion, name))):
            raise ValueError(f"track {motion.track_id}: {name} contains NaN or inf.")


def _body_of(result_or_motion, body):
    """The body to pose with: the one given, else the result's, else the open body."""
    body = body if body is not None else getattr(result_or_motion, "body", None)
    if body is None:
        from workbench.body.model import BodyModel

        body = BodyModel.open_body()
    return body


def _make_folder(folder: Path) -> None:
    """Create ``folder``, with an error naming it when that or writing into it is not allowed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"cannot create export folder {folder}: {err.strerror}; choose an out_dir you "
                              "can write to.") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"export folder {folder} is not writable; choose an out_dir you can write to.")


def _previous_manifest(manifest: Path, motion, overwrite: bool) -> dict:
    """The manifest an earlier export of the same frames left in this folder (its files stay listed, so
    formats can be exported one call at a time), or {}; refuses a manifest of other frames."""
    if not manifest.exists():
        return {}
    old = json.loads(manifest.read_text())
    if old.get("frames") == motion.frames.tolist():
        return old
    if not overwrite:
        raise FileExistsError(f"{manifest} describes another export (other frames); pass overwrite=True "
                              "(--overwrite) to replace it, or choose another out_dir.")
    return {}


def export_track(result_or_motion, track_id: int | None = None, out_dir: str | os.PathLike = "exports",
                 formats=FORMATS, body=None, overwrite: bool = False, bvh_units: str = "m",
                 influences: int = 4) -> TrackExport:
    """Export one track to ``out_dir/track_<id>/``: per-frame OBJ/PLY, an animated GLB, a BVH, a manifest.

    Args:
        result_or_motion: a :class:`~workbench.tracking.pipeline.TrackingResult` (then ``track_id`` picks
            the track) or a :class:`~workbench.tracking.motion.TrackMotion` (T frames).
        formats: any of ``FORMATS``. body: the body model (default the result's, else the open body).
        overwrite: replace existing files; otherwise nothing is written if any target exists. The manifest
            is rewritten each call, listing the files of earlier calls for the same frames too.
        bvh_units: "m" (Blender's default import scale) or "cm". influences: GLB weights per vertex, 4 or 8.
    Returns:
        :class:`TrackExport` with the paths written.
    Raises:
        KeyError: no such track (lists the ids there are). ValueError: an empty track, an unknown
        format. FileExistsError: a target exists and not ``overwrite``. PermissionError: ``out_dir``
        cannot be written.
    """
    from workbench.io import atomic_write_json, check_writable_target

    motion = _motion_of(result_or_motion, track_id)
    _check_motion(motion)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown export formats {unknown or formats}; choose from {FORMATS}.")
    if bvh_units not in ("m", "cm") or influences not in (4, 8):
        raise ValueError(f"bvh_units={bvh_units!r}, influences={influences}; use 'm' or 'cm', and 4 or 8.")
    body = _body_of(result_or_motion, body)

    stem = f"track_{motion.track_id:03d}"
    folder = Path(out_dir) / stem
    single = {"glb": folder / f"{stem}.glb", "bvh": folder / f"{stem}.bvh"}
    targets = {f: [folder / f / frame_mesh_name(i, f) for i in motion.frames] if f in ("obj", "ply") else [single[f]]
               for f in formats}
    manifest = folder / "manifest.json"
    previous = _previous_manifest(manifest, motion, overwrite)
    for p in [p for ps in targets.values() for p in ps]:
        check_writable_target(p, overwrite)  # all checks before the first write: no half-replaced export
    _make_folder(folder)

    rig = body_rig(body, motion.mean_betas)
    anim = rig_animation(motion, rig)
    out = TrackExport(motion.track_id, folder)
    mesh_formats = [f for f in formats if f in ("obj", "ply")]
    if mesh_formats:
        vertices = camera_to_y_up(motion.posed(body, betas="mean")[0])
        for f in mesh_formats:
            _make_folder(folder / f)
            out.files[f] = write_frame_meshes(vertices, body.faces, motion.frames, folder / f, f, overwrite)
    if "glb" in formats:
        write_glb(single["glb"], rig, anim, name=stem, influences=influences, overwrite=overwrite)
        out.files["glb"] = [single["glb"]]
    if "bvh" in formats:
        write_bvh(single["bvh"], rig, anim, units=bvh_units, overwrite=overwrite)
        out.files["bvh"] = [single["bvh"]]

    k = motion.intrinsics
    filled = fill_gaps(anim)
    sections = {
        "glb": {"time_s": "frame / fps (seconds from the start of the video)", "skin_influences": influences,
                "not_included": ["pose-corrective blendshapes (LBS only)", "per-frame betas (mean shape)"]},
        "bvh": {"units": bvh_units, "first_frame": int(filled.frames[0]), "frame_time_s": 1.0 / motion.fps,
                "interpolated_frames": filled.frames[filled.filled].tolist(),
                "euler": "intrinsic ZXY degrees, R = Rz @ Rx @ Ry"},
        "meshes": "body model vertices (with pose correctives), mean betas, one file per frame of the track",
    }
    written = set(out.files) | ({"meshes"} if mesh_formats else set())
    atomic_write_json(manifest, {
        "track_id": motion.track_id,
        "frames": motion.frames.tolist(),
        "observed": motion.observed.astype(bool).tolist(),
        "fps": motion.fps,
        "units": "metres",
        "frame": FRAME_CONVENTION,
        "camera_intrinsics_px": {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy},
        "body": getattr(body, "name", type(body).__name__),
        "betas_mean": np.round(motion.mean_betas, 6).tolist(),
        **{key: value if key in written else previous[key] for key, value in sections.items()
           if key in written or key in previous},
        "files": {**previous.get("files", {}),
                  **{f: [str(p.relative_to(folder)) for p in ps] for f, ps in out.files.items()}},
    })
    out.manifest = manifest
    return out


def export_tracks(result, out_dir: str | os.PathLike = "exports", formats=FORMATS, body=None,
                  overwrite: bool = False, min_frames: int = 1, **kwargs) -> dict[int, TrackExport]:
    """:func:`export_track` for every track of ``result`` with at least ``min_frames`` frames, by id.

    ``kwargs`` go to :func:`export_track` (``bvh_units``, ``influences``).
    """
    from tqdm.auto import tqdm

    from workbench.tracking.motion import track_motions

    motions = track_motions(result, min_frames=min_frames)
    if not motions:
        raise ValueError(f"the result has no track with at least {min_frames} frames; nothing to export.")
    body = _body_of(result, body)
    return {tid: export_track(m, None, out_dir, formats=formats, body=body, overwrite=overwrite, **kwargs)
            for tid, m in tqdm(motions.items(), desc="export tracks", disable=len(motions) < 3)}
