"""The training kit both trainers (``thumbnet``, ``drnet``) are built on; it imports only the core.

- ``config``: ``RunConfig`` (the settings both share) and ``setting`` (a field with its CLI details).
- ``options``: ``config_options``, a config dataclass's fields as click options.
- ``data``: the indexed ImageFolder, the seeded holdout split, per-epoch flips, the teacher-logit and
  thumbnail caches.
- ``losses``: KD, CL, MM, FM and the colour term.
"""
