import hashlib
import os
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


def test_convert_method_bicubic_is_the_old_spelling_of_pil_bicubic(photo_tree, tmp_path):
    outs = {}
    for method in ("pil_bicubic", "bicubic"):
        result = _run("convert", photo_tree / "a.png", "-o", tmp_path / method, "--method", method, "--ratio", 4)
        assert result.exit_code == 0, result.output
        notice = "note: --method bicubic is now spelled --method pil_bicubic (the same resize)"
        assert (notice in result.output) == (method == "bicubic")
        outs[method] = (tmp_path / method / "a.png").read_bytes()
    assert outs["bicubic"] == outs["pil_bicubic"]  # the old command's output does not change
    result = _run("convert", photo_tree / "a.png", "-o", tmp_path / "x", "--method", "bicubic_aa")
    assert result.exit_code == 2 and "'bicubic_aa' is not one of learned, pil_bicubic" in result.output


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
    assert result.exit_code == 2 and "a finite number >= 1" in result.output and "--ratio" in result.output
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


def test_models_lists_the_current_weights_defaults_marked():
    from downscale.pretrained import default_weights, list_pretrained, superseded_by

    result = _run("models")
    assert result.exit_code == 0 and "bicubic-identity-r4-v0" in result.output
    lines = result.output.splitlines()
    hidden = ("frozen-mobilenet_v2-r2-v3 ", "thumbnet-mobilenet_v2-imagenette-r4-v1 ", "drnet-mobilenet_v2-imagenette-v1-t0.45")
    assert not any(name in result.output for name in (*hidden, "superseded by"))
    for ratio in (2, 4, "auto"):
        assert next(line for line in lines if f" {default_weights(ratio)} " in line).startswith("* ")
    superseded = sum(superseded_by(name) is not None for name in list_pretrained(kind=None, all=True))
    assert superseded >= 11 and lines[-1] == f"({superseded} superseded weights not shown; --all lists them)"


def test_models_all_lists_the_superseded_too():
    result = _run("models", "--all")
    assert result.exit_code == 0 and "not shown" not in result.output
    line = next(row for row in result.output.splitlines() if " frozen-mobilenet_v2-r2-v3 " in row)
    assert "superseded by frozen-mobilenet_v2-r2-v4" in line
    line = next(row for row in result.output.splitlines() if " thumbnet-mobilenet_v2-imagenette-r4-v1 " in row)
    assert "superseded by thumbnet-mobilenet_v2-imagenette-r4-v2" in line  # a later version of the same name


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
    import downscale.dynamic as dynamic

    monkeypatch.setattr(dynamic, "choose_ratios", lambda batch, device=None: [4])
    out = tmp_path / "out"
    result = _run("convert", photo_tree / "a.png", "-o", out, "--ratio", "auto")
    assert result.exit_code == 0, result.output
    assert "chosen ratios: 4: 1 file(s)" in result.output
    assert Image.open(out / "a.png").size == (128, 128)
    result = _run("convert", photo_tree / "a.png", "-o", out, "--ratio", "auto", "--method", "bicubic")
    assert result.exit_code == 2 and "--ratio auto needs --method learned" in result.output


def test_convert_fov_crops_only_when_asked(photo_tree, tmp_path, astronaut):
    from downscale import learned_resize

    out = tmp_path / "out"
    assert _run("convert", photo_tree / "a.png", "-o", out, "--ratio", 4, "--fov", 0.5).exit_code == 0
    expected = learned_resize(astronaut, 4, fov=0.5)  # the centre 256x256 at the 128x128 of the whole image
    assert np.array_equal(np.asarray(Image.open(out / "a.png")), np.asarray(expected))
    assert _run("convert", photo_tree / "a.png", "-o", tmp_path / "whole", "--ratio", 4).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "whole" / "a.png")), np.asarray(learned_resize(astronaut, 4)))
    bicubic = tmp_path / "bicubic"
    assert _run("convert", photo_tree / "a.png", "-o", bicubic, "--method", "bicubic", "--ratio", 4,
                "--fov", 0.75).exit_code == 0
    want = astronaut.resize((128, 128), Image.Resampling.BICUBIC, box=(64, 64, 448, 448))
    assert np.array_equal(np.asarray(Image.open(bicubic / "a.png")), np.asarray(want))


def test_convert_fov_with_draft_decoding_keeps_the_same_view(tmp_path, astronaut):
    astronaut.save(tmp_path / "a.jpg", quality=95)
    outs = {}
    for flag in ("--draft", "--no-draft"):
        out = tmp_path / flag
        assert _run("convert", tmp_path / "a.jpg", "-o", out, "--method", "bicubic", "--ratio", 8, "--fov", 0.5,
                    "--format", "png", flag).exit_code == 0
        outs[flag] = np.asarray(Image.open(out / "a.png")).astype(int)
    assert outs["--draft"].shape == (64, 64, 3) and np.abs(outs["--draft"] - outs["--no-draft"]).mean() < 3


