"""SynthBench-Img: a fixed synthetic evaluation benchmark with five splits, rendered by SynthHumans.

HMR 2.0 is judged on real sets we cannot ship; SynthBench asks the same questions of synthetic
crops whose 3D ground truth is exact. Each split is a :class:`~workbench.data.synth.SceneConfig`
and a seed of its own (disjoint from training and validation streams), with no augmentation:

* ``standard`` -- everyday upright poses (standing, walking, sitting, reaching...), mostly facing
  the camera, whole body in view, nothing in front;
* ``unusual`` -- the LSP-Extended story: athletic and random poses (kicks, jumps, dance, lying,
  random joint blends), strong camera roll and 35 % arbitrary orientations (upside-down included);
* ``truncation`` -- bodies cut by the crop: boxes hanging over the photo's edge (60 %) and boxes
  tighter than the body (silhouette 0.85-1.4 x the box side);
* ``occlusion`` -- every crop has 1-2 occluders drawn over the person (they hide 15 % of the
  silhouette on average, measured on the first 200 crops);
* ``heavy_occlusion`` -- every crop has 2-5 occluders (32 % of the silhouette hidden on average, 30 %
  of the keypoints labelled invisible). Per crop: ``meta["occluded_fraction"]``.

Sample ``i`` of a split is a pure function of (split, i): the benchmark is the same on every
machine. Crops go through a JPEG round trip (quality 95) whether rendered on the fly or read from
the shard cache (:func:`workbench.data.shards.write_shards`, under ``$WORKBENCH_CACHE/synthbench``),
so both paths give identical pixels.

Every item carries ``meta`` for per-sample tables: split, index, activity (name), truncated,
truncation_fraction (share of the 44 keypoints outside the crop or the photo), occluded_fraction
(share of the silhouette under occluders), visible_fraction (keypoints labelled visible),
tilt_deg (angle between the body's up axis and upright in the image) and pose_difficulty (mean
rotation angle of the 23 body joints from the rest pose, degrees -- larger is further from a
standing pose).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from workbench.config import DataConfig, fast_mode
from workbench.data.activities import ACTIVITIES
from workbench.data.pose_prior import OrientationConfig
from workbench.data.synth import SceneConfig, SynthHumans, finalize

__all__ = ["BENCH_SPLITS", "SynthBench", "bench_scene", "build_synthbench", "sample_metadata"]

_JPEG_QUALITY = 95  # as write_shards' default, so cached and on-the-fly crops are the same pixels
_VERSION = 1  # bump when a split's definition changes (invalidates the cache)


@dataclass(frozen=True)
class BenchSplit:
    """One split: its seed, sizes and what differs from :class:`SceneConfig`'s defaults."""

    seed: int
    num_full: int
    num_fast: int
    scene: dict = field(default_factory=dict)
    mix: dict | None = None
    orientation: dict = field(default_factory=dict)


_EVERYDAY = {"standing": 0.2, "walking": 0.25, "running": 0.05, "sitting": 0.15, "reaching": 0.2, "squatting": 0.1,
             "dancing": 0.05}
_ATHLETIC = {"random": 0.35, "jumping": 0.15, "kicking": 0.2, "dancing": 0.15, "lying": 0.15}
_CLEAN = {"truncation_prob": 0.0, "occluder_prob": 0.0}

BENCH_SPLITS: dict[str, BenchSplit] = {
    "standard": BenchSplit(seed=7001, num_full=1000, num_fast=8, scene=_CLEAN, mix=_EVERYDAY,
                           orientation={"arbitrary_fraction": 0.0}),
    "unusual": BenchSplit(seed=7002, num_full=1000, num_fast=8, scene=_CLEAN, mix=_ATHLETIC,
                          orientation={"roll_std": 30.0, "any_yaw_fraction": 0.5, "arbitrary_fraction": 0.35}),
    "truncation": BenchSplit(seed=7003, num_full=1000, num_fast=8,
                             scene={"truncation_prob": 0.6, "truncation": (0.15, 0.5), "fill": (0.85, 1.4),
                                    "occluder_prob": 0.0}),
    "occlusion": BenchSplit(seed=7004, num_full=1000, num_fast=8, scene={"truncation_prob": 0.0, "occluder_prob": 1.0}),
    "heavy_occlusion": BenchSplit(seed=7005, num_full=1000, num_fast=8,
                                  scene={"truncation_prob": 0.0, "occluder_prob": 1.0, "min_occluders": 2,
                                         "max_occluders": 5}),
}


def bench_scene(split: str) -> SceneConfig:
    """The :class:`SceneConfig` of a SynthBench split."""
    spec = _spec(split)
    return SceneConfig(**spec.scene, activity_mix=spec.mix, orientation=OrientationConfig(**spec.orientation))


def _spec(split: str) -> BenchSplit:
    if split not in BENCH_SPLITS:
        raise KeyError(f"unknown SynthBench split {split!r}; splits: {list(BENCH_SPLITS)}.")
    return BENCH_SPLITS[split]


