"""The networks of a ThumbNet run: teacher T, student S, downscaler E, and the FM feature taps."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..classifiers import EXTERNAL, Classifier, build_classifier
from ..model import Downscaler
from ..training.losses import FMDecoder
from .config import TrainConfig


def build_teacher(cfg: TrainConfig) -> Classifier:
    """T from a torchvision name and a state_dict file (or an EXTERNAL classifier with its own ImageNet
    weights), frozen and in eval mode. Raises ValueError when a torchvision T has no weights file."""
    check_teacher(cfg)
    teacher = build_classifier(cfg.teacher, cfg.teacher_weights, normalize=cfg.normalize)
    return teacher.requires_grad_(False).eval()


def check_teacher(cfg: TrainConfig) -> None:
    """Raise ValueError unless T has weights: a ``--teacher-weights`` file, or its own (EXTERNAL)."""
    if cfg.teacher_weights is None and cfg.teacher not in EXTERNAL:
        raise ValueError(f"--teacher-weights is required for --teacher {cfg.teacher} (only "
                         f"{', '.join(EXTERNAL)} come with their ImageNet weights)")


def build_student(cfg: TrainConfig, teacher: Classifier) -> Classifier:
    """S: T's architecture, initialised as a copy of T (``student_init="teacher"``) or at random, enlarging
    its input by ``cfg.student_upscale``."""
    if cfg.student_init == "teacher":
        student = copy.deepcopy(teacher)
        student.upscale = float(cfg.student_upscale)
    else:
        student = Classifier(teacher.arch, teacher.num_classes, teacher.normalize, cfg.student_upscale)
    return student.requires_grad_(True).train()


def tap(model: nn.Module, layer: str, store: dict) -> torch.utils.hooks.RemovableHandle:
    """Record the output of ``model.get_submodule(layer)`` in ``store["features"]`` on each forward."""
    return model.get_submodule(layer).register_forward_hook(lambda m, i, out: store.__setitem__("features", out))


class ThumbNet(nn.Module):
    """The trained parts in one module (so one DistributedDataParallel wraps them): E, S, FM decoder.

    ``forward(x)`` with ``x`` ``[N, 3, H, W]`` in [0, 1] returns ``(thumb, logits, features)``:
    the thumbnail (E's; without E, ``x`` is the thumbnail already), the classifier's logits
    on it, and (with ``decode=True`` and an FM decoder) S's tapped features decoded to T's scale,
    else None.
    """

    def __init__(self, downscaler: Downscaler | None, classifier: Classifier, ratio: int,
                 fm_layer: str | None = None, fm_channels: int | None = None):
        super().__init__()
        self.downscaler, self.classifier, self.ratio = downscaler, classifier, ratio
        self.decoder = FMDecoder(fm_channels, ratio) if fm_layer else None
        self._store: dict = {}
        if fm_layer:
            tap(classifier, fm_layer, self._store)

    def forward(self, x: torch.Tensor, decode: bool = False):
        thumb = x if self.downscaler is None else self.downscaler(x)
        logits = self.classifier(thumb)
        features = self._store.pop("features", None)
        decoded = self.decoder(features) if decode and self.decoder is not None else None
        return thumb, logits, decoded


def fm_channels(teacher: Classifier, layer: str, image_size: int) -> int:
    """Channel count of ``layer``'s output (one dry forward on a small image)."""
    store: dict = {}
    handle = tap(teacher, layer, store)
    try:
        with torch.no_grad():
            teacher(torch.zeros(1, 3, image_size, image_size))
    finally:
        handle.remove()
    return store["features"].shape[1]
