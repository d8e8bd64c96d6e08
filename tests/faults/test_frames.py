"""Animations and multi-page files under `downscale convert`: bombs spread over many frames, disposal
and blending (no ghosts), EXIF orientation of TIFF pages, frames without a duration."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from downscale.convert import Options, thumbnail
from downscale.errors import ImageReadError
from downscale.images import DEFAULT_FRAME_MS, read_frames

from .conftest import assert_error_line, run_cli, snapshot

BOMB = "refused: .*decompression bomb.*raise PIL.Image.MAX_IMAGE_PIXELS"


def _palette_frames(count: int, size=(24, 24)) -> list[Image.Image]:
    """``count`` distinct palette frames (Pillow's GIF writer merges identical ones)."""
    frames = []
    for i in range(count):
        frame = Image.new("P", size, 0)
        frame.putpalette([(i * 37 + c * 80) % 256 for i in range(256) for c in range(3)])
        frame.paste(i + 1, (i % size[0], 0, i % size[0] + 2, size[1]))
        frames.append(frame)
    return frames


def _many_frames(path, fmt: str, count: int) -> None:
    frames = _palette_frames(count)
    if fmt == "TIFF":
        frames = [f.convert("RGB") for f in frames]
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])


# 1. a decompression bomb spread over frames ---------------------------------------------------------------

