"""2D drawing and layout helpers, body grids, and the plotly additions (per-vertex colours, frame
arrows, keypoint groups): pixels land where the inputs say, and traces carry what the user asked for."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from workbench.geometry import axis_angle_to_rotmat
from workbench.viz import (
    axes_traces,
    draw_boxes,
    draw_keypoints,
    image_grid,
    image_row,
    keypoint_group_traces,
    mesh_trace,
    pad_image,
    put_label,
    render_body_grid,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)


def blank(h=60, w=80, value=0):
    return np.full((h, w, 3), value, np.uint8)


def box_mesh(size_xyz, center=(0.0, 0.0, 0.0)):
    """Axis-aligned box: (8, 3) vertices (m) and (12, 3) outward-facing triangles."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return corners * size_xyz + center, faces


# ----------------------------------------------------------------------------- drawing
def test_draw_keypoints_puts_dots_where_the_keypoints_are_and_keeps_the_input():
    image = blank()
    out = draw_keypoints(image, np.array([[10.0, 20.0], [60.0, 40.0]]), color=RED, radius=2)
    assert out is not image and not image.any()
    assert tuple(out[20, 10]) == RED and tuple(out[40, 60]) == RED
    assert not out[:, 25:55].any()  # nothing between the two dots without a skeleton


def test_draw_keypoints_bones_join_only_confident_ends():
    kp = torch.tensor([[10.0, 30.0, 0.9], [70.0, 30.0, 0.8], [40.0, 10.0, 0.05]])
    out = draw_keypoints(blank(), kp, skeleton=[(0, 1), (1, 2)], color=RED, bone_color=BLUE, min_conf=0.1)
    assert out[30, 40, 2] > 200 and out[30, 40, 0] == 0  # mid-bone (anti-aliased) between two confident keypoints
    assert not out[8:13, 38:43].any()  # the low-confidence keypoint and its bone are skipped
    assert not out[20, 55].any()  # midpoint of the skipped bone (1, 2)


@pytest.mark.parametrize("kp, skeleton, match", [
    (np.zeros((5, 4)), None, r"\(K, 2\)"),
    (np.zeros((2, 5, 2)), None, r"\(K, 2\)"),
    (np.zeros((3, 2)), [(0, 3)], "skeleton indexes"),
])
def test_draw_keypoints_rejects_bad_input(kp, skeleton, match):
    with pytest.raises(ValueError, match=match):
        draw_keypoints(blank(), kp, skeleton=skeleton)


def test_draw_boxes_outlines_boxes_and_leaves_their_inside():
    out = draw_boxes(blank(), [[10, 10, 50, 40], [20, 15, 70, 55]], colors=[RED, BLUE], thickness=1)
    assert tuple(out[10, 30]) == RED and tuple(out[55, 40]) == BLUE
    assert not out[25, 30].any()
    labelled = draw_boxes(blank(100, 120), [[10, 40, 100, 90]], colors=RED, labels=["person"])
    assert labelled[22:40, 12:60].any()  # the label sits above the box


def test_put_label_and_pad_image():
    out = put_label(blank(value=255), "beta 1", xy=(5, 5))
    assert (out[5:20, 5:50] < 128).any() and (out[40:] == 255).all()
    padded = pad_image(blank(10, 20), 3, color=(160, 160, 160))
    assert padded.shape == (16, 26, 3) and (padded[0] == 160).all() and not padded[3:13, 3:23].any()


def test_image_row_resizes_to_one_height_and_adds_gaps():
    panels = [blank(100, 50, 10), blank(50, 50, 20), np.zeros((200, 100), np.float32)]
    row = image_row(panels, gap=8)
    assert row.shape == (200, 100 + 8 + 200 + 8 + 100, 3)
    assert (row[:, 100:108] == 255).all() and (row[100, 120] == 20).all()
    row = image_row(panels, labels=["a", None, "c"], height=40, gap=4)
    assert row.shape == (40, 20 + 4 + 40 + 4 + 20, 3)
    with pytest.raises(ValueError, match="labels"):
        image_row(panels, labels=["a"])


def test_image_grid_stacks_rows_left_aligned():
    grid = image_grid([blank(10, 30, 0), [blank(20, 10, 50), blank(20, 10, 60)]], gap=2)
    assert grid.shape == (10 + 2 + 20, 30, 3)
    assert (grid[10:12] == 255).all() and (grid[12:, 22:] == 255).all() and (grid[15, 0] == 50).all()


# ----------------------------------------------------------------------------- body grid
def _cells(picture, widths, height, gap=8):
    """Cut a one-row grid into its cells."""
    x, cells = 0, []
    for w in widths:
        cells.append(picture[:height, x:x + w])
        x += w + gap
    return cells


