"""Quick start: shrink a photo with the learned downscaler, next to Pillow's bicubic.

    python examples/quick_start.py [--ratio 4] [--out quick_start_out]

Prints which weights ran, the sizes, and how far the learned thumbnail is from the bicubic one
(PSNR/SSIM); writes both thumbnails as PNG so you can look at them.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from downscale import learned_resize
from downscale.pretrained import default_weights, list_pretrained


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=int, default=4, choices=[2, 4], help="factor each side is divided by")
    parser.add_argument("--out", default="quick_start_out", help="folder for the thumbnails")
    args = parser.parse_args()

    photo = Image.fromarray(data.astronaut())  # 512x512 RGB, ships with scikit-image
    thumb = learned_resize(photo, ratio=args.ratio)  # PIL in, PIL out
    bicubic = photo.resize(thumb.size, Image.Resampling.BICUBIC)

    name = default_weights(args.ratio)
    meta = list_pretrained()[name]
    print(f"weights: {name} ({meta.get('summary', '')})")
    print(f"input {photo.size[0]}x{photo.size[1]} {photo.mode} -> learned {thumb.size[0]}x{thumb.size[1]} {thumb.mode}")
    a, b = np.asarray(thumb), np.asarray(bicubic)
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(b, a, data_range=255)
    print(f"learned vs Pillow bicubic: PSNR {psnr:.1f} dB, SSIM {structural_similarity(b, a, channel_axis=-1):.3f}")
    print(f"mean RGB: learned {a.reshape(-1, 3).mean(0).round(1)}, bicubic {b.reshape(-1, 3).mean(0).round(1)}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    thumb.save(out / f"astronaut_learned_r{args.ratio}.png")
    bicubic.save(out / f"astronaut_bicubic_r{args.ratio}.png")
    print(f"wrote {out}/astronaut_learned_r{args.ratio}.png and astronaut_bicubic_r{args.ratio}.png")


if __name__ == "__main__":
    main()
