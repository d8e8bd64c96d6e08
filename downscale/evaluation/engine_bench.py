"""``downscale bench --folder F --engines local,ray``: the same ``downscale convert`` job on each engine.

Each run is a real subprocess into a fresh folder, so it pays what a user pays: imports, weights, for Ray
a local cluster (or the one at ``$RAY_ADDRESS``) and its workers. Rounds alternate the engines' order
(local, ray, ray, local, ...) so that a machine whose load drifts favours neither; each figure is the
median over rounds with its range, and the ratio of each engine to the first is taken round by round.
"""

from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import click


def run_convert(folder: str, engine: str, ratio: float, jobs: int, method: str = "learned") -> dict:
    """One ``downscale convert FOLDER --engine ENGINE --json`` into a fresh folder: wall seconds, start-up
    seconds (to the first result), images per second after it, and the converted and failed counts (a
    failed file is reported, not an error here), from the summary the command prints."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "downscale", "convert", folder, "-o", out, "--ratio", f"{ratio:g}",
                   "--jobs", str(jobs), "--method", method, "--engine", engine, "--json"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
    try:
        summary = json.loads(done.stdout) if done.returncode in (0, 1) else None
    except json.JSONDecodeError:
        summary = None
    if summary is None:
        raise click.ClickException(f"{shlex.join(command)} failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    if summary["per_s_after_startup"] is None:  # all in the first chunk: nothing converted after start-up
        raise click.ClickException(f"{folder}: {summary['planned']} file(s) make one chunk, so there is no rate after "
                                   "start-up to compare; use a folder of more images")
    return {"wall_s": wall, "startup_s": summary["startup_s"], "per_s_after_startup": summary["per_s_after_startup"],
            "converted": summary["converted"], "failed": summary["failed"], "files": summary["planned"]}


def engine_bench(folder: str, engines: list[str], ratio: float, jobs: int, rounds: int,
                 method: str = "learned") -> list[dict]:
    """Per engine: median and range over ``rounds`` alternating rounds of wall seconds, start-up seconds
    and images per second after start-up; ``vs_first``: that rate over the first engine's in the same
    round (median and range); ``runs``: each round's figures."""
    if not engines or set(engines) - {"local", "ray"}:
        raise click.BadParameter(f"expected engines among local, ray, got {engines}", param_hint="--engines")
    runs: dict[str, list[dict]] = {engine: [] for engine in engines}
    for r in range(rounds):
        for engine in engines if r % 2 == 0 else engines[::-1]:
            runs[engine].append(run_convert(folder, engine, ratio, jobs, method))
    rows = []
    for engine, done in runs.items():
        row = {"engine": engine, "method": method, "ratio": ratio, "jobs": jobs, "rounds": rounds,
               "files": done[0]["files"], "converted": done[0]["converted"], "failed": done[0]["failed"]}
        if any((d["converted"], d["failed"]) != (row["converted"], row["failed"]) for d in done):
            raise click.ClickException(f"--engine {engine}: the counts differ between rounds: {done}")
        ratios = [d["per_s_after_startup"] / f["per_s_after_startup"] for d, f in zip(done, runs[engines[0]])]
        for key, values in (("wall_s", [d["wall_s"] for d in done]), ("startup_s", [d["startup_s"] for d in done]),
                            ("per_s_after_startup", [d["per_s_after_startup"] for d in done]), ("vs_first", ratios)):
            row[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        rows.append({**row, "runs": done})
    return rows


def engine_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (median, then the range over rounds)."""
    def cell(v: dict, digits: int) -> str:
        return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}-{v['max']:.{digits}f})"

    first = rows[0]["engine"]
    lines = [f"| engine | files | converted | failed | wall s | start-up s | images/s after start-up | × {first} |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['files']} | {r['converted']} | {r['failed']} | {cell(r['wall_s'], 1)} | "
                     f"{cell(r['startup_s'], 2)} | {cell(r['per_s_after_startup'], 1)} | {cell(r['vs_first'], 2)} |")
    return "\n".join(lines)
