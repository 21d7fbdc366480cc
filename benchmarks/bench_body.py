"""Body-model forward time (open body on smplx) at batch 1 / 64 / 512, CPU and GPU if present.

Run: ``python benchmarks/bench_body.py``. Prints one table measured in this run; the ratio column
is the per-body cost relative to batch 1 (how much batching pays).
"""

from __future__ import annotations

import time

import torch

from workbench.body import BodyModel


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'device':6s} {'batch':>6s} {'ms/call':>9s} {'ms/body':>9s} {'vs batch 1':>10s}")
    for device in devices:
        body = BodyModel.open_body().to(device)
        base = None
        for batch in (1, 64, 512):
            g = torch.Generator().manual_seed(0)
            pose = (0.3 * torch.randn(batch, 24, 3, generator=g)).to(device)
            betas = torch.randn(batch, 10, generator=g).to(device)

            def run():
                with torch.inference_mode():
                    body(pose=pose, betas=betas)
                if device == "cuda":
                    torch.cuda.synchronize()

            ms = median_ms(run, repeats=20 if batch < 512 else 5)
            per = ms / batch
            base = base or per
            print(f"{device:6s} {batch:6d} {ms:9.2f} {per:9.3f} {per / base:10.3f}")


if __name__ == "__main__":
    main()
