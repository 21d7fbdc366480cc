"""A track as one mesh file per frame: Wavefront OBJ and binary PLY, named ``frame_000123.obj``.

Vertices are the body model's own output (pose correctives included, the track's mean shape so the
person does not change size between files), in the y-up frame of :mod:`workbench.export.rig` (the
tracker's camera frame with y and z negated: x right, y up, z toward the viewer), metres -- the frame
the GLB and BVH use, so all of them overlay. Blender's OBJ/PLY importers read it upright with their
default ``forward=-Z, up=Y``. Only the track's own frames are written (no files for gaps).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["MESH_FORMATS", "frame_mesh_bytes", "frame_mesh_name", "write_frame_meshes"]

MESH_FORMATS = ("obj", "ply")


def frame_mesh_name(frame: int, fmt: str) -> str:
    """File name of one frame's mesh, e.g. ``frame_000123.obj``."""
    return f"frame_{int(frame):06d}.{fmt}"


def _require_trimesh():
    try:
        import trimesh
    except ImportError as err:
        raise ImportError("writing .obj/.ply needs trimesh: pip install 'trimesh>=4'") from err
    return trimesh


def frame_mesh_bytes(vertices: np.ndarray, faces: np.ndarray, fmt: str) -> bytes:
    """One mesh as file contents.

    Args:
        vertices: (V, 3) metres. faces: (F, 3) int. fmt: "obj" (text) or "ply" (binary little-endian).
    """
    trimesh = _require_trimesh()
    if fmt not in MESH_FORMATS:
        raise ValueError(f"mesh format {fmt!r}; use one of {MESH_FORMATS}.")
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if fmt == "obj":
        data = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                               include_texture=False, digits=6)
    else:
        data = trimesh.exchange.ply.export_ply(mesh, encoding="binary", vertex_normal=False)
    return data.encode() if isinstance(data, str) else data


def write_frame_meshes(vertices: np.ndarray, faces: np.ndarray, frames: np.ndarray, folder: str | os.PathLike,
                       fmt: str, overwrite: bool = False) -> list[Path]:
    """Write one ``fmt`` file per frame into ``folder`` (which must exist), atomically.

    Args:
        vertices: (T, V, 3) metres, already in the frame wanted. faces: (F, 3). frames: (T,) indices.
    Returns:
        the T paths written. Raises FileExistsError before writing anything if one exists and not
        ``overwrite``.
    """
    from tqdm.auto import tqdm

    from workbench.io import atomic_write_bytes, check_writable_target

    paths = [Path(folder) / frame_mesh_name(f, fmt) for f in frames]
    for p in paths:
        check_writable_target(p, overwrite)
    for p, v in zip(tqdm(paths, desc=f"{fmt} meshes", leave=False, disable=len(paths) < 50), vertices):
        atomic_write_bytes(p, frame_mesh_bytes(v, faces, fmt))
    return paths
