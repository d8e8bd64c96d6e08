"""Compute cost: FLOPs counted with ``torch.utils.flop_counter`` and wall-clock latency (median of repeats)."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from ..dynamic import count_flops as flops  # the one FLOPs counter (the core's)

__all__ = ["flops", "median_time"]


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, sync: bool = False) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` untimed runs.

    ``sync=True`` waits for queued CUDA work before reading the clock.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times = []
    for i in range(warmup + repeats):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)
