"""BVH (Biovision hierarchy) of the 24-joint SMPL skeleton: a writer, and a small reader with forward kinematics.

The file Blender's BVH importer expects with its defaults (``axis_up='Y'``, ``axis_forward='-Z'``,
``global_scale=1``): y-up, one unit = one metre (``units="cm"`` writes centimetres for tools that expect
them; import those with scale 0.01). Frame: the y-up frame of :mod:`workbench.export.rig`.

- HIERARCHY: the SMPL joints by name; ROOT ``pelvis`` at OFFSET 0 with channels
  ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, other joints OFFSET = rest offset from
  the parent (the track's shaped rest body) and ``Zrotation Xrotation Yrotation``. Leaf joints get an
  ``End Site`` one parent bone further (cosmetic: it only sets the last bone's length).
- MOTION: one row per frame from the track's first frame to its last, ``Frame Time`` = 1 / fps. The root
  position channels are the pelvis' world position (readers, Blender included, take them in place of
  the OFFSET, which is why it is 0). Rotations are intrinsic Z-X-Y Euler angles in degrees,
  ``R = Rz @ Rx @ Ry``, unwrapped over time so no channel jumps by 360.

A track with gaps between its frames (a person lost for a while, not filled by amodal completion) is
written with the missing frames interpolated (slerp / linear, as the GLB shows them); BVH has one
fixed frame time so it cannot skip them. The manifest lists those frames.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.export.rig import Rig, RigAnimation, fill_gaps

__all__ = ["BvhData", "bvh_forward_kinematics", "bvh_text", "read_bvh", "write_bvh"]

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
_UNIT_SCALE = {"m": 1.0, "cm": 100.0}


def _depth_first(parents: np.ndarray) -> list[int]:
    """Joint indices in the order BVH lists them (depth first, children by index)."""
    order, stack = [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(np.flatnonzero(parents == j).tolist()))
    return order


def bvh_text(rig: Rig, anim: RigAnimation, units: str = "m") -> str:
    """The ``.bvh`` file of ``rig`` animated by ``anim`` (gaps filled), as text. See the module docstring."""
    from scipy.spatial.transform import Rotation

    if units not in _UNIT_SCALE:
        raise ValueError(f"units={units!r}; use 'm' (Blender's default scale) or 'cm'.")
    scale = _UNIT_SCALE[units]
    anim = fill_gaps(anim)
    order = _depth_first(rig.parents)
    offsets = rig.offsets * scale
    offsets[0] = 0.0
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def write_joint(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if depth == 0 else "JOINT"
        channels = ROOT_CHANNELS if depth == 0 else JOINT_CHANNELS
        out.write(f"{pad}{kind} {rig.names[j]}\n{pad}{{\n")
        out.write(f"{pad}  OFFSET {offsets[j, 0]:.6f} {offsets[j, 1]:.6f} {offsets[j, 2]:.6f}\n")
        out.write(f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}\n")
        children = np.flatnonzero(rig.parents == j)
        for c in children:
            write_joint(int(c), depth + 1)
        if len(children) == 0:
            end = offsets[j]
            out.write(f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}\n"
                      f"{pad}  }}\n")
        out.write(f"{pad}}}\n")

    write_joint(0, 0)
    rotations = anim.rotations[:, order].reshape(-1, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: the angles still give the rotation
        euler = Rotation.from_matrix(rotations).as_euler("ZXY", degrees=True)
    euler = np.unwrap(euler.reshape(len(anim.frames), -1), axis=0, period=360.0)
    rows = np.concatenate([anim.root_position * scale, euler], axis=1)
    out.write(f"MOTION\nFrames: {len(rows)}\nFrame Time: {1.0 / anim.fps:.8f}\n")
    np.savetxt(out, rows, fmt="%.6f")
    return out.getvalue()


def write_bvh(path: str | os.PathLike, rig: Rig, anim: RigAnimation, units: str = "m",
              overwrite: bool = False) -> None:
    """Write :func:`bvh_text` to ``path`` atomically; refuses an existing file unless ``overwrite``."""
    from workbench.io import atomic_write_bytes, check_writable_target

    check_writable_target(path, overwrite)
    atomic_write_bytes(path, bvh_text(rig, anim, units=units).encode())


@dataclass
class BvhData:
    """A parsed BVH file, joints in file order.

    Attributes:
        names: J joint names. parents: (J,) int, -1 for the root. offsets: (J, 3) in the file's units.
        channels: per joint, its channel names. motion: (F, C) all channel values per frame.
        frame_time: seconds per frame.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[list[str]]
    motion: np.ndarray
    frame_time: float


def read_bvh(path: str | os.PathLike) -> BvhData:
    """Parse a BVH file (any channel order; End Sites are skipped)."""
    tokens = Path(path).read_text().split()
    names, parents, offsets, channels, stack = [], [], [], [], []
    i, end_site = tokens.index("HIERARCHY") + 1, False
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif tok == "End":
            end_site, i = True, i + 2
        elif tok == "{":
            stack.append(-1 if end_site else len(names) - 1)  # -1 marks the inside of an End Site
            end_site, i = False, i + 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            if stack[-1] != -1:
                offsets.append([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels.append(tokens[i + 2:i + 2 + n])
            i += 2 + n
        else:
            raise ValueError(f"{path}: unexpected token {tok!r} in the BVH hierarchy.")
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array(tokens[i + 6:], dtype=np.float64)
    width = sum(len(c) for c in channels)
    if values.size != n_frames * width:
        raise ValueError(f"{path}: {values.size} motion values, expected {n_frames} frames x {width} channels.")
    return BvhData(names, np.array(parents), np.array(offsets, np.float64), channels,
                   values.reshape(n_frames, width), frame_time)


def bvh_forward_kinematics(data: BvhData) -> np.ndarray:
    """(F, J, 3) world joint positions, in the file's units, joints in file order.

    A joint's local transform: position channels if it has them, else its OFFSET; rotation the product
    of its rotation channels in the order listed (intrinsic).
    """
    from scipy.spatial.transform import Rotation

    n_frames = len(data.motion)
    world_r = np.zeros((n_frames, len(data.names), 3, 3))
    world_t = np.zeros((n_frames, len(data.names), 3))
    col = 0
    for j, chans in enumerate(data.channels):
        position = np.broadcast_to(data.offsets[j], (n_frames, 3)).copy()
        rotation = np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        for name in chans:
            axis = name[0].lower()
            if name.endswith("position"):
                position[:, "xyz".index(axis)] = data.motion[:, col]
            else:
                rotation = rotation @ Rotation.from_euler(axis, data.motion[:, col:col + 1], degrees=True).as_matrix()
            col += 1
        p = data.parents[j]
        if p < 0:
            world_r[:, j], world_t[:, j] = rotation, position
        else:
            world_r[:, j] = world_r[:, p] @ rotation
            world_t[:, j] = world_t[:, p] + np.einsum("fab,fb->fa", world_r[:, p], position)
    return world_t
