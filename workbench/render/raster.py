"""A small z-buffer rasteriser for one body mesh: the fast path behind the synthetic crops.

Why not :func:`workbench.render.render`: at 256x256 a body's triangles cover one or two pixels
each, so looping over the 27k triangles (one warp thread each, a handful of pixel tests) is
several times cheaper than casting 65k rays through a BVH, and it returns what the shader needs
(face id and an interpolated vertex normal per pixel) in one go. The ray caster stays the slow,
obviously-correct reference; ``tests/test_synth.py`` checks that both see the same faces.

Camera convention (the same as :mod:`workbench.render.raycast`): metres, camera frame x right,
y down, z forward, camera at the origin; pinhole ``u = fx X / Z + cx``; the pixel in row ``i``,
column ``j`` is covered when its centre ``(j + 0.5, i + 0.5)`` lies inside a projected triangle.
Depth is interpolated perspective-correctly (linear in 1/z).

Two backends compute the same thing with the same arithmetic: NVIDIA warp (the default, a declared
dependency) and numba (``pip install numba``), for machines where warp-lang's ~400 MB cannot be
installed, e.g. a slim GPU image that renders training crops in its DataLoader workers. Choose with
``backend=`` or the ``WORKBENCH_RASTER`` environment variable (``warp``, ``numba``); ``auto`` takes
warp when it imports, else numba.
"""


import functools
import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from workbench.render.warp_runtime import get_warp

BACKENDS = ("warp", "numba")

_PER_THREAD = 64  # triangles per warp thread: ~25 % faster than one each (measured)


@dataclass
class Raster:
    """Per-pixel output of :func:`rasterize`, all maps (H, W).

    Attributes:
        depth: float32 z in metres; +inf where empty.
        face_id: int32 index of the visible triangle; -1 where empty.
        normal: (H, W, 3) float32 unit vertex normal interpolated at the pixel (camera frame,
            pointing out of the surface for counter-clockwise faces); 0 where empty.
        mask: bool silhouette (``face_id >= 0``).
    """

    depth: np.ndarray
    face_id: np.ndarray
    normal: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.face_id >= 0


