"""The import contract between the package's layers (docs/layout.md).

Folders are layers: core (the top-level modules) <- training kit (``training/``) <- trainers (``thumbnet/``,
``drnet/``, ``zoomnet/``: siblings, none imports another) <- evaluation (``evaluation/``) <- cli (the click commands,
each in the folder of what it runs). A module imports only from its own layer or below, and no modules
import each other around a circle; the core imports no click; evaluation imports no private name from
training; nothing imports ``downscale.cli`` but ``python -m downscale``.
"""

import ast
import graphlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import downscale

PACKAGE = Path(downscale.__file__).parent
CORE, KIT, TRAINERS, EVALUATION, CLI = range(5)
# each folder's layer: a module takes its folder's, unless it is a command
FOLDERS = {
    "downscale": CORE,
    "downscale.training": KIT,
    "downscale.thumbnet": TRAINERS,
    "downscale.drnet": TRAINERS,
    "downscale.zoomnet": TRAINERS,
    "downscale.evaluation": EVALUATION,
}
# the click commands (the CLI layer), each beside the code it runs
COMMANDS = ["downscale.cli", "downscale.__main__", "downscale.demo", "downscale.thumbnet.command",
            "downscale.drnet.command", "downscale.evaluation.command", "downscale.evaluation.bench"]
TRAINER_FOLDERS = [folder for folder, layer in FOLDERS.items() if layer == TRAINERS]


def _modules() -> list[str]:
    found = ["downscale"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="downscale."):
        found.append(info.name)
    return found


MODULES = _modules()


def _source(module: str) -> Path:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _folder(module: str) -> str:
    """The package whose folder holds the module's file (a package's ``__init__`` is in its own)."""
    return module if _source(module).name == "__init__.py" else module.rpartition(".")[0]


LAYER = {module: CLI if module in COMMANDS else FOLDERS.get(_folder(module)) for module in MODULES}


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """``(imported downscale module, names taken from it)`` for every import statement of ``module``,
    at any depth (imports inside functions count: they run too)."""
    package = _folder(module)
    found = []
    for node in ast.walk(ast.parse(_source(module).read_text(), str(_source(module)))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == "downscale"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "downscale":
                continue
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in LAYER]
            found += [(m, []) for m in submodules] or [(target, names)]
    return found


def _graph() -> dict[str, set[str]]:
    """Each module -> the package's modules it imports."""
    return {module: {target for target, _ in _imports(module) if target in LAYER and target != module}
            for module in MODULES}


def test_the_import_reader_sees_relative_lazy_and_absolute_imports():
    assert ("downscale.dynamic", ["choose_ratios"]) in _imports("downscale.resize")  # lazy, relative
    assert ("downscale.dynamic", ["load_multires", "load_predictor"]) in _imports("downscale.drnet.command")  # up
    assert ("downscale.errors", ["WeightsError"]) in _imports("downscale.dynamic")
    assert ("downscale.drnet.command", []) not in _imports("downscale.cli")  # a string, not an import


def test_folders_are_layers():
    """The core is the package's top-level modules (and the data files beside them); every folder is a
    higher layer, so that nothing in the core reaches into a folder."""
    assert [module for module, layer in LAYER.items() if layer == CORE and module.count(".") > 1] == []
    assert (PACKAGE / "imagenet_wnids.txt").is_file()  # classifiers' class list, beside it


def test_every_module_has_a_layer():
    assert sorted(module for module, layer in LAYER.items() if layer is None) == []
    assert sorted(set(FOLDERS) - set(MODULES)) == []
    assert sorted(set(COMMANDS) - set(MODULES)) == []


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down_the_layers(module):
    upward = [(target, LAYER[target]) for target, _ in _imports(module) if LAYER.get(target, CORE) > LAYER[module]]
    assert upward == [], f"{module} (layer {LAYER[module]}) imports a higher layer"


def test_the_trainers_are_siblings_on_the_kit():
    """Neither trainer's folder imports the other's (commands included): what both need is in the kit."""
    crossing = [(module, target) for module in MODULES for target, _ in _imports(module)
                for other in TRAINER_FOLDERS
                if _folder(module) in TRAINER_FOLDERS and _folder(module) != other
                and (target == other or target.startswith(other + "."))]
    assert crossing == []


def test_no_import_cycles():
    try:
        graphlib.TopologicalSorter(_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"modules import each other around a circle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_sees_a_cycle():
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({**_graph(), "downscale.errors": {"downscale.resize"}}).prepare()


def test_evaluation_uses_only_public_names_of_training():
    private = [(module, target, name) for module in MODULES if LAYER[module] == EVALUATION
               for target, names in _imports(module)
               if LAYER.get(target) in (KIT, TRAINERS) for name in names if name.startswith("_")]
    assert private == []


def test_nothing_imports_the_cli_but_python_m_downscale():
    importers = [module for module in LAYER for target, _ in _imports(module)
                 if target == "downscale.cli" and module != "downscale.__main__"]
    assert importers == []


_PROBE = """
import importlib, json, sys
forbidden = tuple(sys.argv[1].split(","))
loaded = {}
for module in sys.argv[2:]:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:  # an optional third-party dependency (triton) is absent
        if exc.name.startswith("downscale"):
            raise
        continue
    loaded[module] = sorted(m for m in sys.modules if m.split(".")[0] == "click" or m.startswith(forbidden))
    if loaded[module]:
        break
print(json.dumps(loaded))
"""


def test_importing_the_core_loads_no_training_evaluation_cli_or_click():
    # One fresh interpreter imports the core modules one by one and looks after each: a forbidden
    # module that appears is pinned on the first import that loaded it, as a fresh process per module would.
    forbidden = [folder for folder, layer in FOLDERS.items() if layer != CORE] + ["downscale.cli"]
    core = [module for module in MODULES if LAYER[module] == CORE]
    out = subprocess.run([sys.executable, "-c", _PROBE, ",".join(forbidden), *core], capture_output=True, text=True,
                         check=True)
    loaded = json.loads(out.stdout)
    assert {module: found for module, found in loaded.items() if found} == {}
    assert "downscale.dynamic" in loaded and "downscale.resize" in loaded
