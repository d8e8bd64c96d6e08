"""Process-wide memory settings for the compute commands (training, evaluation, timing)."""

from __future__ import annotations

import ctypes

__all__ = ["keep_freed_memory"]


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of returning it to the system.

    PyTorch on CPU frees and re-allocates activation buffers of tens of MB at every step. By default
    glibc serves each from fresh pages (mmap, or a heap it trimmed), so every 4 KB is a page fault the
    kernel must zero: a third to a half of a MobileNetV2 forward at batch 64. With both thresholds at
    1 GiB the process keeps its peak heap and reuses it. Process-wide, so only the compute commands
    call it (not ``convert``, whose memory bound matters more). Returns False where it cannot (not glibc).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no mallopt (macOS), no C library by that name (Windows)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, 1 << 30))
