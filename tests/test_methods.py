import pytest
import torch

from downscale.methods import CLASSICAL, METHODS, thumbnail
from downscale.model import Downscaler


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (2, 3, 17, 24), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("ratio", [2, 4])
def test_every_method_gives_the_size_rule_in_unit_range(images, method, ratio):
    out = thumbnail(method, images, ratio, Downscaler(ratio).eval())
    assert out.shape == (2, 3, 17 // ratio, 24 // ratio)
    assert out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1


def test_untrained_learned_equals_bicubic(images):
    images = images[..., :16, :]  # sides divisible by the ratio: E's bicubic grid is then torch's
    with torch.no_grad():
        learned = thumbnail("learned", images, 2, Downscaler(2).eval())
    assert torch.allclose(learned, thumbnail("bicubic_aa", images, 2), atol=1e-6)


def test_area_is_the_box_average():
    images = torch.tensor([[0, 2, 4, 6], [8, 10, 12, 14]], dtype=torch.uint8).expand(1, 3, 2, 4)
    out = thumbnail("area", images, 2)
    assert torch.allclose(out[0, 0, 0] * 255, torch.tensor([5.0, 9.0]))


def test_nearest_is_plain_subsampling():
    images = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    out = thumbnail("nearest", images, 2)
    assert torch.equal(out[0, 0] * 255, torch.tensor([[0.0, 2.0], [8.0, 10.0]]))


def test_bicubic_without_antialias_uses_the_four_nearest_pixels():
    # ratio 2: output pixel i sits at 2i + 0.5, between pixels 2i and 2i + 1, with Keys' cubic (a = -0.75)
    # weights -0.09375, 0.59375, 0.59375, -0.09375 and indices clamped at the border
    images = torch.tensor([0, 8, 16, 24], dtype=torch.uint8).view(1, 1, 1, 4).expand(1, 3, 2, 4)
    out = thumbnail("bicubic", images, 2)
    assert torch.allclose(out[0, 0, 0] * 255, torch.tensor([3.25, 20.75]))
    assert torch.allclose(thumbnail("bilinear", images, 2)[0, 0, 0] * 255, torch.tensor([4.0, 20.0]))


def test_classical_methods_keep_a_flat_image_flat():
    images = torch.full((1, 3, 8, 8), 77, dtype=torch.uint8)
    for method in CLASSICAL:
        assert torch.allclose(thumbnail(method, images, 4) * 255, torch.full((1, 3, 2, 2), 77.0), atol=1e-4), method


def test_pil_methods_keep_a_flat_image_flat():
    images = torch.full((1, 3, 8, 8), 77, dtype=torch.uint8)
    for method in ("lanczos", "pil_bicubic"):
        assert torch.equal(thumbnail(method, images, 4) * 255, torch.full((1, 3, 2, 2), 77.0))


def test_ratio_one_is_the_image(images):
    assert torch.equal(thumbnail("bicubic_aa", images, 1) * 255, images.float())


def test_errors_name_the_problem(images):
    with pytest.raises(ValueError, match="unknown method"):
        thumbnail("box", images, 2)
    with pytest.raises(ValueError, match="needs a downscaler"):
        thumbnail("learned", images, 4, Downscaler(2))
    with pytest.raises(ValueError, match="uint8"):
        thumbnail("area", images.float(), 2)


@pytest.mark.parametrize("method", CLASSICAL)
def test_fov_resizes_the_centre_crop_to_the_whole_images_thumbnail_size(images, method):
    # 17x24 at fov 0.5: round(8.5) = 9 rows from row 4, 12 columns from column 6; thumbnail 8x12 as at fov 1
    out = thumbnail(method, images, 2, fov=0.5)
    assert out.shape == (2, 3, 8, 12) and out.dtype == torch.float32
    assert torch.equal(thumbnail(method, images, 2, fov=1.0), thumbnail(method, images, 2))
    assert torch.equal(thumbnail(method, images, 2, fov=(6, 4, 18, 13)), out)


def test_fov_area_at_half_the_side_and_ratio_two_is_the_crop_itself():
    images = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(thumbnail("area", images, 2, fov=0.5) * 255, images[..., 16:48, 16:48].float())
    assert torch.equal(thumbnail("nearest", images, 4, fov=0.5) * 255, images[..., 16:48:2, 16:48:2].float())


def test_fov_errors_name_the_problem(images):
    with pytest.raises(ValueError, match="whole image"):
        thumbnail("learned", images, 2, Downscaler(2), fov=0.75)
    with pytest.raises(ValueError, match="needs a ratio > 1"):
        thumbnail("bicubic_aa", images, 1, fov=0.75)
    with pytest.raises(ValueError, match="fov must be"):
        thumbnail("area", images, 2, fov=0)


def test_canonical_names_keep_old_spellings_as_deprecated_aliases():
    from downscale.methods import CONVERT_METHODS, RENAMED, SKIP_METHODS, canonical

    assert canonical("bicubic", "eval") == "bicubic"  # eval's bicubic was always torch's, without antialias
    with pytest.warns(DeprecationWarning, match="convert method 'bicubic' is now spelled 'pil_bicubic'"):
        assert canonical("bicubic", "convert") == "pil_bicubic"
    with pytest.warns(DeprecationWarning, match="skip method 'mean' is now spelled 'area'"):
        assert canonical("mean", "skip") == "area"
    every = {new for renamed in RENAMED.values() for new in renamed.values()}
    assert every <= set(METHODS) and set(CONVERT_METHODS) <= set(METHODS) and set(SKIP_METHODS) <= set(CLASSICAL)


def test_the_names_import_without_torch():
    import subprocess
    import sys

    code = "import sys, downscale.methods; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
