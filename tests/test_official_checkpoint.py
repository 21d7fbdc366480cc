"""Loading foreign weights: the official HMR 2.0 Lightning checkpoint layout and ViTPose backbones.

The official file is 2.5 GB, so the tests write a checkpoint with the *published key layout*
(written out here from the reference, not derived from our modules) at a small width, and load it.
"""

import os
import sys
import types
from collections import OrderedDict

import pytest
import torch

from workbench.config import BackboneConfig, HeadConfig, ModelConfig
from workbench.models import HMR2, ViT, build_model, load_vitpose_backbone
from workbench.models.checkpoint import infer_official_config, torch_load_weights_only

C, DEPTH = 64, 2  # ViT width and depth of the small variant
DIM, LAYERS, INNER, MLP = 64, 2, 128, 96  # decoder width, depth, attention width (2 heads x 64), FFN


def official_state_dict(body=None, seed=0):
    """HMR 2.0's state dict layout (reference section 1.7) at a small width, random values.

    ``smpl.*`` buffers have SMPL's sizes (6890 vertices), or ``body``'s template when given.
    """
    g = torch.Generator().manual_seed(seed)
    shapes = {"backbone.pos_embed": (1, 193, C), "backbone.patch_embed.proj.weight": (C, 3, 16, 16),
              "backbone.patch_embed.proj.bias": (C,)}
    for i in range(DEPTH):
        b = f"backbone.blocks.{i}."
        shapes |= {b + "norm1.weight": (C,), b + "norm1.bias": (C,),
                   b + "attn.qkv.weight": (3 * C, C), b + "attn.qkv.bias": (3 * C,),
                   b + "attn.proj.weight": (C, C), b + "attn.proj.bias": (C,),
                   b + "norm2.weight": (C,), b + "norm2.bias": (C,),
                   b + "mlp.fc1.weight": (4 * C, C), b + "mlp.fc1.bias": (4 * C,),
                   b + "mlp.fc2.weight": (C, 4 * C), b + "mlp.fc2.bias": (C,)}
    shapes |= {"backbone.last_norm.weight": (C,), "backbone.last_norm.bias": (C,),
               "smpl_head.transformer.to_token_embedding.weight": (DIM, 1),
               "smpl_head.transformer.to_token_embedding.bias": (DIM,),
               "smpl_head.transformer.pos_embedding": (1, 1, DIM)}
    for l in range(LAYERS):
        t = f"smpl_head.transformer.transformer.layers.{l}."
        for j in range(3):
            shapes |= {f"{t}{j}.norm.weight": (DIM,), f"{t}{j}.norm.bias": (DIM,)}
        shapes |= {t + "0.fn.to_qkv.weight": (3 * INNER, DIM),
                   t + "0.fn.to_out.0.weight": (DIM, INNER), t + "0.fn.to_out.0.bias": (DIM,),
                   t + "1.fn.to_kv.weight": (2 * INNER, C), t + "1.fn.to_q.weight": (INNER, DIM),
                   t + "1.fn.to_out.0.weight": (DIM, INNER), t + "1.fn.to_out.0.bias": (DIM,),
                   t + "2.fn.net.0.weight": (MLP, DIM), t + "2.fn.net.0.bias": (MLP,),
                   t + "2.fn.net.3.weight": (DIM, MLP), t + "2.fn.net.3.bias": (DIM,)}
    shapes |= {"smpl_head.decpose.weight": (144, DIM), "smpl_head.decpose.bias": (144,),
               "smpl_head.decshape.weight": (10, DIM), "smpl_head.decshape.bias": (10,),
               "smpl_head.deccam.weight": (3, DIM), "smpl_head.deccam.bias": (3,),
               "discriminator.D_conv1.weight": (32, 9, 1, 1), "discriminator.D_conv1.bias": (32,),
               "discriminator.D_conv2.weight": (32, 32, 1, 1), "discriminator.D_conv2.bias": (32,)}
    for j in range(23):
        shapes |= {f"discriminator.pose_out.{j}.weight": (1, 32), f"discriminator.pose_out.{j}.bias": (1,)}
    shapes |= {"discriminator.betas_fc1.weight": (10, 10), "discriminator.betas_fc1.bias": (10,),
               "discriminator.betas_fc2.weight": (5, 10), "discriminator.betas_fc2.bias": (5,),
               "discriminator.betas_out.weight": (1, 5), "discriminator.betas_out.bias": (1,),
               "discriminator.D_alljoints_fc1.weight": (1024, 736), "discriminator.D_alljoints_fc1.bias": (1024,),
               "discriminator.D_alljoints_fc2.weight": (1024, 1024), "discriminator.D_alljoints_fc2.bias": (1024,),
               "discriminator.D_alljoints_out.weight": (1, 1024), "discriminator.D_alljoints_out.bias": (1,)}
    state = {k: 0.05 * torch.randn(s, generator=g) for k, s in shapes.items()}
    for k in state:
        if "norm" in k and k.endswith("weight"):
            state[k] += 1.0
    # A plausible starting point: identity rotations, zero shape, a body filling the crop.
    state["smpl_head.init_body_pose"] = torch.tensor([1.0, 0, 0, 0, 1, 0]).repeat(24)[None]
    state["smpl_head.init_betas"] = torch.zeros(1, 10)
    state["smpl_head.init_cam"] = torch.tensor([[0.9, 0.0, 0.2]])
    V = 6890 if body is None else body.layer.v_template.shape[0]
    state |= {"smpl.shapedirs": torch.zeros(V, 3, 10), "smpl.faces_tensor": torch.zeros(13776, 3, dtype=torch.long),
              "smpl.v_template": torch.zeros(V, 3), "smpl.J_regressor": torch.zeros(24, V),
              "smpl.posedirs": torch.zeros(207, 3 * V), "smpl.parents": torch.arange(-1, 23),
              "smpl.lbs_weights": torch.zeros(V, 24),
              "smpl.vertex_joint_selector.extra_joints_idxs": torch.zeros(21, dtype=torch.long),
              "smpl.joint_regressor_extra": torch.zeros(19, V), "smpl.joint_map": torch.zeros(25, dtype=torch.long),
              "initialized": torch.tensor(True)}
    if body is not None:
        state["smpl.v_template"] = body.layer.v_template.clone()
    return state


