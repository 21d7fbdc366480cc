"""Real pose engines for Table 5: render every person of an action clip, run an HMR-style model on the crops.

An engine here is a callable ``ActionClips -> ActionClips`` (what :func:`workbench.action.run_table5` takes):
the returned clips hold the rotations and shape the model predicted, frame by frame, in place of the
generator's ground truth. Labels, detection masks and the camera translation (the tracker's location)
are kept, so the action model sees exactly what changes with the engine: the pose.

How a crop is made, per clip, person slot and frame with a detection (the generator's scene camera,
640×480 px, focal :data:`~workbench.action.clips.FOCAL_REAL`):

1. every person in the clip is posed and placed in the camera (full open-body mesh);
2. the person's box is the tight box of its projected mesh, padded by ``box_pad``, made square as
   HMR 2.0's demo crops it (:func:`workbench.geometry.crop.square_box_size`);
3. that square is rendered directly through the crop's own pinhole camera (the scene camera cut
   to the box): everyone in view, so a partner in a hug or a hand shake overlaps the crop as in
   a real frame; appearance from :func:`workbench.data.appearance.sample_look`, one static
   procedural background per person and clip;
4. a person smaller than the crop is rendered at its size in pixels and resized up, so distant
   people come out as blurred as a crop of a real frame.

Identities come from the generator (slot k is person k), i.e. the tracker's association is taken as
perfect: these clips have at most two people, who rarely cross.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workbench.action.clips import FOCAL_CANVAS_PX, FOCAL_REAL, IMAGE_HW, ActionClips, with_poses
from workbench.data.appearance import open_body_parts

__all__ = ["model_engine", "model_engines", "render_clip_crops"]

NEAR = 0.3  # metres: a mesh with a vertex nearer than this to the camera plane is not rendered


def _camera_vertices(clips: ActionClips, i: int) -> np.ndarray:
    """(P, T, V, 3) float32 mesh of every person slot of clip ``i`` in the scene camera (metres)."""
    skin, _ = open_body_parts()
    P, T = clips.has_detection.shape[1:]
    pose = np.concatenate([clips.global_orient[i][..., None, :], clips.body_pose[i]], -2).reshape(P * T, 24, 3)
    out = skin(pose, np.repeat(clips.betas[i], T, 0))
    j0 = out.joints[:, 0]
    # The canvas translation keeps image position and size: pelvis_cam = (camera + j0) * FOCAL_REAL / FOCAL_CANVAS.
    pelvis = (clips.camera[i].reshape(-1, 3) + j0) * (FOCAL_REAL / FOCAL_CANVAS_PX)
    return (out.vertices - j0[:, None] + pelvis[:, None]).reshape(P, T, -1, 3).astype(np.float32)


def render_clip_crops(clips: ActionClips, i: int, out_size: int = 256, box_pad: float = 1.2,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Render the crops an engine sees for clip ``i`` (see the module docstring).

    Returns:
        crops: (M, out_size, out_size, 3) uint8 RGB, one per detected (slot, frame);
        index: (M, 2) int ``(slot, frame)`` of each crop, slot-major.
    """
    import cv2

    from workbench.data.appearance import sample_look, shade_meshes
    from workbench.data.backgrounds import sample_background
    from workbench.geometry.crop import square_box_size
    from workbench.render.raster import rasterize

    skin, parts = open_body_parts()
    faces = skin.faces
    H, W = IMAGE_HW
    present = np.flatnonzero(clips.present[i])
    verts = _camera_vertices(clips, i)
    rng = np.random.default_rng([int(clips.seeds[i]) % 2**32, seed])
    looks = {k: sample_look(rng) for k in present}
    backgrounds = {k: sample_background(rng, out_size)[0] for k in present}
    crops, index = [], []
    for k in present:
        for t in np.flatnonzero(clips.has_detection[i, k]):
            v = verts[k, t]
            if v[:, 2].min() < NEAR:
                continue
            uv = FOCAL_REAL * v[:, :2] / v[:, 2:] + (W / 2, H / 2)
            centre = (uv.min(0) + uv.max(0)) / 2
            size = float(square_box_size((uv.max(0) - uv.min(0))[None] * box_pad)[0])
            res = int(np.clip(round(size), 16, out_size))  # render at the person's own resolution
            scale = res / size
            focal = FOCAL_REAL * scale
            pp = ((W / 2 - centre[0]) * scale + res / 2, (H / 2 - centre[1]) * scale + res / 2)
            others = [j for j in present if j != k and verts[j, t, :, 2].min() >= NEAR]
            mesh = np.concatenate([v] + [verts[j, t] for j in others])
            r = rasterize(mesh, np.concatenate([faces + n * len(v) for n in range(1 + len(others))]), (res, res),
                          focal, pp, cull_back=True)
            image = cv2.resize(backgrounds[k], (res, res), interpolation=cv2.INTER_AREA).astype(np.float32)
            px, _, colour = shade_meshes(r.face_id, r.normal, parts, [looks[j] for j in [k] + others])
            image.reshape(-1, 3)[px] = colour
            image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
            if res < out_size:
                image = cv2.resize(image, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
            crops.append(image)
            index.append((k, t))
    if not crops:
        return np.zeros((0, out_size, out_size, 3), np.uint8), np.zeros((0, 2), np.int64)
    return np.stack(crops), np.asarray(index, np.int64)


def _run_models(clips: ActionClips, models: dict, batch_size: int, box_pad: float, progress: bool) -> dict:
    """Render every clip's crops once and run every model on them -> {name: ActionClips}."""
    from tqdm.auto import tqdm

    from workbench.geometry.crop import normalize_image

    N, P, T = clips.has_detection.shape
    sizes = {m.cfg.image_size for m in models.values()}
    if len(sizes) != 1:
        raise ValueError(f"the models take different crop sizes {sorted(sizes)}; run them as separate engines.")
    rotmats = {n: np.tile(np.eye(3, dtype=np.float32), (N, P, T, 24, 1, 1)) for n in models}
    betas = {n: np.repeat(clips.betas[:, :, None], T, 2).astype(np.float32) for n in models}
    seen = np.zeros((N, P, T), bool)
    devices = {n: next(m.parameters()).device for n, m in models.items()}
    for i in tqdm(range(N), desc="render + pose", disable=not progress):
        crops, index = render_clip_crops(clips, i, next(iter(sizes)), box_pad)
        for s in range(0, len(crops), batch_size):
            img = normalize_image(crops[s:s + batch_size])
            k, t = index[s:s + batch_size].T
            for name, model in models.items():
                out = model.predict(img.to(devices[name]))["pred_smpl_params"]
                rotmats[name][i, k, t, :1] = out["global_orient"].float().cpu().numpy()
                rotmats[name][i, k, t, 1:] = out["body_pose"].float().cpu().numpy()
                betas[name][i, k, t] = out["betas"].float().cpu().numpy()
            seen[i, k, t] = True
    return {n: with_poses(clips, rotmats[n], betas[n], seen, {"engine": n}) for n in models}


def model_engines(models: dict, batch_size: int = 64, box_pad: float = 1.2,
                  progress: bool = False) -> dict[str, Callable[[ActionClips], ActionClips]]:
    """Engines that render each clip's people and read their poses from HMR-style models.

    Args:
        models: name -> an :class:`~workbench.models.HMR2` (any head / backbone, e.g. the ResNet + IEF
            baseline), each on its device, used in eval mode.
        batch_size: crops per forward pass.
        box_pad: tight mesh box -> detector-like box.
        progress: a tqdm bar over clips.

    Returns:
        name -> ``engine(clips) -> clips`` (predicted global orientation in the camera frame, body pose
        and betas per detected frame). The engines share the rendering: the first call on a set of clips
        renders it once and runs every model; the others then return their result at once.
    """
    for m in models.values():
        m.eval()
    cache: dict[int, tuple[ActionClips, dict]] = {}

    def make(name: str):
        def engine(clips: ActionClips) -> ActionClips:
            hit = cache.get(id(clips))
            if hit is None or hit[0] is not clips:
                hit = cache[id(clips)] = (clips, _run_models(clips, models, batch_size, box_pad, progress))
            return hit[1][name]
        return engine

    return {name: make(name) for name in models}


def model_engine(model=None, **kwargs) -> Callable[[ActionClips], ActionClips]:
    """One engine from one model (None: our shipped ``hmr2_tiny``); see :func:`model_engines`."""
    if model is None:
        from workbench.models import load_pretrained

        model, _, _ = load_pretrained("hmr2_tiny")
    return model_engines({"model": model}, **kwargs)["model"]
