"""DRNet evaluation: the comparison rows (exact), the early-exit rows, and ``downscale eval-dynamic``."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from downscale.cli import main
from downscale.dynamic import ResolutionPredictor
from downscale.evaluation.dynamic import compare, early_exit_rows, markdown
from downscale.pretrained import save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_early_exit_rows_are_exact():
    T, F_ = True, False
    correct = torch.tensor([[T, T, F_], [T, F_, F_], [F_, T, F_], [T, F_, F_]])  # columns: ratio 1, 2, 4
    confidence = torch.tensor([[0.9, 0.99, 0.5], [0.9, 0.5, 0.5], [0.9, 0.98, 0.5], [0.9, 0.97, 0.5]])
    costs = torch.tensor([100e6, 40e6, 10e6])
    mine, rand = early_exit_rows(correct, confidence, costs, [0.975], seed=0, permutations=20)
    # images 0 and 2 stop at 112 px (right), 1 and 3 go on to 224 px (right): all 4 right
    assert (mine["correct"], mine["mean_flops"], mine["share_r1"], mine["share_r2"]) == (4, 90e6, 0.5, 0.5)
    assert mine["vs_fixed1"]["only_this"] == 1 and mine["vs_fixed1"]["only_other"] == 0
    assert (rand["mean_flops"], rand["share_r1"]) == (90e6, 0.5)


def test_compare_rows_are_exact():
    T, F_ = True, False
    correct = torch.tensor([[T, T, T], [T, T, F_], [T, F_, F_], [F_, F_, F_]])
    costs = torch.tensor([100e6, 40e6, 10e6])
    rows = compare(correct, costs, {"p": (torch.tensor([2, 1, 0, 0]), 1e6)}, seed=0, permutations=50)
    by = {r["method"]: r for r in rows}
    assert [by[f"fixed ratio {r}"]["correct"] for r in (1, 2, 4)] == [3, 2, 1]
    dyn = by["dynamic p"]
    assert (dyn["correct"], dyn["mean_flops"], dyn["share_r1"], dyn["share_r4"]) == (3, 63.5e6, 0.5, 0.25)
    assert dyn["vs_fixed1"] == {"only_this": 0, "only_other": 0, "p_mcnemar": 1.0}
    rand = by["random, shares of p (seed 0)"]
    assert (rand["mean_flops"], rand["share_r2"]) == (62.5e6, 0.25)
    oracle = by["oracle (cheapest ratio that is right)"]
    assert (oracle["correct"], oracle["mean_flops"]) == (3, 40e6)
    table = markdown(rows, 100e6)
    assert "| dynamic p | 75.00% (30.1-95.4) | 64 | -36.5% | 50%/25%/25% |" in table
    assert "| oracle (cheapest ratio that is right) | 75.00% (30.1-95.4) | 40 | -60.0% | 25%/25%/50% |" in table


def test_eval_dynamic_command_writes_predictor_and_early_exit_rows(tmp_path, multires):
    rng = np.random.default_rng(0)
    for wnid in ("n01440764", "n02102040"):
        (tmp_path / "data" / wnid).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "data" / wnid / f"{i}.png")
    save_weights(multires, tmp_path / "student.pt", kind="multires_classifier")
    save_weights(ResolutionPredictor().eval(), tmp_path / "p.pt", kind="resolution_predictor", student="student.pt")
    result = CliRunner().invoke(main, ["eval-dynamic", "--data", str(tmp_path / "data"), "--student",
                                       str(tmp_path / "student.pt"), "--predictor", str(tmp_path / "p.pt"),
                                       "--early-exit", "0.5", "--image-size", "32", "--permutations", "5",
                                       "--out", str(tmp_path / "val")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["method"]: r for r in json.loads((tmp_path / "val.json").read_text())["rows"]}
    assert {"dynamic p", "early exit 2->1, threshold 0.5", "random exit, shares of threshold 0.5 (seed 0)"} <= set(rows)
    assert all(r["n"] == 6 for r in rows.values())
    assert list(rows)[-1] == "oracle (cheapest ratio that is right)"
    none = CliRunner().invoke(main, ["eval-dynamic", "--data", str(tmp_path / "data"), "--student",
                                     str(tmp_path / "student.pt"), "--out", str(tmp_path / "x")])
    assert none.exit_code == 2 and "--predictor or --early-exit" in none.output
