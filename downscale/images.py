"""Image file I/O for the CLI: decode (EXIF orientation, modes, ICC profile) and atomic encode."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError

# Suffixes `downscale convert` picks up in folders (files named on the command line are always tried).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm"}
FORMAT_SUFFIX = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
# Modes each output format can store; anything else is converted (see _saveable).
_SAVE_MODES = {
    "JPEG": {"L", "RGB", "CMYK"},
    "WEBP": {"RGB", "RGBA"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "BMP": {"1", "L", "P", "RGB"},
    "GIF": {"L", "P", "RGB", "RGBA"},  # Pillow quantises RGB(A) to an adaptive palette, keeping transparency
}


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
    reduced: other formats, ``most < 2``, or sides no scale divides). Raises as ``read_image``.
    """
    try:
        info = os.stat(path)  # before opening: opening a FIFO would block forever
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{path}: not an image file: not a regular file (a folder, FIFO, socket or device)")
    if info.st_size == 0:
        raise ImageReadError(f"{path}: not an image file: it is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                scale = _draft(img, most)
                img.load()
                upright = _upright(img)
                upright.format = img.format
                return upright, scale
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(
            f"{path}: refused: {exc} (raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file)"
        ) from None
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


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite an image with alpha onto white, for formats without transparency."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _saveable(img: Image.Image, fmt: str) -> Image.Image:
    modes = _SAVE_MODES.get(fmt)
    if modes is None or img.mode in modes:
        return img
    if img.mode in ("I;16", "I", "F"):  # high bit depth -> 8 bit, scaling instead of clipping
        scale = 257.0 if img.mode != "F" else 1.0
        return _saveable(Image.fromarray(np.clip(np.asarray(img) / scale, 0, 255).round().astype(np.uint8)), fmt)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        return img.convert("RGBA") if "RGBA" in modes else _flatten_alpha(img)
    return img.convert("RGB") if "RGB" in modes else img.convert("L")


def write_image(
    img: Image.Image, path: str | os.PathLike, *, fmt: str, quality: int = 90,
    icc_profile: bytes | None = None, overwrite: bool = False,
) -> bool:
    """Encode ``img`` as ``fmt`` (a Pillow format name) to ``path`` atomically.

    Written by ``write_atomic``: returns False, leaving ``path`` untouched, if it exists and not
    ``overwrite``. Modes the format cannot store are converted (alpha flattened onto white for JPEG,
    16-bit scaled to 8-bit).
    """
    img = _saveable(img, fmt)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    return write_atomic(path, lambda f: img.save(f, format=fmt, **options), overwrite=overwrite)


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, overwrite: bool = False) -> bool:
    """Call ``write(file)`` on a hidden temporary file in ``path``'s folder, then move it into place, so
    ``path`` is never seen half-written. Without ``overwrite`` an existing ``path`` is left untouched
    and False is returned (also when another process wins the race); True when written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        if overwrite:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic create-if-absent: never clobbers a file that appeared meanwhile
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem: check, then move (a small race remains)
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)
