"""Where the workbench's files live, and how a user's licensed files are found.

Nothing is downloaded at run time. The open body and our checkpoints ship in ``assets/``; the
licensed SMPL model and the official HMR 2.0 checkpoint are found through an argument or an
environment variable, with errors that say what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
CACHE_DIR = Path(os.environ.get("WORKBENCH_CACHE", Path.home() / ".cache" / "workbench"))

OPEN_BODY = "open_body.npz"
OPEN_BODY_MEAN_PARAMS = "open_body_mean_params.npz"

SMPL_ENV = "WORKBENCH_SMPL_PATH"
SMPL_J19_ENV = "WORKBENCH_SMPL_J19_PATH"
SMPL_MEAN_PARAMS_ENV = "WORKBENCH_SMPL_MEAN_PARAMS"


def asset_path(name: str) -> Path:
    """Path of a shipped asset, with a clear error if the checkout lacks it."""
    path = ASSETS_DIR / name
    if not path.exists():
        raise FileNotFoundError(
            f"asset {name!r} is missing from {ASSETS_DIR}. It ships with the repository: check out the "
            "full tree (git lfs is not used), or rebuild the open body with "
            "`python -m workbench.body.open_body --overwrite`."
        )
    return path


def smpl_path(path: str | os.PathLike | None = None) -> Path:
    """The user's licensed SMPL neutral model (``.pkl`` or converted ``.npz``).

    Looks at ``path``, then ``$WORKBENCH_SMPL_PATH``.
    """
    chosen = path or os.environ.get(SMPL_ENV)
    if not chosen:
        raise FileNotFoundError(
            "no SMPL model given. SMPL needs registration at https://smpl.is.tue.mpg.de and cannot be "
            f"shipped: download the neutral model (.pkl), then pass its path or set {SMPL_ENV}=/path/to/it. "
            "Without it, use the open body: BodyModel.open_body()."
        )
    chosen = Path(chosen).expanduser()
    if not chosen.is_file():
        raise FileNotFoundError(f"SMPL model {chosen} does not exist (from {'argument' if path else SMPL_ENV}).")
    return chosen


def mean_params_path(body_name: str) -> Path:
    """Mean pose/shape/camera file (``smpl_mean_params.npz`` layout) for a body.

    The open body ships its own; for SMPL set ``$WORKBENCH_SMPL_MEAN_PARAMS`` to HMR 2.0's
    ``smpl_mean_params.npz`` (the open body's file is used otherwise: same layout, 6D pose).
    """
    if body_name != "open_body" and os.environ.get(SMPL_MEAN_PARAMS_ENV):
        return Path(os.environ[SMPL_MEAN_PARAMS_ENV]).expanduser()
    return asset_path(OPEN_BODY_MEAN_PARAMS)


CHECKPOINTS_DIR = ASSETS_DIR / "checkpoints"
SHIPPED_CHECKPOINTS = {"hmr2_tiny": "hmr2_tiny.safetensors", "pose_predictor": "pose_predictor.safetensors"}


def checkpoint_path(name: str = "hmr2_tiny") -> Path:
    """A checkpoint we trained and ship in ``assets/checkpoints/`` (weights + a ``.json`` sidecar)."""
    if name not in SHIPPED_CHECKPOINTS:
        raise KeyError(f"no shipped checkpoint named {name!r}; available: {sorted(SHIPPED_CHECKPOINTS)}.")
    return asset_path(f"checkpoints/{SHIPPED_CHECKPOINTS[name]}")
