"""Hostile inputs, second pass: bad files under eval and train, bad arguments, thin images with
ratio auto, a dying worker, multi-image files, links, names and formats that were handled wrongly."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from downscale import engines, learned_resize, pretrained
from downscale.errors import InvalidArgumentError, WeightsError
from downscale.images import _create_temporary

from .conftest import assert_error_line, assert_no_leftovers, error_lines, noise, run_cli

Image.init()


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output and not isinstance(result.exception, (AttributeError, RuntimeError,
                                                                                  OverflowError, TypeError))


def _labelled(root, count=3, side=32):
    """An ImageFolder of ``count`` noise PNGs in one wnid class folder."""
    folder = root / "n01440764"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), np.uint8)).save(folder / f"{i}.png")
    return folder


def _bad_files(folder):
    """A zero-byte, a text and a truncated file with image suffixes; returns their paths."""
    buf = io.BytesIO()
    noise(64, 64).save(buf, "JPEG")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not a picture\n")
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[:800])
    return [folder / "empty.jpg", folder / "text.png", folder / "truncated.jpg"]


# 11. unreadable images under eval and train ----------------------------------------------------------------

def test_eval_lists_and_skips_unreadable_images_and_evaluates_the_rest(tmp_path):
    folder = _labelled(tmp_path / "data")
    bad = _bad_files(folder)
    out = tmp_path / "out"
    result = run_cli("eval", "--data", tmp_path / "data", "--classifier", "mobilenet_v2", "--image-size", 32,
                     "--ratio", 2, "--methods", "area", "--latency-repeats", 0, "--grid-images", 0, "--out", out)
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    for path, cause in zip(bad, ["not an image file: it is empty", "not an image file Pillow can decode",
                                 "cannot read: (?i:.*truncated).*; skipped"]):
        assert_error_line(result.output, path, cause)
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["n_images"] == 3 and len(res["config"]["unreadable"]) == 3
    assert sorted(im["path"] for im in res["images"]) == [f"n01440764/{i}.png" for i in range(3)]


def test_train_refuses_unreadable_images_up_front_naming_them(tmp_path):
    folder = _labelled(tmp_path / "data")
    (folder / "empty.jpg").write_bytes(b"")
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(b"never read: the data is checked first")
    result = run_cli("train", "--data", tmp_path / "data", "--teacher-weights", teacher, "--out", tmp_path / "run",
                     "--holdout", 1)
    _no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"{folder / 'empty.jpg'}: not an image file: it is empty" in result.output
    assert "1 of the run's 4 image file(s) cannot be read" in result.output
    assert not (tmp_path / "run" / "cache").exists()


# 12. bad arguments: one line naming the option, before any expensive work --------------------------------

@pytest.mark.parametrize("device, cause", [("bogus", "not a device torch knows"),
                                           ("cuda:7" if torch.cuda.is_available() else "cuda", "GPU")])
def test_eval_and_train_refuse_a_bad_device_up_front(tmp_path, device, cause):
    _labelled(tmp_path / "data")
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(b"")
    for command in (["eval", "--data", tmp_path / "data", "--classifier", "mobilenet_v2", "--out", tmp_path / "o"],
                    ["train", "--data", tmp_path / "data", "--teacher-weights", teacher, "--out", tmp_path / "run"]):
        result = run_cli(*command, "--device", device)
        _no_traceback(result)
        assert result.exit_code == 2, result.output
        assert "--device" in result.output and cause in result.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "o").exists()


def test_train_checks_fm_layer_and_a_fixed_downscaler_before_creating_out(tmp_path):
    _labelled(tmp_path / "data")
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(b"")
    common = ["train", "--data", tmp_path / "data", "--teacher-weights", teacher, "--out", tmp_path / "run"]
    result = run_cli(*common, "--strategy", "fm", "--fm-layer", "net.bogus")
    _no_traceback(result)
    assert result.exit_code == 2 and "--fm-layer" in result.output
    assert "'net.bogus' is not a module of mobilenet_v2 (its blocks: net.features.0" in result.output
    result = run_cli(*common, "--downscaler", "no-such-E")
    _no_traceback(result)
    assert result.exit_code == 2 and "--downscaler" in result.output
    assert "neither a registered name nor a file" in result.output
    result = run_cli(*common, "--downscaler", pretrained.default_weights(2), "--ratio", 4)
    assert result.exit_code == 2 and "reduces by 2, but --ratio is 4" in result.output
    assert not (tmp_path / "run").exists()


def test_eval_refuses_a_ratio_the_image_size_cannot_take(tmp_path):
    _labelled(tmp_path / "data")
    result = run_cli("eval", "--data", tmp_path / "data", "--classifier", "mobilenet_v2", "--ratio", "2,300",
                     "--methods", "area", "--out", tmp_path / "o")
    _no_traceback(result)
    assert result.exit_code == 2 and "--ratio" in result.output
    assert "a 224x224 image is too small for ratio 300" in result.output and "--image-size 224" in result.output


@pytest.mark.parametrize("ratios", ["16", "0", "2,3"])
def test_bench_refuses_ratios_without_an_e(ratios):
    result = run_cli("bench", "--ratios", ratios)
    _no_traceback(result)
    assert result.exit_code == 2 and "--ratios" in result.output and "trained for ratios 2, 4 only" in result.output


@pytest.mark.parametrize("ratio", [10**400, -10**400])
def test_learned_resize_refuses_a_ratio_too_large_for_a_float(ratio):
    with pytest.raises(InvalidArgumentError, match=r"ratio must be a finite number >= 1.*got -?1000.*\.\.\..*0+$"):
        learned_resize(np.zeros((8, 8, 3), np.uint8), ratio)


# 13. ratio="auto" chooses among the ratios the image can take ---------------------------------------------

@pytest.mark.parametrize("size", [(300, 1), (1, 300), (300, 3), (3, 300)])
def test_auto_ratio_fits_thin_photos(size, tmp_path):
    img = Image.fromarray(skdata.astronaut()).resize(size)  # the predictor picks 2 for this photo at any size
    thumb = learned_resize(img, "auto")
    assert thumb.width >= 1 and thumb.height >= 1
    img.save(tmp_path / "thin.png")
    result = run_cli("convert", tmp_path / "thin.png", "-o", tmp_path / "out", "--ratio", "auto")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "thin.png").size == thumb.size


# 14. one dying worker of --jobs N ---------------------------------------------------------------------------

def _die_on(name):
    """A convert_batch that, on the chunk holding ``name``, starts a temporary file and dies by SIGKILL."""
    real = engines.convert_batch

    def batch(tasks, opts):
        for task in tasks:
            if task.source.name == name:
                task.dest.parent.mkdir(parents=True, exist_ok=True)
                _create_temporary(task.dest)  # half-written, as by a worker killed mid-write
                os.kill(os.getpid(), signal.SIGKILL)
        return real(tasks, opts)

    return batch


def test_a_worker_killed_mid_run_fails_its_chunk_only_and_the_run_carries_on(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(40):  # chunks of 16 files: 0-15, 16-31, 32-39
        noise(8, 8).save(src / f"img{i:02d}.png")
    monkeypatch.setattr(engines, "convert_batch", _die_on("img20.png"))  # (inherited by the forked workers)
    result = run_cli("convert", src, "-o", out, "--method", "bicubic", "--jobs", 2)
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    lost = [f"img{i:02d}.png" for i in range(16, 32)]
    for name in lost:
        assert_error_line(result.output, src / name, r"lost: the worker process converting it \(in a chunk of 16 "
                                                     r"file\(s\)\) died \(killed by SIGKILL; out of memory\?\)")
    assert len(error_lines(result.output)) == 16
    assert "24 converted, 0 skipped (already there), 16 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"img{i:02d}.png" for i in range(40) if i not in
                                                           range(16, 32))
    assert_no_leftovers(out)


def test_every_worker_dying_fails_every_file_and_ends(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        noise(8, 8).save(src / f"img{i}.png")
    monkeypatch.setattr(engines, "_chunks", lambda tasks: [[t] for t in tasks])
    monkeypatch.setattr(engines, "convert_batch", lambda tasks, opts: os.kill(os.getpid(), signal.SIGKILL))
    result = run_cli("convert", src, "-o", out, "--method", "bicubic", "--jobs", 2)
    assert result.exit_code == 1 and "0 converted, 0 skipped (already there), 3 failed" in result.output
    assert_no_leftovers(out)


# 15. multi-image files that are stills, and animated AVIF ------------------------------------------------

def test_a_camera_mpo_is_a_still_without_a_frames_warning(tmp_path):
    photo, preview = noise(32, 48), noise(8, 12)
    photo.save(tmp_path / "camera.jpg", "MPO", save_all=True, append_images=[preview])
    assert Image.open(tmp_path / "camera.jpg").n_frames == 2
    for fmt in ("keep", "jpeg", "png", "webp"):
        out = tmp_path / f"out-{fmt}"
        result = run_cli("convert", tmp_path / "camera.jpg", "-o", out, "--method", "bicubic", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output and "frames" not in result.output
        (written,) = out.iterdir()
        with Image.open(written) as thumb:
            assert thumb.size == (24, 16) and getattr(thumb, "n_frames", 1) == 1


@pytest.mark.skipif("AVIF" not in Image.SAVE_ALL, reason="this Pillow does not write AVIF animations")
def test_animated_avif_keeps_its_frames(tmp_path):
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.avif", save_all=True, append_images=frames[1:], duration=[100, 200, 300])
    result = run_cli("convert", tmp_path / "anim.avif", "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    with Image.open(tmp_path / "out" / "anim.avif") as thumb:
        assert thumb.n_frames == 3 and thumb.size == (8, 8)
        colours = []
        for i in range(3):
            thumb.seek(i)
            colours.append(int(np.argmax(np.asarray(thumb.convert("RGB"))[4, 4])))
        assert colours == [0, 1, 2]


# 16. a corrupt downscale-models file names its own distribution -----------------------------------------

def test_a_corrupt_downscale_models_file_names_downscale_models(tmp_path, monkeypatch):
    if pretrained.models_dir() is None:
        pytest.skip("downscale-models is not installed")
    copy = tmp_path / "models"
    shutil.copytree(pretrained.models_dir(), copy)
    name, meta = next((n, m) for n, m in pretrained.list_pretrained(kind=None).items()
                      if m.get("package") == pretrained.MODELS_PACKAGE)
    path = copy / meta["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "models_dir", lambda: copy)
    with pytest.raises(WeightsError) as caught:
        pretrained.load_weights(name)
    message = str(caught.value)
    assert "sha256 does not match" in message and "reinstall downscale-models (pip install ./models)" in message
    assert "reinstall downscale " not in message and "reinstall downscale," not in message
    path.unlink()
    with pytest.raises(WeightsError, match=r"missing; reinstall downscale-models \(pip install ./models\)$"):
        pretrained.load_weights(name)


# 17. a file where a mirrored sub-folder must go ---------------------------------------------------------

def test_a_file_in_the_way_of_a_mirrored_sub_folder_is_named(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub" / "deeper").mkdir(parents=True)
    noise(8, 8).save(src / "sub" / "a.png")
    noise(8, 8).save(src / "sub" / "deeper" / "b.png")
    noise(8, 8).save(src / "c.png")
    out.mkdir()
    (out / "sub").write_text("in the way")
    result = run_cli("convert", src, "-o", out, "-r", "--method", "bicubic")
    assert result.exit_code == 1, result.output
    for name in ("sub/a.png", "sub/deeper/b.png"):
        assert_error_line(result.output, src / name, f"cannot write {re.escape(str(out / name))}: "
                                                     f"{re.escape(str(out / 'sub'))} is a file, not a folder")
    assert "1 converted" in result.output and (out / "sub").read_text() == "in the way"


# 18. float64 precision and gradcheck ---------------------------------------------------------------------

def test_float64_input_keeps_float64_precision():
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    for img in (x, x[0].permute(1, 2, 0).numpy()):
        y = torch.as_tensor(learned_resize(img, 2, dtype=torch.float64))
        assert y.dtype == torch.float64
        assert (y.float().double() != y).any(), "the result went through float32"


@pytest.mark.parametrize("ratio, weights", [(2, None), (3, None), (4, None), (2, "frozen-mobilenet_v2-r2-v4")])
def test_gradcheck_passes_at_default_tolerances(ratio, weights, one_torch_thread):
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda t: learned_resize(t, ratio, weights=weights, dtype=torch.float64), (x,))


# 19. a symlinked alias of an image in the same folder -------------------------------------------------------

def test_a_symlinked_alias_in_the_same_folder_is_converted_under_its_own_name(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    noise(8, 8).save(src / "a.png")
    (src / "latest.png").symlink_to("a.png")
    result = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert result.exit_code == 0 and "2 converted" in result.output, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "latest.png"]
    assert not (out / "latest.png").is_symlink()
    again = run_cli("convert", src, src / "a.png", src / "latest.png", "-o", tmp_path / "out2", "--method", "bicubic")
    assert "2 converted" in again.output  # each name once, however often it is given


# 20. cosmetics --------------------------------------------------------------------------------------------

def test_one_chunk_prints_no_rate_after_start_up(tmp_path):
    for i in range(6):
        noise(8, 8).save(tmp_path / f"{i}.png")
    result = run_cli("convert", tmp_path, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 0 and "6 converted" in result.output
    assert "start-up" not in result.output


def test_many_chunks_give_the_rate_after_the_first_chunk(tmp_path):
    for i in range(20):
        noise(8, 8).save(tmp_path / f"{i:02d}.png")
    result = run_cli("convert", tmp_path, "-o", tmp_path / "out", "--method", "bicubic")
    assert re.search(r"^start-up [0-9.]+ s \(to the first result\), then 4 in [0-9.]+ s \([0-9.]+/s\)$",
                     result.output, re.M), result.output


def test_names_that_are_not_utf8_are_shown_with_the_replacement_character(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / os.fsdecode(b"bad\xff.png")).write_text("not a picture")
    done = subprocess.run([sys.executable, "-m", "downscale", "convert", str(src), "-o", str(tmp_path / "out"),
                           "--method", "bicubic"], capture_output=True)
    assert done.returncode == 1
    assert b"\\udcff" not in done.stderr
    assert f"error: {src}/bad\ufffd.png: not an image file".encode() in done.stderr


def _is_lossless(path) -> bool:
    return b"VP8L" in path.read_bytes()[:64]


def test_lossless_webp_stays_lossless(tmp_path):
    noise(16, 16).save(tmp_path / "l.webp", lossless=True)
    noise(16, 16).save(tmp_path / "q.webp", quality=80)
    frames = [noise(16, 16), noise(16, 16).rotate(90)]
    frames[0].save(tmp_path / "anim.webp", lossless=True, save_all=True, append_images=frames[1:], duration=50)
    noise(16, 16).save(tmp_path / "p.png")
    result = run_cli("convert", tmp_path, "-o", tmp_path / "out", "--method", "bicubic")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert _is_lossless(out / "l.webp") and not _is_lossless(out / "q.webp")
    assert b"VP8L" in (out / "anim.webp").read_bytes()
    with Image.open(tmp_path / "l.webp") as source, Image.open(out / "l.webp") as thumb:
        want = source.convert("RGB").resize((8, 8), Image.Resampling.BICUBIC)
        assert np.array_equal(np.asarray(thumb.convert("RGB")), np.asarray(want))
    result = run_cli("convert", tmp_path / "p.png", "-o", tmp_path / "out2", "--method", "bicubic", "--format", "webp")
    assert not _is_lossless(tmp_path / "out2" / "p.webp")  # only a lossless source stays lossless


def test_a_ray_address_where_nothing_listens_fails_at_once_naming_it(tmp_path, monkeypatch):
    import socket
    import time
    import types

    with socket.socket() as probe:  # a free port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inits = []
    fake = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kwargs: inits.append(kwargs))
    monkeypatch.setitem(sys.modules, "ray", fake)  # (Ray itself would retry for minutes)
    noise(8, 8).save(tmp_path / "a.png")
    for given in ([f"127.0.0.1:{port}"], [f"ray://127.0.0.1:{port}"]):
        tic = time.monotonic()
        result = run_cli("convert", tmp_path / "a.png", "-o", tmp_path / "out", "--method", "bicubic",
                         "--engine", "ray", "--ray-address", *given)
        assert time.monotonic() - tic < 30 and result.exit_code == 1, result.output
        assert f"Error: no Ray cluster answers at {given[0]} (--ray-address, else $RAY_ADDRESS)" in result.output
    assert inits == []
