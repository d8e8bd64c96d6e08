"""The lint of .ci/run: ``ruff check`` with the ``[tool.ruff]`` settings of pyproject.toml."""

import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO


def test_ci_runs_ruff():
    assert ".venv/bin/ruff check ." in (REPO / ".ci" / "run").read_text()


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (the test extra has it)")
def test_the_tree_passes_ruff():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
