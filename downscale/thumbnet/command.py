"""``downscale train``: the click command over TrainConfig (its options from ``training.options``).

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m downscale.thumbnet.command --data ...``
(``--batch-size`` is per process).
"""

from __future__ import annotations

import click

from ..training.options import config_options
from .config import TrainConfig


@click.command()
@config_options(TrainConfig)
@click.option("--resume", is_flag=True, help="continue the run in --out from its last epoch-end checkpoint.")
def train(resume: bool, **options):
    """Train a ThumbNet downscaler E (and student S) against a teacher; export weights and a card."""
    from .train import train as run

    try:
        cfg = TrainConfig(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    check_arguments(cfg)
    try:
        run(cfg, resume=resume, echo=click.echo)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except FloatingPointError as exc:  # the training diverged: nothing was exported
        raise click.ClickException(str(exc)) from None


def check_arguments(cfg: TrainConfig) -> None:
    """Refuse, before the run creates --out or computes anything, the arguments it would otherwise
    find bad only later: --device, --fm-layer (with --strategy fm) and a fixed E's --downscaler.
    Raises click.BadParameter naming the option."""
    import torch

    from ..classifiers import Classifier
    from ..errors import InvalidArgumentError, WeightsError
    from ..pretrained import load_downscaler
    from ..resize import check_device

    if cfg.device is not None:
        try:
            check_device(cfg.device)
        except InvalidArgumentError as exc:
            raise click.BadParameter(str(exc), param_hint="--device") from None
    if cfg.strategy == "fm":
        try:
            with torch.device("meta"):  # the module names only: no memory, no weights
                net = Classifier(cfg.teacher, 1000, cfg.normalize)
        except Exception:  # an unknown --teacher: build_teacher reports it
            net = None
        if net is not None:
            try:
                net.get_submodule(cfg.fm_layer)
            except AttributeError:
                names = [name for name, _ in net.named_modules() if name.count(".") == 2]
                blocks = ", ".join(names[:4] + (["...", names[-1]] if len(names) > 4 else []))
                raise click.BadParameter(f"{cfg.fm_layer!r} is not a module of {cfg.teacher} (its blocks: {blocks})",
                                         param_hint="--fm-layer") from None
    if cfg.fixed_downscaler:
        try:
            ratio = load_downscaler(cfg.fixed_downscaler).ratio
        except WeightsError as exc:
            raise click.BadParameter(str(exc), param_hint="--downscaler") from None
        if ratio != cfg.ratio:
            raise click.BadParameter(f"{cfg.fixed_downscaler} reduces by {ratio}, but --ratio is {cfg.ratio}",
                                     param_hint="--downscaler")


if __name__ == "__main__":
    train()
