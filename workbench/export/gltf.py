"""A track as one animated glTF binary (``.glb``): a skinned body driven by 24 joint rotations.

Layout (what Blender's importer turns into an armature with one action):

- nodes 0..23: the SMPL joints as a tree (node name = SMPL joint name). Rest TRS: identity rotation,
  translation = rest offset from the parent (the root's: its rest position). Each joint's rotation is
  animated; the root's translation too (its world position, ``transl`` + its rest position).
- node 24: the mesh (the track's rest body, mean betas) with a skin over the 24 joints; inverse bind
  matrices = ``translate(-rest_joint)`` since the bind pose has no rotation.
- one animation, sampler times = ``frames / fps`` seconds from the start of the video, LINEAR
  interpolation (slerp for rotations) between frames and over gaps of the track.

Frame: the y-up frame of :mod:`workbench.export.rig` (the tracker's camera frame rotated 180 degrees
about x: x right, y up, z toward the viewer; camera at the origin looking down -z), metres -- glTF's own
convention, so the body stands upright where the camera saw it.

What is lost against the body model: pose-corrective blendshapes (``posedirs``; glTF skins by LBS only;
zero for the open body, up to a few cm at bent elbows and knees for SMPL), per-frame betas (one mean
shape), and with ``influences=4`` the smallest skinning weights (each vertex keeps its 4 largest,
renormalised: up to ~1 cm on the open body in strong poses; ``influences=8`` writes a second
JOINTS_1/WEIGHTS_1 set, exact, which Blender reads but some viewers, e.g. three.js, ignore).
"""

from __future__ import annotations

import os

import numpy as np

from workbench.export.rig import Rig, RigAnimation

__all__ = ["glb_bytes", "top_influences", "write_glb"]

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


