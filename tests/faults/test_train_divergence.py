"""`downscale train` on a temperature that cannot work, and on a loss that turns non-finite."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from downscale.cli import main
from downscale.thumbnet import train as training
from downscale.thumbnet.config import TrainConfig


def _args(tiny_data, out) -> list[str]:
    return ["train", "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
            "--out", str(out), "--image-size", "64", "--limit", "8", "--holdout", "4", "--batch-size", "4",
            "--epochs", "1", "--workers", "0"]


@pytest.mark.parametrize("tau", ["0", "-1", "nan", "inf"])
def test_train_refuses_a_temperature_that_is_not_positive_before_any_work(tiny_data, tmp_path, monkeypatch, tau):
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("training started"))
    result = CliRunner().invoke(main, [*_args(tiny_data, tmp_path / "run"), "--tau", tau])
    assert result.exit_code == 2 and "--tau" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="tau"):
        TrainConfig(data="d", teacher_weights="t", out="o", tau=float(tau))


def test_a_loss_that_turns_non_finite_stops_the_run_with_an_error_and_exports_nothing(tiny_data, tmp_path,
                                                                                      monkeypatch):
    real = training.distillation
    monkeypatch.setattr(training, "distillation", lambda *a: real(*a) * torch.tensor(float("nan")))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, _args(tiny_data, out))
    assert result.exit_code == 1, result.output
    assert "Error: distill step 1: the loss is nan; training stopped, nothing exported" in result.output
    assert not (out / "downscaler.pt").exists() and not (out / "student.pt").exists()
