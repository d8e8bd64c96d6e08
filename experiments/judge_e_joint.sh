#!/bin/bash
# E judged where a network trains on its thumbnails, joint (ThumbNet) arm of the protocol in docs/results.md
# ("E where networks train on its thumbnails"): the student recipe on fixed classical thumbnails against the same
# recipe with an E learned jointly; equal images, epochs and seed.
#   pilot RATIO:        1 epoch on PILOT_IMAGES (1000) seeded train images for each of METHODS (bicubic_aa bicubic
#                       area lanczos), seed 0; the best held-out top-1 (500 images) is the classical arm
#   final RATIO METHOD: for SEEDS ("0 1"): S on METHOD's thumbnails, and S with an area-layout E (width 8, MM 20)
#                       learned jointly; EPOCHS (2) epochs on FINAL_IMAGES (2000) seeded train images
# Usage: [DATA_DIR=...] experiments/judge_e_joint.sh pilot|final RATIO [METHOD] OUT_ROOT
# Then experiments/judge_e_eval.sh OUT_ROOT VAL_DIR scores every final student on the val images.
set -e
. "$(dirname "$0")/env.sh"
stage=$1 ratio=$2
if [ "$stage" = final ]; then method=$3 root=$4; else root=$3; fi
train=${DATA_DIR:-$DATA/imagenette-224/train}
upscale=$([ "$ratio" = 2 ] && echo 1 || echo 1.5)
mkdir -p "$root"
run() {  # NAME DOWNSCALER EPOCHS IMAGES SEED OPTIONS...
  local name=$1 downscaler=$2 epochs=$3 images=$4 seed=$5
  shift 5
  [ -f "$root/$name/run.json" ] && return  # a rerun goes on where an earlier one stopped
  rm -rf "${root:?}/$name"
  downscale train --data "$train" --teacher-weights "$TEACHER" --normalize minus1to1 \
    --ratio "$ratio" --downscaler "$downscaler" --student-upscale "$upscale" --strategy distill \
    --student-init teacher --tau 4 --w-kd 1 --w-cl 1 --epochs "$epochs" --limit "$images" --batch-size 32 \
    --holdout 500 --flip --seed "$seed" --workers 1 --cache "${CACHE:-$root/cache}" --log-every 50 \
    --out "$root/$name" "$@" > "$root/$name.log" 2>&1
}
case $stage in
  pilot)
    for m in ${METHODS:-bicubic_aa bicubic area lanczos}; do
      run "pilot-r$ratio-$m" "$m" 1 "${PILOT_IMAGES:-1000}" 0 --w-mm 0
    done
    grep -H '"holdout_top1"' "$root"/pilot-r"$ratio"-*/run.json ;;
  final)
    for seed in ${SEEDS:-0 1}; do
      run "r$ratio-$method-seed$seed" "$method" "${EPOCHS:-2}" "${FINAL_IMAGES:-2000}" "$seed" --w-mm 0
      run "r$ratio-joint-seed$seed" learned "${EPOCHS:-2}" "${FINAL_IMAGES:-2000}" "$seed" --w-mm 20 \
        --downscaler-arch area --downscaler-width 8
    done ;;
  *) echo "usage: $0 pilot|final RATIO [METHOD] OUT_ROOT" >&2; exit 2 ;;
esac
