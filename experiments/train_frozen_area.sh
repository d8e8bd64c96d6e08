#!/bin/bash
# The fast "area" E (block mean + a width-W correction, two convs at inference) for the frozen
# MobileNetV2: CE + KD tau 1 + MM 20 + L1 colour-mean term, on Imagenette train + imagenet-sample-1000
# (symlinked into $MIXED by experiments/make_folders.sh).
# Usage: [EPOCHS=3] [LIMIT=4000] [FLIP=1] train_frozen_area.sh RATIO WIDTH W_COLOUR OUT
#   (LIMIT= empty: all images; FLIP=1: random horizontal flips, the teacher cache then holds both views)
set -e
. "$(dirname "$0")/env.sh"
limit=${LIMIT-4000}
downscale train --data "$MIXED" --teacher-weights "$TEACHER" \
  --normalize minus1to1 --ratio "$1" --freeze-classifier --tau 1 --w-kd 1 --w-cl 1 --w-mm 20 --w-colour "$3" --epochs "${EPOCHS:-3}" \
  ${limit:+--limit $limit} --holdout 500 $([ "${FLIP:-0}" = 1 ] && echo --flip || echo --no-flip) --seed 0 --downscaler-arch area --downscaler-width "$2" \
  --out "$4" --cache runs/cache-mixed --log-every 20 --batch-size 32
