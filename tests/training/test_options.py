"""The one dataclass -> click path: every config field is an option, with the field's default and type."""

import dataclasses
import shlex

import pytest
from click.testing import CliRunner

from downscale.drnet.command import train_dynamic_command
from downscale.drnet.train import DynamicConfig
from downscale.thumbnet.command import train
from downscale.thumbnet.config import TrainConfig
from downscale.training.config import RunConfig

COMMANDS = [(train, TrainConfig, "downscale.thumbnet.train.train"),
            (train_dynamic_command, DynamicConfig, "downscale.drnet.command.train_dynamic")]


@pytest.fixture
def required(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "t.pt").write_bytes(b"")
    return {"data": str(tmp_path / "data"), "teacher_weights": str(tmp_path / "t.pt"), "out": str(tmp_path / "out")}


def _parse(command, run, args: list[str], monkeypatch) -> object:
    """The config the command builds from ``args`` (the run itself replaced by a recorder)."""
    seen = []
    monkeypatch.setattr(run, lambda cfg, **kwargs: seen.append(cfg))
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


def _args(values: dict) -> list[str]:
    return [a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", v)]


@pytest.mark.parametrize("command, cls, run", COMMANDS)
def test_every_field_is_an_option_with_help(command, cls, run):
    options = {p.name: p for p in command.params}
    assert {f.name for f in dataclasses.fields(cls)} <= set(options)
    assert all(options[f.name].help for f in dataclasses.fields(cls))
    assert {f.name for f in dataclasses.fields(RunConfig)} <= {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("command, cls, run", COMMANDS)
def test_cli_defaults_are_the_dataclass_defaults(command, cls, run, required, monkeypatch):
    assert _parse(command, run, _args(required), monkeypatch) == cls(**required)


def test_values_reach_the_config_with_their_types(required, monkeypatch):
    cfg = _parse(train, COMMANDS[0][2], _args(required) + ["--ratio", "2", "--no-flip", "--freeze-classifier",
                                                           "--w-colour", "0.5", "--limit", "8"], monkeypatch)
    assert (cfg.ratio, cfg.flip, cfg.freeze_classifier, cfg.w_colour, cfg.limit) == (2, False, True, 0.5, 8)
    cfg = _parse(train_dynamic_command, COMMANDS[1][2], _args(required) + [
        "--target-flops", "0.5,0.75", "--predictor-widths", "8,16", "--downscalers", "a,b", "--w-kd", "0"], monkeypatch)
    assert (cfg.targets, cfg.predictor_widths, cfg.downscalers, cfg.w_kd) == ((0.5, 0.75), (8, 16), ("a", "b"), 0.0)


@pytest.mark.parametrize("command, cls, run", COMMANDS)
def test_command_line_reproduces_the_config(command, cls, run, required, monkeypatch):
    cfg = cls(**required, seed=3, batch_size=8, limit=16, flip=False, device="cpu")
    args = shlex.split(cfg.command_line(command.name))[2:]
    assert _parse(command, run, args, monkeypatch) == cfg


def test_bad_values_name_the_option(required):
    result = CliRunner().invoke(train, _args(required) + ["--ratio", "3"])
    assert result.exit_code == 2 and "--ratio" in result.output
    result = CliRunner().invoke(train_dynamic_command, _args(required) + ["--predictor-widths", "8,x"])
    assert result.exit_code == 2 and "comma-separated numbers" in result.output


def test_downscaler_skip_mean_is_the_old_spelling_of_area(required, monkeypatch):
    with pytest.warns(DeprecationWarning, match="skip method 'mean' is now spelled 'area'"):
        cfg = _parse(train, COMMANDS[0][2], _args(required) + ["--downscaler-skip", "mean"], monkeypatch)
    assert cfg.downscaler_skip == "area" and cfg == TrainConfig(**required)
    assert "--downscaler-skip area" in cfg.command_line("train")
