"""Training speed of `downscale train` on this machine: images/s of one epoch for each thumbnail-student
recipe, read from the run's own record (``history[0]["images_per_s"]``, the steps alone: the teacher cache and
the fixed thumbnails are computed before the first step and reused).

    python experiments/time_training.py --data TRAIN_FOLDER --teacher-weights W.pt --out runs/time-training

Each arm: the first --limit images of the folder (after no holdout), one epoch, batch 32, seed 0, flips,
torch threads = cores. Arms: ratio 2 on fixed bicubic thumbnails (112 px), ratio 4 on fixed area
thumbnails (56 px) and the same with the student enlarging them 1.5x (84 px), and E learned jointly
(area layout, width 8) at ratio 2 and 4. Prints a Markdown table, with seconds per 10k images.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
import torch

from downscale.thumbnet.config import TrainConfig
from downscale.thumbnet.train import train

JOINT = {"downscaler_arch": "area", "downscaler_width": 8, "w_mm": 20}
ARMS = {  # folder: (label, ratio, downscaler, extra options)
    "r2-bicubic": ("ratio 2, fixed bicubic, S at 112 px", 2, "bicubic", {}),
    "r4-area": ("ratio 4, fixed area, S at 56 px", 4, "area", {}),
    "r4-area-s80": ("ratio 4, fixed area, S enlarges to 80 px", 4, "area", {"student_upscale": 1.43}),
    "r2-joint": ("ratio 2, E learned with S (112 px)", 2, "learned", JOINT),
    "r4-joint": ("ratio 4, E learned with S (56 px)", 4, "learned", JOINT),
}


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--teacher-weights", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--limit", default=640, show_default=True)
def main(data: str, teacher_weights: str, out: str, limit: int):
    out = Path(out)
    rows = []
    for folder, (label, ratio, downscaler, extra) in ARMS.items():
        run = out / folder
        shutil.rmtree(run, ignore_errors=True)
        cfg = TrainConfig(data=data, teacher_weights=teacher_weights, out=str(run), normalize="minus1to1",
                          ratio=ratio, downscaler=downscaler, limit=limit, holdout=0, epochs=1, batch_size=32,
                          seed=0, workers=1, cache=str(out / "cache"), log_every=1000, **extra)
        record = train(cfg, echo=lambda *a: None)
        speed = record["history"][0]["images_per_s"]
        rows.append(f"| {label} | {speed:.1f} | {1e4 / speed / 60:.1f} |")
        click.echo(rows[-1], err=True)
    click.echo(f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
               f"{limit} images, batch 32\n")
    click.echo("| recipe | train img/s | min per 10k images per epoch |\n|---|---:|---:|")
    click.echo("\n".join(rows))


if __name__ == "__main__":
    main()
