"""How close `downscale convert --method pil_bicubic` comes to the machine's ceiling: the same folder through a bare
Pillow loop (decode, resize by 2 with BICUBIC, encode JPEG q90 to memory) in N processes, against the CLI
(as a real subprocess; its own reported conversion rate and the wall-clock rate), alternating, R rounds.

    python experiments/time_bicubic_ceiling.py FOLDER [--jobs 2] [--rounds 5]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import click
from PIL import Image

from downscale.evaluation.bench import _time_convert


def _bare(path: Path) -> int:
    with Image.open(path) as img:
        img.load()
        thumb = img.resize((img.width // 2, img.height // 2), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=90)
    return buf.tell()


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--jobs", default=2, show_default=True)
@click.option("--rounds", default=5, show_default=True)
def main(folder: Path, jobs: int, rounds: int):
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    bare, cli_own, cli_wall = [], [], []
    with Pool(jobs) as pool:
        pool.map(_bare, files[:jobs])  # workers started and Pillow imported before timing
        for _ in range(rounds):
            tic = time.perf_counter()
            pool.map(_bare, files, chunksize=8)
            bare.append(len(files) / (time.perf_counter() - tic))
            wall, converting = _time_convert(str(folder), 2, jobs, "pil_bicubic")  # `downscale convert` as a subprocess
            cli_wall.append(len(files) / wall)
            cli_own.append(len(files) / converting)
    med = statistics.median
    click.echo(f"{len(files)} JPEGs from {folder}, ratio 2, --jobs {jobs}, median of {rounds} alternating rounds")
    click.echo(f"bare Pillow loop, {jobs} processes (already started): {med(bare):.1f} img/s  {[round(v, 1) for v in bare]}")
    click.echo(f"downscale convert --method pil_bicubic, its reported rate: {med(cli_own):.1f} img/s  "
               f"{[round(v, 1) for v in cli_own]}")
    click.echo(f"downscale convert --method pil_bicubic, wall clock incl. start-up: {med(cli_wall):.1f} img/s  "
               f"{[round(v, 1) for v in cli_wall]}")


if __name__ == "__main__":
    sys.exit(main())
