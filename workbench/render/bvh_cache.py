"""Warp BVHs kept between renders: one per person, refitted when only the vertices move.

A body's topology is fixed, so from one video frame to the next only vertex positions change.
Refitting a BVH's boxes to new positions costs ~0.3 ms for a 27k-triangle body; building a new one
~6 ms. The tree structure built for one pose stays efficient for the next poses of the same person.
"""

from __future__ import annotations

import threading

import numpy as np

from workbench.render.warp_runtime import get_warp

# BVHs kept alive between calls. A video of 5 people needs 5; more are only kept for scenes that
# alternate between topologies (e.g. a body and a few debugging primitives).
MAX_CACHED_MESHES = 32


class _Slot:
    """One cached warp BVH: a mesh topology plus a points buffer refitted in place each frame."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        wp = get_warp()
        self.faces = faces.copy()  # to recognise the topology again
        self.points = wp.array(vertices, dtype=wp.vec3, device="cpu")
        self.indices = wp.array(self.faces.ravel(), dtype=wp.int32, device="cpu")
        self.mesh = wp.Mesh(points=self.points, indices=self.indices)
        self.last_used = 0

    def update(self, vertices: np.ndarray) -> None:
        # Refit (0.3 ms for a body) instead of rebuilding the BVH (6 ms): the tree structure stays
        # good while only the pose changes, because the topology, not the positions, is fixed.
        self.points.numpy()[:] = vertices
        self.mesh.refit()


class MeshCache:
    """Reusable warp meshes keyed by topology, so that a video re-uses one BVH per person.

    Within one call, the k-th mesh with a given faces array takes the k-th cached slot for that
    topology; slots unused for longest are dropped beyond ``max_meshes``.
    """

    def __init__(self, max_meshes: int = MAX_CACHED_MESHES):
        self.max_meshes = max_meshes
        self._slots: dict[tuple[int, int], list[_Slot]] = {}
        self._clock = 0
        self.lock = threading.Lock()

    def acquire(self, vertices: list[np.ndarray], faces: list[np.ndarray]) -> list[_Slot]:
        """Return one up-to-date slot per mesh. vertices[k]: (V_k, 3) float32, faces[k]: (F_k, 3) int32."""
        self._clock += 1
        taken: list[_Slot] = []
        for v, f in zip(vertices, faces):
            candidates = self._slots.setdefault((len(v), len(f)), [])
            slot = next(
                (s for s in candidates if s.last_used != self._clock and np.array_equal(s.faces, f)),
                None,
            )
            if slot is None:
                slot = _Slot(v, f)
                candidates.append(slot)
            else:
                slot.update(v)
            slot.last_used = self._clock
            taken.append(slot)
        self._evict()
        return taken

    def _evict(self) -> None:
        slots = [(s.last_used, key, s) for key, lst in self._slots.items() for s in lst]
        for _, key, s in sorted(slots, key=lambda x: x[0])[: max(0, len(slots) - self.max_meshes)]:
            self._slots[key].remove(s)

    def clear(self) -> None:
        self._slots.clear()


MESH_CACHE = MeshCache()
"""The process-wide cache used by :func:`workbench.render.render`."""


def clear_mesh_cache() -> None:
    """Drop every cached BVH (e.g. to free memory, or after a drastically different mesh)."""
    with MESH_CACHE.lock:
        MESH_CACHE.clear()
