#!/bin/bash
# Ratio 4 (56 px) thumbnail students, equal budget: a MobileNetV2 student initialised from the teacher and
# distilled (KD tau 4 + CE, AdamW, one-cycle, 10 epochs on all of imagenette-224/train, no holdout, seed 0) on
#   area:  area-identity-r4-v0 (area resizing, the best classical resize at 56 px for this MobileNetV2), or
#   joint: an "area" E (width 8, MM 20) learned jointly with the student (ThumbNet).
# Usage: [ARMS="area joint"] [EPOCHS=10] experiments/train_students_r4.sh OUT_ROOT
# Evaluate: downscale eval --data $DATA/imagenette-224/val --student OUT_ROOT/ARM/student.pt --methods learned,area
set -e
. "$(dirname "$0")/env.sh"
root=$1
mkdir -p "$root"
run() {  # ARM DOWNSCALER OPTIONS...
  local arm=$1 downscaler=$2
  shift 2
  downscale train --data "$DATA/imagenette-224/train" --teacher-weights "$TEACHER" --normalize minus1to1 --ratio 4 \
    --downscaler "$downscaler" --strategy distill --student-init teacher --tau 4 --w-kd 1 --w-cl 1 \
    --epochs "${EPOCHS:-10}" --batch-size 32 --holdout 0 --no-flip --seed 0 --cache "$root/cache" \
    --log-every 50 --out "$root/$arm" "$@" > "$root/$arm.log" 2>&1
}
for arm in ${ARMS:-area joint}; do
  case $arm in
    area) run area area-identity-r4-v0 --w-mm 0 ;;
    joint) run joint learned --w-mm 20 --downscaler-arch area --downscaler-width 8 ;;
  esac
done
