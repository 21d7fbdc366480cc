"""MPJPE / PA-MPJPE / PCK with HMR 2.0's protocol, against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.body.keypoints import EVAL_JOINTS_14
from workbench.evaluate import mpjpe, pa_mpjpe, pck
from workbench.evaluate.pose_metrics import pose_metrics, summarize
from workbench.geometry import axis_angle_to_rotmat


def joints(seed: int = 0, b: int = 2) -> torch.Tensor:
    return torch.randn(b, 44, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_mpjpe_is_translation_free_and_in_mm():
    gt = joints()
    assert mpjpe(gt + 3.0, gt).abs().max() < 1e-9
    pred = gt.clone()
    pred[:, EVAL_JOINTS_14[0]] += torch.tensor([0.0, 0.014, 0.0], dtype=torch.float64)  # 14 mm on one of 14 joints
    torch.testing.assert_close(mpjpe(pred, gt), torch.full((2,), 1.0, dtype=torch.float64))
    pred = gt.clone()
    pred[:, 5] += 1.0  # a joint outside the 14 does not count
    assert mpjpe(pred, gt).abs().max() < 1e-9


def test_pa_mpjpe_removes_a_similarity_transform():
    gt = joints()
    r = axis_angle_to_rotmat(torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64))
    pred = 1.7 * gt @ r.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert pa_mpjpe(pred, gt).max() < 1e-6
    assert mpjpe(pred, gt).min() > 10  # but MPJPE sees it


def test_pck_and_summary():
    gt = torch.zeros(1, 44, 3)
    gt[..., 2] = 1.0
    gt[0, 0, 2] = 0.0  # invisible
    pred = torch.zeros(1, 44, 2)
    pred[0, 1, 0] = 0.07  # between the two thresholds
    pred[0, 2, 0] = 0.2  # beyond both
    correct, visible = pck(pred, gt, 0.05)
    assert visible.sum() == 43 and correct.sum() == 41
    out = {"pred_keypoints_3d": joints(b=1).float(), "pred_keypoints_2d": pred}
    batch = {"keypoints_3d": torch.cat([out["pred_keypoints_3d"], torch.ones(1, 44, 1)], -1), "keypoints_2d": gt}
    s = summarize([pose_metrics(out, batch)])
    assert s["mpjpe"] == pytest.approx(0.0, abs=1e-3)
    assert s["pck@0.05"] == pytest.approx(41 / 43) and s["pck@0.1"] == pytest.approx(42 / 43)
    assert not math.isnan(s["pa_mpjpe"])
