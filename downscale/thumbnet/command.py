"""``downscale train``: the click command over TrainConfig (one option per field).

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m downscale.thumbnet.command --data ...``
(``--batch-size`` is per process).
"""

from __future__ import annotations

import click

from .config import TrainConfig

D = TrainConfig.__dataclass_fields__


def _opt(name: str, *, help: str, **kwargs):
    flag = "--" + name.replace("_", "-")
    default = D[name].default
    if isinstance(default, bool):
        flag = f"{flag}/--no-{name.replace('_', '-')}"
    return click.option(flag, name, default=default, show_default=default is not None, help=help, **kwargs)


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="ImageFolder with wnid-named class folders (e.g. imagenette-224/train).")
@_opt("teacher", help="torchvision model name of the teacher (and student).")
@click.option("--teacher-weights", required=True, type=click.Path(exists=True, dir_okay=False),
              help="state_dict file of the teacher.")
@_opt("normalize", type=click.Choice(["imagenet", "minus1to1"]), help="teacher's input normalisation.")
@_opt("ratio", type=click.Choice(["2", "4"]), callback=lambda c, p, v: int(v), help="side reduction factor.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="run folder (created).")
@_opt("image_size", type=int, help="training image side (resize + centre crop).")
@_opt("downscaler", help="learned: train E; bicubic: baseline student on antialiased-bicubic thumbnails; "
      "or a downscaler's registry name or file: the student trains on that fixed E's thumbnails.")
@_opt("strategy", type=click.Choice(["supervised", "distill", "fm"]),
      help="supervised: CL+MM; distill: KD+CL+MM; fm: FM+MM first stage, then distill.")
@_opt("freeze_classifier", help="train E alone for the frozen teacher (use --tau 1 or --w-kd 0).")
@_opt("student_init", type=click.Choice(["teacher", "scratch"]), help="student initialisation.")
@_opt("epochs", type=click.IntRange(1), help="epochs of the main stage.")
@_opt("fm_epochs", type=click.IntRange(0), help="epochs of the FM first stage (--strategy fm).")
@_opt("fm_layer", help="module whose output FM matches.")
@_opt("batch_size", type=click.IntRange(1), help="images per step per process.")
@_opt("limit", type=click.IntRange(1), help="train on only the first N images of the split.")
@_opt("holdout", type=click.IntRange(0), help="images held out (seeded) for validation.")
@_opt("seed", type=int, help="seed of the split, flips, init and dropout.")
@_opt("workers", type=click.IntRange(0), help="DataLoader worker processes.")
@_opt("flip", help="random horizontal flips.")
@_opt("w_kd", type=float, help="weight of KD.")
@_opt("w_cl", type=float, help="weight of CL (cross-entropy).")
@_opt("w_mm", type=float, help="weight of MM (moment matching).")
@_opt("w_fm", type=float, help="weight of FM (feature mapping).")
@_opt("w_colour", type=float, help="weight of the L1 gap between thumbnail and image channel means.")
@_opt("tau", type=float, help="KD temperature.")
@_opt("lr_student", type=float, help="peak lr of S (AdamW, one-cycle).")
@_opt("lr_downscaler", type=float, help="peak lr of E (and the FM decoder).")
@_opt("weight_decay", type=float, help="AdamW weight decay.")
@_opt("downscaler_width", type=click.IntRange(1), help="hidden channels of E.")
@_opt("downscaler_arch", type=click.Choice(["paper", "unshuffle", "area"]), help="layout of E (see Downscaler).")
@_opt("downscaler_skip", type=click.Choice(["mean", "nearest"]), help="classical resize under the area layout's correction.")
@_opt("cache", type=click.Path(file_okay=False), help="teacher-logit cache folder [default: OUT/cache].")
@_opt("log_every", type=click.IntRange(1), help="steps between progress lines.")
@_opt("device", help="cpu, cuda, cuda:1 ... [default: cuda if available].")
@click.option("--resume", is_flag=True, help="continue the run in --out from its last epoch-end checkpoint.")
def train(resume: bool, **options):
    """Train a ThumbNet downscaler E (and student S) against a teacher; export weights and a card."""
    from .train import train as run

    try:
        cfg = TrainConfig(**options)
        run(cfg, resume=resume)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


if __name__ == "__main__":
    train()
