"""Thumbnail methods by name, each mapping a uint8 batch to float thumbnails of ``output_size``.

- ``learned``: the downscaler E (a classical resize plus a learned correction), clamped to [0, 1]
- ``nearest``: torch nearest-neighbour (plain subsampling: pixel ``floor(i * ratio)``)
- ``bilinear``, ``bicubic``: torch interpolation without antialiasing (sharp, aliased; what many
  training pipelines used), ``bicubic`` clamped to [0, 1]
- ``bilinear_aa``, ``bicubic_aa``: torch antialiased interpolation (torchvision's resize convention)
- ``area``: torch area interpolation (box average over each output pixel's footprint)
- ``lanczos``, ``pil_bicubic``: Pillow's resize on the uint8 image (what most pipelines do)
- ``full``: no resize (the full-resolution baseline; ratio 1 only)

Every method but ``learned`` is classical (``CLASSICAL``): a claim for E is a comparison with the best of
them on the same images and classifier, not with one chosen reference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .model import Downscaler, output_size

__all__ = ["CLASSICAL", "METHODS", "REFERENCE", "FULL", "check_methods", "thumbnail"]

CLASSICAL = ("nearest", "bilinear", "bilinear_aa", "bicubic", "bicubic_aa", "area", "lanczos", "pil_bicubic")
METHODS = ("learned", *CLASSICAL)
REFERENCE = "bicubic_aa"  # the reference of the quality columns (PSNR, SSIM, colour shift)
FULL = "full"

_TORCH_MODES = {"nearest": ("nearest", None), "bilinear": ("bilinear", False), "bicubic": ("bicubic", False),
                "bilinear_aa": ("bilinear", True), "bicubic_aa": ("bicubic", True), "area": ("area", None)}
_PIL_FILTERS = {"lanczos": Image.Resampling.LANCZOS, "pil_bicubic": Image.Resampling.BICUBIC}


def check_methods(methods: list[str]) -> list[str]:
    """``methods`` unchanged if every name is known; ValueError naming the unknown ones otherwise."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    return methods


def thumbnail(
    method: str, images: torch.Tensor, ratio: float, downscaler: Downscaler | None = None
) -> torch.Tensor:
    """Thumbnails of a uint8 ``[N, 3, H, W]`` batch as float ``[N, 3, h, w]`` in [0, 1].

    ``(h, w) = output_size(H, W, ratio)``; ``ratio == 1`` (or method ``full``) returns the images as
    float. ``learned`` needs ``downscaler`` with ``downscaler.ratio == ratio``.
    Raises ValueError for an unknown method or a missing/mismatched downscaler.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")
    x = images.float() / 255
    if method == FULL or ratio == 1:
        return x
    size = output_size(images.shape[-2], images.shape[-1], ratio)
    if method == "learned":
        if downscaler is None or downscaler.ratio != ratio:
            have = None if downscaler is None else downscaler.ratio
            raise ValueError(f"method 'learned' at ratio {ratio} needs a downscaler of that ratio, got {have}")
        return downscaler(x.contiguous(memory_format=torch.channels_last)).clamp_(0, 1)
    if method in _TORCH_MODES:
        mode, antialias = _TORCH_MODES[method]
        if antialias is None:  # nearest, area: no antialias flag, no overshoot
            return F.interpolate(x, size=size, mode=mode)
        return F.interpolate(x, size=size, mode=mode, antialias=antialias, align_corners=False).clamp_(0, 1)
    if method in _PIL_FILTERS:
        return _pil_resize(images, size, _PIL_FILTERS[method]).to(x.device)
    check_methods([method])
    raise AssertionError("unreachable")


def _pil_resize(images: torch.Tensor, size: tuple[int, int], resample: Image.Resampling) -> torch.Tensor:
    hwc = images.permute(0, 2, 3, 1).cpu().numpy()
    out = [np.asarray(Image.fromarray(im).resize(size[::-1], resample)) for im in hwc]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255
