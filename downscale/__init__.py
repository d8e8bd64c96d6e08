"""downscale: learned image downscaling for classifiers (ThumbNet), a drop-in for bicubic resize."""

from .model import Downscaler
from .pretrained import list_pretrained, load_downscaler

__version__ = "0.1.0"
