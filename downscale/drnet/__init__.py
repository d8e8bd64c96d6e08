"""DRNet dynamic resolution (Zhu et al., NeurIPS 2021): the trainer, a sibling of ``thumbnet`` on the
training kit (``downscale.training``). The inference models (behind ``ratio="auto"``) are in the core,
``downscale.dynamic``; their evaluation is ``downscale.evaluation.dynamic``.

- ``train``: ``DynamicConfig`` and the two training stages.
- ``command``: the ``train-dynamic`` and ``eval-dynamic`` click commands.
"""
