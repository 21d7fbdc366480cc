"""Tests for workbench.models: shapes and keys, HMR 2.0 semantics, fast-vs-slow attention, sizes."""

import math

import pytest
import torch

from workbench.config import preset
from workbench.geometry import project_to_crop, rot6d_to_rotmat
from workbench.models import (
    HMR2,
    OUTPUT_KEYS,
    Discriminator,
    ViT,
    ablation_config,
    build_model,
    list_backbones,
    list_heads,
    load_checkpoint,
    register_backbone,
    save_checkpoint,
)
from workbench.models.transformer import CrossAttention, SelfAttention, attention_reference


@pytest.fixture(scope="module")
def tiny(body):
    torch.manual_seed(0)
    return build_model(preset("tiny"), body=body).eval()


def _crops(batch=2, seed=0):
    return torch.randn(batch, 3, 256, 256, generator=torch.Generator().manual_seed(seed))


def _num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("ablation", ["hmr2", "B1", "B2"])
def test_output_keys_and_shapes(ablation, body):
    cfg = ablation_config(ablation, preset("tiny").model)
    model = build_model(cfg, body=body).eval()
    V = body.layer.v_template.shape[0]
    with torch.no_grad():
        out = model(_crops(2))
    assert tuple(out) == OUTPUT_KEYS
    assert out["pred_cam"].shape == (2, 3)
    assert {k: tuple(v.shape) for k, v in out["pred_smpl_params"].items()} == {
        "global_orient": (2, 1, 3, 3), "body_pose": (2, 23, 3, 3), "betas": (2, 10)}
    assert out["pred_cam_t"].shape == (2, 3) and out["focal_length"].shape == (2, 2)
    assert out["pred_keypoints_3d"].shape == (2, 44, 3) and out["pred_keypoints_2d"].shape == (2, 44, 2)
    assert out["pred_vertices"].shape == (2, V, 3)
    # Camera and projection as published.
    s, tx, ty = out["pred_cam"].unbind(-1)
    torch.testing.assert_close(out["pred_cam_t"], torch.stack([tx, ty, 2 * 5000 / (256 * s + 1e-9)], -1))
    assert torch.all(out["focal_length"] == 5000)
    torch.testing.assert_close(out["pred_keypoints_2d"], project_to_crop(out["pred_keypoints_3d"], out["pred_cam_t"]))
    expected_channels = {"hmr2": 192, "B1": 2048, "B2": 192}[ablation]
    grid = (8, 6) if ablation == "B1" else (16, 12)
    assert model.backbone(torch.zeros(1, 3, 256, 192)).shape[1:] == (expected_channels, *grid)


def test_backbone_sees_central_columns(tiny):
    """Only columns 32:224 reach the network: changing the borders changes nothing."""
    x = _crops(1)
    y = x.clone()
    y[..., :32] = 5.0
    y[..., 224:] = -5.0
    with torch.no_grad():
        torch.testing.assert_close(tiny(x)["pred_cam"], tiny(y)["pred_cam"])


def test_pos_embed_class_slot_is_added_to_every_token():
    torch.manual_seed(0)
    vit = ViT(embed_dim=32, depth=1, num_heads=2, drop_path_rate=0.0).eval()
    seen = []
    vit.blocks[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0].clone()))
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        vit(x)
        delta = torch.randn(32)
        vit.pos_embed[0, 0] += delta
        vit(x)
    assert seen[0].shape == (2, 192, 32)  # 16 x 12 tokens, no class token
    torch.testing.assert_close(seen[1] - seen[0], delta.expand(2, 192, 32), atol=1e-5, rtol=0)


def test_vit_uses_padded_patch_conv_and_official_names():
    vit = ViT(embed_dim=32, depth=2, num_heads=2)
    conv = vit.patch_embed.proj
    assert (conv.kernel_size, conv.stride, conv.padding) == ((16, 16), (16, 16), (2, 2))
    assert vit.pos_embed.shape == (1, 193, 32)
    block_keys = {k.split(".", 2)[2] for k in vit.state_dict() if k.startswith("blocks.0.")}
    assert block_keys == {f"{m}.{p}" for m in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
                          for p in ("weight", "bias")}
    rates = [float(b.drop_path1.drop_prob) if hasattr(b.drop_path1, "drop_prob") else 0.0 for b in vit.blocks]
    assert rates == pytest.approx([0.0, 0.55])
    assert vit.blocks[0].norm1.eps == 1e-6 and vit.last_norm.eps == 1e-6


def _zero_readouts(head):
    for layer in (head.decpose, head.decshape, head.deccam):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)