def top_influences(weights: np.ndarray, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest weights of each vertex, renormalised to sum to 1 (ties: the lower joint index).

    Args:
        weights: (V, J) skinning weights.
    Returns:
        (joint indices (V, k) int, weights (V, k) float, zero where a vertex has fewer influences).
    """
    index = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(weights, index, axis=1)
    top = top / top.sum(axis=1, keepdims=True)
    return np.where(top > 0, index, 0), top


def _require_pygltflib():
    try:
        import pygltflib
    except ImportError as err:
        raise ImportError("writing .glb needs pygltflib: pip install pygltflib==1.16.5") from err
    return pygltflib


def _continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions with signs flipped so consecutive ones are on the same hemisphere --
    Blender interpolates quaternion f-curves component-wise, so a sign flip would spin the joint."""
    q = q.copy()
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1
    return q


class _Buffer:
    """The binary chunk being built: each array becomes a buffer view and an accessor."""

    def __init__(self, gl):
        self.gl, self.data, self.views, self.accessors = gl, bytearray(), [], []

    def add(self, array: np.ndarray, component: int, target: int | None = None, bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        count, width = array.shape[0], int(np.prod(array.shape[1:], dtype=int))
        self.data += b"\0" * (-len(self.data) % 4)  # accessors must be aligned to their component size
        self.views.append(self.gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes,
                                             target=target))
        self.data += array.tobytes()
        flat = array.reshape(count, width)
        extra = {"min": flat.min(0).tolist(), "max": flat.max(0).tolist()} if bounds else {}
        self.accessors.append(self.gl.Accessor(bufferView=len(self.views) - 1, componentType=component,
                                               count=count, type=_TYPES[width], **extra))
        return len(self.accessors) - 1


def glb_bytes(rig: Rig, anim: RigAnimation, name: str = "track", influences: int = 4) -> bytes:
    """The ``.glb`` file of ``rig`` animated by ``anim`` (T frames), as bytes. See the module docstring."""
    gl = _require_pygltflib()
    if influences not in (4, 8):
        raise ValueError(f"influences={influences}; glTF stores 4 per set: use 4 (every viewer) or 8 (two sets).")
    n_joints = len(rig.parents)
    buf = _Buffer(gl)

    # 1. The mesh in the bind pose and its skinning attributes.
    position = buf.add(rig.rest_vertices.astype(np.float32), _FLOAT, _ARRAY_BUFFER, bounds=True)
    index_type = (np.uint16, _USHORT) if len(rig.rest_vertices) < 65535 else (np.uint32, _UINT)
    indices = buf.add(rig.faces.reshape(-1).astype(index_type[0]), index_type[1], _ELEMENT_ARRAY_BUFFER)
    joints, weights = top_influences(rig.weights, influences)
    attributes = {"POSITION": position}
    for s in range(influences // 4):
        attributes[f"JOINTS_{s}"] = buf.add(joints[:, 4 * s:4 * s + 4].astype(np.uint8), _UBYTE, _ARRAY_BUFFER)
        attributes[f"WEIGHTS_{s}"] = buf.add(weights[:, 4 * s:4 * s + 4].astype(np.float32), _FLOAT, _ARRAY_BUFFER)

    # 2. Inverse bind matrices, column-major as glTF stores MAT4.
    ibm = np.tile(np.eye(4, dtype=np.float32), (n_joints, 1, 1))
    ibm[:, :3, 3] = -rig.rest_joints
    ibm_accessor = buf.add(ibm.transpose(0, 2, 1).reshape(n_joints, 16), _FLOAT)

    # 3. The animation: one shared time axis, a rotation sampler per joint, the root's translation.
    from scipy.spatial.transform import Rotation

    times = buf.add(anim.times.astype(np.float32)[:, None], _FLOAT, bounds=True)
    quats = Rotation.from_matrix(anim.rotations.reshape(-1, 3, 3)).as_quat()  # x, y, z, w: glTF's order
    quats = _continuous_quaternions(quats.reshape(len(anim.frames), n_joints, 4)).astype(np.float32)
    samplers, channels = [], []
    for j in range(n_joints):
        samplers.append(gl.AnimationSampler(input=times, output=buf.add(quats[:, j], _FLOAT), interpolation="LINEAR"))
        channels.append(gl.AnimationChannel(sampler=j, target=gl.AnimationChannelTarget(node=j, path="rotation")))
    root = buf.add(anim.root_position.astype(np.float32), _FLOAT)
    samplers.append(gl.AnimationSampler(input=times, output=root, interpolation="LINEAR"))
    channels.append(gl.AnimationChannel(sampler=n_joints, target=gl.AnimationChannelTarget(node=0, path="translation")))

    # 4. The node tree and the document.
    offsets = rig.offsets
    nodes = [gl.Node(name=rig.names[j], translation=offsets[j].tolist(), rotation=[0.0, 0.0, 0.0, 1.0],
                     children=[int(c) for c in np.flatnonzero(rig.parents == j)]) for j in range(n_joints)]
    nodes.append(gl.Node(name=name, mesh=0, skin=0))
    primitive = gl.Primitive(attributes=gl.Attributes(**attributes), indices=indices, mode=4)
    gltf = gl.GLTF2(
        asset=gl.Asset(generator="workbench.export", version="2.0"),
        scene=0, scenes=[gl.Scene(name=name, nodes=[0, n_joints])], nodes=nodes,
        meshes=[gl.Mesh(name=name, primitives=[primitive])],
        skins=[gl.Skin(name=f"{name}_skeleton", joints=list(range(n_joints)), inverseBindMatrices=ibm_accessor,
                       skeleton=0)],
        animations=[gl.Animation(name=name, samplers=samplers, channels=channels)],
        accessors=buf.accessors, bufferViews=buf.views, buffers=[gl.Buffer(byteLength=len(buf.data))],
    )
    gltf.set_binary_blob(bytes(buf.data))
    return b"".join(gltf.save_to_bytes())


def write_glb(path: str | os.PathLike, rig: Rig, anim: RigAnimation, name: str = "track", influences: int = 4,
              overwrite: bool = False) -> None:
    """Write :func:`glb_bytes` to ``path`` atomically; refuses an existing file unless ``overwrite``."""
    from workbench.io import atomic_write_bytes, check_writable_target

    check_writable_target(path, overwrite)
    atomic_write_bytes(path, glb_bytes(rig, anim, name=name, influences=influences))
