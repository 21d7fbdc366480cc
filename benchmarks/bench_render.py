"""Time the CPU renderers on the two workloads the workbench needs, in one run (< 60 s).

    python benchmarks/bench_render.py [--repeats 15]

Workloads (HMR 2.0 demo cameras):
  * crop:  256x256 overlay of one body, focal 5000 px (HMR 2.0's crop camera), body ~90% of the
           crop height -- target 20 ms per frame;
  * frame: 768x576 frame (vtest.avi size) with 5 people, focal 5000/256*768 = 15000 px (HMR 2.0's
           full-frame camera), people ~250 px tall, some overlapping -- target 150 ms per frame.
The body is ``assets/open_body.npz`` (``v_template`` y-up -> camera frame by flipping y and z) when
it exists, else an icosphere with 20,480 faces stretched to a body's extent.

Methods:
  * warp render:   ``workbench.render.overlay``/``render`` end to end (refit + rays + shading +
                   compositing); vertices move every frame, as in a video;
  * warp rays:     ``raycast.cast_rays`` only (depth, ids, normals; no colour);
  * embree:        trimesh ``intersects_first`` with embreex (face ids only, no depth or shading),
                   BVH rebuilt each frame because a posed body changes every frame;
  * embree reuse:  the same with the BVH built once (a lower bound: only valid for a rigid mesh);
  * trimesh:       trimesh's pure-numpy ray tracer (needs rtree), small image only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.render import overlay, render  # noqa: E402
from workbench.render.raycast import cast_rays  # noqa: E402

TARGET_MS = {"crop": 20.0, "frame": 150.0}
BODY_HEIGHT = 1.7  # metres, used to place and size the people


def load_body() -> tuple[np.ndarray, np.ndarray, str]:
    """(V, 3) vertices centred at the origin in the camera frame (y down, facing -z), faces, name."""
    path = ROOT / "assets" / "open_body.npz"
    if path.exists():
        data = np.load(path)
        v = data["v_template"] * np.array([1.0, -1.0, -1.0])  # y-up, facing +z -> y-down, facing camera
        f = data["f"]
        name = f"open_body ({len(v)} v, {len(f)} f)"
    else:
        import trimesh

        s = trimesh.creation.icosphere(subdivisions=5)
        v = np.asarray(s.vertices) * np.array([0.25, BODY_HEIGHT / 2, 0.15])
        f = np.asarray(s.faces)
        name = f"icosphere stand-in ({len(v)} v, {len(f)} f; assets/open_body.npz absent)"
    v = v - (v.max(0) + v.min(0)) / 2
    return v.astype(np.float32), f.astype(np.int32), name


def crop_scene(body):
    """One body filling ~90% of a 256x256 crop seen with HMR 2.0's crop focal length."""
    v, f = body
    focal, size = 5000.0, (256, 256)
    height = v[:, 1].max() - v[:, 1].min()
    z = focal * height / (0.9 * size[0])
    return [(v + [0.0, 0.0, z], f)], size, focal


def frame_scene(body):
    """Five people ~250 px tall across a 768x576 frame, within +-1 m in depth, two overlapping."""
    v, f = body
    size = (576, 768)
    focal = 5000.0 / 256 * max(size)
    height = v[:, 1].max() - v[:, 1].min()
    z0 = focal * height / 250.0
    meshes = []
    # (horizontal position as a fraction of the width from the centre, depth offset in metres)
    for k, (u, dz) in enumerate([(-0.36, 0.0), (-0.12, 1.0), (-0.05, -0.5), (0.15, 0.8), (0.35, -1.0)]):
        z = z0 + dz
        t = [u * size[1] * z / focal, 0.03 * (k - 2) * size[0] * z / focal, z]
        meshes.append((v + t, f))
    return meshes, size, focal


