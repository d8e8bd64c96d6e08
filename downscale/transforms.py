"""``LearnedResize``: ``learned_resize`` as a torchvision v2 transform."""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2._utils import query_size

from .model import output_size
from .resize import Weights, learned_resize


class LearnedResize(v2.Transform):
    """Downscale images and videos with the learned downscaler; resize what annotates them to match.

    Images (PIL, plain tensors ``[..., C, H, W]``, ``tv_tensors.Image``/``Video``) go through
    ``learned_resize(img, ratio, size=size, weights=weights, device=device)``; bounding boxes, masks
    and keypoints in the same sample get torchvision's standard resize to the same output size.
    Give ``ratio`` (each side divided by it) or ``size=(height, width)``.
    """

    def __init__(self, ratio: float = 2, *, size: tuple[int, int] | None = None,
                 weights: Weights = None, device: str | torch.device | None = None):
        super().__init__()
        self.ratio, self.size, self.weights, self.device = ratio, size, weights, device

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = query_size(flat_inputs)
        size = tuple(self.size) if self.size is not None else output_size(height, width, self.ratio)
        return {"size": size}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)):
            return F.resize(inpt, size=list(params["size"]))
        out = learned_resize(inpt, size=params["size"], weights=self.weights, device=self.device)
        if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
            return tv_tensors.wrap(out, like=inpt)
        return out

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"ratio={self.ratio}"
        return f"{what}, weights={self.weights!r}"
