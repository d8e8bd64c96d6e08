"""``learned_resize``: the pretrained downscaler E as a drop-in replacement for bicubic resize.

One conversion boundary in (PIL image / ndarray / tensor -> float ``[B, C, H, W]`` in [0, 1]) and one
out (back to the input's own type, dtype, device and memory layout, clamped before quantising).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from typing import Callable, TypeVar

import numpy as np
import torch
from PIL import Image

from .errors import ImageTooSmallError, InvalidArgumentError, UnsupportedImageError, WeightsError
from .images import WORKING_MODES, to_working_mode, working_mode
from .model import TRAINED_RATIOS, Downscaler, as_float, bicubic, output_size
from .pretrained import default_weights, file_stamp, load_downscaler
from .sizes import check_fov, check_ratio, check_size, fov_box

__all__ = ["Weights", "TILE", "learned_resize", "choose_ratio", "apply_tiled", "check_size", "check_ratio", "target_size", "view_plan",
           "kept_size"]

ImageT = TypeVar("ImageT", Image.Image, np.ndarray, torch.Tensor)
Weights = str | os.PathLike | Downscaler | None

_INT_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_TORCH_SCALE = {torch.uint8: 255.0, torch.uint16: 65535.0}
_TORCH_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
TILE = 2048  # images above TILE x TILE input pixels run through E in overlapping tiles


def learned_resize(
    img: ImageT,
    ratio: float | str | None = None,
    *,
    size: tuple[int, int] | None = None,
    fov: float | tuple[int, int, int, int] = 1.0,
    weights: Weights = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> ImageT:
    """Downscale ``img`` with the learned downscaler E; a drop-in for antialiased bicubic resize.

    Args:
        img: a PIL image (modes 1, L, LA, P, PA, RGB, RGBA, RGBX, CMYK, YCbCr, I;16*, I and F;
            I is taken as 0..65535, F as 0..255 like Pillow's own conversions, each on its own
            range where its values go beyond that, so the range is kept); a numpy
            array ``[H, W]`` or ``[..., H, W, C]`` (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of uint8,
            uint16 or float in [0, 1]; or a tensor ``[..., C, H, W]`` of uint8, uint16 or float in
            [0, 1] on any device, any strides. Leading dimensions are a batch, resized in one pass
            (an empty batch gives an empty result).
        ratio: the factor each side is divided by (>= 1; default 2 unless ``size`` is given), or
            ``"auto"``: the shipped DRNet resolution predictor picks 1, 2 or 4 for this image (one
            image per call). The output is
            ``floor(H / ratio) x floor(W / ratio)``. E runs at the largest trained ratio (2 or 4) that
            fits, and antialiased bicubic does the rest: ratio 3 = E at 2 then bicubic by 1.5, ratio 8 =
            E at 4 then bicubic by 2; below 2 it is plain antialiased bicubic.
        size: ``(height, width)``, two integers: the output size instead of ``ratio`` (downscaling only).
        fov: the field of view, a view for classifiers: the centre fraction of each side the thumbnail
            shows (0 < fov <= 1; 1, the default, is the whole image and never crops), or a box
            ``(left, top, right, bottom)`` in pixels (right and bottom exclusive). The output keeps the
            size of the whole image's thumbnail (``ratio`` or ``size`` apply to the whole image), so a
            classifier fed it costs the same; the crop (``max(1, round(fov * side))`` pixels of each
            side, centred, see ``downscale.sizes.fov_box``) is resized to it, stretched if a box has
            another shape, and E runs only where the crop is reduced by 2 or more (at fov 0.75 and
            ratio 2 it is reduced by 1.5: plain antialiased bicubic). At a fixed thumbnail size a tighter
            view shows the object larger, nearer the scale classifiers were trained at.
        weights: a registry name (``downscale models``), a weights file, or a Downscaler; default:
            the registered default for the ratio E runs at.
        device: where E runs (not "meta"); default the tensor's device, else CPU.
        dtype: the float dtype E computes and stores its maps in. On CUDA ``torch.bfloat16`` and
            ``torch.float16`` halve E's memory and speed up the cuDNN path (the "area" E's Triton
            kernels sum in float32 and run at about the same speed in all three); uint8 in, uint8
            out, they stay within 2/255 (bfloat16) and 1/255 (float16) of float32. On CPU keep
            float32 (half precision is several times slower there). uint16 input with alpha computes
            in float64 instead of float32, so that colour under small alpha keeps all 16 bits.
            ``torch.float64`` keeps float input at float64 precision from end to end (what
            ``torch.autograd.gradcheck`` needs); other dtypes return float input through float32.

    Returns:
        The thumbnail in the input's type, dtype, device and layout; PIL mode P returns RGB (RGBA
        if it has transparency), L and RGB with a colour key (``info["transparency"]``) return LA
        and RGBA, and I;16 variants return I;16. Gray images run through E with the channel
        replicated; alpha is resized with antialiased bicubic on premultiplied colour, and CMYK
        as RGB = 1 - (C, M, Y) premultiplied by 1 - K, so black stays in K. A float tensor that
        requires grad keeps the autograd graph (E and bicubic are differentiable; the final clamp
        to [0, 1] passes no gradient where it clips); other inputs are resized without it.

    Raises:
        InvalidArgumentError: ratio not a number >= 1 or "auto", ratio and size both given, size
            not two integers within the image, fov not in (0, 1] or a box not within the image, a crop
            smaller than the thumbnail, fov with ratio "auto", a device torch cannot use, a non-float ``dtype``.
        ImageTooSmallError: the image has fewer than ``ratio`` pixels on a side.
        UnsupportedImageError: an input type, shape, dtype or mode not listed above.
        WeightsError: weights that cannot be loaded, or that reduce by more than asked.
    All are DownscaleErrors (InvalidArgumentError and ImageTooSmallError are also ValueErrors).

    Example:
        >>> from PIL import Image
        >>> learned_resize(Image.new("RGB", (640, 480)), ratio=4).size
        (160, 120)
    """
    if dtype not in _TORCH_FLOATS:
        floats = ", ".join(map(str, _TORCH_FLOATS))
        raise InvalidArgumentError(f"dtype must be a float dtype ({floats}), got {dtype!r}")
    size = check_size(size)
    ratio = check_ratio(ratio, size, auto=True)
    fov = check_fov(fov)
    if ratio == "auto" and fov != 1:
        raise InvalidArgumentError(f"fov={fov!r} needs a fixed ratio: 'auto' may pick ratio 1, where the crop "
                                   "would be enlarged")
    working = torch.float64 if dtype == torch.float64 else torch.float32  # float input is kept at this precision
    x, restore = _to_batch(img, working)
    height, width = x.shape[-2:]
    device = _device(device, img)
    if ratio == "auto":
        ratio = _auto_ratio(x, device)
    (left, top, right, bottom), out_size, factor = view_plan(height, width, ratio, size, fov)
    if (left, top, right, bottom) != (0, 0, width, height):
        x = x[..., top:bottom, left:right]
    if x.shape[0] == 0:  # the weights checked as for a full batch; the sum ties the result to x's graph
        _downscaler(weights, factor, device)
        return restore(torch.zeros(0, x.shape[1], *out_size) + (x.sum() if x.requires_grad else 0))
    try:
        x = x.to(device)
    except (RuntimeError, AssertionError) as exc:  # (torch without CUDA raises AssertionError)
        raise InvalidArgumentError(f"device {str(device)!r} cannot be used: {exc}") from None
    if dtype == torch.float32 and x.shape[1] in (2, 4) and getattr(img, "dtype", None) in (np.uint16, torch.uint16):
        dtype = torch.float64  # 16-bit colour divided back out of small alpha: float32 is a level off there
    grad = torch.is_grad_enabled() and isinstance(img, torch.Tensor) and img.requires_grad
    with torch.set_grad_enabled(grad):
        y = _resize_batch(x, out_size, factor, weights, dtype).to(working).clamp(0, 1)
    return restore(y)


def choose_ratio(img, device: str | torch.device | None = None) -> int:
    """The ratio (1, 2 or 4) ``learned_resize(img, "auto")`` reduces one image by: the DRNet
    predictor's pick among the ratios the image's sides can take. ``img``: one image of any kind
    ``learned_resize`` takes. Raises what ``learned_resize`` raises for the image and device, and
    InvalidArgumentError for a batch of several images.

    Example:
        >>> ratio = choose_ratio(torch.zeros(3, 2, 2))  # a side of 2 takes ratio 1 or 2
        >>> ratio in (1, 2)
        True
    """
    x, _ = _to_batch(img)
    return _auto_ratio(x, _device(device, img))


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device this machine can use: InvalidArgumentError for a name torch does
    not know, ``meta``, or a GPU that is absent (no CUDA, or an index past the last GPU)."""
    resolved = _device(device, None)
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InvalidArgumentError(f"device {str(device)!r}: this machine has no CUDA GPU; use 'cpu'")
        if resolved.index is not None and resolved.index >= count:
            raise InvalidArgumentError(f"device {str(device)!r}: this machine has {count} CUDA GPU(s), "
                                       f"numbered from 0")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidArgumentError(f"device {str(device)!r}: MPS is not available here; use 'cpu'")
    return resolved


