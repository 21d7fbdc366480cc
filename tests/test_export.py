"""Exports of tracked people (workbench.export): every file is read back and compared with the body model.

GLB: skinning re-implemented from the file's accessors with numpy. BVH: the independent ``bvhio`` reader
and our own reader + forward kinematics. OBJ/PLY: trimesh.
"""

import json
import os

import numpy as np
import pytest
import torch

from workbench.body.keypoints import SMPL_JOINT_NAMES
from workbench.body.model import BodyModel
from workbench.export import (body_rig, bvh_forward_kinematics, camera_to_y_up, export_track, export_tracks,
                              read_bvh, rig_animation)
from workbench.export.rig import forward_kinematics, linear_blend_skinning
from workbench.geometry.intrinsics import Intrinsics
from workbench.tracking.motion import TrackMotion

torch.set_num_threads(1)
T = 8
MM = 1e-3


def make_motion(frames, seed=0, track_id=3) -> TrackMotion:
    """A standing person (upright in the y-down camera) with random moderate joint rotations, 5 m away."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    n = len(frames)
    upright = Rotation.from_euler("x", 180, degrees=True)
    go = (upright * Rotation.from_rotvec(rng.normal(0, 0.3, (n, 3)))).as_matrix() if n else np.zeros((0, 3, 3))
    bp = Rotation.from_rotvec(rng.normal(0, 0.35, (n * 23, 3))).as_matrix().reshape(n, 23, 3, 3) if n else \
        np.zeros((0, 23, 3, 3))
    transl = np.c_[rng.normal(0, 0.2, (n, 2)), 5 + rng.normal(0, 0.2, n)]
    return TrackMotion(track_id=track_id, frames=np.asarray(frames, np.int64), global_orient=go, body_pose=bp,
                       betas=rng.normal(0, 1, (n, 10)), transl=transl, observed=np.ones(n, bool), fps=25.0,
                       intrinsics=Intrinsics(1000.0, 1000.0, 320.0, 240.0))


@pytest.fixture(scope="module")
def body():
    return BodyModel.open_body()


@pytest.fixture(scope="module")
def motion():
    return make_motion(np.arange(T) + 40)


@pytest.fixture(scope="module")
def posed(body, motion):
    """(vertices (T, V, 3), joints (T, 24, 3)) of the body model, in the exports' y-up frame."""
    vertices, joints = motion.posed(body)
    return camera_to_y_up(vertices.astype(np.float64)), camera_to_y_up(joints.astype(np.float64))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, body, motion):
    return export_track(motion, out_dir=tmp_path_factory.mktemp("exports"), body=body)


def test_rig_reproduces_the_body_model(body, motion, posed):
    rig = body_rig(body, motion.mean_betas)
    anim = rig_animation(motion, rig)
    _, joints = forward_kinematics(rig, anim.rotations, anim.root_position)
    assert np.abs(joints - posed[1]).max() < 1e-5
    # The open body has no pose correctives, so full-weight LBS is the body model itself.
    assert float(body.layer.posedirs.abs().max()) == 0.0
    assert np.abs(linear_blend_skinning(rig, anim.rotations, anim.root_position) - posed[0]).max() < 1e-5


def test_export_writes_one_folder_with_a_manifest(exported, motion):
    assert exported.folder.name == "track_003"
    assert [p.name for p in exported.files["obj"]] == [f"frame_{f:06d}.obj" for f in motion.frames]
    assert all(p.is_file() for p in exported.paths)
    manifest = json.loads(exported.manifest.read_text())
    assert manifest["frames"] == motion.frames.tolist() and manifest["fps"] == 25.0
    assert manifest["units"] == "metres" and "y up" in manifest["frame"]
    assert manifest["bvh"]["interpolated_frames"] == []
    assert sorted(manifest["files"]) == ["bvh", "glb", "obj", "ply"]


@pytest.mark.parametrize("fmt", ["obj", "ply"])
def test_meshes_round_trip(exported, posed, body, fmt):
    import trimesh

    for i in (0, T - 1):
        mesh = trimesh.load(exported.files[fmt][i], process=False, force="mesh")
        assert np.array_equal(np.asarray(mesh.faces), body.faces)
        assert np.abs(np.asarray(mesh.vertices) - posed[0][i]).max() < 1e-5  # 6 decimals / float32


# --- GLB: read the accessors back and skin with numpy --------------------------------------------------------------

def _accessor(gltf, index):
    blob = gltf.binary_blob()
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    data = np.frombuffer(blob, dtype, acc.count * width, view.byteOffset + (acc.byteOffset or 0))
    return data.reshape(acc.count, width)


def _quat_to_matrix(q):
    """(..., 4) x, y, z, w unit quaternions -> (..., 3, 3), written out so the test trusts no library."""
    x, y, z, w = np.moveaxis(q, -1, 0)
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
                     np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
                     np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


