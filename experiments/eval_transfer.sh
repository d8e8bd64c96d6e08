#!/bin/bash
# Does an E tuned to the frozen ImageNet MobileNetV2 help classifiers it was NOT tuned to?
# The students that experiments/train_on_thumbnails_scratch.sh trained from random weights on bicubic
# thumbnails never saw any E: each is evaluated on its own bicubic_aa thumbnails, on area's, and on each
# E's, over the full val split, paired per image (exact McNemar).
# Usage: eval_transfer.sh VAL_FOLDER OUT_ROOT "E1 E2 ..." STUDENT.pt ...   (E: registry name or file)
set -e
. "$(dirname "$0")/env.sh"
val=$1 out=$2 downscalers=$3
shift 3
for student in "$@"; do
  sname=$(basename "$(dirname "$student")")
  for e in $downscalers; do
    ename=$(basename "${e%.pt}")
    [ "$ename" = downscaler ] && ename=$(basename "$(dirname "$e")")
    dir="$out/$sname/$ename"
    [ -f "$dir/results.json" ] || python -m downscale eval --data "$val" --student "$student" --downscaler "$e" \
      --methods learned,bicubic_aa,area --classes dataset --latency-repeats 0 --grid-images 0 --out "$dir"
  done
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
from downscale.evaluation.report import compare_runs
out = Path(sys.argv[1])
rows = ["| classifier (never saw E) | thumbnails | top-1 10-way % | on bicubic_aa % | difference | E only / bicubic only right | McNemar p |",
        "|---|---|---:|---:|---:|---:|---:|"]
seen = set()  # classifiers whose area row is written (every E's run holds it)
for path in sorted(out.glob("*/*/results.json")):
    run, classifier = json.loads(path.read_text()), path.parent.parent.name
    ratio = run["config"]["ratios"][0]
    for method, label in (("area", "area"), ("learned", path.parent.name)):
        if method == "area" and classifier in seen:
            continue
        seen.add(classifier)
        c = compare_runs(run, f"{method}@{ratio}", run, f"bicubic_aa@{ratio}")
        rows.append(f"| {classifier} | {label} | {100 * c['top1_a']:.2f} | {100 * c['top1_b']:.2f} | "
                    f"{100 * (c['top1_a'] - c['top1_b']):+.2f} | {c['a_only']} / {c['b_only']} | {c['p_mcnemar']:.2g} |")
rows.append(f"\nn = {c['n']} val images (all), 10-way, {224 // ratio} px thumbnails; `experiments/eval_transfer.sh`.")
(out / "summary.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
