"""``downscale convert --device cuda``: JPEG photos decoded, resized by E and encoded as batches of tensors.

On CUDA, torchvision decodes and encodes with nvJPEG and E runs on the uint8 batch (the "area" E's Triton
kernels, see ``downscale.kernels``), so pixels cross to the host only as compressed files. The same
functions run on CPU tensors (libjpeg-turbo). Output matches ``convert.convert_batch``: EXIF orientation
applied and the tag dropped, the ICC profile kept, atomic writes, one ``Result`` per file. Files this path
does not take (other formats, grey or CMYK JPEGs, anything that fails to decode here) go through
``convert_batch``, which also words their errors.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image

from .convert import Options, Result, Task, batched, convert_batch, settled_result, store_result
from .images import TRANSPOSE_AXES, check_openable, upright_transpose, write_atomic, write_image

__all__ = ["decode_jpegs", "encode_jpegs", "with_icc", "upright", "convert_jpegs"]

_SOI = b"\xff\xd8"
_ICC_MARKER = b"ICC_PROFILE\x00"
_ICC_CHUNK = 65519  # bytes of profile per APP2 segment: 65535 - 2 (length) - 12 (marker) - 2 (sequence, count)


@contextlib.contextmanager
def _codecs():
    """torchvision's JPEG codecs, without their deprecation warning (TorchCodec supersedes them; this
    package pins torchvision, and nvJPEG batches are what the GPU path needs)."""
    from torchvision import io as tvio

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
        yield tvio


def decode_jpegs(data: list[bytes], device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """JPEG files' bytes -> ``[3, H, W]`` uint8 RGB tensors on ``device`` (nvJPEG on CUDA, in one batch),
    as stored (EXIF orientation is not applied: see ``upright``). Raises RuntimeError if any fails."""
    encoded = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in data]
    with _codecs() as tvio:
        return tvio.decode_jpeg(encoded, mode=tvio.ImageReadMode.RGB, device=device)


def encode_jpegs(images: list[torch.Tensor], quality: int = 90,
                 icc_profiles: list[bytes | None] | None = None) -> list[bytes]:
    """``[3, H, W]`` uint8 tensors (on one device: nvJPEG on CUDA, in one batch) -> JPEG files' bytes at
    ``quality`` (1-100; 4:2:0 chroma, as Pillow's default), each with its ICC profile where given."""
    with _codecs() as tvio:
        encoded = tvio.encode_jpeg(images, quality=quality)
    icc_profiles = icc_profiles or [None] * len(images)
    return [with_icc(e.cpu().numpy().tobytes(), icc) for e, icc in zip(encoded, icc_profiles)]


def with_icc(jpeg: bytes, icc: bytes | None) -> bytes:
    """``jpeg`` with ``icc`` embedded as APP2 ``ICC_PROFILE`` segments (the ICC specification's layout),
    after the start marker and the JFIF header where Pillow and libjpeg put them; ``jpeg`` if no ``icc``."""
    if not icc:
        return jpeg
    at = 2
    if jpeg[2:4] == b"\xff\xe0":  # the JFIF APP0 segment stays first
        at += 2 + struct.unpack(">H", jpeg[4:6])[0]
    chunks = [icc[i : i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
    if len(chunks) > 255:
        raise ValueError(f"ICC profile of {len(icc)} bytes is too large to embed in a JPEG")
    segments = b"".join(b"\xff\xe2" + struct.pack(">H", 2 + len(_ICC_MARKER) + 2 + len(chunk)) + _ICC_MARKER
                        + bytes([n, len(chunks)]) + chunk for n, chunk in enumerate(chunks, 1))
    return jpeg[:at] + segments + jpeg[at:]


def upright(img: torch.Tensor, orientation: int) -> torch.Tensor:
    """``[..., H, W]`` with the EXIF ``orientation`` (1-8) applied, as ``PIL.ImageOps.exif_transpose``
    (the same table: ``images.upright_transpose``)."""
    method = upright_transpose(orientation)
    if method is None:
        return img
    swap, flip_rows, flip_cols = TRANSPOSE_AXES[method]
    img = img.transpose(-2, -1) if swap else img
    dims = [dim for dim, flip in ((-2, flip_rows), (-1, flip_cols)) if flip]
    return img.flip(dims) if dims else img


class _Photo(NamedTuple):
    """One JPEG this path takes: its task, bytes, EXIF orientation, ICC profile and output format."""

    task: Task
    data: bytes
    orientation: int
    icc: bytes | None
    fmt: str


def _photo(task: Task, opts: Options) -> _Photo | None:
    """The task as a ``_Photo`` if it is a colour JPEG Pillow would read without complaint, else None."""
    try:
        check_openable(task.source)
        data = Path(task.source).read_bytes()
        if not data.startswith(_SOI):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # the header only: size, mode, EXIF, ICC
                if img.format != "JPEG" or img.mode != "RGB":
                    return None
                orientation = img.getexif().get(0x0112, 1)
                icc = img.info.get("icc_profile")
    except Exception:  # unreadable, not an image, a bomb, a bad EXIF block: convert_batch says why
        return None
    fmt = "JPEG" if opts.fmt == "keep" else opts.fmt.upper()
    return _Photo(task, data, orientation if orientation in range(1, 9) else 1, icc, fmt)


def convert_jpegs(tasks: list[Task], opts: Options) -> list[Result]:
    """``convert.convert_batch`` for ``opts.method == "learned"`` at a fixed ratio, with colour JPEGs
    decoded, resized and (for JPEG output) encoded on ``opts.device`` in batches: one decode and one
    encode call for all of them, one call of E per input size. Other files go through ``convert_batch``.
    Never raises for a bad file."""
    if opts.method != "learned" or opts.ratio == "auto":
        return convert_batch(tasks, opts)
    results: list[Result | None] = [None] * len(tasks)
    taken: list[tuple[int, _Photo]] = []
    for i, task in enumerate(tasks):
        results[i] = settled_result(task, opts)
        photo = _photo(task, opts) if results[i] is None else None
        if photo is not None:
            taken.append((i, photo))
    thumbs = _thumbnails([photo for _, photo in taken], opts)
    done = [(i, photo, thumb) for (i, photo), thumb in zip(taken, thumbs) if thumb is not None]
    jpeg = [k for k, (_, photo, _) in enumerate(done) if photo.fmt == "JPEG"]
    encoded = dict(zip(jpeg, _encode([done[k][2] for k in jpeg], [done[k][1].icc for k in jpeg], opts.quality)))
    for k, (i, photo, thumb) in enumerate(done):
        results[i] = _write(photo, thumb, encoded.get(k), opts)
    rest = [i for i, r in enumerate(results) if r is None]  # not taken here, or failed here
    for i, result in zip(rest, convert_batch([tasks[i] for i in rest], opts)):
        results[i] = result
    return results


def _thumbnails(photos: list[_Photo], opts: Options) -> list[torch.Tensor | None]:
    """Each photo's upright thumbnail, ``[3, h, w]`` uint8 on the device; None where any step failed."""
    from .resize import learned_resize

    if not photos:
        return []
    try:
        images = decode_jpegs([p.data for p in photos], opts.device)
    except Exception:  # one bad file fails the batch: decode one by one
        images = []
        for p in photos:
            try:
                images.append(decode_jpegs([p.data], opts.device)[0])
            except Exception:
                images.append(None)
    images = [None if img is None else upright(img, p.orientation) for img, p in zip(images, photos)]
    decoded = [i for i, img in enumerate(images) if img is not None]
    thumbs: list[torch.Tensor | None] = [None] * len(photos)
    # one call of E per input size; a size that fails (e.g. too small for the ratio) is left to
    # convert_batch, which words the error per file
    for i, thumb in zip(decoded, batched([images[i] for i in decoded], lambda img: tuple(img.shape[-2:]),
                                         lambda group: list(learned_resize(torch.stack(group), opts.ratio, fov=opts.fov,
                                                                           weights=opts.weights, device=opts.device)))):
        thumbs[i] = thumb
    return thumbs


def _encode(thumbs: list[torch.Tensor], iccs: list[bytes | None], quality: int) -> list[bytes | None]:
    """``encode_jpegs`` in one batch, else one by one, with None for a thumbnail that fails."""
    if not thumbs:
        return []
    try:
        return encode_jpegs(thumbs, quality, iccs)
    except Exception:
        encoded = []
        for thumb, icc in zip(thumbs, iccs):
            try:
                encoded.append(encode_jpegs([thumb], quality, [icc])[0])
            except Exception:
                encoded.append(None)
        return encoded


def _write(photo: _Photo, thumb: torch.Tensor, jpeg: bytes | None, opts: Options) -> Result | None:
    """Write the thumbnail: ``jpeg`` as it is, or (other formats) through Pillow; None where this path
    failed before writing (e.g. the JPEG encode), so that convert_batch retries the file."""
    size = (thumb.shape[-1], thumb.shape[-2])
    try:
        if photo.fmt == "JPEG":
            if jpeg is None:
                return None
            return store_result(photo.task, lambda dest: write_atomic(dest, lambda f: f.write(jpeg),
                                                                overwrite=opts.overwrite), size, opts.ratio)
        pil = Image.fromarray(thumb.permute(1, 2, 0).cpu().numpy())
        return store_result(photo.task, lambda dest: write_image(pil, dest, fmt=photo.fmt, quality=opts.quality,
                                                           icc_profile=photo.icc, overwrite=opts.overwrite),
                      size, opts.ratio)
    except Exception:  # not a write error (store_result words those): convert_batch retries the file
        return None
