"""Where ``downscale convert`` runs its tasks: worker processes on this machine, or a Ray cluster.

Both split the tasks into the same chunks of neighbouring files and convert each chunk with
``convert_chunk`` (``convert.convert_batch``, or ``jpeg.convert_jpegs`` on a GPU), so skip-existing,
atomic writes and error reporting are the same everywhere: one ``convert.Result`` per task, never an
exception for a bad file.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from .convert import ConvertSummary, Options, Result, Task, convert_batch, find_images, plan, preview
from .images import remove_temporaries

__all__ = ["convert_files", "on_device", "convert_chunk", "load_learned", "run_local", "run_ray", "RayConverter"]

# Files per chunk: many small files share a call of E, large photos stay fine-grained enough to balance
# the workers; on a GPU, chunks are batches of the decoder, E and the encoder, so larger.
CHUNK_FILES, CHUNK_BYTES = 16, 2 << 20
DEVICE_CHUNK_FILES, DEVICE_CHUNK_BYTES = 64, 64 << 20


def convert_files(inputs: Iterable[str | os.PathLike], outdir: str | os.PathLike, opts: Options = Options(), *,
                  recursive: bool = False, shard: tuple[int, int] = (0, 1), engine: str = "local", jobs: int = 1,
                  ray_address: str | None = None, dry_run: bool = False,
                  on_planned: Callable[[ConvertSummary], None] | None = None,
                  on_result: Callable[[Result], None] | None = None) -> ConvertSummary:
    """Convert image files and folders into ``outdir`` (``downscale convert``): find and plan the
    files (``find_images``, ``plan``), load the weights, then run ``engine`` ("local" with ``jobs``
    processes, or "ray" at ``ray_address``); with ``dry_run``, decide each file's outcome
    (``preview``) and write nothing. Returns the ConvertSummary.

    ``on_planned(summary)`` is called once the files are planned, before anything is loaded or
    written (``summary.results`` then holds the files refused while planning); ``on_result`` with
    the Result of each planned file, as it comes. A bad file is a failed Result,
    never an exception. Raises what ``load_learned`` raises for unusable weights or device, OSError
    if ``outdir`` cannot be created, what ``run_ray`` raises (ImportError, ValueError), and
    RuntimeError if the engine itself fails.
    """
    began = time.perf_counter()
    outdir = Path(outdir)
    not_tried: list[Path] = []
    files, refused = find_images([Path(p) for p in inputs], outdir, recursive, not_tried)
    tasks, unplanned = plan(files, outdir, opts.fmt, shard)
    summary = ConvertSummary(outdir, engine, dry_run, len(tasks), refused + unplanned, not_tried)
    if on_planned is not None:
        on_planned(summary)
    if tasks and opts.method == "learned":  # (a Ray cluster's GPUs are checked by its workers)
        load_learned(replace(opts, device="cpu") if engine == "ray" else opts)
    if tasks and not dry_run:
        outdir.mkdir(parents=True, exist_ok=True)
    order = {(t.source, t.dest): i for i, t in enumerate(tasks)}
    done: list[Result] = []
    start = time.perf_counter()
    summary.setup_s = start - began
    if dry_run:
        results: Iterable[Result] = (preview(t, opts)._replace(source=t.source, dest=t.dest) for t in tasks)
    elif engine == "ray":
        results = run_ray(tasks, opts, ray_address)
    elif engine == "local":
        results = run_local(tasks, opts, jobs)
    else:
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    for result in results:
        if not done:
            summary.startup_s = time.perf_counter() - start
        done.append(result)
        if on_result is not None:
            on_result(result)
    summary.seconds = time.perf_counter() - start
    summary.results += sorted(done, key=lambda r: order.get((r.source, r.dest), len(order)))  # (Ray: as done)
    chunks = chunks_of(tasks, opts)
    if done and len(chunks) > 1 and not dry_run:
        summary.after_startup_files = len(tasks) - len(chunks[0])
        summary.after_startup_s = summary.seconds - summary.startup_s
    return summary


def on_device(opts: Options) -> bool:
    """Whether ``opts`` runs the learned downscaler off the CPU (a GPU): JPEGs then take ``jpeg.convert_jpegs``."""
    return opts.device.split(":")[0] != "cpu"


def convert_chunk(tasks: list[Task], opts: Options) -> list[Result]:
    """One Result per task, in order, with its source and dest; an unexpected error fails the chunk's
    files, never the job."""
    try:
        if on_device(opts):
            from .jpeg import convert_jpegs

            results = convert_jpegs(tasks, opts)
        else:
            results = convert_batch(tasks, opts)
    except Exception as exc:  # a bug or an exhausted resource, not a bad file (convert_batch reports those)
        results = [Result("failed", f"{task.source}: not converted: {type(exc).__name__}: {exc}") for task in tasks]
    return [r._replace(source=task.source, dest=task.dest) for task, r in zip(tasks, results)]


def load_learned(opts: Options) -> None:
    """Load E (and for ``ratio="auto"`` the ratio predictor) onto ``opts.device`` by resizing a tiny
    image, so that workers pay it once, up front. Raises what ``learned_resize`` raises (WeightsError,
    a ratio the weights cannot do, an unknown or absent device)."""
    import torch

    from .resize import learned_resize

    # the smallest image the ratio takes, at most 8 x 8: a larger ratio cannot refuse weights (ratio <= 4)
    side = 4 if opts.ratio == "auto" else min(math.ceil(opts.ratio), 8)
    ratio = opts.ratio if opts.ratio == "auto" else min(opts.ratio, side)
    learned_resize(torch.zeros(3, side, side, dtype=torch.uint8), ratio, weights=opts.weights, device=opts.device)


def _init_worker(threads: int):
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch when (and if) a worker imports it
    if "torch" in sys.modules:  # forked from a parent that had imported it
        sys.modules["torch"].set_num_threads(threads)


def _worker(conn, threads: int) -> None:
    """A worker process: converts each ``(index, chunk, opts)`` it receives and sends back ``(index,
    results)``, until it receives None. Ctrl-C is the parent's to handle (the chunk at hand is finished)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(threads)
    try:
        while (job := conn.recv()) is not None:
            index, chunk, opts = job
            conn.send((index, convert_chunk(chunk, opts)))
    except (EOFError, BrokenPipeError):  # the parent is gone
        pass


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
    """Convert in this process (``jobs=1``) or in ``jobs`` worker processes sharing the cores, chunk by
    chunk (``convert_chunk``); results in the order of ``tasks``."""
    chunks = chunks_of(tasks, opts)
    if jobs == 1 or len(chunks) < 2:
        for chunk in chunks:
            yield from convert_chunk(chunk, opts)
        return
    jobs = min(jobs, len(chunks))  # never more workers (each may import torch) than chunks of work
    yield from _run_workers(chunks, opts, jobs)


