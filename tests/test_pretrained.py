import os
import pickle
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch

from downscale import list_pretrained, load_downscaler, pretrained
from downscale.errors import WeightsError
from downscale.model import Downscaler
from downscale.pretrained import (
    MODELS_INSTALL,
    default_weights,
    is_installed,
    load_weights,
    resolve,
    save_weights,
    sha256,
    weights_dir,
)

from conftest import REPO

WHEEL_LIMIT = 5 * 2**20  # bytes


def test_every_registered_file_exists_and_matches_its_sha256():
    entries = list_pretrained(kind=None, all=True)
    assert entries
    for name, meta in entries.items():
        path, expected = resolve(name)
        assert sha256(path) == meta["sha256"] == expected, name
        assert (weights_dir() / meta["card"]).is_file(), f"{name} has no model card"


def test_defaults_ship_in_the_package_and_students_and_superseded_in_downscale_models():
    entries = list_pretrained(kind=None, all=True)
    defaults = {default_weights(r) for r in (2, 4, "auto")}
    for name, meta in entries.items():
        separate = meta["kind"] in ("student", "multires_classifier") or "superseded_by" in meta
        assert meta.get("package", "downscale.weights") == ("downscale_models" if separate else "downscale.weights"), name
        assert name not in defaults or not separate, name
        assert meta.get("superseded_by", name) in entries, name
    assert any("superseded_by" in meta for meta in entries.values())


def test_list_pretrained_hides_superseded_releases_unless_all():
    everything = list_pretrained(kind=None, all=True)
    current = list_pretrained(kind=None)
    hidden = sorted(everything.keys() - current.keys())
    assert hidden == sorted(n for n in everything if pretrained.superseded_by(n) is not None)
    assert "frozen-mobilenet_v2-r2-v3" in hidden and "frozen-mobilenet_v2-r2-v4" in current  # marked superseded_by
    assert "thumbnet-mobilenet_v2-imagenette-r4-v1" in hidden  # a later version of the same name, -v2
    assert "thumbnet-mobilenet_v2-imagenette-r2-v1" in current  # no later version
    assert {default_weights(r) for r in (2, 4, "auto")} <= current.keys()
    assert list(list_pretrained()) == [n for n, m in current.items() if m["kind"] == "downscaler"]
    assert all(pretrained.superseded_by(n) in everything for n in hidden)


def test_missing_downscale_models_names_the_install_command(monkeypatch):
    student = next(iter(list_pretrained(kind="student")))
    monkeypatch.setattr(pretrained, "models_dir", lambda: None)
    assert not is_installed(student) and is_installed(default_weights(2))
    with pytest.raises(WeightsError, match=f"{student}.*downscale-models.*not installed.*{re.escape(MODELS_INSTALL)}"):
        load_weights(student)
    load_weights(default_weights(2))  # the built-in weights do not need it


@pytest.mark.parametrize("ratio", [2, 4])
def test_default_downscaler_loads_strictly_in_eval_mode(ratio):
    model = load_downscaler(default_weights(ratio))
    assert isinstance(model, Downscaler) and model.ratio == ratio and not model.training


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(WeightsError, match="neither a registered name nor a file.*registered:"):
        load_downscaler("no-such-weights")


def test_modified_registered_file_is_refused(tmp_path, monkeypatch):
    name = default_weights(4)
    copy = tmp_path / "weights"
    shutil.copytree(weights_dir(), copy)
    path = copy / list_pretrained()[name]["file"]
    path.write_bytes(path.read_bytes() + b"tampered")
    monkeypatch.setattr("downscale.pretrained.weights_dir", lambda: copy)
    with pytest.raises(WeightsError, match="sha256 does not match"):
        load_downscaler(name)


class _Evil:
    def __reduce__(self):
        return (print, ("arbitrary code ran",))


def test_arbitrary_pickle_is_refused_by_weights_only(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"config": {"ratio": 2}, "state_dict": _Evil()}, path)
    with pytest.raises(WeightsError, match="not a loadable weights file"):
        load_downscaler(path)
    assert "arbitrary code ran" not in capsys.readouterr().out
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(WeightsError):
        load_weights(path)


def test_save_then_load_round_trips_and_never_overwrites(tmp_path):
    model = Downscaler(2, width=4)
    torch.nn.init.normal_(model.correction.weight)
    path = tmp_path / "e.pt"
    digest = save_weights(model, path, note="test")
    assert digest == sha256(path)
    loaded = load_downscaler(path)
    assert torch.equal(loaded.correction.weight, model.correction.weight)
    assert load_weights(path)["note"] == "test"
    with pytest.raises(WeightsError, match="never overwritten"):
        save_weights(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pt"]  # no temporary left behind


def test_save_weights_never_writes_through_a_planted_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "e.pt").symlink_to(victim)  # even a link to a file that exists counts as taken
    with pytest.raises(WeightsError, match="never overwritten"):
        save_weights(Downscaler(2, width=4), tmp_path / "e.pt")
    assert victim.read_text() == "precious"