def _device(device, img) -> torch.device:
    if device is None:
        return img.device if isinstance(img, torch.Tensor) else torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidArgumentError(f"device {device!r} is not a device torch knows (e.g. 'cpu', 'cuda:0')") from None
    if resolved.type == "meta":
        raise InvalidArgumentError("device 'meta' holds no pixels; use 'cpu' or a GPU such as 'cuda'")
    return resolved


def _auto_ratio(x: torch.Tensor, device) -> int:
    """The DRNet predictor's ratio (1, 2 or 4) for a batch holding one image."""
    if x.shape[0] != 1:
        raise InvalidArgumentError(
            f"ratio='auto' picks a size per image, so it takes one image, got a batch of {x.shape[0]}; "
            "call it per image, or use downscale.dynamic.choose_ratios for a batch"
        )
    from .dynamic import choose_ratios

    rgb, _, _ = _channels(x)
    with torch.no_grad():
        return choose_ratios(as_float(rgb), device=device)[0]


def target_size(height: int, width: int, ratio, size) -> tuple[tuple[int, int], float]:
    """Output size and the overall reduction factor (the smaller of the two sides' factors), for a
    ``size`` and ``ratio`` checked by ``check_size`` and ``check_ratio``. Raises ImageTooSmallError,
    or InvalidArgumentError for a size larger than the image."""
    if size is not None:
        if not (size[0] <= height and size[1] <= width):
            raise InvalidArgumentError(
                f"size {size} must be between (1, 1) and the image size ({height}, {width}); "
                "learned_resize only downscales"
            )
        return size, min(height / size[0], width / size[1])
    try:
        return output_size(height, width, ratio), float(ratio)
    except ValueError as exc:
        raise ImageTooSmallError(str(exc)) from None


