"""The ``downscale`` command line: convert, demo, models, and (imported only when used) train, eval, bench."""

from __future__ import annotations

import errno
import importlib
import json
import math
import os
import re
import sys
from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path

import click

from .methods import CONVERT_METHODS, RENAMED


class LazyGroup(click.Group):
    """A click group whose heavy subcommands are imported only when invoked (click docs pattern).

    ``lazy_subcommands``: ``{name: ("module:attribute", short help)}``; the short help is shown by
    ``--help`` without importing the command (train, eval and bench import torch: seconds).
    """

    def __init__(self, *args, lazy_subcommands: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx, name):
        if name in self.lazy_subcommands:
            module, attr = self.lazy_subcommands[name][0].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy_subcommands[name][1] if name in self.lazy_subcommands
                 else click.Group.get_command(self, ctx, name).get_short_help_str(limit=formatter.width - 20))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "train": ("downscale.thumbnet.command:train",
                  "Train a ThumbNet downscaler E (and student S) against a teacher; export weights and a card."),
        "eval": ("downscale.evaluation.command:evaluate",
                 "Evaluate thumbnail methods on the same images: top-1 (and, with --agreement, agreement with the..."),
        "bench": ("downscale.evaluation.bench:bench",
                  "Time resizing, a batch, end-to-end classification, and on request a folder conversion and a..."),
        "train-dynamic": ("downscale.drnet.command:train_dynamic_command",
                          "Train DRNet dynamic resolution: a multi-resolution classifier, then resolution predictors."),
        "eval-dynamic": ("downscale.drnet.command:eval_dynamic_command",
                         "Accuracy vs mean FLOPs of dynamic resolution beside fixed ratios and random choices."),
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="downscale")
@click.pass_context
def main(ctx):
    """Shrink images the way a classifier needs them shrunk (ThumbNet learned downscaling)."""
    if ctx.invoked_subcommand in ctx.command.lazy_subcommands:  # the networks' training and timing
        from .memory import keep_freed_memory

        keep_freed_memory()


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Also list superseded weights (replaced by a newer release).")
def models(show_all):
    """List the registered pretrained weights: the current ones, defaults marked."""
    from .pretrained import MODELS_INSTALL, default_weights, is_installed, list_pretrained, superseded_by

    defaults = {default_weights(r) for r in (2, 4, "auto")}
    missing = False
    listed = list_pretrained(kind=None, all=show_all)
    for name, meta in listed.items():
        mark = "*" if name in defaults else " " if is_installed(name) else "-"
        missing |= mark == "-"
        newer = superseded_by(name)
        notes = [f"superseded by {newer}"] if newer else []
        notes.append(meta.get("summary", ""))
        click.echo(f"{mark} {name:46s} {meta['kind']:20s} ratio {meta['ratio']}  {'; '.join(notes)}")
    click.echo("(* = default of learned_resize for that ratio"
               + (f"; - = not installed: students and superseded weights, {MODELS_INSTALL})" if missing else ")"))
    hidden = len(list_pretrained(kind=None, all=True)) - len(listed)
    if hidden:
        click.echo(f"({hidden} superseded weights not shown; --all lists them)")


def _parse_shard(ctx, param, value):
    if value is None:
        return (0, 1)
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter(f"expected K/N with integers, e.g. 0/4; got {value!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise click.BadParameter(f"need 0 <= K < N (shards are numbered from 0), got {value!r}")
    return (k, n)


def _parse_ratio(ctx, param, value):
    from .errors import InvalidArgumentError
    from .sizes import check_ratio

    try:
        return check_ratio(value if value == "auto" else float(value), None, auto=True)
    except (ValueError, InvalidArgumentError):
        raise click.BadParameter(f"expected a finite number >= 1 (the factor each side is divided by) or 'auto', "
                                 f"got {value!r}") from None


def _parse_method(ctx, param, value):
    """convert's method by its canonical name (``methods.CONVERT_METHODS``); an old spelling works, with a
    one-line notice naming the new one."""
    new = RENAMED["convert"].get(value)
    if new:
        click.echo(f"note: --method {value} is now spelled --method {new} (the same resize); the old spelling "
                   "will be removed", err=True)
        return new
    if value not in CONVERT_METHODS:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(CONVERT_METHODS)}")
    return value


def _parse_fov(ctx, param, value):
    try:
        fov = float(value)
    except ValueError:
        fov = math.nan
    if not (math.isfinite(fov) and 0 < fov <= 1):
        raise click.BadParameter(f"must be a number with 0 < FOV <= 1 (the centre fraction of each side "
                                 f"the thumbnail shows; 1 = the whole image), got {value!r}")
    return fov


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))  # per-file errors
@click.option("-o", "--output", "outdir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the thumbnails; input folders are mirrored under it.")
@click.option("--ratio", default="2", callback=_parse_ratio, show_default=True,
              help="Factor each side is divided by (2 and 4 are native to the learned downscaler), "
                   "or auto: the DRNet predictor picks 1, 2 or 4 per image.")
