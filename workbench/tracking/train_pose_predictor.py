"""Train the tracker's pose predictor on synthetic motions, evaluate it, and write the checkpoint.

    python -m workbench.tracking.train_pose_predictor --out DIR [--steps N] [--overwrite]

writes ``DIR/pose_predictor.safetensors`` and ``DIR/pose_predictor.json`` (config, training command,
time, evaluation). The shipped asset was made with ``--out assets/checkpoints`` and the defaults
(about 7 minutes on one CPU thread). ``--evaluate-only`` re-scores an existing checkpoint and prints
the table (``--overwrite`` also stores it in the sidecar).

**Data.** A track = a motion from :func:`workbench.data.sample_motion` (random activity, 30 fps),
betas ~ N(0, I) constant per track, and a smooth camera path on PHALP's 256-px canvas (focal 5000):
log-uniform depth t_z in [50, 900] drifting slowly, the person placed within the canvas and walking
across it. The model *sees* noisy observations (each rotation perturbed by a random rotation of a
few degrees, betas and camera jittered, as HMR 2.0's per-frame estimates are) and is scored against
the clean sequence.

**Masking.** Each training window of ``seq_len`` frames gets one of three masks: *future* (the
history fills slots 0..e with random drops; targets are the next 1-10 slots), *gap* (one contiguous
occlusion of 1-15 frames inside an observed window) or *BERT* (40 % of slots masked at random), so
one model does both prediction and completion. Loss: squared Frobenius rotation error + betas +
camera (normalised) on target slots, and a 0.1-weighted denoising term on observed slots.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from workbench.geometry.rotations import axis_angle_to_rotmat
from workbench.io import atomic_write_json, check_writable_target
from workbench.tracking.pose_predictor import (
    NUM_ROTATIONS,
    POSE_DIM,
    PRESETS,
    ROT_DIMS,
    PosePredictor,
    PoseTransformer,
    last_pose_predict,
    save_pose_predictor,
)

FPS = 30.0
FOCAL, CANVAS = 5000.0, 256.0
NAME = "pose_predictor"


@dataclass
class TrainConfig:
    preset: str = "small"
    steps: int = 2800
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 200
    num_tracks: int = 3000  # synthetic training tracks of ``track_frames`` frames; windows are cropped at random
    track_frames: int = 64
    eval_tracks: int = 300
    rot_noise_deg: tuple[float, float] = (1.0, 5.0)  # per-axis std of the observation noise, drawn per track
    seed: int = 0


# ----------------------------------------------------------------------------- synthetic tracks
def _smooth(rng: np.random.Generator, T: int, scale: float) -> np.ndarray:
    """(T,) slow random wobble of std ~``scale`` (sum of three random low-frequency sines)."""
    t = np.arange(T) / FPS
    freqs, phases = rng.uniform(0.05, 0.5, 3), rng.uniform(0, 2 * np.pi, 3)
    return scale * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]).sum(0) / np.sqrt(1.5)


def camera_path(rng: np.random.Generator, T: int) -> np.ndarray:
    """(T, 3) canvas translation (tx, ty, tz), metres: log-uniform depth, smooth walk across the canvas."""
    t = np.arange(T)
    log_tz = rng.uniform(np.log(50.0), np.log(900.0)) + rng.normal(0, 0.003) * t + _smooth(rng, T, 0.02)
    tz = np.exp(log_tz)
    u0, v0 = rng.uniform(-90, 90), rng.uniform(-60, 60)  # start on the canvas, pixels from its centre
    tx = u0 * tz / FOCAL + rng.normal(0, 0.03) * t + _smooth(rng, T, 0.05)
    ty = v0 * tz / FOCAL + rng.normal(0, 0.004) * t + _smooth(rng, T, 0.01)
    return np.stack([tx, ty, tz], axis=1)


def make_tracks(n: int, frames: int, seed: int, progress: bool = True) -> torch.Tensor:
    """(n, frames, 229) clean pose vectors of synthetic tracks (float32)."""
    from tqdm import tqdm

    from workbench.data import list_activities, sample_motion

    rng = np.random.default_rng(seed)
    activities = list_activities()
    out = np.zeros((n, frames, POSE_DIM), np.float32)
    for i in tqdm(range(n), desc="synthetic tracks", disable=not progress, leave=False):
        motion = sample_motion(activities[rng.integers(len(activities))], frames, FPS, rng)  # (T, 24, 3)
        rot = axis_angle_to_rotmat(torch.from_numpy(motion).double()).reshape(frames, ROT_DIMS).numpy()
        cam = camera_path(rng, frames)
        cam[:, 2] /= 200.0  # as pose_vector stores it
        out[i] = np.concatenate([rot, np.repeat(rng.normal(size=(1, 10)), frames, 0), cam], axis=1)
    return torch.from_numpy(out)


def observe(clean: torch.Tensor, generator: torch.Generator, rot_noise_deg=(1.0, 5.0)) -> torch.Tensor:
    """HMR-like per-frame noise on (B, T, 229) clean vectors: rotations x exp(noise), betas, camera jitter."""
    B, T, _ = clean.shape
    sigma = torch.empty(B, 1, 1, 1, dtype=clean.dtype).uniform_(*rot_noise_deg, generator=generator)
    noise = axis_angle_to_rotmat(torch.randn(B, T, NUM_ROTATIONS, 3, generator=generator, dtype=clean.dtype)
                                 * torch.deg2rad(sigma))
    rot = clean[..., :ROT_DIMS].unflatten(-1, (NUM_ROTATIONS, 3, 3)) @ noise
    betas = clean[..., ROT_DIMS:ROT_DIMS + 10] + 0.1 * torch.randn(B, T, 10, generator=generator, dtype=clean.dtype)
    cam = clean[..., ROT_DIMS + 10:].clone()
    tz = cam[..., 2] * 200.0
    px = 1.5 * torch.randn(B, T, 2, generator=generator, dtype=clean.dtype) * (tz / FOCAL)[..., None]  # ~1.5 canvas px
    cam[..., :2] += px
    cam[..., 2] *= torch.exp(0.03 * torch.randn(B, T, generator=generator, dtype=clean.dtype))
    return torch.cat([rot.flatten(-3), betas, cam], dim=-1)


# ----------------------------------------------------------------------------- masks
def sample_masks(B: int, L: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(B, L) observed and target flags: 45 % future, 30 % gap, 25 % BERT windows."""
    observed, target = np.zeros((B, L), bool), np.zeros((B, L), bool)
    mode = rng.choice(3, size=B, p=[0.45, 0.30, 0.25])
    for b in range(B):
        drop = rng.random(L) < rng.uniform(0.0, 0.3)
        if mode[b] == 0:  # future: history in 0..e, predict the next 1-10 slots
            e = int(rng.integers(0, L - 1))
            observed[b, : e + 1] = ~drop[: e + 1]
            observed[b, [0, e]] = True
            target[b, e + 1: min(e + 11, L)] = True
        elif mode[b] == 1:  # gap: one occlusion of 1-15 frames between observed frames
            g = int(rng.integers(1, 16))
            s = int(rng.integers(1, L - g))
            observed[b] = ~drop
            observed[b, s: s + g] = False
            observed[b, [s - 1, s + g]] = True
            target[b, s: s + g] = True
        else:  # BERT: 40 % masked at random
            observed[b] = rng.random(L) >= 0.4
            observed[b, rng.integers(L)] = True
            target[b] = ~observed[b]
    return observed, target