def view_plan(height: int, width: int, ratio, size, fov) -> tuple[tuple[int, int, int, int], tuple[int, int], float]:
    """For ``ratio``/``size``/``fov`` checked by ``check_ratio``, ``check_size`` and ``check_fov``: the box
    ``(left, top, right, bottom)`` of the ``height x width`` image the thumbnail shows, the thumbnail's
    size (that of the whole image) and the reduction factor of the box (the smaller of its two sides').
    Raises what ``target_size`` raises, and InvalidArgumentError where the box is outside the image or
    smaller than the thumbnail (learned_resize only downscales)."""
    out_size, factor = target_size(height, width, ratio, size)
    box = fov_box(height, width, fov)
    if box == (0, 0, width, height):
        return box, out_size, factor
    rows, columns = box[3] - box[1], box[2] - box[0]
    if rows < out_size[0] or columns < out_size[1]:
        raise InvalidArgumentError(
            f"fov={fov!r} keeps a {rows}x{columns} crop of the {height}x{width} image, smaller than its "
            f"{out_size[0]}x{out_size[1]} thumbnail; learned_resize only downscales: give a larger fov "
            "(at least 1 / ratio) or a smaller ratio or size")
    return box, out_size, min(rows / out_size[0], columns / out_size[1])


def kept_size(height: int, width: int, size: tuple[int, int], weights: Weights = None) -> tuple[int, int]:
    """The top-left ``(rows, columns)`` of a ``height x width`` image that ``learned_resize(...,
    size=size, weights=weights)`` maps onto its output: E at ratio r keeps whole r x r blocks only
    (``side // r * r``); plain bicubic keeps everything. What annotations must be scaled by."""
    _, factor = target_size(height, width, None, size)
    model = _downscaler(weights, factor, "cpu")
    if model is None:
        return height, width
    return height // model.ratio * model.ratio, width // model.ratio * model.ratio


