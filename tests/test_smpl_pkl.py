"""Loading the licensed SMPL .pkl without chumpy, on a small file in the official layout."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch

from workbench import assets
from workbench.body import BodyModel
from workbench.body.keypoints import SMPL_PARENTS
from workbench.body.smpl_pkl import convert_smpl_pkl, load_pickle

NUM_V = 6890  # smplx's SMPL keypoint vertex ids need SMPL's vertex count


def _fake_chumpy_module():
    """A module named like chumpy, so the pickle references ``chumpy.ch.Ch`` as the real files do."""
    pkg, ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:  # state layout of chumpy.Ch: the array lives in ``x``
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch.Ch = Ch
    pkg.ch = ch
    return pkg, ch


def write_fake_smpl(path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write an SMPL-layout pickle: chumpy arrays, a sparse J_regressor, protocol 2, latin1 strings."""
    rng = np.random.default_rng(seed)
    v_template = rng.normal(size=(NUM_V, 3)) * 0.3
    weights = rng.random((NUM_V, 24))
    weights /= weights.sum(1, keepdims=True)
    jreg = scipy.sparse.random(24, NUM_V, density=0.002, random_state=seed, format="csc")
    jreg = scipy.sparse.csc_matrix(jreg.multiply(1.0 / jreg.sum(1)))
    faces = rng.integers(0, NUM_V, size=(200, 3)).astype(np.uint32)
    plain = {
        "v_template": v_template, "shapedirs": rng.normal(size=(NUM_V, 3, 10)) * 0.01,
        "posedirs": rng.normal(size=(NUM_V, 3, 207)) * 1e-3, "weights": weights,
        "kintree_table": np.stack([np.array([4294967295, *SMPL_PARENTS[1:]]), np.arange(24)]),
        "f": faces,
    }
    pkg, ch = _fake_chumpy_module()
    sys.modules.update({"chumpy": pkg, "chumpy.ch": ch})
    try:
        data = {
            "v_template": ch.Ch(plain["v_template"]), "shapedirs": ch.Ch(plain["shapedirs"]),
            "posedirs": plain["posedirs"], "weights": ch.Ch(plain["weights"]), "J_regressor": jreg,
            "kintree_table": plain["kintree_table"], "f": faces, "bs_type": "lrotmin", "bs_style": "lbs",
        }
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    plain["J_regressor"] = jreg.toarray()
    return plain


def test_pickle_loads_without_chumpy(tmp_path):
    plain = write_fake_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    assert "chumpy" not in sys.modules
    data = load_pickle(tmp_path / "SMPL_NEUTRAL.pkl")
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J_regressor"):
        np.testing.assert_allclose(data[key], plain[key])


def test_conversion_and_body_model(tmp_path, monkeypatch):
    plain = write_fake_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    out = convert_smpl_pkl(tmp_path / "SMPL_NEUTRAL.pkl", tmp_path / "smpl.npz")
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_smpl_pkl(tmp_path / "SMPL_NEUTRAL.pkl", out)
    with pytest.warns(UserWarning, match="SMPL_to_J19"):
        body = BodyModel.from_file(out)
    res = body(pose=torch.zeros(2, 72))
    assert res.vertices.shape == (2, NUM_V, 3) and res.keypoints.shape == (2, 44, 3)
    expected_joints = plain["J_regressor"] @ plain["v_template"]
    np.testing.assert_allclose(res.joints[0].numpy(), expected_joints, atol=1e-4)


def test_env_var_pkl_is_converted_once_into_the_cache(tmp_path, monkeypatch):
    write_fake_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    j19 = np.random.default_rng(3).random((19, NUM_V))
    j19 /= j19.sum(1, keepdims=True)
    with open(tmp_path / "SMPL_to_J19.pkl", "wb") as f:
        pickle.dump(j19, f, protocol=2)
    monkeypatch.setattr(assets, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv(assets.SMPL_ENV, str(tmp_path / "SMPL_NEUTRAL.pkl"))
    monkeypatch.setenv(assets.SMPL_J19_ENV, str(tmp_path / "SMPL_to_J19.pkl"))
    body = BodyModel.smpl()
    cached = tmp_path / "cache" / "smpl" / "SMPL_NEUTRAL.npz"
    assert cached.exists()
    out = body()
    expected = torch.as_tensor(j19, dtype=torch.float32) @ out.vertices[0]
    torch.testing.assert_close(out.keypoints[0, 25:], expected, atol=1e-4, rtol=1e-4)


def test_restricted_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"v_template": Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_pickle(tmp_path / "evil.pkl")


def test_not_an_smpl_file(tmp_path):
    with open(tmp_path / "other.pkl", "wb") as f:
        pickle.dump({"foo": np.zeros(3)}, f)
    with pytest.raises(ValueError, match="not an SMPL model file"):
        convert_smpl_pkl(tmp_path / "other.pkl", tmp_path / "o.npz")
