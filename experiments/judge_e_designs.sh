#!/bin/bash
# E designs within the cost cap (docs/results.md, "E designs within the cost cap"): the pilot recipe of
# experiments/judge_e_joint.sh (1 epoch on PILOT_IMAGES (1000) seeded train images, holdout 500, seed 0, distill,
# student initialised from the teacher) with E learned jointly (MM 20), one run per design; the classical
# reference is judge_e_joint.sh's pilot on the same images.
#   DESIGN:  E's layout and width: paperW (the paper's two 5x5 convs), areaW (block layer + 3x3 correction over
#            the area mean), residualW (residual resizer over the area mean, 2 blocks), unshuffleW; e.g. paper32
#            (the paper's E), area8 (the current correction), area32, residual16
#            or a classical method (bicubic_aa, bicubic, area, lanczos: S on its fixed thumbnails, no MM)
#   suffix:  -fm (an FM+MM first epoch, --strategy fm, before the distill epoch) | -nomm (--w-mm 0)
#   UPSCALE: S enlarges the thumbnail by this [1.5 at ratio 4, 1 at ratio 2]; run names get a u-suffix when set
# Usage: [DATA_DIR=...] [UPSCALE=...] experiments/judge_e_designs.sh RATIO OUT_ROOT [DESIGN[-fm|-nomm]...]
#        (default designs: paper32 area8 area32 residual16)
# Then experiments/judge_e_designs_summary.py OUT_ROOT/r*/ prints the table (holdout top-1, FLOPs, cost cap).
set -e
. "$(dirname "$0")/env.sh"
ratio=$1 root=$2
shift 2
train=${DATA_DIR:-$DATA/imagenette-224/train}
upscale=${UPSCALE:-$([ "$ratio" = 2 ] && echo 1 || echo 1.5)}
mkdir -p "$root"
for design in "${@:-paper32 area8 area32 residual16}"; do
  for d in $design; do
    base=${d%%-*} options=(--downscaler learned --w-mm 20)
    arch=${base%%[0-9]*} width=${base#"${base%%[0-9]*}"}
    case $arch${width:+W} in
      bicubic_aa|bicubic|area|lanczos) options=(--downscaler "$base" --w-mm 0) ;;
      paperW|unshuffleW|areaW|residualW) options+=(--downscaler-arch "$arch" --downscaler-width "$width") ;;
      *) echo "unknown design $d (ARCH WIDTH: paper32, area8, residual16, ...; suffix -fm or -nomm)" >&2; exit 2 ;;
    esac
    case $d in
      *-fm) options+=(--strategy fm --fm-epochs 1) ;;
      *-nomm) options+=(--w-mm 0) ;;
      "$base") ;;
      *) echo "unknown suffix in $d (-fm or -nomm)" >&2; exit 2 ;;
    esac
    name="r$ratio${UPSCALE:+u$UPSCALE}-$d"
    [ -f "$root/$name/run.json" ] && continue  # a rerun goes on where an earlier one stopped
    rm -rf "${root:?}/$name"
    downscale train --data "$train" --teacher-weights "$TEACHER" --normalize minus1to1 \
      --ratio "$ratio" --student-upscale "$upscale" --strategy distill \
      --student-init teacher --tau 4 --w-kd 1 --w-cl 1 --epochs 1 --limit "${PILOT_IMAGES:-1000}" \
      --batch-size 32 --holdout 500 --flip --seed 0 --workers 1 --cache "${CACHE:-$root/cache}" --log-every 50 \
      --out "$root/$name" "${options[@]}" > "$root/$name.log" 2>&1
  done
done
