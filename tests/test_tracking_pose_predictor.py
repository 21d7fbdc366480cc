"""Pose predictor: shapes, valid rotations, batching, checkpoint safety, and the shipped model's quality."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from workbench.tracking.pose_predictor import (
    POSE_DIM,
    PRESETS,
    PosePredictor,
    PoseTransformer,
    build_window,
    last_pose_predict,
    load_pose_predictor_weights,
    save_pose_predictor,
    window_origin,
)
from workbench.tracking.train_pose_predictor import evaluate, main, make_tracks, observe, rotation_error_deg


@pytest.fixture(scope="module")
def tracks():
    """(clean, noisy) float64 (6, 48, 229) held-out synthetic tracks (a seed the training never uses)."""
    clean = make_tracks(6, 48, seed=123_456, progress=False).double()
    noisy = observe(clean, torch.Generator().manual_seed(7))
    return clean.numpy(), noisy.numpy()


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = PoseTransformer(PRESETS["tiny"])
    torch.nn.init.normal_(model.head.weight, std=0.05)  # an untrained head is zero: make the output depend on the input
    return PosePredictor(model)


@pytest.fixture(scope="module")
def shipped():
    return PosePredictor.load()


def _assert_rotations(out: np.ndarray):
    R = out[..., :216].reshape(-1, 3, 3)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-4)
    np.testing.assert_allclose(R.transpose(0, 2, 1) @ R, np.broadcast_to(np.eye(3), R.shape), atol=1e-4)


def test_shapes_and_valid_rotations(tiny, tracks):
    _, noisy = tracks
    times = np.arange(10, 17)
    out = tiny.predict(noisy[0, times], times, 20)
    assert out.shape == (POSE_DIM,) and out.dtype == np.float64
    _assert_rotations(out)
    filled = tiny.complete(noisy[0, times], times, np.array([12, 18, 25]))
    assert filled.shape == (3, POSE_DIM)
    _assert_rotations(filled)


def test_deterministic(tiny, tracks):
    _, noisy = tracks
    times = np.arange(7)
    np.testing.assert_array_equal(tiny.predict(noisy[1, times], times, 9), tiny.predict(noisy[1, times], times, 9))


def test_batch_equals_per_track(tiny, tracks):
    _, noisy = tracks
    histories = [(noisy[0, :7], np.arange(7)), (noisy[1, [3, 3, 3, 4, 6]], np.array([3, 3, 3, 4, 6])),
                 (noisy[2, 5:40], np.arange(5, 40)), (noisy[3, [20]], np.array([20]))]
    queries = np.array([8, 16, 45, 21])
    batch = tiny.predict_batch(histories, queries)
    single = np.stack([tiny.predict(p, t, q) for (p, t), q in zip(histories, queries)])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert tiny.predict_batch([], np.zeros(0)).shape == (0, POSE_DIM)


def test_single_frame_history_padding_copies(tiny, shipped, tracks):
    """PHALP initialises a track's history with 7 copies of its first detection."""
    _, noisy = tracks
    poses, times = np.repeat(noisy[0, 5][None], 7, 0), np.full(7, 5)
    for predictor in (tiny, shipped):
        out = predictor.predict(poses, times, 7)
        assert np.isfinite(out).all()
        _assert_rotations(out)
    np.testing.assert_array_equal(last_pose_predict(poses, times, 7), noisy[0, 5])


def test_windows_and_last_pose():
    times = np.array([4, 4, 5, 7])
    poses = np.arange(4)[:, None] * np.ones((4, POSE_DIM))
    tokens, observed = build_window(poses, times, origin=4, seq_len=6)
    assert observed.tolist() == [True, True, False, True, False, False]
    np.testing.assert_allclose(tokens[0], 0.5)  # copies at one frame are averaged
    assert window_origin(times, 9, 24) == 4  # future: PHALP's t_min
    assert window_origin(times, 100, 24) == 7  # far future: never past the last observation
    assert window_origin(np.arange(0, 100), 50, 24) == 38  # inside the span: centred
    np.testing.assert_array_equal(last_pose_predict(poses, np.array([4, 9, 5, 7]), 12), poses[1])
    with pytest.raises(ValueError, match="expected poses"):
        last_pose_predict(poses[:, :10], times, 9)


