#!/bin/bash
# Students with a field of view: the classical arm of experiments/judge_e_joint.sh `final` (one seed; distill,
# student-init teacher, tau 4, KD 1, CL 1, MM 0, 2 epochs on 2000 seeded train images, holdout 500, flips,
# batch 32), with the student's thumbnails made from the centre FOV fraction of each side (`train --fov`;
# the teacher still sees the whole image), then scored on VAL_DIR as experiments/judge_e_eval.sh scores the
# whole-image arm (the student's own view: `eval --student` reads the fov from student.pt).
# Usage: [FOV=0.75] [SEED=0] [DATA_DIR=...] experiments/judge_fov_students.sh RATIO METHOD OUT_ROOT VAL_DIR
# Compare OUT_ROOT/eval-rRATIO-METHOD-fovFOV-seedSEED with judge_e_joint.sh's rRATIO-METHOD-seedSEED by
# experiments/judge_fov_summary.py.
set -e
. "$(dirname "$0")/env.sh"
ratio=${1:?usage: $0 RATIO METHOD OUT_ROOT VAL_DIR} method=${2:?} root=${3:?} val=${4:?}
fov=${FOV:-0.75}
train=${DATA_DIR:-$DATA/imagenette-224/train}
upscale=$([ "$ratio" = 2 ] && echo 1 || echo 1.5)
seed=${SEED:-0}
name=r$ratio-$method-fov$fov-seed$seed
mkdir -p "$root"
if [ ! -f "$root/$name/run.json" ]; then  # a rerun goes on where an earlier one stopped
  rm -rf "${root:?}/$name"
  downscale train --data "$train" --teacher-weights "$TEACHER" --normalize minus1to1 \
    --ratio "$ratio" --downscaler "$method" --student-upscale "$upscale" --strategy distill \
    --student-init teacher --tau 4 --w-kd 1 --w-cl 1 --epochs "${EPOCHS:-2}" --limit "${FINAL_IMAGES:-2000}" \
    --batch-size 32 --holdout 500 --flip --seed "$seed" --workers 1 --cache "${CACHE:-$root/cache}" --log-every 50 \
    --w-mm 0 --fov "$fov" --out "$root/$name" > "$root/$name.log" 2>&1
fi
[ -f "$root/eval-$name/results.json" ] ||
  downscale eval --data "$val" --student "$root/$name/student.pt" --methods "$method" --ratio "$ratio" \
    --classes dataset --seed 0 --latency-repeats 0 --grid-images 0 --out "$root/eval-$name" > "$root/eval-$name.log" 2>&1
echo "$root/eval-$name/results.json"
