import numpy as np
import pytest
import torch
from PIL import Image

from downscale import Downscaler, learned_resize
from downscale.errors import ImageTooSmallError, UnsupportedImageError
from downscale.model import bicubic

IDENTITY = {2: "bicubic-identity-r2-v0", 4: "bicubic-identity-r4-v0"}

# Antialiased bicubic (a = -0.5) of the row [0, 1, 0, 0] by 2, worked by hand: the kernel widens to
# 4 px; output pixel 0 centres at 0.5 with taps k(0.25), k(0.25), k(0.75), k(1.25) =
# 0.8671875, 0.8671875, 0.2265625, -0.0703125 (sum 1.890625), pixel 1 mirrors it.
ROW = [0.0, 1.0, 0.0, 0.0]
EXPECTED = [0.8671875 / 1.890625, 0.2265625 / 1.890625]


def test_pinned_values_float_and_uint8():
    x = torch.tensor([ROW, ROW]).expand(3, 2, 4)
    y = learned_resize(x, 2, weights=IDENTITY[2])
    torch.testing.assert_close(y, torch.tensor(EXPECTED).expand(3, 1, 2), rtol=0, atol=1e-6)
    y8 = learned_resize((x * 255).to(torch.uint8), 2, weights=IDENTITY[2])
    assert y8.dtype == torch.uint8 and y8[0, 0].tolist() == [117, 31]  # 116.96 and 30.56 rounded


def test_clamps_before_quantising():
    x = torch.zeros(3, 8, 8)
    x[:, :, 4:] = 1.0  # a step overshoots with bicubic; the output must stay in range
    model = Downscaler(2, width=4).eval()
    torch.nn.init.constant_(model.correction.bias, 0.6)
    y = learned_resize(x, 2, weights=model)
    assert y.min() >= 0 and y.max() <= 1 and y.max() == 1
    y8 = learned_resize((x * 255).to(torch.uint8), 2, weights=model)
    assert y8.max() == 255


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I;16", "I", "F"])
def test_pil_modes(astronaut, mode):
    img = astronaut.convert(mode) if mode != "PA" else astronaut.convert("P").convert("PA")
    out = learned_resize(img, 4)
    expected_mode = {"P": "RGB", "PA": "RGBA"}.get(mode, mode)
    assert isinstance(out, Image.Image) and out.mode == expected_mode and out.size == (128, 128)
    if mode in ("L", "RGB", "I;16"):  # the conversions are right: with E = identity, close to Pillow's reduction
        out = learned_resize(img, 4, weights=IDENTITY[4])
        ref = np.asarray(img.resize((128, 128), Image.Resampling.BICUBIC), dtype=np.float64)
        scale = 65535 if mode == "I;16" else 255
        assert np.abs(np.asarray(out, dtype=np.float64) - ref).mean() / scale < 0.01


def test_palette_with_transparency_keeps_alpha():
    img = Image.new("P", (16, 16), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.info["transparency"] = 0
    img.paste(0, (0, 0, 8, 16))
    out = learned_resize(img, 2, weights=IDENTITY[2])
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((7, 4)) == (255, 0, 0, 255)


def test_alpha_is_premultiplied_so_hidden_colour_does_not_bleed():
    rgba = np.zeros((8, 8, 4), np.float32)
    rgba[:, :4] = [1, 0, 0, 1]  # opaque red on the left
    rgba[:, 4:] = [0, 1, 0, 0]  # fully transparent green on the right
    out = learned_resize(rgba, 2, weights=IDENTITY[2])
    visible = out[..., 3] > 0.05
    assert np.all(out[..., 1][visible] < 1e-6), "transparent green leaked into visible pixels"


def test_unsupported_pil_mode_names_it():
    with pytest.raises(UnsupportedImageError, match="PIL mode 'HSV' is not supported"):
        learned_resize(Image.new("HSV", (8, 8)), 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(40, 30), (40, 30, 1), (40, 30, 2), (40, 30, 3), (40, 30, 4), (2, 5, 40, 30, 3)])