@functools.lru_cache(maxsize=16)
def _cached_downscaler(weights: str, device: str, stamp: tuple | None) -> Downscaler:
    """Loaded once per name or path, device and file version (``file_stamp``): a file replaced at the
    same path is loaded again, and a deleted one (stamp None) raises from ``load_downscaler``."""
    return load_downscaler(weights, device=device)


def _load(weights: str, device) -> Downscaler:
    return _cached_downscaler(weights, str(torch.device(device)), file_stamp(weights))


def _downscaler(weights: Weights, factor: float, device) -> Downscaler | None:
    if isinstance(weights, Downscaler):
        model = weights
    elif weights is not None:
        model = _load(os.fspath(weights), device)
    else:
        fitting = [r for r in TRAINED_RATIOS if r <= factor * (1 + 1e-9)]
        if not fitting:
            return None  # below the smallest trained ratio: plain antialiased bicubic
        model = _load(default_weights(max(fitting)), device)
    if model.ratio > factor * (1 + 1e-9):
        raise WeightsError(
            f"weights reduce by {model.ratio} but the requested reduction is only {factor:g}; "
            f"use ratio >= {model.ratio} or weights for a smaller ratio"
        )
    return model


def _resize_batch(x: torch.Tensor, out_size: tuple[int, int], factor: float, weights: Weights,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[B, C, H, W]`` uint8 or float in [0, 1] with C = 1..4 -> float ``[B, C, *out_size]``.

    E reads uint8 colour as it is (the fast "area" E converts strip by strip) and computes in
    ``dtype``; everything else works in float32.
    """
    rgb, gray, alpha = _channels(x)
    if alpha is not None:
        alpha = as_float(alpha)
        rgb = as_float(rgb) * alpha  # resize premultiplied colour, so transparent pixels don't bleed
    model = _downscaler(weights, factor, x.device)
    if model is not None:
        model = model.to(x.device)
        rgb = apply_tiled(model, rgb.contiguous(memory_format=torch.channels_last), dtype=dtype)
    rgb = bicubic(as_float(rgb), out_size)
    colour = rgb.mean(dim=1, keepdim=True) if gray else rgb
    if alpha is None:
        return colour
    alpha = bicubic(alpha, out_size).clamp(0, 1)
    colour = torch.where(alpha > 1e-6, colour / alpha.clamp(min=1e-6), torch.zeros_like(colour))
    return torch.cat([colour, alpha], dim=1)


def _channels(x: torch.Tensor) -> tuple[torch.Tensor, bool, torch.Tensor | None]:
    """``[B, C, H, W]`` with C = 1..4 -> (RGB view, gray replicated; whether it was gray; alpha or None)."""
    colour, alpha = (x[:, :-1], x[:, -1:]) if x.shape[1] in (2, 4) else (x, None)
    gray = colour.shape[1] == 1
    return (colour.expand(-1, 3, -1, -1) if gray else colour), gray, alpha


def apply_tiled(model: Downscaler, x: torch.Tensor, tile: int = TILE, margin: int = 4,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """``model(x, dtype)`` computed over overlapping tiles, so large images need bounded working memory.

    Tiles start on multiples of the ratio, so every tile's output pixels sit on the global
    thumbnail grid; each tile is extended by ``margin`` output pixels on every side (more than the
    reach of the bicubic kernel, 2 output pixels, and of E's convolutions; at least ``model.reach``
    where E has one) and the extension is cropped, so the result equals the untiled one up to float
    rounding. ``tile`` is in input pixels.
    """
    margin = max(margin, getattr(model, "reach", 0))
    height, width = x.shape[-2:]
    if height * width <= tile * tile:
        return model(x, dtype)
    r = model.ratio
    out_h, out_w = output_size(height, width, r)
    step = max(1, tile // r)
    dtype = dtype or (x.dtype if x.is_floating_point() else torch.float32)  # E's output is float, also for uint8
    out = torch.empty(x.shape[0], 3, out_h, out_w, dtype=dtype, device=x.device, memory_format=torch.channels_last)
    for top in range(0, out_h, step):
        for left in range(0, out_w, step):
            bottom, right = min(out_h, top + step), min(out_w, left + step)
            t0, l0 = max(0, top - margin), max(0, left - margin)
            t1, l1 = min(out_h, bottom + margin), min(out_w, right + margin)
            in_bottom = height if t1 == out_h else t1 * r
            in_right = width if l1 == out_w else l1 * r
            y = model(x[..., t0 * r : in_bottom, l0 * r : in_right], dtype)
            out[..., top:bottom, left:right] = y[..., top - t0 : bottom - t0, left - l0 : right - l0]
    return out


# ---------------------------------------------------------------------------------------------
# The conversion boundary: every supported input -> ([B, C, H, W] uint8, or float in [0, 1], restore).
# uint8 stays uint8 (and, where the layout allows, a view of the input: nothing may write to it).

Restore = Callable[[torch.Tensor], object]


def _to_batch(img, working: torch.dtype = torch.float32) -> tuple[torch.Tensor, Restore]:
    """``working``: the float dtype of the batch for input that is not uint8 (float32, or float64)."""
    if isinstance(img, Image.Image):
        return _pil_to_batch(img)
    if isinstance(img, np.ndarray):
        return _numpy_to_batch(img, working)
    if isinstance(img, torch.Tensor):
        return _tensor_to_batch(img, working)
    raise UnsupportedImageError(
        f"img must be a PIL.Image.Image, numpy.ndarray or torch.Tensor, got {type(img).__name__}"
    )


def _tensor_to_batch(img: torch.Tensor, working: torch.dtype = torch.float32) -> tuple[torch.Tensor, Restore]:
    if img.device.type == "meta":
        raise UnsupportedImageError("a tensor on device meta holds no pixels; give one on 'cpu' or a GPU")
    if img.ndim < 3 or img.shape[-3] not in (1, 2, 3, 4):
        raise UnsupportedImageError(
            f"tensor images must be [..., C, H, W] with C in 1..4, got shape {tuple(img.shape)}"
        )
    if img.dtype not in _TORCH_SCALE and img.dtype not in _TORCH_FLOATS:
        raise UnsupportedImageError(
            f"tensor dtype {img.dtype} is not supported; use uint8, uint16 or float (values in [0, 1])"
        )
    lead, chw = img.shape[:-3], img.shape[-3:]
    scale = _TORCH_SCALE.get(img.dtype)
    x = img.reshape(math.prod(lead), *chw)  # (not -1: ambiguous when a side is 0)
    if img.dtype != torch.uint8:
        x = x.to(working) / scale if scale is not None else x.to(working, copy=True)
    channels_last = img.ndim == 4 and not img.is_contiguous() and img.is_contiguous(memory_format=torch.channels_last)

    def restore(y: torch.Tensor) -> torch.Tensor:
        y = y.to(img.device)  # (y is this call's own output: scaled in place)
        y = y.mul_(scale).round_().to(img.dtype) if scale is not None else y.to(img.dtype)
        y = y.reshape(*lead, *y.shape[-3:])
        return y.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    return x, restore


def _numpy_to_batch(img: np.ndarray, working: torch.dtype = torch.float32) -> tuple[torch.Tensor, Restore]:
    if not img.dtype.isnative:  # big-endian data (16-bit TIFFs, FITS): the same values in native order
        img = img.astype(img.dtype.newbyteorder("="))
    if img.ndim == 2:
        hwc = img[..., None]
    elif img.ndim >= 3 and img.shape[-1] in (1, 2, 3, 4):
        hwc = img
    else:
        raise UnsupportedImageError(
            f"numpy images must be [H, W] or [..., H, W, C] with C in 1..4, got shape {img.shape}"
        )
    if img.dtype not in _INT_SCALE and img.dtype.kind != "f":
        raise UnsupportedImageError(
            f"numpy dtype {img.dtype} is not supported; use uint8, uint16 or float (values in [0, 1])"
        )
    scale = _INT_SCALE.get(img.dtype)
    if any(stride < 0 for stride in hwc.strides):  # flipped views: torch.from_numpy cannot wrap them
        hwc = hwc.copy()
    if img.dtype == np.uint8:
        with warnings.catch_warnings():  # a read-only array (Pillow's) is only ever read
            warnings.simplefilter("ignore", UserWarning)
            t = torch.from_numpy(hwc)
    else:  # one copy into float32 (float64 where that is the working dtype)
        t = torch.from_numpy(hwc.astype(np.float64 if working == torch.float64 else np.float32))
        if scale is not None:
            t /= scale
    # the NCHW view of an NHWC buffer is already channels_last
    x = t.reshape(math.prod(t.shape[:-3]), *t.shape[-3:]).permute(0, 3, 1, 2)

    def restore(y: torch.Tensor) -> np.ndarray:
        y = y.cpu().permute(0, 2, 3, 1)  # (y is this call's own output: scaled in place)
        y = y.mul_(scale).round_() if scale is not None else y
        out = y.numpy().astype(img.dtype).reshape(*hwc.shape[:-3], *y.shape[1:])
        return out[..., 0] if img.ndim == 2 else out

    return x, restore


def _pil_to_batch(img: Image.Image) -> tuple[torch.Tensor, Restore]:
    working = working_mode(img)
    if working is None:
        raise UnsupportedImageError(
            f"PIL mode {img.mode!r} is not supported; supported: {', '.join(WORKING_MODES)} "
            f"(convert first, e.g. img.convert('RGB'))"
        )
    low = high = 0.0
    if working == "CMYK":  # ink inverted: RGB-like colour, and 1 - K as the "alpha" it is multiplied by
        array = 255 - np.asarray(img)
    elif working in ("I", "F"):  # on their usual scale (16-bit data; Pillow's 0..255), else their own range
        values = np.asarray(img, np.float64)
        if not np.isfinite(values).all():
            raise UnsupportedImageError("PIL mode F image holds NaN or infinity; replace them first "
                                        "(e.g. numpy.nan_to_num) so that the image has a range to keep")
        low = min(0.0, values.min(initial=0.0))
        high = max(65535.0 if working == "I" else 255.0, values.max(initial=0.0))
        array = ((values - low) / (high - low)).astype(np.float32)
    else:
        array = np.asarray(to_working_mode(img))
    x, restore_array = _numpy_to_batch(array)

    def restore(y: torch.Tensor) -> Image.Image:
        out = restore_array(y)
        if working in ("I", "F"):
            values = low + out.astype(np.float64) * (high - low)
            return Image.fromarray(values.round().astype(np.int32) if working == "I" else values.astype(np.float32))
        if working == "I;16":
            return Image.fromarray(out)  # uint16 -> I;16
        if working == "CMYK":
            return Image.frombytes("CMYK", (out.shape[1], out.shape[0]), (255 - out).tobytes())
        result = Image.fromarray(out)
        if img.mode == "1":
            return result.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)
        if img.mode in ("RGBX", "YCbCr"):
            return result.convert(img.mode)
        return result

    return x, restore
