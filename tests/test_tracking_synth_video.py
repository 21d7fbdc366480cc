"""The synthetic multi-person tracking benchmark: determinism, ground truth, splits, simulated detections."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench.tracking.synth_video import (
    DetectionNoise,
    SynthVideoConfig,
    benchmark_videos,
    detections_by_frame,
    render_video,
    simulate_detections,
    write_video,
)


@pytest.fixture(scope="module")
def videos():
    """The fast benchmark (2 short videos per split), rendered once for the module."""
    return {split: [render_video(c) for c in benchmark_videos(split, fast=True)] for split in ("normal", "occlusion")}


def test_shapes_and_dtypes(videos):
    v = videos["normal"][1]  # the panning one
    T, N, (H, W) = v.config.num_frames, v.config.num_people, v.config.image_size
    assert v.frames.shape == (T, H, W, 3) and v.frames.dtype == np.uint8
    assert list(v.gt.columns[:8]) == ["frame", "person_id", "x1", "y1", "x2", "y2", "visible_fraction", "visible"]
    assert len(v.gt) == T * N and sorted(v.gt.person_id.unique()) == list(range(1, N + 1))
    assert v.global_orient.shape == (T, N, 3) and v.body_pose.shape == (T, N, 23, 3)
    assert v.betas.shape == (N, 10) and v.transl.shape == (T, N, 3)
    assert v.principal_point == (W / 2, H / 2) and v.focal == pytest.approx(0.9 * W)
    assert v.gt.visible_fraction.between(0, 1).all()
    assert (v.gt.visible == (v.gt.visible_fraction >= v.config.visible_threshold)).all()
    inside = v.gt.dropna()
    assert ((inside.x1 >= 0) & (inside.x2 <= W) & (inside.x1 <= inside.x2) & (inside.y2 <= H)).all()
    assert v.smpl_params(0, -1) is None and v.smpl_params(0, 1)["body_pose"].shape == (23, 3)
    assert not np.array_equal(v.camera_rotation[0], v.camera_rotation[-1])  # it pans


def test_deterministic_by_seed(videos):
    cfg = benchmark_videos("normal", fast=True)[0]
    again = render_video(cfg)
    first = videos["normal"][0]
    np.testing.assert_array_equal(again.frames, first.frames)
    assert again.gt.equals(first.gt)
    other = render_video(dataclasses.replace(cfg, seed=cfg.seed + 7, num_frames=5))
    assert not np.array_equal(other.frames, first.frames[:5])


def test_smpl_ground_truth_reproduces_the_boxes(videos):
    """body(global_orient, body_pose, betas) + transl, projected, spans exactly the GT box."""
    from workbench.data.appearance import open_body_parts as _body

    skin, _ = _body()
    v = videos["occlusion"][0]
    H, W = v.config.image_size
    (cx, cy), f = v.principal_point, v.focal
    for _, row in v.gt.dropna().iloc[::7].iterrows():
        p = v.smpl_params(int(row.frame), int(row.person_id))
        pose = np.concatenate([p["global_orient"][None], p["body_pose"]])[None]
        verts = skin(pose, p["betas"][None]).vertices[0] + p["transl"]
        uv = np.stack([f * verts[:, 0] / verts[:, 2] + cx, f * verts[:, 1] / verts[:, 2] + cy], 1)
        box = np.clip(np.concatenate([uv.min(0), uv.max(0)]), 0, [W, H, W, H])
        np.testing.assert_allclose(box, row[["x1", "y1", "x2", "y2"]].to_numpy(float), atol=0.05)
        assert abs(verts[:, 2].mean() - row.depth) < 0.5


def test_people_stand_on_the_floor_and_face_their_path(videos):
    """World height of the lowest vertex is 0; the body's forward axis follows the heading."""
    from workbench.data.appearance import open_body_parts as _body
    from workbench.tracking.synth_video import plan_people

    v = videos["normal"][0]
    people = plan_people(v.config)
    R_cw = v.camera_rotation
    t, k = 10, 0
    p = v.smpl_params(t, k + 1)
    skin, _ = _body()
    cam = skin(np.concatenate([p["global_orient"][None], p["body_pose"]])[None], p["betas"][None]).vertices[0]
    world = (cam + p["transl"]) @ R_cw[t] + [0, v.config.camera_height, 0]  # R_cw^T x + C
    assert world[:, 1].min() == pytest.approx(0.0, abs=1e-3)
    forward = (R_cw[t].T @ _rotvec_to_matrix(p["global_orient"]))[:, 2]  # body +z in the world
    h = people[k].heading[t]
    np.testing.assert_allclose(forward[[0, 2]] / np.linalg.norm(forward[[0, 2]]), [np.sin(h), np.cos(h)], atol=0.05)


