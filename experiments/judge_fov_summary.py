"""Students with a field of view against the same students on the whole image (docs/results.md, "Field of view
for frozen classifiers", students).

Usage: python experiments/judge_fov_summary.py FOV_RESULTS WHOLE_RESULTS
Each holds one folder per run, NAME/{results.json,run.json}: in FOV_RESULTS rRATIO-METHOD-fovF-seedS
(experiments/judge_fov_students.sh), in WHOLE_RESULTS rRATIO-METHOD-seedS (the classical arm of
experiments/judge_e_joint.sh, scored by experiments/judge_e_eval.sh). Prints, per pair: n, both top-1s (each
student on its own thumbnails, over the dataset's classes), Δ = fov − whole, the discordant counts, the exact
McNemar p and both runs' training wall times.
"""

import json
import re
import sys
from pathlib import Path

from downscale.evaluation.report import compare_runs

fov_root, whole_root = map(Path, sys.argv[1:3])
load = lambda folder, name: json.loads((folder / name).read_text())  # noqa: E731
print("| students | seed | n | whole image top-1 % | centre view top-1 % | Δ (view − whole) | +/− | exact McNemar p "
      "| training wall min (whole / view) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for folder in sorted(p for p in fov_root.iterdir() if (p / "results.json").is_file()):
    ratio, method, fov, seed = re.fullmatch(r"r(\d+)-(.+)-fov([\d.]+)-seed(\d+)", folder.name).groups()
    whole = whole_root / f"r{ratio}-{method}-seed{seed}"
    label = f"ratio {ratio}, `{method}`: fov {fov} vs 1"
    if not (whole / "results.json").is_file():
        print(f"| {label} | {seed} | no whole-image arm ({whole.name}) | | | | | | |")
        continue
    a, b = load(folder, "results.json"), load(whole, "results.json")
    r = compare_runs(a, a["config"]["own_method"], b, b["config"]["own_method"])
    print(f"| {label} | {seed} | {r['n']} | {100 * r['top1_b']:.1f} | {100 * r['top1_a']:.1f} | "
          f"{100 * (r['top1_a'] - r['top1_b']):+.1f} | +{r['a_only']}/−{r['b_only']} | {r['p_mcnemar']:.2g} | "
          f"{load(whole, 'run.json')['wall_seconds'] / 60:.1f} / {load(folder, 'run.json')['wall_seconds'] / 60:.1f} |")
