"""The tracker's pose predictor: a small masked ("BERT-style") transformer over a track's pose tokens.

PHALP predicts each track's 229-d pose vector (:func:`workbench.tracking.records.pose_vector`) at a
future frame with a LART-style masked transformer (``Pose_transformer_v2``). Ours follows the
published recipe, kept small and trained by us on synthetic motions
(:mod:`workbench.tracking.train_pose_predictor`):

1. **Tokens.** A track's poses go to slot ``t - origin`` of a fixed-length window of ``seq_len``
   frames (PHALP: ``t - t_min``, clipped); copies at one frame (PHALP pads its history with copies
   of the first detection) are averaged. Slots without a detection are *masked*.
2. **Encode.** Normalise by the training mean/std, encode with an MLP, replace masked slots by a
   learned ``mask_token``, add a learned position embedding.
3. **Attend.** Pre-norm transformer blocks; every slot attends to the *observed* slots only.
4. **Read out.** Per slot: a 6D correction for each of the 24 rotations (a1 = x[0:3], a2 = x[3:6],
   Gram-Schmidt, so every output block is a rotation), plus betas and camera corrections. The
   corrections are added to the *nearest observed* pose (ours, not published): with the readout
   initialised to zero the untrained model is exactly the last-pose fallback for the future and
   nearest-neighbour filling for gaps, and a few minutes of CPU training only have to learn motion.

One model serves both uses: :meth:`PosePredictor.predict` (a future frame, the tracker's query
``t_last + time_since_update + 1``) and :meth:`PosePredictor.complete` (amodal completion of frames
where the person was not seen). :func:`last_pose_predict` is the fallback.

Weights are safetensors (``load_file``: tensors only, nothing unpickled) with a JSON sidecar that
holds the config, the training command and the evaluation.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d
from workbench.runtime import torch_threads
from workbench.weights import load_weights, save_weights

__all__ = [
    "POSE_DIM",
    "PosePredictor",
    "PosePredictorConfig",
    "PoseTransformer",
    "build_window",
    "last_pose_predict",
    "load_pose_predictor_weights",
    "window_origin",
]

POSE_DIM = 229  # PHALP pose vector: 24 rotmats (216) + betas (10) + (tx, ty, tz / 200)
NUM_ROTATIONS = 24  # global orientation + 23 body joints
ROT_DIMS = 9 * NUM_ROTATIONS  # 216
NUM_BETAS = 10
FORMAT = "workbench-pose-predictor"
VERSION = 1


@dataclass
class PosePredictorConfig:
    """Architecture. Defaults (``small``) are what we ship; ``tiny`` is for tests.

    ``seq_len`` 24 holds PHALP's 7-detection history plus a 15-frame occlusion, or the history plus
    10 frames of future; attention over 24 tokens costs nothing next to the detector. Width 128 and
    depth 2 (~0.33 M parameters, 1.3 MB) is what a few minutes of single-thread CPU training can fit;
    the residual readout (see the module docstring) means the network only learns motion.
    """

    seq_len: int = 24
    width: int = 128
    depth: int = 2
    heads: int = 4
    mlp: int = 256
    std_floor: float = 1e-2  # normalisation: never divide by a near-zero std (joints that barely move)


PRESETS = {"small": PosePredictorConfig(), "tiny": PosePredictorConfig(width=32, depth=1, heads=2, mlp=64)}


# ----------------------------------------------------------------------------- model
class Block(nn.Module):
    """Pre-norm transformer block; ``allowed`` (B, 1, 1, L) says which keys each query may attend to."""

    def __init__(self, width: int, heads: int, mlp: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Linear(mlp, width))

    def forward(self, h: Tensor, allowed: Tensor) -> Tensor:
        B, L, C = h.shape
        qkv = self.qkv(self.norm1(h)).view(B, L, 3, self.heads, C // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, nh, L, hs)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, nh, L, hs)
        h = h + self.proj(a.transpose(1, 2).reshape(B, L, C))
        return h + self.mlp(self.norm2(h))


def nearest_observed(observed: Tensor) -> Tensor:
    """(B, L) bool -> (B, L) index of the nearest observed slot (ties go to the earlier one)."""
    L = observed.shape[-1]
    slots = torch.arange(L, device=observed.device)
    dist = (slots[:, None] - slots[None, :]).abs().float()  # (L query, L key)
    dist = dist + 1e-3 * (slots[None, :] > slots[:, None])  # ties: prefer the past
    dist = torch.where(observed[:, None, :], dist, torch.full_like(dist, float("inf")))  # (B, L, L)
    return dist.argmin(-1)


class PoseTransformer(nn.Module):
    """Masked transformer: (B, L, 229) poses with (B, L) observed flags -> (B, L, 229) poses at every slot.

    ``mean``/``std`` (229,) are buffers, so the normalisation travels with the weights.
    """

    def __init__(self, cfg: PosePredictorConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or PosePredictorConfig()
        self.register_buffer("mean", torch.zeros(POSE_DIM))
        self.register_buffer("std", torch.ones(POSE_DIM))
        self.encoder = nn.Sequential(nn.Linear(POSE_DIM, cfg.width), nn.GELU(), nn.Linear(cfg.width, cfg.width))
        self.mask_token = nn.Parameter(torch.zeros(cfg.width))
        self.pos_emb = nn.Parameter(0.02 * torch.randn(cfg.seq_len, cfg.width))
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, cfg.mlp) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, 6 * NUM_ROTATIONS + NUM_BETAS + 3)
        nn.init.zeros_(self.head.weight)  # start as the nearest-observed-pose predictor
        nn.init.zeros_(self.head.bias)

    def set_normalisation(self, mean: Tensor, std: Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(self.cfg.std_floor))

    def forward(self, poses: Tensor, observed: Tensor, slots: Tensor | None = None) -> Tensor:
        """
        Args:
            poses: (B, L, 229) pose vectors; values at unobserved slots are ignored.
            observed: (B, L) bool, at least one True per row.
            slots: optional (B,) long; read out only these slots (inference: the query).

        Returns:
            (B, L, 229) poses at every slot, or (B, 1, 229) at ``slots``; rotation blocks are rotation matrices.
        """
        B, L, _ = poses.shape
        poses = torch.where(observed[..., None], poses, self.mean)  # ignore whatever sits in empty slots
        # 1. Encode observed tokens, mask the others, add positions.
        h = self.encoder((poses - self.mean) / self.std)  # (B, L, C)
        h = torch.where(observed[..., None], h, self.mask_token) + self.pos_emb[:L]
        # 2. Attend to observed slots only.
        allowed = observed[:, None, None, :]  # (B, 1, 1, L) keys
        for block in self.blocks:
            h = block(h, allowed)
        nearest = nearest_observed(observed)  # (B, L)
        if slots is not None:
            rows = torch.arange(B, device=h.device)
            h, nearest = h[rows, slots][:, None], nearest[rows, slots][:, None]  # (B, 1, C), (B, 1)
        out = self.head(self.norm(h))  # (B, S, 144 + 10 + 3)
        # 3. Correct the nearest observed pose.
        ref = torch.gather(poses, 1, nearest[..., None].expand(*nearest.shape, POSE_DIM))
        ref_rot = ref[..., :ROT_DIMS].unflatten(-1, (NUM_ROTATIONS, 3, 3))
        rot6d = rotmat_to_rot6d(ref_rot) + out[..., : 6 * NUM_ROTATIONS].unflatten(-1, (NUM_ROTATIONS, 6))
        rotmats = rot6d_to_rotmat(rot6d).flatten(-3)  # (B, L, 216)
        rest = ref[..., ROT_DIMS:] + out[..., 6 * NUM_ROTATIONS:] * self.std[ROT_DIMS:]  # betas + camera
        return torch.cat([rotmats, rest], dim=-1)


# ----------------------------------------------------------------------------- windows
def window_origin(times: np.ndarray, query: int, seq_len: int) -> int:
    """First frame of the ``seq_len``-frame window used to answer ``query``.

    Future query (after the last observation): PHALP's ``t_min``, moved later if the query would fall
    outside the window, but never past the last observation. Query inside the observed span: the
    window is centred on it (clipped to the span), so frames on both sides of a gap are seen.
    """
    t_min, t_max = int(times.min()), int(times.max())
    if query > t_max:
        return min(max(t_min, query - seq_len + 1), t_max)
    return int(np.clip(query - seq_len // 2, t_min, max(t_min, t_max - seq_len + 1)))


def build_window(poses: np.ndarray, times: np.ndarray, origin: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Place a track's poses at slots ``t - origin``; frames outside the window are dropped.

    Args:
        poses: (K, 229); times: (K,) integer frames (repeats allowed: they are averaged).
        origin: frame of slot 0; seq_len: L.

    Returns:
        tokens (L, 229) float32 (zeros at empty slots) and observed (L,) bool.
    """
    slots = np.asarray(times, np.int64) - int(origin)
    keep = (slots >= 0) & (slots < seq_len)
    tokens = np.zeros((seq_len, POSE_DIM), np.float64)
    counts = np.zeros(seq_len)
    np.add.at(tokens, slots[keep], np.asarray(poses, np.float64)[keep])
    np.add.at(counts, slots[keep], 1.0)
    observed = counts > 0
    tokens[observed] /= counts[observed, None]
    return tokens.astype(np.float32), observed


