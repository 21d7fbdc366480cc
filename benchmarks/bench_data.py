"""Throughput of the synthetic training data on this machine (about a minute on two cores).

    python benchmarks/bench_data.py [--samples 512] [--batch 32]

Rows: SynthHumans crops/s with and without HMR 2.0's augmentation, in this process (also with the numba
rasteriser, when numba is installed) and through a
DataLoader with 2 persistent workers (batches rendered by ``__getitems__``, read in order; second
pass timed, as in a long training run); shards read back
(JPEG decode + optional image-space augmentation); pose-prior samples/s; MocapPrior batches.
Other processes on the machine skew wall-clock rates (the load average is printed); the CPU time per
item (this process plus its DataLoader workers) does not depend on them, and "2-core capacity"
(2000 / CPU ms) is the rate two otherwise idle cores would sustain.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.config import DataConfig
from workbench.data import (
    MocapPrior,
    ShardDataset,
    SynthHumans,
    sample_poses,
    write_shards,
)

TARGET = 200.0  # crops/s on two cores


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (DataLoader workers), seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def rate(fn, count: int) -> tuple[float, float]:
    """(items per wall-clock second, CPU milliseconds per item)."""
    t0, c0 = time.perf_counter(), _cpu_seconds()
    fn()
    return count / (time.perf_counter() - t0), 1e3 * (_cpu_seconds() - c0) / count


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process from /proc (Linux), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loader_rate(ds, samples: int, batch: int, workers: int) -> tuple[float, float]:
    """Steady-state DataLoader rate and CPU ms per crop (main process + workers), measured on a
    second pass with persistent workers, so worker start-up is left out as in a long training run."""
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(samples)), batch_size=batch,
                                         num_workers=workers, persistent_workers=True, prefetch_factor=2)
    for _ in loader:  # first pass: start the workers, warm every cache
        pass
    it = iter(loader)
    pids = [w.pid for w in it._workers]  # no public accessor for the worker pids

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime + sum(_proc_cpu_seconds(pid) for pid in pids)

    t0, c0, n = time.perf_counter(), cpu(), 0
    for b in it:
        n += len(b["img"])
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    del it, loader
    return n / wall, 1e3 * cpu_s / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=512, help="crops per timed DataLoader row (half in-process)")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores, load average {os.getloadavg()[0]:.2f} (other processes skew the numbers)")
    rows = []
    for augment in (False, True):
        ds = SynthHumans(DataConfig(), split="train", num_samples=args.samples + args.batch, augment=augment)
        ds.render_batch(range(4))  # warp kernels, photos, noise texture
        n = args.samples // 2
        rows.append((f"SynthHumans, augment={augment}, 1 process",
                     *rate(lambda ds=ds, n=n: ds.render_batch(range(n)), n), "crops/s"))
        ds = SynthHumans(DataConfig(), split="train", num_samples=args.samples + args.batch, augment=augment)
        rows.append((f"SynthHumans, augment={augment}, DataLoader 2 workers",
                     *loader_rate(ds, args.samples, args.batch, 2), "crops/s"))
    if importlib.util.find_spec("numba") is not None:  # the rasteriser for machines without warp
        os.environ["WORKBENCH_RASTER"] = "numba"
        ds = SynthHumans(DataConfig(), split="train", num_samples=args.samples + args.batch, augment=True)
        ds.render_batch(range(4))  # numba compiles (or loads its cache)
        n = args.samples // 2
        rows.append(("SynthHumans, augment=True, 1 process, numba raster",
                     *rate(lambda ds=ds, n=n: ds.render_batch(range(n)), n), "crops/s"))
        del os.environ["WORKBENCH_RASTER"]
    with tempfile.TemporaryDirectory() as tmp:
        ds = SynthHumans(DataConfig(), split="train", num_samples=256, augment=True)
        rows.append(("write_shards (render + JPEG), 2 workers",
                     *rate(lambda: write_shards(ds, tmp, shard_size=128, num_workers=2, progress=False), 256),
                     "crops/s"))
        for aug in (None, DataConfig()):
            sd = ShardDataset(tmp, augment=aug)
            rows.append((f"ShardDataset read, augment={aug is not None}, 1 process",
                         *rate(lambda sd=sd: [sd[i] for i in range(256)], 256), "crops/s"))
    rows.append(("sample_poses(4096), default mix", *rate(lambda: sample_poses(4096, 0), 4096), "poses/s"))
    rows.append(("sample_poses(1) per call", *rate(lambda: [sample_poses(1, i) for i in range(200)], 200), "poses/s"))
    prior = MocapPrior()
    rows.append(("MocapPrior.sample(96) rotmats + betas",
                 *rate(lambda: [prior.sample(96, i) for i in range(20)], 20 * 96), "poses/s"))
    print()
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    print(f"{'what':<52} {'rate':>10}  {'unit':<8} {'CPU ms/item':>11} {'2-core capacity':>16}")
    for name, value, cpu_ms, unit in rows:
        # Capacity = what two otherwise idle cores sustain at the measured CPU cost per item.
        capacity = f"{2000.0 / cpu_ms:>10.0f} {unit}" if cpu_ms > 0 else ""
        note = ""
        if unit == "crops/s" and name.startswith("SynthHumans") and "workers" in name:
            note = f"  target {TARGET:.0f}: {'met' if value >= TARGET else 'not met'} (wall clock)"
        print(f"{name:<52} {value:>10.1f}  {unit:<8} {cpu_ms:>11.2f} {capacity:>16}{note}")


if __name__ == "__main__":
    main()