@click.option("--fov", default="1", callback=_parse_fov, show_default=True,
              help="Field of view, a view for classifiers: the thumbnail (same size as the whole image's) shows the "
                   "centre FOV of each side, e.g. 0.75; 1 = the whole image (never crops unless asked).")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders of input folders.")
@click.option("--format", "fmt", type=click.Choice(["keep", "png", "jpeg", "webp"]), default="keep", show_default=True)
@click.option("--quality", type=click.IntRange(1, 100), default=90, show_default=True, help="JPEG/WebP quality.")
@click.option("--skip-existing/--overwrite", default=True, show_default=True,
              help="Leave outputs that already exist, or replace them.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes (--engine local).")
@click.option("--device", default="cpu", show_default=True,
              help="Where the learned downscaler runs (cpu, cuda, cuda:1, ...). On a GPU (learned, fixed ratio), "
                   "colour JPEGs are also decoded and, for JPEG output, encoded there in batches (nvJPEG).")
@click.option("--method", default="learned", show_default=True, callback=_parse_method,
              metavar="[" + "|".join(CONVERT_METHODS) + "]",
              help="learned = the pretrained downscaler; pil_bicubic = Pillow's bicubic (formerly 'bicubic').")
@click.option("--draft/--no-draft", default=True, show_default=True,
              help="pil_bicubic at --ratio 4 or more: decode JPEGs at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling), "
                   "keeping at least twice the output size, as Pillow's thumbnail() does: about 1.5x the images "
                   "per second, within 0.5-0.7/255 on average of decoding in full (README). --no-draft: in full.")
@click.option("--weights", default=None, help="Registry name or weights file (default: the registry default).")
@click.option("--shard", default=None, callback=_parse_shard, metavar="K/N",
              help="Process only shard K of N (0-based; a stable split by output path) for N parallel machines.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: --jobs processes here; ray: Ray Data on a Ray cluster, one worker per CPU of the "
                   "cluster (per GPU with --device cuda) (pip install 'downscale[ray]'; docs/cluster.md).")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="Ray cluster to join (default $RAY_ADDRESS, else a local Ray started for this run).")
@click.option("--first-frame", is_flag=True,
              help="Animations and multi-page files: write only the first frame (default: every frame where "
                   "the output format stores several, else the first with a warning).")
@click.option("--dry-run", is_flag=True,
              help="List what each file would become (write, skip, error) and exit as the run would; "
                   "write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON on stdout (counts, failures, ratios, each file's outcome, seconds); "
                   "the human lines go to stderr.")
def convert(inputs, outdir, ratio, fov, recursive, fmt, quality, skip_existing, jobs, device, method, draft, weights,
            shard, engine, ray_address, first_frame, dry_run, as_json):
    """Downscale image files and folders into OUTDIR.

    Input files are never modified; outputs appear atomically (temporary file + rename). A bad file
    is reported and skipped, and the exit status is 1 if any file failed. Animated GIF, WebP and
    PNG and multi-page TIFF keep every frame, with its timing.
    """
    if fov != 1 and ratio == "auto":
        raise click.BadParameter("--fov needs a fixed --ratio (at ratio 1 the crop would be enlarged)",
                                 param_hint="'--fov'")
    if ratio != "auto" and fov * ratio * (1 + 1e-9) < 1:
        raise click.BadParameter(f"--fov {fov:g} at --ratio {ratio:g} keeps less than the thumbnail's size and "
                                 f"would enlarge it; use --fov >= 1/ratio = {1 / ratio:.4g}", param_hint="'--fov'")
    if ratio == "auto" and method != "learned":
        raise click.BadParameter("--ratio auto needs --method learned (the predictor picks the ratio)",
                                 param_hint="'--ratio'")

    from .convert import Options
    from .engines import convert_files

    opts = Options(ratio=ratio, method=method, draft=draft, fmt=fmt, quality=quality,
                   overwrite=not skip_existing, weights=weights, device=device, first_frame=first_frame, fov=fov)
    echo = partial(click.echo, err=as_json)  # with --json, stdout holds the JSON alone
    with ExitStack() as stack:
        bar, length = None, 0

        def planned(summary):
            nonlocal length
            if summary.not_tried:
                suffixes = sorted({p.suffix.lower() or "(none)" for p in summary.not_tried})
                click.echo(f"note: {len(summary.not_tried)} file(s) with other suffixes were not tried "
                           f"({', '.join(suffixes[:8])}{', ...' if len(suffixes) > 8 else ''}); name them on the "
                           "command line to try them", err=True)
            if summary.planned and method == "learned":  # (a Ray cluster's GPUs are checked by its workers)
                _check_learned(replace(opts, device="cpu") if engine == "ray" else opts)
            if summary.planned:
                _check_output_folder(outdir, create=not dry_run)
            for result in summary.results:  # refused while planning
                click.echo(f"error: {shown(result.message)}", err=True)
            length = summary.planned

        def each(result):
            nonlocal bar
            if dry_run:
                _dry_run_line(result, echo)
                return
            if bar is None:  # (from the first result: an engine that cannot start shows its error alone)
                bar = stack.enter_context(click.progressbar(length=length, label="converting", file=sys.stderr))
            if result.status == "failed":
                click.echo(f"\nerror: {shown(result.message)}", err=True)
            if result.warning:
                click.echo(f"\nwarning: {shown(result.warning)}", err=True)
            bar.update(1)

        try:
            summary = convert_files(inputs, outdir, opts, recursive=recursive, shard=shard, engine=engine, jobs=jobs,
                                    ray_address=ray_address, dry_run=dry_run, on_planned=planned, on_result=each)
        except (ImportError, ValueError, RuntimeError) as exc:  # no Ray, no CPU in the cluster; the engine failed
            raise click.ClickException(str(exc)) from None
    _report(summary, echo, auto=ratio == "auto")
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=1))
    sys.exit(summary.exit_status)


