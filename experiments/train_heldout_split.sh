#!/bin/bash
# The frozen-classifier recipe (fast "area" E, CE + KD tau 1 + MM 20) trained on the EVEN classes of the
# fixed class split (experiments/class_split.py), so the ODD classes stay held out for evaluation
# (experiments/eval_heldout.sh). The teacher-logit cache runs/cache-split-even is shared by the runs.
# Usage: [EPOCHS=6] [LIMIT=N] [WIDTH=8] [SKIP=mean|nearest|bicubic] [W_CL=1] experiments/train_heldout_split.sh RATIO OUT
#   (W_CL=0: KD alone, the classifier's own full-image outputs as the only target: no labels)
set -e
. "$(dirname "$0")/env.sh"
even=runs/split-even
[ -d "$even" ] || python experiments/class_split.py even "$even" "$DATA/imagenette-224/train" "$DATA/imagenet-sample-1000"
downscale train --data "$even" --teacher-weights "$TEACHER" \
  --normalize minus1to1 --ratio "$1" --freeze-classifier --tau 1 --w-kd 1 --w-cl "${W_CL:-1}" --w-mm 20 --w-colour 0 \
  --epochs "${EPOCHS:-6}" ${LIMIT:+--limit $LIMIT} --holdout 500 --no-flip --seed 0 --downscaler-arch area \
  --downscaler-width "${WIDTH:-8}" --downscaler-skip "${SKIP:-area}" --out "$2" --cache runs/cache-split-even \
  --log-every 20 --batch-size 32
