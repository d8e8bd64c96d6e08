"""DRNet-style dynamic resolution (Zhu et al., NeurIPS 2021) behind ``ratio="auto"``: the inference
models (their trainer and commands are in ``downscale.drnet``, their evaluation in ``evaluation.dynamic``).

- ``ResolutionPredictor``: a few convolutions on a small preview (the whole image squashed to
  ``preview x preview`` px by antialiased bicubic) scoring each candidate ratio.
- ``MultiResolutionClassifier``: one torchvision classifier whose convolutions are shared across the
  ratios but which keeps one set of BatchNorm statistics (and affine parameters) per ratio; each
  ratio's thumbnail is made by a fixed downscaler E stored inside it (ratio 1 = the image itself).
- ``DynamicClassifier``: predictor + classifier; returns logits and the chosen ratio per image.
- ``choose_ratios``: the predictor alone, for ``learned_resize(img, ratio="auto")``.

Weights are saved with ``pretrained.save_weights`` (config + state_dict); a predictor file names the
classifier it was trained for in its ``student`` metadata (a registry name or a file beside it).
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .classifiers import Classifier
from .errors import WeightsError
from .model import Downscaler, bicubic
from .pretrained import file_stamp, list_pretrained, load_module, load_weights, resolve

__all__ = ["RATIOS", "ResolutionPredictor", "SwitchableBatchNorm2d", "MultiResolutionClassifier", "DynamicClassifier",
           "EarlyExitClassifier", "exit_steps", "choose_ratios", "count_flops", "load_multires", "load_predictor",
           "load_dynamic", "student_of"]

RATIOS = (1, 2, 4)


def count_flops(fn, *args) -> int:
    """FLOPs of ``fn(*args)`` counted by FlopCounterMode (convolutions and matmuls, 2 per MAC).

    Interpolation, pooling and elementwise ops are not counted, so a classical resize counts 0.
    """
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn(*args)
    return int(counter.get_total_flops())


class ResolutionPredictor(nn.Module):
    """Scores ``len(ratios)`` candidate ratios from a ``preview``-px view of each image.

    ``widths`` stride-2 3x3 conv + BN + ReLU layers, global average pooling, one linear layer.
    Input ``[N, 3, H, W]`` float RGB in [0, 1] (any size; squashed to the preview), output logits
    ``[N, len(ratios)]`` (column ``i`` scores ``ratios[i]``).
    """

    def __init__(self, ratios: tuple[int, ...] = RATIOS, preview: int = 56, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.ratios, self.preview, self.widths = tuple(ratios), preview, tuple(widths)
        layers, channels = [], 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, len(ratios))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = bicubic(x, (self.preview, self.preview))
        return self.head(self.features(small * 2 - 1).mean((2, 3)))

    @torch.no_grad()
    def choose(self, x: torch.Tensor) -> torch.Tensor:
        """The chosen ratio of each image: int64 ``[N]``, the argmax of the scores among the ratios the
        image can take (a side of ``s`` pixels takes ratios up to ``s``; ratio 1 always fits)."""
        fits = torch.tensor([r <= min(x.shape[-2:]) for r in self.ratios], device=x.device)
        index = self(x).masked_fill(~fits, float("-inf")).argmax(1)
        return torch.tensor(self.ratios, device=index.device)[index]

    def config(self) -> dict:
        return {"ratios": list(self.ratios), "preview": self.preview, "widths": list(self.widths)}


class SwitchableBatchNorm2d(nn.Module):
    """One BatchNorm2d per resolution; ``index`` (set by MultiResolutionClassifier) picks which."""

    def __init__(self, bn: nn.BatchNorm2d, count: int):
        super().__init__()
        self.bns = nn.ModuleList(copy.deepcopy(bn) for _ in range(count))
        self.index = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bns[self.index](x)


def _switch_batchnorms(module: nn.Module, count: int) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, SwitchableBatchNorm2d(child, count))
        else:
            _switch_batchnorms(child, count)


class MultiResolutionClassifier(nn.Module):
    """A classifier run at several ratios: shared convolutions, one BN set per ratio.

    ``forward(x, ratio)`` takes full-size images ``[N, 3, H, W]`` float in [0, 1], makes the
    thumbnail with this ratio's downscaler (ratio 1: the image itself; the downscalers are fixed and
    always in eval mode), and returns the logits ``[N, num_classes]`` computed with that ratio's BN set.
    Raises ValueError for a ratio it was not built for.
    """

    def __init__(self, arch: str, num_classes: int, normalize: str = "imagenet", ratios: tuple[int, ...] = RATIOS,
                 downscalers: dict | None = None):
        super().__init__()
        self.ratios = tuple(ratios)
        self.classifier = Classifier(arch, num_classes, normalize)
        _switch_batchnorms(self.classifier.net, len(self.ratios))
        self._switches = [m for m in self.classifier.modules() if isinstance(m, SwitchableBatchNorm2d)]
        # downscalers: {str(ratio): {"ratio", "width", "arch", "name"}} for each ratio > 1 (no arch: "paper")
        specs = downscalers or {str(r): {"ratio": r, "width": 32, "name": None} for r in self.ratios if r > 1}
        self.downscaler_specs = {str(k): dict(v) for k, v in specs.items()}
        self.downscalers = nn.ModuleDict({
            k: Downscaler.from_config({"ratio": v["ratio"], "width": v["width"], "arch": v.get("arch", "paper")})
            .requires_grad_(False).eval()
            for k, v in self.downscaler_specs.items()
        })
        missing = [r for r in self.ratios if r > 1 and str(r) not in self.downscalers]
        if missing:
            raise ValueError(f"no downscaler given for ratio(s) {missing}")

    @classmethod
    def from_classifier(cls, classifier: Classifier, downscalers: dict[int, tuple[str, Downscaler]],
                        ratios: tuple[int, ...] = RATIOS) -> "MultiResolutionClassifier":
        """Every BN set starts as a copy of ``classifier``'s BN; ``downscalers``: ``{ratio: (name, E)}``."""
        specs = {str(r): {**e.config(), "name": name} for r, (name, e) in downscalers.items()}
        model = cls(classifier.arch, classifier.num_classes, classifier.normalize, ratios, specs)
        state = {}
        for key, value in classifier.state_dict().items():
            module, _, leaf = f"classifier.{key}".rpartition(".")
            if isinstance(model.get_submodule(module), SwitchableBatchNorm2d):
                state.update({f"{module}.bns.{i}.{leaf}": value for i in range(len(ratios))})
            else:
                state[f"classifier.{key}"] = value
        for r, (_, e) in downscalers.items():
            state.update({f"downscalers.{r}.{k}": v for k, v in e.state_dict().items()})
        model.load_state_dict(state, strict=True)
        return model

    def train(self, mode: bool = True):
        super().train(mode)
        self.downscalers.eval()  # fixed E: its BN statistics never move
        return self

    def thumbnail(self, x: torch.Tensor, ratio: int) -> torch.Tensor:
        """This ratio's thumbnail of ``x`` (clamped to [0, 1]); ratio 1 returns ``x``."""
        self._check(ratio)
        if ratio == 1:
            return x
        with torch.no_grad():
            return self.downscalers[str(ratio)](x).clamp_(0, 1)

    def classify(self, thumb: torch.Tensor, ratio: int) -> torch.Tensor:
        """Logits of a ready-made thumbnail with ``ratio``'s BN set."""
        index = self._check(ratio)
        for m in self._switches:
            m.index = index
        return self.classifier(thumb)

    def forward(self, x: torch.Tensor, ratio: int) -> torch.Tensor:
        return self.classify(self.thumbnail(x, ratio), ratio)

    def _check(self, ratio: int) -> int:
        if ratio not in self.ratios:
            raise ValueError(f"ratio must be one of {self.ratios} (the trained resolutions), got {ratio!r}")
        return self.ratios.index(ratio)

    @property
    def num_classes(self) -> int:
        return self.classifier.num_classes

    def flops(self, image_size: int = 224) -> dict[int, int]:
        """FLOPs per image at each ratio for ``image_size``-px square inputs (downscaler included)."""
        x = torch.zeros(1, 3, image_size, image_size)
        was_training = self.training
        self.eval()
        try:
            return {r: count_flops(self, x, r) for r in self.ratios}
        finally:
            self.train(was_training)

    def config(self) -> dict:
        return {**self.classifier.config(), "ratios": list(self.ratios), "downscalers": self.downscaler_specs}