@pytest.mark.parametrize("ablation", ["hmr2", "B2"])
def test_head_starts_from_mean_params(ablation, body):
    model = build_model(ablation_config(ablation, preset("tiny").model), body=body).eval()
    head = model.smpl_head
    _zero_readouts(head)
    with torch.no_grad():
        params, cam, per_iter = head(torch.randn(3, 192, 16, 12))
    mean_rot = rot6d_to_rotmat(head.init_body_pose.reshape(24, 6))
    torch.testing.assert_close(params["global_orient"], mean_rot[None, :1].expand(3, -1, -1, -1))
    torch.testing.assert_close(params["body_pose"], mean_rot[None, 1:].expand(3, -1, -1, -1))
    torch.testing.assert_close(params["betas"], head.init_betas.expand(3, -1))
    torch.testing.assert_close(cam, head.init_cam.expand(3, -1))
    iters = head.ief_iters
    assert per_iter["body_pose"].shape == (iters * 3, 23, 3, 3) and per_iter["cam"].shape == (iters * 3, 3)


def test_head_6d_convention_reads_consecutive_triples(tiny):
    """decpose bias -> a known rotation about z: a1 = x[0:3], a2 = x[3:6] are R's first two columns."""
    head = tiny.smpl_head
    saved = {k: v.clone() for k, v in head.state_dict().items()}
    try:
        _zero_readouts(head)
        theta = 0.7
        c, s = math.cos(theta), math.sin(theta)
        target = head.init_body_pose.clone()
        target[0, :6] = torch.tensor([c, s, 0.0, -s, c, 0.0])
        with torch.no_grad():
            head.decpose.bias.copy_((target - head.init_body_pose)[0])
            params, _, _ = head(torch.randn(1, 192, 16, 12))
        Rz = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        torch.testing.assert_close(params["global_orient"][0, 0], Rz, atol=1e-6, rtol=0)
    finally:
        head.load_state_dict(saved)


def test_attention_matches_einsum_reference():
    torch.manual_seed(0)
    B, Nq, Nk, dim, ctx, heads, dh = 2, 3, 7, 16, 24, 2, 8
    x, context = torch.randn(B, Nq, dim), torch.randn(B, Nk, ctx)

    def split(t):
        return t.reshape(B, t.shape[1], heads, dh).permute(0, 2, 1, 3)

    def merge(t):
        return t.permute(0, 2, 1, 3).reshape(B, -1, heads * dh)

    cross = CrossAttention(dim, ctx, heads, dh).eval()
    k, v = torch.einsum("bnc,oc->bno", context, cross.to_kv.weight).chunk(2, dim=-1)
    q = torch.einsum("bnc,oc->bno", x, cross.to_q.weight)
    ref = cross.to_out(merge(attention_reference(split(q), split(k), split(v))))
    torch.testing.assert_close(cross(x, context=context), ref, atol=1e-5, rtol=1e-5)

    self_attn = SelfAttention(dim, heads, dh).eval()
    q, k, v = torch.einsum("bnc,oc->bno", x, self_attn.to_qkv.weight).chunk(3, dim=-1)
    ref = self_attn.to_out(merge(attention_reference(split(q), split(k), split(v))))
    torch.testing.assert_close(self_attn(x), ref, atol=1e-5, rtol=1e-5)


def test_discriminator_output_and_names():
    disc = Discriminator()
    out = disc(rot6d_to_rotmat(torch.randn(4, 23, 6)), torch.randn(4, 10))
    assert out.shape == (4, 25)
    shapes = {k: tuple(v.shape) for k, v in disc.state_dict().items()}
    assert shapes["D_conv1.weight"] == (32, 9, 1, 1) and shapes["pose_out.22.weight"] == (1, 32)
    assert shapes["D_alljoints_fc1.weight"] == (1024, 736) and shapes["betas_fc2.weight"] == (5, 10)
    assert all(torch.all(v == 0) for k, v in disc.state_dict().items() if k.endswith("bias"))


@pytest.mark.parametrize("shape, words", [
    ((2, 3, 224, 224), "256x256"),
    ((2, 1, 256, 256), "channel"),
    ((0, 3, 256, 256), "empty batch"),
    ((3, 256, 256), "batch dimension"),
])
def test_bad_inputs_raise_clear_errors(tiny, shape, words):
    with pytest.raises(ValueError, match=words):
        tiny(torch.zeros(shape))


def test_predict_is_inference_only_and_restores_mode(tiny):
    tiny.train()
    out = tiny.predict(_crops(1))
    assert tiny.training and not out["pred_vertices"].requires_grad
    tiny.eval()


