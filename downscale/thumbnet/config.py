"""TrainConfig: every setting of a ThumbNet training run (the CLI options map 1:1 onto its fields)."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass

STRATEGIES = ("supervised", "distill", "fm")
DOWNSCALERS = ("learned", "bicubic")


@dataclass
class TrainConfig:
    data: str  # ImageFolder root (wnid-named class folders), e.g. imagenette-224/train
    teacher_weights: str  # plain state_dict file of the teacher T
    out: str  # run folder: checkpoint, exported weights, card.md, run.json
    teacher: str = "mobilenet_v2"  # torchvision model name of T (and of the student S)
    normalize: str = "minus1to1"  # T's input normalisation: imagenet | minus1to1
    ratio: int = 4  # thumbnail side = image side / ratio (2 or 4)
    image_size: int = 224  # images are resized (short side) and centre-cropped to this
    downscaler: str = "learned"  # learned: train E; bicubic: antialiased bicubic (baseline); else a fixed
    # E (registry name or weights file): the student learns on its thumbnails, E is not trained
    strategy: str = "distill"  # supervised (CL+MM) | distill (KD+CL+MM) | fm (FM+MM stage, then distill)
    freeze_classifier: bool = False  # train E alone for the frozen T (no student); use tau ~1 or KD 0
    student_init: str = "teacher"  # teacher: S starts as a copy of T; scratch: random init
    epochs: int = 2  # epochs of the main (CL/KD) stage
    fm_epochs: int = 1  # epochs of the FM first stage (strategy fm only)
    fm_layer: str = "net.features.6"  # module whose output FM matches (stride 8 in MobileNetV2)
    batch_size: int = 32  # per process
    limit: int | None = None  # use only the first N training images (after the holdout split)
    holdout: int = 500  # images of --data held out (seeded) for validation; 0 = none
    seed: int = 0
    workers: int = 1  # DataLoader worker processes
    flip: bool = True  # random horizontal flips (the only augmentation, so the teacher cache is exact;
    # with --no-flip only the unflipped images are cached, half the teacher cost)
    w_kd: float = 1.0  # loss weights
    w_cl: float = 1.0
    w_mm: float = 1.0
    w_fm: float = 1.0
    w_colour: float = 0.0  # weight of the L1 colour-mean term (thumbnail vs image channel means)
    tau: float = 4.0  # KD temperature
    lr_student: float = 2e-4  # AdamW + one-cycle peak learning rates
    lr_downscaler: float = 2e-3
    weight_decay: float = 1e-4
    downscaler_width: int = 32  # channels of E's hidden layer
    downscaler_arch: str = "paper"  # E's layout: paper (two 5x5 convs) | unshuffle | area (see model.Downscaler)
    downscaler_skip: str = "mean"  # the "area" layout's classical resize: mean (block mean) | nearest
    cache: str | None = None  # folder for the teacher-logit cache (default: OUT/cache)
    log_every: int = 20  # steps between progress lines
    device: str | None = None  # default: cuda if available, else cpu

    def __post_init__(self):
        choices = {"strategy": STRATEGIES, "student_init": ("teacher", "scratch"), "ratio": (2, 4)}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.downscaler:
            raise ValueError("TrainConfig.downscaler must be 'learned', 'bicubic' or a downscaler's name or file")
        if self.freeze_classifier and self.downscaler != "learned":
            raise ValueError("freeze_classifier trains E alone, so it needs downscaler='learned'")
        if self.freeze_classifier and self.strategy == "fm":
            raise ValueError("freeze_classifier has no student to feature-map; use strategy supervised or distill")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")

    @property
    def fixed_downscaler(self) -> str | None:
        """The fixed E's name or file, when the student trains on a given E's thumbnails."""
        return None if self.downscaler in DOWNSCALERS else self.downscaler

    @property
    def stage_epochs(self) -> list[str]:
        """The stage of each epoch: ``"fm"`` for the first-stage epochs, then the main strategy."""
        main = "distill" if self.strategy == "fm" else self.strategy
        return ["fm"] * (self.fm_epochs if self.strategy == "fm" else 0) + [main] * self.epochs

    def command_line(self) -> str:
        """The ``downscale train`` command that reproduces this config, every option spelled out."""
        args = ["downscale", "train"]
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            option = "--" + field.name.replace("_", "-")
            if isinstance(value, bool):
                args.append(option if value else "--no-" + field.name.replace("_", "-"))
            elif value is not None:
                args += [option, str(value)]
        return shlex.join(args)
