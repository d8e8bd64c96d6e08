"""``downscale convert``'s work: find the images, plan each output path, convert one file.

Kept free of click so that other engines (a process pool here, Ray elsewhere) run the same steps.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image

from .images import (
    FORMAT_SUFFIX,
    IMAGE_SUFFIXES,
    MULTI_FRAME_FORMATS,
    Frames,
    frames_bomb,
    read_frames,
    read_header,
    read_image_reduced,
    refused,
    to_working_mode,
    webp_lossless,
    write_image,
)
from .methods import CONVERT_METHODS, canonical
from .sizes import fov_box, output_size

__all__ = ["Options", "Task", "Result", "ConvertSummary", "find_images", "plan", "preview", "thumbnail", "convert_one",
           "convert_batch", "settled_result", "store_result", "batched"]


BATCH_PIXELS = 512 * 512  # RGB images up to this size that share a size are resized in one call of E
DRAFT_GAP = 2  # bicubic from a JPEG decoded at a reduced scale still reduces by at least this (Pillow's thumbnail)


@dataclass(frozen=True)
class Options:
    """What to do with each file (picklable, sent to worker processes)."""

    ratio: float | str = 2  # or "auto" (learned method only)
    method: str = "learned"  # learned | pil_bicubic (methods.CONVERT_METHODS; "bicubic": pil_bicubic, deprecated)
    draft: bool = True  # pil_bicubic: decode JPEGs at a reduced scale that keeps >= DRAFT_GAP x the output size
    fmt: str = "keep"  # keep | jpeg | png | webp
    quality: int = 90
    overwrite: bool = False
    weights: str | None = None
    device: str = "cpu"
    first_frame: bool = False  # animations and multi-page files: write the first frame only, without a warning
    fov: float = 1.0  # the centre fraction of each side the thumbnail shows, at the whole image's thumbnail size

    def __post_init__(self):
        method = canonical(self.method, "convert", stacklevel=3)  # (called from the dataclass's __init__)
        if method not in CONVERT_METHODS:
            raise ValueError(f"Options.method must be one of {', '.join(CONVERT_METHODS)}, got {self.method!r}")
        object.__setattr__(self, "method", method)


class Result(NamedTuple):
    """What happened to one file: status converted/skipped/failed, a message naming the file, for
    converted files the ratio used (chosen per image with ``--ratio auto``), a warning naming the
    file where it was converted with a loss the user should know of (frames dropped), and the file
    and its output where known (set by the engines, ``engines.convert_chunk``)."""

    status: str
    message: str
    ratio: float | None = None
    warning: str | None = None
    source: Path | None = None
    dest: Path | None = None


@dataclass
class ConvertSummary:
    """What ``engines.convert_files`` did, or with ``dry_run`` would do (statuses as the real run's).

    ``results``: one Result per file, in the order planned, those refused while planning first;
    ``not_tried``: folder entries with other suffixes. Seconds: ``setup_s`` to find and plan the
    files and load the weights; ``startup_s`` from the engine's start to its first result (worker
    processes, for Ray the cluster and its workers, and a first chunk); ``seconds`` from the engine's
    start to its last result; ``after_startup_s`` from the first result to the last, in which the
    ``after_startup_files`` files outside the first chunk were converted (None with one chunk).
    """

    output: Path
    engine: str = "local"
    dry_run: bool = False
    planned: int = 0  # files planned for this shard (refused ones not included)
    results: list[Result] = field(default_factory=list)
    not_tried: list[Path] = field(default_factory=list)
    setup_s: float = 0.0
    startup_s: float | None = None
    seconds: float = 0.0
    after_startup_files: int = 0
    after_startup_s: float | None = None

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def ratios(self) -> dict[float, int]:
        """How many files were converted at each ratio (``ratio="auto"``: as chosen per image; none
        for a dry run, which decodes no pixels)."""
        return dict(sorted(Counter(r.ratio for r in self.results if r.status == "converted" and r.ratio).items()))

    @property
    def per_s_after_startup(self) -> float | None:
        if self.after_startup_s is None:
            return None
        return self.after_startup_files / max(self.after_startup_s, 1e-9)

    @property
    def exit_status(self) -> int:
        """1 if any file failed, else 0 (``downscale convert``'s exit status)."""
        return 1 if self.count("failed") else 0

    def to_json(self) -> dict:
        """A dict of JSON types: the counts, ``failures`` and ``warnings`` (file and message),
        ``ratios`` (keys as text), ``files`` (each file's source, dest, status, ratio, message and
        warning), the seconds, ``per_s_after_startup``. Paths as text; bytes of names that are not
        UTF-8 as lone surrogates (``os.fsdecode``; ``os.fsencode`` gives the bytes back)."""
        def path(p):
            return None if p is None else os.fspath(p)

        return {
            "output": path(self.output), "engine": self.engine, "dry_run": self.dry_run, "planned": self.planned,
            **{status: self.count(status) for status in ("converted", "skipped", "failed")},
            "exit_status": self.exit_status,
            "failures": [{"file": path(r.source), "message": r.message} for r in self.results if r.status == "failed"],
            "warnings": [{"file": path(r.source), "message": r.warning} for r in self.results if r.warning],
            "ratios": {f"{r:g}": n for r, n in self.ratios.items()},
            "files": [{"source": path(r.source), "dest": path(r.dest), "status": r.status, "ratio": r.ratio,
                       "message": r.message, "warning": r.warning} for r in self.results],
            "not_tried": [path(p) for p in self.not_tried],
            "setup_s": self.setup_s, "startup_s": self.startup_s, "seconds": self.seconds,
            "after_startup_files": self.after_startup_files, "after_startup_s": self.after_startup_s,
            "per_s_after_startup": self.per_s_after_startup,
        }


@dataclass(frozen=True)
class Task:
    source: Path
    dest: Path


def _real(path: Path) -> Path:
    """The canonical path; unlike ``Path.resolve`` (Python < 3.13) it does not raise on a symlink loop."""
    return Path(os.path.realpath(path))


def find_images(inputs: list[Path], outdir: Path, recursive: bool,
                others: list[Path] | None = None) -> tuple[list[tuple[Path, Path]], list[Result]]:
    """``([(file, path relative to the output folder), ...], [failed Result, ...])`` for files and
    folders (a failed Result names an input that is missing or a folder that cannot be listed).

    A folder's images are mirrored under ``outdir``; a file named directly goes to its top level.
    The same file named twice for the same output is listed once (a link under another name, such as
    an alias in the same folder, is its own entry); the output folder, hidden files and symlinked folders
    are never entered (so no loops, and no re-processing of our own outputs). Every other entry with
    an image suffix (``IMAGE_SUFFIXES``) is listed, so that broken links and special files are
    reported, not skipped; folder entries with other suffixes are appended to ``others``.
    """
    found: dict[tuple[Path, Path], tuple[Path, Path]] = {}
    errors = []
    out_resolved = _real(outdir)

    def unlisted(exc: OSError):
        errors.append(Result("failed", f"{exc.filename}: cannot list folder: {exc.strerror or exc}",
                             source=Path(exc.filename)))

    def add(file: Path, rel: Path):
        if file.name.startswith("."):
            return
        if file.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault((_real(file), rel), (file, rel))
        elif others is not None:
            others.append(file)

    for item in inputs:
        if item.is_dir():
            if recursive:
                for root, dirs, files in os.walk(item, onerror=unlisted):
                    root_path = Path(root)
                    dirs[:] = sorted(d for d in dirs if not d.startswith(".") and _real(root_path / d) != out_resolved)
                    for name in sorted(files):
                        file = root_path / name
                        add(file, file.relative_to(item))
            else:
                try:
                    entries = sorted(item.iterdir())
                except OSError as exc:
                    unlisted(exc)
                    continue
                for file in entries:
                    if not file.is_dir():
                        add(file, Path(file.name))
        elif item.exists() or item.is_symlink():
            found.setdefault((_real(item), Path(item.name)), (item, Path(item.name)))  # named explicitly: always tried
        else:
            errors.append(Result("failed", f"{item}: no such file or folder", source=item))
    return list(found.values()), errors


def plan(files: list[tuple[Path, Path]], outdir: Path, fmt: str,
         shard: tuple[int, int] = (0, 1)) -> tuple[list[Task], list[Result]]:
    """Output path of each file, keeping only shard ``k`` of ``n``: a stable hash of the output's path
    in ``outdir``, so every machine computes the same split and inputs with one output share a shard.
    Refuses outputs that would hit an input or another file's output (the first file keeps it), with
    the same error (a failed Result) in every shard layout."""
    k, n = shard
    tasks, errors, claimed = [], [], {}
    inputs = {_real(source) for source, _ in files}
    out_real = _real(outdir)
    for source, rel in files:
        dest = outdir / (rel if fmt == "keep" else rel.with_suffix(FORMAT_SUFFIX[fmt]))
        key = _real(dest)
        where = key.relative_to(out_real).as_posix() if key.is_relative_to(out_real) else key.as_posix()
        mine = zlib.crc32(os.fsencode(where)) % n == k  # fsencode: names need not be UTF-8
        if key in inputs:
            error = f"{source}: output {dest} would overwrite an input; choose another output folder"
        elif key in claimed:
            error = f"{source}: output {dest} is also the output of {claimed[key]}; skipped"
        else:
            claimed[key] = source
            error = None
        if mine:
            (errors.append(Result("failed", error, source=source, dest=dest)) if error
             else tasks.append(Task(source, dest)))
    return tasks, errors


def thumbnail(img: Image.Image, opts: Options, scale: int = 1) -> Image.Image:
    """The image reduced by ``opts.ratio`` with the chosen method; ``img`` may be a JPEG decoded at
    ``1 / scale`` of its full size (pil_bicubic only, see ``read_image_reduced``). With ``opts.fov < 1``
    the centre crop (``sizes.fov_box`` of the full size) is resized to the whole image's thumbnail size."""
    if opts.method == "pil_bicubic":
        img = to_working_mode(img)  # (for "1" Pillow would take nearest neighbour; a palette cannot blend)
        height, width = output_size(img.height * scale, img.width * scale, opts.ratio)
        box = None
        if opts.fov != 1:  # in the decoded image's pixels (float: a reduced decode need not divide them)
            box = tuple(v / scale for v in fov_box(img.height * scale, img.width * scale, opts.fov))
        return img.resize((width, height), Image.Resampling.BICUBIC, box=box)
    from .resize import learned_resize

    return learned_resize(img, opts.ratio, fov=opts.fov, weights=opts.weights, device=opts.device)


def convert_one(task: Task, opts: Options) -> Result:
    """Convert one file; returns its Result (status converted/skipped/failed, message, ratio).

    Never raises for a bad file: the message names the file and the cause.
    """
    return convert_batch([task], opts)[0]


class _Opened(NamedTuple):
    """A decoded source: its first frame, the output format, the scale it was decoded at
    (``read_image_reduced``), all its frames where they are written, a warning where dropped, and
    whether it is a lossless WebP (written lossless again as WebP)."""

    img: Image.Image
    fmt: str
    scale: int
    frames: Frames | None = None
    warning: str | None = None
    lossless: bool = False


def convert_batch(tasks: list[Task], opts: Options) -> list[Result]:
    """``convert_one`` for each task, in order; with the learned method (fixed ratio), RGB stills of one
    size up to ``BATCH_PIXELS`` go through E in one call, as per-call costs dominate small images.
    Larger images are resized and written as soon as they are decoded (bounded memory)."""
    batching = opts.method == "learned" and opts.ratio != "auto"
    results: list[Result | None] = [None] * len(tasks)
    held: dict[int, _Opened] = {}
    for i, task in enumerate(tasks):
        outcome = _open(task, opts)
        if isinstance(outcome, Result):
            results[i] = outcome
        elif (batching and outcome.frames is None and outcome.img.mode == "RGB"
              and "transparency" not in outcome.img.info  # (a colour key: learned_resize makes it alpha)
              and outcome.img.width * outcome.img.height <= BATCH_PIXELS):
            held[i] = outcome
        else:
            results[i] = _finish(task, opts, outcome)
    # each image a batch fails in (e.g. too small for the ratio) is then converted alone, with its own message
    thumbs = batched([held[i].img for i in held], lambda img: img.size, lambda group: _learned_batch(group, opts),
                     least=2)
    for i, thumb in zip(held, thumbs):
        results[i] = _finish(tasks[i], opts, held[i], thumb)
    return results


def batched(items: list, key: Callable, run: Callable[[list], list], least: int = 1) -> list:
    """``run`` over ``items`` grouped by ``key(item)``, one call per group (in order of first appearance),
    its results put back in the items' order; None for each item of a group whose call raised and of
    a group smaller than ``least`` (the caller then handles those one by one). The one
    batch-with-fallback of the conversions (``convert_batch`` and the GPU JPEG path).

    Example:
        >>> batched(["a", "bb", "c", "dd"], len, lambda group: [s.upper() for s in group])
        ['A', 'BB', 'C', 'DD']
        >>> batched([1, 0, 2], bool, lambda group: [10 // n for n in group])
        [10, None, 5]
    """
    groups: dict = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    out: list = [None] * len(items)
    for members in groups.values():
        if len(members) < least:
            continue
        try:
            done = run([items[i] for i in members])
        except Exception:
            continue
        for i, result in zip(members, done):
            out[i] = result
    return out


def _learned_batch(images: list[Image.Image], opts: Options) -> list[Image.Image]:
    """Same-size RGB images through E in one call (raises as ``learned_resize``)."""
    from .resize import learned_resize

    batch = learned_resize(np.stack([np.asarray(img) for img in images]), opts.ratio, fov=opts.fov,
                           weights=opts.weights, device=opts.device)
    return [Image.fromarray(thumb) for thumb in batch]


class _Plan(NamedTuple):
    """How a file will be converted: the output format, whether all its frames are decoded and written,
    and a warning where frames are dropped."""

    fmt: str
    frames: bool = False
    warning: str | None = None


def _decide(task: Task, opts: Options) -> Result | _Plan:
    """What becomes of ``task``, decided from its output path and its file's headers (no pixels
    decoded): the Result that ends it (skipped; failed: its output is a folder, it is no image Pillow
    reads, a bomb, in a format Pillow cannot write, too small for the ratio), else its _Plan. Shared
    by the conversion and ``--dry-run`` (``preview``). Raises ImageReadError for unreadable files."""
    settled = settled_result(task, opts)
    if settled is not None:
        return settled
    head = read_header(task.source)
    fmt = (head.format or "PNG") if opts.fmt == "keep" else opts.fmt.upper()
    Image.init()  # every plugin loaded, so that Image.SAVE lists every format Pillow writes
    if fmt not in Image.SAVE:
        return Result("failed", f"{task.source}: Pillow reads {fmt} files but cannot write them; use --format png")
    if opts.ratio != "auto":
        output_size(head.size[1], head.size[0], opts.ratio)  # ValueError naming the size, for either method
    if head.frames < 2 or opts.first_frame:
        return _Plan(fmt)
    if fmt not in MULTI_FRAME_FORMATS or fmt not in Image.SAVE_ALL:  # (AVIF: where Pillow writes animations)
        return _Plan(fmt, warning=(
            f"{task.source}: {head.frames} frames; {fmt} stores one, so only the first is written "
            "(--format png or webp keeps them all; --first-frame: a still, without this warning)"))
    bomb = frames_bomb(head.frames, head.pixels)
    if bomb is not None:
        raise refused(task.source, bomb)
    return _Plan(fmt, frames=True)


def preview(task: Task, opts: Options) -> Result:
    """What ``convert_one(task, opts)`` will do, without decoding pixels or writing anything: the
    same decisions (``_decide``); "converted" with the message ``write: SOURCE -> DEST`` (or
    ``overwrite: ...``) where it would write. Only faults in the pixel data itself (a truncated or
    corrupt stream past the headers) show in the conversion alone."""
    try:
        decided = _decide(task, opts)
    except Exception as exc:
        return _failed(task, exc)
    if isinstance(decided, Result):
        return decided
    action = "overwrite" if os.path.lexists(task.dest) else "write"
    return Result("converted", f"{action}: {task.source} -> {task.dest}", warning=decided.warning)


def _open(task: Task, opts: Options) -> _Opened | Result:
    """The decoded source, or the Result that ends this task (skipped or failed)."""
    try:
        decided = _decide(task, opts)
        if isinstance(decided, Result):
            return decided
        drafting = opts.method == "pil_bicubic" and opts.draft
        img, scale = read_image_reduced(task.source, int(opts.ratio * opts.fov // DRAFT_GAP) if drafting else 1)
        img.info.pop("frames", None)
        lossless = img.format == "WEBP" and decided.fmt == "WEBP" and webp_lossless(task.source)
        frames = read_frames(task.source) if decided.frames else None
        return _Opened(img, decided.fmt, scale, frames, decided.warning, lossless=lossless)
    except Exception as exc:  # one bad file must not stop the batch
        return _failed(task, exc)


def _finish(task: Task, opts: Options, opened: _Opened, thumb: Image.Image | None = None) -> Result:
    """Resize (unless ``thumb`` is given) and write atomically."""
    img, fmt = opened.img, opened.fmt
    try:
        source = opened.frames.images if opened.frames is not None else [img]
        ratio = opts.ratio
        if ratio == "auto":  # (learned only) chosen once, on the first frame, and recorded
            from .resize import choose_ratio

            ratio = choose_ratio(source[0], device=opts.device)
        same = replace(opts, ratio=ratio)  # every frame at the first one's ratio
        thumb = thumbnail(source[0], same, opened.scale) if thumb is None else thumb
        frames = [thumb, *(thumbnail(frame, same) for frame in source[1:])]
        timing = opened.frames.timing if opened.frames is not None else None
        result = store_result(task, lambda dest: write_image(frames, dest, fmt=fmt, quality=opts.quality, timing=timing,
                                                       icc_profile=img.info.get("icc_profile"),
                                                       overwrite=opts.overwrite, lossless=opened.lossless),
                        thumb.size, ratio)
        return result._replace(warning=opened.warning) if result.status == "converted" else result
    except Exception as exc:  # one bad file must not stop the batch
        return _failed(task, exc)


def settled_result(task: Task, opts: Options) -> Result | None:
    """The Result that ends ``task`` before its input is read (its output is a folder, or exists and is
    kept), else None."""
    if task.dest.is_dir():
        return Result("failed", f"{task.source}: its output {task.dest} is a folder; move it or choose another -o")
    if not opts.overwrite and os.path.lexists(task.dest):
        if task.dest.is_symlink():  # (said, as the user may not expect a link there)
            message = (f"{task.dest}: exists (a symlink to {os.readlink(task.dest)}); left as it is "
                       "(--overwrite replaces the link, never its target)")
            return Result("skipped", message, warning=message)
        return Result("skipped", f"{task.dest}: exists (use --overwrite to replace it)")
    return None


def store_result(task: Task, write: Callable[[Path], bool], size: tuple[int, int], ratio: float | None) -> Result:
    """Write ``task``'s output by ``write(dest)`` (atomic; False: it exists) and say what happened;
    ``size`` is the thumbnail's ``(width, height)``."""
    try:
        task.dest.parent.mkdir(parents=True, exist_ok=True)
        written = write(task.dest)
    except OSError as exc:
        in_the_way = next((p for p in reversed(task.dest.parents) if os.path.lexists(p) and not p.is_dir()), None)
        if in_the_way is not None:  # (mkdir says only "File exists" or "Not a directory")
            return Result("failed", f"{task.source}: cannot write {task.dest}: {in_the_way} is a file, not a "
                                    "folder; move it or choose another -o")
        return Result("failed", f"{task.source}: cannot write {task.dest}: {exc.strerror or exc}")
    if not written:
        return Result("skipped", f"{task.dest}: exists (written by another run meanwhile)")
    return Result("converted", f"{task.source} -> {task.dest} ({size[0]}x{size[1]})", ratio)


def _failed(task: Task, exc: Exception) -> Result:
    cause = str(exc) or type(exc).__name__
    return Result("failed", cause if str(task.source) in cause else f"{task.source}: {cause}")
