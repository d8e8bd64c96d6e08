#!/bin/bash
# Train on thumbnails, from scratch: MobileNetV2 trained from random weights on the
# thumbnails of a fixed downscaler vs on antialiased bicubic thumbnails, identical recipe fixed in advance (no
# tuning: CE only, AdamW lr 2e-3, weight decay 0.05, one-cycle, EPOCHS epochs, batch 64, flips, seed 0), all arms
# at once (one process each; made for a GPU machine, where they share it):
#   112 px: frozen-mobilenet_v2-r2-v3 (the ratio-2 default) vs bicubic
#   56 px:  thumbnet-mobilenet_v2-imagenette-r4-v1 (ThumbNet's own E) and area-identity-r4-v0 (the ratio-4 default,
#           i.e. area resizing) vs bicubic
# and, on request (ARMS="r4-joint r4-bicubic"), ThumbNet mode: an "area" E (width 8, MM 20 keeps its thumbnails
# natural) learned jointly with the student (same lr 2e-3), against the bicubic student.
# Usage: [SEED=s] [ARMS="r2-v3 r2-bicubic ..."] train_on_thumbnails_scratch.sh TRAIN_FOLDER TEACHER_WEIGHTS OUT_ROOT [EPOCHS] [LIMIT]
# (runs are named scratch-ARM, plus -seedS for SEED other than 0)
# (the teacher's weights only give the architecture's class mapping: no distillation). Evaluate each student on
# the val split with `downscale eval --student OUT_ROOT/NAME/student.pt` (see experiments/README.md).
set -e
. "$(dirname "$0")/env.sh"
data=$1 teacher=$2 root=$3 epochs=${4:-30} limit=${5:+--limit $5} seed=${SEED:-0}
arms=${ARMS:-r2-v3 r2-bicubic r4-thumbnet r4-area r4-bicubic}
run() {  # ARM RATIO DOWNSCALER OPTIONS...
  [[ " $arms " == *" $1 "* ]] || return 0
  local name=scratch-$1${SEED:+-seed$seed} ratio=$2 downscaler=$3
  shift 3
  python -m downscale train --data "$data" --teacher-weights "$teacher" --out "$root/$name" --ratio "$ratio" \
    --downscaler "$downscaler" --student-init scratch --strategy supervised --w-kd 0 --w-cl 1 \
    --epochs "$epochs" --batch-size 64 --lr-student 0.002 --lr-downscaler 0.002 --weight-decay 0.05 --holdout 0 \
    --seed "$seed" --workers "${WORKERS:-3}" --flip --log-every 50 $limit "$@" > "$root/$name.log" 2>&1
}
mkdir -p "$root"
run r2-v3 2 frozen-mobilenet_v2-r2-v3 --w-mm 0 &
run r2-bicubic 2 bicubic_aa --w-mm 0 &
run r4-thumbnet 4 thumbnet-mobilenet_v2-imagenette-r4-v1 --w-mm 0 &
run r4-area 4 area-identity-r4-v0 --w-mm 0 &
run r4-bicubic 4 bicubic_aa --w-mm 0 &
run r4-joint 4 learned --w-mm 20 --downscaler-arch area --downscaler-width 8 &
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
tail -n 3 "$root"/*.log
exit $status
