"""Copy a seeded sample of N images per class of an ImageFolder into a new folder (real copies: small
enough to carry to a GPU machine). Usage: python experiments/make_train_subset.py SRC DST [N] [SEED]
The train-on-thumbnails-from-scratch runs used: ../shared/data/imagenette-224/train runs/gpu-data/train 320 0"""

import random
import shutil
import sys
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 320
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
rng, total = random.Random(seed), 0
for cls in sorted(p for p in src.iterdir() if p.is_dir()):
    (dst / cls.name).mkdir(parents=True, exist_ok=True)
    for f in rng.sample(sorted(cls.iterdir()), per_class):
        shutil.copy(f, dst / cls.name / f.name)
        total += f.stat().st_size
print(f"{per_class} images x {len(list(dst.iterdir()))} classes, {total / 1e6:.1f} MB -> {dst}")
