"""DRNet dynamic resolution (Zhu et al., NeurIPS 2021) in one place.

- ``model``: inference (predictor, multi-resolution classifier, early exit; behind ``ratio="auto"``).
- ``train``: its two training stages (training layer, on the ThumbNet data and teacher cache).
- ``evaluate``: accuracy against mean FLOPs beside fixed ratios and random choices (evaluation layer).
- ``command``: the ``train-dynamic`` and ``eval-dynamic`` click commands.

Nothing is imported here, so ``downscale.drnet.model`` loads no training or evaluation code.
"""
