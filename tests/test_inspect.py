"""workbench.models.inspect: attention maps against a hand-walked decoder, shapes, parameter counts, drawing."""

import numpy as np
import pytest
import torch

from workbench.config import preset
from workbench.models import ablation_config, build_model
from workbench.models.inspect import (
    attention_to_pixels,
    cross_attention_maps,
    cross_attention_maps_reference,
    loss_gradient_norms,
    overlay_heatmap,
    parameter_breakdown,
    parameter_table,
    pipeline_shapes,
)


@pytest.fixture(scope="module")
def tiny(body):
    torch.manual_seed(0)
    return build_model(preset("tiny"), body=body)


def _crops(batch=2, seed=0):
    return torch.randn(batch, 3, 256, 256, generator=torch.Generator().manual_seed(seed))


def _no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_cross_attention_maps_match_the_hand_walked_decoder(tiny):
    img = _crops(2)
    cfg = tiny.cfg.head
    maps = cross_attention_maps(tiny, img)
    assert maps.shape == (2, cfg.depth, cfg.heads, 16, 12)
    torch.testing.assert_close(maps.sum(dim=(-2, -1)), torch.ones(2, cfg.depth, cfg.heads))
    ref_maps, ref_out = cross_attention_maps_reference(tiny, img)
    torch.testing.assert_close(maps, ref_maps, rtol=1e-5, atol=1e-7)
    # The reference rebuilt each cross-attention output from these weights; matching the model's
    # decoder output proves they are the weights the model (fused SDPA) really uses.
    tiny.eval()
    with torch.no_grad():
        feats = tiny.backbone(img[..., 32:224])
        out = tiny.smpl_head.transformer(feats.new_zeros(2, 1, 1), context=feats.flatten(2).transpose(1, 2))
    torch.testing.assert_close(ref_out, out, rtol=1e-4, atol=1e-5)


def test_cross_attention_maps_leave_the_model_as_it_was(tiny):
    tiny.train()
    cross_attention_maps(tiny, _crops(1))
    assert tiny.training and _no_hooks(tiny)
    tiny.eval()


def test_cross_attention_maps_differ_between_images(tiny):
    maps = cross_attention_maps(tiny, torch.cat([_crops(1, 0), _crops(1, 1)]))
    assert not torch.allclose(maps[0], maps[1])


def test_mlp_head_has_no_cross_attention(body):
    model = build_model(ablation_config("B2", preset("tiny").model), body=body)
    with pytest.raises(ValueError, match="no cross-attention"):
        cross_attention_maps(model, _crops(1))


def test_pipeline_shapes_tiny_full_run(tiny):
    table = pipeline_shapes(tiny, _crops(2)).set_index("stage")["shape"]
    C = tiny.cfg.backbone.embed_dim
    assert table["backbone input: central columns"] == (2, 3, 256, 192)
    assert table["backbone feature map"] == (2, C, 16, 12)
    assert table["decoder query token"] == (2, 1, 1)
    assert table["decoder context: image tokens"] == (2, 192, C)
    assert table["pose readout (decpose)"] == (2, 144)
    assert table["body_pose"] == (2, 23, 3, 3)
    assert table["pred_keypoints_2d"] == (2, 44, 2)
    assert _no_hooks(tiny)


def test_pipeline_shapes_paper_on_the_meta_device():
    with torch.device("meta"):
        paper = build_model(preset("paper"))
    table = pipeline_shapes(paper, torch.empty(1, 3, 256, 256, device="meta")).set_index("stage")["shape"]
    assert table["patch tokens"] == (1, 192, 1280)
    assert table["decoder context: image tokens"] == (1, 192, 1280)
    assert table["query token embedding"] == (1, 1, 1024)
    assert table["pred_cam"] == (1, 3)
    assert "pred_vertices" not in table  # the body needs real numbers: the meta run stops after the head


def test_pipeline_shapes_resnet_ablation(body):
    model = build_model(ablation_config("B1", preset("tiny").model), body=body)
    table = pipeline_shapes(model, _crops(1)).set_index("stage")["shape"]
    assert table["backbone feature map"] == (1, 2048, 8, 6)
    assert table["IEF MLP input"] == (1, 2048 + 144 + 10 + 3)
    assert "decoder query token" not in table


