"""Accuracy statistics: a Wilson confidence interval for top-1 and an exact McNemar test on paired results."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for a proportion ``correct / n`` (95% by default).

    Stays inside [0, 1] and is sensible at 0% and 100%, unlike the normal approximation.
    Raises ValueError if ``n <= 0`` or ``correct`` is not in ``0..n``.
    """
    if n <= 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n > 0, got correct={correct}, n={n}")
    p = correct / n
    z2 = z * z
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def discordant(a: list[bool], b: list[bool]) -> tuple[int, int]:
    """``(only_a, only_b)``: how many items ``a`` got right and ``b`` wrong, and the reverse."""
    if len(a) != len(b):
        raise ValueError(f"paired results must have equal length, got {len(a)} and {len(b)}")
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    return only_a, only_b


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts of two paired classifiers.

    Under the null each discordant pair favours either side with probability 1/2, so
    ``p = min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])``; ``p = 1`` when there are no
    discordant pairs. Exact integer arithmetic, so it does not underflow for large counts.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class Paired:
    """A method against another on the same images: ``delta`` (its top-1 minus the other's), the
    discordant counts ``method_only`` (images only the method gets right) and ``other_only``, and the
    exact two-sided McNemar ``p_mcnemar`` on them. The names of these statistics in every report."""

    delta: float
    method_only: int
    other_only: int
    p_mcnemar: float


def paired(ok, other) -> Paired:
    """``Paired`` statistics of two equal-length boolean sequences of per-image outcomes.

    Example:
        >>> paired([True, True, False, True], [True, False, False, False])
        Paired(delta=0.5, method_only=2, other_only=0, p_mcnemar=0.5)
    """
    ok, other = np.asarray(ok, dtype=bool), np.asarray(other, dtype=bool)
    only_ok, only_other = discordant(ok.tolist(), other.tolist())
    return Paired(float(ok.mean() - other.mean()), only_ok, only_other, mcnemar_exact(only_ok, only_other))
