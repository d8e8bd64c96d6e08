import pytest


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Tiny tensors: one thread avoids OpenMP barrier stalls on a busy shared CPU (10-100x here)."""