def test_untrained_model_is_nearest_pose(tracks):
    """The zero-initialised readout reproduces the last-pose fallback (the residual design)."""
    _, noisy = tracks
    predictor = PosePredictor(PoseTransformer(PRESETS["tiny"]))
    times = np.arange(7)
    np.testing.assert_allclose(predictor.predict(noisy[0, times], times, 10), noisy[0, 6], atol=1e-5)


def test_checkpoint_round_trip_and_bad_files(tiny, tracks, tmp_path):
    _, noisy = tracks
    path = tmp_path / "pp.safetensors"
    save_pose_predictor(path, tiny.model, {"note": "test"})
    loaded = PosePredictor.load(path)
    times = np.arange(7)
    np.testing.assert_array_equal(loaded.predict(noisy[0, times], times, 9), tiny.predict(noisy[0, times], times, 9))

    import safetensors.torch

    weights = safetensors.torch.load_file(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    for name, broken in (("missing", {k: v for k, v in weights.items() if k != "mask_token"}),
                         ("misshaped", {**weights, "pos_emb": weights["pos_emb"][:5]})):
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(safetensors.torch.save(broken))
        bad.with_suffix(".json").write_text(json.dumps({**meta, "sha256": None}))
        with pytest.raises(ValueError, match="mask_token" if name == "missing" else "pos_emb"):
            load_pose_predictor_weights(bad)
    torn = tmp_path / "torn.safetensors"
    torn.write_bytes(path.read_bytes()[:-4] + b"    ")
    torn.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="SHA-256"):
        load_pose_predictor_weights(torn)


def test_shipped_asset_is_safetensors_and_documented(shipped):
    from workbench.assets import asset_path

    path = asset_path("checkpoints/pose_predictor.safetensors")
    assert path.stat().st_size <= 3 * 2**20
    assert path.read_bytes()[8:9] == b"{"  # safetensors: 8-byte header length, then JSON (no pickle)
    meta = shipped.meta
    assert meta["training"]["command"].startswith("python -m workbench.tracking.train_pose_predictor")
    assert meta["metrics"]["gap_5_15"]["transformer"] < meta["metrics"]["gap_5_15"]["last_pose"]


def test_shipped_model_beats_last_pose(shipped, tracks):
    """A real check on tracks the training never saw: gap filling and 5/10-frame prediction."""
    clean, noisy = tracks
    metrics = evaluate(shipped, clean, noisy, seed=3)
    gap = metrics["gap_5_15"]
    assert gap["transformer"] < 0.9 * gap["last_pose"], gap
    for h in (5, 10):
        assert metrics[f"future_{h}"]["transformer"] < metrics[f"future_{h}"]["last_pose"], metrics

def test_rotation_error_metric():
    c, s = np.cos(np.deg2rad(30.0)), np.sin(np.deg2rad(30.0))
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # 30 degrees about z
    a, b = np.zeros(POSE_DIM), np.zeros(POSE_DIM)
    a[:216], b[:216] = np.tile(np.eye(3).ravel(), 24), np.tile(R.ravel(), 24)
    np.testing.assert_allclose(rotation_error_deg(a, b), 30.0, rtol=1e-6)
    assert rotation_error_deg(a, a) == 0.0


def test_cli_refuses_to_overwrite(tmp_path):
    args = ["--out", str(tmp_path), "--steps", "2", "--preset", "tiny", "--num-tracks", "8", "--eval-tracks", "4",
            "--quiet"]
    assert main(args) == 0
    meta = json.loads((tmp_path / "pose_predictor.json").read_text())
    assert meta["training"]["steps"] == 2 and "future_5" in meta["metrics"]
    with pytest.raises(FileExistsError, match="--overwrite"):
        main(args)
    assert main(args + ["--overwrite"]) == 0
