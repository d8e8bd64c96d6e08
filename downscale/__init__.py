"""downscale: learned image downscaling for classifiers (ThumbNet), a drop-in for bicubic resize.

>>> from PIL import Image
>>> from downscale import learned_resize
>>> learned_resize(Image.new("RGB", (640, 480)), ratio=4).size   # same type back: PIL, ndarray or tensor
(160, 120)

Names are imported on first use, so ``import downscale`` (and file-only commands such as
``downscale convert --method pil_bicubic``) does not pay for importing torch. Every error raised on
purpose is a ``DownscaleError``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load lazily (below)
    from .errors import DownscaleError
    from .model import Downscaler
    from .pretrained import list_pretrained, load_downscaler
    from .resize import learned_resize
    from .transforms import LearnedResize

__version__ = "0.1.0"

_EXPORTS = {
    "DownscaleError": "errors",
    "Downscaler": "model",
    "LearnedResize": "transforms",
    "learned_resize": "resize",
    "list_pretrained": "pretrained",
    "load_downscaler": "pretrained",
}
__all__ = ["DownscaleError", "Downscaler", "LearnedResize", "learned_resize", "list_pretrained", "load_downscaler",
           "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'downscale' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
