"""The registry of released weights.

``pretrained/registry.json`` (installed with the model cards as the package ``downscale.weights``)
maps each name to its file, sha256, ratio, card and provenance, and names the default downscaler for
each trained ratio. The downscalers and DRNet predictors ship in ``downscale.weights``; entries with
``"package": "downscale_models"`` (the students and superseded releases, marked ``superseded_by``)
are files of the separate distribution ``downscale-models``, built from the repository's
``models/`` folder. Released files are never overwritten: a new training run adds a new versioned name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from importlib import resources
from pathlib import Path

import torch

from .errors import WeightsError
from .images import write_atomic
from .model import Downscaler

__all__ = ["MODELS_INSTALL", "list_pretrained", "superseded_by", "default_weights", "load_downscaler", "load_weights",
           "load_module", "save_weights", "resolve", "is_installed", "sha256", "weights_dir", "models_dir"]

WEIGHTS_PACKAGE = "downscale.weights"
MODELS_PACKAGE = "downscale_models"
MODELS_INSTALL = "pip install ./models"  # run in the root of a downscale repository checkout
_CHECKOUT = Path(__file__).resolve().parent.parent


def weights_dir() -> Path:
    """The folder holding the released weights, model cards and ``registry.json``.

    Installed (wheel or editable): the package ``downscale.weights``. Imported straight from a source
    checkout without installing: the checkout's ``pretrained/`` folder.
    """
    try:
        return Path(str(resources.files(WEIGHTS_PACKAGE)))
    except ModuleNotFoundError:
        return _CHECKOUT / "pretrained"


def models_dir() -> Path | None:
    """The folder of the ``downscale-models`` weights (students, superseded releases), or None.

    Installed: the package ``downscale_models``. Otherwise, in a source checkout, its
    ``models/downscale_models/`` folder.
    """
    try:
        return Path(str(resources.files(MODELS_PACKAGE)))
    except ModuleNotFoundError:
        folder = _CHECKOUT / "models" / MODELS_PACKAGE
        return folder if folder.is_dir() else None


def _folder(name: str, meta: dict) -> Path:
    package = meta.get("package", WEIGHTS_PACKAGE)
    if package == WEIGHTS_PACKAGE:
        return weights_dir()
    if package != MODELS_PACKAGE:
        raise WeightsError(f"registry entry {name!r} names an unknown package {package!r}")
    folder = models_dir()
    if folder is None:
        raise WeightsError(
            f"weights {name!r} are in the separate distribution downscale-models (students and superseded "
            f"weights), which is not installed; install it from the downscale repository: {MODELS_INSTALL}"
        )
    return folder


@functools.lru_cache(maxsize=1)
def _registry() -> dict:
    with open(weights_dir() / "registry.json", encoding="utf-8") as f:
        return json.load(f)


def list_pretrained(kind: str | None = "downscaler", all: bool = False) -> dict[str, dict]:
    """Registry entries by name, installed or not: the current releases of ``kind`` (``kind=None``:
    students and the other kinds too); ``all=True`` adds the superseded ones (see ``superseded_by``).

    Example:
        >>> "sharp-bicubic-identity-r2-v0" in list_pretrained()
        True
    """
    models = _registry()["models"]
    return {name: meta for name, meta in models.items()
            if (kind is None or meta["kind"] == kind) and (all or superseded_by(name) is None)}


def superseded_by(name: str) -> str | None:
    """The release that replaces the registered ``name``, or None for a current one: the entry's
    ``superseded_by``, else the newest later version of the same name (``...-v1-...`` -> ``...-v2-...``:
    a new training run is released under a new version, never over the old file)."""
    models = _registry()["models"]
    if models[name].get("superseded_by"):
        return models[name]["superseded_by"]
    prefix, version, suffix = _version(name)
    later = [(v, other) for other in models for p, v, s in [_version(other)]
             if (p, s) == (prefix, suffix) and v > version]
    return max(later)[1] if later else None


def _version(name: str) -> tuple[str, int, str]:
    """``(before, N, after)`` of the last ``-vN`` in ``name`` (``(name, -1, "")`` without one)."""
    match = re.fullmatch(r"(.*-v)(\d+)(.*)", name)
    return (match[1], int(match[2]), match[3]) if match else (name, -1, "")


def default_weights(ratio: int) -> str:
    """Name of the downscaler that ``learned_resize`` uses for a trained ratio."""
    try:
        return _registry()["defaults"][str(ratio)]
    except KeyError:
        raise WeightsError(f"no default downscaler is registered for ratio {ratio}") from None


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_installed(name: str) -> bool:
    """Whether the file of a registered name is present (its package is installed or in the checkout)."""
    meta = _registry()["models"][name]
    try:
        return (_folder(name, meta) / meta["file"]).is_file()
    except WeightsError:
        return False


def resolve(name_or_path: str | os.PathLike) -> tuple[Path, str | None]:
    """``(file, expected sha256 or None)`` for a registry name or a path to a weights file.

    Raises WeightsError for an unknown name, and for a name whose distribution is not installed
    (the message gives the install command).
    """
    models = _registry()["models"]
    if isinstance(name_or_path, str) and name_or_path in models:
        meta = models[name_or_path]
        return _folder(name_or_path, meta) / meta["file"], meta["sha256"]
    path = Path(name_or_path)
    if not path.is_file():
        raise WeightsError(
            f"weights {str(name_or_path)!r} are neither a registered name nor a file; "
            f"registered: {', '.join(sorted(models))}"
        )
    return path, None


def file_stamp(name_or_path: str | os.PathLike) -> tuple[int, int, int] | None:
    """``(size, mtime in ns, inode)`` of the weights file a name or path resolves to, or None where it
    does not resolve (loading then raises): a cache key that changes when the file is replaced."""
    try:
        info = os.stat(resolve(name_or_path)[0])
    except (WeightsError, OSError):
        return None
    return info.st_size, info.st_mtime_ns, info.st_ino


def load_weights(name_or_path: str | os.PathLike) -> dict:
    """The checked contents of a weights file: ``{"config": {...}, "state_dict": {...}, ...}``.

    Registered files must match their recorded sha256. Files load with ``weights_only=True``, so a
    pickle carrying code is refused. Raises WeightsError naming the file and the fix.
    """
    path, expected = resolve(name_or_path)
    if expected is not None:
        package = _registry()["models"][name_or_path].get("package", WEIGHTS_PACKAGE)
        reinstall = (f"reinstall downscale-models ({MODELS_INSTALL})" if package == MODELS_PACKAGE
                     else "reinstall downscale")
    if expected is not None and not path.is_file():
        raise WeightsError(f"{path}: the registered file is missing; {reinstall}")
    if expected is not None and sha256(path) != expected:
        raise WeightsError(
            f"{path}: sha256 does not match the registry ({expected[:12]}...); the file is corrupt "
            f"or was modified: {reinstall}, or restore the released file"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise WeightsError(
            f"{path}: not a loadable weights file ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"only state_dict files saved by downscale are accepted"
        ) from exc
    if not (isinstance(payload, dict) and "config" in payload and "state_dict" in payload):
        raise WeightsError(f"{path}: expected a dict with 'config' and 'state_dict' (saved by downscale)")
    return payload


def load_module(cls: type[torch.nn.Module], name_or_path: str | os.PathLike,
                device: str | torch.device | None = None) -> torch.nn.Module:
    """``cls.from_config(config)`` (where ``cls`` has one, else ``cls(**config)``) with the file's state_dict
    loaded strictly, in eval mode on ``device``."""
    payload = load_weights(name_or_path)
    state = payload["state_dict"]
    build = getattr(cls, "from_config", None) or (lambda config: cls(**config))
    try:
        with torch.device("meta"):  # shapes first, with no memory: a config can ask for any width
            expected = {k: tuple(v.shape) for k, v in build(payload["config"]).state_dict().items()}
        found = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else v for k, v in state.items()}
        if found != expected:
            wrong = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
            raise ValueError(f"the config {payload['config']} does not match the tensors "
                             f"({', '.join(wrong[:5])}{', ...' if len(wrong) > 5 else ''})")
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise ValueError(f"{', '.join(bad)}: values not finite (NaN or infinity); the file is damaged")
        model = build(payload["config"])
        model.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise WeightsError(f"{name_or_path}: not a {cls.__name__} state_dict ({str(exc)[:300]})") from exc
    return model.to(device).eval()


def load_downscaler(name_or_path: str | os.PathLike, device: str | torch.device | None = None) -> Downscaler:
    """A Downscaler in eval mode from a registered name or a weights file (strict state_dict load).

    Example:
        >>> load_downscaler("area-identity-r4-v0").ratio
        4
    """
    return load_module(Downscaler, name_or_path, device)


def save_weights(model: torch.nn.Module, path: str | os.PathLike, **metadata) -> str:
    """Write ``{"config", "state_dict", **metadata}`` atomically to a new file; returns its sha256.

    Refuses to overwrite: released weights are immutable.
    """
    path = Path(path)
    if path.exists():
        raise WeightsError(f"{path} exists; released weights are never overwritten, pick a new version")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"config": model.config(), "state_dict": state, **metadata}
    if not write_atomic(path, lambda f: torch.save(payload, f)):  # (a file that appeared meanwhile)
        raise WeightsError(f"{path} exists; released weights are never overwritten, pick a new version")
    return sha256(path)
