"""Each example runs on tiny settings and prints what it claims to show."""

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
VAL = SHARED / "data" / "imagenette-224" / "val"
TEACHER = SHARED / "models" / "mobilenet_v2_imagenet" / "mobilenet_v2_1001.pt"
needs_shared = pytest.mark.skipif(not (VAL.is_dir() and TEACHER.is_file()),
                                  reason="needs ../shared/data/imagenette-224/val and the MobileNetV2 teacher")


@pytest.fixture
def run_example(monkeypatch, capsys):
    """Run ``examples/<name>`` as ``__main__`` in this process (no second torch import); return its stdout."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny workloads: avoid OpenMP stalls on a busy shared CPU

    def run(name, *args):
        monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
        runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
        return capsys.readouterr().out

    yield run
    torch.set_num_threads(threads)


def test_quick_start(tmp_path, run_example):
    out = run_example("quick_start.py", "--ratio", 4, "--out", tmp_path / "qs")
    assert "input 512x512 RGB -> learned 128x128 RGB" in out and "PSNR" in out
    assert (tmp_path / "qs" / "astronaut_learned_r4.png").is_file()


def test_torchvision_pipeline(run_example):
    out = run_example("torchvision_pipeline.py", "--ratio", 2, "--limit", 4, "--batch-size", 2, "--workers", 0)
    assert "batch: (2, 3, 112, 112) torch.float32" in out
    assert "box [180, 20, 330, 200] -> (3, 256, 256) box [90, 10, 165, 100]" in out


@needs_shared
def test_speed_up_classifier(run_example):
    out = run_example("speed_up_classifier.py", "--data", VAL, "--weights", TEACHER, "--normalize", "minus1to1",
                      "--ratio", 4, "--limit", 8, "--batch-size", 8)
    assert "8 images" in out and "full 224 px" in out and "learned thumbnails ÷4" in out


@pytest.mark.slow
@needs_shared
@pytest.mark.skipif(importlib.util.find_spec("downscale.thumbnet.command") is None,
                    reason="downscale train (downscale/thumbnet/command.py) is not in this tree yet")
def test_train_your_own(tmp_path, run_example):
    out = run_example("train_your_own.py", "--data", VAL, "--teacher-weights", TEACHER, "--out", tmp_path / "run",
                      "--ratio", 4, "--epochs", 1, "--limit", 8, "--holdout", 4, "--batch-size", 4)
    assert "--- card.md ---" in out and "your E" in out
    assert (tmp_path / "run" / "downscaler.pt").is_file() and (tmp_path / "run" / "astronaut_thumbnail.png").is_file()
