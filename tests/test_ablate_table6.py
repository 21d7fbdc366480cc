"""Table 6 runner: variants x seeds, evaluated on SynthBench-Img, saved without overwriting."""

from __future__ import annotations

import pytest

from workbench.ablate import run_seeded_ablation, table6_variants
from workbench.config import preset


def test_table6_variants_change_only_what_they_test():
    base = preset("micro")
    v = table6_variants(base, less_data=16)
    assert list(v) == ["B1", "B2", "HMR 2.0", "D1 (less data)"]
    assert (v["B1"].model.backbone.type, v["B1"].model.head.type) == ("resnet50", "mlp_ief")
    assert (v["B2"].model.backbone.type, v["B2"].model.head.type) == ("vit", "mlp_ief")
    assert v["HMR 2.0"].model == base.model and v["HMR 2.0"].data == base.data
    assert v["D1 (less data)"].data.num_train == 16 and v["D1 (less data)"].model == base.model
    p2 = table6_variants(base, less_data=16, pretrained="runs/p2/backbone.safetensors")["P2 (heat-map pretrained)"]
    assert p2.train.init_backbone == "runs/p2/backbone.safetensors" and v["HMR 2.0"].train.init_backbone is None
    assert p2.model == base.model and p2.data == base.data


def test_seeded_ablation_table_and_no_overwrite(tmp_path):
    base = preset("micro")
    configs = {"HMR 2.0": base}
    table = run_seeded_ablation(configs, steps=2, out_root=tmp_path, seeds=(0, 1), bench_splits=("standard",),
                                bench_samples=2, progress=False)
    row = table.iloc[0]
    assert row["seeds"] == 2 and row["variant"] == "HMR 2.0" and row["split"] == "standard"
    assert row["pa_mpjpe"] > 0 and row["pa_mpjpe ±"] >= 0
    assert (tmp_path / "table6.csv").exists() and (tmp_path / "table6_per_seed.csv").exists()
    with pytest.raises(FileExistsError):
        run_seeded_ablation(configs, steps=2, out_root=tmp_path, seeds=(0,), bench_splits=("standard",),
                            bench_samples=2, progress=False)
