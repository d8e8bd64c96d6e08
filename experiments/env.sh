# Sourced by the experiment scripts: go to the repository root, activate .venv if there is one, and
# name the inputs. Each can be set in the environment instead; the defaults assume the shared data
# folder beside the repository (../shared from the repository root).
#   SHARED   the shared data folder                                   [../shared]
#   DATA     the datasets (imagenette-224/, imagenet-sample-1000/)     [$SHARED/data]
#   TEACHER  the frozen MobileNetV2's weights                          [$SHARED/models/mobilenet_v2_imagenet/mobilenet_v2_1001.pt]
#   MIXED    imagenette-224/train + imagenet-sample-1000, 1000 wnid folders (experiments/make_folders.sh) [runs/mixed]
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
SHARED=${SHARED:-../shared}
DATA=${DATA:-$SHARED/data}
TEACHER=${TEACHER:-$SHARED/models/mobilenet_v2_imagenet/mobilenet_v2_1001.pt}
MIXED=${MIXED:-runs/mixed}
