"""Checkpoints: ours (safetensors + JSON sidecar) and the official HMR 2.0 Lightning file.

**Ours.** ``save_checkpoint("run/step_1000.safetensors", model, cfg, extra)`` writes the weights and
a sidecar ``run/step_1000.json`` (config, body, metrics, and the SHA-256 of the weights, so a pair
torn by an interrupted save is detected). Both writes are atomic. The body's buffers are not saved
(see :mod:`workbench.models.hmr2`): the checkpoint is small and the user's body stays theirs.

**Official.** ``HMR2.from_official_checkpoint(path)`` reads the published
``epoch=35-step=1000000.ckpt`` with ``torch.load(weights_only=True)``: tensors and plain containers
only, never arbitrary objects. Lightning also pickles the training config (a yacs ``CfgNode``) and
other objects into the file; those are read as inert ``OrderedDict`` stand-ins (see
:func:`torch_load_weights_only`), without importing or running any of their code.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from workbench.body import BodyModel
from workbench.config import BackboneConfig, Config, HeadConfig, ModelConfig
from workbench.models.hmr2 import HMR2
from workbench.models.state import diff_state_dict
from workbench.weights import sidecar_path, write_pair

__all__ = ["save_checkpoint", "load_checkpoint", "load_official_checkpoint", "infer_official_config",
           "torch_load_weights_only", "OFFICIAL_RENAMES"]

FORMAT = "workbench-hmr2"
VERSION = 1

# Official key prefix -> ours. Empty on purpose: every module here uses the published names (timm's
# ViT Block happens to name its parts as ViTPose does). A future divergence is one line here.
OFFICIAL_RENAMES: tuple[tuple[str, str], ...] = ()
# Official keys that are not weights of ours: the SMPL layer's buffers (the user's body supplies
# them) and Lightning's ``initialized`` flag.
OFFICIAL_DROPPED_PREFIXES = ("smpl.",)
OFFICIAL_DROPPED_KEYS = ("initialized",)


def _jsonable(value):
    """Tensors and numpy values -> Python numbers/lists so metrics can go into the sidecar."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        return value.tolist()
    return value


def save_checkpoint(path: str | os.PathLike, model: HMR2, cfg: Config | ModelConfig | None = None,
                    extra: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``model``'s weights to ``path`` (``.safetensors``) and config/metrics to the JSON sidecar.

    Args:
        path: destination ending in ``.safetensors``; its folder must exist.
        model: the :class:`HMR2` to save (body buffers excluded).
        cfg: the run's :class:`Config` (or just the ModelConfig). Its ``model`` part is replaced by
            ``model.cfg``, the config the weights were actually built with.
        extra: JSON-able metadata (step, metrics...); tensors/numpy values are converted.
        dtype: store floating-point tensors in this dtype (``torch.float16`` halves a file to ship);
            :func:`load_checkpoint` casts them back to the model's dtypes. None keeps them as they are.
    Returns:
        The sidecar path.
    """
    import safetensors.torch

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint path {path} must end in .safetensors (the config goes next to it as .json).")
    full = copy.deepcopy(cfg) if isinstance(cfg, Config) else Config(name="custom")
    if isinstance(cfg, Config) and dataclasses.asdict(cfg.model) != dataclasses.asdict(model.cfg):
        warnings.warn("cfg.model differs from the config the model was built with; saving the model's own.",
                      stacklevel=2)
    full.model = copy.deepcopy(model.cfg)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    data = safetensors.torch.save(tensors, metadata={"format": FORMAT})
    sidecar = {
        "format": FORMAT, "version": VERSION, "weights": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "config_kind": "Config" if isinstance(cfg, Config) else "ModelConfig",
        "config": full.to_dict(),
        "body": {"name": model.smpl.name, "num_vertices": int(model.smpl.layer.v_template.shape[0])},
        "extra": _jsonable(extra or {}),
    }
    return write_pair(path, data, sidecar)


def _materialise(cfg: ModelConfig, body: BodyModel | None, weights: Mapping[str, Tensor], source: str,
                 hint: str) -> HMR2:
    """Build on the meta device (no random init of ~0.7 B parameters), check every key and shape,
    then adopt the file's tensors (cast to the model's dtypes)."""
    if body is None:
        body = BodyModel.create(cfg.body, num_betas=cfg.head.num_betas)
    with torch.device("meta"):
        model = HMR2(cfg, body=body)
    expected = model.state_dict()
    diff_state_dict(expected, weights).raise_if_any(source, hint)
    weights = {k: v.to(expected[k].dtype) if v.is_floating_point() else v for k, v in weights.items()}
    model.load_state_dict(weights, strict=True, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"internal error: {left[:5]} were not loaded from {source}.")
    return model


def load_checkpoint(path: str | os.PathLike, body: BodyModel | None = None) -> tuple[HMR2, Config | ModelConfig, dict]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the ``.safetensors`` file (its ``.json`` sidecar must sit next to it).
        body: the body to attach; None builds the config's (``cfg.model.body``).
    Returns:
        ``(model, cfg, extra)``; ``cfg`` is a :class:`Config` or :class:`ModelConfig`, whichever was saved.
    """
    from safetensors.torch import load as load_safetensors_bytes

    path, side = Path(path), sidecar_path(path)
    for p in (path, side):
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist; a workbench checkpoint is a .safetensors file "
                                    "plus its .json.")
    meta = json.loads(side.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{side} is not a workbench HMR2 checkpoint sidecar (format {meta.get('format')!r}). "
                         "For the official HMR 2.0 file use HMR2.from_official_checkpoint().")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise ValueError(f"{path} does not match the hash in {side}: the pair was torn (interrupted save, or "
                         "files from different runs). Use another checkpoint.")
    cfg = Config.from_dict(meta["config"])
    if body is not None and body.layer.v_template.shape[0] != meta["body"]["num_vertices"]:
        warnings.warn(f"{path} was trained with body {meta['body']['name']!r} ({meta['body']['num_vertices']} "
                      f"vertices); the given body {body.name!r} has {body.layer.v_template.shape[0]}.", stacklevel=2)
    model = _materialise(cfg.model, body, load_safetensors_bytes(data), str(path),
                         "The config in the sidecar does not build these weights; was the file edited?")
    return model, (cfg if meta["config_kind"] == "Config" else cfg.model), meta["extra"]


