import io
import os
import re

import numpy as np
import pytest
from PIL import Image, ImageCms

from downscale.errors import ImageReadError
from downscale.images import read_image, read_image_reduced, write_image


def _jpeg_with_orientation(path, orientation):
    img = Image.new("RGB", (40, 20), "red")
    img.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, quality=95)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    _jpeg_with_orientation(path, 6)  # stored landscape, displayed rotated 90 degrees clockwise
    img = read_image(path)
    assert img.size == (20, 40) and img.format == "JPEG"
    top = img.getpixel((10, 2))
    assert top[2] > 200 and top[0] < 60  # the blue half is on top once upright


@pytest.mark.parametrize("size, most, scale", [((64, 48), 1, 1), ((64, 48), 3, 2), ((64, 48), 4, 4),
                                               ((64, 48), 8, 8), ((66, 48), 8, 2), ((65, 48), 8, 1)])
def test_a_jpeg_is_decoded_at_the_largest_exact_scale_allowed(tmp_path, coffee_array, size, most, scale):
    path = tmp_path / "x.jpg"
    Image.fromarray(coffee_array[: size[1], : size[0]]).save(path, quality=95)
    img, got = read_image_reduced(path, most)
    assert got == scale and img.size == (size[0] // scale, size[1] // scale) and img.format == "JPEG"
    if scale == 1:
        assert np.array_equal(np.asarray(img), np.asarray(read_image(path)))


def test_reduced_decoding_leaves_other_formats_whole_and_keeps_orientation(tmp_path):
    Image.new("RGB", (64, 48)).save(tmp_path / "x.png")
    img, scale = read_image_reduced(tmp_path / "x.png", 8)
    assert scale == 1 and img.size == (64, 48)
    _jpeg_with_orientation(tmp_path / "rotated.jpg", 6)  # 40 x 20 stored, 20 x 40 upright
    img, scale = read_image_reduced(tmp_path / "rotated.jpg", 4)
    assert scale == 4 and img.size == (5, 10)
    top, bottom = img.getpixel((2, 1)), img.getpixel((2, 8))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]  # blue on top once upright, as decoded in full


def test_icc_profile_survives_read_and_write(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(src, icc_profile=icc)
    img = read_image(src)
    assert img.info["icc_profile"] == icc
    out = tmp_path / "out.jpg"
    write_image(img, out, fmt="JPEG", icc_profile=img.info["icc_profile"])
    assert Image.open(out).info["icc_profile"] == icc


def test_write_never_clobbers_without_overwrite_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "a.png"
    dest.write_bytes(b"user data")
    assert write_image(Image.new("RGB", (4, 4)), dest, fmt="PNG") is False
    assert dest.read_bytes() == b"user data"
    assert write_image(Image.new("RGB", (4, 4)), dest, fmt="PNG", overwrite=True) is True
    assert Image.open(dest).size == (4, 4)
    assert os.listdir(tmp_path) == ["a.png"]


@pytest.mark.parametrize("mode, fmt, saved", [("RGBA", "JPEG", "RGB"), ("I;16", "JPEG", "L"), ("LA", "WEBP", "RGBA"),
                                              ("CMYK", "PNG", "RGB"), ("I;16", "PNG", "I;16"), ("P", "JPEG", "RGB")])
def test_modes_are_converted_to_what_the_format_stores(tmp_path, mode, fmt, saved):
    img = Image.new("RGB", (4, 4), (10, 200, 30)).convert(mode)
    if "A" in mode:
        img.putalpha(128)  # really transparent, or WebP stores it as RGB
    dest = tmp_path / f"x.{fmt.lower()}"
    write_image(img, dest, fmt=fmt)
    assert Image.open(dest).mode == saved


def test_transparent_pixels_flatten_to_white_in_jpeg(tmp_path):
    dest = tmp_path / "x.jpg"
    write_image(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), dest, fmt="JPEG")
    assert np.asarray(Image.open(dest)).min() > 245


def test_sixteen_bit_is_scaled_not_clipped_to_eight(tmp_path):
    img = Image.fromarray(np.full((4, 4), 32896, np.uint16))  # 128 * 257
    write_image(img, tmp_path / "x.jpg", fmt="JPEG", quality=100)
    assert abs(int(np.asarray(Image.open(tmp_path / "x.jpg")).mean()) - 128) <= 1


