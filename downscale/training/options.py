"""``config_options``: the one path from a config dataclass (``RunConfig`` and its subclasses) to click
options, used by both trainers' commands."""

from __future__ import annotations

import dataclasses
import types
import typing

import click

from ..sizes import parse_list
from .config import flag_of


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
        kwargs["type"] = (click.IntRange if kind is int else click.FloatRange)(meta["min"], meta.get("max"),
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