# ----------------------------------------------------------------------------- official checkpoint
def _inert_stand_in(full_name: str) -> type:
    """A stand-in 'class' for a pickled global: constructing it yields an empty OrderedDict.

    ``torch.load(weights_only=True)`` fills an OrderedDict's items and ``__dict__`` (and nothing
    else), so a pickled dict subclass such as yacs' ``CfgNode`` comes back as plain data, tagged
    with the name it had. No code of the original class is imported or run.
    """
    def __new__(cls, *args, **kwargs):
        obj = OrderedDict()
        obj.__dict__.update(pickled_class=full_name, pickled_args=args)
        return obj

    return type("InertStandIn", (), {"__new__": __new__, "__doc__": f"stand-in for {full_name}"})


def torch_load_weights_only(path: str | os.PathLike):
    """``torch.load(path, map_location="cpu", weights_only=True)``, with inert stand-ins for pickled objects.

    Plain tensor files load directly. If the file also pickles Python objects (Lightning's
    hyper-parameters, callbacks), each foreign global is allow-listed *as an inert stand-in*
    (:func:`_inert_stand_in`), never as itself.
    """
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as first:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        if not names:
            raise
        try:
            with torch.serialization.safe_globals([(_inert_stand_in(n), n) for n in names]):
                return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{path} holds pickled objects ({', '.join(names[:8])}) that weights-only loading cannot read "
                f"even as inert data ({err}). Extract the weights once, in an environment you trust: "
                "load it there with weights_only=False, keep its ['state_dict'] and torch.save that dict, "
                "then pass the saved file."
            ) from first


def _count_indexed(keys, pattern: str) -> int:
    found = [int(m.group(1)) for k in keys if (m := re.fullmatch(pattern, k))]
    return max(found) + 1 if found else 0


