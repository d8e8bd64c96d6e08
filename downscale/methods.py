"""Thumbnail methods by name, each mapping a uint8 batch to float thumbnails of ``output_size``: the one
resize vocabulary of the package (``eval --methods``, ``convert --method``, ``train --downscaler``, E's skip).

- ``learned``: the downscaler E (a classical resize plus a learned correction), clamped to [0, 1]
- ``nearest``: torch nearest-neighbour (plain subsampling: pixel ``floor(i * ratio)``)
- ``bilinear``, ``bicubic``: torch interpolation without antialiasing (sharp, aliased; what many
  training pipelines used), ``bicubic`` clamped to [0, 1]
- ``bilinear_aa``, ``bicubic_aa``: torch antialiased interpolation (torchvision's resize convention)
- ``area``: torch area interpolation (box average over each output pixel's footprint)
- ``lanczos``, ``pil_bicubic``: Pillow's resize on the uint8 image (what most pipelines do)
- ``full``: no resize (the full-resolution baseline; ratio 1 only)
- ``zoom``: a learned per-image field of view (``downscale.zoom``): bicubic of the box a ``ZoomPredictor``
  picks for each image; not in ``METHODS`` (it needs the predictor's weights)

With a field of view (``fov`` < 1, or a box) every method resizes the centre crop (``sizes.fov_box``) of
each image to the thumbnail size of the whole image, so the classifier's cost stays the same.

Every method but ``learned`` is classical (``CLASSICAL``): a claim for E is a comparison with the best of
them on the same images and classifier, not with one chosen reference.

The names import without torch (``downscale convert --method pil_bicubic`` never loads it); ``thumbnail``
imports it on first use.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from PIL import Image

from .sizes import check_fov, fov_box, output_size

if TYPE_CHECKING:
    import torch


__all__ = ["CLASSICAL", "METHODS", "REFERENCE", "FULL", "ZOOM", "CONVERT_METHODS", "SKIP_METHODS", "RENAMED",
           "canonical", "check_methods", "thumbnail", "as_float"]

CLASSICAL = ("nearest", "bilinear", "bilinear_aa", "bicubic", "bicubic_aa", "area", "lanczos", "pil_bicubic")
METHODS = ("learned", *CLASSICAL)
REFERENCE = "bicubic_aa"  # the reference of the quality columns (PSNR, SSIM, colour shift)
FULL = "full"
ZOOM = "zoom"
CONVERT_METHODS = ("learned", "pil_bicubic")  # what ``downscale convert`` writes files with
SKIP_METHODS = ("area", "nearest", "bicubic")  # the classical resizes under the "area" layout's correction
# Old spellings, where each was accepted, and the canonical name of what they computed there: convert's
# "bicubic" was Pillow's bicubic; E's skip "mean" the block mean (area at an integer ratio).
RENAMED = {"convert": {"bicubic": "pil_bicubic"}, "skip": {"mean": "area"}}

_TORCH_MODES = {"nearest": ("nearest", None), "bilinear": ("bilinear", False), "bicubic": ("bicubic", False),
                "bilinear_aa": ("bilinear", True), "bicubic_aa": ("bicubic", True), "area": ("area", None)}
_PIL_FILTERS = {"lanczos": Image.Resampling.LANCZOS, "pil_bicubic": Image.Resampling.BICUBIC}


def canonical(name: str, where: str, stacklevel: int = 2) -> str:
    """The canonical name of method ``name`` as accepted ``where`` (``"convert"``, ``"skip"``): ``name``
    itself, or for an old spelling (``RENAMED``) its new name, with a DeprecationWarning naming both
    (``stacklevel`` as for ``warnings.warn``, counted from the caller of ``canonical``).

    Example:
        >>> canonical("pil_bicubic", "convert")
        'pil_bicubic'
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     canonical("bicubic", "convert"), str(caught[0].message)
        ('pil_bicubic', "convert method 'bicubic' is now spelled 'pil_bicubic' (the same resize); the old spelling will be removed")
    """
    new = RENAMED.get(where, {}).get(name)
    if new is None:
        return name
    warnings.warn(f"{where} method {name!r} is now spelled {new!r} (the same resize); the old spelling will be "
                  "removed", DeprecationWarning, stacklevel=stacklevel + 1)
    return new


def check_methods(methods: list[str]) -> list[str]:
    """``methods`` unchanged if every name is known (``METHODS`` and ``zoom``); ValueError naming the
    unknown ones otherwise.

    Example:
        >>> check_methods(["learned", "area", "zoom"])
        ['learned', 'area', 'zoom']
    """
    unknown = [m for m in methods if m not in (*METHODS, ZOOM)]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join((*METHODS, ZOOM))}")
    return methods


def thumbnail(
    method: str, images: torch.Tensor, ratio: float, downscaler: torch.nn.Module | None = None, fov=1.0,
    zoom: torch.nn.Module | None = None
) -> torch.Tensor:
    """Thumbnails of a uint8 ``[N, 3, H, W]`` batch as float ``[N, 3, h, w]`` in [0, 1].

    ``(h, w) = output_size(H, W, ratio)``; ``ratio == 1`` (or method ``full``) returns the images as
    float. ``fov`` (a number in (0, 1] or a box, see ``sizes.check_fov``; 1 = the whole image): the
    centre crop ``fov_box(H, W, fov)`` is resized to ``(h, w)`` instead (classical methods also enlarge
    a crop smaller than that). ``learned`` needs ``downscaler`` with ``downscaler.ratio == ratio``
    and the whole image (E reduces by exactly its ratio; ``learned_resize(..., fov=...)`` chooses E per
    crop). ``zoom`` needs ``zoom``, a ``downscale.zoom.ZoomPredictor``, and the whole image (it picks the
    box). Raises ValueError for an unknown method, a missing/mismatched downscaler or predictor,
    ``learned`` or ``zoom`` with a crop, or a crop at ratio 1.

    Example:
        >>> import torch
        >>> images = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).expand(1, 3, 4, 4)
        >>> (thumbnail("nearest", images, 2)[0, 0] * 255).tolist()
        [[0.0, 2.0], [8.0, 10.0]]
        >>> thumbnail("bicubic_aa", images, 2).shape
        torch.Size([1, 3, 2, 2])
    """
    import torch
    import torch.nn.functional as F


    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")
    height, width = images.shape[-2:]
    box = fov_box(height, width, check_fov(fov))
    cropped = box != (0, 0, width, height)
    if cropped and (method == FULL or ratio == 1):
        raise ValueError(f"a field of view (fov={fov!r}) needs a ratio > 1: the full image is not cropped")
    size = None if method == FULL or ratio == 1 else output_size(height, width, ratio)
    if method == ZOOM:
        if cropped or zoom is None or size is None:
            raise ValueError(f"method 'zoom' needs a ZoomPredictor, a ratio > 1 and the whole image (fov={fov!r})")
        return zoom.thumbnails(images, size)  # (a method, so that methods need not import zoom)
    if cropped:
        images = images[..., box[1]:box[3], box[0]:box[2]]
    x = as_float(images)
    if size is None:
        return x
    if method == "learned":
        if cropped:
            raise ValueError(f"method 'learned' reduces the whole image by E's ratio; got fov={fov!r}")
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
    import numpy as np
    import torch


    hwc = images.permute(0, 2, 3, 1).cpu().numpy()
    out = [np.asarray(Image.fromarray(im).resize(size[::-1], resample)) for im in hwc]
    return as_float(torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2))


def as_float(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """uint8 ``x`` (0..255) as a new float tensor in [0, 1] of ``dtype`` (default float32); float ``x`` in
    ``dtype`` (default: ``x`` itself, no copy). The package's one uint8 -> float (``model.as_float`` too).

    Example:
        >>> import torch
        >>> as_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
        tensor([0.0000, 0.2000, 1.0000])
    """
    import torch

    if x.dtype == torch.uint8:
        return x.to(dtype or torch.float32).div_(255)  # (.to made a copy: divided in place)
    return x if dtype is None else x.to(dtype)
