"""Compute cost: FLOPs counted with ``torch.utils.flop_counter`` and wall-clock latency (median of repeats)."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def flops(fn: Callable[[torch.Tensor], object], example: torch.Tensor) -> int:
    """FLOPs of ``fn(example)`` as counted by FlopCounterMode (convolutions and matmuls, 2 per MAC).

    Interpolation, pooling and elementwise ops are not counted, so a classical resize counts 0.
    """
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn(example)
    return int(counter.get_total_flops())


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
