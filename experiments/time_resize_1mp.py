"""Resize time for one 1-MP RGB photo (1024x1024 PIL image): learned_resize vs Pillow bicubic.

    python experiments/time_resize_1mp.py [--repeats 15]

Prints the median of --repeats runs after 2 warm-ups, for ratios 2 and 4, with the registry default
E (the fast `area` layout: frozen-mobilenet_v2-r2-v3 at ratio 2, area-identity-r4-v0 at ratio 4), the
paper-layout E's (bicubic-identity, ThumbNet v1) and the `unshuffle` E's; torch uses all cores.
"""

import argparse
import statistics
import time

import torch
from PIL import Image
from skimage import data

from downscale import learned_resize
from downscale.pretrained import default_weights

parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=15)
args = parser.parse_args()
photo = Image.fromarray(data.astronaut()).resize((1024, 1024), Image.Resampling.LANCZOS)


def median_ms(fn) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


print(f"1024x1024 RGB PIL image, torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
for ratio in (2, 4):
    size = (1024 // ratio, 1024 // ratio)
    pil = median_ms(lambda: photo.resize(size, Image.Resampling.BICUBIC))
    print(f"ratio {ratio}: Pillow bicubic {pil:.1f} ms")
    candidates = [None, f"bicubic-identity-r{ratio}-v0", f"thumbnet-mobilenet_v2-imagenette-r{ratio}-v1"]
    candidates += ["frozen-mobilenet_v2-r2-v2"] if ratio == 2 else []
    for weights in candidates:
        label = weights or f"default ({default_weights(ratio)})"
        ms = median_ms(lambda: learned_resize(photo, ratio, weights=weights))
        print(f"  learned_resize {label:45s} {ms:7.1f} ms  {ms / pil:5.1f}x Pillow")
