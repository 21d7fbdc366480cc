"""Known camera intrinsics in the tracking pipeline: validation, reported translations, the pkl, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.cli import intrinsics_from_args, main
from workbench.tracking.motion import canvas_intrinsics
from workbench.tracking.outputs import phalp_pkl
from workbench.tracking.pipeline import TrackConfig, run_tracking, track_video


@pytest.fixture(scope="module")
def tiny():
    """A one-second synthetic video tracked with ground-truth poses (its true camera not given)."""
    from workbench.tracking.benchmark import Method, run_method
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, \
        simulate_detections

    video = render_video(SynthVideoConfig.tiny(seed=3))
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    result = run_method(video, Method(engine="ground_truth", terms="PLN"), detections, {})
    return video, detections, result


def _true_camera(video) -> Intrinsics:
    return video.intrinsics


def _never(*_):
    raise AssertionError("no frame should be processed with unusable intrinsics")


@pytest.mark.parametrize("bad, message", [
    (Intrinsics(2.0, 2.0, 80, 60), "field of view"),  # a focal in mm, not pixels: a 176 degree view
    (Intrinsics(150, 150, 400, 60), "outside"),
    (Intrinsics(float("nan"), 150, 80, 60), "NaN"),
])
def test_unusable_intrinsics_stop_the_pipeline_before_any_frame(bad, message):
    frames = iter([(0, "a.jpg", np.zeros((120, 160, 3), np.uint8))])
    with pytest.raises(ValueError, match=message):
        run_tracking(frames, _never, _never, None, appearance=False, progress=False, intrinsics=bad)
    with pytest.raises(ValueError, match=message):  # track_video checks before loading any model
        track_video([np.zeros((120, 160, 3), np.uint8)], TrackConfig(intrinsics=bad, detector="no-such-detector"))


def test_given_intrinsics_report_true_translations_and_keep_the_pkl(tiny):
    video, _, result = tiny
    pkl_before = phalp_pkl(result)
    result.intrinsics = None
    canvas = result.table()
    result.intrinsics = _true_camera(video)
    table = result.table()
    # 1. The ground-truth engine's people come back where the video put them.
    for row in table[table.observed].itertuples():
        truth = video.transl[row.frame]
        assert np.abs(truth - [row.tx, row.ty, row.tz]).sum(1).min() < 1e-4
    # 2. Doubling the focal doubles every depth and keeps each origin's projection.
    result.intrinsics = Intrinsics(2 * video.focal, 2 * video.focal, *video.principal_point)
    doubled = result.table()
    np.testing.assert_allclose(doubled.tz, 2 * table.tz, rtol=1e-9)
    xyz = lambda t: t[["tx", "ty", "tz"]].to_numpy()  # noqa: E731
    np.testing.assert_allclose(result.intrinsics.project(xyz(doubled)), _true_camera(video).project(xyz(table)),
                               atol=1e-6)
    canvas_k = canvas_intrinsics(video.config.image_size)
    np.testing.assert_allclose(canvas_k.project(xyz(canvas)), _true_camera(video).project(xyz(table)), atol=1e-6)
    assert list(doubled.columns) == list(canvas.columns)
    # 3. The PHALP pkl stays in the tracker's canvas camera.
    pkl = phalp_pkl(result)
    for name, entry in pkl.items():
        for a, b in zip(entry["camera"], pkl_before[name]["camera"]):
            np.testing.assert_array_equal(a, b)
    summary = result.summary()["camera"]
    assert summary["given"] and summary["fx"] == pytest.approx(2 * video.focal)
    result.intrinsics = None
    assert not result.summary()["camera"]["given"]
    assert result.summary()["camera"]["fx"] == pytest.approx(canvas_k.fx, rel=1e-4)


def test_command_line_camera_options():
    hw = (120, 160)
    assert intrinsics_from_args(None, None, None, hw) is None
    k = intrinsics_from_args([200.0], None, None, hw)
    assert (k.fx, k.fy, k.cx, k.cy) == (200, 200, 80, 60)
    k = intrinsics_from_args([200.0, 210.0], [70.0, 65.0], None, hw)
    assert (k.fx, k.fy, k.cx, k.cy) == (200, 210, 70, 65)
    assert intrinsics_from_args(None, None, 90.0, hw).fx == pytest.approx(80.0)
    with pytest.raises(ValueError, match="give one of them"):
        intrinsics_from_args([200.0], None, 60.0, hw)
    with pytest.raises(ValueError, match="needs a focal length"):
        intrinsics_from_args(None, [80.0, 60.0], None, hw)
    with pytest.raises(ValueError, match="one number"):
        intrinsics_from_args([1.0, 2.0, 3.0], None, None, hw)
    with pytest.raises(ValueError, match="mm"):
        intrinsics_from_args([4.0], None, None, hw)
    with pytest.raises(ValueError, match="outside"):
        intrinsics_from_args([200.0], [500.0, 60.0], None, hw)
    with pytest.raises(ValueError, match="NaN"):
        intrinsics_from_args([float("nan")], None, None, hw)
    with pytest.raises(ValueError, match="field of view"):
        intrinsics_from_args(None, None, 200.0, hw)


def test_cli_end_to_end_with_a_focal_length(tmp_path, capsys):
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, \
        simulate_detections

    # Frames large enough for the detector's minimum box (100 px high); boxes given, scores 1.
    video = render_video(SynthVideoConfig.tiny(seed=3, num_frames=12, image_size=(360, 480)))
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    clip = video.write(tmp_path / "tiny.mp4")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(f): d.boxes.tolist() for f, d in detections.items() if len(d)}))
    base = [str(clip), "--detector", "given", "--boxes", str(boxes), "--no-video"]
    # Bad camera options fail at once, with the reason, and write nothing.
    assert main(base + ["--out", str(tmp_path / "bad"), "--focal", "150", "--fov", "60"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "bad"), "--focal", "3"]) == 2
    assert "mm" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(base + ["--out", str(tmp_path / "bad"), "--smooth", "2"]) == 2
    assert "strength" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "bad"), "--export", "fbx"]) == 2
    assert "obj" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    out = tmp_path / "run"
    assert main(base + ["--out", str(out), "--focal", f"{video.focal}", "--smooth", "0.5", "--export", "bvh,glb"]) == 0
    tracks = sorted((out / "exports").glob("track_*"))
    assert tracks and all((t / f"{t.name}.bvh").exists() and (t / f"{t.name}.glb").exists() for t in tracks)
    printed = capsys.readouterr().out
    assert "ground plane:" in printed  # fitted, or why not: either way the run completes
    summary = json.loads((out / "summary.json").read_text())
    assert summary["camera"]["given"] and summary["camera"]["fx"] == pytest.approx(video.focal)
    assert summary["frames"] == 12 and summary["tracked_people"] > 0 and "ground" in summary
    assert (out / "tracks.csv").exists() and (out / "tracks_4d.html").exists()
