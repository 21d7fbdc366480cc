"""HMR 2.0 speed on this machine: inference crops/s and tiny training images/s.

Run: ``python benchmarks/bench_hmr2.py`` (about 3 minutes on two CPU cores, most of it the paper
model). Options: ``--no-paper`` (tiny only, ~20 s), ``--sweep`` (training speed of candidate tiny
sizes, the measurement behind ``preset("tiny")``), ``--device cuda``.

Rows:
* ``infer fp32`` / ``infer bf16``: ``HMR2.forward`` under ``torch.inference_mode()``, fp32 or bf16
  autocast (the body model always runs in fp32), batch 1 and 8;
* ``train fp32``: forward + a stand-in loss (2D/3D keypoint L1 sums and parameter MSE with the
  paper's weights) + backward + AdamW on synthetic random crops and targets, batch 32. The
  discriminator update and data generation are not included.
Timings are medians over the repeats after one warm-up call; the machine's other load shows up
as spread, so rerun before trusting a small difference.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from workbench.body import BodyModel
from workbench.config import BackboneConfig, HeadConfig, preset
from workbench.models import build_model


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN kernel selection
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def inference_seconds(model, batch: int, dtype: torch.dtype, device: str, repeats: int) -> float:
    x = torch.randn(batch, 3, 256, 256, device=device)

    def run():
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            model(x)
        _sync(device)

    return median_seconds(run, repeats)


def train_step_seconds(model, batch: int, device: str, repeats: int) -> float:
    """One optimisation step on random crops and targets (a stand-in for the real losses)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 256, 256, generator=g).to(device)
    kp2d = (torch.rand(batch, 44, 2, generator=g) - 0.5).to(device)
    kp3d = (0.3 * torch.randn(batch, 44, 3, generator=g)).to(device)
    betas = torch.randn(batch, 10, generator=g).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=1e-4)
    model.train()

    def step():
        out = model(x)
        params = out["pred_smpl_params"]
        loss = (0.01 * (out["pred_keypoints_2d"] - kp2d).abs().sum()
                + 0.05 * (out["pred_keypoints_3d"] - kp3d).abs().sum()
                + 0.0005 * ((params["betas"] - betas) ** 2).sum()
                + 0.001 * ((params["body_pose"] - torch.eye(3, device=device)) ** 2).sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)

    return median_seconds(step, repeats)


def _row(preset_name, mode, batch, seconds, params):
    print(f"{preset_name:6s} {mode:11s} {batch:5d} {seconds * 1000:10.1f} {batch / seconds:9.2f} {params / 1e6:9.2f}",
          flush=True)


def sweep_tiny(body: BodyModel, device: str) -> None:
    """Training images/s of candidate tiny sizes (decoder fixed at 256 x 2), interleaved to share the noise."""
    candidates = {"192x6": (192, 6, 3), "192x4": (192, 4, 3), "160x6": (160, 6, 5), "144x6": (144, 6, 3),
                  "128x6": (128, 6, 2)}
    print("\ntiny sweep: ViT width x depth (heads), train batch 32, images/s (median of 3 rounds)")
    results = {}
    for _ in range(3):
        for name, (width, depth, heads) in candidates.items():
            cfg = preset("tiny")
            cfg.model.backbone = BackboneConfig(embed_dim=width, depth=depth, num_heads=heads, drop_path_rate=0.1)
            cfg.model.head = HeadConfig(dim=256, depth=2, heads=4, dim_head=32, mlp_dim=512)
            model = build_model(cfg, body=body).to(device)
            results.setdefault(name, []).append(32 / train_step_seconds(model, 32, device, repeats=2))
            results[name + "/params"] = sum(p.numel() for p in model.parameters())
    for name in candidates:
        speeds = sorted(results[name])
        print(f"  {name:6s} params {results[name + '/params'] / 1e6:5.2f} M   {speeds[len(speeds) // 2]:6.1f} img/s "
              f"(range {speeds[0]:.1f}-{speeds[-1]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-paper", action="store_true", help="skip the ViT-H model (slow on CPU)")
    parser.add_argument("--sweep", action="store_true", help="also compare candidate tiny sizes")
    args = parser.parse_args()
    device = args.device
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"load average before start {load} (above 0.5 means other work shares the cores)")
    body = BodyModel.open_body().to(device)
    print(f"{'preset':6s} {'mode':11s} {'batch':>5s} {'ms/call':>10s} {'items/s':>9s} {'params M':>9s}")
    presets = ["tiny"] + ([] if args.no_paper else ["paper"])
    for name in presets:
        torch.manual_seed(0)
        model = build_model(preset(name), body=body).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        slow = name == "paper" and device == "cpu"
        for dtype, mode in ((torch.float32, "infer fp32"), (torch.bfloat16, "infer bf16")):
            for batch in (1, 8):
                repeats = (3 if batch == 1 else 2) if slow else 10
                _row(name, mode, batch, inference_seconds(model, batch, dtype, device, repeats), params)
        if name == "tiny":
            _row(name, "train fp32", 32, train_step_seconds(model, 32, device, repeats=5), params)
        del model
    if args.sweep:
        sweep_tiny(body, device)


if __name__ == "__main__":
    main()