def loss_fn(model: PoseTransformer, pred: torch.Tensor, clean: torch.Tensor, observed: torch.Tensor,
            target: torch.Tensor) -> torch.Tensor:
    """Per-slot squared error (rotation Frobenius / joint + normalised betas + camera), target slots
    weighted 1, observed slots 0.1 (denoising)."""
    rot = (pred[..., :ROT_DIMS] - clean[..., :ROT_DIMS]).square().sum(-1) / NUM_ROTATIONS
    rest = ((pred[..., ROT_DIMS:] - clean[..., ROT_DIMS:]) / model.std[ROT_DIMS:]).square()
    per_slot = rot + rest[..., :10].mean(-1) + rest[..., 10:].mean(-1)
    weight = target.float() + 0.1 * observed.float()
    return (per_slot * weight).sum() / weight.sum()


# ----------------------------------------------------------------------------- evaluation
def rotation_error_deg(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., 229) x2 -> (...,) mean geodesic angle over the 24 rotations, degrees."""
    R1 = pred[..., :ROT_DIMS].reshape(*pred.shape[:-1], NUM_ROTATIONS, 3, 3)
    R2 = gt[..., :ROT_DIMS].reshape(*gt.shape[:-1], NUM_ROTATIONS, 3, 3)
    # |R1 - R2|_F = 2 sqrt(2) sin(angle / 2): unlike arccos of the trace, exact near zero
    chord = np.sqrt(np.square(R1 - R2).sum((-1, -2))) / (2.0 * np.sqrt(2.0))
    return np.degrees(2.0 * np.arcsin(np.clip(chord, 0.0, 1.0))).mean(-1)


def slerp_interpolate(p0: np.ndarray, p1: np.ndarray, w: float) -> np.ndarray:
    """Pose vectors (229,) at fraction ``w`` between p0 and p1: slerp rotations, lerp the rest."""
    import roma

    R0 = torch.from_numpy(p0[:ROT_DIMS].reshape(NUM_ROTATIONS, 3, 3))
    R1 = torch.from_numpy(p1[:ROT_DIMS].reshape(NUM_ROTATIONS, 3, 3))
    q = roma.unitquat_slerp(roma.rotmat_to_unitquat(R0), roma.rotmat_to_unitquat(R1), torch.tensor([w], dtype=R0.dtype))
    rot = roma.unitquat_to_rotmat(q[0]).reshape(-1).numpy()
    return np.concatenate([rot, (1 - w) * p0[ROT_DIMS:] + w * p1[ROT_DIMS:]])


def evaluate(predictor: PosePredictor, clean: np.ndarray, noisy: np.ndarray, seed: int = 0) -> dict:
    """Mean rotation error (degrees, 24 rotations) on held-out tracks (N, T >= 48, 229).

    future_h: 7 consecutive observed frames (PHALP's history), predict h = 1, 5, 10 frames ahead.
    gap: 8 observed frames, an occlusion of 5-15 frames, 8 observed frames; fill every gap frame.
    """
    rng = np.random.default_rng(seed)
    N = clean.shape[0]
    metrics: dict = {}
    t_last = 20
    hist = np.arange(t_last - 6, t_last + 1)
    for h in (1, 5, 10):
        histories = [(noisy[i, hist], hist) for i in range(N)]
        pred = predictor.predict_batch(histories, np.full(N, t_last + h))
        last = np.stack([last_pose_predict(p, t) for p, t in histories])
        gt = clean[:, t_last + h]
        metrics[f"future_{h}"] = {"transformer": float(rotation_error_deg(pred, gt).mean()),
                                  "last_pose": float(rotation_error_deg(last, gt).mean())}
    errs = {"transformer": [], "last_pose": [], "linear_interp": []}
    for i in range(N):
        g = int(rng.integers(5, 16))
        s = int(rng.integers(9, clean.shape[1] - g - 8))
        times = np.concatenate([np.arange(s - 8, s), np.arange(s + g, s + g + 8)])
        gap = np.arange(s, s + g)
        gt = clean[i, gap]
        pred = predictor.complete(noisy[i, times], times, gap)
        last = np.repeat(noisy[i, s - 1][None], g, 0)
        interp = np.stack([slerp_interpolate(noisy[i, s - 1], noisy[i, s + g], (t - s + 1) / (g + 1)) for t in gap])
        for k, p in (("transformer", pred), ("last_pose", last), ("linear_interp", interp)):
            errs[k].append(rotation_error_deg(p, gt))
    metrics["gap_5_15"] = {k: float(np.concatenate(v).mean()) for k, v in errs.items()}
    # what a perfect predictor would pay for the input noise alone (error of the noisy observation itself)
    metrics["observation_noise"] = float(rotation_error_deg(noisy[:, t_last], clean[:, t_last]).mean())
    return metrics


def time_predict_batch(predictor: PosePredictor, clean: np.ndarray, tracks: int = 20, repeats: int = 50) -> float:
    """Median wall time (ms) of ``predict_batch`` for ``tracks`` 7-frame histories."""
    hist = np.arange(14, 21)
    histories = [(clean[i % len(clean), hist], hist) for i in range(tracks)]
    queries = np.full(tracks, 23)
    predictor.predict_batch(histories, queries)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.predict_batch(histories, queries)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


# ----------------------------------------------------------------------------- training
def train(cfg: TrainConfig, progress: bool = True) -> tuple[PoseTransformer, dict]:
    """Generate data, fit normalisation, train; returns the model (eval mode) and training facts."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    model = PoseTransformer(PRESETS[cfg.preset])
    L = model.cfg.seq_len
    t0 = time.perf_counter()
    bank = make_tracks(cfg.num_tracks, cfg.track_frames, cfg.seed, progress)  # (N, T, 229)
    gen = torch.Generator().manual_seed(cfg.seed)
    sample = observe(bank[: min(len(bank), 500)], gen, cfg.rot_noise_deg)
    model.set_normalisation(sample.mean((0, 1)), sample.std((0, 1)))
    data_s = time.perf_counter() - t0

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup)
                                              * 0.5 * (1 + math.cos(math.pi * min(s / max(cfg.steps, 1), 1.0))))
    rng = np.random.default_rng(cfg.seed + 1)
    model.train()
    losses = []
    bar = tqdm(range(cfg.steps), desc="train pose predictor", disable=not progress)
    for step in bar:
        idx = torch.from_numpy(rng.integers(0, len(bank), cfg.batch))
        start = torch.from_numpy(rng.integers(0, cfg.track_frames - L + 1, cfg.batch))
        clean = bank[idx[:, None], start[:, None] + torch.arange(L)]  # (B, L, 229)
        noisy = observe(clean, gen, cfg.rot_noise_deg)
        observed, target = map(torch.from_numpy, sample_masks(cfg.batch, L, rng))
        loss = loss_fn(model, model(noisy, observed), clean, observed, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    facts = {"data_seconds": round(data_s, 1), "train_seconds": round(time.perf_counter() - t0 - data_s, 1),
             "final_loss": float(np.mean(losses[-100:])) if losses else None}
    return model.eval(), facts


def held_out_metrics(predictor: PosePredictor, eval_tracks: int, seed: int, rot_noise_deg=(1.0, 5.0)) -> dict:
    """:func:`evaluate` on ``eval_tracks`` fresh 48-frame tracks (seed ``10_000 + seed``) plus the speed."""
    clean = make_tracks(eval_tracks, 48, seed=10_000 + seed, progress=False).double()
    noisy = observe(clean, torch.Generator().manual_seed(10_000 + seed), rot_noise_deg)
    metrics = evaluate(predictor, clean.numpy(), noisy.numpy())
    metrics["predict_batch_20_tracks_ms"] = round(time_predict_batch(predictor, noisy.float().numpy()), 3)
    metrics["predict_batch_threads"] = torch.get_num_threads()
    return {"unit": "mean geodesic error over the 24 rotations, degrees; held-out synthetic tracks",
            "eval_tracks": eval_tracks, **metrics}


def metrics_table(metrics: dict) -> str:
    """Markdown table of :func:`held_out_metrics`."""
    rows = ["| task | transformer | last pose | linear interp. |", "|---|---|---|---|"]
    for key, name in (("future_1", "predict +1"), ("future_5", "predict +5"), ("future_10", "predict +10"),
                      ("gap_5_15", "fill a 5-15 frame gap")):
        m = metrics[key]
        interp = f"{m['linear_interp']:.2f}" if "linear_interp" in m else "-"
        rows.append(f"| {name} | {m['transformer']:.2f} | {m['last_pose']:.2f} | {interp} |")
    rows.append(f"(observation noise alone: {metrics['observation_noise']:.2f} deg; predict_batch, 20 tracks: "
                f"{metrics['predict_batch_20_tracks_ms']:.1f} ms on {metrics['predict_batch_threads']} thread(s))")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.tracking.train_pose_predictor",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for pose_predictor.safetensors / .json")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=TrainConfig.preset)
    parser.add_argument("--num-tracks", type=int, default=TrainConfig.num_tracks)
    parser.add_argument("--eval-tracks", type=int, default=TrainConfig.eval_tracks)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="evaluate the checkpoint in --out; with --overwrite, store the metrics in its sidecar")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from pathlib import Path

    out = Path(args.out)
    weights = out / f"{NAME}.safetensors"
    torch.set_num_threads(args.threads)
    cmd = "python -m workbench.tracking.train_pose_predictor " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.evaluate_only:
        predictor = PosePredictor.load(weights)
        metrics = held_out_metrics(predictor, args.eval_tracks, args.seed)
        print(metrics_table(metrics))
        if args.overwrite:
            atomic_write_json(weights.with_suffix(".json"), {**predictor.meta, "metrics": {"command": cmd, **metrics}})
            print(f"metrics stored in {weights.with_suffix('.json')}")
        return 0

    for path in (weights, weights.with_suffix(".json")):
        check_writable_target(path, args.overwrite)  # refuse before spending minutes training
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(preset=args.preset, steps=args.steps, num_tracks=args.num_tracks, eval_tracks=args.eval_tracks,
                      seed=args.seed)
    model, facts = train(cfg, progress=not args.quiet)
    metrics = held_out_metrics(PosePredictor(model), cfg.eval_tracks, cfg.seed, cfg.rot_noise_deg)
    extra = {
        "origin": "trained by us on synthetic motions (workbench.data.sample_motion); licence: same as the project",
        "normalisation": "buffers `mean` / `std` (229,) in the safetensors, from noisy training observations",
        "training": {"command": cmd, **asdict(cfg), **facts, "threads": args.threads},
        "metrics": {"command": cmd, **metrics},
    }
    sidecar = save_pose_predictor(weights, model, extra)
    print(f"wrote {weights} and {sidecar}")
    print(metrics_table(metrics))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except FileExistsError as err:
        raise SystemExit(f"error: {err}") from None
