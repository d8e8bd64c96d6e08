"""DRNet fixtures: a small classifier with non-trivial BN statistics and its multi-resolution version."""

import pytest
import torch

from downscale.classifiers import Classifier
from downscale.dynamic import MultiResolutionClassifier
from downscale.model import Downscaler


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