@pytest.mark.parametrize("args, message", [
    (("--fov", "0"), "0 < FOV <= 1"), (("--fov", "1.5"), "0 < FOV <= 1"), (("--fov", "nan"), "0 < FOV <= 1"),
    (("--fov", "x"), "0 < FOV <= 1"), (("--fov", "0.4", "--ratio", "2"), "--fov >= 1/ratio = 0.5"),
    (("--fov", "0.5", "--ratio", "auto"), "needs a fixed --ratio"),
])
def test_convert_rejects_bad_fov(photo_tree, tmp_path, args, message):
    result = _run("convert", photo_tree / "a.png", "-o", tmp_path / "o", *args)
    assert result.exit_code == 2 and message in result.output and "--fov" in result.output
    assert not (tmp_path / "o").exists()


JSON_KEYS = ["output", "engine", "dry_run", "planned", "converted", "skipped", "failed", "exit_status", "failures",
             "warnings", "ratios", "files", "not_tried", "setup_s", "startup_s", "seconds", "after_startup_files",
             "after_startup_s", "per_s_after_startup"]


def test_convert_json_prints_the_summary_alone_on_stdout(photo_tree, tmp_path):
    import json

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(photo_tree), "-o", str(out), "-r", "--method", "bicubic",
                                       "--format", "jpeg", "--json"])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == JSON_KEYS
    a, b, bad = photo_tree / "a.png", photo_tree / "sub" / "b.jpg", photo_tree / "sub" / "bad.jpg"
    assert {k: summary[k] for k in JSON_KEYS[:8]} == {
        "output": str(out), "engine": "local", "dry_run": False, "planned": 3, "converted": 2, "skipped": 0,
        "failed": 1, "exit_status": 1}
    assert summary["failures"] == [{"file": str(bad), "message": f"{bad}: not an image file Pillow can decode"}]
    assert summary["files"][0] == {"source": str(a), "dest": str(out / "a.jpg"), "status": "converted", "ratio": 2,
                                   "message": f"{a} -> {out / 'a.jpg'} (256x256)", "warning": None}
    assert [(f["source"], f["status"]) for f in summary["files"]] == [
        (str(a), "converted"), (str(b), "converted"), (str(bad), "failed")]
    assert summary["ratios"] == {"2": 2} and summary["not_tried"] == [str(photo_tree / "notes.txt")]
    assert summary["warnings"] == [] and summary["after_startup_s"] is None
    assert 0 <= summary["startup_s"] <= summary["seconds"]
    assert "2 converted, 0 skipped (already there), 1 failed" in result.stderr  # the human lines, on stderr
    assert f"error: {bad}: not an image file" in result.stderr
    dry = CliRunner().invoke(main, ["convert", str(photo_tree), "-o", str(out), "-r", "--method", "bicubic",
                                    "--format", "jpeg", "--json", "--dry-run"])
    planned = json.loads(dry.stdout)
    assert dry.exit_code == 1 and planned["dry_run"] and planned["startup_s"] is not None
    assert [(f["source"], f["status"]) for f in planned["files"]] == [
        (str(a), "skipped"), (str(b), "skipped"), (str(bad), "failed")]
    fresh = CliRunner().invoke(main, ["convert", str(photo_tree), "-o", str(tmp_path / "fresh"), "-r", "--method",
                                      "bicubic", "--json", "--dry-run"])
    planned = json.loads(fresh.stdout)  # (a dry run decodes no pixels: no ratios)
    assert [f["status"] for f in planned["files"]] == ["converted", "converted", "failed"] and planned["ratios"] == {}


def test_convert_json_as_a_subprocess_names_files_as_given(tmp_path):
    import json

    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (8, 6)).save(src / "a.png")
    odd = os.fsdecode(b"\xff.png")  # a name that is not UTF-8: as a lone surrogate, os.fsencode gives it back
    Image.new("RGB", (8, 6)).save(src / odd)
    done = subprocess.run([sys.executable, "-m", "downscale", "convert", str(src), "-o", str(tmp_path / "out"),
                           "--method", "bicubic", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["converted"], summary["failed"], summary["exit_status"]) == (2, 0, 0)
    assert sorted(os.fsencode(f["source"]) for f in summary["files"]) == [os.fsencode(src / n) for n in ("a.png", odd)]
    assert "2 converted, 0 skipped (already there), 0 failed" in done.stderr
