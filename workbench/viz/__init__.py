"""Visualisation: plotly 3D figures of people, skeletons and cameras, 2D drawings and picture layouts,
and the interactive explorers (body sliders, predictions per frame and engine, tracks over time).

    >>> from workbench.viz import scene_figure, body_figure, save_html, BodyExplorer   # doctest: +SKIP
    >>> people = [dict(vertices=v_cam, faces=model.faces)]                                # doctest: +SKIP
    >>> fig = scene_figure(people, camera=dict(focal=f, image_wh=(W, H)), view="side")     # doctest: +SKIP
    >>> save_html(fig, "scene.html")                                                     # doctest: +SKIP
    >>> BodyExplorer(model, image=rgb, cam_t=cam_t)  # in JupyterLab                     # doctest: +SKIP
    >>> image_row([draw_keypoints(rgb, uv, HMR_SKELETON), crop], labels=["photo", "crop"])  # doctest: +SKIP

Frames: scenes in HMR 2.0's camera frame (m; x right, y down, z forward), single bodies in SMPL's
body frame (y up). The explorers are imported lazily by name, so ``import workbench.viz`` does not
import ipywidgets.
"""

from workbench.viz.draw import (
    BODY_VIEWS,
    draw_boxes,
    draw_keypoints,
    image_grid,
    image_row,
    pad_image,
    put_label,
    render_body_grid,
)
from workbench.viz.plotly3d import (
    PALETTE,
    VIEWS,
    SceneCamera,
    ScenePerson,
    axes_traces,
    body_figure,
    camera_frustum_traces,
    coordinate_frames_figure,
    frustum_corners,
    ground_plane_trace,
    keypoint_group_traces,
    mesh_trace,
    save_html,
    scene_figure,
    skeleton_traces,
)

__all__ = [
    "BODY_VIEWS",
    "PALETTE",
    "VIEWS",
    "BodyExplorer",
    "PredictionExplorer",
    "TrackExplorer",
    "SceneCamera",
    "ScenePerson",
    "axes_traces",
    "body_figure",
    "camera_frustum_traces",
    "coordinate_frames_figure",
    "draw_boxes",
    "draw_keypoints",
    "frustum_corners",
    "ground_plane_trace",
    "image_grid",
    "image_row",
    "keypoint_group_traces",
    "mesh_trace",
    "pad_image",
    "put_label",
    "render_body_grid",
    "save_html",
    "scene_figure",
    "skeleton_traces",
]


def __getattr__(name: str):
    if name == "BodyExplorer":
        from workbench.viz.explorer import BodyExplorer

        return BodyExplorer
    if name == "PredictionExplorer":
        from workbench.viz.prediction_explorer import PredictionExplorer

        return PredictionExplorer
    if name == "TrackExplorer":
        from workbench.viz.track_explorer import TrackExplorer

        return TrackExplorer
    raise AttributeError(f"module 'workbench.viz' has no attribute {name!r}")
