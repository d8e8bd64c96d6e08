"""``downscale train``: the click command over TrainConfig, and ``config_options``, the one path from a
config dataclass to click options (``downscale train-dynamic`` uses it too).

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m downscale.thumbnet.command --data ...``
(``--batch-size`` is per process).
"""

from __future__ import annotations

import dataclasses
import types
import typing

import click

from ..sizes import parse_list
from .config import TrainConfig, flag_of


def config_options(cls: type):
    """A decorator adding one click option per field of the dataclass ``cls``: the option is the
    field's name (or its ``flag``), its type, default and help come from the field. A field without
    a default is required; a bool is an on/off pair; a tuple is written comma-separated."""
    hints = typing.get_type_hints(cls)

    def decorate(command):
        for field in reversed(dataclasses.fields(cls)):
            command = _option(field, hints[field.name])(command)
        return command

    return decorate


def _option(field: dataclasses.Field, hint):
    meta, flag = field.metadata, flag_of(field)
    required = field.default is dataclasses.MISSING
    default = None if required else field.default
    kind = _without_none(hint)
    kwargs = {"required": required, "default": default, "show_default": default is not None, "help": meta["help"]}
    if kind is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", field.name, **kwargs)
    if typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        count = None if items[-1] is Ellipsis else len(items)
        kwargs.update(default=None if default is None else ",".join(map(str, default)),
                      callback=_split(items[0], count, meta.get("metavar") or kwargs["default"]),
                      metavar=meta.get("metavar") or "N1,N2,...")
    elif "choices" in meta:
        kwargs.update(type=click.Choice([str(c) for c in meta["choices"]]),
                      default=None if default is None else str(default),
                      callback=lambda ctx, param, value: None if value is None else kind(value))
    elif "path" in meta:
        kwargs["type"] = click.Path(exists=meta.get("exists", False), file_okay=meta["path"] == "file",
                                    dir_okay=meta["path"] == "dir")
    elif "min" in meta:
        kwargs["type"] = (click.IntRange if kind is int else click.FloatRange)(meta["min"],
                                                                         min_open=meta.get("min_open", False))
    else:
        kwargs["type"] = kind
    return click.option(flag, field.name, **kwargs)


def _without_none(hint):
    """``X`` of ``X | None`` (else ``hint`` itself)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _split(kind: type, count: int | None, example: str | None):
    """A click callback: ``"a,b,c"`` -> a tuple of ``kind`` (exactly ``count`` items when given), by
    ``sizes.parse_list``."""
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return tuple(parse_list(value, kind, count, example))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return parse


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
