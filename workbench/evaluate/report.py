"""Reading an evaluation: the paper's numbers, slices of a per-sample frame, worst cases, and
pictures of a prediction next to its ground truth.

:func:`~workbench.evaluate.runner.evaluate_model` gives one row per sample; this module answers
the questions a person asks next -- *how does that compare with the paper?* (:data:`PAPER_TABLE_1`,
:data:`PAPER_TABLE_2`), *where does it fail?* (:func:`summary_by`, :func:`worst_cases`) and *what
does a failure look like?* (:func:`compare_samples`: the crop with the predicted mesh and keypoints,
the crop with the ground-truth mesh, and both bodies seen from the front, the side and above).

Frames: predicted and ground-truth vertices are in HMR 2.0's body frame with the camera's axes
(metres, x right, y down, z forward, no translation); views are rendered about the pelvis
(joint 39), the point MPJPE aligns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from workbench.body.keypoints import HMR_SKELETON
from workbench.evaluate.runner import summary_table

__all__ = ["IMAGE_FOLDERS", "PAPER_TABLE_1", "PAPER_TABLE_2", "VIEWS", "compare_samples", "find_published_sets", "real_photo_pck",
           "ground_truth_output", "paper_style_table", "paper_tables", "predict_samples", "summary_by", "view_vertices",
           "worst_cases"]

# HMR 2.0's rows of the paper's tables (paper_humans_in_4d.txt), keyed (set, metric) like :func:`paper_style_table`.
# Table 1: mm, lower is better.
PAPER_TABLE_1 = {
    "HMR 2.0a": {("3dpw-test", "mpjpe"): 70.0, ("3dpw-test", "pa_mpjpe"): 44.5,
                 ("h36m-val-p2", "mpjpe"): 44.8, ("h36m-val-p2", "pa_mpjpe"): 33.6},
    "HMR 2.0b": {("3dpw-test", "mpjpe"): 81.3, ("3dpw-test", "pa_mpjpe"): 54.3,
                 ("h36m-val-p2", "mpjpe"): 50.0, ("h36m-val-p2", "pa_mpjpe"): 32.4},
}
# Table 2: PCK, higher is better. The extracted table has no row names; its last two rows are HMR 2.0a
# then 2.0b, as in Table 1 (the text confirms 2.0b's LSP-Extended PCK@0.05 of 0.53).
PAPER_TABLE_2 = {
    "HMR 2.0a": {("lsp-extended", "pck@0.05"): 0.38, ("lsp-extended", "pck@0.1"): 0.72,
                 ("coco-val", "pck@0.05"): 0.79, ("coco-val", "pck@0.1"): 0.95,
                 ("posetrack-val", "pck@0.05"): 0.86, ("posetrack-val", "pck@0.1"): 0.97},
    "HMR 2.0b": {("lsp-extended", "pck@0.05"): 0.53, ("lsp-extended", "pck@0.1"): 0.82,
                 ("coco-val", "pck@0.05"): 0.86, ("coco-val", "pck@0.1"): 0.96,
                 ("posetrack-val", "pck@0.05"): 0.90, ("posetrack-val", "pck@0.1"): 0.98},
}
# Where each set's images live under one root, as in HMR 2.0's ``hmr2/configs/datasets_eval.yaml``.
IMAGE_FOLDERS = {"3dpw-test": "3DPW", "h36m-val-p2": "h36m/images", "lsp-extended": "hr-lspet", "coco-val": "coco",
                 "posetrack-val": "posetrack/posetrack2018/posetrack_data"}
LOWER_IS_BETTER = ("mpjpe", "pa_mpjpe")
_METRICS = ("mpjpe", "pa_mpjpe", "pck@0.05", "pck@0.1")
PELVIS = 39  # HMR 2.0's alignment joint in the 44-joint set
PRED_BODY_COLOR = (0.90, 0.50, 0.45)  # salmon, like the red predicted keypoints
GT_BODY_COLOR = (0.50, 0.78, 0.50)  # green, like the green ground-truth keypoints


def paper_tables():
    """HMR 2.0's published rows as two DataFrames indexed by model, columns (set, metric):
    Table 1 (mm) and Table 2 (PCK)."""
    import pandas as pd

    return tuple(pd.DataFrame.from_dict(t, orient="index").rename_axis(columns=["set", "metric"])
                 for t in (PAPER_TABLE_1, PAPER_TABLE_2))


def paper_style_table(results: dict, metrics: dict | None = None):
    """One row per model, columns (set, metric), like the paper's Tables 1 and 2.

    Args:
        results: model name -> {set name -> per-sample frame from :func:`evaluate_model`}.
        metrics: set name -> the metrics to show for it; default :data:`EVAL_SETS`' published
            metrics for the published sets, all four for any other set (e.g. SynthBench splits).
    Returns:
        DataFrame, index model, columns MultiIndex (set, metric); concatenate with
        :func:`paper_tables` to compare.
    """
    import pandas as pd

    from workbench.evaluate.datasets import EVAL_SETS

    rows = {}
    for model_name, frames in results.items():
        table = summary_table(frames)
        row = {}
        for set_name in frames:
            shown = (metrics or {}).get(set_name, EVAL_SETS.get(set_name, (None, _METRICS))[1])
            row.update({(set_name, m): float(table.loc[set_name, m]) for m in shown})
        rows[model_name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(columns=["set", "metric"])


def find_published_sets(data_dir, image_root) -> tuple[dict, list[str]]:
    """Which published evaluation sets are on disk.

    Args:
        data_dir: the folder holding HMR 2.0's evaluation ``.npz`` files (``hmr2_evaluation_data/``), or None.
        image_root: the folder holding each set's images in :data:`IMAGE_FOLDERS`, or None.
    Returns:
        ({set name: (npz path, image folder)} for the sets with both, [what is missing, one line each]).
    """
    from workbench.evaluate.datasets import EVAL_SETS

    if data_dir is None or image_root is None:
        return {}, ["WORKBENCH_EVAL_DIR and WORKBENCH_EVAL_IMAGES must both be set"]
    found, missing = {}, []
    for name, (file, _) in EVAL_SETS.items():
        npz, images = Path(data_dir) / file, Path(image_root) / IMAGE_FOLDERS[name]
        if not npz.is_file():
            missing.append(f"{name}: no {npz}")
        elif not images.is_dir():
            missing.append(f"{name}: no image folder {images}")
        else:
            found[name] = (npz, images)
    return found, missing


# ----------------------------------------------------------------------------- slicing
def summary_by(df, column: str, bins=None):
    """:func:`summary_table` of each group of a per-sample frame.

    Args:
        df: a frame from :func:`~workbench.evaluate.runner.evaluate_model`.
        column: the column to group by (e.g. ``"activity"``, ``"pose_difficulty"``).
        bins: None groups by the column's values; an int or a list of edges bins it with ``pd.cut``.
    Returns:
        DataFrame indexed by group (named ``column``), with :func:`summary_table`'s columns.
    """
    import pandas as pd

    if column not in df.columns:
        raise KeyError(f"no column {column!r} in the frame; columns: {list(df.columns)}.")
    key = df[column] if bins is None else pd.cut(df[column], bins)
    table = summary_table({str(k): g for k, g in df.groupby(key, observed=True, sort=True)})
    table.index.name = column
    return table


def worst_cases(df, metric: str = "pa_mpjpe", k: int = 4):
    """The ``k`` rows of ``df`` with the worst ``metric`` (largest error, or smallest PCK); NaNs left out."""
    if metric not in df.columns:
        raise KeyError(f"no column {metric!r} in the frame; columns: {list(df.columns)}.")
    rows = df[df[metric].notna()]
    return rows.nlargest(k, metric) if metric in LOWER_IS_BETTER else rows.nsmallest(k, metric)


# ----------------------------------------------------------------------------- predictions and ground truth
def predict_samples(model, dataset, indices: Sequence[int]) -> tuple[dict, dict]:
    """Items ``indices`` of ``dataset`` as one batch, and the model's outputs on it (on the CPU)."""
    batch = torch.utils.data.default_collate([dataset[int(i)] for i in indices])
    device = next(model.parameters()).device
    out = model.predict(batch["img"].to(device))
    out = {k: v.float().cpu() for k, v in out.items() if torch.is_tensor(v)}
    return batch, out


