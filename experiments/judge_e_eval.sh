#!/bin/bash
# Scores every final student of experiments/judge_e_joint.sh / judge_e_transfer.sh under OUT_ROOT on VAL_DIR
# (10-way top-1 over VAL_DIR's classes, each student on its own thumbnails: a learned E's, or its classical
# method's), into OUT_ROOT/eval-NAME; then the paired table (experiments/judge_e_summary.py).
# Usage: experiments/judge_e_eval.sh OUT_ROOT VAL_DIR [RESULTS]   (RESULTS: copy results.json + run.json there)
set -e
. "$(dirname "$0")/env.sh"
root=$1 val=$2 results=$3
for run in "$root"/*-seed*/; do
  name=$(basename "$run")
  [ -f "$run/student.pt" ] || continue
  read -r ratio method < <(python -c "import json, sys; c = json.load(open(sys.argv[1]))['config']
print(c['ratio'], c['downscaler'] if c['downscaler'] in sys.argv[2:] else 'learned')" "$run/run.json" \
    bicubic_aa bicubic area lanczos nearest bilinear bilinear_aa pil_bicubic)
  [ -f "$root/eval-$name/results.json" ] ||
    downscale eval --data "$val" --student "$run/student.pt" --methods "$method" --ratio "$ratio" --classes dataset \
      --seed 0 --latency-repeats 0 --grid-images 0 --out "$root/eval-$name" > "$root/eval-$name.log" 2>&1
  if [ -n "$results" ]; then
    mkdir -p "$results/$name"
    cp "$root/eval-$name/results.json" "$results/$name/results.json"
    cp "$run/run.json" "$results/$name/run.json"
  fi
done
python experiments/judge_e_summary.py "${results:-$root}"
