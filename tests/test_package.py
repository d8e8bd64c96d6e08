import ast
import importlib
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import downscale


def test_public_surface_is_small_and_resolves():
    assert sorted(downscale.__all__) == sorted(["DownscaleError", "Downscaler", "LearnedResize", "learned_resize",
                                                "list_pretrained", "load_downscaler", "__version__"])
    for name in downscale.__all__:
        assert getattr(downscale, name) is not None


def test_every_error_is_a_downscale_error():
    from downscale import errors

    assert downscale.DownscaleError is errors.DownscaleError
    assert all(issubclass(getattr(errors, name), downscale.DownscaleError) for name in errors.__all__)


def test_type_checkers_see_each_lazy_name_where_it_loads():
    """The ``if TYPE_CHECKING:`` imports of ``downscale/__init__.py`` name the same modules as the lazy table."""
    tree = ast.parse(Path(downscale.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {alias.name: node.module for node in block.body for alias in node.names}
    assert seen == downscale._EXPORTS
    assert sorted(seen) == sorted(set(downscale.__all__) - {"__version__"})


@pytest.mark.parametrize("module", ["errors", "sizes", "model", "pretrained", "resize", "transforms", "images",
                                    "memory", "convert", "jpeg", "engines", "classifiers", "methods"])
def test_core_modules_state_their_public_names(module):
    mod = importlib.import_module(f"downscale.{module}")
    assert mod.__all__ and len(set(mod.__all__)) == len(mod.__all__)
    assert [name for name in mod.__all__ if not hasattr(mod, name)] == []


def test_one_version_string():
    assert metadata.version("downscale") == downscale.__version__


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_downscale_loads_neither_torch_nor_training_code():
    modules = _modules_after("import downscale")
    assert "torch" not in modules
    assert not any(m.startswith(("downscale.training", "downscale.thumbnet", "downscale.evaluation")) for m in modules)


def test_using_the_api_does_not_import_training_or_evaluation_code():
    modules = _modules_after("from downscale import learned_resize, LearnedResize; import downscale.cli")
    assert "torch" in modules
    assert not any(m.startswith(("downscale.training", "downscale.thumbnet", "downscale.evaluation", "downscale.drnet"))
               for m in modules)


def test_bicubic_conversion_path_is_torch_free():
    modules = _modules_after("import downscale.cli, downscale.convert, downscale.engines")
    assert "torch" not in modules


def test_help_lists_every_command_without_importing_torch():
    out = subprocess.run([sys.executable, "-c", "import sys; from downscale.cli import main\n"
                          "try: main(['--help'])\nexcept SystemExit: pass\nprint('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"
    for name in ("convert", "demo", "models", "train", "eval", "bench", "train-dynamic", "eval-dynamic"):
        assert f"  {name} " in out


def test_lazy_commands_short_help_is_their_own():
    from downscale.cli import main

    for name, (_, short) in main.lazy_subcommands.items():
        assert main.get_command(None, name).get_short_help_str(limit=len(short)) == short, name


def test_tracked_files_name_no_machine_paths_sessions_or_issue_numbers():
    """Docs, scripts, results and cards speak of the project, not of the machine or the history that made it."""
    from conftest import REPO

    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if files.returncode != 0:
        pytest.skip("not a git checkout")
    pattern = re.compile(r"/work/|/tmp/|/root/|\bsessions?\b|\bissues? #?\d+", re.IGNORECASE)
    found = []
    for name in files.stdout.splitlines():
        path = REPO / name
        if name.startswith("tests/") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # weights and images
            continue
        found += [f"{name}:{i}: {line.strip()[:80]}" for i, line in enumerate(text.splitlines(), 1)
                  if pattern.search(line)]
    assert not found, "\n".join(found)


def test_one_atomic_writer():
    """Files are moved into place by ``images.write_atomic`` alone (a random exclusive temporary, never
    through a link): ``os.replace`` appears in one module of the package."""
    package = Path(downscale.__file__).parent
    users = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if "os.replace(" in p.read_text())
    assert users == ["images.py"]
