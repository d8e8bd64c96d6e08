import pickle
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch

from downscale import list_pretrained, load_downscaler
from downscale.errors import WeightsError
from downscale.model import Downscaler
from downscale.pretrained import default_weights, load_weights, save_weights, sha256, weights_dir
from conftest import REPO


def test_every_registered_file_exists_and_matches_its_sha256():
    entries = list_pretrained(kind=None)
    assert entries
    for name, meta in entries.items():
        path = weights_dir() / meta["file"]
        assert sha256(path) == meta["sha256"], name
        assert (weights_dir() / meta["card"]).is_file(), f"{name} has no model card"


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


def test_wrong_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "e.pt"
    torch.save({"config": {"ratio": 2, "width": 4}, "state_dict": {"bogus": torch.zeros(1)}}, path)
    with pytest.raises(WeightsError, match="not a Downscaler state_dict"):
        load_downscaler(path)


def test_built_wheel_contains_the_weights_and_registry(tmp_path):
    pytest.importorskip("setuptools")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("downscale-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "downscale/weights/registry.json" in names
    for meta in list_pretrained(kind=None).values():
        assert f"downscale/weights/{meta['file']}" in names
        assert f"downscale/weights/{meta['card']}" in names
    assert "downscale/thumbnet/imagenet_wnids.txt" in names
    # and the installed wheel (no source tree on the path) finds and loads them
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True)
    code = ("import downscale, downscale.pretrained as p; assert str(p.weights_dir()).startswith(%r); "
            "[downscale.load_downscaler(n) for n in downscale.list_pretrained()]; print('ok')" % str(target))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": ""},
                          capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr
