import math

import numpy as np
import pytest
import torch
from torch import nn

from downscale.evaluation.cost import flops, median_time
from downscale.evaluation.quality import thumbnail_quality


def test_quality_hand_computed():
    ref = torch.full((1, 3, 8, 8), 0.5)
    shifted = ref + 0.1  # MSE 0.01 -> PSNR 20 dB; mean shift 0.1, std unchanged
    q = thumbnail_quality(shifted, ref)
    assert q["psnr"][0] == pytest.approx(20.0)
    np.testing.assert_allclose(q["mean_shift"], [[0.1, 0.1, 0.1]], atol=1e-6)
    np.testing.assert_allclose(q["std_shift"], [[0, 0, 0]], atol=1e-6)
    same = thumbnail_quality(ref, ref)
    assert math.isinf(same["psnr"][0]) and same["ssim"][0] == pytest.approx(1.0)


def test_quality_on_tiny_thumbnails_and_shape_check():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 5, 4, generator=g), torch.rand(2, 3, 5, 4, generator=g)
    q = thumbnail_quality(a, b)
    assert q["ssim"].shape == (2,) and (q["ssim"] < 1).all()
    with pytest.raises(ValueError, match="shape"):
        thumbnail_quality(a, b[:, :, :4])


def test_flops_of_a_convolution():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    # 2 FLOPs per multiply-accumulate: 2 * (8 * 10 * 10 outputs) * (3 * 3 * 3 inputs each)
    assert flops(conv, torch.zeros(1, 3, 10, 10)) == 2 * 8 * 100 * 27
    assert flops(lambda x: nn.functional.interpolate(x, scale_factor=0.5), torch.zeros(1, 3, 10, 10)) == 0


def test_median_time_counts_only_timed_runs():
    calls = []
    t = median_time(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and t >= 0
    with pytest.raises(ValueError):
        median_time(lambda: None, repeats=0)


def test_measure_cost_counts_the_full_size_network_beside_each_row():
    from downscale.classifiers import Classifier
    from downscale.evaluation.runner import measure_cost

    classifier = Classifier("mobilenet_v2", 10).eval()
    images = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    counted, _ = measure_cost([("full", 1), ("bicubic", 2)], images, classifier, {}, 0, "cpu")
    assert counted["full", 1]["classifier"] == counted["full", 1]["full_size"] == counted["bicubic", 2]["full_size"]
    assert counted["bicubic", 2]["classifier"] < counted["full", 1]["classifier"] / 3
    classifier.upscale = 2.0  # a student that enlarges its 32 px thumbnail to 64 px costs the full size
    counted, _ = measure_cost([("bicubic", 2)], images, classifier, {}, 0, "cpu")
    assert counted["bicubic", 2]["classifier"] == counted["bicubic", 2]["full_size"]
