"""The learned downscaler E (ThumbNet, Zhao & Ghanem 2020) and its output-size rule."""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch import nn

from .methods import SKIP_METHODS, as_float, canonical
from .sizes import output_size  # noqa: F401  (re-exported: the size rule belongs with E)

__all__ = ["TRAINED_RATIOS", "ARCHITECTURES", "SKIPS", "LAYOUTS", "Downscaler", "PaperDownscaler",
           "UnshuffleDownscaler", "AreaDownscaler", "ResidualDownscaler", "FusedDownscaler", "bicubic", "grid_bicubic", "sharp_bicubic", "as_float",
           "output_size"]

TRAINED_RATIOS = (2, 4)
TRITON = importlib.util.find_spec("triton") is not None  # (PyTorch's CUDA wheels bring it)


def bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of float ``[N, C, H, W]`` to ``size`` (torchvision's convention)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return _antialiased_bicubic(x, size=size)


def _antialiased_bicubic(x: torch.Tensor, **how) -> torch.Tensor:
    if x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):  # no CPU kernel for these
        return _antialiased_bicubic(x.float(), **how).to(x.dtype)
    return F.interpolate(x, mode="bicubic", antialias=True, align_corners=False, **how)


ARCHITECTURES = ("paper", "unshuffle", "area", "residual")
SKIPS = SKIP_METHODS  # the classical resize under the "area" layout's correction (see AreaDownscaler): area
# (the block mean), nearest (plain subsampling) or bicubic (without antialiasing); "mean" is area's old spelling
STRIP_PIXELS = 65536  # thumbnail pixels (batch x rows x columns) per pass of the fused "area" E on CPU:
# buffers this small are reused by the allocator, while fresh large ones cost more in page faults than the maths


def grid_bicubic(x: torch.Tensor, ratio: int) -> torch.Tensor:
    """Antialiased bicubic by exactly ``ratio``: output pixel ``i`` covers input ``[i*ratio, (i+1)*ratio)``.

    Unlike ``bicubic(x, size)`` (which stretches the grid so the output spans every input pixel),
    the grid here does not depend on the image size, so crops aligned to the ratio give the same
    pixels as the whole image (what tiling needs); the two agree when the sides divide by ``ratio``.
    """
    return _antialiased_bicubic(x, scale_factor=1 / ratio, recompute_scale_factor=False)


