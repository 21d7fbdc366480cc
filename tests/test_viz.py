"""Checks of the plotly figures (traces, sizes, camera geometry) and of the body explorer, without a browser.

Where a test needs to know what the user will *see*, it projects points with plotly.js' own camera
model (``screen_xy``): plotly maps each axis to ``aspectratio * (p - range centre) / range extent``
and looks from ``eye`` at ``center`` with ``up``, all in those normalised units.
"""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from workbench.body import BodyModel
from workbench.body.keypoints import HMR_JOINT_NAMES, HMR_SKELETON, SMPL_JOINT_NAMES
from workbench.geometry import perspective_projection
from workbench.viz import (
    BodyExplorer,
    SceneCamera,
    ScenePerson,
    body_figure,
    camera_frustum_traces,
    frustum_corners,
    mesh_trace,
    save_html,
    scene_figure,
    skeleton_traces,
)

CAM_T = np.array([0.2, 0.1, 6.0], np.float32)
FLIP = [[np.pi, 0.0, 0.0]]  # SMPL body frame (y up) -> upright in the camera frame (y down)
LEFT_WRIST, RIGHT_WRIST, HEAD, LEFT_ANKLE = 20, 21, 15, 7  # SMPL joint indices


@pytest.fixture(scope="module")
def model():
    return BodyModel.open_body()


@pytest.fixture(scope="module")
def posed(model):
    """(output in the body frame, output flipped into the camera frame): left arm lowered."""
    body_pose = torch.zeros(1, 23, 3)
    body_pose[0, 15] = torch.tensor([0.0, 0.0, -1.0])  # left shoulder
    with torch.inference_mode():
        return model(body_pose=body_pose), model(global_orient=torch.tensor(FLIP), body_pose=body_pose)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)