def test_numpy_shapes_and_dtypes(dtype, shape):
    rng = np.random.default_rng(0)
    a = rng.random(shape)
    a = (a * np.iinfo(dtype).max).astype(dtype) if np.issubdtype(dtype, np.integer) else a.astype(dtype)
    out = learned_resize(a, 4)
    expected = (10, 7) if len(shape) == 2 else (*shape[:-3], 10, 7, shape[-1])
    assert out.shape == expected and out.dtype == a.dtype


def test_numpy_matches_tensor_path(coffee_array):
    out_np = learned_resize(coffee_array, 2)
    out_t = learned_resize(torch.from_numpy(coffee_array).permute(2, 0, 1), 2)
    assert np.array_equal(out_np, out_t.permute(1, 2, 0).numpy())


@pytest.mark.parametrize("dtype", [torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_tensor_dtypes_and_batch_dims(dtype):
    x = torch.rand(2, 3, 4, 33, 20)
    x = (x * 255).to(dtype) if dtype == torch.uint8 else (x * 65535).to(dtype) if dtype == torch.uint16 else x.to(dtype)
    out = learned_resize(x, 2)
    assert out.shape == (2, 3, 4, 16, 10) and out.dtype == dtype


def test_tensor_layout_is_kept():
    x = torch.rand(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    out = learned_resize(x, 2)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert learned_resize(torch.rand(2, 3, 32, 32), 2).is_contiguous()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_tensor_stays_on_cuda():
    out = learned_resize(torch.rand(3, 64, 64, device="cuda"), 4)
    assert out.device.type == "cuda"


def test_grayscale_goes_through_the_downscaler_by_replication():
    model = Downscaler(2, width=4).eval()
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    gray = torch.rand(1, 16, 16)
    out = learned_resize(gray, 2, weights=model)
    with torch.no_grad():
        expected = model(gray.expand(3, -1, -1)[None]).mean(1).clamp(0, 1)
    torch.testing.assert_close(out, expected)


def test_other_ratios_run_learned_then_bicubic(astronaut):
    x = torch.from_numpy(np.array(astronaut)).permute(2, 0, 1).float() / 255
    model = Downscaler(2, width=4).eval()
    torch.nn.init.normal_(model.correction.weight, std=0.1)
    out = learned_resize(x, 3, weights=model)
    with torch.no_grad():
        expected = bicubic(model(x[None]), (170, 170))[0].clamp(0, 1)
    torch.testing.assert_close(out, expected)
    assert learned_resize(x, 8).shape == (3, 64, 64)
    torch.testing.assert_close(learned_resize(x, 1.5), bicubic(x[None], (341, 341))[0].clamp(0, 1))
    assert torch.equal(learned_resize(x, 1), x)


def test_size_gives_exact_output(astronaut):
    assert learned_resize(astronaut, size=(100, 60)).size == (60, 100)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: learned_resize(torch.rand(3, 8, 8), 0.5), ValueError, "ratio must be a finite number >= 1"),
        (lambda: learned_resize(torch.rand(3, 8, 8), "4"), ValueError, "ratio must be a finite number"),
        (lambda: learned_resize(torch.rand(3, 3, 8), 4), ImageTooSmallError, "3x8 image is too small for ratio 4"),
        (lambda: learned_resize(torch.rand(3, 8, 8), size=(9, 8)), ValueError, "only downscales"),
        (lambda: learned_resize(torch.rand(5, 8, 8), 2), UnsupportedImageError, r"\[..., C, H, W\] with C in 1..4, got shape \(5, 8, 8\)"),
        (lambda: learned_resize(torch.rand(8, 8), 2), UnsupportedImageError, "got shape"),
        (lambda: learned_resize(torch.zeros(3, 8, 8, dtype=torch.int32), 2), UnsupportedImageError, "torch.int32 is not supported"),
        (lambda: learned_resize(np.zeros((8, 8, 3), np.int64), 2), UnsupportedImageError, "int64 is not supported"),
        (lambda: learned_resize(np.zeros((8, 8, 7)), 2), UnsupportedImageError, r"got shape \(8, 8, 7\)"),
        (lambda: learned_resize([[0.0]], 2), UnsupportedImageError, "got list"),
        (lambda: learned_resize(torch.rand(3, 8, 8), 2, weights=IDENTITY[4]), ValueError, "weights reduce by 4"),
    ],
)
def test_errors_name_what_was_given_and_what_is_accepted(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("arch", ["paper", "unshuffle", "area", "residual"])
@pytest.mark.parametrize("ratio, size", [(4, (203, 317)), (2, (130, 97))])
def test_tiled_equals_untiled(arch, ratio, size):
    from downscale.resize import apply_tiled

    torch.manual_seed(0)
    model = Downscaler(ratio, width=8, arch=arch).eval()
    torch.nn.init.normal_(model.correction.weight, std=0.2)
    x = torch.rand(1, 3, *size)
    u8 = (x * 255).round().to(torch.uint8)
    with torch.no_grad():
        for image in (x, u8):  # E takes uint8 at inference; its output is float either way
            whole = model(image)
            tiled = apply_tiled(model, image, tile=48)
            assert tiled.shape == whole.shape and tiled.dtype == whole.dtype == torch.float32
            assert (tiled - whole).abs().max() < 1e-5  # far inside the 1/255 a uint8 output can show


def test_auto_ratio_uses_the_predictor_per_image(monkeypatch):
    import downscale.dynamic as dynamic

    picks = iter([4, 1])
    monkeypatch.setattr(dynamic, "choose_ratios", lambda batch, device=None: [next(picks)])
    x = torch.rand(3, 64, 48)
    assert learned_resize(x, "auto").shape == (3, 16, 12)
    assert torch.equal(learned_resize(x, "auto"), x)  # ratio 1: the image itself
    with pytest.raises(ValueError, match="takes one image, got a batch of 2"):
        learned_resize(torch.rand(2, 3, 64, 48), "auto")
    with pytest.raises(ValueError, match="give ratio or size, not both"):
        learned_resize(x, "auto", size=(8, 8))


def test_choose_ratio_is_the_ratio_auto_resizes_by(monkeypatch):
    import downscale.dynamic as dynamic
    from downscale.resize import choose_ratio

    seen = []
    monkeypatch.setattr(dynamic, "choose_ratios", lambda batch, device=None: seen.append(batch.shape) or [4])
    assert choose_ratio(Image.new("RGB", (48, 64))) == 4 and seen == [(1, 3, 64, 48)]
    assert choose_ratio(np.zeros((64, 48, 4), np.uint8)) == 4 and seen[-1] == (1, 3, 64, 48)  # RGB of RGBA
    with pytest.raises(ValueError, match="takes one image, got a batch of 2"):
        choose_ratio(torch.rand(2, 3, 64, 48))


@pytest.mark.parametrize("ratio", [1, 2])
def test_the_input_is_never_written(ratio):
    model = Downscaler(2, width=4, arch="area").eval()
    torch.nn.init.normal_(model.correction.weight, std=1.0)  # overshoots at edges: the output is clamped
    weights = model if ratio == 2 else None
    inputs = [torch.rand(3, 8, 8) * 1.5, (torch.rand(8, 8, 3).numpy() * 1.5), torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)]
    for img in inputs:
        before = img.clone() if isinstance(img, torch.Tensor) else img.copy()
        learned_resize(img, ratio, weights=weights)
        assert (torch.equal(img, before) if isinstance(img, torch.Tensor) else np.array_equal(img, before))


