"""The output-size rule and the checks of ratio and size arguments, free of torch so that file-only
code paths (``downscale convert --method bicubic``) start fast."""

from __future__ import annotations

import math
import numbers

from .errors import InvalidArgumentError

__all__ = ["output_size", "check_ratio", "check_size"]


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


def check_size(size) -> tuple[int, int] | None:
    """``size`` as ``(height, width)`` ints >= 1, or None; InvalidArgumentError for anything else
    (a string, a number, three values, fractions, booleans, infinities)."""
    if size is None:
        return None
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2 or not all(
            isinstance(side, numbers.Integral) and not isinstance(side, bool) and side >= 1 for side in size):
        raise InvalidArgumentError(f"size must be (height, width): two integers >= 1, got {size!r}")
    return int(size[0]), int(size[1])


def check_ratio(ratio, size: tuple[int, int] | None, auto: bool) -> float | str | None:
    """``ratio`` checked against ``size``: None (size given), a finite number >= 1 (default 2), or
    "auto" where ``auto``; InvalidArgumentError otherwise, and for a ratio given with a size."""
    if ratio is None:
        return None if size is not None else 2
    if size is not None:
        raise InvalidArgumentError(f"give ratio or size, not both (got ratio={ratio!r}, size={size!r})")
    if auto and ratio == "auto":
        return ratio
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not (math.isfinite(ratio) and ratio >= 1):
        also = " or 'auto'" if auto else ""
        raise InvalidArgumentError(
            f"ratio must be a finite number >= 1 (the factor each side is divided by){also}, got {ratio!r}")
    return ratio
