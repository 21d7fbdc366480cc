"""Looking inside an :class:`~workbench.models.HMR2`: tensor shapes through the pipeline, parameter
counts by part, and where the decoder's query token looks in the image.

    >>> shapes = pipeline_shapes(model, img)            # DataFrame: stage, shape, note   # doctest: +SKIP
    >>> parameter_table({"paper": paper, "tiny": tiny})  # DataFrame: parts x models      # doctest: +SKIP
    >>> maps = cross_attention_maps(model, img)          # (B, layers, heads, 16, 12)      # doctest: +SKIP
    >>> heat = attention_to_pixels(maps[0].mean((0, 1)))  # (256, 256), crop pixels      # doctest: +SKIP

The model's attention runs through ``F.scaled_dot_product_attention``, which never materialises the
attention weights. :func:`cross_attention_maps` therefore *recomputes* them, softmax(q k^T / sqrt(d)),
from each cross-attention layer's own inputs (caught by forward hooks) and its ``to_q`` / ``to_kv``
weights; :func:`cross_attention_maps_reference` walks the decoder by hand, head by head, and is
what the tests compare it with. Nothing in the model is changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import cv2
import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from workbench.geometry import crop_to_vit_columns
from workbench.models.transformer import CrossAttention, _split_heads

__all__ = ["PARTS", "attention_to_pixels", "cross_attention_maps", "cross_attention_maps_reference",
           "loss_gradient_norms", "overlay_heatmap", "parameter_breakdown", "parameter_table", "pipeline_shapes"]


# ----------------------------------------------------------------------------- parameter counts
PARTS: tuple[tuple[str, str], ...] = (
    ("backbone: patch embedding", r"backbone\.patch_embed\."),
    ("backbone: position embedding", r"backbone\.pos_embed$"),
    ("backbone: transformer blocks", r"backbone\.blocks\."),
    ("backbone: final norm", r"backbone\.last_norm\."),
    ("backbone: ResNet-50", r"backbone\.net\."),
    ("head: query token embedding", r"smpl_head\.transformer\.(to_token_embedding\.|pos_embedding$)"),
    ("head: decoder self-attention", r"smpl_head\.transformer\.transformer\.layers\.\d+\.0\."),
    ("head: decoder cross-attention", r"smpl_head\.transformer\.transformer\.layers\.\d+\.1\."),
    ("head: decoder feed-forward", r"smpl_head\.transformer\.transformer\.layers\.\d+\.2\."),
    ("head: IEF MLP", r"smpl_head\.fc\d\."),
    ("head: readouts (pose, shape, camera)", r"smpl_head\.dec(pose|shape|cam)\."),
    ("discriminator", r"discriminator\."),
)
"""(label, regex on the parameter name): the parts :func:`parameter_breakdown` counts, in order."""


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Parameters per part of an HMR2 (see :data:`PARTS`); works on the meta device (nothing allocated).

    Returns:
        label -> count, in :data:`PARTS` order, parts the model lacks left out; a parameter no
        pattern matches is counted under ``"other: <first two name components>"``.
    """
    counts: dict[str, int] = {}
    for name, p in model.named_parameters():
        label = next((lab for lab, pattern in PARTS if re.match(pattern, name)), None)
        label = label or "other: " + ".".join(name.split(".")[:2])
        counts[label] = counts.get(label, 0) + p.numel()
    order = [lab for lab, _ in PARTS]
    return dict(sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def parameter_table(models: Mapping[str, nn.Module]) -> pd.DataFrame:
    """Parameter counts per part (rows) for several models (columns), with a ``total`` row; 0 = absent."""
    table = pd.DataFrame({name: pd.Series(parameter_breakdown(m), dtype="int64") for name, m in models.items()})
    order = [lab for lab, _ in PARTS]
    table = table.reindex(sorted(table.index, key=lambda lab: order.index(lab) if lab in order else len(order)))
    table = table.fillna(0).astype("int64")
    table.loc["total"] = table.sum()
    return table


# ----------------------------------------------------------------------------- shapes through the pipeline
def _module(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _run_eval(model: nn.Module, fn):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return fn()
    finally:
        model.train(was_training)


def _first_tensor(x):
    while isinstance(x, (tuple, list)):
        x = x[0]
    return x


class _StopAfterHead(Exception):
    """Raised by a hook to end a meta-device forward once the head has run (the body needs real numbers)."""


def pipeline_shapes(model: nn.Module, img: Tensor) -> pd.DataFrame:
    """Run ``model`` once on ``img`` and record the tensor shape at every stage of HMR 2.0.

    Works on the meta device too (e.g. the 0.67 B ``paper`` preset built under
    ``torch.device("meta")``): then the run stops after the SMPL head, since the body model needs
    real numbers, and the rows from ``pred_cam_t`` on are left out.

    Args:
        model: an :class:`~workbench.models.HMR2` (any registered backbone/head).
        img: (B, 3, 256, 256) normalised crops.
    Returns:
        DataFrame with columns ``stage``, ``shape``, ``note``, in the order the data flows. Stages
        the model lacks (e.g. the decoder in the MLP-IEF ablations) are left out.
    """
    seen: dict[str, tuple] = {}
    hooks = []

    def record(stage: str, what: str):
        def hook(module, args, kwargs, output):
            if what == "in":
                seen[stage] = tuple(_first_tensor(args).shape)
            elif what == "context":
                seen[stage] = tuple(kwargs["context"].shape)
            else:
                seen[stage] = tuple(_first_tensor(output).shape)
        return hook

    def head_done(module, args, output):
        params, cam, _ = output
        seen.update({k: tuple(v.shape) for k, v in params.items()})
        seen["pred_cam"] = tuple(cam.shape)
        if img.is_meta:
            raise _StopAfterHead

    taps = [  # (stage, module path, what, note)
        ("backbone input: central columns", "backbone", "in", "crop[:, :, :, 32:224], the 3:4 person box"),
        ("patch tokens", "backbone.patch_embed", "out", "Conv2d k=16 s=16 padding=2, flattened to tokens"),
        ("backbone feature map", "backbone", "out", "(B, C, h, w): one C-vector per image patch"),
        ("decoder query token", "smpl_head.transformer", "in", "ONE zero token of dimension 1"),
        ("decoder context: image tokens", "smpl_head.transformer", "context", "the grid flattened: h*w tokens of C"),
        ("query token embedding", "smpl_head.transformer.to_token_embedding", "out", "Linear(1 -> dim) + position"),
        ("decoder output", "smpl_head.transformer", "out", "after [self-attn, cross-attn, FFN] x depth"),
        ("IEF MLP input", "smpl_head.fc1", "in", "pooled features + current pose, betas, cam"),
        ("pose readout (decpose)", "smpl_head.decpose", "out", "24 joints x 6D, added to the mean pose"),
        ("shape readout (decshape)", "smpl_head.decshape", "out", "added to the mean betas"),
        ("camera readout (deccam)", "smpl_head.deccam", "out", "(s, tx, ty), added to the mean camera"),
    ]
    for stage, path, what, _ in taps:
        module = _module(model, path)
        if module is not None:
            hooks.append(module.register_forward_hook(record(stage, what), with_kwargs=True))
    hooks.append(model.smpl_head.register_forward_hook(head_done))
    out = None
    try:
        out = _run_eval(model, lambda: model(img))
    except _StopAfterHead:
        pass
    finally:
        for h in hooks:
            h.remove()
    rows = [("input crop", tuple(img.shape), "ImageNet-normalised RGB")]
    rows += [(stage, seen[stage], note) for stage, _, _, note in taps if stage in seen]
    rows += [
        ("global_orient", seen["global_orient"], "6D -> rotation matrix, joint 0"),
        ("body_pose", seen["body_pose"], "6D -> rotation matrices, joints 1..23"),
        ("betas", seen["betas"], "shape coefficients"),
        ("pred_cam", seen["pred_cam"], "crop camera (s, tx, ty)"),
    ]
    if out is not None:
        rows += [
            ("pred_cam_t", tuple(out["pred_cam_t"].shape), "(tx, ty, 2F / (256 s)), metres"),
            ("pred_vertices", tuple(out["pred_vertices"].shape), "body model output, body frame"),
            ("pred_keypoints_3d", tuple(out["pred_keypoints_3d"].shape), "44 HMR 2.0 keypoints, metres"),
            ("pred_keypoints_2d", tuple(out["pred_keypoints_2d"].shape), "projected with F = 5000 px, crop units"),
        ]
    return pd.DataFrame(rows, columns=["stage", "shape", "note"])


# ----------------------------------------------------------------------------- how hard each loss pulls
def loss_gradient_norms(model: nn.Module, batch: dict, weights: Mapping[str, float]) -> dict[str, float]:
    """How hard each weighted loss term pulls on the network: ``|| d(weight * term) / d theta ||``.

    theta are the generator's parameters (backbone and head), not the discriminator's, as in the
    generator step of training. One forward (eval mode, so no drop-path noise), one backward per term.

    Args:
        model: an HMR2 (with a discriminator if ``weights`` includes ``adversarial``).
        batch: a training batch (``img`` and the labels the terms read).
        weights: term name -> weight, as ``cfg.loss.weights``; terms of weight 0 are skipped.
    Returns:
        term -> gradient norm (float).
    """
    from workbench.losses import LOSSES

    disc = getattr(model, "discriminator", None)
    skip = {id(p) for p in disc.parameters()} if disc is not None else set()
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in skip]
    was_training = model.training
    model.eval()
    try:
        output = model(batch["img"])
        norms = {}
        for name, weight in weights.items():
            if weight == 0:
                continue
            term = weight * LOSSES[name](output, batch, model)
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            norms[name] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))
    finally:
        model.train(was_training)
    return norms


