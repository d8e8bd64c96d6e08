"""Paired comparison of two `downscale eval` runs on the same images (10-way: over the dataset's classes).

Usage: python experiments/compare_runs.py RUN_A KEY_A RUN_B KEY_B
  e.g. python experiments/compare_runs.py runs/eval-students-r4/joint learned@4 runs/eval-students-r4/area learned@4
Prints n, both top-1s, the discordant counts and the exact McNemar p (downscale.evaluation.report.compare_runs).
"""

import json
import sys
from pathlib import Path

from downscale.evaluation.report import compare_runs

if len(sys.argv) != 5:
    raise SystemExit(__doc__)
a, key_a, b, key_b = sys.argv[1:]
load = lambda run: json.loads((Path(run) / "results.json").read_text())  # noqa: E731
r = compare_runs(load(a), key_a, load(b), key_b)
print(f"n = {r['n']}: {a} {key_a} {100 * r['top1_a']:.2f}% vs {b} {key_b} {100 * r['top1_b']:.2f}% "
      f"(Δ {100 * (r['top1_a'] - r['top1_b']):+.2f}), +{r['a_only']}/−{r['b_only']}, exact McNemar p = {r['p_mcnemar']:.3g}")