@functools.cache
def _kernels():
    """Compile (first use on a machine, ~3 s) or load the three kernels."""
    wp = get_warp()
    wp.set_module_options({"enable_backward": False})

    @wp.kernel
    def vertex_normals(points: wp.array(dtype=wp.vec3), tris: wp.array(dtype=wp.int32), num_faces: int,
                       per_thread: int, normals: wp.array(dtype=wp.vec3)):
        # Area-weighted: the unnormalised cross product of each face, added to its three vertices.
        # Plain read-add-write is race-free: warp runs a CPU launch serially on the calling thread.
        t = wp.tid()
        for f in range(t * per_thread, wp.min(t * per_thread + per_thread, num_faces)):
            i = tris[3 * f]
            j = tris[3 * f + 1]
            k = tris[3 * f + 2]
            n = wp.cross(points[j] - points[i], points[k] - points[i])
            normals[i] = normals[i] + n
            normals[j] = normals[j] + n
            normals[k] = normals[k] + n

    @wp.func
    def edge(p0: wp.vec3, p1: wp.vec3, x: float, y: float):
        return (p1[0] - p0[0]) * (y - p0[1]) - (p1[1] - p0[1]) * (x - p0[0])

    @wp.func
    def raster_triangle(f: int, uvz: wp.array(dtype=wp.vec3), tris: wp.array(dtype=wp.int32),
                        normals: wp.array(dtype=wp.vec3), height: int, width: int, cull_back: int,
                        zbuf: wp.array2d(dtype=wp.float32), face_id: wp.array2d(dtype=wp.int32),
                        normal_map: wp.array2d(dtype=wp.vec3)):
        # Test the pixel centres of the triangle's bounding box and keep the nearest surface.
        ia = tris[3 * f]
        ib = tris[3 * f + 1]
        ic = tris[3 * f + 2]
        a = uvz[ia]
        b = uvz[ib]
        c = uvz[ic]
        area = edge(a, b, c[0], c[1])
        # With y down, a counter-clockwise (outward-facing) triangle has negative signed area.
        if wp.min(wp.min(a[2], b[2]), c[2]) < 1.0e-3 or wp.abs(area) < 1.0e-12 or (cull_back != 0 and area > 0.0):
            return 0
        j0 = wp.max(int(wp.ceil(wp.min(wp.min(a[0], b[0]), c[0]) - 0.5)), 0)
        j1 = wp.min(int(wp.floor(wp.max(wp.max(a[0], b[0]), c[0]) - 0.5)), width - 1)
        i0 = wp.max(int(wp.ceil(wp.min(wp.min(a[1], b[1]), c[1]) - 0.5)), 0)
        i1 = wp.min(int(wp.floor(wp.max(wp.max(a[1], b[1]), c[1]) - 0.5)), height - 1)
        for i in range(i0, i1 + 1):
            y = float(i) + 0.5
            for j in range(j0, j1 + 1):
                x = float(j) + 0.5
                wa = edge(b, c, x, y) / area
                wb = edge(c, a, x, y) / area
                wc = 1.0 - wa - wb
                if wa >= 0.0 and wb >= 0.0 and wc >= 0.0:
                    # Perspective-correct: 1/z and attribute/z are linear in screen space.
                    inv_z = wa / a[2] + wb / b[2] + wc / c[2]
                    z = 1.0 / inv_z
                    if z < zbuf[i, j]:
                        zbuf[i, j] = z
                        face_id[i, j] = f
                        n = (wa / a[2]) * normals[ia] + (wb / b[2]) * normals[ib] + (wc / c[2]) * normals[ic]
                        normal_map[i, j] = wp.normalize(n)
        return 1

    @wp.kernel
    def raster_pass(uvz: wp.array(dtype=wp.vec3), tris: wp.array(dtype=wp.int32),
                    normals: wp.array(dtype=wp.vec3), num_faces: int, per_thread: int, height: int, width: int,
                    cull_back: int, zbuf: wp.array2d(dtype=wp.float32), face_id: wp.array2d(dtype=wp.int32),
                    normal_map: wp.array2d(dtype=wp.vec3)):
        # A run of triangles per thread (fewer thread launches). The read-compare-write on the
        # buffers is race-free because warp runs a CPU launch serially over thread ids on the
        # calling thread; this kernel is CPU-only by design (on a GPU it would need atomics).
        t = wp.tid()
        for f in range(t * per_thread, wp.min(t * per_thread + per_thread, num_faces)):
            raster_triangle(f, uvz, tris, normals, height, width, cull_back, zbuf, face_id, normal_map)

    return vertex_normals, raster_pass


