#!/bin/bash
# The learned per-image zoom (downscale/zoom.py) for the frozen MobileNetV2 at ratio 2, trained by distillation
# from the classifier's own full-image logits (no labels) on the EVEN classes only: imagenette-224/train and
# imagenet-sample-1000 split by experiments/class_split.py (4363 images; 10% held out, seed 0, to choose the
# recipe on). Images and logits are cached in runs/zoom-cache. One thread.
# Usage: [LR=1e-3] [TEMPERATURE=2] [EPOCHS=3] experiments/train_zoom.sh OUT.pt
set -e
. "$(dirname "$0")/env.sh"
out=${1:?usage: experiments/train_zoom.sh OUT.pt}
train=runs/split-even-train
[ -d "$train" ] || python experiments/class_split.py even "$train" "$DATA/imagenette-224/train" "$DATA/imagenet-sample-1000"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
python -m downscale.zoomnet.train --data "$train" --classifier mobilenet_v2 --classifier-weights "$TEACHER" \
  --normalize minus1to1 --cache runs/zoom-cache --seed 0 --lr "${LR:-1e-3}" --temperature "${TEMPERATURE:-2}" \
  --epochs "${EPOCHS:-3}" --out "$out"
