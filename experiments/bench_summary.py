"""Median and range over several `downscale bench --json` runs of the figures in the README's speed table.

    python experiments/bench_summary.py experiments/results/bench.json experiments/results/bench-2.json ...

Each input figure is already a median of --repeats timings within its run; this prints, per figure, the
median over the runs and (min–max).
"""

from __future__ import annotations

import json
import statistics
import sys

import click


def _row(rows: list[dict], **match) -> dict:
    return next(r for r in rows if all(r.get(k) == v for k, v in match.items()))


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.File())
def main(runs):
    results = [json.load(f) for f in runs]

    def show(label: str, pick, fmt: str = "{:.2f}"):
        values = [pick(r) for r in results]
        click.echo(f"{label}: {fmt.format(statistics.median(values))} "
                   f"({fmt.format(min(values))}–{fmt.format(max(values))})")

    click.echo(f"{len(results)} runs of downscale bench")
    for ratio in (2, 4):
        for method in ("learned_resize (PIL in/out)", "PIL bicubic"):
            show(f"1024² ratio {ratio} {method} ms",
                 lambda r: _row(r["resize"], size=1024, ratio=ratio, method=method)["ms"], "{:.1f}")
        show(f"1024² ratio {ratio} learned / PIL time",
             lambda r: _row(r["resize"], size=1024, ratio=ratio, method="learned_resize (PIL in/out)")["vs_pil_bicubic"])
        for method in ("learned_resize, uint8 batch tensor", "PIL bicubic, one image at a time"):
            show(f"batch ratio {ratio} {method} img/s",
                 lambda r: _row(r["batch"], ratio=ratio, method=method)["images_per_s"], "{:.0f}")
        show(f"batch ratio {ratio} learned / PIL time",
             lambda r: _row(r["batch"], ratio=ratio, method="learned_resize, uint8 batch tensor")["vs_pil_bicubic"])
    for method, old in (("learned", "learned"), ("pil_bicubic", "bicubic")):  # (runs before the rename say bicubic)
        def row(r, method=method, old=old):
            return next(x for x in r["convert"] if x["method"] in (method, old))

        show(f"convert {method} img/s", lambda r: row(r)["images_per_s"], "{:.1f}")
        show(f"convert {method} img/s after start-up", lambda r: row(r)["images_per_s_after_startup"], "{:.1f}")
        show(f"convert {method} start-up s", lambda r: row(r)["startup_seconds"])
    for row in sorted((r for r in results[0]["classify"] if r["device"] == "cpu"), key=lambda r: r["batch"]):
        key = {"device": "cpu", "batch": row["batch"], "pipeline": row["pipeline"]}
        # the full-size classifier's own rate; the pipelines' speed-up against it
        field, unit, fmt = ("images_per_s", "img/s", "{:.1f}") if row["speedup"] == 1.0 else ("speedup", "speed-up", "{:.2f}")
        show(f"classify batch {row['batch']} {row['pipeline']} {unit}", lambda r: _row(r["classify"], **key)[field], fmt)
    for mode in ("tiled", "untiled"):
        show(f"large {mode} s", lambda r: r["large"][mode]["seconds"])
        show(f"large {mode} MB above input", lambda r: r["large"][mode]["extra_peak_mb"], "{:.0f}")
    show("large tiled vs untiled max diff (of 255)", lambda r: r["large"]["max_diff_levels"], "{:.0f}")


if __name__ == "__main__":
    sys.exit(main())