@functools.cache
def _numba_kernel():
    """The warp kernels' loops as one numba function (compiled on first use, cached on disk)."""
    try:
        import numba
    except ImportError as e:
        raise ImportError("the numba rasteriser backend needs numba: pip install numba "
                          "(or use backend='warp')") from e

    def raster_numba(points, tris, uvz, cull_back, zbuf, face_id, normal_map):  # pragma: no cover - compiled
        num_faces = tris.shape[0]
        height, width = zbuf.shape
        normals = np.zeros_like(points)
        for f in range(num_faces):
            i, j, k = tris[f, 0], tris[f, 1], tris[f, 2]
            e1x, e1y, e1z = points[j, 0] - points[i, 0], points[j, 1] - points[i, 1], points[j, 2] - points[i, 2]
            e2x, e2y, e2z = points[k, 0] - points[i, 0], points[k, 1] - points[i, 1], points[k, 2] - points[i, 2]
            nx, ny, nz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
            for v in (i, j, k):
                normals[v, 0] += nx
                normals[v, 1] += ny
                normals[v, 2] += nz
        for f in range(num_faces):
            ia, ib, ic = tris[f, 0], tris[f, 1], tris[f, 2]
            ax, ay, az = uvz[ia, 0], uvz[ia, 1], uvz[ia, 2]
            bx, by, bz = uvz[ib, 0], uvz[ib, 1], uvz[ib, 2]
            cx, cy, cz = uvz[ic, 0], uvz[ic, 1], uvz[ic, 2]
            area = np.float32((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))
            if min(az, bz, cz) < 1.0e-3 or abs(area) < 1.0e-12 or (cull_back and area > 0.0):
                continue
            j0 = max(int(np.ceil(min(ax, bx, cx) - np.float32(0.5))), 0)
            j1 = min(int(np.floor(max(ax, bx, cx) - np.float32(0.5))), width - 1)
            i0 = max(int(np.ceil(min(ay, by, cy) - np.float32(0.5))), 0)
            i1 = min(int(np.floor(max(ay, by, cy) - np.float32(0.5))), height - 1)
            for r in range(i0, i1 + 1):
                y = np.float32(r) + np.float32(0.5)
                for c in range(j0, j1 + 1):
                    x = np.float32(c) + np.float32(0.5)
                    wa = np.float32((cx - bx) * (y - by) - (cy - by) * (x - bx)) / area
                    wb = np.float32((ax - cx) * (y - cy) - (ay - cy) * (x - cx)) / area
                    wc = np.float32(1.0) - wa - wb
                    if wa >= 0.0 and wb >= 0.0 and wc >= 0.0:
                        ka, kb, kc = wa / az, wb / bz, wc / cz
                        z = np.float32(1.0) / (ka + kb + kc)
                        if z < zbuf[r, c]:
                            zbuf[r, c] = z
                            face_id[r, c] = f
                            nx = ka * normals[ia, 0] + kb * normals[ib, 0] + kc * normals[ic, 0]
                            ny = ka * normals[ia, 1] + kb * normals[ib, 1] + kc * normals[ic, 1]
                            nz = ka * normals[ia, 2] + kb * normals[ib, 2] + kc * normals[ic, 2]
                            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
                            if norm > 0.0:
                                normal_map[r, c, 0] = nx / norm
                                normal_map[r, c, 1] = ny / norm
                                normal_map[r, c, 2] = nz / norm

    try:  # the on-disk cache saves ~2 s per process; it needs a writable __pycache__ or NUMBA_CACHE_DIR
        return numba.njit(cache=True, nogil=True)(raster_numba)
    except RuntimeError:
        return numba.njit(nogil=True)(raster_numba)


def resolve_backend(backend: str | None = None) -> str:
    """``backend`` (or ``$WORKBENCH_RASTER``, default ``auto``) as ``warp`` or ``numba``."""
    choice = (backend or os.environ.get("WORKBENCH_RASTER") or "auto").lower()
    if choice == "auto":
        if importlib.util.find_spec("warp") is not None:
            return "warp"
        if importlib.util.find_spec("numba") is not None:
            return "numba"
        raise ImportError("rasterize needs NVIDIA warp (pip install warp-lang) or numba (pip install numba).")
    if choice not in BACKENDS:
        raise ValueError(f"unknown rasteriser backend {choice!r}; choose one of {BACKENDS} or 'auto' "
                         "(argument backend= or environment variable WORKBENCH_RASTER).")
    return choice


def rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    image_size: tuple[int, int],
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    cull_back: bool = False,
    backend: str | None = None,
) -> Raster:
    """Rasterise one triangle mesh seen by a pinhole camera at the origin (no culling of back faces).

    Args:
        vertices: (V, 3) float camera-frame positions, metres, all with z > 0.
        faces: (F, 3) int triangle indices.
        image_size: (H, W) pixels.
        focal: pixels, scalar or (fx, fy).
        principal_point: (cx, cy) pixels; None = image centre.
        cull_back: skip triangles facing away from the camera (counter-clockwise = outward
            winding). Halves the work on a closed, consistently wound mesh such as the body.
        backend: ``warp``, ``numba`` or ``auto``; None reads ``$WORKBENCH_RASTER`` (default ``auto``).

    Returns:
        :class:`Raster` with (H, W) maps. Runs on the calling thread (one core).
    """
    backend = resolve_backend(backend)
    H, W = (int(s) for s in image_size)
    fx, fy = (float(focal), float(focal)) if np.ndim(focal) == 0 else (float(focal[0]), float(focal[1]))
    cx, cy = (W / 2.0, H / 2.0) if principal_point is None else (float(principal_point[0]), float(principal_point[1]))
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    tris = np.ascontiguousarray(faces, dtype=np.int32).ravel()
    num_faces = len(tris) // 3
    # 1. Project once: (u, v) in pixels and the camera z of every vertex.
    z = v[:, 2]
    uvz = np.stack([fx * v[:, 0] / z + cx, fy * v[:, 1] / z + cy, z], axis=1).astype(np.float32)
    depth = np.full((H, W), np.inf, np.float32)
    face_id = np.full((H, W), -1, np.int32)
    normal = np.zeros((H, W, 3), np.float32)
    if backend == "numba":
        _numba_kernel()(v, tris.reshape(-1, 3), uvz, bool(cull_back), depth, face_id, normal)
        return Raster(depth=depth, face_id=face_id, normal=normal)
    wp = get_warp()
    vertex_normals, raster_pass = _kernels()
    wp_points = wp.array(v, dtype=wp.vec3, device="cpu")
    wp_tris = wp.array(tris, dtype=wp.int32, device="cpu")
    wp_uvz = wp.array(uvz, dtype=wp.vec3, device="cpu")
    wp_normals = wp.zeros(len(v), dtype=wp.vec3, device="cpu")
    wp_depth = wp.array(depth, dtype=wp.float32, device="cpu", copy=False)
    wp_face = wp.array(face_id, dtype=wp.int32, device="cpu", copy=False)
    wp_normal = wp.array(normal, dtype=wp.vec3, device="cpu", copy=False)
    # 2. Smooth vertex normals, 3. nearest face per pixel with its interpolated normal.
    threads = (num_faces + _PER_THREAD - 1) // _PER_THREAD
    wp.launch(vertex_normals, dim=threads, inputs=[wp_points, wp_tris, num_faces, _PER_THREAD, wp_normals],
              device="cpu")
    wp.launch(raster_pass, dim=threads, inputs=[wp_uvz, wp_tris, wp_normals, num_faces, _PER_THREAD, H, W,
                                                int(cull_back), wp_depth, wp_face, wp_normal], device="cpu")
    return Raster(depth=depth, face_id=face_id, normal=normal)


def rasterize_people(
    vertices: np.ndarray | list[np.ndarray],
    faces: np.ndarray,
    image_size: tuple[int, int],
    focal: float | tuple[float, float],
    principal_point: tuple[float, float] | None = None,
    cull_back: bool = True,
    backend: str | None = None,
) -> Raster:
    """Rasterise several meshes of one topology together, so that they occlude each other.

    Args:
        vertices: (N, V, 3) float camera-frame positions in metres (or N arrays of (V, 3)), z > 0.
        faces: (F, 3) int triangle indices of one mesh.
        image_size, focal, principal_point, backend: as :func:`rasterize`.
        cull_back: default True: bodies are closed and wound outwards (see :func:`rasterize`).

    Returns:
        :class:`Raster` whose ``face_id`` is person-major: mesh ``face_id // F``, its triangle
        ``face_id % F`` (-1 where empty).
    """
    v = np.asarray(vertices, dtype=np.float32)
    if v.ndim != 3 or v.shape[-1] != 3:
        raise ValueError(f"vertices must be (N, V, 3) for N meshes of one topology, got shape {v.shape}.")
    f = np.asarray(faces)
    offsets = (np.arange(len(v)) * v.shape[1])[:, None, None]
    return rasterize(v.reshape(-1, 3), (f[None] + offsets).reshape(-1, 3), image_size, focal, principal_point,
                     cull_back=cull_back, backend=backend)
