"""Action transformer: shapes, attention masking, windows, checkpoints, and a real learning check."""

import time

import numpy as np
import pytest
import torch

from workbench.action.model import ActionConfig, ActionTransformer, load_action_model
from workbench.action.train import ActionArrays, predict_scores, train_action_model, windows


def _batch(B=2, P=2, T=12, seed=0, p_det=0.7):
    g = torch.Generator().manual_seed(seed)
    return {"pose": torch.randn(B, P, T, 229, generator=g), "joints": torch.randn(B, P, T, 135, generator=g),
            "has_detection": torch.rand(B, P, T, generator=g) < p_det}


def test_shapes_and_limits():
    torch.manual_seed(0)
    model = ActionTransformer(ActionConfig.tiny(num_classes=5)).eval()
    assert model(_batch(B=3, P=2, T=16)).shape == (3, 2, 16, 5)
    assert model(_batch(B=1, P=1, T=7)).shape == (1, 1, 7, 5)  # fewer people / frames than the maxima
    with pytest.raises(ValueError, match="windows"):
        model(_batch(T=17))
    empty = _batch(p_det=0.0)  # nothing detected anywhere: finite, no NaN from an all-masked softmax
    assert torch.isfinite(model(empty)).all()
    with_appearance = ActionTransformer(ActionConfig.tiny(appearance_dim=8)).eval()
    assert with_appearance({**_batch(), "appearance": torch.randn(2, 2, 12, 8)}).shape == (2, 2, 12, 4)


def test_preset_sizes():
    assert 40e6 < ActionTransformer(ActionConfig.lart()).num_parameters() < 45e6  # 16 blocks of width 512
    assert ActionTransformer(ActionConfig.cpu()).num_parameters() < 1e6


def test_masked_frames_cannot_change_other_outputs():
    torch.manual_seed(0)
    model = ActionTransformer(ActionConfig.tiny(depth=2)).eval()
    batch = _batch()
    ref = model(batch)
    # Undetected frames: any input (even NaN) leaves every logit unchanged, their own included.
    edited = {k: v.clone() for k, v in batch.items()}
    hidden = ~batch["has_detection"]
    edited["pose"][hidden] = 1e3
    edited["joints"][hidden] = float("nan")
    torch.testing.assert_close(model(edited), ref, rtol=0, atol=0)
    # Sanity: a detected frame does reach the other frames and the other person (attention is live).
    b, p, t = [int(i) for i in torch.nonzero(batch["has_detection"])[0]]
    edited = {k: v.clone() for k, v in batch.items()}
    edited["pose"][b, p, t] += 1.0
    changed = (model(edited) - ref).abs().sum(-1)[b]  # (P, T)
    assert (changed[1 - p] > 0).all() and changed[p].count_nonzero() > 1
    # Training mode masks 40 % more at random: outputs vary between calls.
    model.train()
    assert not torch.equal(model(batch), model(batch))


