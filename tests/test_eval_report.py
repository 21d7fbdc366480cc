"""workbench.evaluate.report: slices, worst cases, paper tables, views and the comparison picture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.evaluate.report import (
    PAPER_TABLE_1,
    PELVIS,
    compare_samples,
    find_published_sets,
    ground_truth_output,
    paper_style_table,
    paper_tables,
    summary_by,
    view_vertices,
    worst_cases,
)
from workbench.evaluate.runner import summary_table
from workbench.evaluate.synthbench import SynthBench


def _frame(n: int = 6, seed: int = 0) -> pd.DataFrame:
    """A per-sample frame in evaluate_model's layout, with known values."""
    rng = np.random.default_rng(seed)
    visible = rng.random((n, 44)) > 0.2
    correct = visible & (rng.random((n, 44)) > 0.5)
    return pd.DataFrame({
        "mpjpe": np.linspace(100, 600, n), "pa_mpjpe": [50.0, np.nan, 300.0, 80.0, 120.0, 90.0][:n],
        "pck@0.05": correct.sum(1) / visible.sum(1), "pck@0.1": correct.sum(1) / visible.sum(1),
        "kp_visible": list(visible), "kp_correct@0.05": list(correct), "kp_correct@0.1": list(correct),
        "num_visible": visible.sum(1), "index": np.arange(n), "activity": ["a", "b"] * (n // 2),
        "pose_difficulty": np.linspace(10, 60, n),
    })


def test_summary_by_is_summary_table_of_each_group():
    df = _frame()
    table = summary_by(df, "activity")
    assert table.index.name == "activity" and list(table.index) == ["a", "b"]
    pd.testing.assert_frame_equal(table.loc[["a"]], summary_table({"a": df[df.activity == "a"]}),
                                  check_names=False)
    assert table["samples"].sum() == len(df)


def test_summary_by_bins_and_bad_column():
    df = _frame()
    table = summary_by(df, "pose_difficulty", bins=[0, 30, 100])
    assert table["samples"].tolist() == [3, 3]
    with pytest.raises(KeyError, match="no column"):
        summary_by(df, "nope")


def test_worst_cases_direction_and_nan():
    df = _frame()
    assert worst_cases(df, "pa_mpjpe", k=2)["index"].tolist() == [2, 4]  # largest error first, NaN skipped
    low = worst_cases(df, "pck@0.1", k=2)
    assert (low["pck@0.1"].to_numpy() <= df["pck@0.1"].sort_values().iloc[1] + 1e-12).all()  # smallest PCK
    with pytest.raises(KeyError):
        worst_cases(df, "nope")


def test_paper_tables_and_paper_style_table():
    t1, t2 = paper_tables()
    assert t1.loc["HMR 2.0b", ("3dpw-test", "pa_mpjpe")] == 54.3
    assert t2.loc["HMR 2.0b", ("lsp-extended", "pck@0.05")] == 0.53
    df = _frame()
    ours = paper_style_table({"m": {"3dpw-test": df, "coco-val": df, "standard": df}})
    assert list(ours.columns) == [("3dpw-test", "mpjpe"), ("3dpw-test", "pa_mpjpe"), ("coco-val", "pck@0.05"),
                                  ("coco-val", "pck@0.1"), ("standard", "mpjpe"), ("standard", "pa_mpjpe"),
                                  ("standard", "pck@0.05"), ("standard", "pck@0.1")]
    assert ours.loc["m", ("3dpw-test", "mpjpe")] == pytest.approx(df.mpjpe.mean())
    joined = pd.concat([t1, ours])  # same column keys: the paper's rows and ours line up
    assert joined.loc["m", ("3dpw-test", "pa_mpjpe")] == pytest.approx(df.pa_mpjpe.mean())
    assert set(PAPER_TABLE_1) == {"HMR 2.0a", "HMR 2.0b"}


def test_find_published_sets(tmp_path):
    found, missing = find_published_sets(None, None)
    assert not found and "WORKBENCH_EVAL_DIR" in missing[0]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "3dpw_test.npz").write_bytes(b"")
    (tmp_path / "data" / "coco_val.npz").write_bytes(b"")
    (tmp_path / "images" / "3DPW").mkdir(parents=True)
    found, missing = find_published_sets(tmp_path / "data", tmp_path / "images")
    assert list(found) == ["3dpw-test"]
    assert any(m.startswith("coco-val: no image folder") for m in missing)
    assert any(m.startswith("h36m-val-p2: no ") for m in missing)


def test_view_vertices_turns_about_the_pelvis():
    pelvis = np.array([0.1, 0.2, 0.3])
    up, forward = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, -1.0])  # camera frame: y down; facing the camera
    pts = pelvis + np.stack([np.zeros(3), up, forward])
    front, side, top = (view_vertices(pts, pelvis, v) for v in ("front", "side", "top"))
    np.testing.assert_allclose(front, [[0, 0, 0], [0, 1, 0], [0, 0, 1]], atol=1e-12)  # y up, facing the viewer
    np.testing.assert_allclose(side[1], [0, 1, 0], atol=1e-12)  # still upright
    assert abs(side[2, 2]) < 1e-12  # facing sideways
    np.testing.assert_allclose(top[1], [0, 0, 1], atol=1e-12)  # the head comes towards the viewer
    np.testing.assert_allclose(top[2], [0, -1, 0], atol=1e-12)  # the camera's side at the bottom
    with pytest.raises(ValueError, match="view"):
        view_vertices(pts, pelvis, "under")


def test_ground_truth_output_reproduces_the_labels(body):
    bench = SynthBench("unusual", num_samples=2, body=body)
    batch = torch.utils.data.default_collate([bench[0], bench[1]])
    truth = ground_truth_output(body, batch)
    kp, gt = truth["pred_keypoints_3d"], batch["keypoints_3d"][..., :3].float()
    torch.testing.assert_close(kp - kp[:, PELVIS:PELVIS + 1], gt - gt[:, PELVIS:PELVIS + 1], atol=1e-5, rtol=0)
    assert truth["pred_vertices"].shape == (2, body.layer.v_template.shape[0], 3)
    torch.testing.assert_close(truth["pred_cam_t"], batch["cam_t"].float())


def test_compare_samples_picture(body):
    from workbench.models import load_pretrained

    model, _, _ = load_pretrained(body=body)
    bench = SynthBench("standard", num_samples=2, body=body)
    img = compare_samples(model, bench, [0, 1], cell_px=96)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[0] >= 2 * 96
    assert img.std() > 10  # something was drawn


def test_real_photo_pck_on_the_shipped_labels():
    from workbench.config import preset
    from workbench.evaluate.pseudo_labels import real_photo_items
    from workbench.evaluate.report import real_photo_pck
    from workbench.models import build_model

    people = real_photo_items()[:2]
    table = real_photo_pck(build_model(preset("micro")).eval(), people)
    assert list(table["name"]) == [p.name for p in people] + ["overall"]
    assert ((table[["pck@0.05", "pck@0.1"]] >= 0) & (table[["pck@0.05", "pck@0.1"]] <= 1)).all().all()
    assert (table["pck@0.1"] >= table["pck@0.05"]).all()
    assert table["visible"].iloc[-1] == table["visible"].iloc[:-1].sum()
