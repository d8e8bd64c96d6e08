"""The fused "area" E as two Triton kernels, for CUDA (``AreaDownscaler`` uses them when Triton is there).

cuDNN runs E's two small convolutions (3 -> 11 channels at stride ``ratio``, then 11 -> 3 at 3x3) far
below the GPU's memory speed, because channel counts this small leave its kernels idle; these kernels
read each input pixel once, keep the 11 sums in registers, and write only the hidden map and the
thumbnail. Same maths as ``AreaDownscaler.fuse()`` on CPU: first conv + ReLU, replicate padding (clamped
indices), second conv; accumulation in float32, the hidden map and output stored in ``dtype``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["BLOCK", "fused_area"]

BLOCK = 256  # output pixels per program


@triton.jit
def _first_conv(x_ptr, w_ptr, b_ptr, h_ptr, rows, cols, sb, sc, sy, sx,
                R: tl.constexpr, C_OUT: tl.constexpr, C_PAD: tl.constexpr, BLOCK: tl.constexpr):
    """hidden[b, o, y, x] = relu(b[o] + sum_{c, i, j} w[o, c, i, j] * x[b, c, y*R + i, x*R + j])."""
    b = tl.program_id(1)
    pix = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    inside = pix < rows * cols
    y, x = pix // cols, pix % cols
    o = tl.arange(0, C_PAD)
    acc = tl.zeros((BLOCK, C_PAD), dtype=tl.float32)
    base = x_ptr + b.to(tl.int64) * sb + (y * R).to(tl.int64) * sy + (x * R).to(tl.int64) * sx
    for k in tl.static_range(3 * R * R):  # k = (c, i, j) of the block, matching w's layout
        c, i, j = k // (R * R), (k // R) % R, k % R
        v = tl.load(base + c * sc + i * sy + j * sx, mask=inside, other=0).to(tl.float32)
        w = tl.load(w_ptr + o * (3 * R * R) + k, mask=o < C_OUT, other=0.0)
        acc += v[:, None] * w[None, :]
    acc = tl.maximum(acc + tl.load(b_ptr + o, mask=o < C_OUT, other=0.0)[None, :], 0.0)
    plane = rows * cols
    out = h_ptr + (b * C_OUT).to(tl.int64) * plane + o[None, :].to(tl.int64) * plane + pix[:, None]
    tl.store(out, acc.to(h_ptr.dtype.element_ty), mask=inside[:, None] & (o[None, :] < C_OUT))


@triton.jit
def _second_conv(h_ptr, w_ptr, b_ptr, out_ptr, rows, cols, sb, sc, sy, sx,
                 C_IN: tl.constexpr, BLOCK: tl.constexpr):
    """out[b, k, y, x] = b[k] + sum_{o, dy, dx} w[k, o, dy, dx] * hidden[b, o, clamp(y+dy-1), clamp(x+dx-1)]."""
    b = tl.program_id(1)
    pix = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    inside = pix < rows * cols
    y, x = pix // cols, pix % cols
    k = tl.arange(0, 4)  # 3 colours, padded to a power of two
    acc = tl.zeros((BLOCK, 4), dtype=tl.float32)
    plane = rows * cols
    hidden = h_ptr + (b * C_IN).to(tl.int64) * plane
    for t in tl.static_range(9):
        yy = tl.minimum(tl.maximum(y + (t // 3 - 1), 0), rows - 1)  # replicate padding
        xx = tl.minimum(tl.maximum(x + (t % 3 - 1), 0), cols - 1)
        at = yy * cols + xx
        for o in tl.static_range(C_IN):
            v = tl.load(hidden + o * plane + at, mask=inside, other=0).to(tl.float32)
            w = tl.load(w_ptr + k * (C_IN * 9) + o * 9 + t, mask=k < 3, other=0.0)
            acc += v[:, None] * w[None, :]
    acc += tl.load(b_ptr + k, mask=k < 3, other=0.0)[None, :]
    out = out_ptr + b.to(tl.int64) * sb + k[None, :] * sc + (y * sy + x * sx)[:, None].to(tl.int64)
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=inside[:, None] & (k[None, :] < 3))


def fused_area(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
               ratio: int, dtype: torch.dtype) -> torch.Tensor:
    """``[N, 3, H, W]`` (any strides, uint8 or float) -> ``[N, 3, H // ratio, W // ratio]`` channels_last in
    ``dtype``, given the fused form's ``kernel_weights(x.dtype)`` (``w1 [C, 3, r, r]``, ``w2 [3, C, 3, 3]``)."""
    n, rows, cols = x.shape[0], x.shape[-2] // ratio, x.shape[-1] // ratio
    c_out = w1.shape[0]
    w1, b1, w2, b2 = (t.float().contiguous() for t in (w1, b1, w2, b2))
    hidden = torch.empty(n, c_out, rows, cols, dtype=dtype, device=x.device)
    out = torch.empty(n, 3, rows, cols, dtype=dtype, device=x.device, memory_format=torch.channels_last)
    grid = (triton.cdiv(rows * cols, BLOCK), n)
    _first_conv[grid](x, w1, b1, hidden, rows, cols, *x.stride(), R=ratio, C_OUT=c_out,
                      C_PAD=triton.next_power_of_2(c_out), BLOCK=BLOCK)
    _second_conv[grid](hidden, w2, b2, out, rows, cols, *out.stride(), C_IN=c_out, BLOCK=BLOCK)
    return out