def _toy_split(n, seed, C=4, P=2, T=16):
    """Separable labels: a, b, c = sign / threshold of one coordinate of the frame; d = sign of a
    per-person constant feature of the *other* person (an "interaction": needs attention across people)."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(size=(n, P, T, 229)).astype(np.float32)
    pose[..., 100] = rng.normal(size=(n, P, 1))
    joints = rng.normal(size=(n, P, T, 135)).astype(np.float32)
    det = rng.random((n, P, T)) < 0.85
    labels = np.stack([pose[..., 216] > 0, joints[..., 0] > 0, pose[..., 3] > 0.5,
                       pose[:, ::-1, :, 100] > 0], axis=-1)[..., :C]
    return ActionArrays(pose, joints, det, labels & det[..., None], class_names=["a", "b", "c", "d"][:C])


def test_tiny_model_learns_separable_toy_actions():
    torch.manual_seed(0)
    cfg = ActionConfig.tiny(num_classes=4, width=64, heads=4, mlp=128, mask_ratio=0.0)
    start = time.perf_counter()
    res = train_action_model(_toy_split(512, 0), _toy_split(32, 1), cfg, steps=300, lr=3e-3, batch_size=16, seed=0,
                             groups={"a": "PM", "b": "PM", "c": "OM", "d": "PI"}, eval_every=100, progress=False)
    assert time.perf_counter() - start < 20
    untrained = res.log["loss"].iloc[:5].mean()
    assert res.log["loss"].iloc[-10:].mean() < 0.5 * untrained
    val_loss = res.log["val_loss"].dropna()
    assert len(val_loss) == 3 and val_loss.iloc[-1] < val_loss.iloc[0]
    assert res.metrics.mAP > 0.9, res.metrics.ap  # held-out clips; chance is ~0.4
    assert set(res.metrics.group_mAP) == {"PM", "OM", "PI"}
    assert res.metrics.ap["d"] > 0.9  # needs attention across people


def test_windows_pad_short_tracks_and_cut_long_ones():
    short = _toy_split(2, 0, T=10)
    w = windows(short, 16)
    assert w.has_detection.shape == (2, 2, 16) and len(w) == 2
    assert not w.has_detection[:, :, 10:].any() and not w.labels[:, :, 10:].any()
    np.testing.assert_array_equal(w.pose[:, :, :10], short.pose)
    long = _toy_split(1, 0, T=40)
    long.has_detection[:, :, 8:32] = False  # a long gap
    w = windows(long, 16, min_detections=0)
    assert list(w.start) == [0, 16, 24] and list(w.clip) == [0, 0, 0]  # last window aligned to the end
    np.testing.assert_array_equal(w.pose[2], long.pose[0, :, 24:40])
    assert list(windows(long, 8).start) == [0, 32]  # windows inside the gap have nothing to learn: dropped
    assert len(windows(long, 8, min_detections=0)) == 5
    assert windows(long, 16, max_people=1).has_detection.shape[1] == 1


def test_from_clips_and_predict_scores_on_long_clips():
    clips = [{"pose": np.zeros((30, 229)), "joints": np.zeros((30, 135)), "has_detection": np.ones(30, bool),
              "labels": np.zeros((30, 4))},
             {"pose": np.ones((2, 9, 229)), "joints": np.ones((2, 9, 135)), "has_detection": np.ones((2, 9), bool),
              "labels": np.ones((2, 9, 4))}]
    data = ActionArrays.from_clips(clips)
    assert data.pose.shape == (2, 2, 30, 229) and not data.has_detection[0, 1].any()
    assert not data.has_detection[1, :, 9:].any()
    model = ActionTransformer(ActionConfig.tiny(max_people=1))
    scores = predict_scores(model, data)  # 30 frames > 16: scored in windows and stitched
    assert scores.shape == (2, 2, 30, 4)
    assert np.isfinite(scores[:, 0]).all() and np.isnan(scores[:, 1]).all()  # person 2 exceeds max_people


def test_checkpoint_refuses_overwrite_and_round_trips(tmp_path):
    cfg = ActionConfig.tiny(num_classes=4)
    train, val = _toy_split(8, 0), _toy_split(4, 1)
    res = train_action_model(train, val, cfg, steps=2, batch_size=4, out_dir=tmp_path, progress=False)
    assert res.checkpoint.is_file() and (tmp_path / "train_log.csv").is_file()
    with pytest.raises(FileExistsError, match="overwrite"):
        train_action_model(train, val, cfg, steps=2, batch_size=4, out_dir=tmp_path, progress=False)
    train_action_model(train, val, cfg, steps=3, batch_size=4, out_dir=tmp_path, overwrite=True, progress=False)
    model, meta = load_action_model(res.checkpoint)
    assert meta["train"]["steps"] == 3 and meta["class_names"] == ["a", "b", "c", "d"]
    assert meta["val"]["summary"]["mAP"] == pytest.approx(
        train_action_model(train, val, cfg, steps=3, batch_size=4, progress=False).metrics.mAP)