def infer_official_config(state: Mapping[str, Tensor]) -> ModelConfig:
    """The ModelConfig that fits an HMR 2.0 state dict (``backbone.*``/``smpl_head.*`` keys), from tensor shapes.

    Widths, depths, MLP sizes and the patch size are read off the tensors. Head counts are not
    visible in the weights: ViT width 1280 is taken as ViT-H (16 heads of 80), other widths as heads
    of 64 (ViT-B/L convention); the decoder's 512-wide attention as 8 heads of 64 (published),
    other widths as heads of 64. Pass ``model_cfg`` when your checkpoint differs.
    """
    need = ["backbone.pos_embed", "backbone.patch_embed.proj.weight", "backbone.blocks.0.mlp.fc1.weight",
            "smpl_head.transformer.to_token_embedding.weight", "smpl_head.decshape.weight",
            "smpl_head.transformer.transformer.layers.0.1.fn.to_q.weight",
            "smpl_head.transformer.transformer.layers.0.2.fn.net.0.weight"]
    missing = [k for k in need if k not in state]
    if missing:
        raise ValueError(f"cannot infer the model size: the state dict lacks {missing}. It is not an HMR 2.0 "
                         "ViT + transformer-decoder checkpoint; pass model_cfg explicitly.")
    C = state["backbone.pos_embed"].shape[-1]
    patch = state["backbone.patch_embed.proj.weight"].shape[-1]
    backbone = BackboneConfig(
        embed_dim=C, patch_size=patch, num_heads=16 if C == 1280 else max(C // 64, 1),
        depth=_count_indexed(state, r"backbone\.blocks\.(\d+)\.norm1\.weight"),
        mlp_ratio=state["backbone.blocks.0.mlp.fc1.weight"].shape[0] / C,
    )
    inner = state["smpl_head.transformer.transformer.layers.0.1.fn.to_q.weight"].shape[0]
    heads = 8 if inner == 512 else max(inner // 64, 1)
    head = HeadConfig(
        dim=state["smpl_head.transformer.to_token_embedding.weight"].shape[0],
        depth=_count_indexed(state, r"smpl_head\.transformer\.transformer\.layers\.(\d+)\.0\.norm\.weight"),
        heads=heads, dim_head=inner // heads,
        mlp_dim=state["smpl_head.transformer.transformer.layers.0.2.fn.net.0.weight"].shape[0],
        num_betas=state["smpl_head.decshape.weight"].shape[0],
    )
    return ModelConfig(backbone=backbone, head=head, discriminator=any(k.startswith("discriminator.") for k in state))


def official_key_to_ours(key: str) -> str:
    for old, new in OFFICIAL_RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def _check_official_body(smpl_state: Mapping[str, Tensor], body: BodyModel, source: str) -> None:
    """Warn when the checkpoint's SMPL buffers describe another body than the one attached."""
    ref = smpl_state.get("smpl.v_template")
    if ref is None:
        return
    ours = body.layer.v_template
    if ref.shape != ours.shape:
        warnings.warn(
            f"{source} was trained with a {ref.shape[0]}-vertex SMPL; the attached body {body.name!r} has "
            f"{ours.shape[0]} vertices. Poses and shapes transfer only approximately; for the published "
            "outputs pass body=BodyModel.smpl(...) (set WORKBENCH_SMPL_PATH).", stacklevel=4)
    elif (ref.to(ours) - ours).abs().max() > 1e-4:
        warnings.warn(f"{source}: the checkpoint's SMPL template differs from the attached body {body.name!r}.",
                      stacklevel=4)


def load_official_checkpoint(path: str | os.PathLike, body: BodyModel | None = None,
                             model_cfg: ModelConfig | None = None) -> HMR2:
    """Load the official HMR 2.0 weights (Lightning ``.ckpt``, bare state dict, or ``.safetensors``).

    Args:
        path: e.g. ``~/.cache/4DHumans/logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt``.
        body: the body to attach (use ``BodyModel.smpl()`` for published outputs); None builds
            ``model_cfg.body`` (the open body by default, with a warning if vertex counts differ).
        model_cfg: sizes of the network; None infers them from the tensors (paper: ViT 1280 x 32).
    Returns:
        An :class:`HMR2` on the CPU, in training mode (call ``.eval()`` or use ``.predict``).
    Raises:
        ValueError listing every missing key, unexpected key and shape mismatch at once.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist. The official checkpoint comes with 4D-Humans' "
                                "hmr2_data.tar.gz (logs/train/multiruns/hmr2/0/checkpoints/*.ckpt).")
    if path.suffix == ".safetensors":
        import safetensors.torch

        ckpt = safetensors.torch.load_file(path)
    else:
        ckpt = torch_load_weights_only(path)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, Mapping) else ckpt
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds neither a Lightning checkpoint with 'state_dict' nor a dict of tensors.")
    smpl_state = {k: v for k, v in state.items() if k.startswith(OFFICIAL_DROPPED_PREFIXES)}
    weights = {official_key_to_ours(k): v for k, v in state.items()
               if k not in OFFICIAL_DROPPED_KEYS and not k.startswith(OFFICIAL_DROPPED_PREFIXES)}
    cfg = copy.deepcopy(model_cfg) if model_cfg is not None else infer_official_config(weights)
    if body is None:
        body = BodyModel.create(cfg.body, num_betas=cfg.head.num_betas)
    _check_official_body(smpl_state, body, str(path))
    return _materialise(cfg, body, weights, str(path),
                        "Pass model_cfg matching the checkpoint (ViT width/depth/heads, decoder sizes), or "
                        "check that the file is an HMR 2.0 checkpoint.")


def load_pretrained(name: str = "hmr2_tiny", body: BodyModel | None = None) -> tuple[HMR2, Config | ModelConfig, dict]:
    """Our shipped, trained checkpoint (``assets/checkpoints/``): ``(model in eval mode, cfg, extra)``.

    ``extra`` holds how it was trained and its synthetic-validation metrics.
    """
    from workbench.assets import checkpoint_path

    model, cfg, extra = load_checkpoint(checkpoint_path(name), body=body)
    return model.eval(), cfg, extra
