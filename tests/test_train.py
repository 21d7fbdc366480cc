"""The training loop: runs, logs every term, resumes exactly, refuses to overwrite, stops on NaN,
survives a failed checkpoint write, and runs under torchrun with gloo."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from workbench import losses
from workbench.config import preset
from workbench.losses import NonFiniteLossError
from workbench.train import STATE, StepIndices, train

REPO = Path(__file__).resolve().parents[1]


def micro_config():
    return preset("micro")


def test_step_indices_are_a_function_of_the_step():
    a = StepIndices(10, 4, seed=0)
    b = StepIndices(10, 4, seed=0)
    assert [a(s) for s in range(6)] == [b(s) for s in reversed(range(6))][::-1]
    seen = sum((a(s) for s in range(5)), [])  # 20 draws = 2 epochs of 10, each a permutation
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    r0, r1 = StepIndices(100, 4, 0, rank=0, world=2), StepIndices(100, 4, 0, rank=1, world=2)
    assert not set(r0(0)) & set(r1(0))  # ranks see different samples


def test_train_logs_terms_validates_and_saves(tmp_path):
    result = train(micro_config(), tmp_path / "run", steps=3, progress=False)
    log = result.log
    terms = set(log.columns)
    assert {"keypoints_3d", "keypoints_2d", "global_orient", "body_pose", "betas", "adversarial",
            "discriminator", "total"} <= terms
    val = log[log.kind == "val"]
    assert len(val) == 1 and {"mpjpe", "pa_mpjpe", "pck@0.05", "pck@0.1"} <= terms
    assert (tmp_path / "run" / STATE).exists() and (tmp_path / "run" / "best.safetensors").exists()
    assert len(pd.read_csv(tmp_path / "run" / "log.csv")) == len(log)


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    cfg = micro_config()
    straight = train(cfg, tmp_path / "a", steps=6, progress=False).log
    train(cfg, tmp_path / "b", steps=3, progress=False)
    resumed = train(cfg, tmp_path / "b", steps=6, progress=False).log
    cols = ["step", "total", "keypoints_3d", "discriminator"]
    a = straight[straight.kind == "train"][cols].reset_index(drop=True)
    b = resumed[resumed.kind == "train"][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)


def test_existing_run_is_not_overwritten_silently(tmp_path):
    cfg = micro_config()
    train(cfg, tmp_path / "run", steps=3, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        train(cfg, tmp_path / "run", steps=3, resume=False, progress=False)
    other = micro_config()
    other.train.lr = 1.0
    with pytest.raises(ValueError, match="different config"):
        train(other, tmp_path / "run", steps=6, progress=False)
    result = train(cfg, tmp_path / "run", steps=3, overwrite=True, progress=False)
    assert result.log.step.max() == 3


def test_nan_loss_stops_with_step_and_term_and_keeps_the_checkpoint(tmp_path):
    cfg = micro_config()
    calls = {"n": 0}

    @losses.register_loss("explodes_at_step_5")
    def explodes(output, batch, model):
        calls["n"] += 1
        return torch.tensor(float("nan") if calls["n"] == 5 else 0.0)

    cfg.loss.weights["explodes_at_step_5"] = 1.0
    try:
        with pytest.raises(NonFiniteLossError, match="'explodes_at_step_5' is nan at step 5"):
            train(cfg, tmp_path / "run", steps=6, progress=False)
    finally:
        losses.LOSSES.pop("explodes_at_step_5")
    state = torch.load(tmp_path / "run" / STATE, weights_only=True)
    assert state["step"] == 3  # the last good checkpoint


def test_failed_checkpoint_write_leaves_no_corrupt_file(tmp_path, monkeypatch):
    cfg = micro_config()
    train(cfg, tmp_path / "run", steps=3, progress=False)
    good = (tmp_path / "run" / STATE).read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("workbench.io.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        train(cfg, tmp_path / "run", steps=6, progress=False)
    assert (tmp_path / "run" / STATE).read_bytes() == good
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_torchrun_with_gloo_on_two_processes(tmp_path):
    args = ["model.backbone.embed_dim=32", "model.backbone.depth=1", "model.backbone.num_heads=2",
            "model.head.dim=32", "model.head.depth=1", "model.head.heads=2", "model.head.dim_head=16",
            "model.head.mlp_dim=32", "train.batch_size=2", "train.mocap_batch_size=4", "train.log_every=1",
            "train.val_every=2", "train.ckpt_every=2", "data.num_val=4"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "workbench", "train", "--preset", "tiny", "--out", str(tmp_path / "ddp"), "--steps", "2",
           "--set", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = pd.read_csv(tmp_path / "ddp" / "log.csv")
    assert log.step.max() == 2 and (tmp_path / "ddp" / STATE).exists()


def test_init_weights_and_frozen_backbone(tmp_path):
    """Stage 2 of a recipe starts from stage 1's weights; a frozen backbone keeps them while the head trains."""
    from safetensors.torch import load_file

    cfg = micro_config()
    train(cfg, tmp_path / "a", steps=3, progress=False)
    start = load_file(tmp_path / "a" / "best.safetensors")
    frozen = micro_config()
    frozen.train.init_weights = str(tmp_path / "a" / "best.safetensors")
    frozen.train.freeze_backbone = True
    train(frozen, tmp_path / "b", steps=3, progress=False)
    after = torch.load(tmp_path / "b" / STATE, weights_only=True)["model"]
    backbone = [k for k in start if k.startswith("backbone.")]
    head = [k for k in start if k.startswith("smpl_head.") and after[k].is_floating_point()]
    assert backbone and all(torch.equal(after[k], start[k]) for k in backbone)
    assert any(not torch.equal(after[k], start[k]) for k in head)


def test_init_weights_of_another_architecture_is_refused(tmp_path):
    cfg = micro_config()
    train(cfg, tmp_path / "a", steps=1, progress=False)
    other = micro_config()
    other.model.head.dim = 48
    other.train.init_weights = str(tmp_path / "a" / "best.safetensors")
    with pytest.raises(ValueError, match="same architecture"):
        train(other, tmp_path / "b", steps=1, progress=False)
    other.train.init_weights = str(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError, match="init_weights"):
        train(other, tmp_path / "c", steps=1, progress=False)
