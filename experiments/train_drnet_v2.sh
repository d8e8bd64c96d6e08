#!/bin/bash
# DRNet v2: as v1 (scripts in pretrained/drnet-v1.md) but a full stage 1 (2 epochs over the 3000-image split
# instead of 40 steps), the v2 registry downscalers (frozen-mobilenet_v2-r2-v3 / area-identity-r4-v0), stage 2
# on 2000 images stage 1 never saw, then the full val split. Needs an idle 2-core CPU for about 40 minutes.
set -e
. "$(dirname "$0")/env.sh"
echo "=== $(date -u +%T) train"
downscale train-dynamic --data "$DATA"/imagenette-224/train \
  --teacher-weights "$TEACHER" --out runs/drnet-v2 \
  --downscalers frozen-mobilenet_v2-r2-v3,area-identity-r4-v0 \
  --limit 3000 --holdout 500 --seed 0 --no-flip --cache runs/cache --batch-size 32 --epochs 2 \
  --stage2-limit 2000 --target-flops 0.55,0.65,0.75 --eta 10 --workers 1 --log-every 10
echo "=== $(date -u +%T) eval"
downscale eval-dynamic --data "$DATA"/imagenette-224/val --student runs/drnet-v2/student.pt \
  --predictor runs/drnet-v2/predictor-t0.55.pt --predictor runs/drnet-v2/predictor-t0.65.pt \
  --predictor runs/drnet-v2/predictor-t0.75.pt --out runs/drnet-v2/val --seed 0 --permutations 1000
echo "=== $(date -u +%T) done"