class Downscaler(nn.Module):
    """E: a thumbnail = a classical resize + a learned correction; one subclass per layout.

    ``Downscaler.from_config({"ratio": ..., "width": ..., "arch": ..., "skip": ...})`` builds the layout
    ``arch`` names (``LAYOUTS``: ``PaperDownscaler``, ``UnshuffleDownscaler``, ``AreaDownscaler`` or
    ``ResidualDownscaler``, which also takes ``blocks``), so
    ``Downscaler.from_config(e.config())`` rebuilds any E; ``Downscaler(ratio, width, arch, skip)`` is
    shorthand for it (an instance of the layout's class, not of ``Downscaler`` itself).
    The convolutions predict a residual added to the classical thumbnail, and the last layer starts
    at zero, so an untrained E *is* that classical resize and training only moves it where the loss asks.

    Input ``[N, 3, H, W]``: float RGB in [0, 1], or in eval mode also uint8 0..255; any ``H, W >= ratio``.
    Output ``[N, 3, floor(H / ratio), floor(W / ratio)]``, not clamped (callers clamp before quantising).
    Training mode runs the training graph in x's dtype (``dtype`` must be None or x's: use autocast).
    Eval mode runs the inference form (see ``fuse``) in ``dtype`` (default x's, float32 for uint8),
    folded afresh from the live parameters at every call, so gradients still reach them and the input.
    A layout class takes the same arguments (``arch``: None or its own). Raises ValueError for an
    unknown ratio, arch or skip, TypeError for other input dtypes.

    Example:
        >>> import torch
        >>> Downscaler(2, width=8).eval()(torch.zeros(1, 3, 16, 12, dtype=torch.uint8)).shape
        torch.Size([1, 3, 8, 6])
    """

    arch: str  # the layout's name in ARCHITECTURES
    skips: tuple[str, ...] = ("area",)  # the classical resizes the layout can correct

    @staticmethod
    def from_config(config: dict) -> Downscaler:
        """A fresh E of the layout ``config["arch"]`` names (default "paper"), built with ``config``'s
        other keys (``ratio``, ``width``, ``skip``: see ``config()``). Raises ValueError as the class does.

        Example:
            >>> type(Downscaler.from_config({"ratio": 2, "width": 8, "arch": "area"})).__name__
            'AreaDownscaler'
        """
        return _layout(config.get("arch", "paper"))(**config)

    def __new__(cls, ratio: int = 4, width: int = 32, arch: str = "paper", skip: str = "area", **layout_options):
        # Downscaler(...) is from_config's shorthand: the base class builds the layout arch names
        return super().__new__(_layout(arch) if cls is Downscaler else cls)

    def __init__(self, ratio: int = 4, width: int = 32, arch: str | None = None, skip: str = "area"):
        super().__init__()
        skip = canonical(skip, "skip", stacklevel=3)
        if arch not in (None, self.arch):
            raise ValueError(f"{type(self).__name__} is arch {self.arch!r}, got arch={arch!r}")
        if ratio not in TRAINED_RATIOS:
            raise ValueError(f"Downscaler ratio must be one of {TRAINED_RATIOS}, got {ratio!r}")
        if skip not in self.skips:
            raise ValueError(f"Downscaler skip must be one of {SKIPS} ('area' unless arch is 'area' or "
                             f"'residual'), got {skip!r}")
        self.ratio, self.width, self.skip = ratio, width, skip
        first, self.correction = self._layers()
        self.features = nn.Sequential(first, nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        nn.init.zeros_(self.correction.weight)
        if self.correction.bias is not None:
            nn.init.zeros_(self.correction.bias)

    def forward(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        if not self.training:
            return self._inference_form()(x, dtype)
        if not x.is_floating_point():
            raise TypeError(f"Downscaler takes float images in [0, 1] (or uint8 at inference), got {x.dtype}")
        if dtype not in (None, x.dtype):
            raise ValueError("Downscaler computes in the input's dtype while training; use autocast")
        return self._training_graph(x)

    def fuse(self) -> FusedDownscaler:
        """The inference form: BatchNorm (on its running statistics, whatever the mode) and the input
        scaling folded into the convolution weights, on E's device. A snapshot: later changes to E's
        parameters or statistics do not reach it (fuse again); equal to eval-mode ``forward`` exactly."""
        with torch.no_grad():
            return self._inference_form()

    def config(self) -> dict:
        """The constructor arguments, stored beside the state_dict in weight files."""
        config = {"ratio": self.ratio, "width": self.width, "arch": self.arch}
        return config if self.skip == "area" else {**config, "skip": self.skip}

    def _layers(self) -> tuple[nn.Module, nn.Conv2d]:
        """The first layer (before BatchNorm and ReLU) and the correction conv, freshly initialised."""
        raise NotImplementedError

    def _training_graph(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _inference_form(self) -> FusedDownscaler:
        """``fuse()`` without the snapshot: where autograd records, its weights depend on the parameters."""
        raise NotImplementedError

    def _batchnorm_fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first layer's eval-mode BatchNorm as ``y * scale + shift`` (per channel)."""
        return _batchnorm_fold(self.features[1])

    def _correction_residual(self, hidden: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The correction conv as "paper" and "unshuffle" train it ("area" centres its kernels)."""
        c = self.correction
        return F.conv2d(hidden, c.weight.to(dtype), c.bias.to(dtype), c.stride, c.padding)


class PaperDownscaler(Downscaler):
    """The paper's E: two 5x5 conv layers (BN + ReLU after the first) whose strides give the ratio,
    (2, 1) for ratio 2 and (2, 2) for ratio 4 (a stride-1 first layer is 4-40x slower on CPU), over
    antialiased bicubic on the ratio's own pixel grid (``grid_bicubic``). For sides not divisible by
    the ratio the correction map is a pixel larger than the thumbnail and is cropped at the bottom/right.
    """

    arch = "paper"

    def _layers(self) -> tuple[nn.Module, nn.Conv2d]:
        first = nn.Conv2d(3, self.width, 5, stride=2, padding=2, bias=False)
        return first, nn.Conv2d(self.width, 3, 5, stride=self.ratio // 2, padding=2)

    def _training_graph(self, x: torch.Tensor) -> torch.Tensor:
        return _plus_bicubic(x, self._correction_residual(self.features(x * 2 - 1), x.dtype), self.ratio)

    def _inference_form(self) -> FusedDownscaler:
        scale, shift = self._batchnorm_fold()  # (the input scaling stays: it does not commute with the padding)
        return _FusedPaper(self.ratio, self.correction, w1=self.features[0].weight * scale.view(-1, 1, 1, 1),
                           b1=shift)


class _BlockDownscaler(Downscaler):
    """The layouts whose first layer sees each ``ratio x ratio`` block alone: pixel-unshuffle by the
    ratio, then a dense 1x1 conv (a stride-``ratio`` conv with a ``ratio``-sized kernel). The
    incomplete last block of sides not divisible by the ratio is dropped."""

    def _first_layer(self) -> nn.Module:
        r = self.ratio
        return nn.Sequential(nn.PixelUnshuffle(r), nn.Conv2d(3 * r * r, self.width, 1, bias=False))

    def _hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the whole blocks of x, the first layer + BN + ReLU over them)."""
        blocks = _blocks(x, self.ratio)
        return blocks, self.features(blocks * 2 - 1)

    def _folded_first_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first layer with eval-mode BatchNorm and the input scaling ``x * 2 - 1`` folded in (exact:
        that conv has no padding), as a ``ratio x ratio`` conv with stride ``ratio`` on x in [0, 1]
        (unshuffled channel ``c * r * r + i * r + j`` is pixel ``(i, j)`` of colour ``c`` in each block)."""
        scale, shift = self._batchnorm_fold()
        r = self.ratio
        weight = self.features[0][1].weight.view(self.width, 3, r, r)
        # conv(2x - 1) = conv_{2w}(x) - sum(w): fold both into weight and bias
        bias = shift - scale * weight.sum(dim=(1, 2, 3))
        return 2 * weight * scale.view(-1, 1, 1, 1), bias


class UnshuffleDownscaler(_BlockDownscaler):
    """The paper's E in a fast form for large images: the block layer, then BN + ReLU and a 3x3 conv
    at thumbnail resolution, over ``grid_bicubic``; about 5x (ratio 4) to 8x (ratio 2) fewer
    multiply-adds than "paper" at the same width."""

    arch = "unshuffle"

    def _layers(self) -> tuple[nn.Module, nn.Conv2d]:
        return self._first_layer(), nn.Conv2d(self.width, 3, 3, padding=1)

    def _training_graph(self, x: torch.Tensor) -> torch.Tensor:
        _, hidden = self._hidden(x)
        return _plus_bicubic(x, self._correction_residual(hidden, x.dtype), self.ratio)

    def _inference_form(self) -> FusedDownscaler:
        w1, b1 = self._folded_first_layer()
        return _FusedUnshuffle(self.ratio, self.correction, w1=w1, b1=b1)


class AreaDownscaler(_BlockDownscaler):
    """"unshuffle" over area (block-mean) resizing instead of bicubic, with a correction that cannot
    change flat colours (see ``_correction_weight``); ``skip="nearest"`` puts it over plain
    subsampling (each block's top-left pixel, torch's ``nearest``) and ``skip="bicubic"`` over bicubic
    without antialiasing (torch's, which reads the 4 x 4 pixels around each output pixel), the sharp
    resizes frozen ImageNet classifiers prefer. The mean and nearest skips fold into three more
    channels of the first conv (the bicubic one is added to it), so the inference form is two
    convolutions and a ReLU, run in strips of about ``STRIP_PIXELS`` thumbnail pixels on
    CPU and as Triton kernels on CUDA: the fastest layout (about Pillow bicubic's speed on CPU).
    """

    arch = "area"
    skips = SKIPS

    def _layers(self) -> tuple[nn.Module, nn.Conv2d]:
        return self._first_layer(), nn.Conv2d(self.width, 3, 3, bias=False)  # padding: replicate, by hand

    def _training_graph(self, x: torch.Tensor) -> torch.Tensor:
        blocks, hidden = self._hidden(x)
        residual = F.conv2d(F.pad(hidden, (1, 1, 1, 1), mode="replicate"), self._correction_weight())
        return _classical_skip(blocks, self.ratio, self.skip) + residual

    def _correction_weight(self) -> torch.Tensor:
        """The 3x3 correction kernels minus their spatial mean. With replicate padding this makes the
        correction zero wherever the hidden features are flat, so a flat region keeps its exact
        colour (also at the borders): E can move edges and texture, not shift colours."""
        w = self.correction.weight
        return w - w.mean(dim=(2, 3), keepdim=True)

    def _inference_form(self) -> FusedDownscaler:
        """Three extra channels carry the skip (block mean, or each block's top-left pixel) through
        both convs: the first conv computes it, the second's centre tap adds it back. The bicubic
        skip reads beyond the block, so those channels carry zero and it is added after the convs."""
        weight, bias = self._folded_first_layer()
        r, eye = self.ratio, torch.eye(3, device=weight.device)
        if self.skip == "bicubic":
            skip = torch.zeros(3, 3, r, r, device=weight.device)
        elif self.skip == "nearest":
            skip = torch.zeros(3, 3, r, r, device=weight.device)
            skip[:, :, 0, 0] = eye
        else:
            skip = eye.view(3, 3, 1, 1).expand(3, 3, r, r) / (r * r)
        carry = torch.zeros(3, 3, 3, 3, device=weight.device)
        carry[:, :, 1, 1] = eye
        return _FusedArea(r, sharp_bicubic=self.skip == "bicubic", w1=torch.cat([weight, skip]), b1=bias,
                          w2=torch.cat([self._correction_weight(), carry], dim=1))


class ResidualDownscaler(_BlockDownscaler):
    """A small residual resizer in the style of Talebi & Milanfar (ICCV 2021): a classical resize as
    the skip (``skip`` as in "area": area, the block mean, by default; nearest; bicubic without
    antialias) plus a correction computed at thumbnail resolution: the block layer + BN + ReLU,
    ``blocks`` residual blocks (3x3 conv-BN-ReLU-3x3 conv-BN, plus identity), then a 3x3 conv to RGB
    (zero padding). The inference form folds each BatchNorm into its convolution. Raises ValueError
    for ``blocks`` not an int >= 0.
    """

    arch = "residual"
    skips = SKIPS

    def __init__(self, ratio: int = 4, width: int = 32, arch: str | None = None, skip: str = "area",
                 blocks: int = 2):
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
            raise ValueError(f"ResidualDownscaler blocks must be an int >= 0, got {blocks!r}")
        self.depth = blocks  # read by _layers, which the base __init__ calls
        super().__init__(ratio, width, arch, skip)

    @property
    def reach(self) -> int:
        """Thumbnail pixels on each side that one output pixel's correction reads (for tiling)."""
        return 2 * self.depth + 1

    def config(self) -> dict:
        return {**super().config(), "blocks": self.depth}

    def _layers(self) -> tuple[nn.Module, nn.Conv2d]:
        w = self.width
        self.body = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                          nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w))
            for _ in range(self.depth))
        return self._first_layer(), nn.Conv2d(w, 3, 3, padding=1)

    def _training_graph(self, x: torch.Tensor) -> torch.Tensor:
        blocks, hidden = self._hidden(x)
        for block in self.body:
            hidden = hidden + block(hidden)
        return _classical_skip(blocks, self.ratio, self.skip) + self.correction(hidden)

    def _inference_form(self) -> FusedDownscaler:
        w1, b1 = self._folded_first_layer()
        weights = {"w1": w1, "b1": b1}
        for i, block in enumerate(self.body):
            for part, (conv, bn) in (("a", block[:2]), ("b", block[3:])):
                scale, weights[f"b{i}{part}"] = _batchnorm_fold(bn)
                weights[f"w{i}{part}"] = conv.weight * scale.view(-1, 1, 1, 1)
        return _FusedResidual(self.ratio, self.skip, self.depth, **weights, w2=self.correction.weight.clone(),
                              b2=self.correction.bias.clone())


LAYOUTS: dict[str, type[Downscaler]] = {
    e.arch: e for e in (PaperDownscaler, UnshuffleDownscaler, AreaDownscaler, ResidualDownscaler)}


def _layout(arch: str) -> type[Downscaler]:
    if arch not in LAYOUTS:
        raise ValueError(f"Downscaler arch must be one of {ARCHITECTURES}, got {arch!r}")
    return LAYOUTS[arch]


class FusedDownscaler(nn.Module):
    """E's inference form, made by ``Downscaler.fuse()``: fixed folded convolution weights (buffers),
    no parameters, no BatchNorm, the same in train and eval mode.

    ``forward(x, dtype=None)``: ``[N, 3, H, W]`` float in [0, 1] or uint8 0..255 (read as value / 255),
    any ``H, W >= ratio`` -> ``[N, 3, floor(H / ratio), floor(W / ratio)]`` in ``dtype`` (the float
    dtype to compute in; default x's, float32 for uint8), not clamped. Raises TypeError for other dtypes.
    """

    def __init__(self, ratio: int, **weights: torch.Tensor):
        super().__init__()
        self.ratio = ratio
        for name, tensor in weights.items():
            self.register_buffer(name, tensor)

    def forward(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        if not x.is_floating_point() and x.dtype != torch.uint8:
            raise TypeError(f"Downscaler takes float images in [0, 1] (or uint8 at inference), got {x.dtype}")
        return self._run(x, dtype or (x.dtype if x.is_floating_point() else torch.float32))

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}"

    def _run(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        raise NotImplementedError

    def _records(self, x: torch.Tensor) -> bool:
        """Whether autograd records this call (gradients to the input, or to the E it was folded from)."""
        return torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in self.buffers()))


class _FusedOverBicubic(FusedDownscaler):
    """"paper" and "unshuffle": first conv + ReLU, then E's correction conv (a copy, with its stride and
    padding), added to ``grid_bicubic``."""

    def __init__(self, ratio: int, correction: nn.Conv2d, **weights: torch.Tensor):
        super().__init__(ratio, **weights, w2=correction.weight.clone(), b2=correction.bias.clone())
        self.stride, self.padding = correction.stride, correction.padding

    def _run(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        x = as_float(x, dtype)
        w1, b1, w2, b2 = (t.to(dtype) for t in (self.w1, self.b1, self.w2, self.b2))
        hidden = F.relu_(self._first_conv(x, w1, b1))
        return _plus_bicubic(x, F.conv2d(hidden, w2, b2, self.stride, self.padding), self.ratio)

    def _first_conv(self, x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class _FusedPaper(_FusedOverBicubic):
    def _first_conv(self, x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x * 2 - 1, w1, b1, stride=2, padding=2)


class _FusedUnshuffle(_FusedOverBicubic):
    def _first_conv(self, x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
        return F.conv2d(_blocks(x, self.ratio), w1, b1, stride=self.ratio)


class _FusedArea(FusedDownscaler):
    """conv (first layer + skip) -> ReLU -> conv (correction + skip), over strips of about
    ``STRIP_PIXELS`` thumbnail pixels on CPU (each with a one-row halo for the 3x3 conv), so the
    input is read once and converted to ``dtype`` one strip at a time; on CUDA the same two convs
    as Triton kernels (``downscale.kernels``) where Triton is installed. With a zero correction
    (``area-identity``) E is its skip alone, one strided conv per strip (or torch's bicubic)."""

    def __init__(self, ratio: int, sharp_bicubic: bool = False, **weights: torch.Tensor):
        super().__init__(ratio, **weights)
        self.sharp_bicubic = sharp_bicubic

    def kernel_weights(self, input_dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """``(w1 [C + 3, 3, r, r], b1 [C + 3], w2 [3, C + 3, 3, 3], b2 [3])`` for input of ``input_dtype``
        (uint8: scaled by 1 / 255). The skip channels are raised by an offset after the first conv
        (so the ReLU passes them for any input >= -offset) and lowered by it after the second."""
        # uint8 block means are >= 0, so they need no offset (which would cost bf16 a bit of precision)
        scale, offset = (1 / 255, 0.0) if input_dtype == torch.uint8 else (1.0, 1.0)
        b1 = torch.cat([self.b1, torch.full((3,), offset, device=self.b1.device)])
        return self.w1 * scale, b1, self.w2, torch.full((3,), -offset, device=self.w1.device)

    def _run(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if not self.sharp_bicubic:
            return self._convs(x, dtype)
        blocks = _blocks(x, self.ratio).contiguous()  # torch's bicubic is faster on NCHW than channels_last
        skip = sharp_bicubic(as_float(blocks, dtype), self.ratio)
        if not self._records(x) and not self.w2[:, :-3].any():  # a zero correction: E is the bicubic alone
            return skip.contiguous(memory_format=torch.channels_last)
        return skip + self._convs(x, dtype)  # (the skip channels of the convs carry zero)

    def _convs(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        r, (rows, cols) = self.ratio, output_size(x.shape[-2], x.shape[-1], self.ratio)
        w1, b1, w2, b2 = self.kernel_weights(x.dtype)
        # cuDNN leaves the GPU idle on convolutions this narrow; the kernels have no backward, so a pass
        # autograd records (E fine-tuned in eval mode, gradients to the input) keeps the convolutions
        records = self._records(x)
        if x.device.type == "cuda" and TRITON and not records:
            from .kernels import fused_area

            return fused_area(x, w1, b1, w2, b2, r, dtype)
        n, cl = x.shape[0], torch.channels_last
        out = torch.empty(n, 3, rows, cols, dtype=dtype, device=x.device, memory_format=cl)
        # (one pass where autograd records: later strips would overwrite the buffer the gradients need)
        strip = max(1, STRIP_PIXELS // (n * cols)) if x.device.type == "cpu" and not records else rows
        if not records and not w2[:, :-3].any():  # a zero correction: E is its skip
            skip = w1[-3:].to(dtype)
            for top in range(0, rows, strip):
                bottom = min(rows, top + strip)
                blocks = x[..., top * r : bottom * r, : cols * r].to(dtype)
                out[..., top:bottom, :] = F.conv2d(blocks, skip, stride=r)
            return out
        w1, b1, w2, b2 = (t.to(dtype) for t in (w1, b1, w2, b2))
        # One reused buffer holds each strip in `dtype` with one block of replicate padding around it, so
        # the first conv's output is the padded hidden map (padding the input by whole blocks is padding
        # the hidden map by one pixel) and the second conv needs none: no fresh buffers, no pad pass.
        padded = torch.empty(n, 3, (min(strip, rows) + 2) * r, (cols + 2) * r, dtype=dtype, device=x.device,
                             memory_format=cl)
        for top in range(0, rows, strip):
            bottom = min(rows, top + strip)
            first, last = max(0, top - 1), min(rows, bottom + 1)  # block rows of the image in this strip
            buf = padded[..., : (bottom - top + 2) * r, :]
            start = (first - top + 1) * r
            buf[..., start : start + (last - first) * r, r : (cols + 1) * r].copy_(
                x[..., first * r : last * r, : cols * r])
            buf[..., :, :r].copy_(buf[..., :, r : 2 * r])  # left and right edge blocks
            buf[..., :, (cols + 1) * r :].copy_(buf[..., :, cols * r : (cols + 1) * r])
            if top == 0:  # the image's own top and bottom edges (elsewhere: real neighbouring rows)
                buf[..., :r, :].copy_(buf[..., r : 2 * r, :])
            if bottom == rows:
                buf[..., -r:, :].copy_(buf[..., -2 * r : -r, :])
            hidden = F.relu_(F.conv2d(buf, w1, b1, stride=r))
            out[..., top:bottom, :] = F.conv2d(hidden, w2, b2)
        return out


class _FusedResidual(FusedDownscaler):
    """The residual resizer with BatchNorm folded: block conv + ReLU, ``depth`` residual blocks of two
    3x3 convs, the 3x3 correction, added to the classical skip."""

    def __init__(self, ratio: int, skip: str, depth: int, **weights: torch.Tensor):
        super().__init__(ratio, **weights)
        self.skip, self.depth = skip, depth
        self.reach = 2 * depth + 1  # as ResidualDownscaler.reach

    def _run(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        r, w = self.ratio, {name: t.to(dtype) for name, t in self.named_buffers()}
        blocks = _blocks(as_float(x, dtype), r)
        hidden = F.relu(F.conv2d(blocks, w["w1"], w["b1"], stride=r))
        for i in range(self.depth):
            inner = F.relu(F.conv2d(hidden, w[f"w{i}a"], w[f"b{i}a"], padding=1))
            hidden = hidden + F.conv2d(inner, w[f"w{i}b"], w[f"b{i}b"], padding=1)
        return _classical_skip(blocks, r, self.skip) + F.conv2d(hidden, w["w2"], w["b2"], padding=1)


def _batchnorm_fold(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``y * scale + shift`` (per channel)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _classical_skip(blocks: torch.Tensor, ratio: int, skip: str) -> torch.Tensor:
    """The skip resize (``SKIPS``) of whole blocks by ``ratio``."""
    if skip == "bicubic":
        return sharp_bicubic(blocks, ratio)
    return blocks[..., ::ratio, ::ratio] if skip == "nearest" else F.avg_pool2d(blocks, ratio)


def sharp_bicubic(x: torch.Tensor, ratio: int) -> torch.Tensor:
    """torch's bicubic resize without antialiasing of float ``[N, C, H, W]`` (sides divisible by
    ``ratio``) by exactly ``ratio``: each output pixel from the 4 x 4 input pixels around its centre,
    indices clamped at the border. Not clamped (it overshoots at edges)."""
    size = (x.shape[-2] // ratio, x.shape[-1] // ratio)
    if x.device.type == "cpu" and x.dtype in (torch.float16, torch.bfloat16):  # no CPU kernel for these
        return sharp_bicubic(x.float(), ratio).to(x.dtype)
    return F.interpolate(x, size=size, mode="bicubic", antialias=False, align_corners=False)


def _blocks(x: torch.Tensor, ratio: int) -> torch.Tensor:
    """x without the incomplete last block row and column."""
    rows, cols = output_size(x.shape[-2], x.shape[-1], ratio)
    return x[..., : rows * ratio, : cols * ratio]


def _plus_bicubic(x: torch.Tensor, residual: torch.Tensor, ratio: int) -> torch.Tensor:
    """``grid_bicubic(x, ratio)`` plus the residual, cropped to it at the bottom/right."""
    rows, cols = output_size(x.shape[-2], x.shape[-1], ratio)
    return grid_bicubic(x, ratio) + residual[..., :rows, :cols]
