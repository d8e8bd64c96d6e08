import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from downscale.evaluation.bench_worker import measure

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads Linux /proc memory figures")


def test_tiled_and_untiled_give_the_same_thumbnail(tmp_path):
    runs = {untiled: measure(64, 2, untiled, str(tmp_path / f"{untiled}.npy")) for untiled in (False, True)}
    a, b = (np.load(tmp_path / f"{untiled}.npy") for untiled in (False, True))
    assert a.shape == b.shape == (32, 32, 3) and a.dtype == b.dtype == np.uint8
    assert np.abs(a.astype(int) - b).max() <= 1
    assert all(r["input_mb"] == 64 * 64 * 3 / 2**20 and r["seconds"] > 0 for r in runs.values())


def test_runs_as_a_module_and_prints_one_json_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "downscale.evaluation.bench_worker", "48", "4", "1",
                           str(tmp_path / "y.npy")], capture_output=True, text=True, check=True)
    assert set(json.loads(done.stdout)) == {"seconds", "input_mb", "extra_peak_mb"}
    assert np.load(tmp_path / "y.npy").shape == (12, 12, 3)
