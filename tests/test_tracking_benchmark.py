"""The tracking benchmark glue: methods on a small synthetic video, scored with the published metrics."""

from __future__ import annotations

import pytest

from workbench.evaluate import evaluate_tracking
from workbench.tracking import SynthVideoConfig, detections_by_frame, render_video, simulate_detections
from workbench.tracking.benchmark import Method, ablation_methods, predicted_boxes, run_method


@pytest.fixture(scope="module")
def video():
    return render_video(SynthVideoConfig(seed=3, num_people=3, num_frames=24, image_size=(120, 160)))


def test_ground_truth_poses_track_almost_perfectly(video):
    dets = detections_by_frame(simulate_detections(video), len(video.frames))
    engines = {}
    gt = video.gt_boxes()
    phalp = evaluate_tracking(gt, predicted_boxes(run_method(video, Method(engine="ground_truth"), dets, engines)))
    iou = evaluate_tracking(gt, predicted_boxes(run_method(video, Method(tracker="iou", engine="ground_truth"), dets,
                                                           engines)))
    assert phalp["IDF1"] > 0.8 and phalp["IDs"] <= 1
    assert iou["num_pred"] > 0 and 0.0 <= iou["HOTA"] <= 1.0
    assert list(engines) == ["ground_truth"]  # one engine, cached across methods


def test_ablation_methods_drop_one_factor_each():
    labels = [m.terms for m in ablation_methods()]
    assert labels == ["APLN", "PLN", "ALN", "APN", "APL"]
    assert Method(tracker="iou").label() == "2D IoU baseline"