def test_parameter_counts_by_part():
    with torch.device("meta"):
        paper = build_model(preset("paper"))
        b1 = build_model(ablation_config("B1"))
    parts = parameter_breakdown(paper)
    assert sum(parts.values()) == sum(p.numel() for p in paper.parameters())
    assert sum(v for k, v in parts.items() if k.startswith("backbone")) == 630_912_000
    assert parts["backbone: position embedding"] == 193 * 1280
    assert parts["head: query token embedding"] == 1024 + 1024 + 1024  # Linear(1 -> 1024) + pos_embedding
    assert not any(k.startswith("other") for k in parts)
    table = parameter_table({"paper": paper, "B1": b1})
    assert table.loc["total", "B1"] == sum(p.numel() for p in b1.parameters())
    assert table.loc["backbone: ResNet-50", "paper"] == 0 and table.loc["backbone: ResNet-50", "B1"] > 20e6
    assert table.loc["discriminator", "paper"] == table.loc["discriminator", "B1"]


def test_attention_to_pixels_matches_a_pixel_loop():
    rng = np.random.default_rng(0)
    maps = rng.random((2, 16, 12)).astype(np.float32)
    px = attention_to_pixels(maps)
    assert px.shape == (2, 256, 256)
    assert np.isnan(px[:, :, :32]).all() and np.isnan(px[:, :, 224:]).all()
    for r in (0, 1, 13, 14, 100, 253, 255):
        for c in (32, 33, 45, 46, 150, 223):
            i, j = min((r + 2) // 16, 15), min((c - 32 + 2) // 16, 11)  # padded patch conv: token i covers 16i-2..
            assert px[1, r, c] == maps[1, i, j]


def test_overlay_heatmap():
    image = np.full((8, 8, 3), 100, np.uint8)
    heat = np.linspace(0, 1, 64).reshape(8, 8)
    heat[:, :2] = np.nan
    out = overlay_heatmap(image, heat)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[:, :2] == 35).all()  # dimmed, not coloured
    assert not np.array_equal(out[0, 2], out[-1, -1])
    fixed = overlay_heatmap(image, np.full((8, 8), 0.5), vmin=0.0, vmax=1.0)
    assert (fixed == fixed[0, 0]).all()


def _labels(batch: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    conf = (torch.rand(batch, 44, 1, generator=g) > 0.2).float()
    return {
        "img": torch.randn(batch, 3, 256, 256, generator=g),
        "keypoints_2d": torch.cat([torch.rand(batch, 44, 2, generator=g) - 0.5, conf], -1),
        "keypoints_3d": torch.cat([torch.randn(batch, 44, 3, generator=g) * 0.3, torch.ones(batch, 44, 1)], -1),
        "smpl_params": {"global_orient": torch.randn(batch, 3, generator=g),
                        "body_pose": 0.3 * torch.randn(batch, 69, generator=g),
                        "betas": torch.randn(batch, 10, generator=g)},
        "has_smpl_params": {k: torch.ones(batch) for k in ("global_orient", "body_pose", "betas")},
    }


def test_loss_gradient_norms_match_backward_and_scale_with_the_batch(tiny):
    from workbench.losses import LOSSES

    weights = preset("tiny").loss.weights
    one = _labels(1)
    norms = loss_gradient_norms(tiny, one, weights)
    assert set(norms) == set(weights) and _no_hooks(tiny)
    # Slow path: .backward() per term, discriminator excluded.
    gen = [p for n, p in tiny.named_parameters() if not n.startswith("discriminator.")]
    tiny.eval()
    for name in ("keypoints_3d", "adversarial"):
        tiny.zero_grad(set_to_none=True)
        (weights[name] * LOSSES[name](tiny(one["img"]), one, tiny)).backward()
        slow = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in gen if p.grad is not None))
        assert norms[name] == pytest.approx(float(slow), rel=1e-4)
    tiny.zero_grad(set_to_none=True)
    # Three copies of the same sample: a summed term pulls exactly 3x as hard, the adversarial
    # term (divided by B) exactly as hard.
    three = {k: (v.repeat(3, *[1] * (v.dim() - 1)) if torch.is_tensor(v) else
                 {kk: vv.repeat(3, *[1] * (vv.dim() - 1)) for kk, vv in v.items()}) for k, v in one.items()}
    tripled = loss_gradient_norms(tiny, three, weights)
    for name in ("keypoints_3d", "keypoints_2d", "body_pose", "betas"):
        assert tripled[name] == pytest.approx(3 * norms[name], rel=1e-3), name
    assert tripled["adversarial"] == pytest.approx(norms["adversarial"], rel=1e-3)
