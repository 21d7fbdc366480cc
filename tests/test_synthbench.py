"""SynthBench-Img: determinism, the shard cache, split character, and evaluation through the runner."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluate.synthbench import BENCH_SPLITS, SynthBench, bench_scene
from workbench.evaluate.runner import evaluate_model, summary_table

META = {"split", "index", "activity", "truncated", "truncation_fraction", "occluded_fraction", "visible_fraction",
        "tilt_deg", "pose_difficulty"}


def _same(a: dict, b: dict) -> None:
    for key in ("img", "keypoints_2d", "keypoints_3d", "cam_t"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["meta"] == b["meta"]


def test_samples_are_fixed_and_cache_is_identical(tmp_path, body):
    fresh = SynthBench("occlusion", num_samples=3, body=body)
    again = SynthBench("occlusion", num_samples=5, body=body)  # sample i does not depend on the length
    cached = SynthBench("occlusion", num_samples=3, cache=True, cache_dir=tmp_path / "bench", body=body, progress=False)
    assert (tmp_path / "bench" / "index.json").exists() and len(cached) == 3
    for i in range(3):
        item = fresh[i]
        _same(item, again[i])
        _same(item, cached[i])
    assert set(item["meta"]) == META and item["img"].shape == (3, 256, 256) and "mask" not in item
    reopened = SynthBench("occlusion", num_samples=3, cache=True, cache_dir=tmp_path / "bench", body=body)
    _same(reopened[2], item)


def test_splits_have_their_character(body):
    scenes = {s: bench_scene(s) for s in BENCH_SPLITS}
    assert scenes["standard"].truncation_prob == 0 and scenes["standard"].occluder_prob == 0
    assert scenes["standard"].orientation.arbitrary_fraction == 0
    assert scenes["unusual"].orientation.arbitrary_fraction > 0.2 and "random" in scenes["unusual"].activity_mix
    assert scenes["occlusion"].occluder_prob == 1.0 and scenes["truncation"].truncation_prob > 0.5
    meta = {s: [SynthBench(s, num_samples=4, body=body)[i]["meta"] for i in range(4)] for s in BENCH_SPLITS}
    assert all(m["split"] == s for s in meta for m in meta[s])
    assert all(m["truncation_fraction"] == 0 and m["occluded_fraction"] == 0 for m in meta["standard"])
    assert max(m["truncation_fraction"] for m in meta["truncation"]) > 0.1
    assert np.mean([m["occluded_fraction"] for m in meta["occlusion"]]) > 0
    assert scenes["heavy_occlusion"].min_occluders >= 2 and scenes["heavy_occlusion"].max_occluders >= 4
    assert (np.mean([m["occluded_fraction"] for m in meta["heavy_occlusion"]])
            > np.mean([m["occluded_fraction"] for m in meta["occlusion"]]))
    assert all(m["tilt_deg"] < 60 for m in meta["standard"])  # upright everyday poses


def test_fast_mode_size_and_bad_split(monkeypatch, body):
    monkeypatch.setenv("WORKBENCH_FAST", "1")
    assert len(SynthBench("standard", body=body)) == BENCH_SPLITS["standard"].num_fast
    monkeypatch.setenv("WORKBENCH_FAST", "0")
    assert len(SynthBench("standard", body=body)) == BENCH_SPLITS["standard"].num_full >= 500
    with pytest.raises(KeyError, match="splits"):
        SynthBench("everything")


def test_runner_agrees_with_train_evaluate(body):
    """The per-sample runner, summarised, gives the numbers of the training loop's evaluate."""
    from workbench.models import load_pretrained
    from workbench.train import evaluate

    model, _, _ = load_pretrained(body=body)
    bench = SynthBench("truncation", num_samples=6, body=body)
    df = evaluate_model(model, bench, batch_size=4, progress=False)
    assert len(df) == 6 and META <= set(df.columns) and df["split"].eq("truncation").all()
    assert df[["mpjpe", "pa_mpjpe"]].notna().all().all() and (df["pa_mpjpe"] <= df["mpjpe"] + 1e-3).all()
    table = summary_table({"truncation": df, "cut": df[df.truncation_fraction > 0]})
    reference = evaluate(model, bench, batch_size=4)
    for key, value in reference.items():
        assert table.loc["truncation", key] == pytest.approx(value, rel=1e-4, abs=1e-4), key
    assert table.loc["cut", "samples"] == int((df.truncation_fraction > 0).sum())


def test_cache_key_follows_the_scene_settings(monkeypatch):
    """A generator setting added or changed must give a new cache folder, not collide with old shards."""
    import dataclasses

    from workbench.evaluate import synthbench

    before = SynthBench.default_cache_dir("occlusion", 16)
    original = synthbench.bench_scene
    monkeypatch.setattr(synthbench, "bench_scene",
                        lambda split: dataclasses.replace(original(split), max_occluders=7))
    assert SynthBench.default_cache_dir("occlusion", 16) != before
