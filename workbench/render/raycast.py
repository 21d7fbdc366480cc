"""Warp ray-casting backend: one camera ray per pixel against per-mesh BVHs, on the CPU.

Why ray casting and not rasterisation: with pip-only dependencies and no GPU, NVIDIA warp's
BVH ray queries are the fastest renderer we measured for a 13.7k-vertex body on 2 cores (see
``shared/ENVIRONMENT_NOTES.md``, "Rendering"), and they give depth, face ids and barycentrics for
free. warp is imported lazily, so ``import workbench.render`` stays cheap and silent.

Camera convention (used by every function here): metres; camera frame x right, y down, z forward;
camera at the origin; pinhole ``u = fx * X / Z + cx``, ``v = fy * Y / Z + cy`` in pixels, where the
pixel in row ``i``, column ``j`` covers ``[j, j+1) x [i, i+1)`` and its ray passes through its centre
``(j + 0.5, i + 0.5)``. With this convention the default principal point ``(W/2, H/2)`` is exactly
the image centre, as in pyrender's ``IntrinsicsCamera`` used by HMR 2.0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from workbench.render.bvh_cache import MESH_CACHE
from workbench.render.warp_runtime import cpu_count, get_warp, launch_parallel


@dataclass
class RayHits:
    """Raw per-pixel result of :func:`cast_rays` (no colour yet).

    Attributes:
        depth: (H, W) float32, z of the nearest hit in metres (distance along the optical axis,
            not along the ray); +inf where the ray hits nothing.
        mesh_id: (H, W) int16, index of the hit mesh in the input list; -1 where empty.
        face_id: (H, W) int32, index of the hit triangle within that mesh; -1 where empty.
        cosine: (H, W) float32 in [0, 1], |cos| of the angle between the smoothly interpolated
            vertex normal and the viewing ray (a head light's Lambert term); 0 where empty.
    """

    depth: np.ndarray
    mesh_id: np.ndarray
    face_id: np.ndarray
    cosine: np.ndarray


@functools.cache
def _kernels():
    """Define the two kernels; the first launch on a machine compiles them (~2-3 s), later ones
    load them from ~/.cache/warp."""
    wp = get_warp()
    wp.set_module_options({"enable_backward": False})  # no gradients needed: skip adjoint code

    @wp.kernel
    def accumulate_vertex_normals(
        points: wp.array(dtype=wp.vec3),
        indices: wp.array(dtype=wp.int32),
        offset: int,
        normals: wp.array(dtype=wp.vec3),
    ):
        # One thread per face; the unnormalised cross product weights each face by its area.
        f = wp.tid()
        i = indices[3 * f]
        j = indices[3 * f + 1]
        k = indices[3 * f + 2]
        n = wp.cross(points[j] - points[i], points[k] - points[i])
        wp.atomic_add(normals, offset + i, n)
        wp.atomic_add(normals, offset + j, n)
        wp.atomic_add(normals, offset + k, n)

    @wp.kernel
    def cast_pixel_rays(
        mesh_ids: wp.array(dtype=wp.uint64),
        vertex_offsets: wp.array(dtype=wp.int32),
        normals: wp.array(dtype=wp.vec3),
        rects: wp.array(dtype=wp.vec4),
        col0: int,
        n_cols: int,
        row0: int,
        row_stride: int,
        fx: float,
        fy: float,
        cx: float,
        cy: float,
        depth: wp.array2d(dtype=wp.float32),
        mesh_id: wp.array2d(dtype=wp.int16),
        face_id: wp.array2d(dtype=wp.int32),
        cosine: wp.array2d(dtype=wp.float32),
    ):
        # One thread per pixel of every `row_stride`-th row from `row0`, within columns
        # [col0, col0 + n_cols): interleaved rows balance the work between CPU threads (a person
        # usually occupies a horizontal band of the image).
        tid = wp.tid()
        r = tid // n_cols
        col = col0 + tid - r * n_cols
        row = row0 + r * row_stride
        x = float(col)
        y = float(row)
        # Unnormalised direction with z = 1, so the ray parameter t *is* the z-depth.
        d = wp.vec3((x + 0.5 - cx) / fx, (y + 0.5 - cy) / fy, 1.0)
        origin = wp.vec3(0.0, 0.0, 0.0)
        best_t = float(1.0e30)
        best_k = int(-1)
        best_f = int(-1)
        best_u = float(0.0)
        best_v = float(0.0)
        geometric_n = wp.vec3(0.0, 0.0, 1.0)
        for k in range(mesh_ids.shape[0]):
            # Skip meshes whose projected bounding rectangle misses this pixel: cheaper than a
            # BVH query, which costs even when it misses the root box.
            rect = rects[k]
            if x < rect[0] or y < rect[1] or x > rect[2] or y > rect[3]:
                continue
            # max_t = best_t prunes every BVH node behind the nearest hit found so far.
            q = wp.mesh_query_ray(mesh_ids[k], origin, d, best_t)
            if q.result:
                best_t = q.t
                best_k = k
                best_f = q.face
                best_u = q.u
                best_v = q.v
                geometric_n = q.normal
        if best_k < 0:
            depth[row, col] = wp.inf
            mesh_id[row, col] = wp.int16(-1)
            face_id[row, col] = -1
            cosine[row, col] = 0.0
        else:
            mid = mesh_ids[best_k]
            off = vertex_offsets[best_k]
            n0 = wp.normalize(normals[off + wp.mesh_get_index(mid, 3 * best_f)])
            n1 = wp.normalize(normals[off + wp.mesh_get_index(mid, 3 * best_f + 1)])
            n2 = wp.normalize(normals[off + wp.mesh_get_index(mid, 3 * best_f + 2)])
            # warp's barycentrics: hit = u * p0 + v * p1 + (1 - u - v) * p2.
            n = best_u * n0 + best_v * n1 + (1.0 - best_u - best_v) * n2
            if wp.length(n) < 1.0e-6:  # opposite vertex normals (thin sheets): use the face's
                n = geometric_n
            # |cos|: lit from the camera whichever way the triangles are wound.
            depth[row, col] = best_t
            mesh_id[row, col] = wp.int16(best_k)
            face_id[row, col] = best_f
            cosine[row, col] = wp.abs(wp.dot(wp.normalize(n), wp.normalize(d)))

    return accumulate_vertex_normals, cast_pixel_rays


def projected_rects(
    vertices: list[np.ndarray],
    image_size: tuple[int, int],
    focal: tuple[float, float],
    principal_point: tuple[float, float],
) -> np.ndarray:
    """Pixel rectangle each mesh can cover: (K, 4) float32 ``(col_min, row_min, col_max, row_max)``.

    Conservative (one pixel of margin), clipped to the image; the whole image for a mesh that
    reaches behind the camera plane, where the pinhole projection of its bounds is meaningless.
    A mesh entirely outside the image gets an empty rectangle (min > max).
    """
    H, W = image_size
    rects = np.empty((len(vertices), 4), np.float32)
    for k, v in enumerate(vertices):
        z = v[:, 2]
        if z.min() <= 1e-6:
            rects[k] = (0, 0, W - 1, H - 1)
            continue
        x, y = v[:, 0] / z, v[:, 1] / z
        # pixel j's ray passes through u = j + 0.5, so u in [umin, umax] -> j in [umin - 0.5, umax - 0.5]
        lo = np.floor([focal[0] * x.min() + principal_point[0] - 1.5, focal[1] * y.min() + principal_point[1] - 1.5])
        hi = np.ceil([focal[0] * x.max() + principal_point[0] + 0.5, focal[1] * y.max() + principal_point[1] + 0.5])
        rects[k] = (max(lo[0], 0), max(lo[1], 0), min(hi[0], W - 1), min(hi[1], H - 1))
    return rects


def cast_rays(
    vertices: list[np.ndarray],
    faces: list[np.ndarray],
    image_size: tuple[int, int],
    focal: tuple[float, float],
    principal_point: tuple[float, float],
) -> RayHits:
    """Cast one ray per pixel against K meshes and keep the nearest hit.

    Args:
        vertices: K arrays (V_k, 3) float32, camera frame, metres. Must be finite.
        faces: K arrays (F_k, 3) int32 with indices in [0, V_k). Validated by the caller.
        image_size: (H, W) pixels.
        focal: (fx, fy) pixels.
        principal_point: (cx, cy) pixels.

    Returns:
        :class:`RayHits` with (H, W) maps.
    """
    H, W = image_size
    hits = RayHits(
        depth=np.full((H, W), np.inf, np.float32),
        mesh_id=np.full((H, W), -1, np.int16),
        face_id=np.full((H, W), -1, np.int32),
        cosine=np.zeros((H, W), np.float32),
    )
    rects = projected_rects(vertices, image_size, focal, principal_point)
    on_screen = (rects[:, 0] <= rects[:, 2]) & (rects[:, 1] <= rects[:, 3])
    if not on_screen.any():
        return hits
    # Only pixels inside the union of the rectangles can be hit; the rest keep the "empty" values.
    c0, r0 = rects[on_screen, :2].min(0).astype(int)
    c1, r1 = rects[on_screen, 2:].max(0).astype(int)
    wp = get_warp()
    accumulate_vertex_normals, cast_pixel_rays = _kernels()
    with MESH_CACHE.lock:
        slots = MESH_CACHE.acquire(vertices, faces)
        # 1. Smooth vertex normals of all meshes in one buffer, mesh k starting at offsets[k].
        counts = np.array([len(v) for v in vertices])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
        normals = wp.zeros(int(counts.sum()), dtype=wp.vec3, device="cpu")
        for slot, off in zip(slots, offsets):
            wp.launch(
                accumulate_vertex_normals,
                dim=len(slot.faces),
                inputs=[slot.points, slot.indices, int(off), normals],
                device="cpu",
            )
        # 2. Rays, the outputs written straight into the numpy maps (warp arrays alias them).
        ids = wp.array(np.array([s.mesh.id for s in slots], np.uint64), dtype=wp.uint64, device="cpu")
        outs = [
            wp.array(hits.depth, dtype=wp.float32, device="cpu", copy=False),
            wp.array(hits.mesh_id, dtype=wp.int16, device="cpu", copy=False),
            wp.array(hits.face_id, dtype=wp.int32, device="cpu", copy=False),
            wp.array(hits.cosine, dtype=wp.float32, device="cpu", copy=False),
        ]
        offsets_wp = wp.array(offsets, dtype=wp.int32, device="cpu")
        rects_wp = wp.array(rects, dtype=wp.vec4, device="cpu")
        n_rows, n_cols = r1 - r0 + 1, c1 - c0 + 1
        n_threads = min(cpu_count(), n_rows, max(1, n_rows * n_cols // 4096))  # small jobs: threads cost more
        launches = []
        for t in range(n_threads):
            rows = len(range(t, n_rows, n_threads))
            launches.append(
                wp.launch(
                    cast_pixel_rays,
                    dim=rows * n_cols,
                    inputs=[ids, offsets_wp, normals, rects_wp, int(c0), int(n_cols), int(r0 + t), n_threads]
                    + [*map(float, focal), *map(float, principal_point)],
                    outputs=outs,
                    device="cpu",
                    record_cmd=True,
                )
            )
        launch_parallel(launches)
    return hits
