"""DRNet dynamic resolution (Zhu et al., NeurIPS 2021): training, evaluation and commands. The
inference models (behind ``ratio="auto"``) are in the core, ``downscale.dynamic``.

- ``train``: its two training stages (training layer, on the ThumbNet data and teacher cache).
- ``evaluate``: accuracy against mean FLOPs beside fixed ratios and random choices (evaluation layer).
- ``command``: the ``train-dynamic`` and ``eval-dynamic`` click commands.
"""
