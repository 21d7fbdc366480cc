"""The bundled demo: the open body placed in a real photo through HMR 2.0's camera.

Until HMR 2.0 and the tracker land, the demo shows the chain every later stage uses: a person box
-> the 3:4 / square crop -> a crop camera ``(s, tx, ty)`` (here fitted to the box instead of
predicted) -> ``cam_crop_to_full`` -> the full-image translation and focal -> a render over the
photo, from the side and from above, and an interactive 3D scene with the camera frustum.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench import assets
from workbench.body import BodyModel, BodyOutput
from workbench.geometry import (
    box_to_center_scale,
    cam_crop_to_full,
    cam_to_translation,
    default_focal_length,
    fit_crop_cam_to_box,
    rot6d_to_rotmat,
    square_box_size,
)
from workbench.io import check_writable_target, read_image, write_image

DEFAULT_IMAGE = "basketball1.png"


@dataclass
class PlacedBody:
    """A body placed in a photo: everything needed to render or inspect it."""

    output: BodyOutput  # body-frame vertices/joints/keypoints
    cam_t: torch.Tensor  # (3,) full-image translation, metres
    focal: float  # full-image focal length, pixels
    pred_cam: torch.Tensor  # (3,) crop camera (s, tx, ty)
    box: np.ndarray  # (4,) x1, y1, x2, y2 pixels


def mean_pose(body: BodyModel) -> torch.Tensor:
    """(1, 24, 3, 3) the mean pose the HMR head starts from (root turned to face the camera)."""
    with np.load(assets.mean_params_path(body.name)) as f:
        pose6d = torch.as_tensor(f["pose"], dtype=torch.float32).reshape(1, 24, 6)
    return rot6d_to_rotmat(pose6d)


def shipped_boxes(image_name: str) -> list[list[float]]:
    """Hand-drawn person boxes shipped for the sample photos (``assets/images/people_boxes.json``)."""
    boxes = json.loads(assets.asset_path("images/people_boxes.json").read_text())
    return boxes.get(image_name, [])


def place_body(body: BodyModel, box_xyxy, image_hw: tuple[int, int], betas: torch.Tensor | None = None) -> PlacedBody:
    """Put the body (mean pose) into a person box, through the crop camera.

    Args:
        box_xyxy: (4,) pixels. image_hw: (H, W). betas: (1, 10) or None.
    """
    box = np.asarray(box_xyxy, dtype=np.float64)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"box must be 4 finite numbers x1, y1, x2, y2 in pixels, got {box_xyxy!r}.")
    center_np, wh = box_to_center_scale(box[None])  # also rejects zero-size boxes
    with torch.inference_mode():
        out = body(pose=mean_pose(body), betas=betas)
    center = torch.as_tensor(center_np, dtype=torch.float32)
    size = torch.as_tensor(square_box_size(wh), dtype=torch.float32).reshape(1)
    pred_cam = fit_crop_cam_to_box(out.vertices, torch.as_tensor(wh, dtype=torch.float32), size, match="height")
    height, width = image_hw
    cam_t = cam_crop_to_full(pred_cam, center, size, torch.tensor([[float(width), float(height)]]))
    return PlacedBody(out, cam_t[0], float(default_focal_length(width, height)), pred_cam[0], box)


def run_demo(image_path: str | Path | None = None, box=None, out_dir: str | Path = "outputs/demo",
             overwrite: bool = False) -> dict[str, Path]:
    """Render the open body over a photo; write ``demo.png`` and ``demo.html`` into ``out_dir``.

    Returns the paths written. Refuses to replace earlier results unless ``overwrite``.
    """
    from workbench.render import overlay, side_view, top_view
    from workbench.viz import save_html, scene_figure

    t0 = time.perf_counter()
    image_path = Path(image_path) if image_path else assets.asset_path(f"images/{DEFAULT_IMAGE}")
    image = read_image(image_path)
    if box is None:
        boxes = shipped_boxes(image_path.name)
        if not boxes:
            raise ValueError(f"no person box known for {image_path.name}; pass one with --box X1 Y1 X2 Y2.")
        box = boxes[0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, html = (check_writable_target(out_dir / n, overwrite) for n in ("demo.png", "demo.html"))

    body = BodyModel.open_body()
    placed = place_body(body, box, image.shape[:2])
    verts = (placed.output.vertices[0] + placed.cam_t).numpy()
    faces = body.faces
    # Side and top views look at the person on the optical axis, like HMR 2.0's demo views.
    centred = verts - np.array([*verts[:, :2].mean(0), 0.0])
    panels = [
        image,
        overlay(image, verts, faces, placed.focal, alpha=0.85),
        side_view((centred, faces), image.shape[:2], placed.focal).rgb,
        top_view((centred, faces), image.shape[:2], placed.focal).rgb,
    ]
    write_image(png, np.concatenate(panels, axis=1))
    people = [{
        "vertices": verts, "faces": faces, "name": "open body",
        "keypoints": (placed.output.keypoints[0] + placed.cam_t).numpy(),
    }]
    fig = scene_figure(people, camera={"focal": placed.focal, "image_wh": image.shape[1::-1]})
    fig.update_layout(title=f"Open body placed in {image_path.name} (camera frame: x right, y down, z forward)")
    save_html(fig, html)
    s, tx, ty = placed.pred_cam.tolist()
    print(f"image {image_path.name} {image.shape[1]}x{image.shape[0]}, box {np.round(placed.box).tolist()}")
    print(f"crop camera (s, tx, ty) = ({s:.3f}, {tx:.3f}, {ty:.3f}) -> crop tz "
          f"{cam_to_translation(placed.pred_cam[None])[0, 2]:.2f} m; full-image focal {placed.focal:.0f} px, "
          f"translation ({', '.join(f'{v:.3f}' for v in placed.cam_t.tolist())}) m")
    print(f"wrote {png} and {html} in {time.perf_counter() - t0:.1f} s")
    return {"png": png, "html": html}
