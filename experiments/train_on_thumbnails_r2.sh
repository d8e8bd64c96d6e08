#!/bin/bash
# Train on thumbnails: MobileNetV2 from the teacher's weights trained on the 112 px thumbnails
# of the fixed default E (frozen-mobilenet_v2-r2-v3), with exactly the recipe and budget of the bicubic baseline
# student-bicubic-mobilenet_v2-imagenette-r2-v1 (KD tau 4 + CE + MM 1, 3000 images, 1 epoch, seed 0), then both
# evaluated on the full val split, each on its own thumbnails.
set -e
. "$(dirname "$0")/env.sh"
downscale train --data "$DATA"/imagenette-224/train --teacher-weights "$TEACHER" \
  --out runs/student-on-v3-r2 --normalize minus1to1 --ratio 2 --downscaler frozen-mobilenet_v2-r2-v3 --strategy distill \
  --epochs 1 --batch-size 32 --limit 3000 --holdout 500 --seed 0 --workers 1 --no-flip --w-kd 1.0 --w-cl 1.0 \
  --w-mm 1.0 --tau 4.0 --lr-student 0.0002 --cache runs/cache --log-every 10
downscale eval --data "$DATA"/imagenette-224/val --student runs/student-on-v3-r2/student.pt \
  --methods learned,bicubic_aa --ratio 2 --latency-repeats 1 --out experiments/results/eval-student-on-v3-r2
