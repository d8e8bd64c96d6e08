"""What `downscale convert --method pil_bicubic --draft` (the default) costs in fidelity and gains in speed.

    python experiments/time_draft.py FOLDER [--ratios 4,8,16] [--jobs 2] [--rounds 3]

1. Fidelity, per JPEG in FOLDER (and its sub-folders) and ratio: the thumbnail from a reduced decode (``read_image_reduced``,
   as `convert` does it) against Pillow's bicubic from the full decode; mean and max absolute difference
   (of 255) and PSNR (scikit-image) over the photos decoded reduced (the others, whose sides no scale
   divides, are decoded in full: identical).
2. Speed in this process (one core): decode + resize per photo, full vs reduced, median of --rounds.
3. Speed of the CLI: `downscale convert FOLDER --method pil_bicubic --ratio R --jobs J` with --draft and
   --no-draft (and -r), as real subprocesses, alternating, --rounds each; the rate after start-up it reports.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from downscale.convert import DRAFT_GAP, Options, thumbnail
from downscale.evaluation.bench import _time_convert
from downscale.images import read_image, read_image_reduced


def _bicubic(path: Path, ratio: int, most: int) -> tuple[np.ndarray, int]:
    """What `convert --method pil_bicubic` writes (before encoding) when decoding at up to 1/most; and the scale."""
    img, scale = read_image_reduced(path, most)
    return np.asarray(thumbnail(img, Options(ratio=ratio, method="pil_bicubic"), scale)), scale


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ratios", default="4,8,16", show_default=True)
@click.option("--jobs", default=2, show_default=True)
@click.option("--rounds", default=3, show_default=True)
def main(folder: Path, ratios: str, jobs: int, rounds: int):
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    sizes = sorted({read_image(p).size for p in files})
    click.echo(f"{len(files)} JPEGs from {folder} ({len(sizes)} distinct sizes), draft keeps >= {DRAFT_GAP}x the "
               f"output size, median of {rounds} rounds")
    click.echo("| ratio | photos decoded reduced | their mean |diff| (of 255) | max |diff| | PSNR min / median (dB) | "
               "ms per photo, full | ms, draft | CLI img/s, --no-draft | CLI img/s, --draft |")
    click.echo("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ratio in map(int, ratios.split(",")):
        most = ratio // DRAFT_GAP
        diffs, psnrs, reduced = [], [], 0
        for path in files:
            draft, scale = _bicubic(path, ratio, most)
            if scale == 1:
                continue
            reduced += 1
            full, _ = _bicubic(path, ratio, 1)
            diffs.append(np.abs(full.astype(int) - draft))
            psnrs.append(peak_signal_noise_ratio(full, draft) if diffs[-1].any() else float("inf"))
        timings = {}
        for name, m in (("full", 1), ("draft", most)):
            runs = []
            for _ in range(rounds):
                tic = time.perf_counter()
                for path in files:
                    _bicubic(path, ratio, m)
                runs.append(1e3 * (time.perf_counter() - tic) / len(files))
            timings[name] = statistics.median(runs)
        cli = {"--no-draft": [], "--draft": []}
        for _ in range(rounds):
            for flag, rates in cli.items():
                rates.append(len(files) / _time_convert(str(folder), ratio, jobs, "pil_bicubic", flag, "-r")[1])
        mean = float(np.mean([d.mean() for d in diffs]))
        click.echo(f"| {ratio} | {reduced}/{len(files)} | {mean:.2f} | {max(int(d.max()) for d in diffs)} | "
                   f"{min(psnrs):.1f} / {statistics.median(psnrs):.1f} | {timings['full']:.2f} | "
                   f"{timings['draft']:.2f} | {statistics.median(cli['--no-draft']):.1f} | "
                   f"{statistics.median(cli['--draft']):.1f} |")


if __name__ == "__main__":
    sys.exit(main())