def sample_metadata(raw: dict, split: str) -> dict:
    """Per-sample metadata of a raw SynthHumans item (un-augmented: the crop is the box).

    Args:
        raw: :meth:`SynthHumans.render_scene` output (or a ``ShardDataset.raw`` item).
        split: the split's name.
    Returns:
        dict of scalars (see the module docstring).
    """
    uv = raw["keypoints_2d"][:, :2].astype(np.float64)  # crop units
    photo = raw["box_center"] + uv * float(raw["box_size"])  # no rotation or flip without augmentation
    W, H = raw["img_size"]
    inside = (np.abs(uv) <= 0.5).all(1) & (photo >= 0).all(1) & (photo[:, 0] < W) & (photo[:, 1] < H)
    go = raw["smpl_params"]["global_orient"].astype(np.float64)
    up = cv2.Rodrigues(go)[0][:, 1]  # the body's +y (up) in the camera frame; upright is -y (image y points down)
    body = raw["smpl_params"]["body_pose"].reshape(23, 3).astype(np.float64)
    meta = raw["meta"]
    return {
        "split": split, "index": int(meta["index"]), "activity": list(ACTIVITIES)[int(meta["activity"])],
        "truncated": bool(meta["truncated"]), "truncation_fraction": float(1.0 - inside.mean()),
        "occluded_fraction": float(meta["occluded_fraction"]),
        "visible_fraction": float((raw["keypoints_2d"][:, 2] > 0.5).mean()),
        "tilt_deg": float(np.degrees(np.arccos(np.clip(-up[1], -1.0, 1.0)))),
        "pose_difficulty": float(np.degrees(np.linalg.norm(body, axis=1).mean())),
    }


def _jpeg_round_trip(image: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


class SynthBench(torch.utils.data.Dataset):
    """One SynthBench-Img split as evaluation items (SynthHumans keys + ``meta``).

    Args:
        split: one of :data:`BENCH_SPLITS`.
        num_samples: default: the split's full size, or its fast size under ``WORKBENCH_FAST=1``.
            Sample i does not depend on num_samples, so a smaller benchmark is a prefix of a larger one.
        cache: render once into shards (``cache_dir``) and read them back; False renders on the fly.
        cache_dir: where shards go; default ``$WORKBENCH_CACHE/synthbench/<split>-<n>-<hash>``.
        body: the body model (default the open body); evaluation checks the model uses the same.
        progress: show a progress bar while writing the cache.
    """

    def __init__(self, split: str, num_samples: int | None = None, cache: bool = False, cache_dir=None, body=None,
                 progress: bool = True) -> None:
        spec = _spec(split)
        self.split = split
        n = int(num_samples if num_samples is not None else (spec.num_fast if fast_mode() else spec.num_full))
        if n <= 0:
            raise ValueError(f"num_samples must be positive, got {n}.")
        self.generator = SynthHumans(DataConfig(seed=spec.seed), split="val", num_samples=n, augment=False,
                                     scene=bench_scene(split), body=body)
        body_model = self.generator.body
        self.body_spec = {"name": getattr(body, "name", "open_body") if body is not None else "open_body",
                          "num_vertices": int(body_model.v_template.shape[0]), "num_keypoints": 44}
        self.shards = None
        if cache:
            from workbench.data.shards import ShardDataset, write_shards

            root = Path(cache_dir) if cache_dir is not None else self.default_cache_dir(split, n)
            write_shards(self.generator, root, shard_size=250, image_format="jpeg", quality=_JPEG_QUALITY,
                         progress=progress)
            self.shards = ShardDataset(root)

    @staticmethod
    def default_cache_dir(split: str, num_samples: int) -> Path:
        from workbench.assets import CACHE_DIR

        # The full scene settings are part of the key: a generator that gains a setting writes a new
        # cache instead of tripping over shards written with the old settings.
        key = json.dumps([_VERSION, asdict(_spec(split)), asdict(bench_scene(split)), num_samples], sort_keys=True,
                         default=str)
        return CACHE_DIR / "synthbench" / f"{split}-{num_samples}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def __len__(self) -> int:
        return len(self.generator)

    def raw(self, index: int) -> dict:
        """Sample ``index`` with a uint8 ``image`` (after the JPEG round trip)."""
        if self.shards is not None:
            return self.shards.raw(index)
        raw = self.generator.render_scene(self.generator.sample_scene(int(index)))
        raw["image"] = _jpeg_round_trip(raw["image"])
        return raw

    def __getitem__(self, index: int) -> dict:
        raw = self.raw(index)
        meta = sample_metadata(raw, self.split)
        item = finalize(raw)
        item.pop("mask")
        item["meta"] = meta
        return item


def build_synthbench(splits=tuple(BENCH_SPLITS), num_samples: int | None = None, cache: bool = True,
                     progress: bool = True) -> dict[str, SynthBench]:
    """Every (or some) SynthBench split by name, cached by default."""
    return {s: SynthBench(s, num_samples=num_samples, cache=cache, progress=progress) for s in splits}
