"""`downscale convert` on messy inputs: each case's exit code, error line, the other files, the inputs' bytes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from .conftest import BAD, CASES, GOOD, assert_error_line, assert_no_leftovers, error_lines, noise, run_cli, snapshot


def _with_good_file(tmp_path, case):
    root = tmp_path / "in"
    root.mkdir()
    case.make(root / case.name)
    noise(8, 12).save(root / "good.png")
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_alone_beside_a_good_file(tmp_path, case):
    root = _with_good_file(tmp_path, case)
    before, out = snapshot(root), tmp_path / "out"
    result = run_cli("convert", root, "-o", out, "--method", "bicubic")
    assert result.exit_code == (1 if case.error else 0), result.output
    if case.error:
        assert_error_line(result.output, root / case.name, case.error)
        assert not (out / case.name).exists()
        assert "1 converted, 0 skipped (already there), 1 failed" in result.output
    else:
        assert error_lines(result.output) == []
        with Image.open(out / case.name) as thumb:
            assert (thumb.size, thumb.mode) == (case.size, case.mode)
    assert Image.open(out / "good.png").size == (6, 4)
    assert snapshot(root) == before
    assert_no_leftovers(out)


def test_whole_messy_folder_with_the_learned_downscaler(messy, tmp_path):
    before, out = snapshot(messy), tmp_path / "out"
    result = run_cli("convert", messy, "-o", out)
    assert result.exit_code == 1
    assert len(error_lines(result.output)) == len(BAD)
    for case in BAD:
        assert_error_line(result.output, messy / case.name, case.error)
    assert f"{len(GOOD)} converted, 0 skipped (already there), {len(BAD)} failed" in result.output
    for case in GOOD:
        with Image.open(out / case.name) as thumb:
            assert (thumb.size, thumb.mode) == (case.size, case.learned_mode or case.mode), case.name
    assert sorted(p.name for p in out.iterdir()) == sorted(c.name for c in GOOD)  # folder.png/ is not a file
    assert snapshot(messy) == before
    assert_no_leftovers(out)


@pytest.mark.parametrize("name", ["exif6.jpg", "exif6-corrupt.jpg"])
def test_exif_orientation_6_comes_out_upright_without_the_tag(messy, tmp_path, name):
    out = tmp_path / "out"
    run_cli("convert", messy / name, "-o", out, "--method", "bicubic")
    with Image.open(out / name) as thumb:
        assert thumb.size == (6, 10)  # stored 20x12 landscape, displayed portrait
        assert thumb.getexif().get(0x0112, 1) == 1  # no orientation left to apply twice
        top, bottom = thumb.getpixel((3, 1)), thumb.getpixel((3, 8))
    assert top[2] > 200 > top[0] and bottom[0] > 200 > bottom[2]  # the stored left (blue) half is on top


@pytest.mark.parametrize("method", ["bicubic", "learned"])
def test_gif_keeps_its_colours_and_transparency(messy, tmp_path, method):
    run_cli("convert", messy / "transparent.gif", "-o", tmp_path, "--method", method)
    with Image.open(tmp_path / "transparent.gif") as thumb:
        rgba = np.asarray(thumb.convert("RGBA"))
    assert (rgba[:, :4, 3] == 0).all()  # the see-through half stays see-through
    assert (rgba[:, 6:, 3] == 255).all() and (rgba[:, 6:, :3] == (200, 0, 0)).all()  # and red stays red, not grey


def test_a_folder_named_like_an_image_is_a_folder(messy, tmp_path):
    result = run_cli("convert", messy, "-o", tmp_path / "flat", "--method", "bicubic")
    assert "folder.png" not in result.output and not (tmp_path / "flat" / "folder.png").exists()
    result = run_cli("convert", messy, "-o", tmp_path / "deep", "--method", "bicubic", "-r")
    assert f"{len(GOOD) + 1} converted" in result.output
    assert Image.open(tmp_path / "deep" / "folder.png" / "inner.png").size == (4, 4)


def test_an_image_smaller_than_the_ratio(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    noise(3, 7).save(root / "small.png")
    noise(8, 8).save(root / "ok.png")
    result = run_cli("convert", root, "-o", tmp_path / "out", "--ratio", 4, "--method", "bicubic")
    assert result.exit_code == 1
    assert_error_line(result.output, root / "small.png", "a 3x7 image is too small for ratio 4: each side needs at least 4")
    assert Image.open(tmp_path / "out" / "ok.png").size == (2, 2)


@pytest.mark.parametrize("pixels, raised", [(40 * 40, "warning"), (100 * 100, "error")])
def test_decompression_bomb_is_refused_not_crashed(tmp_path, monkeypatch, pixels, raised):
    root = tmp_path / "in"
    root.mkdir()
    side = int(pixels**0.5)
    Image.new("L", (side, side)).save(root / "bomb.png")
    Image.new("L", (20, 20)).save(root / "ok.png")
    before = snapshot(root)
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice it; both must be refused.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    result = run_cli("convert", root, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 1
    assert_error_line(result.output, root / "bomb.png", "refused: .*decompression bomb.*raise PIL.Image.MAX_IMAGE_PIXELS")
    assert (tmp_path / "out" / "ok.png").exists() and not (tmp_path / "out" / "bomb.png").exists()
    assert snapshot(root) == before


def test_output_folder_that_cannot_be_created(messy, tmp_path):
    # Works as root too: no permission bits involved, the output's parent is a file.
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    before = snapshot(messy)
    result = run_cli("convert", messy, "-o", blocker / "out", "--method", "bicubic")
    assert result.exit_code == 1
    assert f"Error: cannot create output folder {blocker / 'out'}: Not a directory" in result.output
    assert snapshot(messy) == before and blocker.read_text() == "a file, not a folder"


def test_output_path_occupied_by_a_folder_is_an_error_not_a_skip(tmp_path):
    root = _with_good_file(tmp_path, CASES[-1])
    (tmp_path / "out" / "good.png").mkdir(parents=True)
    result = run_cli("convert", root, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 1
    assert_error_line(result.output, root / "good.png", f"its output {tmp_path / 'out' / 'good.png'} is a folder")
    assert "1 converted, 0 skipped (already there), 1 failed" in result.output


def test_output_folder_inside_the_input_tree_is_never_reprocessed(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    noise(16, 16).save(root / "a.png")
    noise(16, 16).save(root / "sub" / "b.png")
    before, out = snapshot(root), root / "thumbs"
    first = run_cli("convert", root, "-o", out, "-r", "--method", "bicubic")
    assert first.exit_code == 0 and "2 converted, 0 skipped" in first.output
    again = run_cli("convert", root, "-o", out, "-r", "--method", "bicubic")
    assert again.exit_code == 0 and "0 converted, 2 skipped" in again.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["a.png", "sub/b.png"]
    assert {k: v for k, v in snapshot(root).items() if not k.startswith("thumbs")} == before


def test_the_same_input_given_twice_is_converted_once(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    noise(16, 16).save(root / "a.png")
    result = run_cli("convert", root / "a.png", root / "a.png", root / "." / "a.png", root, "-o", tmp_path / "out",
                     "--method", "bicubic")
    assert result.exit_code == 0 and "1 converted, 0 skipped (already there), 0 failed" in result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


def test_two_inputs_with_one_output_name_convert_the_first_and_report_the_second(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        noise(16, 16).save(tmp_path / folder / "a.png")
    result = run_cli("convert", tmp_path / "x" / "a.png", tmp_path / "y" / "a.png", "-o", tmp_path / "out",
                     "--method", "bicubic")
    assert result.exit_code == 1
    assert_error_line(result.output, tmp_path / "y" / "a.png", f"output {tmp_path / 'out' / 'a.png'} is also the output of")
    assert "1 converted" in result.output


def test_symlink_loops_with_recursive(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    noise(16, 16).save(root / "sub" / "a.png")
    (root / "sub" / "up").symlink_to("..")  # a folder loop: in/sub/up/sub/up/...
    (root / "loop.png").symlink_to("loop.png")  # a file link to itself
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    before = snapshot(root)
    result = run_cli("convert", root, "-o", tmp_path / "out", "-r", "--method", "bicubic")
    assert result.exit_code == 1
    assert_error_line(result.output, root / "loop.png", "cannot read: Too many levels of symbolic links")
    assert "1 converted, 0 skipped (already there), 1 failed" in result.output
    assert [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")] == ["sub", "sub/a.png"]
    assert snapshot(root) == before


def test_weights_whose_sha256_does_not_match_are_refused_once(messy, tmp_path, tampered_weights):
    name, path = tampered_weights
    before, out = snapshot(messy), tmp_path / "out"
    for weights in ([], ["--weights", name]):  # the default for ratio 2, and by name
        result = run_cli("convert", messy, "-o", out, *weights)
        assert result.exit_code == 1
        assert f"{path}: sha256 does not match the registry" in result.output
        assert result.output.count("does not match") == 1 and not out.exists()  # once, not per file
    assert snapshot(messy) == before


def test_weights_file_that_is_an_arbitrary_pickle_is_refused(messy, tmp_path, evil_weights):
    evil, marker = evil_weights
    before = snapshot(messy)
    result = run_cli("convert", messy, "-o", tmp_path / "out", "--weights", evil)
    assert result.exit_code == 1
    assert f"{evil}: not a loadable weights file (UnpicklingError" in result.output
    assert not marker.exists() and not (tmp_path / "out").exists()
    assert snapshot(messy) == before


def test_file_names_that_are_not_utf8(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    good, bad = (os.fsdecode(b"caf\xe9.png"), os.fsdecode(b"caf\xe9 menu.jpg"))  # Latin-1 bytes, as old archives have
    try:
        noise(8, 8).save(root / good)
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"this filesystem refuses non-UTF-8 names ({exc})")
    (root / bad).write_bytes(b"not a jpeg")
    before = snapshot(root)
    for shard in ("0/1", "1/2"):  # the shard hash must take such names too
        run_cli("convert", root, "-o", tmp_path / "out", "--method", "bicubic", "--shard", shard)
    result = run_cli("convert", root, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 1
    assert "error: " in result.output and "menu.jpg: not an image file Pillow can decode" in result.output
    assert "0 converted, 1 skipped (already there), 1 failed" in result.output
    assert os.listdir(os.fsencode(tmp_path / "out")) == [b"caf\xe9.png"]
    assert snapshot(root) == before


def test_output_folder_that_is_the_input_folder_never_overwrites_an_input(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    noise(16, 16).save(root / "a.png")
    (tmp_path / "alias").symlink_to(root)
    before = snapshot(root)
    for outdir in (root, tmp_path / "alias"):
        result = run_cli("convert", root, "-o", outdir, "--method", "bicubic", "--overwrite")
        assert result.exit_code == 1
        assert_error_line(result.output, root / "a.png", f"output {outdir / 'a.png'} would overwrite an input")
        assert "0 converted, 0 skipped (already there), 1 failed" in result.output
    assert snapshot(root) == before
