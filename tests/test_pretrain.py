"""Heat-map pre-training (the ViTPose step, Table 6's P2): targets, decoding, the training run and
its resume, the ViTPose key layout, and starting HMR 2.0's backbone from it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from workbench.__main__ import main
from workbench.config import preset
from workbench.data import SynthHumans
from workbench.models import build_model
from workbench.models.heatmap_head import HeatmapHead, decode_heatmaps, heatmap_loss, heatmap_targets, heatmaps_to_crop
from workbench.pretrain import (BACKBONE_FILE, KeypointModel, PretrainConfig, export_backbone, load_keypoint_model,
                               pretrain_backbone)
from workbench.train import load_backbone_init, train


def micro(steps: int = 4) -> PretrainConfig:
    cfg = PretrainConfig.from_preset("micro")
    cfg.max_steps = steps
    return cfg


def tiny_data(cfg, n=8):
    return (SynthHumans(cfg.data, split="train", num_samples=n), SynthHumans(cfg.data, split="val", num_samples=4))


def test_targets_decode_back_to_the_keypoints_within_half_a_heatmap_pixel():
    g = torch.Generator().manual_seed(0)
    kp = torch.rand(3, 44, 3, generator=g) * torch.tensor([0.7, 0.98, 1.0]) - torch.tensor([0.35, 0.49, 0.0])
    kp[..., 2] = 1.0
    targets, weights = heatmap_targets(kp)
    assert targets.shape == (3, 44, 64, 48) and float(targets.max()) <= 1.0
    decoded, peak = decode_heatmaps(targets)
    err_px = (decoded - kp[..., :2]).abs() * 256  # crop pixels; a heat-map pixel is 4
    assert bool((weights == 1).all()) and float(err_px.max()) <= 2.0 + 1e-4
    assert bool((peak > 0.6).all())


def test_keypoints_off_the_vit_columns_or_unlabelled_get_no_weight():
    kp = torch.zeros(1, 3, 3)
    kp[0, 0] = torch.tensor([0.0, 0.0, 1.0])  # centre
    kp[0, 1] = torch.tensor([-0.45, 0.0, 1.0])  # x = 14 px of the 256 crop: left of the ViT's 32:224 columns
    kp[0, 2] = torch.tensor([0.1, 0.1, 0.0])  # not labelled
    _, weights = heatmap_targets(kp)
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    pred, target = torch.zeros(1, 3, 64, 48), torch.ones(1, 3, 64, 48)
    assert float(heatmap_loss(pred, target, weights)) == pytest.approx(0.5 / 3)


def test_keypoint_model_has_vitpose_key_layout_and_output_size():
    cfg = PretrainConfig.from_preset("tiny")
    model = KeypointModel(cfg)
    keys = set(model.state_dict())
    assert {"backbone.patch_embed.proj.weight", "backbone.pos_embed", "backbone.last_norm.weight",
            "keypoint_head.deconv_layers.0.weight", "keypoint_head.deconv_layers.1.running_mean",
            "keypoint_head.deconv_layers.3.weight", "keypoint_head.final_layer.weight"} <= keys
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 256, 256)).shape == (2, 44, 64, 48)
    assert HeatmapHead(32, 5, 8)(torch.zeros(1, 32, 16, 12)).shape == (1, 5, 64, 48)


def test_pretraining_learns_heatmaps_of_a_fixed_batch():
    """The loss must fall well below where it starts (about that of an all-zero prediction) when the same
    4 crops are seen repeatedly."""
    cfg = micro(steps=150)
    cfg.batch_size, cfg.lr, cfg.warmup_steps, cfg.head_channels = 4, 3e-3, 1, 16
    train_data = SynthHumans(cfg.data, split="train", num_samples=4, augment=False)
    torch.manual_seed(0)
    model = KeypointModel(cfg)
    batch = torch.utils.data.default_collate([train_data[i] for i in range(4)])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    losses = []
    for _ in range(cfg.max_steps):
        heatmaps = model(batch["img"])
        loss = heatmap_loss(heatmaps, *model.targets(batch["keypoints_2d"], heatmaps))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0]


def test_run_writes_a_backbone_that_hmr2_starts_from(tmp_path):
    cfg = micro()
    train_data, val_data = tiny_data(cfg)
    log = pretrain_backbone(cfg, tmp_path / "p2", train_data=train_data, val_data=val_data, progress=False)
    assert {"heatmap_loss", "lr", "pck@0.05", "pck@0.1"} <= set(log.columns)
    path = tmp_path / "p2" / BACKBONE_FILE
    weights = load_file(path)
    assert any(k.startswith("keypoint_head.") for k in weights)

    hmr = preset("micro")
    hmr.train.init_backbone = str(path)
    run = train(hmr, tmp_path / "hmr", steps=1, train_data=train_data, val_data=val_data, progress=False)
    assert run.step == 1
    model = build_model(hmr)
    load_backbone_init(model, path)
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, weights[f"backbone.{name}"]), name


def test_pretraining_resumes_exactly_and_refuses_to_overwrite(tmp_path):
    cfg = micro(steps=6)
    train_data, val_data = tiny_data(cfg)
    kw = dict(train_data=train_data, val_data=val_data, progress=False)
    straight = pretrain_backbone(cfg, tmp_path / "a", **kw)
    pretrain_backbone(cfg, tmp_path / "b", steps=3, **kw)
    resumed = pretrain_backbone(cfg, tmp_path / "b", **kw)
    cols = ["step", "heatmap_loss", "lr"]
    pd.testing.assert_frame_equal(straight[straight.kind == "train"][cols].reset_index(drop=True),
                                  resumed[resumed.kind == "train"][cols].reset_index(drop=True), rtol=1e-6)
    with pytest.raises(FileExistsError, match="overwrite"):
        pretrain_backbone(cfg, tmp_path / "a", resume=False, **kw)


def test_bad_init_backbone_says_what_to_do(tmp_path):
    model = build_model(preset("micro"))
    with pytest.raises(FileNotFoundError, match="python -m workbench pretrain"):
        load_backbone_init(model, tmp_path / "missing.safetensors")
    wide = PretrainConfig.from_preset("tiny")  # 192 wide: does not fit the micro ViT (32 wide)
    path = tmp_path / "wide.pt"
    torch.save(KeypointModel(wide).state_dict(), path)
    with pytest.raises(ValueError, match="embed_dim"):
        load_backbone_init(model, path)


def test_cli_pretrain_and_shards(tmp_path, capsys):
    assert main(["shards", "--preset", "micro", "--out", str(tmp_path / "shards"), "--count", "6"]) == 0
    rc = main(["pretrain", "--preset", "micro", "--out", str(tmp_path / "p2"), "--steps", "2",
               "--shards", str(tmp_path / "shards"), "--set", "data.num_val=2"])
    assert rc == 0 and (tmp_path / "p2" / BACKBONE_FILE).exists()
    assert "pre-trained to step 2" in capsys.readouterr().out
    assert main(["pretrain", "--preset", "micro", "--out", str(tmp_path / "x"), "--set", "nope=1"]) == 2
    assert "no field" in capsys.readouterr().err


def test_heatmaps_to_crop_places_the_peak_under_the_keypoint():
    kp = torch.tensor([[[0.1, -0.2, 1.0]]])
    targets, _ = heatmap_targets(kp)
    crop = heatmaps_to_crop(targets[0])  # (1, 256, 256)
    assert crop.shape == (1, 256, 256) and np.isnan(crop[0, :, :32]).all() and np.isnan(crop[0, :, 224:]).all()
    row, col = np.unravel_index(np.nanargmax(crop[0]), crop[0].shape)
    assert abs(col - (0.1 + 0.5) * 256) <= 3 and abs(row - (-0.2 + 0.5) * 256) <= 3


def test_exported_backbone_is_half_size_and_loads_back(tmp_path):
    cfg = micro()
    train_data, val_data = tiny_data(cfg)
    pretrain_backbone(cfg, tmp_path / "p2", train_data=train_data, val_data=val_data, progress=False)
    src = tmp_path / "p2" / BACKBONE_FILE
    dest = export_backbone(src, tmp_path / "ship.safetensors", extra={"training": {"command": "x"}})
    assert dest.stat().st_size < 0.6 * src.stat().st_size
    with pytest.raises(FileExistsError, match="overwrite"):
        export_backbone(src, dest)
    model = load_keypoint_model(dest)
    original = load_file(src)
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, original[name], atol=1e-3, rtol=1e-3), name
    hmr = build_model(preset("micro"))
    load_backbone_init(hmr, dest)
    assert hmr.backbone.pos_embed.dtype == torch.float32
    side = json.loads(dest.with_suffix(".json").read_text())
    assert side["format"] == "vitpose-heatmap" and side["dtype"] == "float16" and side["training"] == {"command": "x"}
    assert "pck@0.05" in side["metrics"]
    # A pair torn by an interrupted copy (weights of one run, sidecar of another) is refused.
    side["sha256"] = "0" * 64
    dest.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(ValueError, match="torn"):
        load_keypoint_model(dest)
    with pytest.raises(FileNotFoundError, match="pretrain"):
        load_keypoint_model(tmp_path / "missing.safetensors")


def test_shipped_heatmap_backbone_finds_keypoints_on_real_photos():
    """The shipped ViT (pre-trained on synthetic crops only) against the mediapipe pseudo labels of the real
    photos: measured 0.245 / 0.435 (PCK@0.05 / @0.1, 13 people); a regression below 0.3 @0.1 fails."""
    from workbench.assets import ASSETS_DIR
    from workbench.evaluate.report import real_photo_pck

    model = load_keypoint_model(ASSETS_DIR / "checkpoints" / "vit_tiny_heatmaps.safetensors")
    overall = real_photo_pck(model).iloc[-1]
    assert overall["name"] == "overall" and overall["visible"] > 300
    assert overall["pck@0.1"] > 0.3 and overall["pck@0.05"] > 0.15
