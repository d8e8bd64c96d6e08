"""What `downscale convert` decides before converting: shards (colliding outputs share one), and
`--dry-run`, which must foresee the real run's outcome for every file and its exit status."""

from __future__ import annotations

import os
import re

import pytest
from PIL import Image

from .conftest import error_lines, noise, run_cli

COUNTS = re.compile(r"(\d+) converted, (\d+) skipped \(already there\), (\d+) failed")
DRY = re.compile(r"dry run: (\d+) file\(s\) planned: (\d+) to convert, (\d+) skipped \(already there\), (\d+) failed")


def counts(output: str) -> tuple[int, int, int]:
    return tuple(int(n) for n in COUNTS.search(output).groups())


# 2. shards: inputs with one output name land in one shard ------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("overwrite", [False, True])
def test_colliding_outputs_are_the_same_error_in_every_shard_layout(tmp_path, n, overwrite):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):  # img0.png and img0.jpg ... both become imgI.jpg with --format jpeg
        noise(8, 8).save(src / f"img{i}.png")
        noise(8, 8).save(src / f"img{i}.jpg")
    converted = failed = skipped = 0
    errors = []
    for k in range(n):
        args = ["--overwrite"] if overwrite else []
        result = run_cli("convert", src, "-o", tmp_path / "out", "--format", "jpeg", "--method", "bicubic",
                         "--shard", f"{k}/{n}", *args)
        c, s, f = counts(result.output)
        converted, skipped, failed = converted + c, skipped + s, failed + f
        errors += error_lines(result.output)
        assert result.exit_code == (1 if f else 0), result.output
    assert (converted, skipped, failed) == (4, 0, 4)
    assert len(errors) == 4 and all("is also the output of" in line for line in errors)
    for i in range(4):  # the first of each pair (sorted: img0.jpg before img0.png) wrote it
        assert any(f"{src / f'img{i}.png'}: output" in line and f"{src / f'img{i}.jpg'}" in line for line in errors)


def test_shards_still_partition_the_files(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(12):
        noise(8, 8).save(src / ("sub" if i % 2 else "") / f"p{i}.png")
    seen = []
    for k in range(3):
        result = run_cli("convert", src, "-r", "-o", tmp_path / "out", "--shard", f"{k}/3", "--method", "bicubic",
                         "--dry-run")
        assert result.exit_code == 0, result.output
        seen += [line for line in result.output.splitlines() if line.startswith("write: ")]
    assert len(seen) == len(set(seen)) == 12


# 8. --dry-run foresees the real run ----------------------------------------------------------------------------

def _outcomes(output: str, src) -> dict[str, str]:
    """file name -> converted / skipped / failed, from the lines of a dry or a real run."""
    found = {}
    for line in output.splitlines():
        names = re.findall(re.escape(str(src)) + r"/([^\s:]+)", line)
        for name in names[:1]:
            if line.startswith("error: "):
                found[name] = "failed"
            elif line.startswith(("write: ", "overwrite: ")) or " -> " in line:
                found.setdefault(name, "converted")
    return found


def _cases(src, out) -> None:
    src.mkdir()
    out.mkdir()
    for name in ("new.png", "existing.png", "folder.png", "dangling.png", "link.png"):
        noise(8, 8).save(src / name)
    (out / "existing.png").write_bytes(b"old")
    (out / "folder.png").mkdir()
    (out / "dangling.png").symlink_to(out / "nowhere.png")
    (tmp_path := src.parent / "elsewhere.png").write_bytes(b"theirs")
    (out / "link.png").symlink_to(tmp_path)
    (src / "empty.png").write_bytes(b"")
    (src / "text.png").write_text("not an image")
    noise(1, 1).save(src / "tiny.png")  # too small for ratio 2
    Image.new("RGB", (4, 4)).save(src / "fits.jpg")  # (a writable format: converts)


@pytest.mark.parametrize("overwrite", [False, True])
def test_dry_run_foresees_each_outcome_and_the_exit_status(tmp_path, overwrite):
    src, out = tmp_path / "in", tmp_path / "out"
    _cases(src, out)
    args = ["convert", src, "-o", out, "--method", "bicubic", *(["--overwrite"] if overwrite else [])]
    dry = run_cli(*args, "--dry-run")
    planned = DRY.search(dry.output)
    assert planned, dry.output
    real = run_cli(*args)
    assert dry.exit_code == real.exit_code == 1
    assert tuple(int(n) for n in planned.groups()[1:]) == counts(real.output)
    assert sorted(error_lines(dry.output)) == sorted(error_lines(real.output))
    skips = {line for line in dry.output.splitlines() if line.startswith("skip: ")}
    if overwrite:
        assert not skips
    else:
        assert skips == {f"skip: {out / 'existing.png'}: exists (use --overwrite to replace it)",
                         f"skip: {out / 'dangling.png'}: exists (a symlink to {out / 'nowhere.png'}); left as it is "
                         "(--overwrite replaces the link, never its target)",
                         f"skip: {out / 'link.png'}: exists (a symlink to {tmp_path / 'elsewhere.png'}); left as it is "
                         "(--overwrite replaces the link, never its target)"}


def test_dry_run_reports_a_folder_at_an_output_path_as_the_error_it_is(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    noise(8, 8).save(src / "a.png")
    (out / "a.png").mkdir(parents=True)
    dry = run_cli("convert", src, "-o", out, "--method", "bicubic", "--dry-run")
    assert dry.exit_code == 1
    assert error_lines(dry.output) == [f"error: {src / 'a.png'}: its output {out / 'a.png'} is a folder; "
                                       "move it or choose another -o"]
    assert not os.listdir(out / "a.png")


def test_dry_run_of_an_unwritable_output_folder_fails_like_the_run(tmp_path):
    noise(8, 8).save(tmp_path / "a.png")
    (tmp_path / "file").write_text("in the way")
    for target in (tmp_path / "file" / "out", tmp_path / "file" / "out" / "deeper"):
        dry = run_cli("convert", tmp_path / "a.png", "-o", target, "--method", "bicubic", "--dry-run")
        real = run_cli("convert", tmp_path / "a.png", "-o", target, "--method", "bicubic")
        assert dry.exit_code == real.exit_code == 1
        assert dry.output.splitlines()[-1] == real.output.splitlines()[-1]
