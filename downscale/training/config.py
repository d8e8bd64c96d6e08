"""The settings both trainers share: ``RunConfig`` (ThumbNet's ``TrainConfig`` and DRNet's ``DynamicConfig``
extend it) and ``setting``, the field that carries its CLI details.

Each field carries its CLI help (and, where it matters, choices, a minimum, a path kind or a flag
name) in its metadata; ``training.options.config_options`` turns the fields into click options, so
every field is an option of ``downscale train`` / ``downscale train-dynamic``.
"""

from __future__ import annotations

import dataclasses
import shlex
import typing
from dataclasses import dataclass


def setting(default=dataclasses.MISSING, *, help: str, **cli) -> typing.Any:
    """A config field: ``default`` (none: required), its ``help`` and CLI details in ``cli``: ``choices``,
    ``min`` (``min_open``: excluded) and ``max`` (with ``min``), ``path`` ("dir" or "file"), ``exists``, ``flag`` (option name), ``metavar``."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


def flag_of(field: dataclasses.Field) -> str:
    """The field's CLI option: ``--field-name`` unless its metadata names another."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


@dataclass
class RunConfig:
    """Settings both trainers share: data, teacher, the main schedule, the teacher cache, logging."""

    data: str = setting(help="ImageFolder with wnid-named class folders (e.g. imagenette-224/train).",
                        path="dir", exists=True)
    out: str = setting(help="run folder (created).", path="dir")
    teacher_weights: str | None = setting(None, help="plain state_dict file of the teacher T (required, except for "
                                         "a --teacher that comes with its ImageNet weights: efficientnet_lite0/1/2).",
                                         path="file", exists=True)
    teacher: str = setting("mobilenet_v2", help="torchvision model name of the teacher (and of ThumbNet's student).")
    normalize: str = setting("minus1to1", help="the teacher's input normalisation.", choices=("imagenet", "minus1to1"))
    image_size: int = setting(224, help="images are resized (short side) and centre-cropped to this side.", min=16)
    epochs: int = setting(2, help="epochs of the main stage.", min=1)
    batch_size: int = setting(32, help="images per step (per process).", min=1)
    limit: int | None = setting(None, help="train on only the first N images of the split.", min=1)
    holdout: int = setting(500, help="images held out (seeded) for validation; 0 = none.", min=0)
    seed: int = setting(0, help="seed of the split, flips, initialisation and shuffling.")
    workers: int = setting(1, help="DataLoader worker processes.", min=0)
    flip: bool = setting(True, help="random horizontal flips (the only augmentation, so the teacher cache is "
                         "exact; without, only the unflipped images are cached: half the teacher cost).")
    w_kd: float = setting(1.0, help="weight of KD (distillation from the teacher's cached logits).")
    w_cl: float = setting(1.0, help="weight of CL (cross-entropy with the labels).")
    tau: float = setting(4.0, help="KD temperature (> 0).", min=0, min_open=True)
    weight_decay: float = setting(1e-4, help="AdamW weight decay.")
    cache: str | None = setting(None, help="teacher-logit cache folder [default: OUT/cache].", path="dir")
    log_every: int = setting(20, help="steps between progress lines.", min=1)
    device: str | None = setting(None, help="cpu, cuda, cuda:1 ... [default: cuda if available].")

    def command_line(self, command: str) -> str:
        """The ``downscale COMMAND`` call that reproduces this config, every option spelled out."""
        args = ["downscale", command]
        for field in dataclasses.fields(self):
            value, option = getattr(self, field.name), flag_of(field)
            if isinstance(value, bool):
                args.append(option if value else "--no-" + option[2:])
            elif isinstance(value, tuple):
                args += [option, ",".join(map(str, value))]
            elif value is not None:
                args += [option, str(value)]
        return shlex.join(args)

