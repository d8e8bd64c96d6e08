import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from downscale.thumbnet.config import TrainConfig

SHARED = __import__("pathlib").Path(__file__).resolve().parents[2] / ".." / "shared"


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


@pytest.fixture
def tiny_config(tiny_data, tmp_path):
    def make(**overrides):
        options = dict(data=str(tiny_data / "data"), teacher_weights=str(tiny_data / "teacher.pt"),
                       out=str(tmp_path / "run"), image_size=64, batch_size=4, limit=8, holdout=4,
                       epochs=1, workers=0, log_every=1, cache=str(tmp_path / "cache"))
        options.update(overrides)
        return TrainConfig(**options)
    return make
