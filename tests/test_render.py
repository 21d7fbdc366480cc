"""Renderer checks against closed-form answers (spheres) and a slow numpy reference.

Geometry: a sphere of radius r centred on the optical axis at depth z projects to a disc of radius
f * r / sqrt(z^2 - r^2) pixels, and its nearest point is at depth z - r.
"""

import subprocess
import sys

import numpy as np
import pytest
import trimesh

from workbench.render import (
    clear_mesh_cache,
    overlay,
    render,
    side_view,
    top_view,
    visible_points,
)
from workbench.render.raycast import cast_rays

R, Z, F = 0.5, 3.0, 500.0
SIZE = (256, 256)


def sphere(center=(0.0, 0.0, Z), radius=R, subdivisions=4):
    s = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(s.vertices) + np.asarray(center), np.asarray(s.faces)


def ellipsoid(center, axes):
    v, f = sphere(center=(0, 0, 0), radius=1.0, subdivisions=3)
    return v * np.asarray(axes) + np.asarray(center), f


def pixel_rays(rows, cols, size=SIZE, focal=F):
    H, W = size
    return np.stack([(cols + 0.5 - W / 2) / focal, (rows + 0.5 - H / 2) / focal, np.ones(len(rows))], 1)


# --- analytic checks ---------------------------------------------------------------------------


def test_depth_at_principal_point_is_nearest_point_of_sphere():
    out = render(sphere(), SIZE, F)
    H, W = SIZE
    assert out.depth[H // 2, W // 2] == pytest.approx(Z - R, rel=1e-3)
    assert out.depth.dtype == np.float32 and np.isinf(out.depth[0, 0])
    assert out.mesh_id.dtype == np.int16 and out.mesh_id[0, 0] == -1
    assert out.face_id.dtype == np.int32 and out.face_id[0, 0] == -1
    assert out.rgb.shape == (*SIZE, 3) and out.rgb.dtype == np.uint8


def test_silhouette_area_matches_projected_disc():
    out = render(sphere(subdivisions=5), SIZE, F)
    expected = np.pi * (F * R / np.sqrt(Z**2 - R**2)) ** 2
    assert out.mask.sum() == pytest.approx(expected, rel=0.02)
    assert np.array_equal(out.mask, np.isfinite(out.depth))


def test_off_axis_sphere_lands_where_the_pinhole_projects_its_centre():
    # x right, y down: a sphere at +x, +y must appear right of and below the principal point.
    cx, cy = 90.0, 140.0
    out = render(sphere(center=(0.4, 0.2, Z), radius=0.1), SIZE, (F, 0.8 * F), principal_point=(cx, cy))
    rows, cols = np.nonzero(out.mask)
    assert cols.mean() + 0.5 == pytest.approx(cx + F * 0.4 / Z, abs=1.0)
    assert rows.mean() + 0.5 == pytest.approx(cy + 0.8 * F * 0.2 / Z, abs=1.0)


def test_nearer_sphere_hides_farther_one_in_either_order():
    near = sphere(center=(-0.2, 0.0, 2.5))
    far = sphere(center=(0.2, 0.0, 4.0))
    for meshes, near_id in (([near, far], 0), ([far, near], 1)):
        out = render(meshes, SIZE, F)
        assert set(np.unique(out.mesh_id)) == {-1, 0, 1}
        # The overlap seen from the camera (pixel on the line between the centres) is the near one.
        assert out.mesh_id[128, 128] == near_id
        assert out.depth[128, 128] < 2.5


def test_shading_is_brightest_at_the_centre_and_darkens_to_the_rim():
    out = render(sphere(subdivisions=5), SIZE, F, colors=(1.0, 1.0, 1.0))
    row = out.rgb[128, :, 0].astype(int)
    cols = np.flatnonzero(out.mask[128])
    centre, rim = row[128], row[cols[[0, -1]]]
    assert centre >= 250 and np.all(rim < 0.6 * centre)
    assert np.all(np.diff(row[cols[0] : 128]) >= -1)  # monotone towards the centre (±rounding)


def test_shading_and_geometry_match_a_slow_numpy_reference():
    # Coarse sphere so that errors in face ids or barycentric order would show.
    v, f = sphere(center=(0.1, -0.05, Z), subdivisions=2)
    hits = cast_rays([v.astype(np.float32)], [f.astype(np.int32)], SIZE, (F, F), (128.0, 128.0))
    rows, cols = np.nonzero(hits.mesh_id >= 0)
    d = pixel_rays(rows, cols)
    p = d * hits.depth[rows, cols, None]  # t along a z=1 ray is the z-depth
    tri = v[f[hits.face_id[rows, cols]]]  # (N, 3 corners, 3)
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    # hit points lie on their face's plane
    plane = np.abs(((p - tri[:, 0]) * fn).sum(1)) / np.linalg.norm(fn, axis=1)
    assert plane.max() < 1e-5
    # area-weighted vertex normals, interpolated with the hit's barycentrics
    area_fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], area_fn)
    vn /= np.linalg.norm(vn, axis=1, keepdims=True)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    w1 = (np.cross(p - a, c - a) * np.cross(b - a, c - a)).sum(1) / (np.cross(b - a, c - a) ** 2).sum(1)
    w2 = (np.cross(b - a, p - a) * np.cross(b - a, c - a)).sum(1) / (np.cross(b - a, c - a) ** 2).sum(1)
    corners = f[hits.face_id[rows, cols]]
    n = (1 - w1 - w2)[:, None] * vn[corners[:, 0]] + w1[:, None] * vn[corners[:, 1]] + w2[:, None] * vn[corners[:, 2]]
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    ref = np.abs((n * d).sum(1)) / np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(hits.cosine[rows, cols], ref, atol=1e-4)


