"""ThumbNet: the trainer of a downscaler E jointly with a thumbnail student, on the training kit
(``downscale.training``).

- ``config``: ``TrainConfig``.
- ``nets``: teacher, student and the ``ThumbNet`` module trained as one.
- ``train``: the run, from the teacher cache to the exported weights.
- ``card``: the run's model card, rendered from its record.
- ``command``: the ``downscale train`` click command.
"""
