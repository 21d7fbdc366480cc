"""CPU mesh renderer: warp ray casting (and a z-buffer rasteriser, ``render.raster``, for fast
synthetic crops), no OpenGL/EGL/OSMesa, no GPU.

Camera frame everywhere: metres, x right, y down, z forward, camera at the origin; pinhole with
focal (fx, fy) and principal point (cx, cy) in pixels (default: image centre).

    >>> from workbench.render import render, overlay, side_view, top_view, visible_points
    >>> out = render([(vertices, faces)], image_size=(H, W), focal=f)   # doctest: +SKIP
    >>> out.rgb, out.depth, out.mesh_id, out.face_id, out.mask          # doctest: +SKIP

warp is imported on first render (its kernels compile once per machine, ~2-3 s, then load from
``~/.cache/warp`` in ~0.3 s), so importing this package is cheap and prints nothing.
"""

from workbench.render.bvh_cache import clear_mesh_cache
from workbench.render.scene import DEFAULT_COLOR, RenderResult, overlay, render
from workbench.render.views import rotation_about_axis, side_view, top_view
from workbench.render.visibility import project_points, visible_points

__all__ = [
    "DEFAULT_COLOR",
    "RenderResult",
    "clear_mesh_cache",
    "overlay",
    "project_points",
    "render",
    "rotation_about_axis",
    "side_view",
    "top_view",
    "visible_points",
]