def timed(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of fn() in ms after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def pixel_rays(size, focal):
    H, W = size
    j, i = np.meshgrid(np.arange(W), np.arange(H))
    d = np.stack([(j + 0.5 - W / 2) / focal, (i + 0.5 - H / 2) / focal, np.ones((H, W))], -1).reshape(-1, 3)
    return np.zeros_like(d), d


def warp_render_fn(meshes, size, focal):
    background = np.full((*size, 3), 90, np.uint8)
    jitter = [np.zeros(3), np.array([0.0, 0.0, 0.01])]
    state = {"i": 0}

    def run():
        state["i"] += 1
        moved = [(v + jitter[state["i"] % 2], f) for v, f in meshes]  # new positions: forces a refit
        if len(moved) == 1:
            overlay(background, moved[0][0], moved[0][1], focal)
        else:
            render(moved, size, focal, background=background)

    return run


def warp_rays_fn(meshes, size, focal):
    vs = [np.ascontiguousarray(v, np.float32) for v, _ in meshes]
    fs = [np.ascontiguousarray(f, np.int32) for _, f in meshes]
    H, W = size
    return lambda: cast_rays(vs, fs, size, (focal, focal), (W / 2, H / 2))


def embree_fn(meshes, size, focal, rebuild: bool, pure_python: bool = False):
    import trimesh

    if pure_python:
        from trimesh.ray.ray_triangle import RayMeshIntersector

        import rtree  # noqa: F401  (trimesh's pure-python tracer needs it; ImportError = skipped)
    else:
        from trimesh.ray.ray_pyembree import RayMeshIntersector
    origins, dirs = pixel_rays(size, focal)
    scene_v = np.concatenate([v for v, _ in meshes])
    offsets = np.cumsum([0] + [len(v) for v, _ in meshes[:-1]])
    scene_f = np.concatenate([f + o for (_, f), o in zip(meshes, offsets)])
    built = RayMeshIntersector(trimesh.Trimesh(scene_v, scene_f, process=False))

    def run():
        rmi = RayMeshIntersector(trimesh.Trimesh(scene_v, scene_f, process=False)) if rebuild else built
        return rmi.intersects_first(origins, dirs)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per cell (median reported)")
    args = parser.parse_args()

    body_v, body_f, body_name = load_body()
    scenes = {"crop": crop_scene((body_v, body_f)), "frame": frame_scene((body_v, body_f))}
    t0 = time.perf_counter()
    render(scenes["crop"][0], (8, 8), 10.0)  # compile/load the warp kernels outside the timings
    print(f"warp kernels ready in {time.perf_counter() - t0:.2f} s (compiled once per machine, then cached)")
    print(f"mesh: {body_name}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{cores} cores, load average {load:.2f} before the run (other processes skew the timings)")
    for name, (meshes, size, focal) in scenes.items():
        coverage = render(meshes, size, focal).mask.mean()
        print(
            f"{name}: {size[1]}x{size[0]}, {len(meshes)} mesh(es), focal {focal:.0f} px, "
            f"{100 * coverage:.0f}% pixels covered"
        )

    methods = {
        "warp render": lambda s: warp_render_fn(*s),
        "warp rays": lambda s: warp_rays_fn(*s),
        "embree (BVH per frame)": lambda s: embree_fn(*s, rebuild=True),
        "embree (BVH reused)": lambda s: embree_fn(*s, rebuild=False),
        "trimesh no embree": lambda s: embree_fn(*s, rebuild=False, pure_python=True),
    }
    rows = []
    for method, make in methods.items():
        for scene_name, scene in scenes.items():
            if method == "trimesh no embree" and scene_name != "crop":
                rows.append((method, scene_name, None, "skipped: too slow at this size"))
                continue
            try:
                fn = make(scene)
            except ImportError as e:
                rows.append((method, scene_name, None, f"not installed ({e.name})"))
                continue
            repeats = args.repeats if method.startswith("warp") else max(3, args.repeats // 3)
            rows.append((method, scene_name, timed(fn, repeats), ""))

    print()
    print(f"{'method':<24} {'workload':<30} {'ms/frame':>9} {'target':>7} {'ratio':>6}")
    for method, scene_name, ms, note in rows:
        label = {"crop": "256x256, 1 body", "frame": "768x576, 5 bodies"}[scene_name]
        target = TARGET_MS[scene_name]
        if ms is None:
            print(f"{method:<24} {label:<30} {'-':>9} {target:>7.0f} {'-':>6}  {note}")
        else:
            print(f"{method:<24} {label:<30} {ms:>9.1f} {target:>7.0f} {ms / target:>6.2f}")
    print("ratio = ms / target (<= 1 meets the target). Median of repeats after 2 warm-up frames.")


if __name__ == "__main__":
    main()
