"""Train your own downscaler on an ImageFolder, then use it like the shipped one.

    python examples/train_your_own.py --data imagenette-224/train \
        --teacher-weights mobilenet_v2_1001.pt --out my_run --ratio 4 --epochs 2

Runs ``downscale train`` (a teacher classifier distils into a student fed E's thumbnails; E and the
student are trained together), prints the model card it wrote, then loads the new E from
``OUT/downscaler.pt`` and shrinks a scikit-image photo with it, next to bicubic.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio

from downscale import learned_resize, load_downscaler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="ImageFolder with ImageNet wnid class folders")
    p.add_argument("--teacher", default="mobilenet_v2")
    p.add_argument("--teacher-weights", required=True)
    p.add_argument("--normalize", default="minus1to1", choices=["imagenet", "minus1to1"])
    p.add_argument("--out", required=True, help="new run folder")
    p.add_argument("--ratio", type=int, default=4, choices=[2, 4])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int, help="train on only this many images")
    p.add_argument("--holdout", type=int, default=500, help="images held out for validation")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    command = [sys.executable, "-m", "downscale", "train", "--data", args.data, "--teacher", args.teacher,
               "--teacher-weights", args.teacher_weights, "--normalize", args.normalize, "--ratio", str(args.ratio),
               "--out", args.out, "--epochs", str(args.epochs), "--holdout", str(args.holdout),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)

    out = Path(args.out)
    print("\n--- card.md ---\n" + (out / "card.md").read_text()[:1500])
    downscaler = load_downscaler(out / "downscaler.pt")
    photo = Image.fromarray(skdata.astronaut())
    thumb = learned_resize(photo, ratio=args.ratio, weights=downscaler)
    bicubic = photo.resize(thumb.size, Image.Resampling.BICUBIC)
    psnr = peak_signal_noise_ratio(np.asarray(bicubic), np.asarray(thumb), data_range=255)
    print(f"your E ({out / 'downscaler.pt'}): astronaut {photo.size} -> {thumb.size}; "
          f"PSNR vs Pillow bicubic {psnr:.1f} dB (an E that moved away from bicubic scores lower)")
    thumb.save(out / "astronaut_thumbnail.png")
    print(f"wrote {out / 'astronaut_thumbnail.png'}")


if __name__ == "__main__":
    main()
