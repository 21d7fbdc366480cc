"""One conversion used everywhere: array-likes and torch tensors to numpy."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_numpy(x: Any, dtype: Any = None) -> np.ndarray:
    """numpy array from numpy, a list or a torch tensor (detached, moved to the CPU; bfloat16 widened
    to float32, which numpy lacks). ``dtype`` None keeps the input's."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)