def test_state_dict_leaves_out_the_body(tiny):
    keys = list(tiny.state_dict())
    assert not [k for k in keys if k.startswith("smpl.")]
    assert {k.split(".")[0] for k in keys} == {"backbone", "smpl_head", "discriminator"}
    tiny.load_state_dict(tiny.state_dict())  # strict, without any smpl.* key
    wrapped = torch.nn.ModuleDict({"net": tiny})  # the hooks also hold when nested
    assert not [k for k in wrapped.state_dict() if k.startswith("net.smpl.")]
    wrapped.load_state_dict(wrapped.state_dict())


def test_checkpoint_round_trip(tmp_path, tiny, body):
    cfg = preset("tiny")
    sidecar = save_checkpoint(tmp_path / "tiny.safetensors", tiny, cfg, {"step": 3, "mpjpe": torch.tensor(81.5)})
    assert sidecar.name == "tiny.json"
    model, cfg2, extra = load_checkpoint(tmp_path / "tiny.safetensors", body=body)
    assert cfg2 == cfg and extra == {"step": 3, "mpjpe": 81.5}
    assert all(p.requires_grad for p in model.parameters())
    x = _crops(2)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)["pred_vertices"], tiny(x)["pred_vertices"])
    # A weights file from another save no longer matches its sidecar's hash.
    other = build_model(cfg, body=body)
    save_checkpoint(tmp_path / "other.safetensors", other, cfg)
    (tmp_path / "tiny.safetensors").write_bytes((tmp_path / "other.safetensors").read_bytes())
    with pytest.raises(ValueError, match="torn"):
        load_checkpoint(tmp_path / "tiny.safetensors", body=body)


def test_metadata_json_cannot_hold_leaves_the_saved_pair_untouched(tmp_path, tiny, body):
    save_checkpoint(tmp_path / "tiny.safetensors", tiny, preset("tiny"), {"step": 3})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError, match="JSON serializable"):
        save_checkpoint(tmp_path / "tiny.safetensors", build_model(preset("tiny"), body=body), preset("tiny"),
                        {"step": 4, "table": object()})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert load_checkpoint(tmp_path / "tiny.safetensors", body=body)[2] == {"step": 3}
    # The small models' writer (pose predictor, heat-map ViT) shares the pair writing.
    from workbench.weights import save_weights

    save_weights(tmp_path / "lin.safetensors", torch.nn.Linear(2, 2), "test", 1, {})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError, match="JSON serializable"):
        save_weights(tmp_path / "lin.safetensors", torch.nn.Linear(2, 2), "test", 1, {"bad": object()})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_checkpoint_saved_in_half_precision_loads_as_float32(tmp_path, tiny, body):
    save_checkpoint(tmp_path / "full.safetensors", tiny, preset("tiny"))
    save_checkpoint(tmp_path / "half.safetensors", tiny, preset("tiny"), dtype=torch.float16)
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors").stat().st_size
    assert half < 0.55 * full
    model, _, _ = load_checkpoint(tmp_path / "half.safetensors", body=body)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    x = _crops(2)
    with torch.no_grad():
        torch.testing.assert_close(model(x)["pred_keypoints_3d"], tiny(x)["pred_keypoints_3d"], atol=5e-3, rtol=0)


def test_registry_lists_and_extends(body):
    assert {"vit", "resnet50"} <= set(list_backbones()) and {"transformer_decoder", "mlp_ief"} <= set(list_heads())

    class Pool(torch.nn.Module):
        out_channels = 3

        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, 32)

    from workbench.models.registry import BACKBONES

    register_backbone("test_pool")(lambda cfg: Pool())
    try:
        cfg = preset("tiny").model
        cfg.backbone.type = "test_pool"
        out = build_model(cfg, body=body)(_crops(1))
        assert out["pred_vertices"].shape[0] == 1
    finally:
        del BACKBONES["test_pool"]


def test_parameter_counts():
    """The paper preset on the meta device (nothing allocated): ViT-H ~630.9 M, total ~0.67 B."""
    with torch.device("meta"):
        paper = build_model(preset("paper"))
    backbone, head, disc = (_num_params(m) for m in (paper.backbone, paper.smpl_head, paper.discriminator))
    total = _num_params(paper)
    print(f"\npaper: backbone {backbone / 1e6:.1f} M, head {head / 1e6:.2f} M, discriminator {disc / 1e6:.2f} M, "
          f"total {total / 1e9:.3f} B")
    assert backbone == 630_912_000
    assert 39e6 < head < 40e6
    assert total == pytest.approx(0.67e9, rel=0.01)
    with torch.device("meta"):
        tiny = build_model(preset("tiny"))
    print(f"tiny: backbone {_num_params(tiny.backbone) / 1e6:.2f} M, head {_num_params(tiny.smpl_head) / 1e6:.2f} M, "
          f"total {_num_params(tiny) / 1e6:.2f} M")
    assert _num_params(tiny) < 20e6
    assert isinstance(paper, HMR2)
