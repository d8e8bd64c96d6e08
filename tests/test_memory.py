import platform
import subprocess
import sys

import pytest

_PAGE_FAULTS = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from downscale.memory import keep_freed_memory
    assert keep_freed_memory()
faults = []
for _ in range(20):  # what a training step does: allocate, touch and free a large activation
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(16 << 20).fill_(1.0)  # 64 MB
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[10:]))  # after the heap has settled (the first few grow it)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_keep_freed_memory_stops_refaulting_freed_buffers():
    faults = {mode: int(subprocess.run([sys.executable, "-c", _PAGE_FAULTS, mode], capture_output=True, text=True,
                                       check=True).stdout) for mode in ("default", "keep")}
    assert faults["default"] > 10 * (64 << 20) // 4096 // 2  # about a fault per page, every time
    assert faults["keep"] < faults["default"] / 20
