"""Pre-rendered synthetic crops on disk: ``write_shards`` once, ``ShardDataset`` for every epoch.

A shard is one ``.npz`` (no pickles) holding N samples: the crops, either JPEG-encoded (default;
quality 95, like the JPEGs HMR 2.0 trains on, ~30 KB a sample) and concatenated into one uint8
buffer with offsets, or raw (N, 256, 256, 3) uint8 (lossless, ~200 KB a sample); bit-packed
silhouettes; and every label stacked. Writes are atomic (temporary file, then ``os.replace``), and
``index.json`` -- the shard list, sizes and the generator's settings -- is rewritten after each
shard, so an interrupted run resumes where it stopped and a reader never sees a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from workbench.data import augment as aug
from workbench.data.synth import finalize

INDEX = "index.json"
_LABELS = ("keypoints_2d", "keypoints_3d", "cam_t", "root_joint", "box_center", "box_size", "img_size")
_SMPL = ("global_orient", "body_pose", "betas")
_META = ("index", "activity", "truncated", "flipped", "extreme_crop", "occluded_fraction", "background")


def _atomic_save(path: Path, **arrays) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _pack(items: list[dict], image_format: str, quality: int) -> dict[str, np.ndarray]:
    out = {"mask": np.stack([np.packbits(it["mask"].astype(bool), axis=None) for it in items])}
    if image_format == "raw":
        out["image"] = np.stack([it["image"] for it in items])
    else:
        blobs = [cv2.imencode(".jpg", it["image"][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1].ravel()
                 for it in items]
        out["jpeg"] = np.concatenate(blobs)
        out["jpeg_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    for key in _LABELS:
        out[key] = np.stack([np.asarray(it[key], np.float32) for it in items])
    for key in _SMPL:
        out["smpl_" + key] = np.stack([it["smpl_params"][key] for it in items]).astype(np.float32)
    for key in _META:
        out["meta_" + key] = np.array([it["meta"][key] for it in items])
    return out


def _identity(x):
    return x


class _RawView(torch.utils.data.Dataset):
    """Raw (uint8) items of a SynthHumans, for the writer's DataLoader."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset.render_scene(self.dataset.sample_scene(int(i)))


def write_shards(dataset, out_dir, shard_size: int = 1000, num_workers: int = 0, image_format: str = "jpeg",
                 quality: int = 95, progress: bool = True) -> Path:
    """Render a :class:`~workbench.data.synth.SynthHumans` into shards (resumable).

    Args:
        dataset: the generator; its length is the number of samples written.
        out_dir: directory (created).
        shard_size: samples per shard.
        num_workers: DataLoader workers rendering in parallel.
        image_format: ``"jpeg"`` (lossy, small) or ``"raw"`` (lossless uint8).
        quality: JPEG quality.
        progress: show a tqdm bar.

    Returns:
        ``out_dir`` as a Path.
    """
    from tqdm.auto import tqdm

    if image_format not in ("jpeg", "raw"):
        raise ValueError(f"image_format must be 'jpeg' or 'raw', got {image_format!r}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"split": dataset.split, "augment": dataset.augment, "num_samples": len(dataset),
                "data_config": dataclasses.asdict(dataset.config), "shard_size": shard_size,
                "scene_config": dataclasses.asdict(dataset.scene_config), "image_format": image_format,
                "quality": quality,
                "synthetic": "SynthHumans: procedurally posed open-body renders; no real people or mocap."}
    settings = json.loads(json.dumps(settings))  # tuples -> lists, as they come back from index.json
    index_path = out / INDEX
    index = json.loads(index_path.read_text()) if index_path.exists() else {"shards": [], "sizes": []}
    if index.get("settings", settings) != settings:
        raise ValueError(f"{out} holds shards written with other settings; use another directory or delete it.")
    index["settings"] = settings
    done = {name for name in index["shards"] if (out / name).exists()}
    view = _RawView(dataset)
    num_shards = (len(dataset) + shard_size - 1) // shard_size
    for k in tqdm(range(num_shards), desc="shards", disable=not progress):
        name = f"shard-{k:05d}.npz"
        if name in done:
            continue
        indices = list(range(k * shard_size, min((k + 1) * shard_size, len(dataset))))
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(view, indices), batch_size=None,
                                             num_workers=num_workers, collate_fn=_identity)
        _atomic_save(out / name, **_pack(list(loader), image_format, quality))
        index["shards"].append(name)
        index["sizes"].append(len(indices))
        _atomic_json(index_path, index)
    return out


class ShardDataset(torch.utils.data.Dataset):
    """Samples written by :func:`write_shards`, as training items (same keys as SynthHumans').

    Args:
        root: shard directory.
        augment: a :class:`~workbench.config.DataConfig` to apply HMR 2.0's augmentation in image
            space on top (see :func:`workbench.data.augment.augment_crop`), or None.
        seed: seed of the augmentation draws (sample i, epoch e are deterministic).
        cache_shards: shards kept in memory (~30 MB each as JPEG); training draws samples in a random
            order, so fewer than the number of shards means re-reading a shard for most samples.
    """

    def __init__(self, root, augment=None, seed: int = 0, cache_shards: int = 64) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX
        if not index_path.exists():
            raise FileNotFoundError(f"{index_path} not found; write shards first with write_shards(dataset, {root!r}).")
        index = json.loads(index_path.read_text())
        self.shards, self.settings = index["shards"], index["settings"]
        self.starts = np.cumsum([0] + index["sizes"])
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.cache_shards = max(1, int(cache_shards))
        self._cache: dict[int, dict] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def set_epoch(self, epoch: int) -> None:
        """Draw fresh augmentations for a new epoch."""
        self.epoch = int(epoch)

    def _shard(self, k: int) -> dict:
        if k not in self._cache:
            if len(self._cache) >= self.cache_shards:
                self._cache.pop(next(iter(self._cache)))  # oldest first
            with np.load(self.root / self.shards[k], allow_pickle=False) as npz:
                self._cache[k] = {key: npz[key] for key in npz.files}
        return self._cache[k]

    def raw(self, i: int) -> dict:
        """Sample i as stored: uint8 ``image`` (256, 256, 3) and numpy labels."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples.")
        k = int(np.searchsorted(self.starts, i, side="right") - 1)
        d, j = self._shard(k), i - int(self.starts[k])
        if "image" in d:
            image = d["image"][j]
        else:
            lo, hi = d["jpeg_offsets"][j], d["jpeg_offsets"][j + 1]
            image = cv2.imdecode(d["jpeg"][lo:hi], cv2.IMREAD_COLOR)[..., ::-1]
        side = image.shape[0]
        item = {"image": np.ascontiguousarray(image),
                "mask": np.unpackbits(d["mask"][j], count=side * side).reshape(side, side)}
        item.update({key: d[key][j] for key in _LABELS})
        item["smpl_params"] = {key: d["smpl_" + key][j] for key in _SMPL}
        item["meta"] = {key: d["meta_" + key][j].item() for key in _META}
        return item

    def __getitem__(self, i: int) -> dict:
        item = self.raw(i)
        if self.augment is not None and self.augment.do_augment:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            item = aug.augment_crop(item, aug.sample_augmentation(rng, self.augment))
        return finalize(item)
