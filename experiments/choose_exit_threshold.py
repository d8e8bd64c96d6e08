"""Choose the early-exit threshold on training data: the DRNet run's 500 held-out training images.

    python experiments/choose_exit_threshold.py [--student drnet-mobilenet_v2-imagenette-v2-student]
        [--data .../imagenette-224/train] [--holdout 500] [--seed 0] [--tolerance 0.25]

Classifies the held-out images (the same seeded split `downscale train-dynamic` held out) at every ratio,
prints the early-exit 112 -> 224 px rows for a grid of thresholds, and picks the smallest threshold whose
held-out top-1 is within --tolerance points of fixed 224 px on the same images. The val split is only for
the final report (`downscale eval-dynamic --early-exit T`).
"""

import os
from pathlib import Path

import click
import torch

from downscale.classifiers import class_indices
from downscale.drnet.train import per_ratio_outcomes
from downscale.dynamic import load_multires
from downscale.evaluation.dynamic import early_exit_rows
from downscale.training.data import IndexedImageFolder, split_holdout

DATA = Path(os.environ.get("DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)


@click.command()
@click.option("--student", default="drnet-mobilenet_v2-imagenette-v2-student", show_default=True)
@click.option("--data", default=DATA / "imagenette-224" / "train", show_default=True, type=click.Path(path_type=Path),
              help="[env DATA: the datasets folder, default ../shared/data beside the repository]")
@click.option("--holdout", default=500, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--tolerance", default=0.25, show_default=True, help="points of top-1 below fixed 224 allowed")
def choose(student, data, holdout, seed, tolerance):
    model = load_multires(student).eval()
    dataset = IndexedImageFolder(data, 224)
    _, held = split_holdout(len(dataset), holdout, seed)
    targets = torch.tensor(class_indices(dataset.classes, model.num_classes))
    out = per_ratio_outcomes(model, dataset, held, targets, 56, "cpu", 64, echo=lambda *a: None)
    costs = torch.tensor([float(f) for f in model.flops(224).values()])
    rows = early_exit_rows(out["correct"], out["confidence"], costs, list(GRID), permutations=1)[::2]
    full = out["correct"][:, 0].float().mean().item()
    click.echo(f"{len(held)} held-out images; fixed 224 px top-1 {100 * full:.1f}%, {costs[0] / 1e6:.0f} MFLOPs")
    for r in rows:
        click.echo(f"threshold {r['threshold']:<6g} top-1 {100 * r['top1']:.1f}%  {r['mean_flops'] / 1e6:.0f} MFLOPs "
                   f"({100 * (r['mean_flops'] / costs[0] - 1):+.1f}%)")
    ok = [r for r in rows if 100 * (full - r["top1"]) <= tolerance + 1e-9]
    click.echo(f"chosen: {ok[0]['threshold']:g}" if ok else "no threshold within the tolerance")


if __name__ == "__main__":
    choose()
