"""Small trained models on disk: weights in safetensors plus a JSON sidecar, written and read safely.

The sidecar (``<name>.json`` next to ``<name>.safetensors``) holds a format tag, a version, the config
the model is rebuilt from, the weights' SHA-256 (so a pair torn by an interrupted copy is caught) and
whatever the trainer adds (metrics, how it was trained). Weights are never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from workbench.io import atomic_write_bytes, json_bytes

__all__ = ["load_weights", "save_weights", "sidecar_path", "write_pair"]


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def write_pair(path: str | os.PathLike, data: bytes, sidecar: dict) -> Path:
    """Write safetensors ``data`` to ``path`` and ``sidecar`` next to it, each atomically; returns the sidecar path.

    The sidecar is encoded before either file is touched, so metadata JSON cannot hold raises without
    replacing an existing pair. Weights go first, the sidecar last: the hash in the sidecar ties the two.
    """
    encoded = json_bytes(sidecar)
    atomic_write_bytes(path, data)
    atomic_write_bytes(sidecar_path(path), encoded)
    return sidecar_path(path)


def save_weights(path: str | os.PathLike, module: nn.Module, format: str, version: int, config: dict,
                 extra: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``module``'s state (safetensors) then its sidecar, both atomically; returns the sidecar path.

    ``dtype`` (e.g. ``torch.float16`` for a shipped file) casts the floating-point tensors; loading casts
    them back to the rebuilt model's dtype. Does not check for an existing file: callers decide (and
    refuse without ``overwrite``).
    """
    import safetensors.torch

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path} must end in .safetensors (the sidecar goes next to it as .json).")
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    data = safetensors.torch.save(tensors, metadata={"format": format})
    meta = {"format": format, "version": version, "weights": path.name, "sha256": hashlib.sha256(data).hexdigest(),
            "num_parameters": sum(p.numel() for p in module.parameters()), "config": config,
            "dtype": str(next((v.dtype for v in tensors.values() if v.is_floating_point()), "none")).removeprefix("torch."),
            **(extra or {})}
    return write_pair(path, data, meta)


def load_weights(path: str | os.PathLike, format: str, build: Callable[[dict], nn.Module], what: str,
                 how_to_make: str) -> tuple[nn.Module, dict]:
    """Read a pair written by :func:`save_weights`: ``build(meta["config"])`` gets the weights, in eval mode.

    Raises FileNotFoundError (saying ``how_to_make`` one), or ValueError for another format, a torn pair
    (hash mismatch) or weights that do not fit the rebuilt model (every missing / unexpected /
    mis-shaped tensor listed at once).
    """
    from safetensors.torch import load as safetensors_from_bytes  # tensors only, never a pickle

    from workbench.models.state import diff_state_dict

    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file() or not side.is_file():
        raise FileNotFoundError(f"a {what} is {path} plus {side}; {how_to_make}.")
    meta = json.loads(side.read_text())
    if meta.get("format") != format:
        raise ValueError(f"{side} is not a {what} sidecar (format {meta.get('format')!r}, want {format!r}).")
    data = path.read_bytes()
    if meta.get("sha256") and hashlib.sha256(data).hexdigest() != meta["sha256"]:  # no hash: a hand-made sidecar
        raise ValueError(f"{path} does not match the SHA-256 in {side}: the pair is torn; retrain or re-copy both.")
    weights = safetensors_from_bytes(data)
    model = build(meta["config"])
    diff_state_dict(model.state_dict(), weights).raise_if_any(
        str(path), f"The file was written for another {what} configuration or is damaged; retrain it.")
    model.load_state_dict(weights, strict=True)
    return model.eval(), meta
