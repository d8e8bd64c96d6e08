"""``downscale train-dynamic`` and ``downscale eval-dynamic``: click commands over ``train`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..classifiers import build_classifier
from .evaluate import evaluate_dynamic, markdown
from .model import load_multires, load_predictor
from .train import DynamicConfig, train_dynamic


def _floats(ctx, param, value):
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, e.g. 0.5,0.6,0.7; got {value!r}") from None


@click.command("train-dynamic")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="ImageFolder with wnid-named class folders (e.g. imagenette-224/train).")
@click.option("--teacher-weights", required=True, type=click.Path(exists=True, dir_okay=False),
              help="state_dict file of the teacher (also the classifier's initialisation).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="run folder (created).")
@click.option("--teacher", default="mobilenet_v2", show_default=True, help="torchvision model name.")
@click.option("--normalize", type=click.Choice(["imagenet", "minus1to1"]), default="minus1to1", show_default=True)
@click.option("--image-size", default=224, show_default=True, type=click.IntRange(16))
@click.option("--downscalers", default=None, metavar="E2,E4",
              help="downscalers for ratio 2 and 4 (registry names or files) [default: registry defaults].")
@click.option("--student", default=None, type=click.Path(exists=True, dir_okay=False),
              help="skip stage 1: a multi-resolution classifier file from an earlier run.")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1), help="stage-1 epochs.")
@click.option("--max-steps", default=None, type=click.IntRange(1), help="stop stage 1 after N steps.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--limit", default=None, type=click.IntRange(1), help="stage 1 uses N images; stage 2 the rest.")
@click.option("--stage2-limit", default=None, type=click.IntRange(1), help="stage 2 uses at most N images.")
@click.option("--holdout", default=500, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(0))
@click.option("--flip/--no-flip", default=True, show_default=True, help="stage-1 random horizontal flips.")
@click.option("--tau", default=4.0, show_default=True, help="KD temperature.")
@click.option("--lr", default=2e-4, show_default=True, help="stage-1 peak learning rate (AdamW, one-cycle).")
@click.option("--target-flops", "targets", default="0.5,0.6,0.7", show_default=True, callback=_floats,
              help="targets alpha as fractions of the full-resolution FLOPs, one predictor each.")
@click.option("--eta", default=10.0, show_default=True, help="weight of the FLOPs term.")
@click.option("--predictor-epochs", default=30, show_default=True, type=click.IntRange(1))
@click.option("--cache", default=None, type=click.Path(file_okay=False), help="teacher-logit cache [default: OUT/cache].")
@click.option("--log-every", default=20, show_default=True, type=click.IntRange(1))
@click.option("--device", default=None, help="cpu, cuda, ... [default: cuda if available].")
def train_dynamic_command(downscalers, **options):
    """Train DRNet dynamic resolution: a multi-resolution classifier, then resolution predictors."""
    try:
        if downscalers is not None:
            names = tuple(downscalers.split(","))
            if len(names) != 2:
                raise ValueError(f"--downscalers needs two names (ratio 2, ratio 4), got {downscalers!r}")
            options["downscalers"] = names
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
    Path(f"{out_prefix}.json").write_text(json.dumps(result, indent=2) + "\n")
    Path(f"{out_prefix}.md").write_text(table)
    click.echo(table)
    click.echo(f"n = {result['n']} images, seed {seed}, {result['seconds']:.0f} s; wrote {out_prefix}.json/.md")
