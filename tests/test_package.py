import re
import subprocess
import sys
from importlib import metadata

import pytest

import downscale


def test_public_surface_is_small_and_resolves():
    assert sorted(downscale.__all__) == sorted(
        ["Downscaler", "LearnedResize", "learned_resize", "list_pretrained", "load_downscaler", "__version__"])
    for name in downscale.__all__:
        assert getattr(downscale, name) is not None


def test_one_version_string():
    assert metadata.version("downscale") == downscale.__version__


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_downscale_loads_neither_torch_nor_training_code():
    modules = _modules_after("import downscale")
    assert "torch" not in modules
    assert not any(m.startswith(("downscale.thumbnet", "downscale.evaluation")) for m in modules)


def test_using_the_api_does_not_import_training_or_evaluation_code():
    modules = _modules_after("from downscale import learned_resize, LearnedResize; import downscale.cli")
    assert "torch" in modules
    assert not any(m.startswith(("downscale.thumbnet", "downscale.evaluation", "downscale.drnet")) for m in modules)


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