def _start_worker(context, threads: int):
    """``(connection, process)`` of a new worker process (``_worker``)."""
    conn, child = context.Pipe()
    process = context.Process(target=_worker, args=(child, threads), daemon=True)
    process.start()
    child.close()
    return conn, process


def _run_workers(chunks: list[list[Task]], opts: Options, jobs: int) -> Iterator[Result]:
    """``convert_chunk`` of each chunk in ``jobs`` worker processes, one chunk at a time each; results in
    the order of the chunks. A worker that dies (killed, out of memory) fails the files of its chunk
    only, naming each; its temporary files are deleted and a fresh worker takes the next chunk."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context(_start_method())
    todo = list(enumerate(chunks))[::-1]  # popped from the end: in order
    busy: dict = {}  # connection -> (process, index of its chunk or None when idle)
    done: dict[int, list[Result]] = {}

    def give(conn, process) -> None:
        index = todo.pop()[0] if todo else None
        busy[conn] = (process, index)
        if index is not None:
            try:
                conn.send((index, chunks[index], opts))
            except OSError:  # it died before taking the chunk: wait() sees it closed
                pass

    try:
        for _ in range(jobs):
            give(*_start_worker(context, threads))
        for index in range(len(chunks)):
            while index not in done:
                for conn in multiprocessing.connection.wait([c for c, (_, i) in busy.items() if i is not None]):
                    process, mine = busy.pop(conn)
                    try:
                        got, results = conn.recv()
                    except (EOFError, OSError):  # the worker died
                        conn.close()
                        process.join()
                        done[mine] = _lost(chunks[mine], process)
                        if todo:
                            give(*_start_worker(context, threads))
                        continue
                    done[got] = results
                    give(conn, process)
            yield from done.pop(index)
    finally:
        for conn, (process, _) in busy.items():
            try:
                conn.send(None)  # after the chunk at hand, if any: it ends written, not half-written
            except OSError:
                pass
        for conn, (process, _) in busy.items():
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
            conn.close()


def _lost(chunk: list[Task], process) -> list[Result]:
    """The failed Results of a chunk whose worker ``process`` died; deletes what it left half-written."""
    code = process.exitcode
    killed = code is not None and code < 0 and -code in signal.valid_signals()
    how = f"killed by {signal.Signals(-code).name}" if killed else f"exit status {code}"
    for task in chunk:
        remove_temporaries(task.dest, process.pid)
    return [Result("failed", f"{task.source}: lost: the worker process converting it (in a chunk of "
                             f"{len(chunk)} file(s)) died ({how}; out of memory?); run again to convert what is "
                             "missing (what was written is complete, and skipped)", source=task.source, dest=task.dest)
            for task in chunk]


def chunks_of(tasks: list[Task], opts: Options) -> list[list[Task]]:
    """The chunks both engines convert ``tasks`` in (larger on a GPU)."""
    return _chunks(tasks, *((DEVICE_CHUNK_FILES, DEVICE_CHUNK_BYTES) if on_device(opts) else ()))


def _chunks(tasks: list[Task], most: int = CHUNK_FILES, budget: int = CHUNK_BYTES) -> list[list[Task]]:
    """Consecutive tasks, at most ``most`` files or about ``budget`` bytes of them per chunk."""
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


class RayConverter:
    """The Ray Data worker (a callable class, so one per actor): loads E once, then converts chunks.

    ``__call__`` takes a batch ``{"sources": [[path, ...], ...], "dests": [[path, ...], ...]}`` (one row
    per chunk, paths as ``os.fsencode`` bytes) and returns ``{"status": [...], "message": [...], "ratio":
    [...], "warning": [...], "source": [...], "dest": [...]}``, one row per file (messages and warnings
    as bytes, ``_encode``, an empty warning for none; ratio NaN where none was used; paths as given). Bytes,
    because file names need not be UTF-8 and Ray's tables hold only UTF-8 text.
    """

    def __init__(self, opts: Options):
        import torch

        torch.set_num_threads(1)  # the actor holds one CPU (or one GPU, whose work is not on the CPU)
        # Ray shows an actor only the GPU it holds, as cuda:0
        self.opts = replace(opts, device="cuda") if on_device(opts) else opts
        if opts.method == "learned":
            load_learned(self.opts)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        results: list[Result] = []
        for sources, dests in zip(batch["sources"], batch["dests"]):
            results += convert_chunk([Task(Path(os.fsdecode(s)), Path(os.fsdecode(d))) for s, d in zip(sources, dests)],
                                     self.opts)
        return {"status": np.array([r.status for r in results], dtype=object),
                "message": np.array([_encode(r.message) for r in results], dtype=object),
                "ratio": np.array([math.nan if r.ratio is None else float(r.ratio) for r in results]),
                "warning": np.array([_encode(r.warning or "") for r in results], dtype=object),
                "source": np.array([os.fsencode(r.source) for r in results], dtype=object),
                "dest": np.array([os.fsencode(r.dest) for r in results], dtype=object)}


def run_ray(tasks: list[Task], opts: Options, address: str | None = None) -> Iterator[Result]:
    """Convert through Ray Data on the cluster at ``address`` (default ``$RAY_ADDRESS``, else a local
    Ray started for this run): the chunks of ``run_local`` go to a pool of ``RayConverter`` actors, one
    per CPU of the cluster (one per GPU, each holding it, when ``opts.device`` is a GPU). Every worker
    must see the input and output paths (a shared file system). Results come as chunks finish, not
    in the order of ``tasks``.

    Raises, at the call (not on iteration): ImportError with the install command if Ray is missing;
    ValueError if nothing answers at a ``host:port`` address (within ``RAY_CONNECT_TIMEOUT`` seconds,
    where Ray itself would retry for minutes), or if the cluster has no CPU (or, for a GPU device,
    no GPU); RuntimeError if Ray itself does not start (one line, its cause last).
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--engine ray needs Ray: pip install 'downscale[ray]'") from None
    if not tasks:
        return iter(())
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            _check_reachable(address)
        # Ray's own notes (token authentication, its C++ core's log lines) are not convert's output
        logging.getLogger("ray").setLevel(logging.ERROR)
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # Ray raises plain Exceptions (a node that timed out during start-up, ...)
            cause = ([line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__])[-1]
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise RuntimeError(f"could not start {where}: {cause} (the raylet's log, in Ray's temporary folder "
                               "under session_latest/logs, says more; on a busy machine, retry when it is less loaded)") from exc
    gpu = on_device(opts)
    resource = "GPU" if gpu else "CPU"
    actors = int(ray.cluster_resources().get(resource, 0))
    if actors < 1:
        raise ValueError(f"the Ray cluster has no {resource}"
                         + (f" for --device {opts.device}; use --device cpu" if gpu else ""))
    chunks = chunks_of(tasks, opts)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # `downscale convert` draws its own
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # (its notes on progress bars and timing)
    rows = [{"sources": [os.fsencode(t.source) for t in chunk], "dests": [os.fsencode(t.dest) for t in chunk]}
            for chunk in chunks]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        RayConverter, batch_size=1, batch_format="numpy", fn_constructor_args=(opts,),
        compute=ray.data.ActorPoolStrategy(size=min(actors, len(rows))),
        **({"num_gpus": 1} if gpu else {"num_cpus": 1}))
    return _ray_results(dataset)


