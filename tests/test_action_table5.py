"""Table 5 runner: one row per pose engine, group columns, and engines as callables."""

from __future__ import annotations

from workbench.action import ActionConfig, make_clips
from workbench.action.table5 import run_table5


def test_run_table5_rows_per_engine():
    train = make_clips(24, num_frames=48, seed=0, classes=["walk", "wave", "hug", "stand"])
    test = make_clips(8, num_frames=48, seed=1, classes=["walk", "wave", "hug", "stand"])
    seen = []

    def identity(clips):
        seen.append(len(clips.pose))
        return clips

    cfg = ActionConfig.tiny(num_classes=len(train.classes), frame_length=48)
    table = run_table5(train, test, {"ground truth": 0.0, "noise 30 deg": 30.0, "mine": identity}, steps=5, cfg=cfg)
    assert list(table.engine) == ["ground truth", "noise 30 deg", "mine"]
    assert {"pose_err_mm", "mAP", "PM", "PI", "OM", "train_s", "empty_classes"} <= set(table.columns)
    assert table.pose_err_mm[0] == 0 == table.pose_err_mm[2] < table.pose_err_mm[1]
    assert ((table["mAP"] >= 0) & (table["mAP"] <= 100)).all()
    assert seen == [24, 8]  # the callable engine saw the train clips, then the test clips
