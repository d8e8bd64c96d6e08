"""Real `python -m downscale convert` processes: SIGKILL mid-batch, two runs at once, permissions."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from .conftest import assert_error_line, assert_no_leftovers, noise, run_cli, snapshot

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
SUMMARY = re.compile(r"(\d+) converted, (\d+) skipped \(already there\), (\d+) failed")


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "downscale", "convert", *(str(a) for a in args)]


def _counts(stdout: str) -> tuple[int, int, int]:
    return tuple(int(n) for n in SUMMARY.search(stdout).groups())


def _photos(folder, count, side, distinct=True):
    """``count`` noise PNGs (noise compresses badly, so each takes a while to encode)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    first = None
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        if distinct or first is None:
            Image.fromarray(rng.integers(0, 256, (side, side, 3), np.uint8)).save(path, compress_level=1)
            first = path
        else:
            shutil.copyfile(first, path)


def test_sigkill_mid_batch_leaves_no_partial_file_and_a_rerun_finishes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _photos(src, 40, 700, distinct=False)
    before = snapshot(src)
    proc = subprocess.Popen(_cli(src, "-o", out, "--method", "bicubic", "--jobs", 1), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not (out.exists() and any(p.suffix == ".png" and not p.name.startswith(".") for p in out.iterdir())):
            assert proc.poll() is None, "the run ended before its first output"
            assert time.monotonic() < deadline, "no output within 120 s"
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finals = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert 1 <= len(finals) < 40, "killed too late to test anything"
    for path in finals:  # every file under a final name is complete
        with Image.open(path) as img:
            img.load()
            assert img.size == (350, 350)
    temps = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert len(temps) <= 1, temps
    assert all(re.fullmatch(r"\.img\d\d\.png\.\d+\.[0-9a-f]{8}\.tmp", name) for name in temps), temps

    rerun = run_cli("convert", src, "-o", out, "--method", "bicubic")
    assert rerun.exit_code == 0, rerun.output
    assert _counts(rerun.output) == (40 - len(finals), len(finals), 0)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(p.name for p in src.iterdir())
    for path in out.glob("*.png"):
        with Image.open(path) as img:
            img.load()
    assert snapshot(src) == before


def test_two_concurrent_runs_into_one_folder_write_each_file_once_and_intact(tmp_path):
    src, out, reference = tmp_path / "in", tmp_path / "out", tmp_path / "reference"
    _photos(src, 40, 400)  # enough work that the two runs usually interleave (e.g. 16 + 24 written here)
    before = snapshot(src)
    assert run_cli("convert", src, "-o", reference, "--method", "bicubic").exit_code == 0
    runs = [subprocess.Popen(_cli(src, "-o", out, "--method", "bicubic"), env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.communicate(timeout=300), run.returncode) for run in runs]
    counts = []
    for (stdout, stderr), code in results:
        assert code == 0, stderr
        counts.append(_counts(stdout))
    assert sum(c[0] for c in counts) == 40 and all(c[0] + c[1] == 40 and c[2] == 0 for c in counts), counts
    for path in reference.iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name
    assert_no_leftovers(out)
    assert snapshot(src) == before


# As root, permission bits do not stop reads or writes: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from
# the child's capability bounding set (prctl PR_CAPBSET_DROP), so root obeys them like any user.
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2

# One child process runs every permission case (starting Python with torch is the slow part).
CHILD = """
import json, sys
from click.testing import CliRunner
from downscale.cli import main
from downscale.errors import ImageReadError
from downscale.images import read_image
runs, unreadable = json.loads(sys.argv[1]), sys.argv[2]
results = {name: CliRunner().invoke(main, args) for name, args in runs.items()}
results = {name: [r.exit_code, r.stdout, r.stderr] for name, r in results.items()}
try:
    read_image(unreadable)
    results["api"] = "read without error"
except ImageReadError as exc:
    results["api"] = str(exc)
print(json.dumps(results))
"""


def _without_dac_override():
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture(scope="module")
def permissions(tmp_path_factory):
    """in/ with locked.png (mode 000), private/c.png (private/ mode 000), ok.png and sub/b.png;
    outputs: locked/ (0555), partly/sub/ (0555).

    Returns ``(paths, results)``: results maps each run to ``[exit code, stdout, stderr]``, and
    ``api`` to read_image's error on locked.png.
    """
    root = tmp_path_factory.mktemp("permissions")
    src, locked, partly = root / "in", root / "locked", root / "partly"
    (src / "sub").mkdir(parents=True)
    (src / "private").mkdir()
    for path in (src / "locked.png", src / "ok.png", src / "sub" / "b.png", src / "private" / "c.png"):
        noise(8, 8).save(path)
    before = snapshot(src)
    locked.mkdir()
    (partly / "sub").mkdir(parents=True)
    runs = {
        "unreadable": ["convert", str(src), "-o", str(root / "out"), "--method", "bicubic"],
        "named": ["convert", str(src / "locked.png"), str(src / "private"), str(src / "ok.png"), "-o",
                  str(root / "named"), "--method", "bicubic", "--format", "webp"],  # webp: a plugin loaded late
        "locked": ["convert", str(src), "-o", str(locked), "-r", "--method", "bicubic"],
        "partly": ["convert", str(src), "-o", str(partly), "-r", "--method", "bicubic"],
    }
    modes = {src / "locked.png": 0o000, src / "private": 0o000, locked: 0o555, partly / "sub": 0o555}
    for path, mode in modes.items():
        path.chmod(mode)
    cmd = [sys.executable, "-c", CHILD, json.dumps(runs), str(src / "locked.png")]
    try:
        if os.geteuid() != 0:
            child = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
        else:
            try:
                child = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300,
                                       preexec_fn=_without_dac_override)
            except subprocess.SubprocessError as exc:  # no CAP_SETPCAP in this container
                pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE here ({exc})")
    finally:
        for path in modes:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert child.returncode == 0, child.stderr
    assert snapshot(src) == before
    return {"src": src, "root": root, "locked": locked, "partly": partly}, json.loads(child.stdout)