class DynamicClassifier(nn.Module):
    """Predictor + multi-resolution classifier: each image is classified at the ratio chosen for it.

    ``forward(x)`` with ``x`` ``[N, 3, H, W]`` float in [0, 1] returns ``(logits [N, K], ratios [N])``
    (int64). Images are grouped by chosen ratio, so each group runs as one batch.
    """

    def __init__(self, predictor: ResolutionPredictor, classifier: MultiResolutionClassifier):
        super().__init__()
        if tuple(predictor.ratios) != tuple(classifier.ratios):
            raise ValueError(f"predictor ratios {predictor.ratios} differ from the classifier's {classifier.ratios}")
        self.predictor, self.classifier = predictor, classifier

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ratios = self.predictor.choose(x)
        logits = None
        for r in ratios.unique().tolist():
            pick = ratios == r
            out = self.classifier(x[pick], r)
            if logits is None:
                logits = out.new_empty(len(x), out.shape[1])
            logits[pick] = out
        return logits, ratios

    def flops(self, image_size: int = 224) -> dict[int, int]:
        """FLOPs per image for each choice, the predictor's included."""
        x = torch.zeros(1, 3, image_size, image_size)
        was_training = self.predictor.training
        self.predictor.eval()
        predictor = count_flops(self.predictor, x)
        self.predictor.train(was_training)
        return {r: f + predictor for r, f in self.classifier.flops(image_size).items()}