def ground_truth_output(body, batch: dict) -> dict[str, torch.Tensor]:
    """The ground truth of a batch in the model's output layout (``pred_vertices``, ``pred_keypoints_3d``,
    ``pred_keypoints_2d`` (B, 44, 3) with confidence, ``pred_cam_t`` if the batch has ``cam_t``).

    Args:
        body: the :class:`~workbench.body.BodyModel` the labels come from (``model.smpl``).
        batch: collated items with ``smpl_params`` (axis-angle) and ``keypoints_2d``.
    """
    params = batch["smpl_params"]
    with torch.no_grad():
        posed = body(global_orient=params["global_orient"].float(), body_pose=params["body_pose"].float(),
                     betas=params["betas"].float())
    out = {"pred_vertices": posed.vertices.float().cpu(), "pred_keypoints_3d": posed.keypoints.float().cpu(),
           "pred_keypoints_2d": batch["keypoints_2d"].float()}
    if "cam_t" in batch:
        out["pred_cam_t"] = batch["cam_t"].float()
    return out


# ----------------------------------------------------------------------------- views
def _rotation(axis: str, angle_deg: float) -> np.ndarray:
    from workbench.render import rotation_about_axis

    return rotation_about_axis(axis, angle_deg)


# view -> rotation applied in the picture's frame (y up, the camera's side towards the viewer)
VIEWS = {"front": np.eye(3), "side": _rotation("y", 90.0), "top": _rotation("x", 90.0)}


