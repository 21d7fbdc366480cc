"""Real pose engines for Table 5: render each action clip as a video, detect, lift and track its people.

An engine here is a callable ``ActionClips -> ActionClips`` (what :func:`workbench.action.run_table5` takes):
the returned clips hold what the engine saw, frame by frame, in place of the generator's ground truth.
Labels stay (AVA labels exist whatever the detector did). :func:`rendered_engines` builds them from
*sources* of 3D people:

* an HMR-style model (:class:`~workbench.models.HMR2` with any head / backbone, e.g. the ResNet-50 +
  IEF baseline): it reads every person's crop;
* ``"ground_truth"``: the generator's parameters (:class:`~workbench.tracking.engines.GroundTruthEngine`);
* a number: ground truth with per-frame rotation noise of that RMS size in degrees on every joint.

**Through the tracker** (``track=True``, the default; the paper's pipeline): per clip

1. every frame is rendered (:func:`render_clip`): 640x480, the generator's scene camera, everyone
   in view with their own clothes over one static procedural background, so a partner in a hug
   overlaps the ego's crop as in a real video;
2. detections are the person's projected-mesh box padded by ``box_pad`` (SynthHumans frames bodies at
   70-95 % of the crop, i.e. ~1.2), clipped to the image, on the generator's detected frames (random
   drops, short gaps, people leaving the image); each carries its slot as ``gt_id``;
3. :func:`workbench.tracking.run_tracking` runs the engine and PHALP' (pose, location and appearance
   costs, the shipped pose predictor, amodal completion of gaps inside tracks);
4. each track goes to the person slot most of its detections came from
   (:func:`~workbench.tracking.smoothing_benchmark.track_identities`). A slot's frames are those its
   tracks cover, observed or completed: pose, 3D joints and the *tracker's* location. An identity
   switch hands a slot another person's poses, as it would hand them to LART.

**Without the tracker** (``track=False``): the same crops (:func:`render_clip_crops`) go straight to
the model, with the generator's identities, detections and location; only the pose changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from workbench.action.clips import (
    FOCAL_REAL,
    IMAGE_HW,
    ActionClips,
    perturb_poses,
    scene_translation,
    with_poses,
)
from workbench.data.appearance import open_body_parts

__all__ = ["ClipVideo", "clip_detections", "model_engine", "render_clip", "render_clip_crops", "rendered_engines",
           "track_clip"]

NEAR = 0.3  # metres: a mesh with a vertex nearer than this to the camera plane is not rendered
SCORE = 0.95  # the detections' confidence (above the tracker's thresholds)


@dataclass
class ClipVideo:
    """One action clip rendered as a video.

    frames: (T, H, W, 3) uint8 RGB. boxes: (P, T, 4) float64 detector-like boxes (x1, y1, x2, y2),
    pixels; NaN where the slot has no detection in that frame.
    """

    frames: np.ndarray
    boxes: np.ndarray


def _scene_vertices(clips: ActionClips, i: int) -> np.ndarray:
    """(P, T, V, 3) float32 mesh of every person slot of clip ``i`` in the scene camera (metres)."""
    skin, _ = open_body_parts()
    P, T = clips.has_detection.shape[1:]
    pose = np.concatenate([clips.global_orient[i][..., None, :], clips.body_pose[i]], -2).reshape(P * T, 24, 3)
    out = skin(pose, np.repeat(clips.betas[i], T, 0))
    origin = scene_translation(clips.camera[i].reshape(-1, 3))
    return (out.vertices + origin[:, None]).reshape(P, T, -1, 3).astype(np.float32)


def render_clip(clips: ActionClips, i: int, box_pad: float = 1.2, seed: int = 0) -> ClipVideo:
    """Render clip ``i`` as the video a camera would have filmed, and its detector boxes (module docstring).

    Deterministic in (clip seed, ``seed``): looks and background come from them.
    """
    import cv2

    from workbench.data.appearance import sample_look, shade_meshes
    from workbench.data.backgrounds import sample_background
    from workbench.geometry.intrinsics import Intrinsics
    from workbench.render.raster import rasterize_people

    skin, parts = open_body_parts()
    faces = skin.faces
    H, W = IMAGE_HW
    P, T = clips.has_detection.shape[1:]
    present = np.flatnonzero(clips.present[i])
    verts = _scene_vertices(clips, i)
    rng = np.random.default_rng([int(clips.seeds[i]) % 2**32, seed])
    looks = {k: sample_look(rng) for k in present}
    background = sample_background(rng, W)[0][(W - H) // 2:(W - H) // 2 + H].astype(np.float32)
    background = cv2.GaussianBlur(background, (0, 0), 1.0)  # a lens, not a texture at pixel sharpness
    camera = Intrinsics(FOCAL_REAL, FOCAL_REAL, W / 2, H / 2)
    frames = np.empty((T, H, W, 3), np.uint8)
    boxes = np.full((P, T, 4), np.nan)
    for t in range(T):
        visible = [k for k in present if verts[k, t, :, 2].min() >= NEAR]
        image = background.copy()
        if visible:
            r = rasterize_people(verts[visible, t], faces, (H, W), camera.fx, (camera.cx, camera.cy))
            px, _, colour = shade_meshes(r.face_id, r.normal, parts, [looks[k] for k in visible])
            image.reshape(-1, 3)[px] = colour
        frames[t] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        for k in visible:
            if not clips.has_detection[i, k, t]:
                continue
            uv = camera.project(verts[k, t])
            centre, half = (uv.min(0) + uv.max(0)) / 2, (uv.max(0) - uv.min(0)) / 2 * box_pad
            box = np.clip(np.concatenate([centre - half, centre + half]), 0, [W, H, W, H])
            if np.all(box[2:] - box[:2] >= 2):
                boxes[k, t] = box
    return ClipVideo(frames, boxes)


def clip_detections(video: ClipVideo) -> dict:
    """``{frame: Detections}`` for every frame of ``video`` (``gt_ids`` = person slot), for the tracker."""
    from workbench.detect import Detections

    out = {}
    for t in range(video.boxes.shape[1]):
        slots = np.flatnonzero(np.isfinite(video.boxes[:, t, 0]))
        out[t] = Detections(video.boxes[slots, t], np.full(len(slots), SCORE), gt_ids=slots)
    return out


def render_clip_crops(clips: ActionClips, i: int, out_size: int = 256, box_pad: float = 1.2,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The crops a model sees in clip ``i``: HMR 2.0's demo crop of every detection box of :func:`render_clip`.

    Returns:
        crops: (M, out_size, out_size, 3) uint8 RGB, one per detected (slot, frame);
        index: (M, 2) int ``(slot, frame)`` of each crop, frame-major.
    """
    from workbench.predict import crop_people

    video = render_clip(clips, i, box_pad, seed)
    crops, index = [], []
    for t, dets in clip_detections(video).items():
        if len(dets):
            crops.append(np.clip(crop_people(video.frames[t], dets.boxes, out_size).crops + 0.5, 0, 255))
            index += [(int(k), t) for k in dets.gt_ids]
    if not crops:
        return np.zeros((0, out_size, out_size, 3), np.uint8), np.zeros((0, 2), np.int64)
    return np.concatenate(crops).astype(np.uint8), np.asarray(index, np.int64)