def skin_glb(path):
    """Vertices (K, V, 3) at each animation key, and the key times (K,), from the file alone."""
    import pygltflib

    gltf = pygltflib.GLTF2.load(path)
    prim = gltf.meshes[0].primitives[0]
    rest = _accessor(gltf, prim.attributes.POSITION).astype(np.float64)
    skin = gltf.skins[0]
    ibm = _accessor(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
    n = len(gltf.nodes)
    local_t = np.array([node.translation or [0, 0, 0] for node in gltf.nodes], np.float64)
    anim = gltf.animations[0]
    times = _accessor(gltf, anim.samplers[0].input)[:, 0]
    keys = len(times)
    rot = np.tile(np.eye(3), (keys, n, 1, 1))
    trans = np.tile(local_t, (keys, 1, 1))
    for ch in anim.channels:
        sampler = anim.samplers[ch.sampler]
        assert np.array_equal(_accessor(gltf, sampler.input)[:, 0], times)
        out = _accessor(gltf, sampler.output).astype(np.float64)
        if ch.target.path == "rotation":
            rot[:, ch.target.node] = _quat_to_matrix(out)
        else:
            trans[:, ch.target.node] = out
    parent = {c: i for i, node in enumerate(gltf.nodes) for c in (node.children or [])}
    world = {}

    def world_of(i):  # (keys, 4, 4), parents first
        if i not in world:
            m = np.tile(np.eye(4), (keys, 1, 1))
            m[:, :3, :3], m[:, :3, 3] = rot[:, i], trans[:, i]
            world[i] = m if i not in parent else world_of(parent[i]) @ m
        return world[i]

    joint_mats = np.stack([world_of(j) @ ibm[k] for k, j in enumerate(skin.joints)], axis=1)  # (keys, J, 4, 4)
    skinned = np.zeros((keys,) + rest.shape)
    rest_h = np.c_[rest, np.ones(len(rest))]
    sets = sum(hasattr(prim.attributes, f"JOINTS_{s}") and getattr(prim.attributes, f"JOINTS_{s}") is not None
               for s in range(2))
    for s in range(sets):
        joints = _accessor(gltf, getattr(prim.attributes, f"JOINTS_{s}")).astype(int)
        weights = _accessor(gltf, getattr(prim.attributes, f"WEIGHTS_{s}")).astype(np.float64)
        for k in range(4):
            moved = np.einsum("tvab,vb->tva", joint_mats[:, joints[:, k]], rest_h)[..., :3]
            skinned += weights[None, :, k, None] * moved
    return skinned, times


def reference_lbs(body, motion, weights):
    """smplx's own LBS with the given (V, 24) weights and no pose correctives, y-up frame: (T, V, 3)."""
    from smplx.lbs import lbs

    layer = body.layer
    betas = torch.as_tensor(np.broadcast_to(motion.mean_betas, (len(motion), 10)).copy(), dtype=torch.float64)
    pose = torch.as_tensor(motion.rotmats, dtype=torch.float64)
    verts, _ = lbs(betas, pose, layer.v_template.double(), layer.shapedirs.double(),
                   torch.zeros_like(layer.posedirs, dtype=torch.float64), layer.J_regressor.double(), layer.parents,
                   torch.as_tensor(weights, dtype=torch.float64), pose2rot=False)
    return camera_to_y_up(verts.numpy() + motion.transl[:, None])


def test_glb_skinning_round_trip(exported, body, motion, posed):
    vertices, times = skin_glb(exported.files["glb"][0])
    assert np.allclose(times, motion.frames / motion.fps)
    # Against LBS with the same 4 largest weights: only float32 storage differs.
    full = body.layer.lbs_weights.double().numpy()
    keep = np.argsort(-full, axis=1, kind="stable")[:, :4]  # ties (20 vertices) go to the lower joint index
    weights4 = np.zeros_like(full)
    np.put_along_axis(weights4, keep, np.take_along_axis(full, keep, axis=1), axis=1)
    weights4 /= weights4.sum(axis=1, keepdims=True)
    assert np.abs(vertices - reference_lbs(body, motion, weights4)).max() < 0.05 * MM
    # Against the body model: the dropped weights cost up to ~1 cm in these (strong) random poses.
    error = np.linalg.norm(vertices - posed[0], axis=-1)
    assert error.max() < 15 * MM and error.mean() < 0.5 * MM


def test_glb_with_eight_influences_is_the_body_model(tmp_path, body, motion, posed):
    out = export_track(motion, out_dir=tmp_path, formats=("glb",), body=body, influences=8)
    vertices, _ = skin_glb(out.files["glb"][0])
    assert np.abs(vertices - posed[0]).max() < 0.05 * MM  # open body: no pose correctives to lose


def test_glb_opens_as_a_scene_in_trimesh(exported, body):
    import trimesh

    scene = trimesh.load(exported.files["glb"][0])
    meshes = list(scene.geometry.values())
    assert len(meshes) == 1 and len(meshes[0].vertices) == body.layer.v_template.shape[0]


# --- BVH --------------------------------------------------------------------------------------------------------

def test_bvh_round_trip_with_bvhio(exported, posed):
    bvhio = pytest.importorskip("bvhio")
    root = bvhio.readAsHierarchy(str(exported.files["bvh"][0]))
    names = [joint.Name for joint, _, _ in root.layout()]
    assert sorted(names) == sorted(SMPL_JOINT_NAMES)
    joints = []
    for f in range(T):
        root.loadPose(f)
        joints.append([np.array(joint.PositionWorld) for joint, _, _ in root.layout()])
    joints = np.array(joints)[:, [names.index(n) for n in SMPL_JOINT_NAMES]]
    assert np.abs(joints - posed[1]).max() < 1 * MM


@pytest.mark.parametrize("units,scale", [("m", 1.0), ("cm", 100.0)])
def test_bvh_round_trip_with_own_reader(tmp_path, body, motion, posed, units, scale):
    out = export_track(motion, out_dir=tmp_path, formats=("bvh",), body=body, bvh_units=units)
    data = read_bvh(out.files["bvh"][0])
    assert data.frame_time == pytest.approx(1 / motion.fps) and len(data.motion) == T
    assert data.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    joints = bvh_forward_kinematics(data)[:, [data.names.index(n) for n in SMPL_JOINT_NAMES]] / scale
    assert np.abs(joints - posed[1]).max() < 1 * MM


def test_bvh_interpolates_gaps(tmp_path, body):
    gappy = make_motion([10, 11, 12, 15, 16], seed=1)
    out = export_track(gappy, out_dir=tmp_path, formats=("bvh",), body=body)
    data = read_bvh(out.files["bvh"][0])
    assert len(data.motion) == 7
    joints = bvh_forward_kinematics(data)[:, [data.names.index(n) for n in SMPL_JOINT_NAMES]]
    kept = np.array([0, 1, 2, 5, 6])
    assert np.abs(joints[kept] - camera_to_y_up(gappy.posed(body)[1])).max() < 1 * MM
    assert json.loads(out.manifest.read_text())["bvh"]["interpolated_frames"] == [13, 14]


# --- a real tracking result and bad input ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tracked():
    from workbench.tracking.benchmark import METHODS, run_method
    from workbench.tracking.synth_video import SynthVideoConfig, detections_by_frame, render_video, simulate_detections

    video = render_video(SynthVideoConfig.tiny(num_frames=10, num_people=2))
    detections = detections_by_frame(simulate_detections(video), len(video.frames))
    method = next(m for m in METHODS if m.engine == "ground_truth")
    return run_method(video, method, detections, {})


def test_export_tracks_of_a_tracking_result(tmp_path, tracked, body):
    out = export_tracks(tracked, tmp_path, formats=("bvh", "glb"), body=body)
    assert sorted(out) == sorted(tracked.track_ids)
    for tid, exp in out.items():
        assert exp.folder == tmp_path / f"track_{tid:03d}" and exp.files["glb"][0].is_file()
    with pytest.raises(KeyError, match=rf"987654 does not exist; this result has tracks \[{tracked.track_ids[0]}"):
        export_track(tracked, 987654, tmp_path)


def test_empty_track_is_refused(tmp_path, body):
    with pytest.raises(ValueError, match="no frames"):
        export_track(make_motion([]), out_dir=tmp_path, body=body)


def test_existing_files_need_overwrite(exported, body, motion):
    before = exported.files["glb"][0].stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite"):
        export_track(motion, out_dir=exported.folder.parent, body=body, formats=("glb", "bvh"))
    assert exported.files["glb"][0].stat().st_mtime_ns == before
    again = export_track(motion, out_dir=exported.folder.parent, body=body, formats=("bvh",), overwrite=True)
    assert again.files["bvh"] == exported.files["bvh"]


def test_formats_can_be_exported_one_call_at_a_time(tmp_path, body, motion):
    export_track(motion, out_dir=tmp_path, formats=("bvh",), body=body)
    out = export_track(motion, out_dir=tmp_path, formats=("glb",), body=body)
    assert sorted(json.loads(out.manifest.read_text())["files"]) == ["bvh", "glb"]
    other = make_motion(np.arange(4), seed=2)  # same track id, other frames: another export
    with pytest.raises(FileExistsError, match="overwrite"):
        export_track(other, out_dir=tmp_path, formats=("ply",), body=body)


def test_unwritable_export_path_is_named(tmp_path, body, motion):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="a_file"):
        export_track(motion, out_dir=blocker / "exports", formats=("bvh",), body=body)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_export_dir_is_named(tmp_path, body, motion):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="locked"):
            export_track(motion, out_dir=locked, formats=("bvh",), body=body)
    finally:
        locked.chmod(0o700)
