"""A learned per-image zoom: a small predictor looks at a low-resolution preview of the image and picks the
square-in-proportion box (centre and scale) that the thumbnail shows, for a frozen classifier.

- ``ZoomPredictor``: the first layers of MobileNetV2 on a ``preview``-px view, one stride-2 convolution and a
  linear layer (zero at init) giving ``(cx, cy, scale)``: at init every box is the centred view ``init_scale``.
- ``zoom_crop``: the box's content resized to the thumbnail by ``affine_grid``/``grid_sample`` (bicubic,
  differentiable in the box), so a centred box of scale ``fov`` is ``thumbnail("bicubic", fov=fov)`` up to the
  crop's edge pixels (which read the image beyond the crop instead of repeating its border).
- ``zoom_thumbnails``: predictor + crop on a uint8 batch (the ``zoom`` method of ``downscale eval``).

Weights are saved with ``pretrained.save_weights`` (config + state_dict); ``load_zoom`` reads them.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .methods import as_float
from .pretrained import load_module

__all__ = ["ZoomPredictor", "zoom_crop", "zoom_thumbnails", "load_zoom"]


class ZoomPredictor(nn.Module):
    """Boxes ``[N, 3]`` = ``(cx, cy, scale)`` for float RGB ``[N, 3, H, W]`` in [0, 1] (any size).

    The image is squashed to ``preview x preview`` px by area averaging, mapped to [-1, 1], and passed
    through MobileNetV2's first ``blocks`` feature blocks (width 1; the trainer copies them from the
    frozen classifier), a 3x3 stride-2 convolution to ``width`` channels with ReLU, and a linear layer on
    the flattened map. ``scale`` in ``[min_scale, 1]`` is the fraction of each side the box shows;
    ``cx, cy`` in ``[-(1 - scale), 1 - scale]`` its centre in ``affine_grid`` units (-1 left/top edge,
    +1 right/bottom), so the box never leaves the image. The linear layer starts at zero and its bias
    is offset so that every box starts as the centred box of ``init_scale``.
    """

    def __init__(self, preview: int = 56, blocks: int = 3, width: int = 32, min_scale: float = 0.5,
                 init_scale: float = 0.75):
        super().__init__()
        if not 0 < min_scale < init_scale < 1:
            raise ValueError(f"need 0 < min_scale < init_scale < 1, got {min_scale}, {init_scale}")
        self.preview, self.blocks, self.width = preview, blocks, width
        self.min_scale, self.init_scale = float(min_scale), float(init_scale)
        self.backbone = torchvision.models.mobilenet_v2(weights=None).features[:blocks]
        with torch.no_grad():
            channels, side = self.backbone.eval()(torch.zeros(1, 3, preview, preview)).shape[1:3]
        self.backbone.train()
        self.conv = nn.Sequential(nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        side = (side + 1) // 2
        self.head = nn.Linear(width * side * side, 3)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = F.adaptive_avg_pool2d(x, self.preview) * 2 - 1
        raw = self.head(self.conv(self.backbone(small)).flatten(1))
        # scale: min + (1 - min) * sigmoid(raw + offset), the offset putting raw = 0 at init_scale
        fraction = (self.init_scale - self.min_scale) / (1 - self.min_scale)
        offset = torch.logit(torch.tensor(fraction, dtype=raw.dtype, device=raw.device))
        scale = self.min_scale + (1 - self.min_scale) * torch.sigmoid(raw[:, 2] + offset)
        centre = (1 - scale)[:, None] * torch.tanh(raw[:, :2])
        return torch.cat([centre, scale[:, None]], 1)

    def thumbnails(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``zoom_thumbnails(self, images, size)``."""
        return zoom_thumbnails(self, images, size)

    def config(self) -> dict:
        return {"preview": self.preview, "blocks": self.blocks, "width": self.width, "min_scale": self.min_scale,
                "init_scale": self.init_scale}


def zoom_crop(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The content of each box of ``boxes`` ``[N, 3]`` (``(cx, cy, scale)``, see ``ZoomPredictor``) of float
    ``x`` ``[N, C, H, W]`` resized to ``size`` ``(h, w)`` by bicubic sampling (no antialiasing, as the
    ``bicubic`` method; pixels beyond the image repeat its border). Differentiable in ``x`` and ``boxes``;
    not clamped. Raises ValueError for boxes of another shape."""
    if boxes.shape != (x.shape[0], 3):
        raise ValueError(f"boxes must be [N, 3] = (cx, cy, scale) for N = {x.shape[0]}, got {tuple(boxes.shape)}")
    zero = torch.zeros_like(boxes[:, 0])
    theta = torch.stack([torch.stack([boxes[:, 2], zero, boxes[:, 0]], 1),
                         torch.stack([zero, boxes[:, 2], boxes[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), [x.shape[0], x.shape[1], *size], align_corners=False)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)


@torch.no_grad()
def zoom_thumbnails(predictor: ZoomPredictor, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Thumbnails ``[N, 3, h, w]`` float in [0, 1] of a uint8 ``[N, 3, H, W]`` batch, each showing the box the
    predictor picks for it. Raises ValueError for another dtype or shape."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")
    x = as_float(images)
    return zoom_crop(x, predictor(x), size).clamp_(0, 1)


def load_zoom(name_or_path: str | os.PathLike, device: str | torch.device | None = None) -> ZoomPredictor:
    """A ZoomPredictor in eval mode from a registry name or a weights file (strict load)."""
    return load_module(ZoomPredictor, name_or_path, device)
