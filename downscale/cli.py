"""The ``downscale`` command line: convert, demo, models, and (imported only when used) train, eval, bench."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A click group whose heavy subcommands are imported only when invoked (click docs pattern)."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx, name):
        if name in self.lazy_subcommands:
            module, attr = self.lazy_subcommands[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "train": "downscale.thumbnet.command:train",
        "eval": "downscale.evaluation.command:evaluate",
        "bench": "downscale.evaluation.bench:bench",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="downscale")
def main():
    """Shrink images the way a classifier needs them shrunk (ThumbNet learned downscaling)."""


@main.command()
def models():
    """List the registered pretrained weights."""
    from .pretrained import default_weights, list_pretrained

    defaults = {default_weights(r) for r in (2, 4)}
    for name, meta in list_pretrained(kind=None).items():
        mark = "*" if name in defaults else " "
        click.echo(f"{mark} {name:36s} {meta['kind']:10s} ratio {meta['ratio']}  {meta.get('summary', '')}")
    click.echo("(* = default of learned_resize for that ratio)")
