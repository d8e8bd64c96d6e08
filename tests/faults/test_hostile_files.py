"""Hostile but realistic files and folders for `downscale convert` and `downscale demo`: planted links
and FIFOs, long names, 16-bit big-endian TIFFs, ICC profiles, colour keys, animations, odd options."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

Image.init()

from downscale import engines
from downscale.images import write_image

from .conftest import noise, run_cli


def _convert_in_thread(*args, timeout=60):
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(run_cli(*args)), daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else None


# 1. planted links and FIFOs at temporary names ------------------------------------------------------

def test_a_symlink_planted_at_every_old_style_temporary_name_is_never_followed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    noise(8, 8).save(src / "a.png")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for pid in range(os.getpid() - 50, os.getpid() + 50):  # the name the old code derived from the pid
        (out / f".a.png.{pid}.tmp").symlink_to(victim)
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert not (out / "a.png").is_symlink() and Image.open(out / "a.png").size == (4, 4)


def test_write_image_creates_its_temporary_exclusively_with_o_nofollow(tmp_path, monkeypatch):
    flags = []
    real_open = os.open

    def spy(path, flag, *args, **kwargs):
        flags.append((os.fspath(path), flag))
        return real_open(path, flag, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    assert write_image(noise(4, 4), tmp_path / "x.png", fmt="PNG")
    created = [flag for path, flag in flags if path.endswith(".tmp")]
    want = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    assert created and all(flag & want == want for flag in created)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_a_fifo_planted_in_the_output_folder_does_not_hang(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    noise(8, 8).save(src / "a.png")
    for pid in range(os.getpid() - 20, os.getpid() + 20):
        os.mkfifo(out / f".a.png.{pid}.tmp")
    result = _convert_in_thread("convert", src, "-o", out, "--method", "bicubic")
    if result is None:
        for fifo in out.glob(".*.tmp"):  # unblock the writer, then fail
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        pytest.fail("convert blocked on a FIFO in the output folder")
    assert result.exit_code == 0, result.output


def test_output_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        assert write_image(noise(4, 4), tmp_path / "x.png", fmt="PNG")
    finally:
        os.umask(old)
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o644


# 10. long names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [240, 250, 255])
def test_names_up_to_name_max_convert(tmp_path, length):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    name = "é" * ((length - 4) // 2) + "x" * ((length - 4) % 2) + ".png"  # multi-byte: the limit is in bytes
    assert len(os.fsencode(name)) == length
    noise(8, 8).save(src / name)
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert os.listdir(out) == [name]


# 11. dangling symlinks at the output name ---------------------------------------------------------------

def test_a_dangling_symlink_at_the_output_name_is_left_and_reported_as_a_link(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    noise(8, 8).save(src / "a.png")
    (out / "a.png").symlink_to(tmp_path / "nowhere.png")
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert "written by another run" not in result.output
    assert f"warning: {out / 'a.png'}: exists (a symlink to" in result.output
    assert (out / "a.png").is_symlink() and not (tmp_path / "nowhere.png").exists()
    result = run_cli("convert", src, "-o", out, "--method", "bicubic", "--overwrite")
    assert result.exit_code == 0
    assert not (out / "a.png").is_symlink() and not (tmp_path / "nowhere.png").exists()


# 2. big-endian 16-bit TIFF -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["learned", "bicubic"])
def test_big_endian_sixteen_bit_tiff_keeps_its_brightness(tmp_path, method):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    values = np.tile(np.arange(64, dtype=np.uint16) * 1040, (8, 1))  # 0 .. 65520
    Image.frombytes("I;16B", (64, 8), values.astype(">u2").tobytes()).save(src / "ramp.tif")
    assert Image.open(src / "ramp.tif").mode == "I;16B"
    result = run_cli("convert", src, "-o", out, "--method", method, "--format", "png")
    assert result.exit_code == 0, result.output
    thumb = np.asarray(Image.open(out / "ramp.png")).astype(np.int64)
    assert thumb.max() > 60000 and thumb.min() < 2000


# 3. ICC profiles match what is written --------------------------------------------------------------------

def _profile_space(path) -> bytes | None:
    with Image.open(path) as img:
        icc = img.info.get("icc_profile")
        return icc[16:20] if icc else None


@pytest.mark.parametrize("source_mode, profile, fmt", [
    ("CMYK", b"CMYK", "png"), ("CMYK", b"CMYK", "webp"), ("L", b"GRAY", "webp"),
])
def test_a_profile_whose_colour_space_differs_from_the_output_is_not_attached(tmp_path, source_mode, profile, fmt):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[16:20] = profile  # the header's colour-space field (ICC.1, 7.2.6) is all that is checked
    noise(12, 16).convert(source_mode).save(src / "x.jpg", icc_profile=bytes(icc))
    for method in ("learned", "bicubic"):
        result = run_cli("convert", src, "-o", out / method, "--method", method, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert _profile_space(out / method / f"x.{fmt}") is None


def test_a_matching_profile_is_kept(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    noise(12, 16).save(src / "x.jpg", icc_profile=icc)
    run_cli("convert", src, "-o", out, "--format", "webp")
    assert _profile_space(out / "x.webp") == b"RGB "


def test_cmyk_jpeg_keeps_black_through_convert(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.new("CMYK", (16, 12), (0, 0, 0, 200)).save(src / "k.jpg", quality=100)
    for method in ("learned", "bicubic"):
        run_cli("convert", src, "-o", out / method, "--method", method)
        with Image.open(out / method / "k.jpg") as thumb:
            assert thumb.mode == "CMYK"
            c, m, y, k = np.asarray(thumb).reshape(-1, 4).mean(0)
        assert max(c, m, y) < 5 and abs(k - 200) < 5, (method, c, m, y, k)


# 5. colour-key transparency survives convert ------------------------------------------------------------

def test_rgb_png_with_a_colour_key_stays_transparent(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    img = Image.new("RGB", (16, 8), (0, 255, 0))
    img.paste((200, 10, 10), (8, 0, 16, 8))
    img.save(src / "key.png", transparency=(0, 255, 0))
    for method in ("learned", "bicubic"):
        run_cli("convert", src, "-o", out / method, "--method", method)
        rgba = np.asarray(Image.open(out / method / "key.png").convert("RGBA"))
        assert (rgba[:, :3, 3] == 0).all() and (rgba[:, 5:, 3] == 255).all(), method


# 4. animations and multi-page files --------------------------------------------------------------------------

def _frames(count=3, size=(16, 12)):
    return [Image.new("RGB", size, colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)][:count]]


def _make_animation(path, fmt):
    frames = _frames()
    if fmt == "TIFF":
        frames[0].save(path, save_all=True, append_images=frames[1:])
    else:
        extra = {"disposal": 2} if fmt in ("GIF", "PNG") else {}
        frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                       loop=3, **extra)


@pytest.mark.parametrize("method", ["learned", "bicubic"])
@pytest.mark.parametrize("name, fmt", [("anim.gif", "GIF"), ("anim.webp", "WEBP"), ("anim.png", "PNG"),
                                       ("pages.tif", "TIFF")])
def test_every_frame_is_resized_with_its_timing(tmp_path, name, fmt, method):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _make_animation(src / name, fmt)
    result = run_cli("convert", src, "-o", out, "--method", method)
    assert result.exit_code == 0, result.output
    with Image.open(out / name) as thumb:
        assert getattr(thumb, "n_frames", 1) == 3
        colours, durations = [], []
        for i in range(3):
            thumb.seek(i)
            assert thumb.size == (8, 6)
            colours.append(thumb.convert("RGB").getpixel((4, 3)))
            durations.append(thumb.info.get("duration"))
        loop = thumb.info.get("loop")
    want = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert all(max(abs(a - b) for a, b in zip(c, w)) <= 8 for c, w in zip(colours, want)), colours
    if fmt != "TIFF":
        assert durations == [100, 200, 300] and loop == 3


def test_gif_disposal_is_kept(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _make_animation(src / "a.gif", "GIF")
    run_cli("convert", src, "-o", out, "--method", "bicubic")
    with Image.open(out / "a.gif") as thumb:
        disposals = []
        for i in range(thumb.n_frames):
            thumb.seek(i)
            disposals.append(thumb.disposal_method)
    assert disposals == [2, 2, 2]


def test_an_animation_into_a_still_format_warns_and_keeps_the_first_frame(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _make_animation(src / "anim.gif", "GIF")
    result = run_cli("convert", src, "-o", out, "--format", "jpeg", "--method", "bicubic")
    assert result.exit_code == 0
    assert f"warning: {src / 'anim.gif'}: 3 frames; JPEG stores one, so only the first is written" in result.output
    assert Image.open(out / "anim.jpg").size == (8, 6)


def test_first_frame_option_writes_a_still(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    _make_animation(src / "anim.gif", "GIF")
    result = run_cli("convert", src, "-o", out, "--first-frame")
    assert result.exit_code == 0 and "warning" not in result.output
    with Image.open(out / "anim.gif") as thumb:
        assert getattr(thumb, "n_frames", 1) == 1 and thumb.size == (8, 6)


# 7. CLI arguments that used to raise tracebacks ---------------------------------------------------------------

@pytest.mark.parametrize("ratio", ["inf", "nan", "-inf", "1e400"])
def test_convert_refuses_a_non_finite_ratio(tmp_path, ratio):
    noise(8, 8).save(tmp_path / "a.png")
    result = run_cli("convert", tmp_path / "a.png", "-o", tmp_path / "out", "--ratio", ratio)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--ratio" in result.output and "finite" in result.output


def test_eval_and_train_refuse_a_folder_without_class_sub_folders(tmp_path):
    noise(8, 8).save(tmp_path / "a.png")
    weights = tmp_path / "teacher.pt"
    weights.write_bytes(b"never read: the data is checked first")
    for command in (["eval", "--data", tmp_path, "--classifier", "mobilenet_v2", "--out", tmp_path / "out"],
                    ["train", "--data", tmp_path, "--teacher-weights", weights, "--out", tmp_path / "run"]):
        result = run_cli(*command)
        assert result.exit_code == 2, result.output
        assert "class sub-folders" in result.output and f"{tmp_path}" in result.output


def test_eval_refuses_an_invalid_subset_regex(tmp_path):
    (tmp_path / "n01440764").mkdir()
    noise(8, 8).save(tmp_path / "n01440764" / "a.png")
    result = run_cli("eval", "--data", tmp_path, "--subset-regex", "(")
    assert result.exit_code == 2, result.output
    assert "--subset-regex" in result.output and "not a valid regular expression" in result.output


# 9. workers and the ratio pre-check ------------------------------------------------------------------------

def test_never_more_workers_than_chunks(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        noise(8, 8).save(src / f"{i}.png")
    started = []
    real = engines._start_worker

    def spy(*args, **kwargs):
        started.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engines, "_start_worker", spy)
    monkeypatch.setattr(engines, "_chunks", lambda tasks: [[t] for t in tasks])
    result = run_cli("convert", src, "-o", tmp_path / "out", "--jobs", 1000, "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert len(started) == 2


def test_the_ratio_pre_check_does_not_allocate_ratio_squared(tmp_path, monkeypatch):
    noise(8, 8).save(tmp_path / "a.png")
    sides = []
    real_zeros = torch.zeros

    def spy(*shape, **kwargs):
        sides.append(shape)
        return real_zeros(*shape, **kwargs)

    monkeypatch.setattr(torch, "zeros", spy)
    result = run_cli("convert", tmp_path / "a.png", "-o", tmp_path / "out", "--ratio", 20000)
    assert "a 8x8 image is too small for ratio 20000" in result.output
    assert all(np.prod(s) < 10_000 for s in sides if all(isinstance(n, int) for n in s)), sides


# 11. messages for folders of unsupported suffixes; demo never overwrites ------------------------------------------

def test_a_folder_of_unlisted_image_suffixes_says_why_nothing_was_converted(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.heic", "b.jxl", "c.cr2"):
        (src / name).write_bytes(b"x")
    result = run_cli("convert", src, "-o", tmp_path / "out")
    assert "0 converted" in result.output
    assert "3 file(s) with other suffixes were not tried (.cr2, .heic, .jxl)" in result.output
    assert "name them on the command line" in result.output


@pytest.mark.parametrize("name, fmt", [("a.jfif", "JPEG"), ("a.jpe", "JPEG"), ("a.jp2", "JPEG2000"),
                                       ("a.avif", "AVIF"), ("a.apng", "PNG")])
def test_other_common_image_suffixes_are_picked_up_in_folders(tmp_path, name, fmt):
    if fmt not in Image.SAVE:
        pytest.skip(f"this Pillow does not write {fmt}")
    src = tmp_path / "in"
    src.mkdir()
    noise(8, 8).save(src / name, format=fmt)
    result = run_cli("convert", src, "-o", tmp_path / "out", "--method", "bicubic")
    assert "1 converted" in result.output, result.output
    assert Image.open(tmp_path / "out" / name).size == (4, 4)


def test_demo_never_overwrites_existing_files(tmp_path, monkeypatch):
    import downscale.demo as demo

    monkeypatch.setattr(demo, "PHOTOS", ("camera",))
    out = tmp_path / "demo"
    out.mkdir()
    (out / "camera_downscale_r2.png").write_text("mine")
    result = run_cli("demo", "-o", out)
    assert result.exit_code != 0
    assert "camera_downscale_r2.png" in result.output and "exists" in result.output
    assert (out / "camera_downscale_r2.png").read_text() == "mine"
    assert "Traceback" not in result.output
    result = run_cli("demo", "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert Image.open(out / "camera_downscale_r2.png").size == (256, 256)