def test_uint8_and_float_inputs_agree_with_the_area_downscaler(coffee_array):
    model = Downscaler(2, width=8, arch="area").eval()
    torch.nn.init.normal_(model.correction.weight, std=0.05)
    from_uint8 = learned_resize(coffee_array, 2, weights=model)
    from_float = learned_resize(coffee_array / np.float32(255), 2, weights=model)
    assert np.abs(from_uint8 / 255.0 - from_float).max() < 1 / 255 / 2 + 1e-6  # same value up to rounding


@pytest.mark.parametrize("dtype, levels", [(torch.bfloat16, 2), (torch.float16, 1)])
def test_half_precision_stays_within_stated_levels_of_float32(coffee_array, dtype, levels):
    # the default E's (ratio 2 and 4) on a real photo, uint8 in and out: the tolerance the docstring states
    x = torch.from_numpy(coffee_array).permute(2, 0, 1)
    for ratio in (2, 4):
        exact = learned_resize(x, ratio)
        half = learned_resize(x, ratio, dtype=dtype)
        assert half.dtype == torch.uint8 and half.shape == exact.shape
        diff = (half.int() - exact.int()).abs()
        assert 0 < diff.max() <= levels  # (0 <: the half-precision path really ran)
    assert learned_resize(coffee_array, 2, dtype=dtype).dtype == np.uint8  # numpy out needs float32 back


