"""Image file I/O for the CLI: decode (EXIF orientation, modes, ICC profile) and atomic encode."""

from __future__ import annotations

import glob
import os
import secrets
import stat
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Callable, NamedTuple, TypeVar

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from .errors import ImageReadError

__all__ = ["IMAGE_SUFFIXES", "FORMAT_SUFFIX", "MULTI_FRAME_FORMATS", "Frames", "read_image", "read_image_reduced",
           "read_frames", "write_image", "write_atomic", "upright_transpose", "TRANSPOSE_AXES", "WORKING_MODES",
           "working_mode", "to_working_mode", "check_openable"]

# Suffixes `downscale convert` picks up in folders (files named on the command line are always tried).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".bmp", ".tif", ".tiff", ".gif",
                  ".ppm", ".pgm", ".pbm", ".avif", ".jp2", ".j2k"}
FORMAT_SUFFIX = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
# Modes each output format can store; anything else is converted (see _saveable).
_SAVE_MODES = {
    "JPEG": {"L", "RGB", "CMYK"},
    "WEBP": {"RGB", "RGBA"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "BMP": {"1", "L", "P", "RGB"},
    "GIF": {"L", "P", "RGB", "RGBA"},  # Pillow quantises RGB(A) to an adaptive palette, keeping transparency
}
# Formats Pillow writes with several frames (save_all), and the timing keys each stores.
MULTI_FRAME_FORMATS = {"GIF", "PNG", "WEBP", "TIFF", "AVIF"}
_TIMING_KEYS = {"GIF": ("duration", "loop"), "PNG": ("duration", "loop"), "WEBP": ("duration", "loop"),
                "AVIF": ("duration", "loop")}
# Each frame written is a full frame that replaces the one before: GIF disposal 2 (restore to background),
# APNG blend "source" (no compositing over what was shown); so nothing of an earlier frame shows through.
# (GIF without palette optimisation: every frame keeps the transparent index, so that also readers that
# restore to the background colour where a frame has none, as Pillow does, clear to transparent.)
_REPLACING = {"GIF": {"disposal": 2, "optimize": False}, "PNG": {"disposal": 0, "blend": 0}}
DEFAULT_FRAME_MS = 100  # a frame without a duration (a TIFF page, a GIF frame without its control block)
# The colour space (ICC header bytes 16-20) of the pixels each mode stores.
_MODE_SPACE = {"1": b"GRAY", "L": b"GRAY", "LA": b"GRAY", "I": b"GRAY", "I;16": b"GRAY", "F": b"GRAY",
               "P": b"RGB ", "PA": b"RGB ", "RGB": b"RGB ", "RGBA": b"RGB ", "CMYK": b"CMYK"}
_NAME_MAX = 255  # bytes in a file name on common file systems
T = TypeVar("T")


def read_image(path: str | os.PathLike) -> Image.Image:
    """Decode ``path`` fully, upright (EXIF orientation applied); ``info['icc_profile']`` is kept.

    Raises ImageReadError naming the file and the cause (missing, empty, not a regular file,
    unreadable, not an image, truncated, over Pillow's decompression-bomb limit
    ``Image.MAX_IMAGE_PIXELS``).
    """
    return read_image_reduced(path, 1)[0]


def read_image_reduced(path: str | os.PathLike, most: int) -> tuple[Image.Image, int]:
    """``read_image``, except that a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's DCT
    scaling (Pillow's ``draft``): the largest of these scales that is at most ``1/most`` and divides both
    sides, so the reduced image covers exactly the same pixels. Decoding is faster and leaves fewer
    pixels to resize. Returns ``(image, scale)``; the full-size image is ``scale`` times larger (1: not
    reduced: other formats, ``most < 2``, or sides no scale divides). Only the first frame of an
    animation is decoded (see ``read_frames``); ``image.info["frames"]`` is how many the file holds
    (1 for a camera's MPO JPEG: its other images are previews or views of a still, not frames).
    Raises as ``read_image``.
    """
    def decode(img: Image.Image) -> tuple[Image.Image, int]:
        frames = 1 if img.format == "MPO" else getattr(img, "n_frames", 1)  # (MPO: a photo and its previews)
        scale = _draft(img, most)
        img.load()
        upright = _upright(img)
        upright.format = img.format
        upright.info["frames"] = frames
        return upright, scale

    return _decode(path, decode)


def check_image(path: str | os.PathLike) -> None:
    """Decode ``path`` to the end without keeping it: a JPEG at 1/8 of its size (libjpeg still reads
    all of its data, which is what fails on a truncated file), other formats in full. A cheaper
    ``read_image`` for checking a folder before long work on it. Raises as ``read_image``."""
    def decode(img: Image.Image) -> None:
        if img.format == "JPEG":
            img.draft(None, (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()

    _decode(path, decode)


def unreadable_images(paths: Sequence[str | os.PathLike]) -> dict[int, str]:
    """``{position in paths: ImageReadError message naming the file}`` for the files ``check_image``
    refuses; decoded on a few threads (Pillow's decoders release the GIL)."""
    def problem(path) -> str | None:
        try:
            check_image(path)
        except ImageReadError as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        return {i: message for i, message in enumerate(pool.map(problem, paths)) if message is not None}


def webp_lossless(path: str | os.PathLike) -> bool:
    """Whether the WebP file ``path`` is lossless (its first image is a VP8L bitstream); False for other
    files and for anything unreadable."""
    try:
        with open(path, "rb") as f:
            if f.read(12)[8:] != b"WEBP":
                return False
            while len(head := f.read(8)) == 8:
                kind, size = head[:4], int.from_bytes(head[4:], "little")
                if kind in (b"VP8L", b"VP8 "):
                    return kind == b"VP8L"
                if kind == b"ANMF":  # an animation frame: its bitstream (or ALPH) follows 16 bytes of header
                    f.seek(16, os.SEEK_CUR)
                    continue
                f.seek(size + size % 2, os.SEEK_CUR)
    except OSError:
        pass
    return False


class Frames(NamedTuple):
    """Every frame of an animation (or page of a multi-page file), decoded in full (composited as it
    is shown) and upright, all in one mode; ``timing``: ``{"duration": [ms, ...], "loop": n}`` (None
    where absent)."""

    images: list[Image.Image]
    timing: dict


def read_frames(path: str | os.PathLike) -> Frames:
    """All frames of an animated GIF, WebP or PNG, or all pages of a multi-page TIFF. Raises as
    ``read_image``; the frames' pixels count together against ``Image.MAX_IMAGE_PIXELS`` (checked
    before any is decoded, ``check_frame_pixels``)."""
    def decode(img: Image.Image) -> Frames:
        check_frame_pixels(img)
        images, durations = [], []
        for frame in ImageSequence.Iterator(img):  # (Pillow composites each frame onto the ones before)
            frame.load()
            durations.append(frame.info.get("duration"))
            # after loading: Pillow has applied a TIFF page's orientation itself and removed the tag
            method = _UPRIGHT.get(frame.getexif().get(0x0112, 1))
            copy = frame.copy()
            images.append(copy.transpose(method) if method is not None else copy)
        if len({im.mode for im in images}) > 1:
            alpha = any(im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info for im in images)
            images = [im.convert("RGBA" if alpha else "RGB") for im in images]
        for im in images:
            im.format = img.format
        return Frames(images, {"duration": durations, "loop": img.info.get("loop")})

    return _decode(path, decode)


class Header(NamedTuple):
    """What a file's headers say: its format, upright ``(width, height)`` (EXIF orientation applied),
    number of frames (pages) and their pixels in all."""

    format: str | None
    size: tuple[int, int]
    frames: int
    pixels: int


def read_header(path: str | os.PathLike) -> Header:
    """The ``Header`` of an image file, without decoding its pixels. Raises as ``read_image`` for
    what the headers show (not an image, unreadable, a single frame over the bomb limit)."""
    def decode(img: Image.Image) -> Header:
        width, height = img.size
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # (a quarter turn)
            width, height = height, width
        frames = 1 if img.format == "MPO" else getattr(img, "n_frames", 1)  # (MPO: a photo and its previews)
        return Header(img.format, (width, height), frames, frame_pixels(img))

    return _decode(path, decode)


def frame_pixels(img: Image.Image) -> int:
    """The pixels of all frames (pages) of the opened, unloaded ``img``, from the headers alone."""
    count = getattr(img, "n_frames", 1)
    if count < 2 or img.format not in ("TIFF", "MPO"):  # (animations: every frame is the canvas size)
        return count * img.width * img.height
    position, total = img.tell(), 0
    for index in range(count):  # pages may differ in size
        img.seek(index)
        total += img.width * img.height
    img.seek(position)
    return total


def check_frame_pixels(img: Image.Image) -> None:
    """Raise ``frames_bomb``'s error for the opened, unloaded ``img``."""
    count = getattr(img, "n_frames", 1)
    error = frames_bomb(count, frame_pixels(img) if count > 1 else 0)
    if error is not None:
        raise error


def frames_bomb(count: int, pixels: int) -> Image.DecompressionBombError | None:
    """Pillow's DecompressionBombError where ``count`` frames (> 1) hold more ``pixels`` in all than
    ``Image.MAX_IMAGE_PIXELS`` (as Pillow refuses one frame): a small file of many large frames would
    otherwise decode to gigabytes. None where they may be decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or count < 2 or pixels <= limit:
        return None
    return Image.DecompressionBombError(f"{count} frames hold {pixels} pixels in all, over the limit of {limit} "
                                        "pixels: could be a decompression bomb DOS attack")


def refused(path: str | os.PathLike, exc: Exception) -> ImageReadError:
    """The error for a file over the decompression-bomb limit."""
    return ImageReadError(f"{path}: refused: {exc} (raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file)")


def check_openable(path: str | os.PathLike) -> None:
    """The check before opening ``path`` (opening a FIFO would block forever): ImageReadError naming it
    unless it is a non-empty regular file.

    Example:
        >>> check_openable("/")
        Traceback (most recent call last):
        downscale.errors.ImageReadError: /: not an image file: not a regular file (a folder, FIFO, socket or device)
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{path}: not an image file: not a regular file (a folder, FIFO, socket or device)")
    if info.st_size == 0:
        raise ImageReadError(f"{path}: not an image file: it is empty (0 bytes)")


def _decode(path: str | os.PathLike, decode: Callable[[Image.Image], T]) -> T:
    """``decode(Image.open(path))``, with every failure raised as an ImageReadError naming the file."""
    check_openable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return decode(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refused(path, exc) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file Pillow can decode") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated/corrupt data, permissions, ...
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ImageReadError(f"{path}: cannot read: {cause}") from None
    except Exception as exc:  # Pillow's decoders raise other types on some corrupt data (struct.error, ...)
        raise ImageReadError(f"{path}: cannot decode: {type(exc).__name__}: {exc}") from None


def _draft(img: Image.Image, most: int) -> int:
    """Ask the decoder of the unloaded ``img`` for the largest exact scale ``1/s``, ``s <= most`` (JPEG only)."""
    width, height = img.size
    scale = next((s for s in (8, 4, 2) if s <= most and width % s == 0 and height % s == 0), 1)
    if scale == 1 or img.draft(None, (width // scale, height // scale)) is None:
        return 1  # (draft is None for formats that cannot decode reduced)
    return width // img.width  # = scale, which divides both sides, so the reduced image is exact


# EXIF orientation -> the transpose that makes the image upright (the table of ImageOps.exif_transpose).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


# Each of those transposes as (swap height and width, then flip rows, flip columns): the same geometry for
# arrays and tensors (``jpeg.upright``), from the one table above.
TRANSPOSE_AXES = {
    Image.Transpose.FLIP_LEFT_RIGHT: (False, False, True), Image.Transpose.ROTATE_180: (False, True, True),
    Image.Transpose.FLIP_TOP_BOTTOM: (False, True, False), Image.Transpose.TRANSPOSE: (True, False, False),
    Image.Transpose.ROTATE_270: (True, False, True), Image.Transpose.TRANSVERSE: (True, True, True),
    Image.Transpose.ROTATE_90: (True, True, False),
}


def upright_transpose(orientation: int) -> Image.Transpose | None:
    """The PIL transpose that makes an image with EXIF ``orientation`` (1-8) upright; None for 1 (already
    upright) and for values outside 1-8 (ignored, as Pillow does)."""
    return _UPRIGHT.get(orientation)


def _upright(img: Image.Image) -> Image.Image:
    """``img`` with its EXIF orientation applied and the orientation tag removed (``img`` itself, not
    a copy, when it is upright already: a copy of a large photo costs as much as decoding it)."""
    method = _UPRIGHT.get(img.getexif().get(0x0112, 1))
    if method is None:
        return img
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a corrupt EXIF block Pillow can read but not rewrite: orient, then drop the block
        upright = img.transpose(method)
        upright.info.pop("exif", None)
        return upright


# PIL modes a resize takes, and the mode each is resized in (None: a palette, RGB or RGBA by its transparency).
WORKING_MODES = {
    "1": "L", "L": "L", "LA": "LA", "P": None, "PA": "RGBA", "RGB": "RGB", "RGBA": "RGBA",
    "RGBX": "RGB", "CMYK": "CMYK", "YCbCr": "RGB", "I;16": "I;16", "I;16L": "I;16", "I;16B": "I;16",
    "I;16N": "I;16", "I": "I", "F": "F",
}


def working_mode(img: Image.Image) -> str | None:
    """The mode ``img`` is resized in (by either method: E and Pillow's bicubic), None for a mode not in
    ``WORKING_MODES``: black and white as grey (a resize blends pixels), a palette as RGB, or RGBA
    where it has a transparent colour, as has a colour-keyed (PNG tRNS) grey or RGB image, 16-bit data
    as ``I;16`` whatever its byte order.

    Example:
        >>> working_mode(Image.new("P", (1, 1))), working_mode(Image.new("1", (1, 1)))
        ('RGB', 'L')
    """
    if img.mode not in WORKING_MODES:
        return None
    working = WORKING_MODES[img.mode]
    if working is None:  # palette: colours blend, so the result cannot keep the palette
        return "RGBA" if "transparency" in img.info else "RGB"
    if working in ("L", "RGB") and img.mode != "1" and img.info.get("transparency") is not None:
        return working + "A"  # a colour key: its pixels become transparent, as for palettes
    return working


def to_working_mode(img: Image.Image) -> Image.Image:
    """``img`` converted to its ``working_mode`` (``img`` itself where it is in that mode already or its
    mode is not one of ``WORKING_MODES``); 16-bit data by value (Pillow's convert clips big-endian data).

    Example:
        >>> to_working_mode(Image.new("P", (2, 2))).mode
        'RGB'
    """
    mode = working_mode(img)
    if mode is None or mode == img.mode:
        return img
    if mode == "I;16":
        return Image.fromarray(np.asarray(img).astype(np.uint16))
    return img.convert(mode)


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite an image with alpha onto white, for formats without transparency."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _icc_space(profile: bytes) -> bytes:
    """The data colour space an ICC profile describes (its header's bytes 16-20: b"RGB ", b"GRAY", ...)."""
    return bytes(profile[16:20])


def _saveable(img: Image.Image, fmt: str) -> Image.Image:
    modes = _SAVE_MODES.get(fmt)
    if fmt == "GIF" and img.mode in ("RGBA", "LA", "PA"):
        return _gif_palette(img)
    if modes is None or img.mode in modes:
        return img
    if img.mode in ("I;16", "I", "F"):  # high bit depth -> 8 bit, scaling instead of clipping
        scale = 257.0 if img.mode != "F" else 1.0
        return _saveable(Image.fromarray(np.clip(np.asarray(img) / scale, 0, 255).round().astype(np.uint8)), fmt)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        return img.convert("RGBA") if "RGBA" in modes else _flatten_alpha(img)
    return img.convert("RGB") if "RGB" in modes else img.convert("L")


def _gif_palette(img: Image.Image) -> Image.Image:
    """A palette image for GIF, whose transparency is one palette index: colours quantised to at most
    255 entries, index 255 for the pixels with alpha below half (Pillow's own RGBA -> P drops it)."""
    rgba = img.convert("RGBA")
    rgb = rgba.convert("RGB")
    exact = rgb.getcolors(255)  # at most 255 colours: keep them exactly (median cut would move them)
    if exact:
        palette = [v for _, colour in exact for v in colour]
        reference = Image.new("P", (1, 1))
        reference.putpalette(palette + [0] * (768 - len(palette)))
        out = rgb.quantize(palette=reference, dither=Image.Dither.NONE)
    else:
        out = rgb.quantize(255)
    palette = out.getpalette()[: 255 * 3]
    out.putpalette(palette + [0] * (768 - len(palette)))
    out.paste(255, mask=rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0))
    out.info["transparency"] = 255
    return out


def write_image(
    img: Image.Image | Sequence[Image.Image], path: str | os.PathLike, *, fmt: str, quality: int = 90,
    icc_profile: bytes | None = None, overwrite: bool = False, timing: dict | None = None, lossless: bool = False,
) -> bool:
    """Encode ``img`` as ``fmt`` (a Pillow format name) to ``path`` atomically.

    ``img`` may be a list of full frames (an animation or pages, see ``read_frames``) for formats
    that store several (``MULTI_FRAME_FORMATS``), with ``timing``: ``{"duration": [ms, ...], "loop":
    n}``, each key passed on where the format has it (a missing duration is ``DEFAULT_FRAME_MS``); each
    frame replaces the one before (GIF disposal 2, APNG blend source). Written by ``write_atomic``:
    returns False, leaving ``path`` untouched, if it exists (also as a symlink, even a dangling one)
    and not ``overwrite``. Modes the format cannot store are converted (alpha flattened onto white
    for JPEG, 16-bit scaled to 8-bit); ``icc_profile`` is attached only where it describes the colour
    space written (RGB, gray or CMYK). ``lossless``: WebP without loss (``quality`` is then the effort).
    """
    frames = [_saveable(frame, fmt) for frame in ([img] if isinstance(img, Image.Image) else img)]
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if lossless and fmt == "WEBP":
        options["lossless"] = True
    matches = icc_profile and all(_icc_space(icc_profile) == _MODE_SPACE.get(f.mode) for f in frames)
    options["icc_profile"] = icc_profile if matches else None  # (None: not the image's own info either)
    if len(frames) > 1:
        keys = _TIMING_KEYS.get(fmt, ())
        timing = {k: v for k, v in (timing or {}).items() if k in keys and v is not None}
        if isinstance(timing.get("duration"), (list, tuple)):
            timing["duration"] = [DEFAULT_FRAME_MS if d is None else d for d in timing["duration"]]
        options.update(save_all=True, append_images=frames[1:], **_REPLACING.get(fmt, {}), **timing)
    return write_atomic(path, lambda f: frames[0].save(f, format=fmt, **options), overwrite=overwrite)


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, overwrite: bool = False) -> bool:
    """Call ``write(file)`` on a new hidden temporary file in ``path``'s folder (created exclusively,
    never through a link, its name short enough for any file name), then move it into place, so
    ``path`` is never seen half-written. Without ``overwrite`` an existing ``path`` (also a symlink,
    even a dangling one) is left untouched and False is returned (also when another process wins the
    race); True when written. The file is open for reading too (Pillow reads back multi-page TIFFs)."""
    path = Path(path)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
        if overwrite:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic create-if-absent: never clobbers a file that appeared meanwhile
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem: check, then move (a small race remains)
            if os.path.lexists(path):
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _temporary_prefix(path: Path, pid: int) -> str:
    """``.<start of name>.<pid>.``: the name of ``path``'s temporaries by process ``pid``, less the random part."""
    stem = os.fsdecode(os.fsencode(path.name)[:_NAME_MAX - 24])  # (a cut multi-byte character survives as bytes)
    return f".{stem}.{pid}."


def _create_temporary(path: Path) -> tuple[int, Path]:
    """``(fd, name)`` of a new empty file ``.<start of name>.<pid>.<random>.tmp`` beside ``path``, created
    with O_EXCL and O_NOFOLLOW (a planted link or FIFO is never opened) and the umask's permissions
    (unlike mkstemp's 0600); the name is cut to fit NAME_MAX, the final name is not."""
    prefix = _temporary_prefix(path, os.getpid())
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}: 100 random names were taken")


def remove_temporaries(path: str | os.PathLike, pid: int) -> list[Path]:
    """Delete the temporary files of ``path`` that process ``pid`` left (it was killed while writing
    them: ``write_atomic`` removes its own otherwise); returns those deleted. Only call it for a
    process that is gone, as its temporaries are then no one else's."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(glob.escape(_temporary_prefix(path, pid)) + "????????.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed
