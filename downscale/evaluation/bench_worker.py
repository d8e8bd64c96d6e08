"""Peak memory and time of one large-image resize, run by ``downscale bench --large-mp`` in a fresh process.

``python -m downscale.evaluation.bench_worker SIDE RATIO UNTILED OUT.npy`` resizes a seeded random
uint8 RGB image of SIDE x SIDE pixels by RATIO with the registry's default E: through
``learned_resize`` (tiled) when UNTILED is 0, in one piece when it is 1. It saves the uint8 output to
OUT.npy and prints one JSON line: ``seconds``, ``input_mb`` and ``extra_peak_mb`` (peak resident
memory above what the process held with the input and weights loaded). Linux only (/proc).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from downscale import learned_resize
from downscale.pretrained import default_weights, load_downscaler
from downscale.resize import apply_tiled


def _mb(field: str) -> float:
    """Linux: resident (``VmRSS:``) or peak resident (``VmHWM:``) memory of this process in MB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024


def measure(side: int, ratio: int, untiled: bool, out: str) -> dict:
    img = np.random.default_rng(0).integers(0, 256, (side, 3 * side), dtype=np.uint8).reshape(side, side, 3)
    e = load_downscaler(default_weights(ratio))
    base = _mb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak to the current resident size
    start = time.perf_counter()
    if untiled:
        with torch.no_grad():
            y = apply_tiled(e, torch.from_numpy(img).permute(2, 0, 1)[None], tile=side + 1)
        y = (y.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    else:
        y = learned_resize(img, ratio, weights=e)
    seconds = time.perf_counter() - start
    peak = _mb("VmHWM:")
    np.save(out, y)
    return {"seconds": seconds, "input_mb": img.nbytes / 2**20, "extra_peak_mb": peak - base}


if __name__ == "__main__":
    side, ratio, untiled, out = sys.argv[1:5]
    print(json.dumps(measure(int(side), int(ratio), untiled == "1", out)))