def test_dtype_must_be_a_float_dtype():
    with pytest.raises(ValueError, match="dtype must be a float dtype.*got torch.uint8"):
        learned_resize(torch.rand(3, 8, 8), 2, dtype=torch.uint8)


# Field of view: the centre crop (sizes.fov_box) resized to the whole image's thumbnail size.

def test_fov_one_is_the_default_bit_for_bit(astronaut, coffee_array):
    t = torch.rand(2, 3, 40, 36)
    assert torch.equal(learned_resize(t, 2, fov=1.0), learned_resize(t, 2))
    assert torch.equal(learned_resize(t, 4, fov=(0, 0, 36, 40)), learned_resize(t, 4))
    assert np.array_equal(learned_resize(coffee_array, 2, fov=1), learned_resize(coffee_array, 2))
    assert learned_resize(astronaut, 2, fov=1.0).tobytes() == learned_resize(astronaut, 2).tobytes()


def test_fov_is_the_centre_crop_at_the_whole_images_size_on_every_input_type(astronaut):
    # 64x48 at fov 0.5 and ratio 4: rows 16..48, columns 12..36, resized to 16x12 (E at ratio 2 on the crop)
    t = torch.randint(0, 256, (2, 2, 3, 64, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = learned_resize(t, 4, fov=0.5)
    assert out.shape == (2, 2, 3, 16, 12) and out.dtype == torch.uint8
    assert torch.equal(out, learned_resize(t[..., 16:48, 12:36].contiguous(), 4 / 2))
    assert torch.equal(learned_resize(t, 4, fov=(12, 16, 36, 48)), out)
    hwc = t[0].permute(0, 2, 3, 1).numpy()  # [2, 64, 48, 3]
    assert np.array_equal(learned_resize(hwc, 4, fov=0.5), out[0].permute(0, 2, 3, 1).numpy())
    crop = astronaut.crop((128, 128, 384, 384))  # 512x512 at fov 0.5: the centre 256x256
    assert learned_resize(astronaut, 4, fov=0.5).tobytes() == learned_resize(crop, 2).tobytes()
    assert learned_resize(astronaut, size=(100, 60), fov=0.5).size == (60, 100)


def test_fov_below_two_times_the_ratio_is_plain_antialiased_bicubic_of_the_crop():
    x = torch.rand(1, 3, 40, 40)
    assert torch.allclose(learned_resize(x, 2, fov=0.75), bicubic(x[..., 5:35, 5:35], (20, 20)).clamp(0, 1))


def test_fov_keeps_the_graph_of_a_float_tensor():
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    learned_resize(x, 2, fov=0.75).sum().backward()
    assert x.grad[..., 4:28, 4:28].abs().sum() > 0 and x.grad[..., :2, :].abs().sum() == 0


@pytest.mark.parametrize("fov, message", [
    (0, "fov must be"), (-0.5, "fov must be"), (1.5, "fov must be"), (float("nan"), "fov must be"),
    (float("inf"), "fov must be"), (True, "fov must be"), ("0.5", "fov must be"), ((1, 2, 3), "fov must be"),
    ((0.0, 0, 8, 8), "fov must be"), ((0, 0, 9, 8), "must lie within the 8x8 image"),
    ((4, 0, 4, 8), "must lie within"), (0.25, "smaller than its 4x4 thumbnail; learned_resize only downscales"),
])
def test_fov_errors_name_the_argument(fov, message):
    from downscale.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=message):
        learned_resize(torch.rand(3, 8, 8), 2, fov=fov)
    with pytest.raises(InvalidArgumentError, match="fov=0.5 needs a fixed ratio"):
        learned_resize(torch.rand(3, 8, 8), "auto", fov=0.5)