def _check_history(poses, times) -> tuple[np.ndarray, np.ndarray]:
    poses, times = np.asarray(poses), np.asarray(times)
    if poses.ndim != 2 or poses.shape[1] != POSE_DIM or times.shape != (poses.shape[0],) or len(times) == 0:
        raise ValueError(f"expected poses (K, {POSE_DIM}) and times (K,) with K >= 1; "
                         f"got {poses.shape}, {times.shape}.")
    return poses, times.astype(np.int64)


def last_pose_predict(poses: np.ndarray, times: np.ndarray, query_time: int | None = None) -> np.ndarray:
    """The fallback predictor: the most recent observed pose vector (229,), float64.

    ``query_time`` is accepted for API symmetry with :meth:`PosePredictor.predict` and ignored.
    """
    poses, times = _check_history(poses, times)
    return np.asarray(poses[np.flatnonzero(times == times.max())[-1]], np.float64)


# ----------------------------------------------------------------------------- checkpoint
def load_pose_predictor_weights(path: str | os.PathLike) -> tuple[PoseTransformer, dict]:
    """Read ``path`` (.safetensors) and its ``.json`` sidecar; check every key and shape.

    Raises ``ValueError`` listing every missing / unexpected / mis-shaped tensor, or when the weights'
    hash differs from the sidecar's (a pair torn by an interrupted save).
    """
    return load_weights(path, FORMAT, lambda config: PoseTransformer(PosePredictorConfig(**config)),
                        "pose predictor", "train one with `python -m workbench.tracking.train_pose_predictor --out DIR`")


