import pytest
import torch

from downscale.model import Downscaler, bicubic, output_size


@pytest.mark.parametrize(
    "size, ratio, expected",
    [((224, 224), 2, (112, 112)), ((224, 224), 4, (56, 56)), ((7, 9), 2, (3, 4)), ((7, 9), 4, (1, 2)),
     ((300, 300), 3, (100, 100)), ((10, 10), 2.5, (4, 4)), ((5, 5), 1, (5, 5)), ((4, 4), 4, (1, 1))],
)
def test_output_size_is_floor_of_side_over_ratio(size, ratio, expected):
    assert output_size(*size, ratio) == expected


def test_output_size_errors_name_the_problem():
    with pytest.raises(ValueError, match="ratio must be >= 1"):
        output_size(10, 10, 0.5)
    with pytest.raises(ValueError, match="3x10 image is too small for ratio 4"):
        output_size(3, 10, 4)


@pytest.mark.parametrize("ratio", [2, 4])
@pytest.mark.parametrize("size", [(224, 224), (7, 9), (33, 17), (4, 5)])
def test_untrained_downscaler_is_exactly_antialiased_bicubic(ratio, size):
    torch.manual_seed(0)
    model = Downscaler(ratio).eval()
    x = torch.rand(3, 3, *size)
    y = model(x)
    assert y.shape == (3, 3, *output_size(*size, ratio))
    assert torch.equal(y, bicubic(x, y.shape[-2:]))


def test_correction_is_added_and_cropped_for_odd_sizes():
    model = Downscaler(4, width=8).eval()
    torch.nn.init.constant_(model.correction.bias, 0.25)
    x = torch.rand(1, 3, 37, 41)
    y = model(x)
    assert y.shape == (1, 3, 9, 10)
    torch.testing.assert_close(y, bicubic(x, (9, 10)) + 0.25)


def test_downscaler_trains_end_to_end():
    model = Downscaler(2, width=8)
    x = torch.rand(2, 3, 16, 16)
    model(x).square().mean().backward()
    assert model.correction.weight.grad.abs().sum() > 0


def test_unsupported_ratio_is_refused():
    with pytest.raises(ValueError, match="ratio must be one of"):
        Downscaler(3)
