#!/bin/bash
# What batching same-size images in `downscale convert` buys on a folder of small images.
# Runs `downscale convert FOLDER --jobs 2` (learned E, ratio 2) REPEATS times as it ships, and REPEATS times
# with batching off (convert.BATCH_PIXELS = 0: one call of E per image), alternating, and prints the
# conversion time each run reports. Usage: time_convert_batching.sh FOLDER [REPEATS]
set -e
. "$(dirname "$0")/env.sh"
folder=$1 repeats=${2:-3} out=$(mktemp -d)
for i in $(seq "$repeats"); do
  for limit in shipped 0; do
    rm -rf "$out/o"
    line=$(python -c "
import sys
import downscale.convert as c
if '$limit' == '0':
    c.BATCH_PIXELS = 0
from downscale.cli import main
main(['convert', '$folder', '-o', '$out/o', '--jobs', '2', '--ratio', '2'])" 2>/dev/null | tail -n 1)
    echo "batching $([ $limit = 0 ] && echo off || echo on): ${line##*-> $out/o }"
  done
done
rm -rf "$out"
