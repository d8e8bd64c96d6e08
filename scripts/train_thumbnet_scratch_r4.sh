#!/bin/bash
# Issue 7 target 3 (student / ThumbNet mode) with a student trained from scratch: E (fast "area" layout,
# width 8, MM 20 keeps its thumbnails natural) learned jointly with a MobileNetV2 from random weights at
# ratio 4 (56 px), against the same student on antialiased bicubic thumbnails; the recipe of
# scripts/train_on_thumbnails_scratch.sh (CE, AdamW lr 2e-3 for the student and E, weight decay 0.05,
# one-cycle, EPOCHS epochs, batch 64, flips, seed SEED), both arms in parallel.
# Usage: [SEED=s] train_thumbnet_scratch_r4.sh TRAIN_FOLDER TEACHER_WEIGHTS OUT_ROOT [EPOCHS] [LIMIT]
set -e
cd "$(dirname "$0")/.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
data=$1 teacher=$2 root=$3 epochs=${4:-30} limit=${5:+--limit $5} seed=${SEED:-0}
run() {  # NAME DOWNSCALER [MORE OPTIONS]
  local name=$1 downscaler=$2
  shift 2
  python -m downscale train --data "$data" --teacher-weights "$teacher" --out "$root/$name" --ratio 4 \
    --downscaler "$downscaler" --student-init scratch --strategy supervised --w-kd 0 --w-cl 1 \
    --epochs "$epochs" --batch-size 64 --lr-student 0.002 --lr-downscaler 0.002 --weight-decay 0.05 \
    --holdout 0 --seed "$seed" --workers "${WORKERS:-1}" --flip --log-every 25 $limit "$@" > "$root/$name.log" 2>&1
}
mkdir -p "$root"
run thumbnet-r4-area-seed$seed learned --downscaler-arch area --downscaler-width 8 --w-mm 20 &
run thumbnet-r4-bicubic-seed$seed bicubic --w-mm 0 &
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
tail -n 3 "$root"/*.log
exit $status
