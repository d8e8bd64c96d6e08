#!/bin/bash
# Full val split: the frozen MobileNetV2 on the "area" E's (ratios 2 and 4) vs bicubic_aa and area.
# Usage: eval_frozen_area.sh E2.pt E4.pt OUT
set -e
. "$(dirname "$0")/env.sh"
downscale eval --data "$DATA"/imagenette-224/val --classifier mobilenet_v2 \
  --classifier-weights "$TEACHER" --normalize minus1to1 \
  --downscaler "$1" --downscaler "$2" --methods learned,bicubic_aa,area --ratio 2,4 --latency-repeats 3 --out "$3"
