"""Shared fixtures: the ../shared data folder (tests skip without it), small real photos, a tiny training
folder and a small DRNet multi-resolution classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from downscale.classifiers import Classifier
from downscale.dynamic import MultiResolutionClassifier
from downscale.model import Downscaler

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared data is only beside the repo on the project machines)")
    return path


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def coffee_array() -> np.ndarray:
    from skimage import data

    return data.coffee()  # 400x600x3 uint8


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models run 10-20x faster on one thread when the CPU cores are shared and busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A 2-class wnid ImageFolder of 24 random 64x64 images and a random 1001-output MobileNetV2."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for wnid in ("n01440764", "n02102040"):
        (root / "data" / wnid).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "data" / wnid / f"{i}.png")
    torch.manual_seed(0)
    torch.save(torchvision.models.mobilenet_v2(num_classes=1001).state_dict(), root / "teacher.pt")
    return root


# DRNet: a small classifier with non-trivial BN statistics and its multi-resolution version
@pytest.fixture(scope="module")
def base():
    torch.manual_seed(0)
    classifier = Classifier("mobilenet_v2", 5, "minus1to1").eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong BN copy shows in the logits
        for m in classifier.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return classifier


@pytest.fixture
def multires(base):
    torch.manual_seed(1)
    downscalers = {r: (f"identity-r{r}", Downscaler(r).eval()) for r in (2, 4)}
    return MultiResolutionClassifier.from_classifier(base, downscalers).eval()
