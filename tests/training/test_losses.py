import math

import pytest
import torch

from downscale.classifiers import Classifier
from downscale.thumbnet.nets import fm_channels, tap
from downscale.training.losses import (
    FMDecoder,
    classification,
    colour_shift,
    distillation,
    feature_mapping,
    moment_matching,
)


def test_moment_matching_known_answer():
    image = torch.zeros(1, 1, 4, 4)
    image[..., 2:, :] = 1  # mean 0.5, variance 0.25
    thumb = torch.full((1, 1, 2, 2), 0.5)  # mean 0.5, variance 0
    assert moment_matching(thumb, image).item() == pytest.approx(0.25**2)
    thumb = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])  # same mean and variance
    assert moment_matching(thumb, image).item() == 0
    shifted = torch.full((1, 1, 2, 2), 0.75)  # mean gap 0.25, variance gap 0.25
    assert moment_matching(shifted, image).item() == pytest.approx(2 * 0.25**2)


def test_moment_matching_averages_channels():
    image = torch.zeros(2, 3, 4, 4)
    thumb = torch.zeros(2, 3, 2, 2)
    thumb[0, 1] = 1.0  # one of six image-channels has a mean gap of 1
    assert moment_matching(thumb, image).item() == pytest.approx(1 / 6)


def test_colour_shift_is_the_mean_absolute_gap_of_channel_means():
    image = torch.zeros(2, 3, 4, 4)
    image[:, :, :2] = 1  # every channel mean 0.5
    thumb = torch.full((2, 3, 2, 2), 0.5)
    assert colour_shift(thumb, image).item() == 0  # same means, although the variances differ
    thumb[0, 2] = 0.25  # one of six image-channels 0.25 too dark, one 0.125 too bright
    thumb[1, 0] = 0.625
    assert colour_shift(thumb, image).item() == pytest.approx((0.25 + 0.125) / 6)


def test_distillation_known_answer():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # softmax [0.75, 0.25]
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert distillation(student, teacher, tau=1).item() == pytest.approx(kl, rel=1e-6)
    # at tau 2 the same softened distributions need doubled teacher logits; the loss is scaled by tau^2
    assert distillation(student, 2 * teacher, tau=2).item() == pytest.approx(4 * kl, rel=1e-6)
    assert distillation(teacher, teacher, tau=4).item() == pytest.approx(0, abs=1e-7)


def test_distillation_is_a_batch_mean():
    student = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert distillation(student, teacher, tau=1).item() == pytest.approx(kl / 2, rel=1e-6)


def test_classification_known_answer():
    assert classification(torch.zeros(1, 4), torch.tensor([1])).item() == pytest.approx(math.log(4))
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p(class 1) = 0.75
    assert classification(logits, torch.tensor([1])).item() == pytest.approx(-math.log(0.75))


def test_feature_mapping_known_answer():
    assert feature_mapping(torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)).item() == 1.0
    assert feature_mapping(torch.full((1, 1, 2, 2), 3.0), torch.ones(1, 1, 2, 2)).item() == 4.0


@pytest.mark.parametrize("ratio", [2, 4])
def test_fm_decoder_shapes(ratio):
    decoder = FMDecoder(32, ratio)
    assert decoder(torch.zeros(2, 32, 7, 7)).shape == (2, 32, 7 * ratio, 7 * ratio)
    # end to end: S's features on the thumbnail decode to T's on the full image
    torch.manual_seed(0)
    net = Classifier("mobilenet_v2", 1001, "minus1to1").eval()
    layer = "net.features.6"
    decoder = FMDecoder(fm_channels(net, layer, 64), ratio)
    store: dict = {}
    tap(net, layer, store)
    with torch.no_grad():
        net(torch.rand(1, 3, 64, 64))
        full = store["features"]
        net(torch.rand(1, 3, 64 // ratio, 64 // ratio))
        decoded = decoder(store["features"])
    assert full.shape == (1, 32, 8, 8)
    assert decoded.shape == full.shape


def test_fm_decoder_rejects_other_ratios():
    with pytest.raises(ValueError, match="power-of-two"):
        FMDecoder(8, 3)