RAY_CONNECT_TIMEOUT = 10.0  # seconds to wait for a Ray cluster's head to accept a connection


def _check_reachable(address: str) -> None:
    """ValueError naming ``address`` if it is ``[ray://]host:port`` and nothing accepts a TCP connection
    there; other forms (``auto``, ``local``) are Ray's to resolve."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ValueError(f"no Ray cluster answers at {address} (--ray-address, else $RAY_ADDRESS): "
                         f"{exc.strerror or exc}; start one there (ray start --head), or give neither for a "
                         "local Ray") from None


def _ray_results(dataset) -> Iterator[Result]:
    """The dataset's rows as Results; RuntimeError if the Ray job itself fails (a worker cannot start,
    the cluster is lost), as no file's error ever gets there."""
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for status, message, ratio, warning, source, dest in zip(
                    batch["status"], batch["message"], batch["ratio"], batch["warning"], batch["source"],
                    batch["dest"]):
                yield Result(str(status), _decode(message), None if math.isnan(ratio) else _number(ratio),
                             _decode(warning) or None, Path(os.fsdecode(bytes(source))), Path(os.fsdecode(bytes(dest))))
    except Exception as exc:  # Ray's message ends with the cause (a worker's traceback before it)
        cause = ([line.strip() for line in str(exc).splitlines() if line.strip()] or [""])[-1]
        raise RuntimeError(f"the Ray job failed: {type(exc).__name__}: {cause}") from exc


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # (names that are not UTF-8 hold surrogates)


def _decode(data: bytes) -> str:
    return bytes(data).decode("utf-8", "surrogateescape")


def _number(ratio: float) -> float | int:
    return int(ratio) if ratio.is_integer() else ratio  # as convert gives them (auto: 1, 2 or 4)
