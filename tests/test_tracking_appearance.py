"""Texture-sampling appearance: atlas coverage, sampled colours and visibility on painted frames,
occlusion between people, the published blend rule, the cost, and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.render import render
from workbench.tracking.appearance import (
    NUM_PARTS,
    TexelMap,
    appearance_cost,
    blend,
    sample_texel_maps,
    sample_texel_maps_reference,
    texel_atlas,
    texel_image,
)

H, W, FOCAL = 480, 640, 700.0


@pytest.fixture(scope="module")
def atlas(body):
    return texel_atlas(body)


def _people(body, xs, z=4.0, yaw=0.0, seed=0):
    """(B, V, 3) camera-frame people standing upright at x = xs, facing the camera (or turned by yaw)."""
    import roma

    B = len(xs)
    g = torch.Generator().manual_seed(seed)
    upright = roma.rotvec_to_rotmat(torch.tensor([[np.pi, 0.0, 0.0]]).repeat(B, 1))
    turn = roma.rotvec_to_rotmat(torch.tensor([[0.0, yaw, 0.0]]).repeat(B, 1))
    out = body(global_orient=(upright @ turn)[:, None], body_pose=0.1 * torch.randn(B, 69, generator=g))
    offset = np.stack([np.asarray(xs, float), np.full(B, 0.3), np.full(B, z)], 1)[:, None]
    return out.vertices.detach().numpy() + offset


def _paint(vertices, faces, colors, noise=0.0, seed=0):
    """Frame with each person painted flat in its colour (0..1) over a black background."""
    hits = render([(v, faces) for v in vertices], (H, W), FOCAL)
    img = np.zeros((H, W, 3))
    img[hits.mask] = np.asarray(colors, float)[hits.mesh_id[hits.mask]] * 255
    img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _sample(frame, vertices, faces, atlas):
    return sample_texel_maps(frame, vertices, faces, FOCAL, None, atlas)


def _back_and_front(body, atlas, cos=0.7):
    """Texels whose faces, in the rest pose, face clearly backwards / forwards (mean normal z)."""
    v, f = body.layer.v_template.numpy().astype(np.float64), body.faces
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    nz = np.bincount(atlas.face_texel, n[:, 2], atlas.num_texels) / np.maximum(atlas.texel_faces, 1)
    return nz < -cos, nz > cos


def test_atlas_covers_every_part_and_face(body, atlas):
    faces = body.faces
    weights = body.layer.lbs_weights.numpy()
    face_part = np.argmax(weights[faces].sum(1), 1)
    assert atlas.face_texel.shape == (len(faces),)
    assert atlas.face_texel.min() >= 0 and atlas.face_texel.max() < atlas.num_texels
    # Each face lands in a tile of its own part, every part has used texels, almost no texel is empty.
    np.testing.assert_array_equal(atlas.texel_part[atlas.face_texel], face_part)
    used = atlas.texel_faces > 0
    assert set(atlas.texel_part[used]) == set(range(NUM_PARTS))
    assert used.mean() > 0.95
    # Equal-count binning: no texel hoards a part's faces.
    per_part = np.bincount(face_part, minlength=NUM_PARTS)
    assert (atlas.texel_faces <= 2 * per_part[atlas.texel_part] / atlas.tile**2 + 2).all()
    assert texel_atlas(body) is atlas  # cached per body
    assert texel_atlas(body, tile=4).num_texels == NUM_PARTS * 16


def test_known_colour_front_visible_back_masked(body, atlas):
    colour = np.array([0.2, 0.6, 0.9])
    back, front = _back_and_front(body, atlas)
    for yaw, seen, hidden in ((0.0, front, back), (np.pi, back, front)):
        v = _people(body, [0.0], yaw=yaw)
        (m,) = _sample(_paint(v, body.faces, [colour]), v, body.faces, atlas)
        assert m.rgb.dtype == np.float32 and m.mask.dtype == bool
        assert 0.3 < m.mask.mean() < 0.8  # roughly the half of the body that faces the camera
        err = np.abs(m.rgb[m.mask] - colour).max(1)
        assert np.median(err) < 0.01 and np.quantile(err, 0.95) < 0.08
        assert m.mask[seen].mean() > 0.8 and m.mask[hidden].mean() < 0.05


def test_person_hidden_behind_another_is_not_sampled(body, atlas):
    front = _people(body, [0.0], z=3.0)
    behind = front * 1.6  # the same projection, 1.6x farther: exactly covered by the front person
    frame = _paint(np.concatenate([front, behind]), body.faces, [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    m_front, m_behind = _sample(frame, np.concatenate([front, behind]), body.faces, atlas)
    (alone,) = _sample(_paint(behind, body.faces, [(0.0, 0.0, 1.0)]), behind, body.faces, atlas)
    assert alone.mask.sum() > 500  # visible on its own ...
    assert m_behind.mask.sum() <= 0.01 * atlas.num_texels  # ... but not through the occluder
    np.testing.assert_array_equal(m_front.mask, _sample(frame, front, body.faces, atlas)[0].mask)


def test_two_people_cost_diagonal_much_smaller(body, atlas):
    colours = [(0.8, 0.15, 0.1), (0.15, 0.25, 0.7)]
    v1 = _people(body, [-0.8, 0.8], seed=0)
    v2 = _people(body, [-0.6, 1.0], yaw=0.3, seed=1)  # next frame: moved, turned, new pose, noisy
    tracks = _sample(_paint(v1, body.faces, colours), v1, body.faces, atlas)
    dets = _sample(_paint(v2, body.faces, colours, noise=5.0), v2, body.faces, atlas)
    cost = appearance_cost(tracks, dets)
    assert cost.shape == (2, 2)
    assert cost[0, 0] < 0.5 and cost[1, 1] < 0.5
    assert min(cost[0, 1], cost[1, 0]) > 20 * max(cost[0, 0], cost[1, 1])
    assert appearance_cost([], dets).shape == (0, 2) and appearance_cost(tracks, []).shape == (2, 0)


def test_fast_sampling_agrees_with_reference(body, atlas):
    v = _people(body, [-0.5, 0.4], seed=2)
    v[1, :, 2] += 1.0  # partly behind the first person
    frame = _paint(v, body.faces, [(0.9, 0.8, 0.1), (0.1, 0.7, 0.3)], noise=20.0)
    fast = _sample(frame, v, body.faces, atlas)
    slow = sample_texel_maps_reference(frame, v, body.faces, FOCAL, None, atlas)
    for f, s in zip(fast, slow):
        # Raster and ray-cast depth differ only on a few silhouette pixels.
        assert (f.mask == s.mask).mean() > 0.99
        both = f.mask & s.mask
        assert np.quantile(np.abs(f.rgb[both] - s.rgb[both]), 0.99) < 1e-3


def test_blend_follows_published_rule():
    track = TexelMap(rgb=np.array([[0.2] * 3, [0.4] * 3, [0.6] * 3, [0.8] * 3], np.float32),
                     mask=np.array([True, True, False, False]))
    det = TexelMap(rgb=np.array([[1.0] * 3, [0.0] * 3, [0.3] * 3, [0.1] * 3], np.float32),
                   mask=np.array([True, False, True, False]))
    out = blend(track, det, conf=0.5, alpha=0.1)
    a = 0.1 * 0.5**2
    expected = np.array([0.2 * (1 - a) + a * 1.0, 0.4, 0.3, 0.8])
    np.testing.assert_allclose(out.rgb[:, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(out.mask, [True, True, True, False])
    new = blend(None, det, conf=0.9)
    np.testing.assert_array_equal(new.rgb, det.rgb)
    assert new.rgb is not det.rgb  # a copy: updating the track must not alter the detection
    with pytest.raises(ValueError, match="same atlas"):
        blend(track, TexelMap(np.zeros((3, 3), np.float32), np.zeros(3, bool)), conf=1.0)


def test_wrong_inputs_raise_clear_errors(body, atlas):
    v = _people(body, [0.0])
    frame = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(B, V, 3\)"):
        sample_texel_maps(frame, v[0], body.faces, FOCAL, None, atlas)
    with pytest.raises(ValueError, match="uint8"):
        sample_texel_maps(frame.astype(np.float32), v, body.faces, FOCAL, None, atlas)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        sample_texel_maps(frame[..., 0], v, body.faces, FOCAL, None, atlas)
    with pytest.raises(ValueError, match="atlas was built"):
        sample_texel_maps(frame, v[:, :100], body.faces, FOCAL, None, atlas)
    with pytest.raises(ValueError, match="faces"):
        sample_texel_maps(frame, v, body.faces[:, ::-1], FOCAL, None, atlas)
    assert sample_texel_maps(frame, v[:0], body.faces, FOCAL, None, atlas) == []


def test_texel_image_paper_doll(atlas):
    rng = np.random.default_rng(0)
    m = TexelMap(rgb=rng.uniform(0, 1, (atlas.num_texels, 3)).astype(np.float32),
                 mask=rng.uniform(size=atlas.num_texels) < 0.5)
    img = texel_image(m, atlas)
    t = atlas.tile
    assert img.shape == (9 * t, 11 * t, 3) and img.dtype == np.uint8
    assert (img == 255).all(-1).sum() == (99 - NUM_PARTS) * t * t  # empty grid cells are white
    assert (img == 128).all(-1).sum() >= (~m.mask).sum()  # masked texels grey
    assert texel_image(m, atlas, scale=3).shape == (27 * t, 33 * t, 3)
