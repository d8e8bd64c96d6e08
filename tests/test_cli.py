import hashlib
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from downscale.cli import main
from conftest import shared_path


@pytest.fixture()
def photo_tree(tmp_path, astronaut):
    """in/a.png, in/sub/b.jpg (upright after EXIF orientation 6), in/notes.txt, in/sub/bad.jpg."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    astronaut.save(root / "a.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    astronaut.crop((0, 0, 512, 256)).save(root / "sub" / "b.jpg", exif=exif)  # displayed 256 wide, 512 tall
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "bad.jpg").write_bytes(b"not a jpeg")
    return root


def _hashes(root: Path) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_convert_mirrors_tree_reports_bad_files_and_leaves_inputs(photo_tree, tmp_path):
    before = _hashes(photo_tree)
    out = tmp_path / "out"
    result = _run("convert", photo_tree, "-o", out, "--ratio", 4, "-r")
    assert result.exit_code == 1
    assert "bad.jpg: not an image file Pillow can decode" in result.output
    assert "2 converted, 0 skipped (already there), 1 failed" in result.output
    assert re.search(r"1 failed -> \S+ \(3 in [0-9.]+ s, [0-9.]+/s\)", result.output)  # the conversion's own time
    assert Image.open(out / "a.png").size == (128, 128)
    assert Image.open(out / "sub" / "b.jpg").size == (64, 128)  # upright: EXIF orientation applied
    assert not (out / "notes.txt").exists() and not (out / "sub" / "bad.jpg").exists()
    assert _hashes(photo_tree) == before
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temporary files left behind"


def test_skip_existing_by_default_and_overwrite_on_request(photo_tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    result = _run("convert", photo_tree / "a.png", "-o", out)
    assert result.exit_code == 0 and "0 converted, 1 skipped" in result.output
    assert (out / "a.png").read_bytes() == b"mine"
    result = _run("convert", photo_tree / "a.png", "-o", out, "--overwrite")
    assert result.exit_code == 0 and Image.open(out / "a.png").size == (256, 256)


def test_non_recursive_takes_top_level_only_and_formats(photo_tree, tmp_path):
    out = tmp_path / "out"
    result = _run("convert", photo_tree, "-o", out, "--format", "webp", "--quality", 80)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.rglob("*")) == ["a.webp"]
    assert Image.open(out / "a.webp").format == "WEBP"


def test_dry_run_writes_nothing(photo_tree, tmp_path):
    out = tmp_path / "out"
    result = _run("convert", photo_tree, "-o", out, "-r", "--dry-run")
    assert result.exit_code == 1  # as the real run: bad.jpg fails
    assert "dry run: 3 file(s) planned: 2 to convert, 0 skipped (already there), 1 failed" in result.output
    assert "bad.jpg: not an image file Pillow can decode" in result.output
    assert f"write: {photo_tree / 'a.png'} -> {out / 'a.png'}" in result.output
    assert not out.exists()


def test_shards_partition_the_job(tmp_path, astronaut):
    src = tmp_path / "in"
    src.mkdir()
    small = astronaut.resize((16, 16))
    for i in range(12):
        small.save(src / f"{i}.png")
    outs = []
    for k in range(3):
        out = tmp_path / f"out{k}"
        assert _run("convert", src, "-o", out, "--shard", f"{k}/3", "--method", "bicubic").exit_code == 0
        outs.append({p.name for p in out.glob("*.png")} if out.exists() else set())
    assert set().union(*outs) == {f"{i}.png" for i in range(12)}
    assert sum(len(o) for o in outs) == 12
    assert _run("convert", src, "-o", tmp_path / "x", "--shard", "3/3").exit_code == 2


def test_bicubic_method_matches_pillow(photo_tree, tmp_path, astronaut):
    out = tmp_path / "out"
    assert _run("convert", photo_tree / "a.png", "-o", out, "--method", "bicubic", "--ratio", 4).exit_code == 0
    expected = astronaut.resize((128, 128), Image.Resampling.BICUBIC)
    assert np.array_equal(np.asarray(Image.open(out / "a.png")), np.asarray(expected))


def test_no_draft_decodes_jpegs_in_full(tmp_path, astronaut):
    astronaut.save(tmp_path / "a.jpg", quality=95)
    outs = {}
    for flag in ("--draft", "--no-draft"):
        out = tmp_path / flag
        assert _run("convert", tmp_path / "a.jpg", "-o", out, "--method", "bicubic", "--ratio", 4, "--format", "png",
                    flag).exit_code == 0
        outs[flag] = np.asarray(Image.open(out / "a.png"))
    expected = np.asarray(Image.open(tmp_path / "a.jpg").resize((128, 128), Image.Resampling.BICUBIC))
    assert np.array_equal(outs["--no-draft"], expected) and not np.array_equal(outs["--draft"], expected)


def test_bad_arguments_are_usage_errors(photo_tree, tmp_path):
    result = _run("convert", photo_tree, "-o", tmp_path / "o", "--ratio", "0.5")
    assert result.exit_code == 2 and "must be >= 1" in result.output
    result = _run("convert", tmp_path / "missing.png", "-o", tmp_path / "o")
    assert result.exit_code == 1 and "missing.png: no such file or folder" in result.output


def test_parallel_jobs_give_the_same_bytes(tmp_path, astronaut):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        astronaut.rotate(90 * i).resize((96, 96)).save(src / f"{i}.png")
    assert _run("convert", src, "-o", tmp_path / "one", "--jobs", 1).exit_code == 0
    assert _run("convert", src, "-o", tmp_path / "two", "--jobs", 2).exit_code == 0
    for i in range(4):
        assert (tmp_path / "one" / f"{i}.png").read_bytes() == (tmp_path / "two" / f"{i}.png").read_bytes()


def test_models_lists_the_registry():
    result = _run("models")
    assert result.exit_code == 0 and "bicubic-identity-r4-v0" in result.output
    line = next(l for l in result.output.splitlines() if " frozen-mobilenet_v2-r2-v3 " in l)
    assert "superseded by frozen-mobilenet_v2-r2-v4" in line


def test_demo_writes_thumbnails_and_comparison(tmp_path):
    result = _run("demo", "-o", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    assert "sharp-bicubic-identity-r2-v0 (NOT learned" in result.output  # the default E, named
    assert Image.open(tmp_path / "demo" / "astronaut_downscale_r2.png").size == (256, 256)
    assert Image.open(tmp_path / "demo" / "comparison_r2.png").size[0] == 768
    result = _run("demo", "-o", tmp_path / "demo4", "--ratio", 4)
    assert result.exit_code == 0 and "area-identity-r4-v0 (NOT learned" in result.output


def test_real_subprocess_on_shared_photos(tmp_path):
    photos = shared_path("photos")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "downscale", "convert", str(photos), "-o", str(tmp_path / "thumbs"),
                           "--ratio", "4"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sources = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".bmp"))
    assert len(sources) == 8 and "8 converted" in proc.stdout
    for src in sources:
        with Image.open(src) as original:
            from PIL import ImageOps

            upright = ImageOps.exif_transpose(original)
            expected = (upright.width // 4, upright.height // 4)
        assert Image.open(tmp_path / "thumbs" / src.name).size == expected


def test_engine_ray_without_ray_says_how_to_install(photo_tree, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = _run("convert", photo_tree / "a.png", "-o", tmp_path / "o", "--engine", "ray")
    assert result.exit_code == 1 and "pip install 'downscale[ray]'" in result.output


def test_ratio_auto_reports_the_chosen_ratios(photo_tree, tmp_path, monkeypatch):
    import downscale.drnet.model as dynamic

    monkeypatch.setattr(dynamic, "choose_ratios", lambda batch, device=None: [4])
    out = tmp_path / "out"
    result = _run("convert", photo_tree / "a.png", "-o", out, "--ratio", "auto")
    assert result.exit_code == 0, result.output
    assert "chosen ratios: 4: 1 file(s)" in result.output
    assert Image.open(out / "a.png").size == (128, 128)
    result = _run("convert", photo_tree / "a.png", "-o", out, "--ratio", "auto", "--method", "bicubic")
    assert result.exit_code == 2 and "--ratio auto needs --method learned" in result.output


_PAGE_FAULTS = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from downscale.cli import keep_freed_memory
    assert keep_freed_memory()
faults = []
for _ in range(20):  # what a training step does: allocate, touch and free a large activation
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(16 << 20).fill_(1.0)  # 64 MB
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[10:]))  # after the heap has settled (the first few grow it)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_compute_commands_keep_freed_memory_instead_of_refaulting_it():
    faults = {mode: int(subprocess.run([sys.executable, "-c", _PAGE_FAULTS, mode], capture_output=True, text=True,
                                       check=True).stdout) for mode in ("default", "keep")}
    assert faults["default"] > 10 * (64 << 20) // 4096 // 2  # about a fault per page, every time
    assert faults["keep"] < faults["default"] / 20
