"""The table of "E designs within the cost cap" (docs/results.md): one row per run folder (run.json of
`downscale train`, experiments/judge_e_designs.sh or a classical pilot of experiments/judge_e_joint.sh).

Usage: python experiments/judge_e_designs_summary.py RUN_DIR...
Prints, per run: ratio, E (layout and width, or the classical method), strategy and MM weight, E's FLOPs on a
224 x 224 image, S's at the size it sees (the thumbnail enlarged by --student-upscale), T / (E + S) against T
on the full 224 x 224 image, whether the cost cap holds (E + S <= T / 6 at ratio 4, <= T / 3 at ratio 2),
held-out top-1 with its 95% Wilson interval, and the training wall time. FLOPs by torch.utils.flop_counter
(convolutions and matmuls; a classical resize counts 0), on E's inference form with a non-zero correction.
"""

import json
import sys
from pathlib import Path

import torch

from downscale.classifiers import Classifier
from downscale.dynamic import count_flops
from downscale.evaluation.stats import wilson_interval
from downscale.model import Downscaler

CAP = {2: 3, 4: 6}  # T / (E + S) at least this
SIZE = 224


def e_flops(cfg: dict) -> int:
    """FLOPs of the run's E on one 224 x 224 image (0 for a classical resize)."""
    if cfg["downscaler"] != "learned":
        return 0
    e = Downscaler(cfg["ratio"], cfg["downscaler_width"], cfg["downscaler_arch"], cfg.get("downscaler_skip", "area"))
    torch.nn.init.normal_(e.correction.weight)  # (a zero correction would let the area form skip its convs)
    return count_flops(e.eval(), torch.rand(1, 3, SIZE, SIZE))


def classifier_flops(arch: str, side: int, upscale: float = 1.0) -> int:
    return count_flops(Classifier(arch, 1000, upscale=upscale).eval(), torch.zeros(1, 3, side, side))


rows = []
for folder in map(Path, sys.argv[1:]):
    run = json.loads((folder / "run.json").read_text())
    cfg, holdout = run["config"], run["holdout"]
    t = classifier_flops(cfg["teacher"], SIZE)
    e, s = e_flops(cfg), classifier_flops(cfg["teacher"], SIZE // cfg["ratio"], cfg["student_upscale"])
    learned = cfg["downscaler"] == "learned"
    design = f"`{cfg['downscaler_arch']}` width {cfg['downscaler_width']}" if learned else f"`{cfg['downscaler']}`"
    stages = "FM+MM epoch, then distill" if cfg["strategy"] == "fm" else cfg["strategy"]
    recipe = f"{stages}, MM {cfg['w_mm']:g}" if learned else "distill (fixed thumbnails)"
    seen = int(SIZE // cfg["ratio"] * cfg["student_upscale"])
    n, top1 = holdout["n"], holdout["top1_trained"]
    low, high = wilson_interval(round(top1 * n), n)
    cap_met = (e + s) * CAP[cfg["ratio"]] <= t
    rows.append((-cfg["ratio"], -top1, f"| {cfg['ratio']} | {folder.name} | {design} | {recipe} | {e / 1e6:.1f} | "
                 f"{s / 1e6:.1f} ({seen}) | {t / (e + s):.2f}x | {'yes' if cap_met else '**no**'} | {100 * top1:.1f} "
                 f"[{100 * low:.1f}, {100 * high:.1f}] | {n} | {run['wall_seconds'] / 60:.1f} |"))
print("| ratio | run | E | recipe | E MFLOPs | S MFLOPs (px) | T / (E + S) | cap met | holdout top-1 % [95% CI] | n "
      "| wall min |")
print("|---:|---|---|---|---:|---:|---:|---|---:|---:|---:|")
for *_, line in sorted(rows):
    print(line)
