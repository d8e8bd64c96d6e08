"""Hostile but realistic inputs to the API (learned_resize, LearnedResize, the weights loader):
each a typed error that says what to change, or the right result."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from downscale import LearnedResize, learned_resize
from downscale.errors import DownscaleError, ImageTooSmallError, WeightsError
from downscale.model import Downscaler


def ramp16(mode: str) -> Image.Image:
    """A 16-bit horizontal ramp 0..65520 (step 16) in one of Pillow's 16-bit modes."""
    values = np.tile(np.arange(64, dtype=np.uint16) * 1040, (8, 1))  # 0 .. 65520
    img = Image.fromarray(values)  # I;16
    if mode == "I;16":
        return img
    return Image.frombytes(mode, img.size, values.astype(">u2" if mode == "I;16B" else "<u2").tobytes())


# 2. big-endian 16-bit ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B"])
def test_sixteen_bit_modes_keep_their_values(mode):
    img = ramp16(mode)
    thumb = learned_resize(img, 2)
    values = np.asarray(thumb).astype(np.int64)
    assert thumb.mode == "I;16" and thumb.size == (32, 4)
    expected = np.asarray(learned_resize(ramp16("I;16"), 2)).astype(np.int64)
    assert np.array_equal(values, expected)
    assert values.max() > 60000 and values.min() < 2000


def test_big_endian_numpy_arrays_are_read_by_value():
    native = np.random.default_rng(0).integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    swapped = native.astype(">u2")
    assert np.array_equal(learned_resize(swapped, 2), learned_resize(native, 2))


# 3. CMYK keeps its black channel ------------------------------------------------------------------

def test_cmyk_flat_colour_keeps_black_on_the_learned_path():
    img = Image.new("CMYK", (16, 12), (0, 0, 0, 200))
    thumb = learned_resize(img, 2)
    assert thumb.mode == "CMYK"
    assert (np.asarray(thumb) == (0, 0, 0, 200)).all()


def test_cmyk_learned_matches_its_rgb_appearance():
    rng = np.random.default_rng(1)
    coarse = Image.frombytes("CMYK", (8, 6), rng.integers(0, 256, (6, 8, 4), np.uint8).tobytes())
    img = coarse.resize((64, 48), Image.Resampling.BILINEAR)  # smooth ink, as in print
    thumb = learned_resize(img, 2).convert("RGB")
    reference = learned_resize(img.convert("RGB"), 2)
    diff = np.abs(np.asarray(thumb, np.int16) - np.asarray(reference, np.int16))
    # (K is resized like alpha, with bicubic, beside E's colour: a few levels apart where K changes fast)
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2


# 5. tRNS colour keys -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, key, want", [("RGB", (0, 255, 0), "RGBA"), ("L", 7, "LA")])
def test_colour_key_transparency_becomes_alpha(mode, key, want):
    img = Image.new(mode, (16, 8), key)
    img.paste((200, 10, 10) if mode == "RGB" else 200, (8, 0, 16, 8))
    img.info["transparency"] = key
    thumb = learned_resize(img, 2)
    assert thumb.mode == want
    alpha = np.asarray(thumb)[..., -1]
    assert (alpha[:, :3] == 0).all() and (alpha[:, 5:] == 255).all()


# 6. negative strides and other views ----------------------------------------------------------------

@pytest.mark.parametrize("view", [lambda a: a[..., ::-1], np.fliplr, np.rot90, lambda a: a[::-2, ::3]],
                         ids=["bgr", "fliplr", "rot90", "steps"])
def test_numpy_views_with_any_strides(view):
    a = np.random.default_rng(2).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    v = view(a)
    assert np.array_equal(learned_resize(v, 2), learned_resize(np.ascontiguousarray(v), 2))


def test_tensor_with_negative_step_equivalent_flip():
    t = torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)
    flipped = t.flip(-1)
    assert torch.equal(learned_resize(flipped, 2), learned_resize(flipped.contiguous(), 2))


# 7. typed errors instead of tracebacks ----------------------------------------------------------------

