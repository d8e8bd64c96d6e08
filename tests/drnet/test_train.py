"""DRNet training: the data split, the FLOPs term, the predictor on synthetic outcomes, both stages end to end."""

import json

import pytest
import torch
from click.testing import CliRunner

from downscale.drnet.command import train_dynamic_command
from downscale.drnet.train import DynamicConfig, flops_penalty, split, train_dynamic, train_predictor
from downscale.dynamic import load_dynamic, load_multires

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(**overrides):
    options = dict(data="unused", teacher_weights="unused", out="unused")
    options.update(overrides)
    return DynamicConfig(**options)


def test_split_is_disjoint_and_stage2_gets_the_rest():
    stage1, stage2, held = split(100, config(holdout=10, limit=30))
    assert (len(stage1), len(stage2), len(held)) == (30, 60, 10)
    assert sorted(stage1 + stage2 + held) == list(range(100))
    assert split(100, config(holdout=10))[1] == split(100, config(holdout=10))[0]  # nothing left: reuse
    assert len(split(100, config(holdout=10, limit=30, stage2_limit=7))[1]) == 7


def test_flops_penalty_is_drnets_hinge():
    alpha, low, high = 400.0, 100.0, 600.0
    assert flops_penalty(torch.tensor(500.0), alpha, low, high).item() == pytest.approx(0.2)
    assert flops_penalty(torch.tensor(300.0), alpha, low, high).item() == 0.0


def test_predictor_learns_to_route_hard_images_up_within_the_budget():
    # bright previews are easy (right at every ratio), dark ones only at ratio 1
    g = torch.Generator().manual_seed(0)
    n = 128
    hard = torch.arange(n) % 2 == 0
    preview = torch.where(hard.view(-1, 1, 1, 1), 0.1, 0.9) + 0.05 * torch.rand(n, 3, 16, 16, generator=g)
    loss = torch.zeros(n, 3)
    loss[hard, 1:] = 5.0
    outcomes = {"preview": preview, "loss": loss, "correct": loss == 0}
    costs = torch.tensor([100.0, 50.0, 10.0])
    cfg = config(predictor_epochs=15, predictor_batch=32, eta=10.0, preview=16, predictor_widths=(8, 16))
    predictor, log = train_predictor(outcomes, costs, 55.0, cfg, held=outcomes, echo=lambda *a: None)
    # the best routing (hard -> 1, easy -> 4) is right everywhere at a mean of 55 FLOPs
    assert log[-1]["held_top1"] == 1.0
    assert log[-1]["held_flops"] <= 60.0


def test_both_stages_end_to_end(tiny_data, tmp_path):
    cfg = config(data=str(tiny_data / "data"), teacher_weights=str(tiny_data / "teacher.pt"), out=str(tmp_path / "run"),
                 image_size=64, batch_size=4, limit=8, holdout=4, workers=0, predictor_epochs=2, targets=(0.6,),
                 epochs=2, max_steps=3,
                 cache=str(tmp_path / "cache"), log_every=1)
    lines = []
    record = train_dynamic(cfg, echo=lines.append)
    out = tmp_path / "run"
    assert (record["stage1_images"], record["stage2_images"], record["holdout_images"]) == (8, 12, 4)
    assert [e["steps"] for e in record["stage1"]["history"]] == [2, 1]  # max_steps cuts epoch 2
    assert json.loads((out / "run.json").read_text())["student_sha256"] == record["student_sha256"]
    student = load_multires(out / "student.pt")
    bn = student.classifier.net.features[0][1].bns
    assert not torch.equal(bn[0].running_mean, bn[2].running_mean)  # each ratio has its own statistics
    model = load_dynamic(out / "predictor-t0.6.pt")
    logits, ratios = model(torch.rand(3, 3, 64, 64))
    assert logits.shape == (3, 1001) and set(ratios.tolist()) <= {1, 2, 4}
    # stage 2 again on the saved student, through the CLI
    result = CliRunner().invoke(train_dynamic_command, [
        "--data", cfg.data, "--teacher-weights", cfg.teacher_weights, "--out", str(out), "--image-size", "64",
        "--student", str(out / "student.pt"), "--limit", "8", "--holdout", "4", "--workers", "0",
        "--predictor-epochs", "1", "--target-flops", "0.5"])
    assert result.exit_code == 0, result.output
    assert (out / "predictor-t0.5.pt").exists() and "stage 1 skipped" in result.output


def test_cli_reports_bad_options(tiny_data, tmp_path):
    result = CliRunner().invoke(train_dynamic_command, [
        "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
        "--out", str(tmp_path / "run"), "--target-flops", "0.5,x"])
    assert result.exit_code == 2 and "comma-separated numbers" in result.output
    result = CliRunner().invoke(train_dynamic_command, [
        "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
        "--out", str(tmp_path / "run"), "--downscalers", "only-one"])
    assert result.exit_code == 2 and "two names" in result.output