def test_unreadable_file_is_reported_and_the_rest_converted(permissions):
    paths, results = permissions
    code, stdout, stderr = results["unreadable"]
    assert code == 1
    assert_error_line(stderr, paths["src"] / "locked.png", "cannot read: Permission denied")
    assert _counts(stdout) == (1, 0, 1) and (paths["root"] / "out" / "ok.png").exists()
    assert results["api"] == f"{paths['src'] / 'locked.png'}: cannot read: Permission denied"


def test_unreadable_file_and_folder_named_on_the_command_line(permissions):
    paths, results = permissions
    code, stdout, stderr = results["named"]
    assert code == 1
    assert_error_line(stderr, paths["src"] / "locked.png", "cannot read: Permission denied")
    assert_error_line(stderr, paths["src"] / "private", "cannot list folder: Permission denied")
    assert _counts(stdout) == (1, 0, 2) and (paths["root"] / "named" / "ok.webp").exists()


def test_output_folder_that_is_not_writable_is_refused_up_front(permissions):
    paths, results = permissions
    code, stdout, stderr = results["locked"]
    assert code == 1
    assert f"Error: output folder {paths['locked']} is not writable; choose another with -o" in stderr
    assert list(paths["locked"].iterdir()) == []


def test_unwritable_output_subfolder_and_unreadable_input_subfolder_fail_only_their_files(permissions):
    paths, results = permissions
    code, stdout, stderr = results["partly"]
    partly = paths["partly"]
    assert code == 1
    assert_error_line(stderr, paths["src"] / "sub" / "b.png", f"cannot write {partly / 'sub' / 'b.png'}: Permission denied")
    assert_error_line(stderr, paths["src"] / "locked.png", "cannot read: Permission denied")
    assert_error_line(stderr, paths["src"] / "private", "cannot list folder: Permission denied")
    assert _counts(stdout) == (1, 0, 3) and (partly / "ok.png").exists()
    assert_no_leftovers(partly)