def test_empty_batch_gives_an_empty_result():
    for dtype in (torch.uint8, torch.float32):
        out = learned_resize(torch.zeros(0, 3, 8, 8, dtype=dtype), 2)
        assert out.shape == (0, 3, 4, 4) and out.dtype == dtype
    out = learned_resize(np.zeros((0, 8, 8, 3), np.uint8), 2)
    assert out.shape == (0, 4, 4, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: learned_resize(torch.zeros(3, 8, 8), size=(math.inf, 5)), DownscaleError, "size must be"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), size=(4, math.nan)), DownscaleError, "size must be"),
    (lambda: learned_resize(np.zeros((0, 8, 3), np.uint8), 2), ImageTooSmallError, "0x8 image"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), 2, device="meta"), DownscaleError, "device 'meta'"),
    (lambda: learned_resize(torch.zeros(3, 8, 8, device="meta"), 2), DownscaleError, "device meta"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), 2, device="nonsense"), DownscaleError, "device 'nonsense'"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), math.inf), DownscaleError, "ratio must be"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), 0.5), DownscaleError, "ratio must be"),
    (lambda: learned_resize(torch.zeros(3, 8, 8), 2, dtype=torch.int32), DownscaleError, "dtype must be"),
])
def test_bad_arguments_raise_downscale_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# 8. the autograd graph ---------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [2, 3, 4, 1.5])
def test_float_input_that_requires_grad_keeps_the_graph(ratio):
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    y = learned_resize(x, ratio)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_without_grad_nothing_is_recorded():
    y = learned_resize(torch.rand(1, 3, 16, 16), 2)
    assert not y.requires_grad and y.grad_fn is None


# 9. absurd weight configs are refused before allocating; 11. NaN weights ----------------------------

def _save(tmp_path, config, state):
    path = tmp_path / "w.pt"
    torch.save({"config": config, "state_dict": state}, path)
    return path


def test_absurd_width_is_refused_before_allocating(tmp_path, monkeypatch):
    good = Downscaler(2, 4, "area")
    path = _save(tmp_path, {"ratio": 2, "width": 2_000_000, "arch": "area"}, good.state_dict())
    allocated = []
    with torch.device("meta"):  # (torch caches its list of constructors on first use: before the spy)
        torch.empty(1)
    real_empty = torch.empty

    def spy(*args, **kwargs):
        tensor = real_empty(*args, **kwargs)
        if tensor.device.type != "meta" and tensor.numel() > 10_000_000:
            allocated.append(tuple(tensor.shape))
        return tensor

    monkeypatch.setattr(torch, "empty", spy)
    with pytest.raises(WeightsError, match="not a Downscaler state_dict"):
        learned_resize(torch.rand(3, 8, 8), 2, weights=path)
    assert allocated == []


def test_non_finite_weights_are_refused(tmp_path):
    model = Downscaler(2, 4, "area")
    state = model.state_dict()
    state["correction.weight"] = torch.full_like(state["correction.weight"], math.nan)
    path = _save(tmp_path, model.config(), state)
    with pytest.raises(WeightsError, match="correction.weight.*not finite"):
        learned_resize(torch.rand(3, 8, 8), 2, weights=path)


# 11. sizes and ratios say what is wrong -------------------------------------------------------------

@pytest.mark.parametrize("size", ["88", (4, 4, 4), (4.5, 4), (4,), 4, (True, 4)])
def test_size_must_be_two_integers(size):
    with pytest.raises(DownscaleError, match="size must be"):
        learned_resize(torch.rand(3, 8, 8), size=size)


def test_ratio_and_size_together_are_refused():
    with pytest.raises(DownscaleError, match="not both"):
        learned_resize(torch.rand(3, 8, 8), 4, size=(4, 4))
    assert learned_resize(torch.rand(3, 8, 8), size=(4, 4)).shape == (3, 4, 4)  # the default ratio is no clash


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 50}, "size must be"), ({"ratio": "auto"}, "ratio must be"), ({"ratio": "2"}, "ratio must be"),
    ({"ratio": 0.5}, "ratio must be"), ({"ratio": 4, "size": (2, 2)}, "not both"),
])
def test_learned_resize_transform_checks_its_arguments_up_front(kwargs, message):
    with pytest.raises(DownscaleError, match=message):
        LearnedResize(**kwargs)


def test_transform_boxes_follow_the_pixels_e_keeps():
    """E at ratio 4 on 225 rows keeps rows 0..223 (56 blocks): a box edge at row 224 maps to 56, not 55.75."""
    image = tv_tensors.Image(torch.rand(3, 225, 225))
    boxes = tv_tensors.BoundingBoxes([[0, 0, 224, 224]], format="XYXY", canvas_size=(225, 225))
    keypoints = tv_tensors.KeyPoints([[200, 112]], canvas_size=(225, 225))
    out_image, out_boxes, out_points = LearnedResize(4)(image, boxes, keypoints)
    assert out_image.shape[-2:] == (56, 56)
    assert out_boxes.canvas_size == (56, 56)
    assert torch.allclose(out_boxes.float(), torch.tensor([[0.0, 0.0, 56.0, 56.0]]))
    assert torch.allclose(out_points.float(), torch.tensor([[50.0, 28.0]]))