def view_vertices(vertices, pelvis, view: str) -> np.ndarray:
    """Camera-frame vertices turned for a view, about the pelvis, in :func:`render_body_grid`'s frame.

    Args:
        vertices: (V, 3) metres, HMR 2.0's body frame with the camera's axes (y down, z forward).
        pelvis: (3,) the point to turn about and centre on.
        view: ``"front"`` (as the camera sees it), ``"side"`` (turned 90° about the vertical) or
            ``"top"`` (seen from above; the camera's side at the bottom of the picture).
    Returns:
        (V, 3) float64, y up, the pelvis at the origin.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}.")
    v = (np.asarray(vertices, np.float64) - np.asarray(pelvis, np.float64)) * [1.0, -1.0, -1.0]  # camera -> y up
    return v @ VIEWS[view].T


def _crop_with_truth(crop, truth: dict, i: int, faces, focal_length: float) -> np.ndarray:
    """Crop ``i`` with the ground-truth mesh (if ``pred_cam_t`` is known) and its visible keypoints in green."""
    from workbench.predict import GT_COLOR, crop_keypoints_px
    from workbench.render import overlay
    from workbench.viz import draw_keypoints

    img = np.asarray(crop)
    if "pred_cam_t" in truth:
        verts = (truth["pred_vertices"][i] + truth["pred_cam_t"][i]).numpy()
        img = overlay(img, verts, faces, focal_length, alpha=0.7)
    return draw_keypoints(img, crop_keypoints_px(truth["pred_keypoints_2d"][i], img.shape[0]), HMR_SKELETON,
                          color=GT_COLOR, bone_color=GT_COLOR, min_conf=0.5)


def compare_samples(model, dataset, indices: Sequence[int], views: Sequence[str] = ("front", "side", "top"),
                    labels: Sequence[str] | None = None, cell_px: int = 192) -> np.ndarray:
    """One row per sample: the crop with the prediction (mesh, red keypoints, green ground-truth
    keypoints), the crop with the ground-truth mesh, then predicted (salmon) and ground-truth (green)
    bodies in each view, pelvis-aligned, at one scale per row.

    Args:
        model: a workbench HMR2; its body (``model.smpl``) poses the ground truth, so the dataset's
            ``smpl_params`` must be of that body (SynthBench: the open body).
        dataset: items with ``img``, ``keypoints_2d``, ``smpl_params`` (and ``cam_t`` for the
            ground-truth overlay), e.g. :class:`~workbench.evaluate.synthbench.SynthBench`.
        indices: dataset indices to show.
        views: names in :data:`VIEWS`.
        labels: one caption per sample for its first panel (e.g. its error); default the index.
        cell_px: panel height (px).
    Returns:
        (H, W, 3) uint8 picture.
    """
    from workbench.data.synth import denormalize_image
    from workbench.predict import crop_overlays
    from workbench.viz import image_grid, image_row, render_body_grid

    batch, pred = predict_samples(model, dataset, indices)
    truth = ground_truth_output(model.smpl, batch)
    faces, focal = model.smpl.faces, float(model.cfg.focal_length)
    crops = [denormalize_image(img) for img in batch["img"]]
    shown = crop_overlays(crops, pred, faces, gt_keypoints_2d=batch["keypoints_2d"], focal_length=focal)
    labels = list(labels) if labels is not None else [f"#{int(i)}" for i in indices]
    rows = []
    for i in range(len(indices)):
        pelvis_p, pelvis_g = pred["pred_keypoints_3d"][i, PELVIS], truth["pred_keypoints_3d"][i, PELVIS]
        bodies = [(pred["pred_vertices"][i], pelvis_p), (truth["pred_vertices"][i], pelvis_g)]
        # 1. One scale per row: the cell shows the farthest vertex from either pelvis, in any view.
        reach = max(float(np.linalg.norm(v.numpy() - p.numpy(), axis=1).max()) for v, p in bodies)
        panels = [shown[i], _crop_with_truth(crops[i], truth, i, faces, focal)]
        names = [labels[i], "ground truth"]
        # 2. Predicted and ground-truth bodies side by side in each view.
        for view in views:
            turned = [view_vertices(v.numpy(), p.numpy(), view) for v, p in bodies]
            panels.append(render_body_grid(turned, faces, views=("front",), cell_px=cell_px, center=np.zeros(3),
                                           extent_m=2.05 * reach, colors=[PRED_BODY_COLOR, GT_BODY_COLOR], gap=2))
            names.append(f"{view}: pred | gt")
        rows.append(image_row(panels, labels=names, height=cell_px))
    return image_grid(rows)


def real_photo_pck(model, people=None, thresholds=(0.05, 0.1), min_confidence: float = 0.5):
    """PCK of ``model`` on the real photos' pseudo labels (the honest real-image check of our HMR 2.0).

    Each labelled person is cropped from its box and predicted (``workbench.predict.predict_people``);
    the projected 44 keypoints are compared with the labels that have confidence > ``min_confidence``,
    distances divided by the box's longest side, as the published PCK. ``model`` may also be a
    heat-map :class:`workbench.pretrain.KeypointModel` (its arg-max keypoints are compared).

    Args:
        people: :class:`workbench.evaluate.pseudo_labels.RealPhotoPerson` list (default: all shipped labels).
    Returns:
        DataFrame, one row per person: name, visible keypoints, ``pck@t`` (fraction of them within t),
        plus a final ``overall`` row: the mean of per-keypoint accuracies over all people (published style).
    """
    import pandas as pd

    from workbench.evaluate.pseudo_labels import real_photo_items
    from workbench.predict import predict_people
    from workbench.pretrain import KeypointModel, predict_keypoints

    people = real_photo_items() if people is None else people
    rows, correct, visible = [], {t: np.zeros(44) for t in thresholds}, np.zeros(44)
    for p in people:
        if isinstance(model, KeypointModel):
            pred = predict_keypoints(model, p.image, p.box[None])[0][0].numpy()
        else:
            pred = predict_people(model, p.image, p.box[None]).keypoints_2d[0].numpy()
        vis = p.keypoints[:, 2] > min_confidence
        dist = np.linalg.norm(pred - p.keypoints[:, :2], axis=1) / float(np.max(p.box[2:] - p.box[:2]))
        row = {"name": p.name, "visible": int(vis.sum())}
        for t in thresholds:
            ok = (dist < t) & vis
            correct[t] += ok
            row[f"pck@{t}"] = float(ok.sum() / max(vis.sum(), 1))
        visible += vis
        rows.append(row)
    seen = visible > 0
    overall = {"name": "overall", "visible": int(visible.sum()),
               **{f"pck@{t}": float((correct[t][seen] / visible[seen]).mean()) for t in thresholds}}
    return pd.DataFrame(rows + [overall])
