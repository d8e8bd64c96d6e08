"""Where ``downscale convert`` runs its tasks: worker processes on this machine, or a Ray cluster.

Both yield one ``convert.Result`` (status, message, ratio) per task, in order, from ``convert.convert_batch`` /
``convert_one``, so skip-existing, atomic writes and error reporting are the same everywhere.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from .convert import Options, Result, Task, convert_batch, convert_one


def _init_worker(threads: int):
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch when (and if) a worker imports it
    if "torch" in sys.modules:  # forked from a parent that had imported it
        sys.modules["torch"].set_num_threads(threads)


def _start_method() -> str:
    """"fork" where it exists and is safe, so workers inherit the parent's imports (importing torch
    takes seconds); else "spawn". Forking is safe here because the parent has run torch only on
    tiny tensors (cli._check_learned), which never start its OpenMP thread pool, and no CUDA."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "spawn"
    return "fork"


def run_local(tasks: list[Task], opts: Options, jobs: int = 1) -> Iterator[Result]:
    """Convert in this process (``jobs=1``) or in ``jobs`` worker processes sharing the cores, in
    chunks of neighbouring files (``convert_batch`` resizes same-size small images together)."""
    chunks = _chunks(tasks)
    if jobs == 1 or len(chunks) < 2:
        for chunk in chunks:
            yield from convert_batch(chunk, opts)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        for results in pool.map(convert_batch, chunks, [opts] * len(chunks)):
            yield from results


def _chunks(tasks: list[Task], most: int = 16, budget: int = 2 << 20) -> list[list[Task]]:
    """Consecutive tasks, at most ``most`` files or about ``budget`` bytes of them per chunk: many small
    files share a call of E, while large photos stay fine-grained enough to balance the workers."""
    chunks: list[list[Task]] = []
    size = 0
    for task in tasks:
        try:
            nbytes = os.stat(task.source).st_size
        except OSError:
            nbytes = 0  # reported when converted
        if not chunks or size + nbytes > budget or len(chunks[-1]) >= most:
            chunks.append([])
            size = 0
        chunks[-1].append(task)
        size += nbytes
    return chunks


def run_ray(tasks: list[Task], opts: Options, address: str | None = None) -> Iterator[Result]:
    """Convert through Ray Data on the cluster at ``address`` (default ``$RAY_ADDRESS``, else a local
    Ray started for this run). Every worker must see the input and output paths (a shared file system).

    Raises ImportError with the install command if Ray is missing (at the call, not on iteration).
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--engine ray needs Ray: pip install 'downscale[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    if not tasks:
        return iter(())
    rows = [{"source": str(task.source), "dest": str(task.dest)} for task in tasks]
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 64)))

    def convert_row(row: dict) -> dict:
        from pathlib import Path

        return convert_one(Task(Path(row["source"]), Path(row["dest"])), opts)._asdict()

    return (Result(**row) for row in dataset.map(convert_row).iter_rows())
