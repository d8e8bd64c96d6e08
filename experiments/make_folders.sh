#!/bin/bash
# The derived input folders of the experiments, made from the shared data (env.sh) under runs/:
#   $MIXED (runs/mixed)  imagenette-224/train + imagenet-sample-1000 as 1000 wnid folders of symlinks
#                        (9469 + 1000 images): the training data of the frozen-teacher E's
#   runs/photos150       the 6 JPEGs of $SHARED/photos, 25 copies each: the speed benchmarks' folder
#   runs/val1000         the first 100 images (by name) of each class of imagenette-224/val, symlinked
# Usage: experiments/make_folders.sh   (leaves folders that exist as they are)
set -e
. "$(dirname "$0")/env.sh"
if [ ! -d "$MIXED" ]; then
  for d in "$DATA"/imagenette-224/train/* "$DATA"/imagenet-sample-1000/*; do
    w=$(basename "$d"); mkdir -p "$MIXED/$w"; ln -sf "$(realpath "$d")"/* "$MIXED/$w/"
  done
fi
if [ ! -d runs/photos150 ]; then
  mkdir -p runs/photos150
  for i in $(seq -w 1 25); do
    for f in "$SHARED"/photos/*.jpg; do cp "$f" "runs/photos150/${i}_$(basename "$f")"; done
  done
fi
if [ ! -d runs/val1000 ]; then
  for d in "$DATA"/imagenette-224/val/*; do
    w=$(basename "$d"); mkdir -p "runs/val1000/$w"
    ls "$d" | head -n 100 | while read -r f; do ln -s "$(realpath "$d/$f")" "runs/val1000/$w/$f"; done
  done
fi
ls -d "$MIXED" runs/photos150 runs/val1000
