"""The 4DHumans pipeline: engines, the PHALP' tracker, frame sources, gap filling and the outputs."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import torch

from workbench.detect import Detections
from workbench.io import open_frames
from workbench.tracking.engines import GroundTruthEngine, People, create_engine, frame_camera, list_engines
from workbench.tracking.lifecycle import TrackerConfig
from workbench.tracking.outputs import PER_PERSON_KEYS, phalp_pkl, write_outputs
from workbench.tracking.phalp import PHALPConfig, PHALPTracker
from workbench.tracking.pipeline import fill_gaps, run_tracking
from workbench.tracking.records import camera_on_canvas, crop_camera_from_canvas

H, W = 240, 320
TRUE_FOCAL = 400.0


@pytest.fixture(scope="module")
def body():
    from workbench.body import BodyModel

    return BodyModel.open_body()


def _walkers(num_frames: int, body) -> dict:
    """Two people walking towards each other along x at 5 m, standing (rotated to face the camera)."""
    gt = {}
    for pid, (x0, vx) in {1: (-1.2, 0.05), 2: (1.2, -0.05)}.items():
        betas = np.zeros(10)
        betas[0] = 0.8 * (pid - 1.5)
        for f in range(num_frames):
            gt[(f, pid)] = {"global_orient": np.array([np.pi, 0.0, 0.0]), "body_pose": np.zeros((23, 3)),
                            "betas": betas, "transl": np.array([x0 + vx * f, 0.3, 5.0 + 0.5 * pid])}
    return gt


def _boxes(gt: dict, frame: int, body, hidden=()) -> Detections:
    """Ground-truth boxes of the people visible in ``frame`` (projected meshes), with their ids."""
    boxes, ids = [], []
    for (f, pid), g in sorted(gt.items()):
        if f != frame or pid in hidden:
            continue
        with torch.no_grad():
            v = body(global_orient=torch.tensor(g["global_orient"][None], dtype=torch.float32),
                     betas=torch.tensor(g["betas"][None], dtype=torch.float32)).vertices[0].numpy() + g["transl"]
        uv = TRUE_FOCAL * v[:, :2] / v[:, 2:] + np.array([W / 2, H / 2])
        boxes.append([*uv.min(0), *uv.max(0)])
        ids.append(pid)
    return Detections(np.array(boxes).reshape(-1, 4), np.ones(len(boxes)), gt_ids=np.array(ids, np.int64))


def test_crop_camera_round_trip():
    rng = np.random.default_rng(0)
    boxes = np.array([[10, 20, 60, 140], [200, 30, 260, 200.0]])
    pred_cam = np.column_stack([rng.uniform(0.5, 1.5, 2), rng.normal(0, 0.1, (2, 2))])
    cam = camera_on_canvas(pred_cam, boxes, (H, W))
    np.testing.assert_allclose(crop_camera_from_canvas(cam, boxes, (H, W)), pred_cam, rtol=1e-6, atol=1e-6)


def test_frame_camera_is_the_canvas_camera():
    focal, pp = frame_camera((480, 640))
    assert focal == pytest.approx(5000 * 640 / 256)
    np.testing.assert_allclose(pp, [320, 240])


def test_ground_truth_engine_places_people_where_they_are(body):
    gt = _walkers(1, body)
    eng = create_engine("ground_truth", lookup=lambda f, i: gt.get((f, i)), focal=TRUE_FOCAL, body=body)
    assert {"ground_truth", "hmr2"} <= set(list_engines())
    frame = np.zeros((H, W, 3), np.uint8)
    dets = _boxes(gt, 0, body)
    people = eng(frame, dets, 0)
    assert isinstance(people, People) and len(people) == 2
    for rec, (x1, y1, x2, y2), v in zip(people.records, dets.boxes, people.vertices):
        # The tracker camera sees the body where the true camera saw it (depth scaled, projections kept).
        uv = people.focal * v[:, :2] / v[:, 2:] + people.principal_point
        np.testing.assert_allclose([*uv.min(0), *uv.max(0)], [x1, y1, x2, y2], atol=0.05 * (y2 - y1))
        assert rec.pose.shape == (229,) and rec.loca.shape == (99,)
        # The canvas location of the SMPL origin is its projection / 256 on the padded square.
        S = max(H, W)
        origin_uv = people.focal * rec.camera[:2] / rec.camera[2] + people.principal_point
        np.testing.assert_allclose(rec.xy, (origin_uv + [(S - W) // 2, (S - H) // 2]) / S, atol=1e-6)


def test_ground_truth_engine_false_positive_and_missing_ids(body):
    gt = _walkers(1, body)
    eng = GroundTruthEngine(lambda f, i: gt.get((f, i)), focal=TRUE_FOCAL, body=body)
    dets = Detections(np.array([[100, 50, 150, 200.0]]), np.ones(1), gt_ids=np.array([-1]))
    people = eng(np.zeros((H, W, 3), np.uint8), dets, 0)
    assert len(people) == 1 and np.isfinite(people.vertices).all()
    with pytest.raises(ValueError, match="gt_ids"):
        eng(np.zeros((H, W, 3), np.uint8), Detections(dets.boxes, dets.scores), 0)
    empty = eng(np.zeros((H, W, 3), np.uint8), Detections.empty(), 0)
    assert len(empty) == 0 and empty.vertices.shape[0] == 0


def _run(body, gt, num_frames, hidden=lambda f: (), frames=None, **cfg):
    eng = GroundTruthEngine(lambda f, i: gt.get((f, i)), focal=TRUE_FOCAL, body=body)
    tracker = PHALPTracker(PHALPConfig(lifecycle=TrackerConfig(n_init=3, max_age=10), pose_predictor="last",
                                       terms="PLN", **cfg))
    frames = frames or [(f, f"{f:06d}.jpg", np.zeros((H, W, 3), np.uint8)) for f in range(num_frames)]
    detector = lambda frame, f: _boxes(gt, f, body, hidden(f))  # noqa: E731
    return run_tracking(frames, detector, eng, tracker, appearance=False, progress=False, fps=10.0, source="synthetic")


def test_crossing_people_keep_their_ids_and_gaps_are_filled(body):
    n = 40
    gt = _walkers(n, body)
    # person 1 is missed for frames 20-24 (the people cross around frame 24)
    result = _run(body, gt, n, hidden=lambda f: (1,) if 20 <= f < 25 else ())
    table = result.table()
    assert len(result.frames) == n  # no frame dropped
    assert len(result.track_ids) == 2
    # each track follows one person: x moves in one direction only
    for _, g in table[table.observed].groupby("track_id"):
        dx = np.diff(g.sort_values("frame").tx.to_numpy())
        assert (dx > 0).all() or (dx < 0).all()
    filled = table[~table.observed]
    assert sorted(filled.frame) == [20, 21, 22, 23, 24]
    assert filled.track_id.nunique() == 1
    # the filled translation is interpolated between the neighbouring detections
    g = table[table.track_id == filled.track_id.iloc[0]].set_index("frame")
    assert g.loc[19, "tx"] < g.loc[22, "tx"] < g.loc[25, "tx"] or g.loc[19, "tx"] > g.loc[22, "tx"] > g.loc[25, "tx"]


def test_confirmation_backfills_earlier_frames(body):
    result = _run(body, _walkers(6, body), 6)
    table = result.table()
    assert sorted(table.frame.unique()) == list(range(6))  # frames 0-1 were emitted when confirmed at 2


def test_frames_without_people_and_a_person_who_leaves(body):
    n = 30
    gt = _walkers(n, body)
    # nobody at all in frames 5-7; person 2 leaves for good at frame 15
    result = _run(body, gt, n, hidden=lambda f: (1, 2) if 5 <= f < 8 else ((2,) if f >= 15 else ()))
    table = result.table()
    assert len(result.frames) == n and table.frame.max() == n - 1
    assert set(range(5, 8)) <= set(table[~table.observed].frame)  # both bridged by prediction
    assert not (table.frame >= 15).any() or table[table.frame >= 15].track_id.nunique() == 1


def test_fill_gaps_without_predictor_repeats_last_pose(body):
    result = _run(body, _walkers(12, body), 12, hidden=lambda f: (1,) if f in (6, 7) else ())
    filled = [p for ps in result.people.values() for p in ps if not p.observed]
    assert len(filled) == 2
    before = next(p for p in result.people[5] if p.track_id == filled[0].track_id)
    for p in filled:  # no predictor ("last"): the pose before the gap, projected back onto rotations
        np.testing.assert_allclose(p.record.pose[:226], before.record.pose[:226], atol=1e-6)
    assert fill_gaps(result.people) == 0  # idempotent: nothing left to fill


def test_outputs_are_complete_and_never_overwritten(body, tmp_path):
    n = 8
    frames = [(f, f"{f:06d}.jpg", np.full((H, W, 3), 90, np.uint8)) for f in range(n)]
    result = _run(body, _walkers(n, body), n, frames=frames)
    pkl = phalp_pkl(result)
    assert list(pkl) == [f"{f:06d}.jpg" for f in range(n)]
    entry = pkl["000004.jpg"]
    assert {"time", "shot", "frame_path"} | set(PER_PERSON_KEYS) <= set(entry)
    assert len(entry["tid"]) == 2 and entry["pose"][0].shape == (229,) and entry["loca"][0].shape == (99,)
    assert entry["smpl"][0]["body_pose"].shape == (23, 3, 3) and entry["3d_joints"][0].shape == (45, 3)

    paths = write_outputs(result, iter(frames), tmp_path, body)
    with open(paths["pkl"], "rb") as fh:
        assert pickle.load(fh).keys() == pkl.keys()
    cap = cv2.VideoCapture(str(paths["video"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    ok, first = cap.read()
    assert ok and first.shape == (H, W, 3)
    html = paths["html"].read_text()
    assert "plotly" in html and "frame 0" not in html[:100]
    assert not list(tmp_path.glob(".*partial*"))
    with pytest.raises(FileExistsError, match="overwrite"):
        write_outputs(result, iter(frames), tmp_path, body)
    write_outputs(result, iter(frames), tmp_path, body, overwrite=True, video=False, html=False)


def test_open_frames_folder_with_mixed_sizes_gray_and_rgba(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 60, 3), 10, np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.full((50, 30), 200, np.uint8))  # grayscale
    cv2.imwrite(str(tmp_path / "c.png"), np.full((20, 20, 4), 50, np.uint8))  # RGBA
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_frames(tmp_path)
    got = list(src.frames())
    assert [name for _, name, _ in got] == ["a.png", "b.png", "c.png"]
    assert [f.shape for _, _, f in got] == [(40, 60, 3), (50, 30, 3), (20, 20, 3)]
    assert all(f.dtype == np.uint8 for _, _, f in got)


def test_open_frames_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_frames(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        open_frames(tmp_path / "empty")
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError):
        open_frames(tmp_path / "corrupt.mp4")
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(ValueError):
        open_frames(tmp_path / "zero.mp4")
    with pytest.raises(ValueError, match="empty list"):
        open_frames([])


def test_cli_reports_unusable_video(tmp_path, capsys):
    from workbench.__main__ import main

    (tmp_path / "bad.avi").write_bytes(b"not a video")
    assert main(["track", str(tmp_path / "bad.avi"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "bad.avi" in err


def test_nobody_detected_in_any_frame_gives_empty_but_complete_outputs(body, tmp_path):
    n = 5
    frames = [(f, f"{f:06d}.jpg", np.zeros((H, W, 3), np.uint8)) for f in range(n)]
    eng = GroundTruthEngine(lambda f, i: None, focal=TRUE_FOCAL, body=body)
    result = run_tracking(iter(frames), lambda frame, f: Detections.empty(), eng, PHALPTracker(), progress=False)
    assert len(result.frames) == n and result.track_ids == [] and result.table().empty
    paths = write_outputs(result, iter(frames), tmp_path, body)
    with open(paths["pkl"], "rb") as fh:
        pkl = pickle.load(fh)
    assert len(pkl) == n and all(entry["tid"] == [] for entry in pkl.values())


def test_track_command_on_the_bundled_clip(tmp_path, capsys):
    from workbench.__main__ import main

    from workbench.assets import asset_path

    clip = str(asset_path("demo/vtest_excerpt.mp4"))
    out = tmp_path / "run"
    assert main(["track", clip, "--out", str(out), "--stop", "6"]) == 0
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert {"demo_vtest_excerpt.pkl", "tracks.csv", "PHALP_vtest_excerpt.mp4", "tracks_4d.html", "summary.json"} <= names
    assert '"frames": 6' in capsys.readouterr().out
    assert main(["track", clip, "--out", str(out), "--stop", "6"]) == 2  # never overwritten silently
    assert "--overwrite" in capsys.readouterr().err


def test_person_leaving_and_reentering(body):
    n = 40
    gt = _walkers(n, body)
    # person 2 is gone for 6 frames (< max_age 10: same track) and later for 14 frames (> max_age: a new track)
    result = _run(body, gt, n, hidden=lambda f: (2,) if 8 <= f < 14 or 22 <= f < 36 else ())
    table = result.table()
    observed = table[table.observed]
    ids_before = set(observed[observed.frame < 8].track_id)
    ids_between = set(observed[(observed.frame >= 14) & (observed.frame < 22)].track_id)
    ids_after = set(observed[observed.frame >= 36].track_id)
    assert ids_between == ids_before  # re-found after a short absence
    assert len(ids_after - ids_before) == 1  # the long absence ends the track; the person gets a new id
    assert len(result.frames) == n


def test_cli_on_a_folder_of_images_of_mixed_sizes(tmp_path):
    from workbench.__main__ import main
    from workbench.assets import asset_path

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, _, f in open_frames(asset_path("demo/vtest_excerpt.mp4"), stop=3).frames():
        scale = (1.0, 0.75, 0.5)[i]
        small = cv2.resize(f, None, fx=scale, fy=scale)
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(small, cv2.COLOR_RGB2GRAY if i == 1 else cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert main(["track", str(folder), "--out", str(out), "--no-html"]) == 0
    cap = cv2.VideoCapture(str(out / "PHALP_frames.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    with open(out / "results" / "demo_frames.pkl", "rb") as fh:
        pkl = pickle.load(fh)
    assert list(pkl) == ["000.png", "001.png", "002.png"]
