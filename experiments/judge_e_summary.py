"""The paired table of the protocol "E where networks train on its thumbnails" (docs/results.md).

Usage: python experiments/judge_e_summary.py RESULTS
RESULTS holds one folder per final run, NAME/{results.json,run.json} (experiments/judge_e_eval.sh), named
GROUP-ARM-seedS: the E arm is `joint` (E learned with the student) or `E` (a frozen E), the other arm a classical
method. Prints, per group and seed: n, both top-1s (each network on its own thumbnails, over the dataset's
classes), Δ = E - classical, the discordant counts, the exact McNemar p and both runs' training wall times.
"""

import json
import re
import sys
from pathlib import Path

from downscale.evaluation.report import compare_runs

root = Path(sys.argv[1])
runs = {}
for folder in sorted(p for p in root.iterdir() if (p / "results.json").is_file()):
    group, arm, seed = re.fullmatch(r"(.+)-([^-]+)-seed(\d+)", folder.name).groups()
    load = lambda name: json.loads((folder / name).read_text())  # noqa: E731
    runs.setdefault((group, int(seed)), {})[arm] = (load("results.json"), load("run.json"))
print("| comparison | seed | n | classical arm top-1 % | E arm top-1 % | Δ (E − classical) | +/− | exact McNemar p "
      "| training wall min (classical / E) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (group, seed), arms in sorted(runs.items()):
    e_arm = next((a for a in ("joint", "E") if a in arms), None)
    classical = [a for a in arms if a != e_arm]
    if e_arm is None or len(classical) != 1:
        print(f"| {group} | {seed} | incomplete: {sorted(arms)} | | | | | | |")
        continue
    (e_res, e_run), (c_res, c_run) = arms[e_arm], arms[classical[0]]
    r = compare_runs(e_res, e_res["config"]["own_method"], c_res, c_res["config"]["own_method"])
    label = {"joint": "E learned jointly", "E": "frozen E (trained on classes A)"}[e_arm]
    print(f"| {group}: {label} vs `{classical[0]}` | {seed} | {r['n']} | {100 * r['top1_b']:.1f} | "
          f"{100 * r['top1_a']:.1f} | {100 * (r['top1_a'] - r['top1_b']):+.1f} | +{r['a_only']}/−{r['b_only']} | "
          f"{r['p_mcnemar']:.2g} | {c_run['wall_seconds'] / 60:.1f} / {e_run['wall_seconds'] / 60:.1f} |")