def small_config():
    return ModelConfig(backbone=BackboneConfig(embed_dim=C, depth=DEPTH, num_heads=1),
                       head=HeadConfig(dim=DIM, depth=LAYERS, heads=2, dim_head=64, mlp_dim=MLP))


@pytest.fixture(scope="module")
def body():
    from workbench.body import BodyModel

    return BodyModel.open_body()


@pytest.fixture
def lightning_ckpt(tmp_path, monkeypatch):
    """A Lightning-style file whose hyper-parameters pickle a (stand-in) yacs CfgNode, like the real one."""
    yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")

    class CfgNode(dict):
        pass

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    config.CfgNode = CfgNode
    cfg = CfgNode(MODEL=CfgNode(IMAGE_SIZE=256))
    cfg.__dict__["__immutable__"] = True
    path = tmp_path / "epoch=35-step=1000000.ckpt"
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "yacs", yacs)
        m.setitem(sys.modules, "yacs.config", config)
        torch.save({"epoch": 35, "global_step": 1_000_000, "pytorch-lightning_version": "1.8.1",
                    "state_dict": official_state_dict(), "hyper_parameters": {"cfg": cfg}}, path)
    return path


def test_official_checkpoint_loads_and_matches(lightning_ckpt, body):
    with pytest.warns(UserWarning, match="6890-vertex SMPL"):
        model = HMR2.from_official_checkpoint(lightning_ckpt, body=body)
    state = official_state_dict()
    assert model.cfg.backbone.embed_dim == C and model.cfg.backbone.depth == DEPTH
    head = model.cfg.head
    assert (head.dim, head.depth, head.heads, head.dim_head, head.mlp_dim) == (DIM, LAYERS, 2, 64, MLP)
    torch.testing.assert_close(model.smpl_head.transformer.transformer.layers[1][1].fn.to_kv.weight,
                               state["smpl_head.transformer.transformer.layers.1.1.fn.to_kv.weight"])
    torch.testing.assert_close(model.backbone.blocks[1].mlp.fc2.weight, state["backbone.blocks.1.mlp.fc2.weight"])

    reference = build_model(small_config(), body=body)
    reference.load_state_dict({k: v for k, v in state.items() if not k.startswith("smpl.") and k != "initialized"})
    x = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = model.eval()(x), reference.eval()(x)
    for key in ("pred_cam", "pred_cam_t", "pred_keypoints_2d", "pred_vertices"):
        torch.testing.assert_close(got[key], want[key])


def test_lightning_extras_load_as_inert_data(lightning_ckpt):
    before = set(sys.modules)
    ckpt = torch_load_weights_only(lightning_ckpt)
    assert not [m for m in set(sys.modules) - before if m.startswith("yacs")]  # nothing was imported
    cfg = ckpt["hyper_parameters"]["cfg"]
    assert type(cfg) is OrderedDict and cfg.pickled_class == "yacs.config.CfgNode"
    assert cfg["MODEL"]["IMAGE_SIZE"] == 256 and cfg.__dict__["__immutable__"] is True


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_pickled_code_is_never_run(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Evil(target)}, path)
    try:
        torch_load_weights_only(path)
    except Exception:  # refusing is fine too
        pass
    assert not target.exists()


