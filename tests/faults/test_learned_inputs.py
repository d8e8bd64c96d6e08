"""The learned method on hostile inputs: colour keys in a batch, float and 32-bit images beyond the
usual range, weights files replaced or deleted while a process runs."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from downscale import learned_resize, pretrained, resize
from downscale.errors import DownscaleError, WeightsError

from .conftest import run_cli

# 5. a batch of same-size RGB images keeps each one's colour key ----------------------------------------------

def test_a_batch_of_pngs_with_colour_keys_stays_transparent(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        img = Image.new("RGB", (16, 8), (0, 255, 0))
        img.paste((200, 10, 10), (8, 0, 16, 8))
        img.save(src / name, transparency=(0, 255, 0))
    Image.new("RGB", (16, 8), (0, 255, 0)).save(src / "d.png")  # same size, no key: stays opaque
    result = run_cli("convert", src, "-o", out)
    assert result.exit_code == 0, result.output
    for name in ("a.png", "b.png", "c.png"):
        rgba = np.asarray(Image.open(out / name).convert("RGBA"))
        assert (rgba[:, :3, 3] == 0).all() and (rgba[:, 5:, 3] == 255).all(), name
    assert Image.open(out / "d.png").mode == "RGB"


# 6. float and 32-bit integer images keep their range -----------------------------------------------------------

def _ramp(low: float, high: float, dtype) -> np.ndarray:
    return np.linspace(low, high, 16 * 24).reshape(16, 24).astype(dtype)


@pytest.mark.parametrize("mode, low, high", [("F", 0, 1000), ("F", -50, 50), ("F", 0, 1), ("I", 0, 1_000_000),
                                             ("I", -70_000, 70_000), ("I", 0, 255)])
def test_learned_resize_keeps_the_range_of_float_and_int32_images(mode, low, high):
    img = Image.fromarray(_ramp(low, high, np.float32 if mode == "F" else np.int32))
    assert img.mode == mode
    bicubic = np.asarray(img.resize((12, 8), Image.Resampling.BICUBIC), np.float64)
    out = learned_resize(img, 2)
    assert out.mode == mode and out.size == (12, 8)
    values = np.asarray(out, np.float64)
    span = high - low
    assert values.min() >= low - 1e-3 * span and values.max() <= high + 1e-3 * span
    assert np.abs(values - bicubic).max() <= 0.05 * span  # the same picture as bicubic, not a clipped one


@pytest.mark.parametrize("mode, value", [("F", 1000.0), ("F", -3.5), ("I", 123456), ("I", -5)])
def test_a_flat_image_beyond_the_usual_range_comes_back_exactly(mode, value):
    img = Image.fromarray(np.full((8, 8), value, np.float32 if mode == "F" else np.int32))
    values = np.asarray(learned_resize(img, 2), np.float64)
    assert np.abs(values - value).max() <= abs(value) * 1e-6


def test_float_images_with_nan_or_infinity_are_refused_clearly():
    array = _ramp(0, 1, np.float32)
    array[3, 4] = np.nan
    with pytest.raises(DownscaleError, match="NaN or infinity"):
        learned_resize(Image.fromarray(array), 2)


@pytest.mark.parametrize("mode", ["F", "I"])
def test_convert_of_a_float_or_int32_tiff_keeps_its_range(tmp_path, mode):
    src = tmp_path / "in"
    src.mkdir()
    high = 1000 if mode == "F" else 1_000_000
    Image.fromarray(_ramp(0, high, np.float32 if mode == "F" else np.int32)).save(src / "a.tif")
    ranges = {}
    for method in ("learned", "bicubic"):
        result = run_cli("convert", src, "-o", tmp_path / method, "--method", method)
        assert result.exit_code == 0, result.output
        values = np.asarray(Image.open(tmp_path / method / "a.tif"), np.float64)
        ranges[method] = (values.min(), values.max())
    assert ranges["learned"][1] > 0.9 * high and ranges["learned"][0] < 0.1 * high
    assert np.allclose(ranges["learned"], ranges["bicubic"], atol=0.05 * high)


# 7. the weights cache follows the file, not its name --------------------------------------------------------------

@pytest.fixture()
def two_weights(tmp_path):
    """Two registered downscalers for ratio 2 that give different thumbnails, as files."""
    models = pretrained.list_pretrained()
    files = [pretrained.weights_dir() / models[name]["file"]
             for name in ("bicubic-identity-r2-v0", "area-identity-r2-v0")]
    resize._cached_downscaler.cache_clear()
    yield files
    resize._cached_downscaler.cache_clear()


def test_weights_replaced_at_the_same_path_are_reloaded(tmp_path, two_weights):
    first, second = two_weights
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)
    path = tmp_path / "w.pt"
    shutil.copyfile(first, path)
    out_first = learned_resize(img, 2, weights=path)
    os.replace(shutil.copyfile(second, tmp_path / "new.pt"), path)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # (a coarse clock could give both one mtime)
    out_second = learned_resize(img, 2, weights=path)
    assert np.array_equal(out_second, learned_resize(img, 2, weights=second))
    assert not np.array_equal(out_first, out_second)


def test_weights_deleted_are_not_served_from_the_cache(tmp_path, two_weights):
    path = tmp_path / "w.pt"
    shutil.copyfile(two_weights[0], path)
    img = np.zeros((8, 8, 3), np.uint8)
    learned_resize(img, 2, weights=path)
    path.unlink()
    with pytest.raises(WeightsError, match="neither a registered name nor a file"):
        learned_resize(img, 2, weights=path)
