"""ResNet-50 backbone: the image encoder of the paper's HMR baselines (ablation B1).

HMR and SPIN feed ResNet-50 a 224x224 (HMR 2.0's baselines: 256x256) square crop. To keep one
model interface, the workbench gives every backbone the same central 256x192 columns that the ViT
sees; the ResNet then returns a (2048, 8, 6) map, i.e. the same receptive content as the ViT and a
slightly narrower view than the baselines were trained with. The network is timm's ``resnet50``,
randomly initialised: nothing is ever downloaded (``pretrained=False``); load ImageNet weights
yourself with ``model.backbone.net.load_state_dict(...)`` if you have them.
"""

from __future__ import annotations

from torch import Tensor, nn

from workbench.config import BackboneConfig

__all__ = ["ResNet50"]


class ResNet50(nn.Module):
    """timm ResNet-50 without pooling or classifier: (B, 3, H, W) -> (B, 2048, H/32, W/32).

    (B, 3, 256, 192) -> (B, 2048, 8, 6).
    """

    def __init__(self, img_size: tuple[int, int] = (256, 192)) -> None:
        super().__init__()
        import timm

        self.img_size = tuple(img_size)
        self.net = timm.create_model("resnet50", pretrained=False, num_classes=0, global_pool="")
        self.out_channels = self.net.num_features  # 2048

    @classmethod
    def from_config(cls, cfg: BackboneConfig) -> "ResNet50":
        return cls(cfg.img_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.net.forward_features(x)
