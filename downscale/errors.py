"""The exceptions `downscale` raises; each message names the argument or file and how to fix it."""

__all__ = ["DownscaleError", "UnsupportedImageError", "ImageTooSmallError", "WeightsError", "ImageReadError",
           "InvalidArgumentError"]


class DownscaleError(Exception):
    """Base class of every error raised on purpose by `downscale`.

    Example:
        >>> import numpy as np
        >>> from downscale import learned_resize
        >>> try:
        ...     learned_resize(np.zeros((2, 2, 3), np.uint8), ratio=4)
        ... except DownscaleError as exc:
        ...     print(type(exc).__name__)
        ImageTooSmallError
    """


class UnsupportedImageError(DownscaleError, TypeError):
    """The input's type, shape, dtype or mode is not one `learned_resize` accepts."""


class ImageTooSmallError(DownscaleError, ValueError):
    """The image has fewer pixels per side than the requested reduction needs."""


class WeightsError(DownscaleError, ValueError):
    """A weights name, file or checksum is wrong, or the file is not a downscaler state_dict."""


class ImageReadError(DownscaleError, OSError):
    """An image file could not be read or decoded (`downscale convert` reports and skips it)."""


class InvalidArgumentError(DownscaleError, ValueError):
    """An argument (ratio, size, device, dtype, ...) is out of range or of the wrong kind."""
