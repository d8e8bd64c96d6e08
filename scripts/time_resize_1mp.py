"""Resize time for one 1-MP RGB photo (1024x1024 PIL image): learned_resize vs Pillow bicubic.

    python scripts/time_resize_1mp.py [--repeats 15]

Prints the median of --repeats runs after 2 warm-ups, for ratios 2 and 4, with the registry default
E (bicubic-identity: the paper layout, the same compute as a trained E of that layout), the ThumbNet
v1 E's and the fast `unshuffle` E; torch uses all cores.
"""

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image
from skimage import data

from downscale import learned_resize

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
    candidates = [None, f"thumbnet-mobilenet_v2-imagenette-r{ratio}-v1"] + (["frozen-mobilenet_v2-r2-v1"] if ratio == 2 else [])
    for weights in candidates:
        label = weights or "default (bicubic-identity, paper layout)"
        ms = median_ms(lambda: learned_resize(photo, ratio, weights=weights))
        print(f"  learned_resize {label:45s} {ms:7.1f} ms  {ms / pil:5.1f}x Pillow")
