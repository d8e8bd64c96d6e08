"""Weights for ``downscale`` that its own wheel leaves out: the ThumbNet and DRNet students
(MobileNetV2 classifiers, 14-15 MB each) and superseded releases.

A data package: ``downscale``'s registry (``downscale models``) finds these files by name and checks
their sha256; nothing here is imported by hand.
"""

__version__ = "0.1.0"