def exit_steps(confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """How many steps of an early-exit ladder each image runs: ``confidence`` ``[N, S]`` is the top
    softmax probability at each step (cheapest first); an image stops at the first step reaching
    ``threshold`` (the last step otherwise). Returns int64 ``[N]`` in ``1..S``."""
    confident = confidence >= threshold
    confident[:, -1] = True
    return confident.int().argmax(1) + 1


class EarlyExitClassifier(nn.Module):
    """The multi-resolution classifier run cheapest ratio first (an alternative to DRNet's predictor):
    an image whose top softmax probability over ``classes`` (logit indices; default all outputs)
    reaches ``threshold`` stops there, the others go on to the next ratio of ``ladder``.

    ``forward(x)`` with ``x`` ``[N, 3, H, W]`` float in [0, 1] returns ``(logits [N, K], ratios [N])``:
    the logits of the ratio each image stopped at. Cost per image = the sum of the ratios it ran.
    """

    def __init__(self, classifier: MultiResolutionClassifier, threshold: float, ladder: tuple[int, ...] = (2, 1),
                 classes: list[int] | None = None):
        super().__init__()
        unknown = [r for r in ladder if r not in classifier.ratios]
        if unknown or not ladder:
            raise ValueError(f"ladder {ladder} must be ratios of the classifier {classifier.ratios}")
        self.classifier, self.threshold, self.ladder, self.classes = classifier, threshold, tuple(ladder), classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, ratios = None, torch.zeros(len(x), dtype=torch.long, device=x.device)
        todo = torch.arange(len(x), device=x.device)
        for step, r in enumerate(self.ladder):
            out = self.classifier(x[todo], r)
            if logits is None:
                logits = out.new_empty(len(x), out.shape[1])
            logits[todo], ratios[todo] = out, r
            scores = out if self.classes is None else out[:, self.classes]
            if step + 1 < len(self.ladder):
                todo = todo[scores.float().softmax(1).amax(1) < self.threshold]
                if len(todo) == 0:
                    break
        return logits, ratios


def load_multires(name_or_path: str | os.PathLike, device: str | torch.device | None = None) -> MultiResolutionClassifier:
    """A MultiResolutionClassifier in eval mode from a registry name or a file (strict load)."""
    return load_module(MultiResolutionClassifier, name_or_path, device)


def load_predictor(name_or_path: str | os.PathLike, device: str | torch.device | None = None) -> ResolutionPredictor:
    """A ResolutionPredictor in eval mode from a registry name or a file (strict load)."""
    return load_module(ResolutionPredictor, name_or_path, device)


def student_of(predictor: str | os.PathLike) -> str:
    """The classifier a predictor was trained for: the registry entry's ``student``, else the file's
    ``student`` metadata (a registry name, or a file name resolved beside the predictor file).
    Raises WeightsError if neither names one."""
    entry = list_pretrained(kind=None, all=True).get(predictor) if isinstance(predictor, str) else None
    if entry and entry.get("student"):
        return entry["student"]
    payload = load_weights(predictor)
    student = payload.get("student")
    if not student:
        raise WeightsError(f"{predictor}: has no 'student' metadata; pass the classifier explicitly")
    try:
        resolve(student)
        return student
    except WeightsError:
        beside = resolve(predictor)[0].parent / Path(student).name
        if beside.is_file():
            return str(beside)
        raise WeightsError(f"{predictor}: its classifier {student!r} is neither registered nor beside it") from None


def load_dynamic(predictor: str | os.PathLike, classifier: str | os.PathLike | None = None,
                 device: str | torch.device | None = None) -> DynamicClassifier:
    """A DynamicClassifier in eval mode: ``predictor`` plus ``classifier`` (default: the one the
    predictor's metadata names)."""
    model = DynamicClassifier(load_predictor(predictor), load_multires(classifier or student_of(predictor)))
    return model.to(device).eval()


@functools.lru_cache(maxsize=4)
def _cached_predictor(name: str, device: str, stamp: tuple | None) -> ResolutionPredictor:
    """Loaded once per name or path, device and file version (``pretrained.file_stamp``)."""
    return load_predictor(name, device=device)


def choose_ratios(batch: torch.Tensor, weights: str | os.PathLike | ResolutionPredictor | None = None,
                  device: str | torch.device | None = None) -> list[int]:
    """The ratio (1, 2 or 4) the predictor picks for each image of float ``[N, 3, H, W]`` in [0, 1].

    ``weights``: a registry name, a file or a ResolutionPredictor; default: the registry's
    ``"auto"`` default. Raises ValueError for a batch of another shape.
    """
    if batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"batch must be float [N, 3, H, W] RGB in [0, 1], got shape {tuple(batch.shape)}")
    device = torch.device(device) if device is not None else batch.device
    if isinstance(weights, ResolutionPredictor):
        predictor = weights.to(device).eval()
    else:
        if weights is None:
            from .pretrained import default_weights

            weights = default_weights("auto")
        predictor = _cached_predictor(os.fspath(weights), str(device), file_stamp(weights))
    return predictor.choose(batch.float().to(device)).tolist()
