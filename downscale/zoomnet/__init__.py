"""The learned per-image zoom's trainer, a sibling of ``thumbnet`` and ``drnet``. The predictor and its
differentiable crop (inference, the ``zoom`` method of ``downscale eval``) are in the core, ``downscale.zoom``.

- ``train``: distillation of a ``ZoomPredictor`` from a frozen classifier's full-image outputs
  (``python -m downscale.zoomnet.train``).
"""
