"""Read the licensed SMPL ``.pkl`` files without chumpy, and convert them once to ``.npz``.

The official SMPL pickles (e.g. ``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``) were written
with Python 2 and hold some arrays as ``chumpy`` objects. Installing chumpy is painful on modern
Python/numpy, and unpickling arbitrary classes is unsafe. :class:`RestrictedUnpickler` allows only
numpy, scipy.sparse and chumpy's classes, and replaces the latter by a stand-in that keeps the
pickled state, from which the plain array (``x``) is taken.

CLI: ``python -m workbench.body.smpl_pkl IN.pkl OUT.npz [--j19 SMPL_to_J19.pkl] [--overwrite]``.
"""

from __future__ import annotations

import argparse
import codecs
import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from workbench.io import atomic_savez, check_writable_target

SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class ChumpyStandIn:
    """Takes the place of any chumpy class while unpickling; keeps the object's state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_array(self) -> np.ndarray:
        if isinstance(self.state, dict) and "x" in self.state:
            return np.asarray(self.state["x"])
        raise ValueError(
            "a chumpy object in this pickle has no plain array ('x'); it is not in the layout of "
            "the official SMPL files. Convert it with chumpy installed, or export plain numpy arrays."
        )


_ALLOWED = {
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles from Python 3 store bytes
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,  # chumpy objects keep sets of names in their state
    ("builtins", "set"): set,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays, scipy sparse matrices and chumpy stand-ins only."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module.split(".")[0] == "chumpy":
            return ChumpyStandIn
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return getattr(np._core.multiarray if hasattr(np, "_core") else np.core.multiarray, name)
        if module.startswith("scipy.sparse") and name.endswith("_matrix"):
            return getattr(scipy.sparse, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a pickle: only numpy, scipy.sparse and chumpy "
            "arrays are expected in an SMPL model file."
        )


def _plain(value: Any) -> Any:
    if isinstance(value, ChumpyStandIn):
        return value.to_array()
    if scipy.sparse.issparse(value):
        return value.toarray()
    return value


def load_pickle(path: str | Path) -> Any:
    """Unpickle an SMPL-family file safely (Python 2 pickles included). Returns plain objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass the path of your SMPL .pkl file.")
    with open(path, "rb") as f:
        data = RestrictedUnpickler(f, encoding="latin1").load()
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    return _plain(data)


def smpl_pkl_to_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays ``smplx`` needs from an official SMPL pickle, as plain numpy."""
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not an SMPL model dict.")
    missing = [k for k in SMPL_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path} is not an SMPL model file: keys {missing} are missing (has {sorted(data)}).")
    out = {k: np.asarray(data[k]) for k in SMPL_KEYS}
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[k] = out[k].astype(np.float32)
    out["kintree_table"] = out["kintree_table"].astype(np.int64)
    out["f"] = out["f"].astype(np.int64)
    return out


def convert_smpl_pkl(src: str | Path, dst: str | Path, j19: str | Path | None = None,
                     overwrite: bool = False) -> Path:
    """Convert an official SMPL ``.pkl`` (and optionally ``SMPL_to_J19.pkl``) to one ``.npz``.

    Returns the written path. The output loads with :class:`workbench.body.BodyModel`.
    """
    dst = check_writable_target(dst, overwrite)
    arrays = smpl_pkl_to_arrays(src)
    if j19 is not None:
        extra = np.asarray(load_pickle(j19), dtype=np.float32)
        if extra.shape != (19, arrays["v_template"].shape[0]):
            raise ValueError(f"{j19} has shape {extra.shape}; expected (19, {arrays['v_template'].shape[0]}).")
        arrays["J_regressor_extra"] = extra
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_savez(dst, arrays)
    return dst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Convert an official SMPL .pkl to .npz without chumpy.")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--j19", type=Path, default=None, help="SMPL_to_J19.pkl from the HMR 2.0 data")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    print(convert_smpl_pkl(args.src, args.dst, args.j19, args.overwrite))


if __name__ == "__main__":
    main()
