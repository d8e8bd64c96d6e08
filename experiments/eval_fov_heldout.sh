#!/bin/bash
# Fixed field of view for frozen classifiers at ratio 2: every (method, fov) on a holdout of images of the EVEN
# classes of the fixed class split (experiments/class_split.py over imagenette-224/val + imagenet-sample-1000;
# a seeded subset of LIMIT images), where the best (method, fov) and the best method at fov 1 are chosen; then
# the two choices on all the ODD classes' images (2888, as experiments/eval_heldout.sh), where they are
# compared (top-1 over 1000 classes and agreement with the full image's top-1; exact McNemar), in OUT/summary.md
# (experiments/fov_summary.py). The odd run holds only the two choices, to save CPU.
# Usage: [CLASSIFIERS="mobilenet_v2 efficientnet_lite0"] [METHODS=bicubic,bicubic_aa,area] [FOVS=1,0.875,...]
#        [LIMIT=1000] [ODD_LIMIT=N: a seeded subset of the odd images] experiments/eval_fov_heldout.sh OUT
set -e
. "$(dirname "$0")/env.sh"
out=${1:?usage: experiments/eval_fov_heldout.sh OUT}
even=runs/split-even-val odd=runs/split-odd-val
[ -d "$even" ] || python experiments/class_split.py even "$even" "$DATA/imagenette-224/val" "$DATA/imagenet-sample-1000"
[ -d "$odd" ] || python experiments/class_split.py odd "$odd" "$DATA/imagenette-224/val" "$DATA/imagenet-sample-1000"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # small batches on a shared CPU: one thread wastes least
for c in ${CLASSIFIERS:-mobilenet_v2 efficientnet_lite0}; do
  weights=()
  [ "$c" = mobilenet_v2 ] && weights=(--classifier-weights "$TEACHER" --normalize minus1to1)
  common=(--seed 0 --classifier "$c" "${weights[@]}" --ratio 2 --classes all --subset-regex '' --batch-size 50
          --latency-repeats 0 --grid-images 0)
  [ -f "$out/even/$c/results.json" ] ||  # (a rerun goes on where an earlier one stopped)
    downscale eval --data "$even" --limit "${LIMIT:-1000}" "${common[@]}" --fov "${FOVS:-1,0.875,0.75,0.625,0.5}" \
      --methods "${METHODS:-bicubic,bicubic_aa,area}" --out "$out/even/$c"
  read -r methods fovs < <(python experiments/fov_summary.py --choose "$out/even/$c/results.json")
  [ -f "$out/odd/$c/results.json" ] ||  # only the two choices (and bicubic_aa, always added) on the odd classes
    downscale eval --data "$odd" ${ODD_LIMIT:+--limit "$ODD_LIMIT"} "${common[@]}" --fov "$fovs" --methods "$methods" --agreement --out "$out/odd/$c"
done
python experiments/fov_summary.py "$out" > "$out/summary.md"
cat "$out/summary.md"
