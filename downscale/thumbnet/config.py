"""The settings of a training run: ``RunConfig`` (what both trainers share) and ``TrainConfig`` (ThumbNet).

Each field carries its CLI help (and, where it matters, choices, a minimum, a path kind or a flag
name) in its metadata; ``thumbnet.command.config_options`` turns the fields into click options, so
every field is an option of ``downscale train`` / ``downscale train-dynamic``.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import typing
from dataclasses import dataclass

from ..methods import CLASSICAL, RENAMED, SKIP_METHODS, canonical

STRATEGIES = ("supervised", "distill", "fm")


def setting(default=dataclasses.MISSING, *, help: str, **cli) -> typing.Any:
    """A config field: ``default`` (none: required), its ``help`` and CLI details in ``cli``: ``choices``,
    ``min`` (``min_open``: excluded), ``path`` ("dir" or "file"), ``exists``, ``flag`` (option name), ``metavar``."""
    return dataclasses.field(default=default, metadata={"help": help, **cli})


def flag_of(field: dataclasses.Field) -> str:
    """The field's CLI option: ``--field-name`` unless its metadata names another."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


@dataclass
class RunConfig:
    """Settings both trainers share: data, teacher, the main schedule, the teacher cache, logging."""

    data: str = setting(help="ImageFolder with wnid-named class folders (e.g. imagenette-224/train).",
                        path="dir", exists=True)
    teacher_weights: str = setting(help="plain state_dict file of the teacher T.", path="file", exists=True)
    out: str = setting(help="run folder (created).", path="dir")
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


@dataclass
class TrainConfig(RunConfig):
    """Every setting of a ThumbNet run (``downscale train``)."""

    ratio: int = setting(4, help="side reduction factor: thumbnail side = image side / ratio.", choices=(2, 4))
    downscaler: str = setting("learned", help="learned: train E with S; a classical method (" + ", ".join(CLASSICAL)
                              + ") or a downscaler's registry name or file: S trains on those fixed thumbnails, "
                              "computed once and cached.")
    strategy: str = setting("distill", help="supervised: CL+MM; distill: KD+CL+MM; fm: FM+MM first stage, then "
                            "distill.", choices=STRATEGIES)
    freeze_classifier: bool = setting(False, help="train E alone for the frozen teacher (no student; use --tau 1 "
                                      "or --w-kd 0).")
    student_init: str = setting("teacher", help="student initialisation: a copy of the teacher, or random.",
                                choices=("teacher", "scratch"))
    fm_epochs: int = setting(1, help="epochs of the FM first stage (--strategy fm).", min=0)
    fm_layer: str = setting("net.features.6", help="module whose output FM matches (stride 8 in MobileNetV2).")
    w_mm: float = setting(1.0, help="weight of MM (moment matching).")
    w_fm: float = setting(1.0, help="weight of FM (feature mapping).")
    w_colour: float = setting(0.0, help="weight of the L1 gap between thumbnail and image channel means.")
    student_upscale: float = setting(1.0, help="S enlarges each thumbnail by this factor (bicubic) before its "
                                     "network: more FLOPs for S, the same thumbnail.", min=1)
    lr_student: float = setting(2e-4, help="peak lr of S (AdamW, one-cycle).")
    lr_downscaler: float = setting(2e-3, help="peak lr of E (and the FM decoder).")
    downscaler_width: int = setting(32, help="hidden channels of E.", min=1)
    downscaler_arch: str = setting("paper", help="layout of E: paper (two 5x5 convs) | unshuffle | area (see "
                                   "model.Downscaler).", choices=("paper", "unshuffle", "area"))
    downscaler_skip: str = setting("area", help="the area layout's classical resize under the correction: area "
                                   "(block mean) | nearest (subsampling) | bicubic (without antialias); mean: "
                                   "area's old spelling.", choices=(*SKIP_METHODS, *RENAMED["skip"]))

    def __post_init__(self):
        self.downscaler_skip = canonical(self.downscaler_skip, "skip", stacklevel=3)
        choices = {"strategy": STRATEGIES, "student_init": ("teacher", "scratch"), "ratio": (2, 4),
                   "downscaler_skip": SKIP_METHODS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.downscaler:
            raise ValueError("TrainConfig.downscaler must be 'learned', a classical method or a downscaler's name "
                             "or file")
        if self.freeze_classifier and self.downscaler != "learned":
            raise ValueError("freeze_classifier trains E alone, so it needs downscaler='learned'")
        if self.strategy == "fm" and self.downscaler != "learned":
            raise ValueError("strategy fm matches T's features on the full images, which a run on fixed (cached) "
                             "thumbnails does not keep: use downscaler='learned', or strategy distill")
        if not 1 <= self.student_upscale <= 8:
            raise ValueError(f"TrainConfig.student_upscale must be in [1, 8], got {self.student_upscale}")
        if self.freeze_classifier and self.strategy == "fm":
            raise ValueError("freeze_classifier has no student to feature-map; use strategy supervised or distill")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if not (math.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"--tau (the KD temperature) must be a finite number > 0, got {self.tau}")

    @property
    def fixed_downscaler(self) -> str | None:
        """The fixed E's name or file, when the student trains on a given E's thumbnails."""
        return None if self.downscaler == "learned" or self.downscaler in CLASSICAL else self.downscaler

    @property
    def fixed_thumbnails(self) -> bool:
        """Whether S trains on fixed thumbnails (a classical method or a given E), computed once."""
        return self.downscaler != "learned"

    @property
    def stage_epochs(self) -> list[str]:
        """The stage of each epoch: ``"fm"`` for the first-stage epochs, then the main strategy."""
        main = "distill" if self.strategy == "fm" else self.strategy
        return ["fm"] * (self.fm_epochs if self.strategy == "fm" else 0) + [main] * self.epochs
