"""``TrainConfig``: every setting of a ThumbNet run, the kit's ``RunConfig`` and ThumbNet's own fields."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from ..methods import CLASSICAL, RENAMED, SKIP_METHODS, canonical
from ..sizes import check_fov
from ..training.config import RunConfig, setting

STRATEGIES = ("supervised", "distill", "fm")


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
    fov: float = setting(1.0, help="field of view of S's thumbnails: the centre FOV fraction of each side of the "
                         "image, resized to the same thumbnail size (0 < FOV <= 1; 1 = the whole image). The "
                         "teacher still sees the whole image. Needs a classical --downscaler; 'downscale eval "
                         "--student' applies the same view.", min=0, min_open=True, max=1)
    lr_student: float = setting(2e-4, help="peak lr of S (AdamW, one-cycle).")
    lr_downscaler: float = setting(2e-3, help="peak lr of E (and the FM decoder).")
    downscaler_width: int = setting(32, help="hidden channels of E.", min=1)
    downscaler_arch: str = setting("paper", help="layout of E: paper (two 5x5 convs) | unshuffle | area | residual "
                                   "(2 residual blocks; see model.Downscaler).",
                                   choices=("paper", "unshuffle", "area", "residual"))
    downscaler_skip: str = setting("area", help="the area and residual layouts' classical resize under the "
                                   "correction: area "
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
        try:
            self.fov = check_fov(self.fov if isinstance(self.fov, (int, float)) else float("nan"))
        except InvalidArgumentError:
            raise ValueError(f"TrainConfig.fov must be a number with 0 < fov <= 1 (the centre fraction of each "
                             f"side), got {self.fov!r}") from None
        if self.fov != 1 and self.downscaler not in CLASSICAL:
            # (so FM, which needs a learned E, never meets a field of view: T's features stay whole-image)
            raise ValueError(f"fov={self.fov:g} crops the image before a classical resize; E reduces the whole "
                             f"image by its ratio: use a classical --downscaler ({', '.join(CLASSICAL)}) with --fov")
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
