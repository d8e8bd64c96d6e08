"""`downscale convert --engine ray` (issue 23, item 20): only our lines in the output, an address where
nothing listens refused at once, a Ray that cannot start reported in one line. The tests that run a
real Ray are skipped where it is not installed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from .conftest import noise, run_cli


@pytest.fixture()
def real_ray():
    return pytest.importorskip("ray", reason="runs a real Ray, an optional extra: pip install 'downscale[ray]'")

# every line `downscale convert` itself writes (the progress bar's label included)
OURS = re.compile(r"^(converting.*|error: .*|warning: .*|note: .*|start-up [0-9.]+ s .*|"
                  r"\d+ converted, \d+ skipped \(already there\), \d+ failed -> .*|Error: .*)$")


def _convert(*args, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # a local Ray, as a user gets
    return subprocess.run([sys.executable, "-m", "downscale", "convert", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.slow  # starts a local Ray instance: tens of seconds
def test_a_local_ray_run_prints_only_our_lines(tmp_path, real_ray):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(20):  # two chunks
        noise(8, 10 + i).save(src / f"{i:02d}.png")
    (src / "bad.png").write_bytes(b"not a png")
    done = _convert(src, "-o", tmp_path / "out", "--method", "pil_bicubic", "--engine", "ray", timeout=600)
    assert done.returncode == 1, done.stderr
    theirs = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and not OURS.match(line)]
    assert theirs == [], done.stdout + done.stderr
    assert "20 converted, 0 skipped (already there), 1 failed" in done.stdout
    assert f"error: {src / 'bad.png'}: not an image file Pillow can decode" in done.stderr
    assert len(list((tmp_path / "out").iterdir())) == 20


def test_a_ray_address_where_nothing_listens_fails_within_seconds_in_one_line(tmp_path, real_ray):
    with socket.socket() as probe:  # a free port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    noise(8, 8).save(tmp_path / "a.png")
    for address in (f"127.0.0.1:{port}", "127.0.0.1:1"):
        tic = time.monotonic()  # (in this process, Ray imported: a loaded machine takes seconds to import it)
        result = run_cli("convert", tmp_path / "a.png", "-o", tmp_path / "out", "--method", "pil_bicubic",
                         "--engine", "ray", "--ray-address", address)
        assert time.monotonic() - tic < 30 and result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"Error: no Ray cluster answers at {address} "), lines
        assert not real_ray.is_initialized()


def test_a_ray_that_cannot_start_is_one_line_naming_the_cause(tmp_path, monkeypatch):
    import types

    def init(**kwargs):  # what Ray 2.x raises where its raylet dies during start-up (a loaded machine)
        raise Exception("The current node timed out during startup. This could happen because some of\n"
                        "the raylet failed to startup or the GCS has become overloaded.")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setitem(sys.modules, "ray", fake)
    noise(8, 8).save(tmp_path / "a.png")
    result = run_cli("convert", tmp_path / "a.png", "-o", tmp_path / "out", "--method", "pil_bicubic", "--engine", "ray")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: could not start a local Ray: the raylet failed to startup or the GCS has become overloaded. "
        "(the raylet's log, in Ray's temporary folder under session_latest/logs, says more; on a busy machine, retry "
        "when it is less loaded)"]
