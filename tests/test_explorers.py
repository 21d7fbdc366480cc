"""The prediction and track explorers, driven programmatically (no browser)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.engines import GroundTruthEngine
from workbench.viz.prediction_explorer import PredictionExplorer, predict_frame, targets_from_labels
from workbench.viz.track_explorer import TrackExplorer


@pytest.fixture(scope="module")
def scene():
    """A tiny synthetic video, its detections, ground-truth 2D keypoints and a ground-truth tracking."""
    from workbench.body import BodyModel
    from workbench.tracking.benchmark import METHODS, run_method
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, simulate_detections

    torch.set_num_threads(1)
    video = render_video(SynthVideoConfig.tiny())
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    body = BodyModel.open_body()
    true = video.intrinsics
    targets = {}
    for f, dets in detections.items():
        kps = []
        for gid in dets.gt_ids:
            gt = video.smpl_params(f, int(gid))
            if gt is None:
                kps.append(np.full((44, 3), np.nan, np.float32))
                continue
            with torch.no_grad():
                out = body(global_orient=torch.tensor(gt["global_orient"][None], dtype=torch.float32),
                           body_pose=torch.tensor(gt["body_pose"][None], dtype=torch.float32),
                           betas=torch.tensor(gt["betas"][None], dtype=torch.float32))
            uv = true.project(out.keypoints[0].numpy() + gt["transl"])
            kps.append(np.column_stack([uv, np.ones(44)]).astype(np.float32))
        targets[f] = (dets.boxes, np.array(kps).reshape(-1, 44, 3))
    method = next(m for m in METHODS if m.engine == "ground_truth" and m.tracker == "phalp")
    result = run_method(video, method, detections, {})
    result.intrinsics = true
    return video, detections, body, true, targets, result


def _decoded(image_widget) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(bytes(image_widget.value), np.uint8), cv2.IMREAD_COLOR)


def _explorer(scene, **kwargs) -> PredictionExplorer:
    video, detections, body, true, targets, _ = scene
    gt = GroundTruthEngine(video.smpl_params, focal=video.focal, body=body)
    engines = {"truth": gt, "truth again": GroundTruthEngine(video.smpl_params, focal=video.focal, body=body)}
    return PredictionExplorer(list(video.frames), engines=engines, detector=lambda frame, i: detections[i],
                              targets=targets, display_side=160, **kwargs)


def test_prediction_explorer_in_the_true_camera_reprojects_exactly(scene):
    video, detections, _, true, _, _ = scene
    ex = _explorer(scene, intrinsics=true)
    frame = next(f for f, d in detections.items() if len(d) >= 2 and (d.gt_ids >= 0).all())
    ms = ex.select(frame=frame, person=1)
    assert ms > 0 and ex.last_update_ms == ms
    assert ex.reprojection_error() < 0.5  # perfect poses in the true camera land on the true keypoints
    pred = ex.prediction()
    gid = int(detections[frame].gt_ids[1])
    np.testing.assert_allclose(pred.transl[1], video.transl[frame, gid - 1], atol=1e-3)
    for name in ("overlay_image", "crop_image", "zoom_image", "side_image", "top_image"):
        assert _decoded(getattr(ex, name)).std() > 5, name  # something drawn, not a blank panel
    assert len(ex.figure.data) >= 3 and "given" in ex.label.value


def test_compare_and_edit(scene):
    _, detections, _, true, _, _ = scene
    ex = _explorer(scene, intrinsics=true)
    frame = next(f for f, d in detections.items() if len(d) >= 1 and (d.gt_ids >= 0).all())
    ex.select(frame=frame, person=0, compare="truth again")
    assert "keypoint distance 0 mm" in ex.label.value and _decoded(ex.compare_image).std() > 5
    editor = ex.edit()
    assert editor.reprojection_error() == pytest.approx(ex.reprojection_error(), abs=0.05)
    editor.set_joint_rotation("left_knee", [60.0, 0.0, 0.0])
    editor.update()
    assert editor.reprojection_error() > ex.reprojection_error() + 0.1  # editing away from the truth costs
    assert ex.editor_box.children == (editor.widget,)


def test_default_camera_and_bad_selections(scene):
    video, detections, *_ = scene
    ex = _explorer(scene)
    frame = next(f for f, d in detections.items() if len(d))
    ex.select(frame=frame)
    assert ex.prediction().intrinsics == Intrinsics.default(video.frames[0].shape[:2])
    assert "HMR 2.0 default" in ex.label.value
    with pytest.raises(ValueError, match="does not exist"):
        ex.select(frame=len(video.frames))
    with pytest.raises(ValueError, match="unknown engine"):
        ex.select(engine="nope")
    with pytest.raises(ValueError, match="not in frame"):
        ex.select(person=99)
    with pytest.raises(ValueError, match="outside"):
        _explorer(scene, intrinsics=Intrinsics(200.0, 200.0, 1e4, 10.0))


def test_predict_frame_moves_people_into_the_given_camera(scene):
    video, detections, body, true, _, _ = scene
    engine = GroundTruthEngine(video.smpl_params, focal=video.focal, body=body)
    frame = next(f for f, d in detections.items() if len(d))
    default = predict_frame(engine, video.frames[frame], detections[frame], frame)
    given = predict_frame(engine, video.frames[frame], detections[frame], frame, true)
    # Each body origin stays on its pixel; keypoints move a little (a shorter lens has more perspective).
    np.testing.assert_allclose(true.project(given.transl), default.intrinsics.project(default.transl), atol=1e-3)
    assert np.abs(given.keypoints_2d - default.keypoints_2d).max() < 0.1 * video.frames.shape[2]
    assert np.all(given.transl[:, 2] < default.transl[:, 2])  # a real lens: people much closer


def test_targets_from_labels_groups_by_frame():
    from workbench.evaluate.pseudo_labels import load_real_photo_labels

    targets = targets_from_labels(load_real_photo_labels(), "demo/vtest_excerpt.mp4")
    assert sorted(targets) == [0, 30, 60, 90]
    boxes, keypoints = targets[30]
    assert boxes.shape[1] == 4 and keypoints.shape == (len(boxes), 44, 3)


def test_track_explorer_scrubs_and_reports(scene):
    video, _, body, _, _, result = scene
    ex = TrackExplorer(result, list(video.frames), display_side=160, points_per_person=100)
    tid = result.track_ids[0]
    frames = [p.frame for ps in result.people.values() for p in ps if p.track_id == tid]
    ms = ex.select(frame=frames[len(frames) // 2], track=tid)
    assert ms > 0 and f"track {tid}" in ex.label.value
    k = sorted(ex.motions).index(tid)
    assert len(ex.figure.data[3 * k].x) == 100  # the track's surface points at this time
    pos = ex.position(tid, frames[len(frames) // 2])
    assert 0.0 <= pos["speed_m_s"] < 10.0 and pos["transl"][2] < 30
    assert ex.position(tid, 10_000) is None
    with pytest.raises(ValueError, match="does not exist"):
        ex.select(track=999)
    with pytest.raises(KeyError, match="does not exist"):
        ex.position(999, 0)
    with pytest.raises(ValueError, match="frames were given"):
        TrackExplorer(result, list(video.frames[:2]))
