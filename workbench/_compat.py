"""Make ``import torchvision`` (and therefore ``import timm``) work beside the CPU torch wheel.

PyPI's torchvision 0.28.0, the release matched to torch 2.13, is a CUDA build. Beside the CPU
torch its compiled library ``torchvision/_C.so`` cannot load, and torchvision's Python code then
fails at import with ``operator torchvision::nms does not exist`` while registering fake kernels
for two ops. Declaring those two op schemas first is enough for everything the workbench uses
(timm models, ``torchvision.transforms``); ``torchvision.ops.nms`` itself stays unavailable.

Where the compiled library does load (a matched CUDA torch/torchvision pair, see README
"GPU users"), nothing is changed.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_LIBRARY = None  # keeps the torch.library.Library alive (its definitions die with it)


def ensure_torchvision_importable() -> None:
    """Declare ``torchvision::nms``/``qnms`` if torchvision's compiled ops cannot load. Idempotent."""
    global _LIBRARY
    if _LIBRARY is not None or "torchvision" in sys.modules:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return
    for so in glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so")):
        try:
            torch.ops.load_library(so)
            return
        except OSError:
            break
    missing = [n for n in _SCHEMAS if not torch._C._jit_get_schemas_for_operator(f"torchvision::{n}")]
    if missing:
        _LIBRARY = torch.library.Library("torchvision", "DEF")
        for name in missing:
            _LIBRARY.define(_SCHEMAS[name])