# ----------------------------------------------------------------------------- cross-attention maps
def _cross_attention_layers(model: nn.Module) -> list[CrossAttention]:
    layers = [m for m in model.smpl_head.modules() if isinstance(m, CrossAttention)] if hasattr(model, "smpl_head") \
        else []
    if not layers:
        raise ValueError("this model's head has no cross-attention (the MLP-IEF ablations B1/B2 pool the image "
                         "features instead); cross-attention maps exist only for the transformer-decoder head.")
    return layers


def _attention_weights(layer: CrossAttention, x: Tensor, context: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(d)) of one cross-attention layer: (B, Nq, dim), (B, Nk, C) -> (B, h, Nq, Nk)."""
    q = _split_heads(layer.to_q(x), layer.heads)  # (B, h, Nq, d)
    k = _split_heads(layer.to_kv(context).chunk(2, dim=-1)[0], layer.heads)  # (B, h, Nk, d)
    return (torch.einsum("bhqd,bhkd->bhqk", q.float(), k.float()) * q.shape[-1] ** -0.5).softmax(dim=-1)


def cross_attention_maps(model: nn.Module, img: Tensor) -> Tensor:
    """Where the decoder's query token looks: its cross-attention weights over the image tokens.

    Args:
        model: an HMR2 with the transformer-decoder head.
        img: (B, 3, 256, 256) normalised crops.
    Returns:
        (B, layers, heads, Hp, Wp) float32, each map summing to 1 over the Hp x Wp token grid
        (16 x 12 for the paper's ViT); with one query token, one map per layer and head.
    """
    layers = _cross_attention_layers(model)
    maps: dict[int, Tensor] = {}
    grid: list[tuple[int, int]] = []

    def keep(i: int):
        def hook(module, args, kwargs, output):
            maps[i] = _attention_weights(module, args[0], kwargs["context"])[:, :, 0]  # one query: (B, h, Nk)
        return hook

    hooks = [layer.register_forward_hook(keep(i), with_kwargs=True) for i, layer in enumerate(layers)]
    hooks.append(model.smpl_head.register_forward_pre_hook(lambda m, args: grid.append(tuple(args[0].shape[-2:]))))
    try:
        _run_eval(model, lambda: model(img))
    finally:
        for h in hooks:
            h.remove()
    stacked = torch.stack([maps[i] for i in range(len(layers))], dim=1)  # (B, L, h, Nk)
    return stacked.reshape(*stacked.shape[:3], *grid[0])


def cross_attention_maps_reference(model: nn.Module, img: Tensor) -> tuple[Tensor, Tensor]:
    """Slow reference for :func:`cross_attention_maps`: the decoder walked by hand, one head at a time.

    The cross-attention output is rebuilt from these weights (weights @ v per head, then
    ``to_out``) and carried on through the residual stream, so the returned decoder output equals
    the model's only if the weights are the ones the model really uses.

    Returns:
        maps (B, layers, heads, Hp, Wp) and the decoder output (B, 1, dim).
    """
    _cross_attention_layers(model)  # the same clear error for an MLP head
    decoder = model.smpl_head.transformer

    def run():
        W = model.cfg.backbone.img_size[1]
        feats = model.backbone(crop_to_vit_columns(img, aspect=(W, model.cfg.image_size)))  # (B, C, Hp, Wp)
        B, _, hp, wp = feats.shape
        context = feats.flatten(2).transpose(1, 2)  # (B, Nk, C)
        x = decoder.to_token_embedding(feats.new_zeros(B, 1, 1)) + decoder.pos_embedding[:, :1]
        all_maps = []
        for self_attn, cross, ff in decoder.transformer.layers:
            x = self_attn(x) + x
            attn: CrossAttention = cross.fn
            normed = cross.norm(x)
            d = attn.to_q.out_features // attn.heads
            k_all, v_all = attn.to_kv(context).chunk(2, dim=-1)
            q_all = attn.to_q(normed)
            per_head, outs = [], []
            for h in range(attn.heads):  # one head at a time, weights sliced by hand
                q, k, v = (t[..., h * d:(h + 1) * d] for t in (q_all, k_all, v_all))
                scores = q @ k.transpose(1, 2) / d ** 0.5  # (B, 1, Nk)
                weights = torch.softmax(scores, dim=-1)
                per_head.append(weights[:, 0])
                outs.append(weights @ v)  # (B, 1, d)
            x = attn.to_out(torch.cat(outs, dim=-1)) + x
            x = ff(x) + x
            all_maps.append(torch.stack(per_head, dim=1))  # (B, h, Nk)
        return torch.stack(all_maps, dim=1).reshape(B, len(all_maps), -1, hp, wp), x

    return _run_eval(model, run)


# ----------------------------------------------------------------------------- drawing a map on the crop
def attention_to_pixels(maps, patch_size: int = 16, padding: int = 2, image_size: int = 256,
                        vit_width: int = 192) -> np.ndarray:
    """Token-grid maps -> crop pixels: each pixel takes the value of the patch that covers it.

    With ViTPose's padded patch convolution, token (i, j) covers rows ``16 i - 2 .. 16 i + 13`` of
    the ViT input (and the same columns), which starts at column ``(256 - 192) / 2 = 32`` of the crop.

    Args:
        maps: (..., Hp, Wp) numpy or torch.
        patch_size, padding: of the ViT's patch convolution.
        image_size: crop side (px). vit_width: columns the ViT sees (centred).
    Returns:
        (..., image_size, image_size) float32; NaN in the columns the backbone never sees.
    """
    m = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    hp, wp = m.shape[-2:]
    rows = np.clip((np.arange(image_size) + padding) // patch_size, 0, hp - 1)
    cols = np.clip((np.arange(vit_width) + padding) // patch_size, 0, wp - 1)
    out = np.full((*m.shape[:-2], image_size, image_size), np.nan, np.float32)
    start = (image_size - vit_width) // 2
    out[..., start:start + vit_width] = m[..., rows[:, None], cols[None, :]]
    return out


def overlay_heatmap(image, heat, alpha: float = 0.55, vmin: float | None = None, vmax: float | None = None,
                    colormap: int = cv2.COLORMAP_INFERNO) -> np.ndarray:
    """A heat map over an RGB image; NaN pixels of ``heat`` are dimmed instead of coloured.

    Args:
        image: (H, W, 3) uint8 RGB (or floats in 0..255).
        heat: (H, W) float, e.g. from :func:`attention_to_pixels`.
        alpha: opacity of the colour map.
        vmin, vmax: values drawn darkest / brightest (clipped); None: the map's own min / max.
            Give fixed values to compare maps on one scale.
    Returns:
        (H, W, 3) uint8.
    """
    rgb = np.clip(np.asarray(image, np.float32), 0, 255)
    heat = np.asarray(heat, np.float32)
    valid = np.isfinite(heat)
    lo = vmin if vmin is not None else (heat[valid].min() if valid.any() else 0.0)
    hi = vmax if vmax is not None else (heat[valid].max() if valid.any() else 1.0)
    scaled = np.where(valid, np.clip((heat - lo) / max(hi - lo, 1e-12), 0.0, 1.0), 0.0)
    colour = cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap)[..., ::-1].astype(np.float32)
    out = np.where(valid[..., None], (1 - alpha) * rgb + alpha * colour, 0.35 * rgb)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