def _rotvec_to_matrix(r):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(r).as_matrix()


def test_occlusion_split_hides_people_more(videos):
    def mean_visible(split):
        return np.mean([v.gt.dropna().visible_fraction.mean() for v in videos[split]])

    assert mean_visible("occlusion") < mean_visible("normal") - 0.05
    in_view = [v.gt.dropna() for v in videos["occlusion"]]
    assert sum((g.visible_fraction < 0.3).sum() for g in in_view) > 0  # some (nearly) full occlusions


def test_simulated_detections_rates(videos):
    v = videos["normal"][0]
    noise = DetectionNoise(miss_rate=0.2, occlusion_miss=0.0, min_visible=0.25, fp_per_frame=2.0)
    dets = simulate_detections(v, noise, seed=3)
    assert dets.equals(simulate_detections(v, noise, seed=3))
    assert list(dets.columns) == ["frame", "x1", "y1", "x2", "y2", "score", "gt_id"]
    true = dets[dets.gt_id > 0]
    gt = v.gt.dropna()
    eligible = gt[gt.visible_fraction >= 0.25]
    assert len(true) / len(eligible) == pytest.approx(0.8, abs=0.12)
    assert (dets.gt_id == -1).sum() == pytest.approx(2.0 * v.config.num_frames, rel=0.35)
    # never detected when hidden below min_visible, and boxes stay close to their person's
    hidden = gt[gt.visible_fraction < 0.25].set_index(["frame", "person_id"]).index
    assert not true.set_index(["frame", "gt_id"]).index.isin(hidden).any()
    matched = true.merge(gt, left_on=["frame", "gt_id"], right_on=["frame", "person_id"], suffixes=("", "_gt"))
    from workbench.evaluate.tracking_metrics import box_iou_matrix

    ious = [box_iou_matrix(r[["x1", "y1", "x2", "y2"]].to_numpy(float)[None],
                           r[["x1_gt", "y1_gt", "x2_gt", "y2_gt"]].to_numpy(float)[None])[0, 0]
            for _, r in matched.iterrows()]
    assert np.median(ious) > 0.8
    per_frame = detections_by_frame(dets, v.config.num_frames)
    assert len(per_frame) == v.config.num_frames and sum(len(d) for d in per_frame.values()) == len(dets)
    assert set(np.concatenate([d.gt_ids for d in per_frame.values() if len(d)])) <= {-1, *range(1, 10)}


def test_write_video_round_trip(videos, tmp_path):
    from workbench.io import read_video

    v = videos["normal"][0]
    path = v.write(tmp_path / "video.mp4")
    frames = [f for _, f in read_video(path)]
    assert len(frames) == len(v.frames) and frames[0].shape == v.frames[0].shape
    assert np.abs(frames[5].astype(int) - v.frames[5]).mean() < 12  # lossy codec, same picture
    with pytest.raises(FileExistsError):
        write_video(v.frames, path)
    assert [p.name for p in tmp_path.iterdir()] == ["video.mp4"]  # no temporary file left


def test_configs():
    normal, occlusion = benchmark_videos("normal", fast=False), benchmark_videos("occlusion", fast=False)
    assert len(normal) == 5 and all(c.image_size == (480, 640) and c.num_frames == 150 for c in normal)
    assert len({c.seed for c in normal + occlusion}) == 10
    assert occlusion[0].pair_fraction > normal[0].pair_fraction and occlusion[0].split == "occlusion"
    with pytest.raises(ValueError):
        benchmark_videos("hard")
    assert SynthVideoConfig.tiny().num_frames == 30