# ----------------------------------------------------------------------------- engines
def _is_model(source) -> bool:
    return hasattr(source, "predict") and hasattr(source, "cfg")


def _check_sources(sources: dict) -> None:
    for name, s in sources.items():
        if not (_is_model(s) or s == "ground_truth" or isinstance(s, (int, float))):
            raise ValueError(f"source {name!r} is {type(s).__name__}: give an HMR2 model, 'ground_truth' or a "
                             "rotation noise in degrees.")
    sizes = {s.cfg.image_size for s in sources.values() if _is_model(s)}
    if len(sizes) > 1:
        raise ValueError(f"the models take different crop sizes {sorted(sizes)}; run them as separate engines.")


def _untracked(clips: ActionClips, sources: dict, batch_size: int, box_pad: float, seed: int,
               progress: bool) -> dict:
    """Crops straight to each model; ground truth and noise without rendering -> {name: ActionClips}."""
    from tqdm.auto import tqdm

    from workbench.geometry.crop import normalize_image

    out = {n: clips if s == "ground_truth" else perturb_poses(clips, float(s), seed=seed)
           for n, s in sources.items() if not _is_model(s)}
    models = {n: s for n, s in sources.items() if _is_model(s)}
    if not models:
        return out
    N, P, T = clips.has_detection.shape
    size = next(iter(models.values())).cfg.image_size
    rotmats = {n: np.tile(np.eye(3, dtype=np.float32), (N, P, T, 24, 1, 1)) for n in models}
    betas = {n: np.repeat(clips.betas[:, :, None], T, 2).astype(np.float32) for n in models}
    seen = np.zeros((N, P, T), bool)
    devices = {n: next(m.parameters()).device for n, m in models.items()}
    for i in tqdm(range(N), desc="render + pose", disable=not progress):
        crops, index = render_clip_crops(clips, i, size, box_pad)
        for s in range(0, len(crops), batch_size):
            img = normalize_image(crops[s:s + batch_size])
            k, t = index[s:s + batch_size].T
            for name, model in models.items():
                pred = model.predict(img.to(devices[name]))["pred_smpl_params"]
                rotmats[name][i, k, t, :1] = pred["global_orient"].float().cpu().numpy()
                rotmats[name][i, k, t, 1:] = pred["body_pose"].float().cpu().numpy()
                betas[name][i, k, t] = pred["betas"].float().cpu().numpy()
            seen[i, k, t] = True
    return out | {n: with_poses(clips, rotmats[n], betas[n], seen, {"engine": n, "tracked": False}) for n in models}