def save_pose_predictor(path: str | os.PathLike, model: PoseTransformer, extra: dict | None = None) -> Path:
    """Write weights (safetensors) and the sidecar (config, SHA-256, ``extra``), both atomically."""
    return save_weights(path, model, FORMAT, VERSION, asdict(model.cfg), extra)


# ----------------------------------------------------------------------------- inference API
class PosePredictor:
    """Inference wrapper the tracker calls: numpy in, numpy (float64) out, CPU, ``inference_mode``."""

    def __init__(self, model: PoseTransformer, meta: dict | None = None):
        self.model = model.eval()
        self.meta = meta or {}
        self.seq_len = model.cfg.seq_len

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> PosePredictor:
        """Load a checkpoint; ``None`` = the shipped ``assets/checkpoints/pose_predictor.safetensors``."""
        if path is None:
            from workbench.assets import checkpoint_path

            path = checkpoint_path("pose_predictor")
        return cls(*load_pose_predictor_weights(path))

    def _forward(self, windows: list[tuple[np.ndarray, np.ndarray]], slots: np.ndarray) -> np.ndarray:
        """Windows [(tokens (L,229), observed (L,))], query slots (N,) -> (N, 229) float64."""
        tokens = torch.from_numpy(np.stack([w[0] for w in windows]))
        observed = torch.from_numpy(np.stack([w[1] for w in windows]))
        with torch.inference_mode(), torch_threads(1):
            out = self.model(tokens, observed, torch.as_tensor(slots, dtype=torch.long))  # (N, 1, 229)
        return out[:, 0].double().numpy()

    def _window(self, poses, times, query: int):
        origin = window_origin(times, query, self.seq_len)
        return build_window(poses, times, origin, self.seq_len), min(query - origin, self.seq_len - 1)

    def predict_batch(self, histories: list[tuple[np.ndarray, np.ndarray]], query_times) -> np.ndarray:
        """One forward over all tracks.

        Args:
            histories: N pairs (poses (K_i, 229), times (K_i,) int frames; repeats allowed).
            query_times: (N,) frames to predict (usually ``t_last + time_since_update + 1``). Queries
                more than ``seq_len - 1`` frames past the last observation are answered at that horizon.

        Returns:
            (N, 229) predicted pose vectors.
        """
        query_times = np.asarray(query_times, np.int64).reshape(-1)
        if len(histories) != len(query_times):
            raise ValueError(f"{len(histories)} histories but {len(query_times)} query times.")
        if not histories:
            return np.zeros((0, POSE_DIM))
        windows, slots = zip(*(self._window(*_check_history(p, t), int(q))
                               for (p, t), q in zip(histories, query_times)))
        return self._forward(list(windows), np.array(slots))

    def predict(self, poses: np.ndarray, times: np.ndarray, query_time: int) -> np.ndarray:
        """(K, 229) poses at (K,) frames -> (229,) pose at ``query_time``."""
        return self.predict_batch([(poses, times)], np.array([query_time]))[0]

    def complete(self, poses: np.ndarray, times: np.ndarray, query_times) -> np.ndarray:
        """Amodal completion: (Q,) frames where the person was not seen (inside or after the observed
        span) -> (Q, 229). Each query gets its own window (centred on it inside the span)."""
        query_times = np.asarray(query_times, np.int64).reshape(-1)
        return self.predict_batch([(poses, times)] * len(query_times), query_times)