def test_save_weights_refuses_a_file_that_appears_while_it_writes(tmp_path, monkeypatch):
    path = tmp_path / "e.pt"
    real_save = torch.save

    def racing_save(obj, f):
        path.write_bytes(b"someone else's")  # another process wins the race
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", racing_save)
    with pytest.raises(WeightsError, match="never overwritten"):
        save_weights(Downscaler(2, width=4), path)
    assert path.read_bytes() == b"someone else's"


def test_wrong_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "e.pt"
    torch.save({"config": {"ratio": 2, "width": 4}, "state_dict": {"bogus": torch.zeros(1)}}, path)
    with pytest.raises(WeightsError, match="not a Downscaler state_dict"):
        load_downscaler(path)


def _wheel(source, out):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(source)], check=True, cwd=out)
    (wheel,) = out.glob("*.whl")
    return wheel


def _install(wheel, target):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)


def _python(code, cwd, *paths) -> str:
    """Run ``code`` with only the given install folders ahead of the venv (torch comes from the venv)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": os.pathsep.join(map(str, paths)), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_built_wheels_split_the_weights_and_install_offline(tmp_path):
    """The default wheel (<= 5 MB) carries the registry, all cards and the default weights and runs
    learned_resize (ratio 2 and auto) and convert; a student needs the second wheel, built from models/,
    and without it the error names the install command."""
    pytest.importorskip("setuptools")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    wheel, models_wheel = _wheel(REPO, tmp_path / "a"), _wheel(REPO / "models", tmp_path / "b")
    assert wheel.name.startswith("downscale-") and models_wheel.name.startswith("downscale_models-")
    assert wheel.stat().st_size <= WHEEL_LIMIT, f"{wheel.name}: {wheel.stat().st_size / 2**20:.1f} MB"
    names, model_names = set(zipfile.ZipFile(wheel).namelist()), set(zipfile.ZipFile(models_wheel).namelist())
    assert "downscale/weights/registry.json" in names and "downscale/imagenet_wnids.txt" in names
    for init in (REPO / "downscale").rglob("__init__.py"):
        assert init.relative_to(REPO).as_posix() in names, f"package {init.parent.name} is not in the wheel"
    assert any(n.endswith("/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    for meta in list_pretrained(kind=None, all=True).values():
        assert f"downscale/weights/{meta['card']}" in names
        inside = meta.get("package", "downscale.weights").replace(".", "/") + "/" + meta["file"]
        assert inside in (model_names if meta.get("package") == "downscale_models" else names), inside
    student = next(iter(list_pretrained(kind="student")))
    site, site_models = tmp_path / "site", tmp_path / "site-models"
    _install(wheel, site)
    _install(models_wheel, site_models)
    # downscale alone (downscale_models blocked, as if not installed): defaults run, a student gives the hint
    code = (f"import sys; sys.modules['downscale_models'] = None\n"
            f"import numpy as np, downscale, downscale.pretrained as p\n"
            f"assert str(p.weights_dir()).startswith({str(site)!r}) and p.models_dir() is None\n"
            f"x = np.random.default_rng(0).random((64, 48, 3))\n"
            f"assert downscale.learned_resize(x, ratio=2).shape == (32, 24, 3)\n"
            f"assert downscale.learned_resize(x, ratio='auto').shape[2] == 3\n"
            f"from PIL import Image; from downscale.cli import main\n"
            f"Image.fromarray((x * 255).astype('uint8')).save('in.png')\n"
            f"try: main(['convert', 'in.png', '-o', 'out'])\n"
            f"except SystemExit as e: assert e.code == 0, e.code\n"
            f"assert Image.open('out/in.png').size == (24, 32)\n"
            f"assert all(m.__file__.startswith({str(site)!r}) for n, m in list(sys.modules.items())\n"
            f"           if n.split('.')[0] == 'downscale' and getattr(m, '__file__', None)), 'imported from the checkout'\n"
            f"try: p.load_weights({student!r})\n"
            f"except p.WeightsError as e: print(e)")
    assert MODELS_INSTALL in _python(code, tmp_path, site)
    # with the second wheel: the student loads (sha256-checked) from it
    code = (f"import downscale.pretrained as p\n"
            f"assert str(p.models_dir()).startswith({str(site_models)!r})\n"
            f"print(sorted(p.load_weights({student!r})['config']))")
    assert _python(code, tmp_path, site, site_models) == "['arch', 'normalize', 'num_classes']"