@pytest.mark.parametrize("name, fmt", [("bomb.gif", "GIF"), ("bomb.tif", "TIFF"), ("bomb.png", "PNG")])
def test_frames_whose_total_pixels_exceed_the_limit_are_refused_like_one_big_frame(tmp_path, monkeypatch, name, fmt):
    root = tmp_path / "in"
    root.mkdir()
    _many_frames(root / name, fmt, 6)  # 6 frames of 24 x 24 = 3456 pixels in all, each frame under the limit
    Image.new("L", (20, 20)).save(root / "ok.png")
    before = snapshot(root)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    result = run_cli("convert", root, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 1, result.output
    assert_error_line(result.output, root / name, BOMB)
    assert (tmp_path / "out" / "ok.png").exists() and not (tmp_path / "out" / name).exists()
    assert snapshot(root) == before
    with pytest.raises(ImageReadError, match=f"{name}: {BOMB}"):
        read_frames(root / name)


def test_frames_under_the_limit_in_all_and_a_first_frame_of_a_bomb_still_convert(tmp_path, monkeypatch):
    root = tmp_path / "in"
    root.mkdir()
    _many_frames(root / "bomb.gif", "GIF", 6)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 3456 in all: under
    result = run_cli("convert", root, "-o", tmp_path / "all", "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "all" / "bomb.gif").n_frames == 6
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over in all, but only the first frame is decoded
    result = run_cli("convert", root, "-o", tmp_path / "first", "--method", "bicubic", "--first-frame")
    assert result.exit_code == 0, result.output
    assert getattr(Image.open(tmp_path / "first" / "bomb.gif"), "n_frames", 1) == 1


# 3. GIF -> GIF and APNG -> APNG: every frame as it is shown, no ghosts ------------------------------------

def _shown_frames(path) -> list[np.ndarray]:
    """Each frame as a viewer shows it (Pillow composites it with disposal and blending): RGBA."""
    with Image.open(path) as img:
        shown = []
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            shown.append(np.asarray(img.convert("RGBA")))
        return shown


def _bars(count=3, size=(32, 16)) -> list[Image.Image]:
    """RGBA frames: transparent, each with an opaque bar of its own colour further right."""
    frames = []
    for i in range(count):
        frame = Image.new("RGBA", size, (0, 0, 0, 0))
        frame.paste((255 * (i == 0), 255 * (i == 1), 255 * (i == 2), 255), (12 * i, 0, 12 * i + 8, size[1]))
        frames.append(frame)
    return frames


def _expected(src, opts) -> list[np.ndarray]:
    return [np.asarray(thumbnail(frame, opts).convert("RGBA")) for frame in read_frames(src).images]


def _converted_and_expected(src, out, name: str):
    """Convert the folder ``src``; the 3 frames of ``out/name`` as shown, and the thumbnails of the source's."""
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert result.exit_code == 0, result.output
    shown = _shown_frames(out / name)
    assert len(shown) == 3
    return shown, _expected(src / name, Options(method="bicubic"))


def test_gif_frames_come_out_as_shown_whatever_the_source_disposal(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    frames = _bars()
    frames[0].save(src / "a.gif", save_all=True, append_images=frames[1:], disposal=[1, 2, 1], duration=100,
                   loop=0)
    shown, expected = _converted_and_expected(src, out, "a.gif")
    for i, (got, want) in enumerate(zip(shown, expected)):
        # GIF has 1-bit alpha: the written frame is opaque exactly where the thumbnail is at least half
        assert np.array_equal(got[..., 3] > 0, want[..., 3] >= 128), f"frame {i}: an earlier frame shows through"


@pytest.mark.parametrize("disposal, blend", [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), ([0, 2, 1], [1, 0, 1])])
def test_apng_frames_come_out_as_shown_whatever_the_source_disposal_and_blend(tmp_path, disposal, blend):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    frames = _bars()
    frames[1].paste((0, 255, 0, 128), (0, 0, 4, 16))  # half-transparent over frame 0's bar: blending matters
    frames[0].save(src / "a.png", save_all=True, append_images=frames[1:], disposal=disposal, blend=blend,
                   duration=100, loop=0)
    shown, expected = _converted_and_expected(src, out, "a.png")
    for i, (got, want) in enumerate(zip(shown, expected)):
        assert np.array_equal(got, want), f"frame {i} differs from the thumbnail of the frame shown"


# 4. EXIF orientation of a multi-page TIFF: applied once ------------------------------------------------------

def _quadrants() -> Image.Image:
    img = Image.new("RGB", (20, 12), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 6))
    img.paste((0, 255, 0), (10, 6, 20, 12))
    return img


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("pages", [1, 2])
def test_tiff_pages_are_oriented_once(tmp_path, orientation, pages):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    stored = _quadrants()
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(src / "p.tif", save_all=True, append_images=[stored] * (pages - 1), exif=exif)
    tagged = stored.copy()
    tagged.info["exif"] = exif.tobytes()
    upright = ImageOps.exif_transpose(tagged)
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert result.exit_code == 0, result.output
    want = np.asarray(upright.resize((upright.width // 2, upright.height // 2), Image.Resampling.BICUBIC))
    with Image.open(out / "p.tif") as thumb:
        assert getattr(thumb, "n_frames", 1) == pages
        for page in range(pages):
            thumb.seek(page)
            got = np.asarray(thumb.convert("RGB"))
            assert got.shape == want.shape
            corners = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
            assert [tuple(got[c]) for c in corners] == [tuple(want[c]) for c in corners], f"page {page}"


# 10. frames without a duration -----------------------------------------------------------------------------

def _tiff_pages(path) -> None:
    frames = [f.convert("RGB") for f in _palette_frames(3, (16, 12))]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def _gif_without_a_first_control_extension(path) -> None:
    frames = _palette_frames(3, (16, 12))
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[0, 50, 70])
    data = bytearray(path.read_bytes())
    start = data.index(b"\x21\xf9\x04")  # the first Graphic Control Extension (8 bytes): removed
    path.write_bytes(bytes(data[:start] + data[start + 8:]))


def _apng_with_a_cover_image(path) -> None:
    frames = [f.convert("RGB") for f in _palette_frames(4, (16, 12))]
    frames[0].save(path, save_all=True, append_images=frames[1:], default_image=True, duration=[0, 50, 60, 70])


def _mpo(path) -> None:
    frames = [f.convert("RGB") for f in _palette_frames(2, (16, 12))]
    frames[0].save(path, format="MPO", save_all=True, append_images=frames[1:])


MAKERS = {"pages.tif": _tiff_pages, "nogce.gif": _gif_without_a_first_control_extension,
          "cover.png": _apng_with_a_cover_image, "photo.mpo": _mpo}


@pytest.mark.parametrize("name, fmt", [(name, fmt) for name in MAKERS for fmt in ("png", "webp")]
                         + [("nogce.gif", "keep"), ("cover.png", "keep")])
def test_frames_without_a_duration_convert(tmp_path, name, fmt):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    MAKERS[name](src / name)
    source = read_frames(src / name)
    assert None in source.timing["duration"]  # (the case this test is about)
    result = run_cli("convert", src / name, "-o", out, "--method", "bicubic", "--format", fmt)
    assert result.exit_code == 0, result.output
    written = out / (name if fmt == "keep" else (src / name).with_suffix("." + fmt).name)
    with Image.open(written) as thumb:
        if name == "photo.mpo":  # a camera's MPO is a still (a photo and its previews): one frame, no warning
            assert getattr(thumb, "n_frames", 1) == 1 and "warning" not in result.output
            return
        assert getattr(thumb, "n_frames", 1) == len(source.images)
        durations = []
        for i in range(thumb.n_frames):
            thumb.seek(i)
            thumb.load()  # (WebP sets a frame's duration when it is loaded)
            durations.append(thumb.info.get("duration"))
        cover = thumb.info.get("default_image")
    if cover:  # an APNG cover image is not part of the animation and has no duration of its own
        assert None not in durations[1:]  # (Pillow reports these APNG durations one frame late)
    else:
        assert durations == [DEFAULT_FRAME_MS if d is None else d for d in source.timing["duration"]]