@pytest.mark.parametrize("content, cause", [(b"", "not an image"), (b"hello, not a jpeg", "not an image")])
def test_bad_files_raise_read_errors_naming_the_file(tmp_path, content, cause):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=f"bad.jpg: {cause}"):
        read_image(path)


def test_truncated_jpeg_is_a_read_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg: cannot read"):
        read_image(path)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="big.png: refused: .*MAX_IMAGE_PIXELS"):
        read_image(path)


@pytest.mark.parametrize("colours", [3, 4096])
def test_rgba_to_gif_keeps_transparency_and_few_colours_exactly(tmp_path, colours):
    rng = np.random.default_rng(0)
    rgba = np.zeros((16, 64, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, (16, 64, 3)) if colours > 255 else [[200, 0, 0], [0, 90, 0], [1, 2, 3]][0]
    rgba[:, 32:, 3] = 255
    rgba[:, 40:, :3] = [0, 90, 0] if colours <= 255 else rgba[:, 40:, :3]
    write_image(Image.fromarray(rgba), tmp_path / "t.gif", fmt="GIF")
    back = np.asarray(Image.open(tmp_path / "t.gif").convert("RGBA"))
    assert (back[:, :32, 3] == 0).all() and (back[:, 32:, 3] == 255).all()
    if colours <= 255:
        assert (back[:, 32:, :3] == rgba[:, 32:, :3]).all()


@pytest.mark.parametrize("orientation", range(0, 10))
def test_one_orientation_table_for_pil_and_arrays(orientation):
    from downscale.images import TRANSPOSE_AXES, upright_transpose

    method = upright_transpose(orientation)
    assert (method is None) == (orientation not in range(2, 9))
    if method is None:
        return
    array = np.arange(2 * 3, dtype=np.uint8).reshape(2, 3)
    swap, flip_rows, flip_cols = TRANSPOSE_AXES[method]
    moved = array.T if swap else array
    moved = moved[::-1] if flip_rows else moved
    moved = moved[:, ::-1] if flip_cols else moved
    assert np.array_equal(np.asarray(Image.fromarray(array).transpose(method)), moved)


@pytest.mark.parametrize("mode, info, working", [
    ("1", {}, "L"), ("P", {}, "RGB"), ("P", {"transparency": 0}, "RGBA"), ("PA", {}, "RGBA"),
    ("L", {"transparency": 3}, "LA"), ("RGB", {"transparency": (1, 2, 3)}, "RGBA"), ("RGB", {}, "RGB"),
    ("I;16B", {}, "I;16"), ("RGBX", {}, "RGB"), ("CMYK", {}, "CMYK"), ("F", {}, "F"), ("HSV", {}, None),
])
def test_one_mode_normalisation_for_both_resize_methods(mode, info, working):
    from downscale.convert import Options, thumbnail
    from downscale.images import to_working_mode, working_mode

    img = Image.new(mode, (8, 6))
    img.info.update(info)
    assert working_mode(img) == working
    assert to_working_mode(img).mode == (working or mode)  # an unknown mode is left to Pillow
    assert thumbnail(img, Options(ratio=2, method="pil_bicubic")).mode == (working or mode)


def test_sixteen_bit_data_keeps_its_values_in_either_byte_order():
    from downscale.images import to_working_mode

    values = np.array([[0, 300], [65535, 4096]], dtype=">u2")
    img = Image.frombytes("I;16B", (2, 2), values.tobytes())
    assert np.array_equal(np.asarray(to_working_mode(img)), values.astype(np.uint16))


def test_one_pre_open_check_names_the_file(tmp_path):
    from downscale.images import check_openable

    from conftest import REPO

    (tmp_path / "empty.jpg").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "a.jpg").write_bytes(b"x")
    check_openable(tmp_path / "a.jpg")
    for name, cause in [("empty.jpg", "it is empty (0 bytes)"), ("pipe.jpg", "not a regular file"),
                        ("missing.jpg", "cannot read: No such file or directory")]:
        with pytest.raises(ImageReadError, match=f"{name}: .*{re.escape(cause)}"):
            check_openable(tmp_path / name)
    users = [p.name for p in (REPO / "downscale").rglob("*.py") if "S_ISREG" in p.read_text()]
    assert users == ["images.py"]  # the GPU JPEG path asks check_openable too
