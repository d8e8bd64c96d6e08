#!/bin/bash
# E judged where a network trains on its thumbnails, joint (ThumbNet) arm of the protocol in docs/results.md
# ("E where networks train on its thumbnails"): the student recipe of experiments/train_students.sh on fixed
# classical thumbnails against the same recipe with an E learned jointly, equal images, epochs and seed.
#   pilot RATIO:        one epoch on each classical resize (bicubic_aa bicubic area lanczos nearest bilinear),
#                       seed 0; the best held-out top-1 in each run.json is the classical arm of the final pair
#   final RATIO METHOD: for SEEDS (default "0 1"): S on METHOD's thumbnails, and S with an area-layout E
#                       (width 8, MM 20) learned jointly; the full epoch budget of the recipe
# Usage: experiments/judge_e_joint.sh pilot|final RATIO [METHOD] OUT_ROOT
# Then, per seed: downscale eval --data $DATA/imagenette-224/val --student OUT_ROOT/.../student.pt --classes dataset
# for both students, and python experiments/compare_runs.py (E's student on `learned`, the other on METHOD).
set -e
. "$(dirname "$0")/env.sh"
stage=$1 ratio=$2
if [ "$stage" = final ]; then method=$3 root=$4; else root=$3; fi
epochs=$([ "$ratio" = 2 ] && echo 6 || echo 8)
upscale=$([ "$ratio" = 2 ] && echo 1 || echo 1.5)
mkdir -p "$root"
run() {  # NAME DOWNSCALER EPOCHS SEED OPTIONS...
  local name=$1 downscaler=$2 n=$3 seed=$4
  shift 4
  downscale train --data "$DATA/imagenette-224/train" --teacher-weights "$TEACHER" --normalize minus1to1 \
    --ratio "$ratio" --downscaler "$downscaler" --student-upscale "$upscale" --strategy distill \
    --student-init teacher --tau 4 --w-kd 1 --w-cl 1 --epochs "$n" --batch-size 32 --holdout 500 --flip \
    --seed "$seed" --workers 1 --cache "$root/cache" --log-every 50 --out "$root/$name" "$@" > "$root/$name.log" 2>&1
}
case $stage in
  pilot)
    for m in bicubic_aa bicubic area lanczos nearest bilinear; do run "pilot-r$ratio-$m" "$m" 1 0 --w-mm 0; done
    grep -H '"holdout_top1"' "$root"/pilot-r"$ratio"-*/run.json ;;
  final)
    for seed in ${SEEDS:-0 1}; do
      run "r$ratio-$method-seed$seed" "$method" "$epochs" "$seed" --w-mm 0
      run "r$ratio-joint-seed$seed" learned "$epochs" "$seed" --w-mm 20 --downscaler-arch area --downscaler-width 8
    done ;;
  *) echo "usage: $0 pilot|final RATIO [METHOD] OUT_ROOT" >&2; exit 2 ;;
esac
