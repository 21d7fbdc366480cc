"""Synthetic training data for HMR 2.0: procedural poses, rendered people, HMR 2.0's augmentation.

Everything in this package is synthetic -- the open body posed by a procedural prior, dressed in
procedural colours, lit and rendered on the CPU over procedural or people-free photo backgrounds.
No mocap, licensed dataset or image of a real person is used.

    >>> from workbench.data import SynthHumans, MocapPrior, sample_poses   # doctest: +SKIP
    >>> ds = SynthHumans(split="train", num_samples=10_000)                  # doctest: +SKIP
    >>> item = ds[0]; item["img"].shape, item["keypoints_2d"].shape          # doctest: +SKIP
    ((3, 256, 256), (44, 3))

Modules: ``pose_prior`` (limits, activities, orientations, motions, the discriminator's prior),
``activities`` (the procedural activities), ``synth`` (the dataset), ``augment`` (HMR 2.0's
augmentation), ``shards`` (pre-rendered copies), and the pieces they use: ``skinning``,
``appearance``, ``backgrounds`` (the fast z-buffer rasteriser lives in ``workbench.render.raster``).
"""

from workbench.data.activities import (
    ACTIVITIES,
    Activity,
    list_activities,
    register_activity,
)
from workbench.data.augment import AugParams, augment_crop, sample_augmentation
from workbench.data.pose_prior import (
    DEFAULT_MIX,
    MocapPrior,
    OrientationConfig,
    PoseSample,
    joint_limits,
    sample_motion,
    sample_poses,
    within_limits,
)
from workbench.data.shards import ShardDataset, write_shards
from workbench.data.synth import SceneConfig, SynthHumans, denormalize_image, finalize

__all__ = [
    "ACTIVITIES",
    "DEFAULT_MIX",
    "Activity",
    "AugParams",
    "MocapPrior",
    "OrientationConfig",
    "PoseSample",
    "SceneConfig",
    "ShardDataset",
    "SynthHumans",
    "augment_crop",
    "denormalize_image",
    "finalize",
    "joint_limits",
    "list_activities",
    "register_activity",
    "sample_augmentation",
    "sample_motion",
    "sample_poses",
    "within_limits",
    "write_shards",
]