def test_render_body_grid_fills_every_cell_at_one_scale():
    small, faces = box_mesh((0.2, 1.0, 0.6))
    tall, _ = box_mesh((0.2, 2.0, 0.6), center=(5.0, 3.0, 1.0))  # position in the body frame does not matter
    picture = render_body_grid(np.stack([small, tall]), faces, views=("front", "side"), cell_px=(120, 60),
                               colors=(0.5, 0.5, 0.5))
    assert picture.shape == (120, 4 * 60 + 3 * 8, 3)
    masks = [(c < 200).all(-1) for c in _cells(picture, [60] * 4, 120)]  # cells: small, tall front; small, tall side
    assert all(m.any() for m in masks)
    rows = [np.flatnonzero(m.any(1)) for m in masks]
    heights = [r[-1] - r[0] + 1 for r in rows]
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.05)  # same scale in every cell
    assert heights[1] == pytest.approx(120 / 1.1, abs=2)  # the tallest body fills the cell but the margin
    widths = [np.flatnonzero(m.any(0)) for m in masks]
    front_w, side_w = widths[0][-1] - widths[0][0] + 1, widths[2][-1] - widths[2][0] + 1
    assert side_w == pytest.approx(3 * front_w, rel=0.25)  # the side view shows the 0.6 m depth


def test_render_body_grid_rows_labels_and_per_body_faces():
    v, faces = box_mesh((0.5, 1.0, 0.5))
    picture = render_body_grid([v, v, v], [faces] * 3, ncols=2, cell_px=80, labels=["one", "two", "three"])
    assert picture.shape[0] == 80 + 8 + 80
    unlabelled = render_body_grid([v, v, v], [faces] * 3, ncols=2, cell_px=80)
    assert (picture[:5] == unlabelled[:5]).all() and (picture[5:20, :40] != unlabelled[5:20, :40]).any()
    with pytest.raises(ValueError, match="views"):
        render_body_grid([v], faces, views=("above",))
    with pytest.raises(ValueError, match="labels"):
        render_body_grid([v, v], faces, labels=["one"])


# ----------------------------------------------------------------------------- plotly additions
def test_mesh_trace_per_vertex_colours_reach_the_trace():
    v, faces = box_mesh((1.0, 1.0, 1.0))
    rgb = np.zeros((8, 3))
    rgb[:, 0] = 1.0
    trace = mesh_trace(v, faces, vertex_colors=rgb)
    assert list(trace.vertexcolor) == ["rgb(255,0,0)"] * 8 and trace.color is None
    ints = mesh_trace(v, faces, vertex_colors=torch.full((8, 3), 200, dtype=torch.int64))
    assert ints.vertexcolor[0] == "rgb(200,200,200)"
    values = np.linspace(0, 1, 8)
    trace = mesh_trace(v, faces, intensity=values, colorscale="Viridis", colorbar_title="weight")
    np.testing.assert_allclose(trace.intensity, values, rtol=1e-6)
    assert trace.showscale and trace.colorbar.title.text == "weight"
    with pytest.raises(ValueError, match="not both"):
        mesh_trace(v, faces, vertex_colors=rgb, intensity=values)
    with pytest.raises(ValueError, match=r"\(8, 3\)"):
        mesh_trace(v, faces, vertex_colors=rgb[:5])


def test_axes_traces_point_along_the_rotation_columns():
    R = axis_angle_to_rotmat(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64)).numpy()
    origin = np.array([0.5, -0.2, 3.0])
    traces = axes_traces(origin, R, length=0.5, names=("x", "y", "z"), name="body")
    lines, cones = traces[:3], traces[3:]
    assert len(cones) == 3 and all(isinstance(c, go.Cone) for c in cones)
    for n, (line, cone) in enumerate(zip(lines, cones)):
        start, end = np.array([line.x, line.y, line.z]).T
        np.testing.assert_allclose(start, origin)
        np.testing.assert_allclose((end - start) / 0.5, R[:, n], atol=1e-12)
        np.testing.assert_allclose([cone.x[0], cone.y[0], cone.z[0]], end)
        direction = np.array([cone.u[0], cone.v[0], cone.w[0]])
        np.testing.assert_allclose(direction / np.linalg.norm(direction), R[:, n], atol=1e-12)
        assert line.text[-1] == "xyz"[n] and line.name == f"body: {'xyz'[n]}"
    assert len(axes_traces(cones=False)) == 3
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        axes_traces(rotation=np.eye(2))


def test_keypoint_group_traces_colour_groups_with_hover_names():
    kp = np.arange(24 * 3, dtype=np.float64).reshape(24, 3)
    traces = keypoint_group_traces(kp, {"legs": [1, 2, 4], "head": torch.tensor([15])})
    assert [t.name for t in traces] == ["legs", "head"]
    assert traces[0].marker.color != traces[1].marker.color
    assert list(traces[0].text) == ["left_hip", "right_hip", "left_knee"] and list(traces[1].text) == ["head"]
    np.testing.assert_allclose(traces[0].x, kp[[1, 2, 4], 0])
    with pytest.raises(ValueError, match="indexes keypoints"):
        keypoint_group_traces(kp, {"bad": [30]})
