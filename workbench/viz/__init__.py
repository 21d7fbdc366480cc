"""Visualisation: plotly 3D figures of people, skeletons and cameras, and the interactive body explorer.

    >>> from workbench.viz import scene_figure, body_figure, save_html, BodyExplorer   # doctest: +SKIP
    >>> people = [dict(vertices=v_cam, faces=model.faces)]                                # doctest: +SKIP
    >>> fig = scene_figure(people, camera=dict(focal=f, image_wh=(W, H)), view="side")     # doctest: +SKIP
    >>> save_html(fig, "scene.html")                                                     # doctest: +SKIP
    >>> BodyExplorer(model, image=rgb, cam_t=cam_t)  # in JupyterLab                     # doctest: +SKIP

Frames: scenes in HMR 2.0's camera frame (m; x right, y down, z forward), single bodies in SMPL's
body frame (y up). The explorer is imported lazily by name, so ``import workbench.viz`` does not
import ipywidgets.
"""

from workbench.viz.plotly3d import (
    PALETTE,
    VIEWS,
    SceneCamera,
    ScenePerson,
    body_figure,
    camera_frustum_traces,
    frustum_corners,
    ground_plane_trace,
    mesh_trace,
    save_html,
    scene_figure,
    skeleton_traces,
)

__all__ = [
    "PALETTE",
    "VIEWS",
    "BodyExplorer",
    "SceneCamera",
    "ScenePerson",
    "body_figure",
    "camera_frustum_traces",
    "frustum_corners",
    "ground_plane_trace",
    "mesh_trace",
    "save_html",
    "scene_figure",
    "skeleton_traces",
]


def __getattr__(name: str):
    if name == "BodyExplorer":
        from workbench.viz.explorer import BodyExplorer

        return BodyExplorer
    raise AttributeError(f"module 'workbench.viz' has no attribute {name!r}")
