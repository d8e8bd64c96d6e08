#!/bin/bash
# E alone for the frozen MobileNetV2 (CE + KD tau 1 + MM), ratio 2, fast unshuffle E,
# on Imagenette train + imagenet-sample-1000 (symlinked into $MIXED by experiments/make_folders.sh).
. "$(dirname "$0")/env.sh"
/usr/bin/time -v downscale train --data "$MIXED" --teacher-weights "$TEACHER" \
  --normalize minus1to1 --ratio 2 --freeze-classifier --tau 1 --w-kd 1 --w-cl 1 --w-mm 1 --epochs 1 --limit 4000 \
  --holdout 500 --no-flip --seed 0 --downscaler-arch unshuffle --out runs/frozen-r2-unshuffle --cache runs/cache-mixed \
  --log-every 10 --batch-size 32