def screen_xy(fig: go.Figure, points: np.ndarray) -> np.ndarray:
    """(N, 3) data points -> (N, 2) screen coordinates (x right, y up) as plotly.js draws them."""
    sc = fig.layout.scene
    lo = np.array([sc.xaxis.range[0], sc.yaxis.range[0], sc.zaxis.range[0]])
    hi = np.array([sc.xaxis.range[1], sc.yaxis.range[1], sc.zaxis.range[1]])
    ratio = np.array([sc.aspectratio.x, sc.aspectratio.y, sc.aspectratio.z])
    n = ratio * (points - (lo + hi) / 2) / (hi - lo)
    vec = lambda v: np.array([v.x, v.y, v.z])  # noqa: E731
    eye, center, up = vec(sc.camera.eye), vec(sc.camera.center), vec(sc.camera.up)
    forward = (center - eye) / np.linalg.norm(center - eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    rel = n - eye
    depth = rel @ forward
    assert (depth > 0).all(), "points behind the plotly camera"
    return np.stack([rel @ right, rel @ np.cross(right, forward)], 1) / depth[:, None]


# ----------------------------------------------------------------------------- traces
def test_mesh_trace_sends_compact_arrays(model, posed):
    vertices = posed[0].vertices[0].clone().requires_grad_(True)  # torch with grad: detached inside
    trace = mesh_trace(vertices, model.faces, opacity=0.5, name="me")
    V, F = vertices.shape[0], model.faces.shape[0]
    assert len(trace.x) == len(trace.y) == len(trace.z) == V == 13718
    assert len(trace.i) == len(trace.j) == len(trace.k) == F
    # float32 / int32 1-D arrays are what plotly serialises as base64 typed arrays.
    assert trace.x.dtype == np.float32 and trace.i.dtype == np.int32
    assert trace.flatshading is False and trace.opacity == 0.5
    np.testing.assert_allclose(trace.x, vertices.detach()[:, 0].numpy())


def test_skeleton_traces_default_bones_and_names(posed):
    out = posed[0]
    lines, points = skeleton_traces(out.keypoints[0])
    assert len(lines.x) == 3 * len(HMR_SKELETON) and len(points.x) == 44
    assert list(points.text) == list(HMR_JOINT_NAMES)
    lines24, points24 = skeleton_traces(out.joints[0])
    assert len(lines24.x) == 3 * 23 and list(points24.text) == list(SMPL_JOINT_NAMES)
    # Each bone is its two end points then a NaN gap.
    np.testing.assert_allclose(lines24.x[:2], out.joints[0, [0, 1], 0].numpy())
    assert np.isnan(lines24.x[2])
    chain, _ = skeleton_traces(np.zeros((3, 3)), parents=[-1, 0, 1])
    assert len(chain.x) == 6
    with pytest.raises(ValueError, match="bones or parents"):
        skeleton_traces(np.zeros((5, 3)))


@pytest.mark.parametrize("focal, principal_point", [(500.0, None), ((480.0, 520.0), (150.0, 130.0))])
def test_frustum_apex_at_origin_and_corners_project_to_image_corners(focal, principal_point):
    W, H, depth = 320, 240, 2.5
    (trace,) = camera_frustum_traces(focal, (W, H), depth=depth, principal_point=principal_point)
    np.testing.assert_array_equal([trace.x[0], trace.y[0], trace.z[0]], [0, 0, 0])
    corners = frustum_corners(focal, (W, H), depth, principal_point)
    pp = torch.tensor([principal_point or (W / 2, H / 2)], dtype=torch.float64)
    f = torch.tensor([focal if np.size(focal) == 2 else (focal, focal)], dtype=torch.float64)
    uv = perspective_projection(torch.from_numpy(corners)[None], torch.zeros(1, 3, dtype=torch.float64), f, pp)
    np.testing.assert_allclose(uv[0].numpy(), [[0, 0], [W, 0], [W, H], [0, H]], atol=1e-9)
    np.testing.assert_allclose(corners[:, 2], depth)
    # The traced rectangle passes through the corners.
    drawn = np.stack([trace.x, trace.y, trace.z], 1)
    for c in corners:
        assert np.isclose(drawn, c.astype(np.float32), atol=1e-6).all(1).any()


# ----------------------------------------------------------------------------- figures
def test_scene_figure_traces_counts_and_ground(model, posed):
    flipped = posed[1]
    v = flipped.vertices[0].numpy() + CAM_T
    people = [dict(vertices=v, faces=model.faces, keypoints=flipped.keypoints[0].numpy() + CAM_T),
              ScenePerson(vertices=torch.from_numpy(v + [1.0, 0, 1.0]), faces=model.faces, name="B")]
    fig = scene_figure(people, camera=SceneCamera(focal=500.0, image_wh=(320, 240)), ground_plane="auto")
    assert [t.type for t in fig.data] == ["mesh3d", "scatter3d", "scatter3d", "mesh3d", "scatter3d", "mesh3d"]
    assert [t.name for t in fig.data][3:] == ["B", "camera", "ground"]
    assert len(fig.data[0].x) == len(fig.data[3].x) == 13718
    assert fig.data[0].color != fig.data[3].color
    np.testing.assert_allclose(fig.data[-1].y, v[:, 1].max(), rtol=1e-6)  # floor under the lowest foot
    # Equal aspect: the box's aspect ratio is proportional to the axis ranges.
    sc = fig.layout.scene
    extents = np.array([np.ptp(sc.xaxis.range), np.ptp(sc.yaxis.range), np.ptp(sc.zaxis.range)])
    np.testing.assert_allclose([sc.aspectratio.x, sc.aspectratio.y, sc.aspectratio.z], extents / extents.max())
    assert sc.camera.up.y == -1
    with pytest.raises(ValueError, match="'vertices', 'faces'"):
        scene_figure([dict(vertices=v)])
    with pytest.raises(ValueError, match="view must be"):
        scene_figure(people, view="front")
    with pytest.raises(ValueError, match="ground_plane must be"):
        scene_figure(people, ground_plane="floor")


def test_views_move_the_scene_camera_and_keep_image_up(model, posed):
    flipped = posed[1]
    joints = flipped.joints[0].numpy() + CAM_T
    people = [dict(vertices=flipped.vertices[0].numpy() + CAM_T, faces=model.faces)]
    cam = dict(focal=500.0, image_wh=(320, 240))
    figs = {view: scene_figure(people, camera=cam, view=view) for view in ("camera", "side", "top")}
    eyes = {view: (f.layout.scene.camera.eye.x, f.layout.scene.camera.eye.y, f.layout.scene.camera.eye.z)
            for view, f in figs.items()}
    assert len(set(eyes.values())) == 3
    # Seen from the camera: head above ankle, the person's left wrist on the right (as in the image).
    xy = screen_xy(figs["camera"], joints[[HEAD, LEFT_ANKLE, LEFT_WRIST, RIGHT_WRIST]])
    assert xy[0, 1] > xy[1, 1] and xy[2, 0] > xy[3, 0]
    # Side: camera on the left, person on the right, still upright. Top: camera below (near), person above.
    origin_head = np.stack([np.zeros(3), joints[HEAD], joints[LEFT_ANKLE]])
    side = screen_xy(figs["side"], origin_head)
    assert side[0, 0] < side[1, 0] and side[1, 1] > side[2, 1]
    top = screen_xy(figs["top"], origin_head)
    assert top[0, 1] < top[1, 1]


def test_body_figure_frames(model, posed):
    body, flipped = posed
    fig = body_figure(body, model.faces)
    assert [t.type for t in fig.data] == ["mesh3d", "scatter3d", "scatter3d"]
    assert len(fig.data[0].x) == 13718 and len(fig.data[2].x) == 24
    xy = screen_xy(fig, body.joints[0, [HEAD, LEFT_ANKLE]].numpy())
    assert fig.layout.scene.camera.up.y == 1 and xy[0, 1] > xy[1, 1]
    fig = body_figure(flipped, model.faces, frame="camera", skeleton="hmr", half_extent=1.3)
    assert len(fig.data[2].x) == 44 and fig.layout.scene.camera.up.y == -1
    xy = screen_xy(fig, flipped.joints[0, [HEAD, LEFT_ANKLE, LEFT_WRIST, RIGHT_WRIST]].numpy())
    assert xy[0, 1] > xy[1, 1] and xy[2, 0] > xy[3, 0]
    np.testing.assert_allclose(np.ptp(fig.layout.scene.xaxis.range), 2.6)
    with pytest.raises(ValueError, match="frame must be"):
        body_figure(body, model.faces, frame="world")


def test_save_html_is_standalone(tmp_path, model, posed):
    path = save_html(body_figure(posed[0], model.faces), tmp_path / "body.html", title="a <body>")
    html = path.read_text()
    assert "<title>a &lt;body&gt;</title>" in html
    assert "plotly.js v" in html  # the embedded library's banner
    assert 'src="http' not in html and "src='http" not in html
    assert path.stat().st_size < 8e6  # ~4.8 MB plotly.js + ~0.7 MB of body
    assert [p.name for p in tmp_path.iterdir()] == ["body.html"]  # no temporary file left
    with pytest.raises(FileNotFoundError):
        save_html(go.Figure(), tmp_path / "missing" / "x.html")


# ----------------------------------------------------------------------------- explorer
def test_explorer_updates_figure_image_and_error(model, image):
    reference = BodyExplorer(model, image=image, betas=np.r_[1.0, np.zeros(9)])
    reference.set_joint_rotation("left_shoulder", [0, 0, -40])
    reference.update()
    targets = np.c_[reference.keypoints_2d, np.ones(44)]  # (44, 3) with confidence
    targets[0, 2] = 0  # ignored

    ex = BodyExplorer(model, image=image, target_keypoints_2d=targets)
    mesh_x, image_bytes = ex.figure.data[0].x.copy(), ex.image_widget.value
    error, label = ex.reprojection_error(), ex.label.value
    assert error > 1.0 and "px" in label and "43 keypoints" in label
    ex.set_betas(np.r_[1.0, np.zeros(9)])
    ex.set_joint_rotation("left_shoulder", [0, 0, -40])
    ms = ex.update()
    assert np.isfinite(ms) and ms > 0
    assert not np.allclose(ex.figure.data[0].x, mesh_x)
    assert ex.image_widget.value != image_bytes and ex.image_widget.value[:2] == b"\xff\xd8"  # JPEG
    assert ex.reprojection_error() < 1e-2 and ex.label.value != label
    state = ex.state()
    np.testing.assert_allclose(state["betas"], np.r_[1.0, np.zeros(9)])
    np.testing.assert_allclose(np.rad2deg(state["body_pose"][15]), [0, 0, -40], atol=1e-4)
    assert state["global_orient"].shape == (3,) and state["cam_t"][2] > 0
    assert ex.beta_sliders[0].value == 1.0
    ex.reset()
    np.testing.assert_allclose(ex.state()["betas"], 0)


def test_explorer_widgets_drive_updates(model):
    elbow = SMPL_JOINT_NAMES.index("right_elbow") - 1  # body_pose leaves out the root
    body_pose = np.zeros((23, 3), np.float32)
    body_pose[elbow] = [0.0, 0.5, 0.0]
    ex = BodyExplorer(model, body_pose=torch.from_numpy(body_pose))  # no image: 3D only, body frame
    assert ex.image_widget is None and ex.figure.layout.scene.camera.up.y == 1
    ex.joint_dropdown.value = "right_elbow"  # sliders follow the selected joint
    np.testing.assert_allclose([s.value for s in ex.rotation_sliders], [0, np.rad2deg(0.5), 0], atol=1e-3)
    assert ex.figure.data[2].marker.color[SMPL_JOINT_NAMES.index("right_elbow")] != ex.figure.data[2].marker.color[0]
    before = ex.figure.data[0].x.copy()
    ex.rotation_sliders[2].value = 30.0  # as if dragged in the browser
    assert not np.allclose(ex.figure.data[0].x, before)
    np.testing.assert_allclose(np.rad2deg(ex.state()["body_pose"][elbow]), [0, np.rad2deg(0.5), 30], atol=1e-3)
    before = ex.figure.data[0].x.copy()
    ex.beta_sliders[1].value = -2.0
    assert ex.state()["betas"][1] == -2.0 and not np.allclose(ex.figure.data[0].x, before)


def test_explorer_accepts_rotation_matrices(model):
    R = torch.tensor([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]])  # 180° about x
    ex = BodyExplorer(model, global_orient=R[None], body_pose=torch.eye(3).expand(23, 3, 3))
    np.testing.assert_allclose(np.abs(ex.state()["global_orient"]), [np.pi, 0, 0], atol=1e-5)
    assert ex.figure.layout.scene.camera.up.y == -1  # head along -y: shown in the camera frame


def test_explorer_rejects_bad_input_with_advice(model, image):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB.*astype\(np.uint8\)"):
        BodyExplorer(model, image=image.astype(np.float32) / 255)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        BodyExplorer(model, image=image[..., :2])
    with pytest.raises(ValueError, match="betas must be 10 .*Pad with zeros"):
        BodyExplorer(model, betas=np.zeros(8))
    with pytest.raises(ValueError, match="pass the image"):
        BodyExplorer(model, target_keypoints_2d=np.zeros((44, 2)))
    ex = BodyExplorer(model)
    with pytest.raises(ValueError, match="unknown joint 'elbow'.*left_elbow"):
        ex.set_joint_rotation("elbow", [0, 0, 10])
    with pytest.raises(ValueError, match="betas must be 10"):
        ex.set_betas(np.zeros(11))
    with pytest.raises(ValueError, match="3 finite numbers"):
        ex.set_joint_rotation("head", [0, 10])
