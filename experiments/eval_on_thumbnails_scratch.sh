#!/bin/bash
# Evaluate the students of experiments/train_on_thumbnails_scratch.sh on the full val split, each on its own
# thumbnails, and pair each E arm with the bicubic arm of its ratio (exact McNemar on the same images).
# Usage: eval_on_thumbnails_scratch.sh RUNS_ROOT VAL_FOLDER OUT_ROOT
set -e
. "$(dirname "$0")/env.sh"
root=$1 val=$2 out=$3
for run in "$root"/scratch-*/; do
  run=${run%/}
  name=$(basename "$run")
  case $name in *bicubic) methods=bicubic_aa ;; *) methods=learned ;; esac
  own=()  # a jointly trained E (ThumbNet mode) comes with its run
  [ -f "$run/downscaler.pt" ] && own=(--downscaler "$run/downscaler.pt")
  [ -f "$out/$name/results.json" ] || python -m downscale eval --data "$val" --student "$run/student.pt" \
    "${own[@]}" --methods $methods --classes dataset --latency-repeats 0 --grid-images 0 --out "$out/$name"
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
from downscale.evaluation.report import compare_runs
out = Path(sys.argv[1])
load = lambda name: json.loads((out / name / "results.json").read_text())
rows = ["| thumbnails (student from scratch) | seed | px | top-1 10-way % | bicubic student % | difference | E only / bicubic only right | McNemar p |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
for run in sorted(out.glob("scratch-r*")):  # scratch-rR-ARM[-seedS], each paired with scratch-rR-bicubic[-seedS]
    ratio, arm, *seed = run.name.split("-")[1:]
    if arm == "bicubic" or not (run / "results.json").exists():
        continue
    base = "-".join(["scratch", ratio, "bicubic", *seed])
    c = compare_runs(load(run.name), f"learned@{ratio[1:]}", load(base), f"bicubic_aa@{ratio[1:]}")
    rows.append(f"| {load(run.name)['config']['downscalers'][ratio[1:]]['name']} | {seed[0][4:] if seed else 0} | "
                f"{224 // int(ratio[1:])} | {100 * c['top1_a']:.2f} | {100 * c['top1_b']:.2f} | "
                f"{100 * (c['top1_a'] - c['top1_b']):+.2f} | {c['a_only']} / {c['b_only']} | {c['p_mcnemar']:.2g} |")
rows.append(f"\nn = {c['n']} val images (all), 10-way; seed = the training seed of both arms. "
            "`experiments/train_on_thumbnails_scratch.sh` then `experiments/eval_on_thumbnails_scratch.sh`.")
(out / "summary.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