def _report(summary, echo, auto: bool) -> None:
    """The human summary of a ConvertSummary (``auto``: the ratios were chosen per image)."""
    counts = {status: summary.count(status) for status in ("converted", "skipped", "failed")}
    if summary.dry_run:
        echo(f"dry run: {summary.planned} file(s) planned: {counts['converted']} to convert, {counts['skipped']} "
             f"skipped (already there), {counts['failed']} failed; nothing written")
        return
    if auto and summary.ratios:
        echo("chosen ratios: " + ", ".join(f"{r}: {n} file(s)" for r, n in summary.ratios.items()))
    if summary.after_startup_s is not None:  # start-up: workers (for Ray: their imports and E) and a first chunk
        echo(f"start-up {summary.startup_s:.2f} s (to the first result), then {summary.after_startup_files} in "
             f"{summary.after_startup_s:.2f} s ({summary.per_s_after_startup:.1f}/s)")
    echo(f"{counts['converted']} converted, {counts['skipped']} skipped (already there), {counts['failed']} failed -> "
         f"{summary.output} ({summary.planned} in {summary.seconds:.2f} s, "
         f"{summary.planned / max(summary.seconds, 1e-9):.1f}/s)")


def _dry_run_line(result, echo) -> None:
    if result.status == "converted":
        echo(shown(result.message))
    elif result.status == "skipped":
        echo(f"skip: {shown(result.message)}")
    else:
        click.echo(f"error: {shown(result.message)}", err=True)
    if result.warning and result.warning != result.message:
        click.echo(f"warning: {shown(result.warning)}", err=True)


def shown(text: str) -> str:
    """``text`` with each byte of a file name that is not UTF-8 (held as a surrogate, ``os.fsdecode``)
    shown as U+FFFD, the replacement character, instead of Python's escape ``\\udcff``."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def _check_output_folder(outdir: Path, create: bool) -> None:
    """Create ``outdir`` (for a dry run: check that it could be created) and check that it is
    writable; ClickException otherwise."""
    try:
        if create:
            outdir.mkdir(parents=True, exist_ok=True)
        else:
            folder = outdir
            while not os.path.lexists(folder) and folder.parent != folder:
                folder = folder.parent  # the nearest existing folder: where mkdir would start
            if not folder.is_dir():  # (what mkdir would say)
                code = errno.EEXIST if folder == outdir else errno.ENOTDIR
                raise OSError(code, os.strerror(code))
            if folder != outdir:
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
                return
    except OSError as exc:
        raise click.ClickException(f"cannot create output folder {outdir}: {exc.strerror or exc}") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise click.ClickException(f"output folder {outdir} is not writable; choose another with -o")


def _check_learned(opts):
    """Refuse bad --weights/--device/--ratio once, before any file, instead of failing every file alike."""
    from .engines import load_learned

    try:
        load_learned(opts)
    except Exception as exc:  # WeightsError, a ratio the weights cannot do, an unknown or absent device
        raise click.ClickException(
            f"cannot use the learned downscaler (--weights {opts.weights or 'default'}, --device {opts.device}): {exc}"
        ) from None


@main.command()
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("downscale-demo"), show_default=True)
@click.option("--ratio", type=click.Choice(["2", "4"]), default="2", show_default=True)
@click.option("--weights", default=None, help="Registry name or file (default: learned_resize's default for the ratio).")
@click.option("--overwrite", is_flag=True, help="Replace the demo's files from an earlier run in OUTDIR.")
def demo(outdir, ratio, weights, overwrite):
    """Run a shipped learned downscaler on scikit-image's sample photos, beside bicubic, side by side."""
    from .demo import run_demo

    try:
        run_demo(outdir, int(ratio), weights, overwrite=overwrite)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
