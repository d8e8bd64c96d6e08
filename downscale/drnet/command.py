"""``downscale train-dynamic`` and ``downscale eval-dynamic``: click commands over ``train`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..classifiers import build_classifier
from ..dynamic import load_multires, load_predictor
from ..evaluation.dynamic import evaluate_dynamic, markdown
from ..evaluation.report import write_text
from ..training.options import config_options
from .train import DynamicConfig, train_dynamic


@click.command("train-dynamic")
@config_options(DynamicConfig)
def train_dynamic_command(**options):
    """Train DRNet dynamic resolution: a multi-resolution classifier, then resolution predictors."""
    try:
        train_dynamic(DynamicConfig(**options), echo=click.echo)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command("eval-dynamic")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="ImageFolder with wnid-named class folders (e.g. imagenette-224/val).")
@click.option("--student", required=True, help="multi-resolution classifier: registry name or file.")
@click.option("--predictor", "predictors", multiple=True,
              help="resolution predictor(s): registry names or files; repeat for several targets.")
@click.option("--early-exit", "exits", multiple=True, type=click.FloatRange(0, 1),
              help="also the early-exit ladder 112 -> 224 px at this confidence threshold; repeatable.")
@click.option("--teacher-weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help="also report this teacher's fixed-224 top-1 (mobilenet_v2, minus1to1).")
@click.option("--out", "out_prefix", required=True, type=click.Path(dir_okay=False),
              help="writes OUT.json and OUT.md.")
@click.option("--image-size", default=224, show_default=True, type=click.IntRange(16))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, help="seed of the random-choice baseline.")
@click.option("--permutations", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--limit", default=None, type=click.IntRange(1), help="only the first N images (smoke tests).")
@click.option("--device", default="cpu", show_default=True)
def eval_dynamic_command(data, student, predictors, exits, teacher_weights, out_prefix, image_size, batch_size, seed,
                         permutations, limit, device):
    """Accuracy vs mean FLOPs of dynamic resolution beside fixed ratios and random choices."""
    if not predictors and not exits:
        raise click.UsageError("give at least one --predictor or --early-exit")
    model = load_multires(student)
    named = {(Path(p).stem if Path(p).is_file() else p): load_predictor(p) for p in predictors}
    teacher = build_classifier("mobilenet_v2", teacher_weights, normalize="minus1to1") if teacher_weights else None
    result = evaluate_dynamic(model, named, data, image_size, batch_size, seed, permutations, limit, teacher, device,
                              echo=click.echo, exits=exits)
    result.update(student=student, predictors=list(predictors), early_exit_thresholds=list(exits))
    table = markdown(result["rows"], result["flops_fixed"]["1"])
    write_text(Path(f"{out_prefix}.json"), json.dumps(result, indent=2) + "\n")
    write_text(Path(f"{out_prefix}.md"), table)
    click.echo(table)
    click.echo(f"n = {result['n']} images, seed {seed}, {result['seconds']:.0f} s; wrote {out_prefix}.json/.md")
