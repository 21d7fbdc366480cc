"""Fit the body to 2D keypoints by optimisation (SMPLify-style), batched, on CPU, no learned weights.

HMR 2.0 (§3.4) gets pseudo-ground truth for unlabelled images by fitting SMPL to detected 2D
keypoints (they use ProHMR's fitting); this module is the workbench's learning-free stand-in:

1. *camera stage*: translation + global orientation on the torso joints, body pose and shape held
   at their initial values; started from several headings (facing the camera, its back, both
   sides) because left/right labels decide front from back only through a 180 degree turn that
   gradient descent does not make; the best heading is kept per person;
2. *body stage*: everything, with a robust (Geman-McClure) reprojection term, a Gaussian pose prior,
   a soft joint-limit penalty, a shape regulariser ``|betas|^2`` and a depth prior.

Every loss is a sum of per-person terms and Adam is element-wise, so fitting a batch gives the same
result as fitting each person alone. The loop only needs the 44 keypoints, so it runs skinning on
the ~160 vertices the keypoints read (:class:`KeypointBody`), not on the whole mesh.

Residuals are measured in *crop pixels*: image pixels times ``crop_size / box``, with ``box`` the
longest side of the confident keypoints' extent, so the weights do not depend on image resolution
or on how far away a person stands. The camera is the full image's: focal
``5000 / 256 * max(H, W)`` px unless given, principal point at the image centre.

:func:`accept` filters fits as pseudo-ground truth and :class:`FitEngine` (registered as ``"fit"``)
is a pose engine for the tracker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from workbench.body import BodyModel
from workbench.body.keypoints import NUM_HMR_JOINTS, OPENPOSE_FROM_SMPLX
from workbench.geometry import (
    axis_angle_to_rotmat,
    estimate_translation,
    perspective_projection,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)

__all__ = ["Acceptance", "FitConfig", "FitEngine", "FitResult", "KeypointBody", "accept", "fit_keypoints",
           "init_from_prediction", "pose_prior_stats"]

# Torso of the 44-joint set: OpenPose neck, shoulders, mid-hip, hips; J19 hips, shoulders, neck,
# pelvis, thorax, spine. They barely move with the body pose, so they fix camera and heading.
TORSO = (1, 2, 5, 8, 9, 12, 27, 28, 33, 34, 37, 39, 40, 41)


@dataclass
class FitConfig:
    """Steps, learning rates and loss weights of the two-stage fit (ours, tuned on synthetic people).

    Attributes:
        camera_steps / body_steps: Adam steps of stage 1 (camera + heading) and stage 2 (all).
        camera_lr / body_lr: Adam learning rates (parameters are scale-free, see ``fit_keypoints``).
        headings: initial headings (yaw, degrees) tried in stage 1; the lowest loss wins.
        sigma: Geman-McClure scale in crop pixels (SMPLify uses 100 px on its images).
        crop_size: the person's keypoint extent is rescaled to this many pixels for the residuals.
        min_confidence: keypoints below it are ignored (HMR 2.0 ``SUPPRESS_KP_CONF_THRESH``).
        pose_weight: Gaussian pose prior (squared Mahalanobis distance, per joint component).
        limit_weight: squared violation of :func:`~workbench.data.pose_prior.joint_limits`, rad^2.
        betas_weight: ``|betas|^2``.
        prior_anneal: pose and shape priors start this many times stronger and decay geometrically to
            their weights over the body stage (SMPLify's annealing, which avoids early local minima).
        depth_weight: ``(log tz - log tz_init)^2``.
        focal_length: pixels; None = ``5000 / 256 * max(H, W)`` (HMR 2.0's full-image camera).
    """

    camera_steps: int = 40
    body_steps: int = 120
    camera_lr: float = 0.05
    body_lr: float = 0.03
    headings: tuple[float, ...] = (0.0, 90.0, 180.0, 270.0)
    sigma: float = 50.0
    crop_size: float = 256.0
    min_confidence: float = 0.3
    pose_weight: float = 2.0
    limit_weight: float = 1000.0
    betas_weight: float = 20.0
    prior_anneal: float = 10.0
    depth_weight: float = 100.0
    focal_length: float | None = None

    @classmethod
    def tiny(cls) -> "FitConfig":
        """Few steps, for smoke tests (not for quality)."""
        return cls(camera_steps=10, body_steps=20, headings=(0.0, 180.0))


@dataclass
class FitResult:
    """Fitted people (B of them), in the full-image camera (metres, x right, y down, z forward).

    global_orient (B, 3) / body_pose (B, 23, 3): axis-angle; global_orient_rotmat (B, 1, 3, 3) and
    body_pose_rotmat (B, 23, 3, 3) the same as matrices. betas (B, 10). transl (B, 3): the body's
    origin in the camera. keypoints_3d (B, 44, 3): body frame (add ``transl`` for the camera frame).
    keypoints_2d (B, 44, 2): projections, px. reprojection_error (B,): mean px distance over used
    keypoints. num_keypoints (B,): keypoints used (confidence >= ``min_confidence``).
    box_size (B,): longest side of the used keypoints' extent, px. focal (B,) px, principal_point
    (B, 2) px. loss_history: (steps, B) per-person loss, camera stage then body stage.
    """

    global_orient: Tensor
    body_pose: Tensor
    global_orient_rotmat: Tensor
    body_pose_rotmat: Tensor
    betas: Tensor
    transl: Tensor
    keypoints_3d: Tensor
    keypoints_2d: Tensor
    reprojection_error: Tensor
    num_keypoints: Tensor
    box_size: Tensor
    focal: Tensor
    principal_point: Tensor
    loss_history: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.betas)

    def smpl_params(self) -> dict[str, Tensor]:
        """HMR 2.0's ``pred_smpl_params`` layout: rotation matrices and betas."""
        return {"global_orient": self.global_orient_rotmat, "body_pose": self.body_pose_rotmat, "betas": self.betas}


# ----------------------------------------------------------------------------- the fast body
class KeypointBody(torch.nn.Module):
    """The 44 HMR keypoints of a :class:`BodyModel`, skinning only the vertices they read.

    Same maths as ``smplx.lbs`` (shape blend, pose blend, rigid chain, linear blend skinning) on the
    ~160 vertices of the 21 surface keypoints and the 19-joint extra regressor; the test compares it
    with the full model.
    """

    def __init__(self, body: BodyModel) -> None:
        super().__init__()
        layer = body.layer
        extra = body.extra_regressor  # (19, V)
        surface = layer.vertex_joint_selector.extra_joints_idxs  # (21,)
        used = torch.unique(torch.cat([surface, torch.nonzero(extra.abs().sum(0) > 0)[:, 0]]))
        V, K = layer.v_template.shape[0], body.num_betas
        self.num_betas = K
        # 1. Rest joints depend linearly on betas: J = J_template + (J_regressor @ shapedirs) betas.
        self.register_buffer("joint_template", layer.J_regressor @ layer.v_template)  # (24, 3)
        self.register_buffer("joint_shapedirs", torch.einsum("jv,vck->jck", layer.J_regressor, layer.shapedirs))
        # 2. The skinned vertices' template, shape and pose blend shapes and skinning weights.
        self.register_buffer("v_template", layer.v_template[used])  # (U, 3)
        self.register_buffer("shapedirs", layer.shapedirs[used])  # (U, 3, K)
        self.register_buffer("posedirs", layer.posedirs.reshape(207, V, 3)[:, used])  # (207, U, 3)
        self.register_buffer("lbs_weights", layer.lbs_weights[used])  # (U, 24)
        self.register_buffer("extra", extra[:, used])  # (19, U)
        self.register_buffer("surface", torch.searchsorted(used, surface))  # (21,) into used
        self.register_buffer("openpose_index", torch.tensor(OPENPOSE_FROM_SMPLX, dtype=torch.long))
        self.parents = layer.parents

    def forward(self, rotmats: Tensor, betas: Tensor) -> tuple[Tensor, Tensor]:
        """rotmats (B, 24, 3, 3), betas (B, K) -> keypoints (B, 44, 3) and root joint (B, 3), metres."""
        from smplx.lbs import batch_rigid_transform

        B = rotmats.shape[0]
        # 1. Shape: rest joints and vertices.
        joints = self.joint_template + torch.einsum("jck,bk->bjc", self.joint_shapedirs, betas)
        verts = self.v_template + torch.einsum("uck,bk->buc", self.shapedirs, betas)
        # 2. Pose blend shapes from the 23 body rotations.
        eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
        pose_feature = (rotmats[:, 1:] - eye).reshape(B, 207)
        verts = verts + torch.einsum("bp,puc->buc", pose_feature, self.posedirs)
        # 3. Rigid chain, then linear blend skinning of the used vertices.
        posed_joints, A = batch_rigid_transform(rotmats, joints, self.parents, dtype=rotmats.dtype)
        T = torch.einsum("uj,bjrc->burc", self.lbs_weights, A)  # (B, U, 4, 4)
        verts = torch.einsum("burc,buc->bur", T[..., :3, :3], verts) + T[..., :3, 3]
        # 4. The 44 keypoints: OpenPose (SMPL joints + surface points), then the 19 regressed ones.
        smplx_joints = torch.cat([posed_joints, verts[:, self.surface]], dim=1)
        extra = torch.einsum("ju,buc->bjc", self.extra, verts)
        return torch.cat([smplx_joints[:, self.openpose_index], extra], dim=1), joints[:, 0]


# ----------------------------------------------------------------------------- priors
@functools.cache
def pose_prior_stats(num_samples: int = 4096, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Mean and std (23, 3) of the body pose axis-angle under the procedural prior (our mocap stand-in).

    The std is floored at 0.05 rad so nearly fixed components (knee twist) stay movable.
    """
    from workbench.data.pose_prior import sample_poses

    body = torch.as_tensor(sample_poses(num_samples, seed).pose[:, 1:], dtype=torch.float32)
    return body.mean(0), body.std(0).clamp_min(0.05)


@functools.cache
def _limits() -> Tensor:
    from workbench.data.pose_prior import joint_limits

    return torch.as_tensor(joint_limits(), dtype=torch.float32)  # (23, 3, 2)


def gmof(residual: Tensor, sigma: float) -> Tensor:
    """Geman-McClure robust penalty ``sigma^2 r^2 / (sigma^2 + r^2)`` per element (SMPLify's ``GMoF``)."""
    sq = residual.square()
    return sigma**2 * sq / (sigma**2 + sq)


def _per_person_losses(kp2d: Tensor, target: Tensor, weight: Tensor, scale: Tensor, body_pose: Tensor | None,
                       betas: Tensor | None, log_depth: Tensor, cfg: FitConfig, prior_gain: float = 1.0) -> Tensor:
    """Total loss (B,) of each person. kp2d/target (B, 44, 2) px, weight (B, 44), scale (B,) crop px per px."""
    resid = (kp2d - target) * scale[:, None, None]
    data = (weight[..., None] * gmof(resid, cfg.sigma)).sum((1, 2)) / weight.sum(1).clamp_min(1.0)
    loss = data + cfg.depth_weight * log_depth.square()
    if body_pose is not None:
        mean, std = pose_prior_stats()
        lim = _limits()
        loss = loss + prior_gain * cfg.pose_weight * ((body_pose - mean) / std).square().mean((1, 2))
        over = torch.relu(lim[..., 0] - body_pose) + torch.relu(body_pose - lim[..., 1])
        loss = loss + cfg.limit_weight * over.square().sum((1, 2))
    if betas is not None:
        loss = loss + prior_gain * cfg.betas_weight * betas.square().sum(1)
    return loss


# ----------------------------------------------------------------------------- inputs
def _as_batch_hw(image_size, B: int) -> Tensor:
    hw = torch.as_tensor(np.asarray(image_size, np.float64), dtype=torch.float32)
    if hw.shape == (2,):
        hw = hw.expand(B, 2)
    if hw.shape != (B, 2) or not bool((hw > 0).all()):
        raise ValueError(f"image_size must be (H, W) or (B={B}, 2) positive pixels; got shape {tuple(hw.shape)}.")
    return hw


def _rotmats(x, n: int, name: str) -> Tensor:
    """Axis-angle (B, n*3) / (B, n, 3) or matrices (B, n, 3, 3) -> (B, n, 3, 3) float32."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.shape[-2:] == (3, 3):
        return x.reshape(x.shape[0], n, 3, 3)
    if x.numel() == x.shape[0] * n * 3:
        return axis_angle_to_rotmat(x.reshape(x.shape[0], n, 3))
    raise ValueError(f"init {name} has shape {tuple(x.shape)}; expected (B, {n * 3}), (B, {n}, 3) or (B, {n}, 3, 3).")


def init_from_prediction(prediction) -> dict[str, Tensor]:
    """An ``init`` for :func:`fit_keypoints` from :func:`workbench.predict.predict_people`'s output
    (same focal length assumed: fit with ``focal_length=prediction.focal``)."""
    smpl = prediction.output["pred_smpl_params"]
    return {"global_orient": smpl["global_orient"], "body_pose": smpl["body_pose"], "betas": smpl["betas"],
            "transl": prediction.cam_t}


def _heading(yaw_deg: float) -> Tensor:
    """(3, 3) orientation of a body upright in the camera (y down), turned ``yaw`` about its vertical."""
    flip = axis_angle_to_rotmat(torch.tensor([np.pi, 0.0, 0.0]))
    return flip @ axis_angle_to_rotmat(torch.tensor([0.0, float(np.deg2rad(yaw_deg)), 0.0]))


def _adam(params: list[Tensor], lr: float, steps: int, closure) -> list[Tensor]:
    """Minimise ``closure(progress in [0, 1)) -> (B,) losses`` with Adam; returns the per-step losses."""
    opt = torch.optim.Adam(params, lr=lr)
    history = []
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = closure(step / steps)
        loss.sum().backward()
        opt.step()
        history.append(loss.detach())
    return history


# ----------------------------------------------------------------------------- the fit
@functools.cache
def _default_keypoint_body() -> KeypointBody:
    return KeypointBody(BodyModel.open_body())


def fit_keypoints(keypoints_2d, image_size, init: dict | None = None, config: FitConfig | None = None,
                  focal_length=None, body: KeypointBody | None = None) -> FitResult:
    """Fit pose, shape and camera translation of B people to their 2D keypoints.

    Args:
        keypoints_2d: (B, 44, 3) ``(u px, v px, confidence)`` in the 44-joint HMR order
            (:data:`~workbench.body.keypoints.HMR_JOINT_NAMES`); confidence 0 = not detected.
        image_size: (H, W) or (B, 2) pixels; the principal point is the image centre.
        init: None (mean shape, rest body pose, heading searched, translation by
            :func:`~workbench.geometry.estimate_translation`) or a dict with ``global_orient``,
            ``body_pose`` (axis-angle or matrices), ``betas`` and optionally ``transl`` (B, 3) metres in
            this camera (e.g. :func:`init_from_prediction`); then only that heading is tried.
        config: :class:`FitConfig`. focal_length: px, float or (B,); overrides ``config.focal_length``.
        body: a :class:`KeypointBody` (default: the open body's).

    Returns:
        :class:`FitResult`.

    Raises:
        ValueError: on shapes that do not match, non-finite input, or people with fewer than two
            keypoints above ``min_confidence`` (drop those first; they cannot be placed).
    """
    cfg = config or FitConfig()
    body = body or _default_keypoint_body()
    kp = torch.as_tensor(np.asarray(keypoints_2d, np.float32) if not torch.is_tensor(keypoints_2d) else keypoints_2d,
                         dtype=torch.float32)
    if kp.dim() != 3 or kp.shape[1:] != (NUM_HMR_JOINTS, 3):
        raise ValueError(f"keypoints_2d must be (B, {NUM_HMR_JOINTS}, 3) (u px, v px, confidence) in the HMR "
                         f"44-joint order; got {tuple(kp.shape)}.")
    if not bool(torch.isfinite(kp).all()):
        raise ValueError("keypoints_2d contains NaN or inf; set undetected keypoints to confidence 0 instead.")
    B = kp.shape[0]
    target, conf = kp[..., :2], kp[..., 2]
    weight = torch.where(conf >= cfg.min_confidence, conf, torch.zeros_like(conf))
    used = weight > 0
    num_used = used.sum(1)
    if bool((num_used < 2).any()):
        bad = torch.nonzero(num_used < 2)[:, 0].tolist()
        raise ValueError(f"people {bad} have fewer than 2 keypoints with confidence >= {cfg.min_confidence}; "
                         "there is nothing to fit: drop them (or give them keypoints) first.")
    hw = _as_batch_hw(image_size, B)
    pp = hw.flip(1) / 2.0  # (B, 2) (cx, cy)
    if focal_length is None:
        focal_length = cfg.focal_length
    focal = (5000.0 / 256.0 * hw.max(1).values if focal_length is None
             else torch.as_tensor(focal_length, dtype=torch.float32).expand(B).clone())
    # Person scale: longest side of the used keypoints' extent -> crop pixels per image pixel.
    big = torch.finfo(torch.float32).max
    lo = torch.where(used[..., None], target, torch.full_like(target, big)).min(1).values
    hi = torch.where(used[..., None], target, torch.full_like(target, -big)).max(1).values
    box = (hi - lo).max(1).values.clamp_min(1.0)
    scale = cfg.crop_size / box

    # 1. Initial body: given or rest pose, mean shape; its body-frame keypoints for the camera stage.
    with torch.no_grad():
        if init is None:  # the prior's mean pose (arms down), not the T-pose: fewer wrong-way limbs
            body_rot = axis_angle_to_rotmat(pose_prior_stats()[0]).expand(B, 23, 3, 3)
            betas0 = torch.zeros(B, body.num_betas)
            headings = torch.stack([_heading(y) for y in cfg.headings])  # (Y, 3, 3)
        else:
            body_rot = _rotmats(init["body_pose"], 23, "body_pose")
            betas0 = torch.as_tensor(init["betas"], dtype=torch.float32).reshape(B, -1)
            headings = None
        rest = torch.cat([torch.eye(3).expand(B, 1, 3, 3), body_rot], 1)
        kp_rest, root = body(rest, betas0)  # orientation identity: rotate about the root later
    go0 = (headings[None].expand(B, -1, 3, 3) if init is None
           else _rotmats(init["global_orient"], 1, "global_orient"))  # (B, Y, 3, 3)
    Y = go0.shape[1]

    def oriented(R: Tensor, points: Tensor, root_: Tensor) -> Tensor:
        return torch.einsum("bij,bkj->bki", R, points - root_[:, None]) + root_[:, None]

    # 2. Camera stage on (B * Y) hypotheses: translation in closed form, then Adam on the torso.
    rep = lambda x: x.repeat_interleave(Y, 0)  # noqa: E731
    torso = torch.zeros(NUM_HMR_JOINTS, dtype=torch.bool)
    torso[list(TORSO)] = True
    w_torso = rep(torch.where((used & torso).sum(1, keepdim=True) >= 2, weight * torso, weight))
    R0 = go0.reshape(B * Y, 3, 3)
    pts0 = oriented(R0, rep(kp_rest), rep(root))
    if init is not None and "transl" in init:
        t0 = torch.as_tensor(init["transl"], dtype=torch.float32).reshape(B, 3)
    else:
        t0 = estimate_translation(pts0, rep(target), rep(focal), rep(pp), w_torso)
        t0 = torch.where(torch.isfinite(t0) & (t0[:, 2:3] > 0), t0, torch.tensor([0.0, 0.0, 10.0]))
    # Scale-free translation: t = (t0_xy + t0_z * box / f * d_xy, t0_z * exp(d_z)): d_xy = 1 moves the
    # person by its own size in the image, d_z = 0.1 scales it by 10%, at any depth and resolution.
    d_xy = torch.zeros(B * Y, 2, requires_grad=True)
    d_z = torch.zeros(B * Y, requires_grad=True)
    rot6d = rotmat_to_rot6d(R0).clone().requires_grad_(True)
    t0y = t0 if t0.shape[0] == B * Y else rep(t0)
    args = (rep(target), w_torso, rep(scale), rep(focal), rep(pp))

    unit = box / focal  # (B,) image-plane size of the person, radians

    def translation(t0_, dxy, dz):
        u = unit if len(t0_) == B else rep(unit)
        return torch.cat([t0_[:, :2] + (t0_[:, 2] * u)[:, None] * dxy, t0_[:, 2:3] * dz.exp()[:, None]], 1)

    def camera_loss(progress: float = 1.0):
        R = rot6d_to_rotmat(rot6d)
        t = translation(t0y, d_xy, d_z)
        uv = perspective_projection(oriented(R, rep(kp_rest), rep(root)), t, args[3], args[4], validate=False)
        return _per_person_losses(uv, args[0], args[1], args[2], None, None, d_z, cfg)

    history = _adam([rot6d, d_xy, d_z], cfg.camera_lr, cfg.camera_steps, camera_loss)
    with torch.no_grad():
        final = camera_loss().reshape(B, Y)
        best = final.argmin(1) + torch.arange(B) * Y
        history = [h.reshape(B, Y).gather(1, (best - torch.arange(B) * Y)[:, None])[:, 0] for h in history]
        go6d = rot6d.detach()[best]
        t_cam = translation(t0y, d_xy, d_z).detach()[best]

    # 3. Body stage: everything, robust data term plus priors. Body pose in axis-angle, where the
    #    joint limits and the Gaussian prior are defined; root in 6D (facing the camera is near pi).
    go6d = go6d.clone().requires_grad_(True)
    pose = rotmat_to_axis_angle(body_rot).clone().requires_grad_(True)
    betas = betas0.clone().requires_grad_(True)
    d_xy = torch.zeros(B, 2, requires_grad=True)
    d_z = torch.zeros(B, requires_grad=True)

    def forward(go6d_, pose_, betas_, dxy, dz):
        rot = torch.cat([rot6d_to_rotmat(go6d_)[:, None], axis_angle_to_rotmat(pose_)], 1)
        kp3d, _ = body(rot, betas_)
        t = translation(t_cam, dxy, dz)
        return kp3d, t, perspective_projection(kp3d, t, focal, pp, validate=False)

    def body_loss(progress: float):
        _, _, uv = forward(go6d, pose, betas, d_xy, d_z)
        gain = cfg.prior_anneal ** max(0.0, 1.0 - 1.5 * progress)  # full strength over the last third
        return _per_person_losses(uv, target, weight, scale, pose, betas, d_z, cfg, gain)

    history += _adam([go6d, pose, betas, d_xy, d_z], cfg.body_lr, cfg.body_steps, body_loss)

    # 4. Outputs.
    with torch.no_grad():
        kp3d, transl, uv = forward(go6d, pose, betas, d_xy, d_z)
        go_rot = rot6d_to_rotmat(go6d)[:, None]
        err = ((uv - target).norm(dim=-1) * used).sum(1) / num_used
    return FitResult(
        global_orient=rotmat_to_axis_angle(go_rot[:, 0]), body_pose=pose.detach().clone(), global_orient_rotmat=go_rot,
        body_pose_rotmat=axis_angle_to_rotmat(pose.detach()), betas=betas.detach().clone(), transl=transl,
        keypoints_3d=kp3d, keypoints_2d=uv, reprojection_error=err, num_keypoints=num_used, box_size=box,
        focal=focal, principal_point=pp,
        loss_history=torch.stack(history).numpy() if history else np.zeros((0, B), np.float32),
    )


# ----------------------------------------------------------------------------- pseudo-GT filter
@dataclass
class Acceptance:
    """Which fits to keep as pseudo-ground truth: mask (B,) bool, reasons (B,) ('' when accepted)."""

    mask: np.ndarray
    reasons: list[str]

    def __len__(self) -> int:
        return len(self.mask)


def accept(fit: FitResult, min_keypoints: int = 5, max_error: float = 0.05, max_betas: float = 3.0,
           limit_slack: float = 0.3) -> Acceptance:
    """Filter fits as pseudo-ground truth, one rule each (all must pass).

    Rules, and where the numbers come from (HMR 2.0 ``data_filtering/low1.yaml``, hmr2_facts §2.5):

    * keypoints: at least ``min_keypoints`` used keypoints (confidence >= 0.3 at fit time) -
      HMR 2.0 requires more than ``FILTER_NUM_KP = 4`` with ``SUPPRESS_KP_CONF_THRESH = 0.3``;
    * reprojection: mean error / box size <= ``max_error`` - HMR 2.0 thresholds ProHMR's fitting
      loss at 31000, a number in that optimiser's units that does not transfer; 0.05 of the
      keypoints' extent (PCK@0.05's radius) is our choice;
    * betas: ``max |betas_i| <= max_betas`` - ``SUPPRESS_BETAS_THRESH = 3.0`` (HMR 2.0 then drops only
      the shape label; we reject the fit, as a body that needs extreme shape usually is a bad fit);
    * pose: no axis-angle component beyond :func:`~workbench.data.pose_prior.joint_limits` by more
      than ``limit_slack`` rad - our stand-in for HMR 2.0's ``SUPPRESS_BAD_POSES`` (AMASS histograms
      we cannot ship).
    """
    lim = _limits()
    beyond = (torch.relu(lim[..., 0] - fit.body_pose) + torch.relu(fit.body_pose - lim[..., 1])).amax((1, 2))
    rel = fit.reprojection_error / fit.box_size
    reasons = []
    for i in range(len(fit)):
        why = []
        if int(fit.num_keypoints[i]) < min_keypoints:
            why.append(f"{int(fit.num_keypoints[i])} keypoints < {min_keypoints}")
        if float(rel[i]) > max_error:
            why.append(f"reprojection {float(rel[i]):.3f} of box > {max_error}")
        if float(fit.betas[i].abs().max()) > max_betas:
            why.append(f"|betas| {float(fit.betas[i].abs().max()):.2f} > {max_betas}")
        if float(beyond[i]) > limit_slack:
            why.append(f"pose {float(beyond[i]):.2f} rad beyond joint limits")
        reasons.append("; ".join(why))
    return Acceptance(np.array([r == "" for r in reasons]), reasons)


# ----------------------------------------------------------------------------- pose engine
class FitEngine:
    """Pose engine for the tracker: fit the body to each detection's 2D keypoints.

    Args:
        config: :class:`FitConfig`. body: a :class:`~workbench.body.BodyModel` (default: open body).
        model: optional HMR 2.0 model; when given, its predictions initialise the fits.

    Detections must carry ``keypoints`` (N, 44, 3) in the HMR joint order, frame pixels. A detection
    with fewer than 2 confident keypoints gets the mean pose placed at its box (as the
    ``ground_truth`` engine does for false positives) and is listed in ``People.extra["unfitted"]``.
    The fitted camera is mapped to the tracker's (focal ``5000 max(H, W) / 256``) by scaling depth.
    """

    def __init__(self, config: FitConfig | None = None, body: BodyModel | None = None, model=None):
        self.config = config or FitConfig()
        self.body = body if body is not None else BodyModel.open_body()
        self.keypoint_body = KeypointBody(self.body)
        self.model = model

    @property
    def faces(self) -> np.ndarray:
        return self.body.faces

    def __call__(self, frame: np.ndarray, detections, frame_index: int):
        from workbench.tracking.engines import _empty_people, frame_camera, people_from_parameters

        image_hw = frame.shape[:2]
        n = len(detections)
        if n == 0:
            return _empty_people(image_hw, self.body.layer.v_template.shape[0])
        kp = detections.keypoints
        if kp is None or kp.shape[1] != NUM_HMR_JOINTS:
            got = "none" if kp is None else f"K={kp.shape[1]}"
            raise ValueError(f"the fit engine needs detections.keypoints (N, {NUM_HMR_JOINTS}, 3) in the HMR joint "
                             f"order, pixels + confidence; got {got}. Run a keypoint detector on the boxes first "
                             "(e.g. MediaPipeDetector.keypoints_in_boxes) and map its joints to the 44-joint order.")
        fittable = np.flatnonzero((kp[..., 2] >= self.config.min_confidence).sum(1) >= 2)
        focal, pp = frame_camera(image_hw)
        go, bp = np.tile(np.eye(3), (n, 1, 1, 1)), np.tile(np.eye(3), (n, 23, 1, 1))
        be, cam = np.zeros((n, 10)), np.zeros((n, 3))
        errors = np.full(n, np.nan)
        if len(fittable):
            init = None
            if self.model is not None:
                from workbench.predict import predict_people

                pred = predict_people(self.model, frame, detections.boxes[fittable])
                init = init_from_prediction(pred)
            fit = fit_keypoints(kp[fittable], image_hw, init, self.config, body=self.keypoint_body)
            go[fittable], bp[fittable] = fit.global_orient_rotmat.numpy(), fit.body_pose_rotmat.numpy()
            be[fittable] = fit.betas.numpy()
            t = fit.transl.double().numpy()
            cam[fittable] = np.stack([t[:, 0], t[:, 1], t[:, 2] * focal / fit.focal.double().numpy()], 1)
            errors[fittable] = fit.reprojection_error.numpy()
        unfitted = np.setdiff1d(np.arange(n), fittable)
        return people_from_parameters(self.body, go, bp, be, cam, detections, image_hw, frame_index, missing=unfitted,
                                      extra={"reprojection_error": errors, "unfitted": unfitted})


def _register() -> None:
    from workbench.tracking.engines import register_engine

    @register_engine("fit")
    def _fit(**kwargs) -> FitEngine:
        return FitEngine(**kwargs)


_register()