def _truth_lookup(clips: ActionClips, i: int):
    """``(frame, slot) -> SMPL parameters`` of clip ``i`` in the scene camera (GroundTruthEngine's lookup)."""
    origin = scene_translation(clips.camera[i])

    def lookup(frame: int, slot: int) -> dict:
        return {"global_orient": clips.global_orient[i, slot, frame], "body_pose": clips.body_pose[i, slot, frame],
                "betas": clips.betas[i, slot], "transl": origin[slot, frame]}

    return lookup


def _pose_engine(source, clips: ActionClips, i: int, body, batch_size: int, seed: int):
    from workbench.tracking.engines import GroundTruthEngine, HMR2Engine
    from workbench.tracking.smoothing_benchmark import PoseNoise, noisy_lookup

    if _is_model(source):
        return HMR2Engine(model=source, batch_size=batch_size)
    lookup = _truth_lookup(clips, i)
    if source != "ground_truth":
        # Joint rotations only, as perturb_poses; a stream per (seed, clip), fixed per (frame, slot).
        noise = PoseNoise(rotation_deg=float(source), translation_m=0.0, depth_m=0.0,
                          seed=int(np.random.SeedSequence([seed, int(clips.seeds[i]) % 2**32]).generate_state(1)[0]))
        lookup = noisy_lookup(lookup, noise)
    return GroundTruthEngine(lookup, FOCAL_REAL, body=body)


def track_clip(video: ClipVideo, engine, tracker) -> tuple[dict, dict]:
    """Track one rendered clip with ``engine`` and map tracks to person slots.

    Args:
        video: :func:`render_clip`'s output. engine: a tracking pose engine. tracker: a fresh
            :class:`~workbench.tracking.PHALPTracker`.

    Returns:
        ``{(slot, frame): (DetectionRecord, observed)}`` and statistics: ``tracks`` (confirmed tracks),
        ``fragments`` (tracks per person that has any) and ``coverage`` (detected person-frames that
        got a record).
    """
    from workbench.tracking.pipeline import run_tracking
    from workbench.tracking.smoothing_benchmark import track_identities

    dets = clip_detections(video)
    frames = ((t, f"{t:04d}", frame) for t, frame in enumerate(video.frames))
    result = run_tracking(frames, lambda frame, t: dets[t], engine, tracker, appearance=True, complete_gaps=True,
                          progress=False, total=len(video.frames))
    slot_of = {tid: Counter(by_frame.values()).most_common(1)[0][0]
               for tid, by_frame in track_identities(result, dets).items()}
    records: dict = {}
    for f, people in result.people.items():
        for p in people:
            key = (slot_of.get(p.track_id), f)
            if key[0] is not None and (key not in records or (p.observed and not records[key][1])):
                records[key] = (p.record, p.observed)
    detected = {(int(k), t) for t, d in dets.items() for k in d.gt_ids}
    per_slot = Counter(slot_of.values())
    return records, {"tracks": len(result.track_ids),
                     "fragments": float(np.mean(list(per_slot.values()))) if per_slot else 0.0,
                     "coverage": len(detected & records.keys()) / max(len(detected), 1)}


