"""The bundled demo and the command line."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.__main__ import main
from workbench.body import BodyModel
from workbench.demo import place_body, run_demo
from workbench.geometry import perspective_projection


def test_demo_writes_png_and_html_and_refuses_to_overwrite(tmp_path):
    paths = run_demo(out_dir=tmp_path)
    assert paths["png"].stat().st_size > 10_000
    html = paths["html"].read_text()
    assert "plotly" in html and "<script src=\"http" not in html  # works offline
    with pytest.raises(FileExistsError, match="overwrite"):
        run_demo(out_dir=tmp_path)
    run_demo(out_dir=tmp_path, overwrite=True)


def test_placed_body_projects_into_its_box():
    import torch

    body = BodyModel.open_body()
    box = [100.0, 50.0, 180.0, 400.0]
    placed = place_body(body, box, (480, 640))
    verts = placed.output.vertices + placed.cam_t
    centre = torch.tensor([[320.0, 240.0]])  # principal point at the image centre
    uv = perspective_projection(verts, torch.zeros(1, 3), torch.tensor([placed.focal]), centre)[0].numpy()
    top, bottom = uv[:, 1].min(), uv[:, 1].max()
    assert abs((bottom - top) - 0.95 * 350) < 0.03 * 350  # height matches the box (fill 0.95)
    assert abs(uv[:, 0].mean() - 140) < 10 and abs((top + bottom) / 2 - 225) < 10


@pytest.mark.parametrize("box, match", [([10, 10, 10, 50], "zero size"), ([0, 0, float("nan"), 5], "finite")])
def test_bad_boxes(box, match):
    with pytest.raises(ValueError, match=match):
        place_body(BodyModel.open_body(), box, (100, 100))


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["demo", "--image", str(tmp_path / "missing.png"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "photo.png").write_bytes(np.zeros(10, np.uint8).tobytes())
    assert main(["demo", "--image", str(tmp_path / "photo.png"), "--out", str(tmp_path)]) == 2
    assert "could not be decoded" in capsys.readouterr().err
