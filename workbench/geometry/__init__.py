"""Geometry for HMR 2.0: rotations, cameras, person crops, Procrustes alignment and the closed-form
camera translation from 2D keypoints.

Conventions: metres; camera frame x right, y down, z forward, camera at the origin;
batch-first torch tensors (crops are numpy/OpenCV).
"""

from workbench.geometry.camera import (
    FOCAL_LENGTH,
    IMAGE_SIZE,
    cam_crop_to_full,
    cam_to_translation,
    default_focal_length,
    fit_crop_cam_to_box,
    intrinsics_matrix,
    perspective_projection,
    project_to_crop,
    translation_to_cam,
)
from workbench.geometry.crop import (
    BBOX_SHAPE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropInfo,
    antialias_sigma,
    apply_affine,
    box_to_center_scale,
    crop_affine,
    crop_image,
    crop_to_image_points,
    crop_to_vit_columns,
    expand_to_aspect_ratio,
    image_to_crop_points,
    normalize_image,
    square_box_size,
)
from workbench.geometry.intrinsics import Intrinsics, retarget_translation
from workbench.geometry.procrustes import ProcrustesResult, similarity_procrustes
from workbench.geometry.rotations import (
    axis_angle_to_rotmat,
    rot6d_to_axis_angle,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)
from workbench.geometry.translation import estimate_translation

__all__ = [
    "Intrinsics",
    "retarget_translation",
    "FOCAL_LENGTH",
    "IMAGE_SIZE",
    "cam_crop_to_full",
    "cam_to_translation",
    "default_focal_length",
    "fit_crop_cam_to_box",
    "intrinsics_matrix",
    "perspective_projection",
    "project_to_crop",
    "translation_to_cam",
    "BBOX_SHAPE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropInfo",
    "antialias_sigma",
    "apply_affine",
    "box_to_center_scale",
    "crop_affine",
    "crop_image",
    "crop_to_image_points",
    "crop_to_vit_columns",
    "expand_to_aspect_ratio",
    "image_to_crop_points",
    "normalize_image",
    "square_box_size",
    "ProcrustesResult",
    "similarity_procrustes",
    "axis_angle_to_rotmat",
    "rot6d_to_axis_angle",
    "rot6d_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_rot6d",
    "estimate_translation",
]
