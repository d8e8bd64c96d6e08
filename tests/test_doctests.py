"""The ``Example:`` sections of the core modules' docstrings run as doctests, so they stay true."""

import doctest
import importlib
import pkgutil

import pytest

import downscale

# the core: the package and its top-level modules (folders are higher layers; python -m runs __main__)
CORE = ["downscale", *(f"downscale.{m.name}" for m in pkgutil.iter_modules(downscale.__path__)
                       if not m.ispkg and m.name != "__main__")]


def test_the_core_is_found():
    assert {"downscale.resize", "downscale.methods", "downscale.sizes"} <= set(CORE) and len(CORE) > 10


@pytest.mark.parametrize("module", CORE)
def test_core_examples_run(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module} failed (see above)"


SHOWN = ["downscale.sizes", "downscale.methods"]  # modules whose every public function and class shows one


@pytest.mark.parametrize("module", ["downscale", *SHOWN])
def test_the_public_surface_has_examples(module):
    mod = importlib.import_module(module)
    names = [n for n in mod.__all__ if callable(getattr(mod, n)) or isinstance(getattr(mod, n), type)]
    assert [n for n in names if ">>>" not in (getattr(mod, n).__doc__ or "")] == []
