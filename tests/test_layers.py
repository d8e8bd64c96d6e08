"""The import contract between the package's layers (docs/layout.md).

core (inference) <- training <- evaluation <- cli: a module imports only from its own layer or below;
the core imports no click; evaluation imports no private name from training; nothing imports
``downscale.cli`` but ``python -m downscale``.
"""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import downscale

PACKAGE = Path(downscale.__file__).parent
CORE, TRAINING, EVALUATION, CLI = range(4)
# every module, by layer; a new module must be placed here (test_every_module_has_a_layer)
LAYERS = {
    CORE: ["downscale", "downscale.errors", "downscale.sizes", "downscale.kernels", "downscale.model",
           "downscale.pretrained", "downscale.resize", "downscale.transforms", "downscale.images",
           "downscale.convert", "downscale.jpeg", "downscale.engines", "downscale.classifiers", "downscale.methods",
           "downscale.memory", "downscale.dynamic", "downscale.zoom"],
    TRAINING: ["downscale.thumbnet", "downscale.thumbnet.config", "downscale.thumbnet.data",
               "downscale.thumbnet.losses", "downscale.thumbnet.nets", "downscale.thumbnet.train",
               "downscale.drnet", "downscale.drnet.train", "downscale.zoom_train"],
    EVALUATION: ["downscale.evaluation", "downscale.evaluation.cost",
                 "downscale.evaluation.quality", "downscale.evaluation.report", "downscale.evaluation.runner",
                 "downscale.evaluation.stats", "downscale.evaluation.bench_worker", "downscale.evaluation.engine_bench",
                 "downscale.drnet.evaluate"],
    CLI: ["downscale.cli", "downscale.__main__", "downscale.demo", "downscale.thumbnet.command",
          "downscale.drnet.command", "downscale.evaluation.command", "downscale.evaluation.bench"],
}
LAYER = {module: layer for layer, modules in LAYERS.items() for module in modules}


def _modules() -> list[str]:
    found = ["downscale"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="downscale."):
        found.append(info.name)
    return found


def _source(module: str) -> Path:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """``(imported downscale module, names taken from it)`` for every import statement of ``module``,
    at any depth (imports inside functions count: they run too)."""
    package = module if _source(module).name == "__init__.py" else module.rpartition(".")[0]
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


def test_the_import_reader_sees_relative_lazy_and_absolute_imports():
    assert ("downscale.dynamic", ["choose_ratios"]) in _imports("downscale.resize")  # lazy, relative
    assert ("downscale.dynamic", ["load_multires", "load_predictor"]) in _imports("downscale.drnet.command")  # up
    assert ("downscale.errors", ["WeightsError"]) in _imports("downscale.dynamic")
    assert ("downscale.drnet.command", []) not in _imports("downscale.cli")  # a string, not an import


def test_folders_are_layers():
    """The core is the package's top-level modules (and the data files beside them); every folder is a
    higher layer, so that nothing in the core reaches into a folder."""
    assert [module for module in LAYERS[CORE] if module.count(".") > 1] == []
    assert (PACKAGE / "imagenet_wnids.txt").is_file()  # classifiers' class list, beside it


def test_every_module_has_a_layer():
    assert sorted(set(_modules()) - set(LAYER)) == []
    assert sorted(set(LAYER) - set(_modules())) == []


@pytest.mark.parametrize("module", sorted(LAYER))
def test_imports_point_down_the_layers(module):
    upward = [(target, LAYER[target]) for target, _ in _imports(module) if LAYER.get(target, CORE) > LAYER[module]]
    assert upward == [], f"{module} (layer {LAYER[module]}) imports a higher layer"


def test_evaluation_uses_only_public_names_of_training():
    private = [(module, target, name) for module in LAYERS[EVALUATION] for target, names in _imports(module)
               if LAYER.get(target) == TRAINING for name in names if name.startswith("_")]
    assert private == []


def test_nothing_imports_the_cli_but_python_m_downscale():
    importers = [module for module in LAYER for target, _ in _imports(module)
                 if target == "downscale.cli" and module != "downscale.__main__"]
    assert importers == []


_PROBE = """
import importlib, json, sys
forbidden = ("click", "downscale.thumbnet", "downscale.drnet.train", "downscale.drnet.evaluate",
             "downscale.drnet.command", "downscale.evaluation", "downscale.cli")
loaded = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:  # an optional third-party dependency (triton) is absent
        if exc.name.startswith("downscale"):
            raise
        continue
    loaded[module] = sorted(m for m in sys.modules if m.split(".")[0] == "click" or m.startswith(forbidden[1:]))
    if loaded[module]:
        break
print(json.dumps(loaded))
"""


def test_importing_the_core_loads_no_training_evaluation_cli_or_click():
    # One fresh interpreter imports the core modules one by one and looks after each: a forbidden
    # module that appears is pinned on the first import that loaded it, as a fresh process per module would.
    out = subprocess.run([sys.executable, "-c", _PROBE, *LAYERS[CORE]], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert {module: found for module, found in loaded.items() if found} == {}
    assert "downscale.dynamic" in loaded and "downscale.resize" in loaded
