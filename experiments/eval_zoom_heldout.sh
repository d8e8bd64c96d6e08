#!/bin/bash
# The learned per-image zoom (downscale/zoom.py, trained by experiments/train_zoom.sh on the even classes only)
# against the best fixed field of view on the ODD classes' images (all 2888 of experiments/eval_fov_heldout.sh),
# for each frozen classifier, at ratio 2: one `downscale eval --zoom` run per classifier into OUT/C, then the
# table of experiments/zoom_summary.py (zoom vs the (method, fov) chosen on the even classes, exact McNemar)
# in OUT/summary.md. FOV is experiments/eval_fov_heldout.sh's output folder (run it first, all odd images).
# Usage: ZOOM=zoom.pt [CLASSIFIERS="mobilenet_v2 efficientnet_lite0"] experiments/eval_zoom_heldout.sh FOV OUT
set -e
. "$(dirname "$0")/env.sh"
fov=${1:?usage: ZOOM=W experiments/eval_zoom_heldout.sh FOV OUT} out=${2:?usage: ZOOM=W experiments/eval_zoom_heldout.sh FOV OUT}
zoom=${ZOOM:?set ZOOM to the predictor weights}
odd=runs/split-odd-val
[ -d "$odd" ] || python experiments/class_split.py odd "$odd" "$DATA/imagenette-224/val" "$DATA/imagenet-sample-1000"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for c in ${CLASSIFIERS:-mobilenet_v2 efficientnet_lite0 efficientnet_lite1 efficientnet_lite2}; do
  weights=()
  [ "$c" = mobilenet_v2 ] && weights=(--classifier-weights "$TEACHER" --normalize minus1to1)
  [ -f "$out/$c/results.json" ] ||
    downscale eval --data "$odd" --seed 0 --classifier "$c" "${weights[@]}" --ratio 2 --classes all --subset-regex '' \
      --batch-size 50 --latency-repeats 0 --grid-images 0 --methods bicubic_aa --zoom "$zoom" --out "$out/$c"
done
python experiments/zoom_summary.py "$fov" "$out" > "$out/summary.md"
cat "$out/summary.md"
