"""ViTPose's keypoint head: backbone tokens -> one 2D heat map per keypoint (the pretraining task).

HMR 2.0 starts from a ViT-H trained by ViTPose to predict 2D keypoint heat maps; the SMPL head is
trained on top of that backbone. This is ViTPose's "classic decoder"
(``TopdownHeatmapSimpleHead``): two stride-2 transposed convolutions (kernel 4, BatchNorm, ReLU)
then a 1x1 convolution, so a (B, C, 16, 12) feature map becomes (B, K, 64, 48) heat maps, a
quarter of the 256x192 input. Sub-module names are ViTPose's (``deconv_layers.*``,
``final_layer``), so with the ``keypoint_head.`` prefix a state dict has ViTPose's layout and
:func:`workbench.models.vit.load_vitpose_backbone` takes the backbone part of it.

Coordinates are continuous (pixel k covers [k, k + 1)): heat-map pixel (i, j) covers input pixels
``[4j, 4j + 4)`` x ``[4i, 4i + 4)`` of the ViT input, so a keypoint encoded by
:func:`heatmap_targets` and decoded by :func:`decode_heatmaps` comes back to within half a heat-map
pixel (2 input pixels).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HeatmapHead", "heatmap_targets", "decode_heatmaps", "heatmap_loss", "heatmaps_to_crop"]


class HeatmapHead(nn.Module):
    """(B, C, h, w) features -> (B, K, 4h, 4w) heat maps (ViTPose classic decoder).

    Args:
        in_channels: backbone width C.
        num_keypoints: K heat maps (44 for our keypoint set).
        channels: width of the two transposed convolutions (ViTPose: 256).
    """

    def __init__(self, in_channels: int, num_keypoints: int = 44, channels: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in in (in_channels, channels):
            layers += [nn.ConvTranspose2d(c_in, channels, kernel_size=4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(channels, num_keypoints, kernel_size=1)
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, feats: Tensor) -> Tensor:
        return self.final_layer(self.deconv_layers(feats))


def _to_heatmap_pixels(keypoints_2d: Tensor, image_size: int, input_width: int, stride: int) -> Tensor:
    """Normalised crop coordinates (about [-0.5, 0.5] of the square crop) -> heat-map pixel centres."""
    px = (keypoints_2d[..., :2] + 0.5) * image_size  # pixels of the square crop
    px = px - px.new_tensor([(image_size - input_width) / 2, 0.0])  # ... of the central ViT columns
    return px / stride - 0.5  # heat-map pixel j is centred on input pixel (j + 0.5) * stride


def heatmap_targets(keypoints_2d: Tensor, grid: tuple[int, int] = (64, 48), sigma: float = 2.0,
                    image_size: int = 256, input_width: int = 192) -> tuple[Tensor, Tensor]:
    """Gaussian target heat maps and per-keypoint weights (ViTPose's MSE targets).

    Args:
        keypoints_2d: (B, K, 3) normalised crop coordinates and confidence (HMR 2.0's batch layout).
        grid: (H, W) heat-map size; the stride is ``image_size / H``.
        sigma: Gaussian standard deviation in heat-map pixels (ViTPose: 2 at 64x48).
        image_size: square crop side in pixels; input_width: the ViT's central columns.
    Returns:
        targets (B, K, H, W) in [0, 1] and weights (B, K): the confidence where the keypoint lies on
        the heat map, else 0.
    """
    H, W = grid
    stride = image_size / H
    centre = _to_heatmap_pixels(keypoints_2d, image_size, input_width, stride)  # (B, K, 2) as (x, y)
    ys = torch.arange(H, dtype=centre.dtype, device=centre.device)
    xs = torch.arange(W, dtype=centre.dtype, device=centre.device)
    gx = torch.exp(-((xs - centre[..., :1]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((ys - centre[..., 1:]) ** 2) / (2 * sigma**2))  # (B, K, H)
    targets = gy[..., :, None] * gx[..., None, :]
    inside = (centre[..., 0] >= -0.5) & (centre[..., 0] < W - 0.5) & (centre[..., 1] >= -0.5) & (centre[..., 1] < H - 0.5)
    weights = keypoints_2d[..., 2].clamp(min=0) * inside
    return targets, weights


def decode_heatmaps(heatmaps: Tensor, image_size: int = 256, input_width: int = 192) -> tuple[Tensor, Tensor]:
    """Arg-max of each heat map -> (B, K, 2) normalised crop coordinates and (B, K) peak values."""
    B, K, H, W = heatmaps.shape
    stride = image_size / H
    peak, flat = heatmaps.flatten(2).max(dim=-1)
    xy = torch.stack([flat % W, flat // W], dim=-1).to(heatmaps.dtype)
    px = (xy + 0.5) * stride + xy.new_tensor([(image_size - input_width) / 2, 0.0])
    return px / image_size - 0.5, peak


def heatmap_loss(pred: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """ViTPose's ``JointsMSELoss`` with target weights: mean over keypoints and pixels of the weighted
    squared error, halved. pred/targets (B, K, H, W), weights (B, K)."""
    err = ((pred.float() - targets) ** 2).mean(dim=(2, 3))  # (B, K)
    return 0.5 * (err * weights**2).mean()


def heatmaps_to_crop(heatmaps: Tensor, image_size: int = 256, input_width: int = 192) -> np.ndarray:
    """Heat maps -> crop pixels for display: (..., H, W) -> (..., image_size, image_size) float32.

    Bilinear upsampling to the ViT input, placed in the central columns; NaN in the columns the
    backbone never sees (``workbench.models.inspect.overlay_heatmap`` dims them).
    """
    lead, (H, W) = heatmaps.shape[:-2], heatmaps.shape[-2:]
    up = F.interpolate(heatmaps.detach().float().reshape(-1, 1, H, W).cpu(), size=(image_size, input_width),
                       mode="bilinear", align_corners=False).reshape(*lead, image_size, input_width).numpy()
    out = np.full((*lead, image_size, image_size), np.nan, np.float32)
    start = (image_size - input_width) // 2
    out[..., start:start + input_width] = up
    return out
