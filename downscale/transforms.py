"""``LearnedResize``: ``learned_resize`` as a torchvision v2 transform."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .resize import Weights, check_ratio, check_size, kept_size, learned_resize, view_plan
from .sizes import check_fov

__all__ = ["LearnedResize"]


class LearnedResize(v2.Transform):
    """Downscale images and videos with the learned downscaler; resize what annotates them to match.

    Images (PIL, plain tensors ``[..., C, H, W]``, ``tv_tensors.Image``/``Video``) go through
    ``learned_resize(img, size=..., weights=weights, device=device)``; bounding boxes, masks and
    keypoints in the same sample are cropped to the part of the image the thumbnail covers (E
    drops a partial last block, see ``resize.kept_size``) and resized with torchvision to the same
    output size, so they stay on the pixels they marked. Give ``ratio`` (each side divided by it,
    a finite number >= 1; default 2) or ``size=(height, width)``; InvalidArgumentError otherwise.
    ``fov`` (a view for classifiers; 1, the default, never crops): the thumbnail, of the whole
    image's size, shows the centre fraction ``fov`` of each side, or a box ``(left, top, right,
    bottom)`` in pixels (see ``learned_resize``); boxes, masks and keypoints follow the crop.

    Example:
        >>> import torch
        >>> LearnedResize(ratio=2)(torch.zeros(3, 64, 48, dtype=torch.uint8)).shape
        torch.Size([3, 32, 24])
    """

    def __init__(self, ratio: float | None = None, *, size: tuple[int, int] | None = None,
                 fov: float | tuple[int, int, int, int] = 1.0, weights: Weights = None,
                 device: str | torch.device | None = None):
        super().__init__()
        self.size = check_size(size)
        self.ratio = check_ratio(ratio, self.size, auto=False)
        self.fov = check_fov(fov)
        self.weights, self.device = weights, device

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = _query_size(flat_inputs)
        box, size, _ = view_plan(height, width, self.ratio, self.size, self.fov)
        left, top, right, bottom = box
        return {"size": size, "box": box, "top_left": (top, left),
                "kept": kept_size(bottom - top, right - left, size, self.weights)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)):
            return F.resize(F.crop(inpt, *params["top_left"], *params["kept"]), size=list(params["size"]))
        out = learned_resize(inpt, size=params["size"], fov=params["box"], weights=self.weights, device=self.device)
        if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video)):
            return tv_tensors.wrap(out, like=inpt)
        return out

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"ratio={self.ratio}"
        view = "" if self.fov == 1 else f", fov={self.fov}"
        return f"{what}{view}, weights={self.weights!r}"


_SIZED = (Image.Image, tv_tensors.Image, tv_tensors.Video, tv_tensors.Mask, tv_tensors.BoundingBoxes,
          tv_tensors.KeyPoints)


def _query_size(flat_inputs: list[Any]) -> tuple[int, int]:
    """The ``(height, width)`` shared by the sample's images, videos, masks, boxes, keypoints and plain
    tensors (torchvision's own rule for v2 transforms, with its public ``get_size``). Raises TypeError
    if the sample holds none of them, ValueError if they disagree."""
    sizes = {tuple(F.get_size(inpt)) for inpt in flat_inputs if isinstance(inpt, _SIZED) or _is_plain_tensor(inpt)}
    if not sizes:
        raise TypeError("No image, video, mask, bounding box or keypoints were found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {', '.join(map(str, sorted(sizes)))}")
    return sizes.pop()


def _is_plain_tensor(inpt: Any) -> bool:
    return isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)
