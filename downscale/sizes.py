"""The output-size rule, the checks of ratio and size arguments and the one comma-list parser of the
commands, free of torch so that file-only code paths (``downscale convert --method pil_bicubic``) start fast."""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Callable

from .errors import InvalidArgumentError

__all__ = ["output_size", "check_ratio", "check_size", "check_fov", "fov_box", "parse_list"]


def output_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """Thumbnail size for an image of ``height x width`` reduced ``ratio`` times per side.

    Each side becomes ``floor(side / ratio)`` (a 1e-9 relative epsilon absorbs float error, so
    ``output_size(300, 300, 3)`` is ``(100, 100)``). Raises ValueError if ``ratio < 1`` or a side
    would become 0.

    Example:
        >>> output_size(480, 640, 4), output_size(300, 300, 3)
        ((120, 160), (100, 100))
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
    (a string, a number, three values, fractions, booleans, infinities).

    Example:
        >>> check_size([120, 160]), check_size(None)
        ((120, 160), None)
    """
    if size is None:
        return None
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2 or not all(
            isinstance(side, numbers.Integral) and not isinstance(side, bool) and side >= 1 for side in size):
        raise InvalidArgumentError(f"size must be (height, width): two integers >= 1, got {size!r}")
    return int(size[0]), int(size[1])


def check_ratio(ratio, size: tuple[int, int] | None, auto: bool) -> float | str | None:
    """``ratio`` checked against ``size``: None (size given), a finite number >= 1 (default 2), or
    "auto" where ``auto``; InvalidArgumentError otherwise, and for a ratio given with a size.

    Example:
        >>> check_ratio(None, None, auto=False), check_ratio("auto", None, auto=True)
        (2, 'auto')
    """
    if ratio is None:
        return None if size is not None else 2
    if size is not None:
        raise InvalidArgumentError(f"give ratio or size, not both (got ratio={ratio!r}, size={size!r})")
    if auto and ratio == "auto":
        return ratio
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not (_finite(ratio) and ratio >= 1):
        also = " or 'auto'" if auto else ""
        raise InvalidArgumentError(
            f"ratio must be a finite number >= 1 (the factor each side is divided by){also}, "
            f"got {reprlib.repr(ratio)}")
    return ratio


def _finite(number: numbers.Real) -> bool:
    """Whether ``number`` is finite as a float (an int too large for a float, such as 10**400, is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def check_fov(fov) -> float | tuple[int, int, int, int]:
    """``fov`` checked: a finite number in (0, 1] (the centre fraction of each side the thumbnail shows;
    1 = the whole image), or a box ``(left, top, right, bottom)`` of four integers in pixels (checked
    against the image by ``fov_box``). Returns a float or a tuple of ints; InvalidArgumentError naming
    ``fov`` otherwise.

    Example:
        >>> check_fov(0.75), check_fov((0, 0, 64, 48))
        (0.75, (0, 0, 64, 48))
    """
    if isinstance(fov, (str, bytes)) or isinstance(fov, bool):
        pass
    elif isinstance(fov, numbers.Real):
        if math.isfinite(fov) and 0 < fov <= 1:
            return float(fov)
    elif hasattr(fov, "__len__") and len(fov) == 4 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in fov):
        return tuple(int(v) for v in fov)  # type: ignore[return-value]
    raise InvalidArgumentError(
        f"fov must be a finite number with 0 < fov <= 1 (the centre fraction of each side the thumbnail "
        f"shows; 1 = the whole image) or a box (left, top, right, bottom) of four integers, got {fov!r}")


def fov_box(height: int, width: int, fov: float | tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The ``(left, top, right, bottom)`` pixel box (right and bottom exclusive) that ``fov`` (checked
    by ``check_fov``) selects in a ``height x width`` image.

    A number keeps ``max(1, round(fov * side))`` pixels of each side (halves round up), centred (an odd
    margin leaves the extra pixel at the right and bottom); 1 is the whole image. A box is returned
    as it is if ``0 <= left < right <= width`` and ``0 <= top < bottom <= height``, else
    InvalidArgumentError naming ``fov``.

    Example:
        >>> fov_box(100, 200, 0.5), fov_box(100, 200, 1)
        ((50, 25, 150, 75), (0, 0, 200, 100))
    """
    if isinstance(fov, tuple):
        left, top, right, bottom = fov
        if not (0 <= left < right <= width and 0 <= top < bottom <= height):
                    raise InvalidArgumentError(
                f"fov box (left, top, right, bottom) = {fov} must lie within the {height}x{width} image "
                f"(0 <= left < right <= {width}, 0 <= top < bottom <= {height})")
        return fov
    h, w = (max(1, math.floor(fov * side + 0.5)) for side in (height, width))
    top, left = (height - h) // 2, (width - w) // 2
    return left, top, left + w, top + h


def parse_list(text: str, kind: Callable = str, count: int | None = None, example: str | None = None) -> list:
    """``text`` split at commas, each item stripped and converted by ``kind`` (empty items dropped):
    the one list parser of the command-line options. ValueError saying what was expected (exactly
    ``count`` items when given; like ``example``) and what ``text`` was.

    Example:
        >>> parse_list("2, 4,", float)
        [2.0, 4.0]
        >>> parse_list("learned,area")
        ['learned', 'area']
    """
    what = "names" if kind is str else "numbers"
    number = {2: "two", 3: "three"}.get(count, count)
    expected = (f"comma-separated {what}" if count is None else f"{number} {what} separated by a comma") + (
        f", e.g. {example}" if example else "")
    try:
        items = [kind(item.strip()) for item in text.split(",") if item.strip()]
    except (TypeError, ValueError):
        raise ValueError(f"expected {expected}; got {text!r}") from None
    if count is not None and len(items) != count:
        raise ValueError(f"expected {expected}; got {text!r}")
    return items
