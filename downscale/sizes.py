"""The output-size rule, free of torch so that file-only code paths start fast."""

from __future__ import annotations

import math

__all__ = ["output_size"]


def output_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """Thumbnail size for an image of ``height x width`` reduced ``ratio`` times per side.

    Each side becomes ``floor(side / ratio)`` (a 1e-9 relative epsilon absorbs float error, so
    ``output_size(300, 300, 3)`` is ``(100, 100)``). Raises ValueError if ``ratio < 1`` or a side
    would become 0.
    """
    if not ratio >= 1:
        raise ValueError(f"ratio must be >= 1 (the factor each side is divided by), got {ratio!r}")
    out = tuple(math.floor(side / ratio * (1 + 1e-9)) for side in (height, width))
    if min(out) < 1:
        raise ValueError(
            f"a {height}x{width} image is too small for ratio {ratio:g}: each side needs at least "
            f"{math.ceil(ratio)} pixels"
        )
    return out  # type: ignore[return-value]
