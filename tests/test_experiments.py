"""The research runners in experiments/ stay runnable: shell syntax, and every name they import from downscale exists."""

import ast
import importlib
import importlib.util
import shutil
import subprocess

import pytest

from conftest import REPO

EXPERIMENTS = REPO / "experiments"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", sorted(p.name for p in EXPERIMENTS.glob("*.sh")))
def test_shell_runner_parses(script):
    subprocess.run(["bash", "-n", str(EXPERIMENTS / script)], check=True)


@pytest.mark.parametrize("script", sorted(p.name for p in EXPERIMENTS.glob("*.py")))
def test_python_runner_imports_exist(script):
    tree = ast.parse((EXPERIMENTS / script).read_text(encoding="utf-8"), script)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "downscale":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), \
                    f"{script}: {node.module}.{alias.name} does not exist"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "downscale":
                    importlib.import_module(alias.name)


def test_every_runner_is_in_the_index():
    index = (EXPERIMENTS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in EXPERIMENTS.iterdir() if p.suffix in (".sh", ".py") and p.name not in index]
    assert not missing, f"experiments/README.md does not list {missing}"
