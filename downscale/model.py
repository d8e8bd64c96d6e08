"""The learned downscaler E (ThumbNet, Zhao & Ghanem 2020) and its output-size rule."""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch import nn

from .sizes import output_size  # noqa: F401  (re-exported: the size rule belongs with E)

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


ARCHITECTURES = ("paper", "unshuffle", "area")
SKIPS = ("mean", "nearest")  # the classical resize under the "area" layout's correction (see Downscaler)
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
    """E: a thumbnail = a classical resize (antialiased bicubic, or the block mean) + a learned correction.

    ``arch="paper"`` is the paper's E: two 5x5 conv layers (BN + ReLU after the first) whose strides
    give the ratio, (2, 1) for ratio 2 and (2, 2) for ratio 4 (a stride-1 first layer is 4-40x
    slower on CPU). ``arch="unshuffle"`` is its fast form for large images: pixel-unshuffle by the
    ratio, so the first layer is a dense 1x1 conv over each ratio x ratio block (a stride-``ratio``
    conv with a ``ratio``-sized kernel), then BN + ReLU and a 3x3 conv at thumbnail resolution;
    about 5x (ratio 4) to 8x (ratio 2) fewer multiply-adds than "paper" at the same width.
    ``arch="area"`` is "unshuffle" over area (block-mean) resizing instead of bicubic, with a
    correction that cannot change flat colours (see ``_correction_weight``); ``skip="nearest"`` puts
    it over plain subsampling (each block's top-left pixel, torch's ``nearest``) instead, the sharp
    resize frozen ImageNet classifiers prefer. The skip is three more channels of the first conv, so at inference the whole E is two convolutions and a
    ReLU, run in strips of about ``STRIP_PIXELS`` thumbnail pixels; the fastest layout (about Pillow
    bicubic's speed on CPU).

    The convolutions predict a residual added to the classical thumbnail (antialiased bicubic on the
    ratio's own pixel grid, see ``grid_bicubic``, or the block mean for "area"), and the last layer
    starts at zero, so an untrained E *is* that classical resize and training only moves it where
    the loss asks.

    Input ``[N, 3, H, W]``: float RGB in [0, 1], or (at inference) uint8 0..255, converted strip by
    strip for "area"; any ``H, W >= ratio``. Output ``[N, 3, floor(H / ratio), floor(W / ratio)]`` in
    ``dtype`` (at inference: the float dtype to compute in; default x's, float32 for uint8), not
    clamped (callers clamp before quantising). For sides not divisible by the ratio the "paper"
    correction map is a pixel larger than the thumbnail and is cropped at the bottom/right;
    "unshuffle" and "area" drop the incomplete last block.
    """

    def __init__(self, ratio: int = 4, width: int = 32, arch: str = "paper", skip: str = "mean"):
        super().__init__()
        if ratio not in TRAINED_RATIOS:
            raise ValueError(f"Downscaler ratio must be one of {TRAINED_RATIOS}, got {ratio!r}")
        if arch not in ARCHITECTURES:
            raise ValueError(f"Downscaler arch must be one of {ARCHITECTURES}, got {arch!r}")
        if skip not in SKIPS or (skip != "mean" and arch != "area"):
            raise ValueError(f"Downscaler skip must be one of {SKIPS} ('mean' unless arch='area'), got {skip!r}")
        self.ratio, self.width, self.arch, self.skip = ratio, width, arch, skip
        if arch == "paper":
            first = nn.Conv2d(3, width, 5, stride=2, padding=2, bias=False)
            self.correction = nn.Conv2d(width, 3, 5, stride=ratio // 2, padding=2)
        else:
            first = nn.Sequential(nn.PixelUnshuffle(ratio), nn.Conv2d(3 * ratio * ratio, width, 1, bias=False))
            # "area": no bias and replicate padding, see _correction_weight
            self.correction = nn.Conv2d(width, 3, 3, padding=1 if arch == "unshuffle" else 0, bias=arch == "unshuffle")
        self.features = nn.Sequential(first, nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        nn.init.zeros_(self.correction.weight)
        if self.correction.bias is not None:
            nn.init.zeros_(self.correction.bias)

    def forward(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        if not x.is_floating_point() and (self.training or x.dtype != torch.uint8):
            raise TypeError(f"Downscaler takes float images in [0, 1] (or uint8 at inference), got {x.dtype}")
        if self.training:
            if dtype not in (None, x.dtype):
                raise ValueError("Downscaler computes in the input's dtype while training; use autocast")
        else:
            dtype = dtype or (x.dtype if x.is_floating_point() else torch.float32)
            if self.arch == "area":
                return self._fused(x, dtype)
            x = x.to(dtype) / 255 if x.dtype == torch.uint8 else x.to(dtype)
        size = output_size(x.shape[-2], x.shape[-1], self.ratio)
        blocks = x[..., : size[0] * self.ratio, : size[1] * self.ratio] if self.arch != "paper" else x
        if self.training:
            hidden = self.features(blocks * 2 - 1)
        else:  # one conv + ReLU: each full-resolution pass costs more than the arithmetic on a CPU
            weight, bias = (t.to(x.dtype) for t in self._folded_first_layer())
            if self.arch == "paper":
                hidden = F.conv2d(blocks * 2 - 1, weight, bias, stride=2, padding=2)
            else:
                hidden = F.conv2d(blocks, weight, bias, stride=self.ratio)
            hidden = F.relu_(hidden)
        if self.arch == "area":
            residual = F.conv2d(F.pad(hidden, (1, 1, 1, 1), mode="replicate"), self._correction_weight())
            skip = blocks[..., :: self.ratio, :: self.ratio] if self.skip == "nearest" else F.avg_pool2d(blocks, self.ratio)
            return skip + residual
        c = self.correction
        residual = F.conv2d(hidden, c.weight.to(x.dtype), c.bias.to(x.dtype), c.stride, c.padding)
        return grid_bicubic(x, self.ratio) + residual[..., : size[0], : size[1]]

    def _correction_weight(self) -> torch.Tensor:
        """For "area": the 3x3 correction kernels minus their spatial mean. With replicate padding this
        makes the correction zero wherever the hidden features are flat, so a flat region keeps its
        exact colour (also at the borders): E can move edges and texture, not shift colours."""
        w = self.correction.weight
        return w - w.mean(dim=(2, 3), keepdim=True)

    def _fused(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Inference for "area": conv (first layer + block mean) -> ReLU -> conv (correction + mean),
        over strips of about ``STRIP_PIXELS`` thumbnail pixels on CPU (each with a one-row halo for
        the 3x3 conv), so the input is read once and converted to ``dtype`` one strip at a time; on
        CUDA the same two convs as Triton kernels (``downscale.kernels``) where Triton is installed.
        With a zero correction (``area-identity``) E is its skip alone, one strided conv per strip."""
        r, (rows, cols) = self.ratio, output_size(x.shape[-2], x.shape[-1], self.ratio)
        # uint8 block means are >= 0, so they need no offset (which would cost bf16 a bit of precision)
        w1, b1, w2, b2 = self._fused_layers(*((1 / 255, 0.0) if x.dtype == torch.uint8 else (1.0, 1.0)))
        # cuDNN leaves the GPU idle on convolutions this narrow; the kernels have no backward, so a pass
        # autograd records (E fine-tuned in eval mode, gradients to the input) keeps the convolutions
        records = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters()))
        if x.device.type == "cuda" and TRITON and not records:
            from .kernels import fused_area

            return fused_area(x, w1, b1, w2, b2, r, dtype)
        n, cl = x.shape[0], torch.channels_last
        out = torch.empty(n, 3, rows, cols, dtype=dtype, device=x.device, memory_format=cl)
        # (one pass where autograd records: later strips would overwrite the buffer the gradients need)
        strip = max(1, STRIP_PIXELS // (n * cols)) if x.device.type == "cpu" and not records else rows
        if not records and not self.correction.weight.any():  # a zero correction: E is its skip
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

    def _fused_layers(self, scale: float, offset: float) -> tuple[torch.Tensor, ...]:
        """Weights of the two convs of ``_fused`` for input ``x * scale`` in [0, 1]. Three extra channels
        carry the skip (block mean, or each block's top-left pixel) through both: raised by ``offset`` after the first conv so the ReLU passes
        them unchanged for any input >= -offset, and added back (minus the offset) by the centre tap
        of the second."""
        weight, bias = self._folded_first_layer()
        r, eye = self.ratio, torch.eye(3, device=weight.device)
        if self.skip == "nearest":
            skip = torch.zeros(3, 3, r, r, device=weight.device)
            skip[:, :, 0, 0] = eye
        else:
            skip = eye.view(3, 3, 1, 1).expand(3, 3, r, r) / (r * r)
        w1 = torch.cat([weight, skip]) * scale
        b1 = torch.cat([bias, torch.full((3,), offset, device=bias.device)])
        carry = torch.zeros(3, 3, 3, 3, device=weight.device)
        carry[:, :, 1, 1] = eye
        w2 = torch.cat([self._correction_weight(), carry], dim=1)
        return w1, b1, w2, torch.full((3,), -offset, device=weight.device)

    def _folded_first_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first conv with eval-mode BatchNorm folded in; for "unshuffle" and "area" also the input
        scaling ``x * 2 - 1`` (exact there: that conv has no padding) and the pixel-unshuffle, which makes it a
        ``ratio x ratio`` conv with stride ``ratio`` (unshuffled channel ``c * r * r + i * r + j``
        is pixel ``(i, j)`` of colour ``c`` in each block)."""
        bn = self.features[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        if self.arch == "paper":
            weight = self.features[0].weight
            return weight * scale.view(-1, 1, 1, 1), shift
        r = self.ratio
        weight = self.features[0][1].weight.view(self.width, 3, r, r)
        # conv(2x - 1) = conv_{2w}(x) - sum(w): fold both into weight and bias
        bias = shift - scale * weight.sum(dim=(1, 2, 3))
        return 2 * weight * scale.view(-1, 1, 1, 1), bias

    def config(self) -> dict:
        """The constructor arguments, stored beside the state_dict in weight files."""
        config = {"ratio": self.ratio, "width": self.width, "arch": self.arch}
        return config if self.skip == "mean" else {**config, "skip": self.skip}
