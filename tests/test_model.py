import copy

import pytest
import torch
import torch.nn.functional as F

import downscale.model
from downscale.model import (
    AreaDownscaler,
    Downscaler,
    FusedDownscaler,
    PaperDownscaler,
    ResidualDownscaler,
    UnshuffleDownscaler,
    bicubic,
    grid_bicubic,
    output_size,
)


def skip(arch: str, x: torch.Tensor, ratio: int) -> torch.Tensor:
    """The classical thumbnail E corrects: block mean for "area", bicubic on the ratio's grid otherwise."""
    if arch == "area":
        rows, cols = output_size(x.shape[-2], x.shape[-1], ratio)
        return F.avg_pool2d(x[..., : rows * ratio, : cols * ratio], ratio)
    return grid_bicubic(x, ratio)


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


@pytest.mark.parametrize("arch", ["paper", "unshuffle"])
@pytest.mark.parametrize("ratio", [2, 4])
@pytest.mark.parametrize("size", [(224, 224), (7, 9), (33, 17), (4, 5)])
def test_untrained_downscaler_is_exactly_antialiased_bicubic(ratio, size, arch):
    torch.manual_seed(0)
    model = Downscaler(ratio, arch=arch).eval()
    x = torch.rand(3, 3, *size)
    y = model(x)
    assert y.shape == (3, 3, *output_size(*size, ratio))
    assert torch.equal(y, grid_bicubic(x, ratio))
    if size[0] % ratio == 0 and size[1] % ratio == 0:  # then also torchvision's resize to that size
        torch.testing.assert_close(y, bicubic(x, y.shape[-2:]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("ratio", [2, 4])
@pytest.mark.parametrize("size", [(224, 224), (7, 9), (33, 17), (4, 5)])
def test_untrained_area_downscaler_is_the_block_mean(ratio, size):
    model = Downscaler(ratio, arch="area").eval()
    x = torch.rand(3, 3, *size)
    y = model(x)
    assert y.shape == (3, 3, *output_size(*size, ratio))
    torch.testing.assert_close(y, skip("area", x, ratio), rtol=0, atol=1e-6)
    if size[0] % ratio == 0 and size[1] % ratio == 0:  # then also torch's area resize
        torch.testing.assert_close(y, F.interpolate(x, size=y.shape[-2:], mode="area"), rtol=0, atol=1e-6)


@pytest.mark.parametrize("ratio", [2, 4])
def test_a_zero_correction_runs_as_the_block_mean_alone_and_still_trains(ratio, monkeypatch):
    model = _trained_area_model(ratio)
    torch.nn.init.zeros_(model.correction.weight)  # as in area-identity-r4-v0
    x = torch.rand(2, 3, 75, 50)
    u8 = (x * 255).round().to(torch.uint8)
    monkeypatch.setattr(downscale.model, "STRIP_PIXELS", 2 * 4 * (50 // ratio))  # several strips, a short last one
    recorded = model(x)  # autograd records: the two convolutions, so the correction still gets a gradient
    recorded.sum().backward()
    assert model.correction.weight.grad.abs().sum() > 0
    with torch.no_grad():
        y, y8 = model(x), model(u8)
    block_mean = F.avg_pool2d(x[..., : 75 // ratio * ratio, : 50 // ratio * ratio], ratio)
    torch.testing.assert_close(y, block_mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(y, recorded.detach(), rtol=0, atol=1e-6)
    torch.testing.assert_close(y8, F.avg_pool2d(u8[..., : 75 // ratio * ratio, : 50 // ratio * ratio].float(),
                                                ratio) / 255, rtol=0, atol=1e-6)
    assert y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("arch", ["paper", "unshuffle"])
def test_correction_is_added_and_cropped_for_odd_sizes(arch):
    model = Downscaler(4, width=8, arch=arch).eval()
    torch.nn.init.constant_(model.correction.bias, 0.25)
    x = torch.rand(1, 3, 37, 41)
    y = model(x)
    assert y.shape == (1, 3, 9, 10)
    torch.testing.assert_close(y, skip(arch, x, 4) + 0.25)


def test_downscaler_trains_end_to_end():
    model = Downscaler(2, width=8)
    x = torch.rand(2, 3, 16, 16)
    model(x).square().mean().backward()
    assert model.correction.weight.grad.abs().sum() > 0


def test_unshuffle_first_layer_sees_exactly_one_block_per_output_pixel():
    model = Downscaler(4, width=4, arch="unshuffle").eval()
    model.correction = torch.nn.Conv2d(4, 3, 1)  # a 1x1 head isolates the first layer's footprint

    def residual(x):
        return model(x) - grid_bicubic(x, 4)

    x = torch.rand(1, 3, 16, 16)
    moved = x.clone()
    moved[..., 4:8, 8:12] += 0.5  # one 4x4 block: rows 1, columns 2 of the thumbnail
    changed = (residual(moved) - residual(x)).abs().sum(1)[0] > 1e-6
    assert changed.nonzero().tolist() == [[1, 2]]


def test_flops_of_the_fast_form_are_far_lower():
    from torch.utils.flop_counter import FlopCounterMode

    def flops(arch):
        with FlopCounterMode(display=False) as counter:
            Downscaler(4, arch=arch)(torch.rand(1, 3, 256, 256))
        return counter.get_total_flops()

    assert flops("paper") / flops("unshuffle") == pytest.approx(786 / 157, rel=0.02)


def test_unsupported_ratio_or_arch_is_refused():
    with pytest.raises(ValueError, match="ratio must be one of"):
        Downscaler(3)
    with pytest.raises(ValueError, match="arch must be one of"):
        Downscaler(2, arch="deep")


@pytest.mark.parametrize("arch", ["paper", "unshuffle", "area"])
@pytest.mark.parametrize("ratio", [2, 4])
def test_eval_forward_with_folded_layers_equals_training_graph(arch, ratio):
    torch.manual_seed(0)
    model = Downscaler(ratio, width=8, arch=arch)
    model.train()
    for _ in range(3):  # give BatchNorm non-trivial running statistics
        model(torch.rand(4, 3, 32, 32))
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    x = torch.rand(2, 3, 37, 42)
    model.eval()
    with torch.no_grad():
        folded = model(x)
        model.train()
        model.features[1].eval()  # the training graph, with BatchNorm on its running statistics
        torch.testing.assert_close(folded, model(x), rtol=1e-5, atol=1e-5)


def _trained_area_model(ratio: int) -> Downscaler:
    torch.manual_seed(0)
    model = Downscaler(ratio, width=8, arch="area")
    for _ in range(3):
        model(torch.rand(4, 3, 32, 32))
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    return model.eval()


@pytest.mark.parametrize("ratio", [2, 4])
def test_area_strips_join_exactly(ratio, monkeypatch):
    model, x = _trained_area_model(ratio), torch.rand(2, 3, 75, 50)
    with torch.no_grad():
        whole = model(x)
        # 2 images x 4 rows x 25 // ratio columns per strip: several strips and a short last one
        monkeypatch.setattr(downscale.model, "STRIP_PIXELS", 2 * 4 * (50 // ratio))
        assert torch.equal(model(x), whole)


@pytest.mark.parametrize("arch", ["paper", "unshuffle", "area"])
def test_uint8_input_reads_as_value_over_255(arch):
    model = _trained_area_model(2) if arch == "area" else Downscaler(2, width=8, arch=arch).eval()
    u8 = torch.randint(0, 256, (1, 3, 20, 22), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(model(u8), model(u8.float() / 255), rtol=0, atol=1e-6)
    with pytest.raises(TypeError, match="uint8 at inference"):
        model.train()(u8)


@pytest.mark.parametrize("ratio", [2, 4])
def test_area_downscaler_keeps_flat_colours_exactly(ratio):
    model = _trained_area_model(ratio)
    torch.nn.init.normal_(model.correction.weight, std=0.5)
    flat = torch.tensor([0.8, 0.1, 0.3]).view(1, 3, 1, 1).expand(1, 3, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(flat), flat[..., : 24 // ratio, : 40 // ratio], rtol=0, atol=1e-6)
        step = flat.clone()
        step[..., 20:] = 0.5  # an edge: here the correction may act, and does
        assert (model(step) - skip("area", step, ratio)).abs().max() > 1e-3


@pytest.mark.parametrize("arch", ["paper", "unshuffle", "area"])
def test_inference_computes_in_the_requested_dtype(arch):
    model = _trained_area_model(2) if arch == "area" else Downscaler(2, width=8, arch=arch).eval()
    u8 = torch.randint(0, 256, (1, 3, 20, 22), dtype=torch.uint8)
    with torch.no_grad():
        exact = model(u8)
        half = model(u8, torch.bfloat16)
    assert exact.dtype == torch.float32 and half.dtype == torch.bfloat16
    assert (half.float() - exact).abs().max() < 3 / 255
    with pytest.raises(ValueError, match="while training"):
        model.train()(u8.float() / 255, torch.bfloat16)


SHARP_SKIPS = {"nearest": lambda x, size: F.interpolate(x, size=size, mode="nearest"),
               "bicubic": lambda x, size: F.interpolate(x, size=size, mode="bicubic", align_corners=False)}


@pytest.mark.parametrize("skip", sorted(SHARP_SKIPS))
@pytest.mark.parametrize("ratio", [2, 4])
def test_untrained_sharp_skips_are_torch_resizes_and_fold_exactly(skip, ratio, monkeypatch):
    model = Downscaler(ratio, width=8, arch="area", skip=skip).eval()
    x = torch.rand(2, 3, 37, 42)
    u8 = (x * 255).round().to(torch.uint8)
    size = output_size(37, 42, ratio)
    crop = (..., slice(0, size[0] * ratio), slice(0, size[1] * ratio))
    with torch.no_grad():  # a zero correction: the torch resize alone (nearest = each block's top-left pixel)
        assert torch.equal(model(x), SHARP_SKIPS[skip](x[crop], size))
        torch.testing.assert_close(model(u8), SHARP_SKIPS[skip](u8[crop].float() / 255, size), rtol=0, atol=1e-7)
    _check_a_trained_skip_layout(model, x, ratio, monkeypatch)
    x.requires_grad_(True)
    model(x).sum().backward()  # autograd records: the skip and the correction both pass gradients
    assert x.grad.abs().sum() > 0 and model.correction.weight.grad.abs().sum() > 0
    assert model.config() == {"ratio": ratio, "width": 8, "arch": "area", "skip": skip}
    assert "skip" not in Downscaler(ratio, arch="area").config()  # older weight files load unchanged


def test_bicubic_skip_weights_at_an_interior_pixel():
    # ratio 2: Keys' cubic (a = -0.75) weights -3/32, 19/32, 19/32, -3/32 around each output pixel's centre
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 3, 8, 8) / 8
    with torch.no_grad():
        out = Downscaler(2, width=8, arch="area", skip="bicubic").eval()(ramp)
    torch.testing.assert_close(out[0, 0, 0, 1:3], torch.tensor([2.5, 4.5]) / 8)


def test_nearest_skip_needs_the_area_layout():
    with pytest.raises(ValueError, match="skip"):
        Downscaler(2, arch="paper", skip="nearest")
    with pytest.raises(ValueError, match="skip"):
        Downscaler(2, arch="area", skip="lanczos")


BN_KEYS = ["features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var",
           "features.1.num_batches_tracked"]
LAYOUTS = [  # (arch, skip, class, state_dict keys: those of the weight files)
    ("paper", "mean", PaperDownscaler, ["correction.weight", "correction.bias", "features.0.weight", *BN_KEYS]),
    ("unshuffle", "mean", UnshuffleDownscaler,
     ["correction.weight", "correction.bias", "features.0.1.weight", *BN_KEYS]),
    ("area", "mean", AreaDownscaler, ["correction.weight", "features.0.1.weight", *BN_KEYS]),
    ("area", "nearest", AreaDownscaler, ["correction.weight", "features.0.1.weight", *BN_KEYS]),
]


@pytest.mark.parametrize("arch, skip, layout, keys", LAYOUTS)
def test_downscaler_builds_the_layout_its_config_names(arch, skip, layout, keys):
    model = Downscaler(2, 8, arch, skip)
    assert type(model) is layout and isinstance(model, Downscaler) and list(model.state_dict()) == keys
    assert model.config() == {"ratio": 2, "width": 8, "arch": arch, **({"skip": skip} if skip != "mean" else {})}
    again = Downscaler(**model.config())
    assert type(again) is layout and again.load_state_dict(model.state_dict()) is not None
    direct = layout(2, 8, skip=skip)
    assert list(direct.state_dict()) == keys and direct.config() == model.config()
    twin = copy.deepcopy(model)
    assert type(twin) is layout and torch.equal(twin.features[1].running_var, model.features[1].running_var)


@pytest.mark.parametrize("arch, skip, layout, keys", LAYOUTS)
def test_from_config_is_the_explicit_factory(arch, skip, layout, keys):
    model = Downscaler.from_config({"ratio": 2, "width": 8, "arch": arch, "skip": skip})
    assert type(model) is layout and list(model.state_dict()) == keys
    assert type(Downscaler.from_config(model.config())) is layout
    assert type(Downscaler.from_config({"ratio": 4})) is PaperDownscaler  # files written before "arch" existed
    with pytest.raises(ValueError, match="arch must be one of"):
        Downscaler.from_config({"ratio": 2, "arch": "deep"})


def test_a_layout_class_refuses_another_arch():
    with pytest.raises(ValueError, match="PaperDownscaler is arch 'paper', got arch='area'"):
        PaperDownscaler(2, arch="area")
    with pytest.raises(ValueError, match="skip"):
        UnshuffleDownscaler(2, skip="nearest")


def _trained(arch: str, skip: str, ratio: int) -> Downscaler:
    """A layout with BatchNorm statistics and a correction that are not the defaults, in eval mode."""
    torch.manual_seed(ratio)
    model = Downscaler(ratio, 8, arch, skip)
    for _ in range(3):
        model(torch.rand(4, 3, 32, 32))
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    return model.eval()


@pytest.mark.parametrize("ratio", [2, 4])
@pytest.mark.parametrize("arch, skip, layout, keys", LAYOUTS)
def test_fused_form_equals_the_eval_forward_exactly(arch, skip, layout, keys, ratio, monkeypatch):
    model = _trained(arch, skip, ratio)
    fused = model.fuse()
    assert isinstance(fused, FusedDownscaler) and not isinstance(fused, Downscaler) and fused.ratio == ratio
    assert list(fused.parameters()) == [] and not any(t.requires_grad for t in fused.buffers())
    x = torch.rand(2, 3, 39, 45)
    u8 = (x * 255).round().to(torch.uint8)
    with torch.no_grad():
        for strip_pixels in (65536, 2 * 3 * (45 // ratio)):  # one strip, several ("area")
            monkeypatch.setattr(downscale.model, "STRIP_PIXELS", strip_pixels)
            for images, dtype in ((x, None), (u8, None), (u8, torch.bfloat16), (x, torch.float64)):
                assert torch.equal(fused(images, dtype), model(images, dtype))
        model.train()  # fuse() folds BatchNorm's running statistics whatever the mode, and keeps the mode
        assert torch.equal(model.fuse()(x), fused(x)) and model.training
        assert torch.equal(fused.train()(x), fused.eval()(x))  # no train mode of its own
    with pytest.raises(TypeError, match="uint8 at inference"):
        fused(x.to(torch.int16))


@pytest.mark.parametrize("arch, skip, layout, keys", LAYOUTS)
def test_fused_form_is_a_snapshot_of_the_weights(arch, skip, layout, keys):
    model = _trained(arch, skip, 2)
    fused, x = model.fuse(), torch.rand(1, 3, 20, 22)
    with torch.no_grad():
        before = fused(x)
        for p in model.parameters():  # as an optimiser step would, in place
            p.add_(0.05)
        model.features[1].running_mean.add_(0.1)
        assert torch.equal(fused(x), before)
        assert (model(x) - before).abs().max() > 1e-3  # E itself moved ...
        assert torch.equal(model.fuse()(x), model(x))  # ... and fusing again follows it


@pytest.mark.parametrize("arch, skip, layout, keys", LAYOUTS)
def test_eval_forward_still_trains_the_live_parameters(arch, skip, layout, keys):
    model = _trained(arch, skip, 2)
    x = torch.rand(1, 3, 20, 22, requires_grad=True)
    model(x).square().sum().backward()
    assert x.grad.abs().sum() > 0 and model.correction.weight.grad.abs().sum() > 0
    assert model.features[1].weight.grad.abs().sum() > 0  # through the folded BatchNorm
    fused, grad = model.fuse(), x.grad.clone()
    x.grad = None
    fused(x).square().sum().backward()  # the snapshot: gradients reach the input, not E
    assert torch.equal(x.grad, grad)


def _check_a_trained_skip_layout(model, x, ratio, monkeypatch):
    """With BatchNorm statistics and a random correction: the inference form (several strips) equals the
    training graph, and flat colours stay exact."""
    torch.manual_seed(0)
    model.train()
    for _ in range(3):
        model(torch.rand(4, 3, 32, 32))
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    model.eval()
    monkeypatch.setattr(downscale.model, "STRIP_PIXELS", 2 * 4 * (x.shape[-1] // ratio))  # several strips
    with torch.no_grad():
        folded = model(x)
        model.train()
        model.features[1].eval()
        torch.testing.assert_close(folded, model(x), rtol=1e-5, atol=1e-5)
        model.eval()
        flat = torch.tensor([0.8, 0.1, 0.3]).view(1, 3, 1, 1).expand(1, 3, 24, 40)
        torch.testing.assert_close(model(flat), flat[..., : 24 // ratio, : 40 // ratio], rtol=0, atol=1e-6)


def test_skip_mean_is_the_old_spelling_of_area():
    with pytest.warns(DeprecationWarning, match="skip method 'mean' is now spelled 'area'"):
        old = Downscaler(2, 8, "area", "mean")
    new = Downscaler(2, 8, "area", "area")
    assert old.skip == new.skip == Downscaler(2, 8, "area").skip == "area"
    assert old.config() == new.config() == {"ratio": 2, "width": 8, "arch": "area"}  # files unchanged
    with pytest.raises(ValueError, match=r"skip must be one of \('area', 'nearest', 'bicubic'\)"):
        Downscaler(2, 8, "area", "block")


def test_as_float_is_the_one_uint8_to_float():
    import re

    from downscale.model import as_float

    from conftest import REPO

    u8 = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(as_float(u8), torch.tensor([0.0, 0.2, 1.0])) and as_float(u8).dtype == torch.float32
    by_hand = re.compile(r"\.(float|to\(torch\.float32\))\(\)\s*/\s*255|\.div_?\(255")
    users = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "downscale").rglob("*.py")
                   if by_hand.search(p.read_text()))
    assert users == ["downscale/methods.py"]  # as_float itself


def _trained_residual(ratio: int, skip: str = "area", blocks: int = 2) -> Downscaler:
    """A residual E with BatchNorm statistics and a correction that are not the defaults, in eval mode."""
    torch.manual_seed(ratio)
    model = Downscaler(ratio, 8, "residual", skip, blocks=blocks)
    for _ in range(3):
        model(torch.rand(4, 3, 32, 32))
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    return model.eval()


@pytest.mark.parametrize("skip", ["area", "nearest", "bicubic"])
@pytest.mark.parametrize("ratio", [2, 4])
@pytest.mark.parametrize("size", [(224, 224), (37, 42), (33, 17), (4, 5)])
def test_untrained_residual_downscaler_is_its_skip_exactly(size, ratio, skip):
    model = Downscaler(ratio, 8, "residual", skip)
    assert isinstance(model, ResidualDownscaler)
    x = torch.rand(2, 3, *size)
    rows, cols = output_size(*size, ratio)
    blocks = x[..., : rows * ratio, : cols * ratio]
    expected = {"area": F.avg_pool2d(blocks, ratio), "nearest": blocks[..., ::ratio, ::ratio],
                "bicubic": F.interpolate(blocks, size=(rows, cols), mode="bicubic", align_corners=False)}[skip]
    with torch.no_grad():
        for mode in (model.train(), model.eval()):  # the training graph and the inference form
            y = mode(x)
            assert y.shape == (2, 3, rows, cols) and torch.equal(y, expected)


@pytest.mark.parametrize("blocks", [0, 1, 2])
@pytest.mark.parametrize("ratio", [2, 4])
def test_residual_fused_form_equals_the_training_graph(ratio, blocks):
    model = _trained_residual(ratio, blocks=blocks)
    for block in model.body:  # non-trivial statistics and scales in the blocks' BatchNorms too
        for bn in (block[1], block[4]):
            torch.nn.init.uniform_(bn.weight, 0.5, 1.5)
            torch.nn.init.normal_(bn.bias, std=0.1)
    x = torch.rand(2, 3, 39, 45)
    u8 = (x * 255).round().to(torch.uint8)
    fused = model.fuse()
    assert list(fused.parameters()) == [] and not any(t.requires_grad for t in fused.buffers())
    with torch.no_grad():
        folded = model(x)
        for images, dtype in ((x, None), (u8, None), (u8, torch.bfloat16), (x, torch.float64)):
            assert torch.equal(fused(images, dtype), model(images, dtype))
        torch.testing.assert_close(model(u8), model(u8.float() / 255), rtol=0, atol=1e-6)
        model.train()
        for m in model.modules():  # the training graph, with BatchNorm on its running statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        torch.testing.assert_close(folded, model(x), rtol=1e-5, atol=1e-5)
    assert folded.shape == (2, 3, *output_size(39, 45, ratio))


def test_residual_config_round_trips_and_keeps_its_depth():
    model = Downscaler(4, 16, "residual", blocks=3)
    assert model.config() == {"ratio": 4, "width": 16, "arch": "residual", "blocks": 3}
    assert len(model.body) == 3
    again = Downscaler.from_config(model.config())
    assert type(again) is ResidualDownscaler and again.config() == model.config()
    again.load_state_dict(model.state_dict())
    assert Downscaler(2, 8, "residual", "bicubic").config() == {"ratio": 2, "width": 8, "arch": "residual",
                                                                "skip": "bicubic", "blocks": 2}
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="blocks must be an int >= 0"):
            Downscaler(2, 8, "residual", blocks=bad)
    with pytest.raises(TypeError):
        Downscaler(2, 8, "area", blocks=2)  # only the residual layout has blocks


def test_residual_downscaler_trains():
    torch.manual_seed(0)
    model = Downscaler(2, 8, "residual")
    x = torch.rand(4, 3, 24, 24)
    before = model.eval()(x).detach()
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    (model(x) - 1).square().mean().backward()
    assert model.correction.weight.grad.abs().sum() > 0
    assert model.body[0][0].weight.grad.abs().sum() == 0  # behind the zero correction, until it moves
    optimiser.step()
    with torch.no_grad():
        assert (model.eval()(x) - before).abs().max() > 1e-3
    model.train().zero_grad()
    (model(x) - 1).square().mean().backward()
    assert model.body[0][0].weight.grad.abs().sum() > 0
