#!/bin/bash
# E judged as a drop-in on classes it never saw: the transfer arm of the protocol in docs/results.md ("E where
# networks train on its thumbnails"), at ratio 4.
#   split:                      OUT_ROOT/{A-train,B-train,B-val}: symlinked ImageFolders of Imagenette's classes at
#                               even (A) and odd (B) positions in sorted-wnid order
#   e:                          E (area layout, width 8, MM 20) trained jointly with a student on A-train, 2 epochs
#                               on 2000 images, seed 0 -> OUT_ROOT/E/downscaler.pt
#   pilot CLASSIFIER:           CLASSIFIER fine-tuned from its ImageNet weights (CE) for 1 epoch on 1000 B-train
#                               images on each classical method of METHODS, seed 0 (held-out top-1 in each run.json)
#   final CLASSIFIER METHOD:    for SEEDS ("0 1"): fine-tuned on METHOD's thumbnails and on E's, 2 epochs on 2000
#                               B-train images
# CLASSIFIER: mobilenet_v2 (the teacher's weights) or efficientnet_lite0 (the efficientnet extra).
# Usage: experiments/judge_e_transfer.sh split|e|pilot|final [CLASSIFIER [METHOD]] OUT_ROOT
# Then experiments/judge_e_eval.sh OUT_ROOT OUT_ROOT/B-val scores the final classifiers on B's val images.
set -e
. "$(dirname "$0")/env.sh"
stage=$1
case $stage in split|e) root=$2 ;; pilot) classifier=$2 root=$3 ;; final) classifier=$2 method=$3 root=$4 ;; esac
mkdir -p "$root"
train() {  # NAME DATA SEED OPTIONS...
  local name=$1 data=$2 seed=$3
  shift 3
  [ -f "$root/$name/run.json" ] && return  # a rerun goes on where an earlier one stopped
  rm -rf "${root:?}/$name"
  downscale train --data "$data" --ratio 4 --student-upscale 1.5 --student-init teacher --batch-size 32 \
    --holdout 500 --flip --seed "$seed" --workers 1 --cache "${CACHE:-$root/cache}" --log-every 50 \
    --out "$root/$name" "$@" > "$root/$name.log" 2>&1
}
finetune() {  # NAME DOWNSCALER EPOCHS IMAGES SEED: CE from the classifier's ImageNet weights, no teacher
  local weights=()
  [ "$classifier" = mobilenet_v2 ] && weights=(--teacher-weights "$TEACHER")
  train "$1" "$root/B-train" "$5" --teacher "$classifier" "${weights[@]}" --normalize minus1to1 \
    --downscaler "$2" --strategy supervised --w-kd 0 --w-cl 1 --w-mm 0 --epochs "$3" --limit "$4"
}
case $stage in
  split)
    for part in train val; do
      mapfile -t wnids < <(ls "$DATA/imagenette-224/$part" | sort)
      for i in "${!wnids[@]}"; do
        set=$([ $((i % 2)) = 0 ] && echo A || echo B)
        mkdir -p "$root/$set-$part"
        ln -sfn "$(cd "$DATA/imagenette-224/$part/${wnids[$i]}" && pwd)" "$root/$set-$part/${wnids[$i]}"
      done
    done
    rm -rf "${root:?}/A-val" ;;
  e)
    train E "$root/A-train" 0 --teacher-weights "$TEACHER" --normalize minus1to1 --downscaler learned \
      --strategy distill --tau 4 --w-kd 1 --w-cl 1 --w-mm 20 --downscaler-arch area --downscaler-width 8 \
      --epochs 2 --limit 2000 ;;
  pilot)
    for m in ${METHODS:-bicubic_aa bicubic area lanczos}; do finetune "pilot-$classifier-$m" "$m" 1 1000 0; done
    grep -H '"holdout_top1"' "$root"/pilot-"$classifier"-*/run.json ;;
  final)
    for seed in ${SEEDS:-0 1}; do
      finetune "$classifier-$method-seed$seed" "$method" 2 2000 "$seed"
      finetune "$classifier-E-seed$seed" "$root/E/downscaler.pt" 2 2000 "$seed"
    done ;;
  *) echo "usage: $0 split|e|pilot|final [CLASSIFIER [METHOD]] OUT_ROOT" >&2; exit 2 ;;
esac