# --- compositing -------------------------------------------------------------------------------


def test_overlay_keeps_background_outside_the_mask_and_blends_inside():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    v, f = sphere()
    mask = render((v, f), SIZE, F).mask
    opaque = overlay(image, v, f, F)
    assert np.array_equal(opaque[~mask], image[~mask])
    assert not np.array_equal(opaque[mask], image[mask])
    half = overlay(image, v, f, F, alpha=0.5)
    expected = 0.5 * opaque[mask].astype(float) + 0.5 * image[mask]
    assert np.abs(half[mask] - expected).max() <= 1.0
    # a batch (K, V, 3) sharing faces renders K people
    two = np.stack([v - [0.6, 0, 0], v + [0.6, 0, 1.0]])
    assert not np.array_equal(overlay(image, two, f, F), opaque)


def test_meshes_off_screen_or_around_the_camera():
    # Off to the side (culled by its projected rectangle) beside a visible one: ids stay input indices.
    out = render([sphere(center=(50.0, 0.0, Z)), sphere()], SIZE, F)
    assert set(np.unique(out.mesh_id)) == {-1, 1}
    # Camera inside a big sphere: the mesh reaches behind the camera, every pixel sees it.
    v, f = sphere(center=(0.0, 0.0, 0.0), radius=10.0)
    out = render((v, f), SIZE, F)
    assert out.mask.all() and out.depth[128, 128] == pytest.approx(10.0, rel=1e-3)


def test_empty_scene_returns_the_background():
    bg = np.full((*SIZE, 3), 7, np.uint8)
    out = render([], SIZE, F, background=bg)
    assert not out.mask.any() and np.array_equal(out.rgb, bg) and np.isinf(out.depth).all()


def test_torch_input_and_per_mesh_colours():
    torch = pytest.importorskip("torch")
    v, f = sphere()
    out = render([(torch.as_tensor(v), torch.as_tensor(f))], SIZE, torch.tensor(F), colors=[(255, 0, 0)])
    centre = out.rgb[128, 128]
    assert centre[0] > 200 and centre[1] == 0 and centre[2] == 0


def test_moving_a_cached_mesh_refits_its_bvh():
    v, f = sphere()
    render((v, f), SIZE, F)
    moved = render((v + [0.0, 0.0, 1.0], f), SIZE, F)  # same topology: refit, not rebuild
    clear_mesh_cache()
    fresh = render((v + [0.0, 0.0, 1.0], f), SIZE, F)
    assert moved.depth[128, 128] == pytest.approx(Z + 1.0 - R, rel=1e-3)
    np.testing.assert_array_equal(moved.face_id, fresh.face_id)


# --- visibility --------------------------------------------------------------------------------


