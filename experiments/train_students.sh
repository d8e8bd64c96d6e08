#!/bin/bash
# Thumbnail students that keep the teacher's accuracy: a MobileNetV2 student initialised from the teacher and
# distilled (KD tau 4 + CE, AdamW, one-cycle, batch 32, flips) on fixed classical thumbnails computed once, on
# imagenette-224/train less a 500-image seeded holdout (its top-1 after each epoch is in run.json and the card):
#   r2: 112 px, torch bicubic without antialias (the best classical resize for this MobileNetV2 at 112 px)
#   r4: 56 px, area; the student enlarges each thumbnail 1.43x (80 px) before its network (E + S 6.9x cheaper than T)
# Usage: [ARMS="r2 r4"] [SEED=0] [EPOCHS_R2=6] [EPOCHS_R4=6] [FOV=1] experiments/train_students.sh OUT_ROOT
# (FOV: the students' field of view, `train --fov`)
# Both arms run at once, THREADS (default 1) each. Evaluate on the val split:
#   downscale eval --data $DATA/imagenette-224/val --student OUT_ROOT/r2/student.pt --classes dataset
set -e
. "$(dirname "$0")/env.sh"
root=$1 seed=${SEED:-0}
mkdir -p "$root"
run() {  # ARM RATIO METHOD EPOCHS OPTIONS...
  [[ " ${ARMS:-r2 r4} " == *" $1 "* ]] || return 0
  local arm=$1 ratio=$2 method=$3 epochs=$4
  shift 4
  OMP_NUM_THREADS=${THREADS:-1} downscale train --data "$DATA/imagenette-224/train" --teacher-weights "$TEACHER" \
    --normalize minus1to1 --ratio "$ratio" --downscaler "$method" --strategy distill --student-init teacher \
    --tau 4 --w-kd 1 --w-cl 1 --w-mm 0 --epochs "$epochs" --batch-size 32 --holdout 500 --flip --seed "$seed" \
    --workers 1 --cache "$root/cache" --log-every 50 --out "$root/$arm" --fov "${FOV:-1}" "$@" > "$root/$arm.log" 2>&1
}
run r2 2 bicubic "${EPOCHS_R2:-6}" &
run r4 4 area "${EPOCHS_R4:-6}" --student-upscale 1.43 &
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
exit $status