def _with_records(clips: ActionClips, records: list[dict], meta: list[dict]) -> ActionClips:
    """``clips`` as the tracker handed them on: per (clip, slot, frame) the record's pose vector, joints,
    location and rotations; frames without a record become missing detections."""
    N, P, T = clips.has_detection.shape
    pose, joints = np.zeros_like(clips.pose), np.zeros_like(clips.joints_3d)
    camera, seen = clips.camera.copy(), np.zeros((N, P, T), bool)
    rotmats = np.tile(np.eye(3, dtype=np.float32), (N, P, T, 24, 1, 1))
    for i, recs in enumerate(records):
        for (k, t), (r, _) in recs.items():
            pose[i, k, t], joints[i, k, t], camera[i, k, t] = r.pose, r.joints_3d, r.camera
            rotmats[i, k, t, 0] = r.smpl["global_orient"].reshape(3, 3)
            rotmats[i, k, t, 1:] = r.smpl["body_pose"]
            seen[i, k, t] = True
    aa = Rotation.from_matrix(rotmats.reshape(-1, 3, 3)).as_rotvec().reshape(N, P, T, 24, 3).astype(np.float32)
    return ActionClips(classes=clips.classes, pose=pose, joints_3d=joints, camera=camera, labels=clips.labels,
                       has_detection=seen, present=clips.present, global_orient=aa[..., 0, :],
                       body_pose=aa[..., 1:, :], betas=clips.betas, root_world=clips.root_world, seeds=clips.seeds,
                       meta=[m | extra for m, extra in zip(clips.meta, meta)])


def _tracked(clips: ActionClips, sources: dict, batch_size: int, box_pad: float, tracker_config, seed: int,
             progress: bool) -> dict:
    """Render each clip once, track it with every source -> {name: ActionClips}."""
    from tqdm.auto import tqdm

    from workbench.body import BodyModel
    from workbench.tracking.phalp import PHALPTracker
    from workbench.tracking.pose_predictor import PosePredictor

    body = BodyModel.open_body()
    predictor = PosePredictor.load() if tracker_config.pose_predictor == "transformer" else None
    records = {n: [] for n in sources}
    meta = {n: [] for n in sources}
    for i in tqdm(range(len(clips)), desc="render + track", disable=not progress):
        video = render_clip(clips, i, box_pad)
        for name, source in sources.items():
            engine = _pose_engine(source, clips, i, body, batch_size, seed)
            recs, stats = track_clip(video, engine, PHALPTracker(tracker_config, pose_predictor=predictor))
            records[name].append(recs)
            meta[name].append({"engine": name, "tracked": True, **stats})
    return {n: _with_records(clips, records[n], meta[n]) for n in sources}


def rendered_engines(sources: dict, track: bool = True, tracker_config=None, batch_size: int = 64,
                     box_pad: float = 1.2, seed: int = 0, progress: bool = False
                     ) -> dict[str, Callable[[ActionClips], ActionClips]]:
    """Table 5 engines that see the clips as videos (module docstring).

    Args:
        sources: name -> an HMR-style model (on its device, used in eval mode), ``"ground_truth"``, or a
            rotation noise in degrees (ground truth with that RMS error per joint and frame).
        track: through detection boxes and the PHALP' tracker (True), or crops straight to the models
            with the generator's identities (False).
        tracker_config: :class:`~workbench.tracking.PHALPConfig` (default: the published settings).
        batch_size: crops per forward pass. box_pad: tight mesh box -> detector box.
        seed: the noise sources' seed. progress: a tqdm bar over clips.

    Returns:
        name -> ``engine(clips) -> clips``. The engines share the rendering: the first call on a set of
        clips renders (and tracks) it once for every source; the others then return their result at once.
        With ``track=True`` each clip's meta gains ``tracks``, ``fragments`` and ``coverage``.
    """
    from workbench.tracking.phalp import PHALPConfig

    _check_sources(sources)
    for s in sources.values():
        if _is_model(s):
            s.eval()
    tracker_config = tracker_config or PHALPConfig()
    cache: dict[int, tuple[ActionClips, dict]] = {}

    def run(clips: ActionClips) -> dict:
        if track:
            return _tracked(clips, sources, batch_size, box_pad, tracker_config, seed, progress)
        return _untracked(clips, sources, batch_size, box_pad, seed, progress)

    def make(name: str):
        def engine(clips: ActionClips) -> ActionClips:
            hit = cache.get(id(clips))
            if hit is None or hit[0] is not clips:
                hit = cache[id(clips)] = (clips, run(clips))
            return hit[1][name]
        return engine

    return {name: make(name) for name in sources}


def model_engine(model=None, **kwargs) -> Callable[[ActionClips], ActionClips]:
    """One engine from one model (None: our shipped ``hmr2_tiny``); see :func:`rendered_engines`."""
    if model is None:
        from workbench.models import load_pretrained

        model, _, _ = load_pretrained("hmr2_tiny")
    return rendered_engines({"model": model}, **kwargs)["model"]