def test_visible_points_near_hemisphere_visible_far_hemisphere_hidden():
    centre = np.array([0.0, 0.0, Z])
    out = render(sphere(subdivisions=5), SIZE, F)
    rng = np.random.default_rng(1)
    normals = rng.normal(size=(4000, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    points = centre + R * normals
    view = points / np.linalg.norm(points, axis=1, keepdims=True)
    facing = -(normals * view).sum(1)  # cos between the outward normal and the direction to the camera
    vis = visible_points(points, out.depth, F)
    # Near the rim a pixel (0.5 px from a point) can sample the background or the other side:
    # keep clear of it; see the tolerance discussion in visible_points' docstring.
    assert vis[facing > 0.5].all()
    assert not vis[facing < -0.2].any()
    assert vis[facing > 0].mean() > 0.9 and vis[facing < 0].mean() < 0.1
    # behind the camera or outside the image: never visible
    assert not visible_points(np.array([[0, 0, -1.0], [10.0, 0, 1.0]]), out.depth, F).any()


def test_visible_points_respects_occlusion_by_another_mesh():
    occluder = sphere(center=(0.0, 0.0, 2.0), radius=0.2)
    out = render([sphere(), occluder], SIZE, F)
    front_of_far_sphere = np.array([[0.0, 0.0, Z - R]])
    assert not visible_points(front_of_far_sphere, out.depth, F)[0]


# --- other views -------------------------------------------------------------------------------


def _bbox_hw(mask):
    rows, cols = np.nonzero(mask)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1, cols.mean()


def test_side_and_top_views_turn_the_scene_about_its_centroid():
    # A rod pointing at the camera: a small disc from the front, long sideways / vertically.
    rod = ellipsoid(center=(0.2, 0.0, Z), axes=(0.05, 0.05, 0.3))
    front = render(rod, SIZE, F)
    side = side_view(rod, SIZE, F)
    top = top_view(rod, SIZE, F)
    h0, w0, _ = _bbox_hw(front.mask)
    h1, w1, _ = _bbox_hw(side.mask)
    h2, w2, _ = _bbox_hw(top.mask)
    assert w1 > 3 * w0 and h1 < 1.5 * h0  # side view: long along x
    assert h2 > 3 * h0 and w2 < 1.5 * w0  # top view: long along y
    assert np.all(side.rgb[0, 0] == 255) and np.all(top.rgb[0, 0] == 255)  # white background
    # the centroid stays in place, so the rod stays centred on its projected centre (x = 0.2 m)
    assert _bbox_hw(side.mask)[2] == pytest.approx(_bbox_hw(front.mask)[2], abs=3)


def test_side_view_shows_a_person_facing_the_camera_facing_left():
    body = ellipsoid(center=(0.0, 0.0, Z), axes=(0.2, 0.2, 0.2))
    nose = ellipsoid(center=(0.0, 0.0, Z - 0.25), axes=(0.05, 0.05, 0.1))  # towards the camera
    side = side_view([body, nose], SIZE, F)
    assert _bbox_hw(side.mesh_id == 1)[2] < _bbox_hw(side.mesh_id == 0)[2]
    top = top_view([body, nose], SIZE, F)
    rows = np.nonzero(top.mesh_id == 1)[0]
    assert rows.mean() > 128  # what faced the camera is at the bottom of the top view


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(meshes=(sphere()[0], sphere()[1] + 10_000)), "faces index vertices"),
        (dict(meshes=(np.full((10, 3), np.nan), np.array([[0, 1, 2]]))), "not finite"),
        (dict(meshes=(sphere()[0][:, :2], sphere()[1])), r"shape \(V, 3\)"),
        (dict(meshes=(sphere()[0], sphere()[1].astype(float))), "integers"),
        (dict(image_size=(0, 256)), "positive"),
        (dict(background=np.zeros((10, 10, 3), np.uint8)), "resize"),
        (dict(background=np.zeros((*SIZE, 3), np.float32)), "uint8"),
        (dict(focal=-1.0), "focal"),
        (dict(colors=[(0.5, 0.5)]), "colors"),
        (dict(alpha=2.0), "alpha"),
    ],
)
def test_bad_input_raises_value_error_saying_what_to_do(kwargs, match):
    args = dict(meshes=sphere(), image_size=SIZE, focal=F) | kwargs
    with pytest.raises(ValueError, match=match):
        render(**args)


def test_import_and_render_print_nothing():
    code = (
        "import numpy as np, trimesh\n"
        "from workbench.render import render\n"
        "s = trimesh.creation.icosphere(2)\n"
        "render((s.vertices + [0, 0, 3.0], s.faces), (32, 32), 50.0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