def test_bare_state_dict_and_given_config(tmp_path, body):
    path = tmp_path / "bare.pt"
    torch.save({k: v for k, v in official_state_dict(body).items()}, path)
    model = HMR2.from_official_checkpoint(path, body=body, model_cfg=small_config())
    assert model.backbone.pos_embed.shape == (1, 193, C)


def test_corrupt_checkpoint_lists_every_problem(tmp_path, body):
    state = official_state_dict(body)
    del state["smpl_head.deccam.bias"]
    state["smpl_head.extra_layer.weight"] = torch.zeros(3)
    state["backbone.blocks.1.attn.proj.weight"] = torch.zeros(C, C + 1)
    path = tmp_path / "corrupt.ckpt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError) as err:
        HMR2.from_official_checkpoint(path, body=body)
    msg = str(err.value)
    assert "1 missing keys: smpl_head.deccam.bias" in msg
    assert "1 unexpected keys: smpl_head.extra_layer.weight" in msg
    assert f"backbone.blocks.1.attn.proj.weight: ({C}, {C + 1}) vs ({C}, {C})" in msg


def test_infer_official_config_paper_sizes():
    """Only shapes are read, so meta tensors of the paper's sizes suffice."""
    m = torch.empty
    state = {"backbone.pos_embed": m(1, 193, 1280, device="meta"),
             "backbone.patch_embed.proj.weight": m(1280, 3, 16, 16, device="meta"),
             "backbone.blocks.0.mlp.fc1.weight": m(5120, 1280, device="meta"),
             "smpl_head.transformer.to_token_embedding.weight": m(1024, 1, device="meta"),
             "smpl_head.decshape.weight": m(10, 1024, device="meta"),
             "smpl_head.transformer.transformer.layers.0.1.fn.to_q.weight": m(512, 1024, device="meta"),
             "smpl_head.transformer.transformer.layers.0.2.fn.net.0.weight": m(1024, 1024, device="meta")}
    state |= {f"backbone.blocks.{i}.norm1.weight": m(1280, device="meta") for i in range(32)}
    state |= {f"smpl_head.transformer.transformer.layers.{l}.0.norm.weight": m(1024, device="meta") for l in range(6)}
    cfg = infer_official_config(state)
    assert cfg == ModelConfig(discriminator=False)


# ----------------------------------------------------------------------------- ViTPose backbone
def _vitpose_file(vit, prefix="backbone."):
    state = {prefix + k: v.clone() for k, v in vit.state_dict().items()}
    state["keypoint_head.final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    return state


def test_vitpose_backbone_loads_with_or_without_prefix():
    torch.manual_seed(0)
    source = ViT(embed_dim=C, depth=DEPTH, num_heads=1).eval()
    x = torch.randn(1, 3, 256, 192)
    for state in (_vitpose_file(source), {"state_dict": _vitpose_file(source, prefix="")}):
        target = ViT(embed_dim=C, depth=DEPTH, num_heads=1).eval()
        load_vitpose_backbone(target, state)
        with torch.no_grad():
            torch.testing.assert_close(target(x), source(x))


def test_vitpose_pos_embed_is_resized_to_the_grid():
    small = ViT(img_size=(128, 96), embed_dim=C, depth=1, num_heads=1)  # 8 x 6 tokens
    big = ViT(embed_dim=C, depth=1, num_heads=1)  # 16 x 12 tokens
    load_vitpose_backbone(big, _vitpose_file(small))
    torch.testing.assert_close(big.pos_embed[:, :1], small.pos_embed[:, :1])
    assert big.pos_embed.shape == (1, 193, C)


def test_vitpose_loader_lists_every_problem():
    vit = ViT(embed_dim=C, depth=DEPTH, num_heads=1)
    state = _vitpose_file(vit)
    del state["backbone.last_norm.bias"]
    state["backbone.cls_token"] = torch.zeros(1, 1, C)
    state["backbone.blocks.0.mlp.fc1.weight"] = torch.zeros(2 * C, C)
    with pytest.raises(ValueError) as err:
        load_vitpose_backbone(vit, state)
    msg = str(err.value)
    assert "last_norm.bias" in msg and "cls_token" in msg and "blocks.0.mlp.fc1.weight" in msg
