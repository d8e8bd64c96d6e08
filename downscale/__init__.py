"""downscale: learned image downscaling for classifiers (ThumbNet), a drop-in for bicubic resize.

>>> from downscale import learned_resize
>>> thumb = learned_resize(pil_image, ratio=4)   # same type back: PIL, ndarray or tensor
"""

from .model import Downscaler
from .pretrained import list_pretrained, load_downscaler
from .resize import learned_resize
from .transforms import LearnedResize

__all__ = ["Downscaler", "LearnedResize", "learned_resize", "list_pretrained", "load_downscaler", "__version__"]
__version__ = "0.1.0"
