"""The messy folder of issue 5: each fault a batch tool meets in the wild, and the outcome it must have.

``CASES`` is the single table the CLI and API fault tests share. Every image is small (ratio 2 unless
a test says otherwise), so the whole suite stays fast.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from downscale import pretrained, resize
from downscale.cli import main

RNG_SEED = 0


def noise(height: int, width: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(RNG_SEED).integers(0, 256, (height, width, 3), np.uint8))


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _corrupt_png(path: Path) -> None:
    data = bytearray(_encoded(noise(24, 32), "PNG"))
    start = data.find(b"IDAT") + 10
    data[start : start + 40] = bytes(40)  # zeroes inside the compressed pixel stream
    path.write_bytes(bytes(data))


def _palette_with_transparency(path: Path) -> None:
    img = noise(12, 20).convert("P")
    img.save(path, transparency=int(np.asarray(img)[0, 0]))  # the top-left colour is see-through


def _exif_orientation_6(path: Path, corrupt: bool = False) -> None:
    img = Image.new("RGB", (20, 12), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 12))  # left half blue: it is the top half once upright
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    exif[0x010F] = "Cam"  # Make, an ASCII entry (type 2)
    data = _encoded_with(img, exif)
    if corrupt:  # retag Make as PlanarConfiguration, a number: Pillow reads "Cam" but cannot write it back
        assert data.count(b"\x01\x0f\x00\x02") == 1
        data = data.replace(b"\x01\x0f\x00\x02", b"\x01\x1c\x00\x02")
    path.write_bytes(data)


def _encoded_with(img: Image.Image, exif: Image.Exif) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=95)
    return buf.getvalue()


def _transparent_gif(path: Path) -> None:
    rgba = np.zeros((12, 20, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:, :10, 3] = 0  # left half see-through, right half red
    Image.fromarray(rgba).save(path)


def _fits_named_jpg(path: Path) -> None:
    """A 4x4 FITS image (a format Pillow reads but cannot write) under a .jpg name."""
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
             "NAXIS1  =                    4", "NAXIS2  =                    4", "END"]
    path.write_bytes("".join(c.ljust(80) for c in cards).ljust(2880).encode() + bytes(2880))


@dataclass(frozen=True)
class Case:
    name: str  # file name in the messy folder
    make: Callable[[Path], None]
    error: str | None = None  # regex for the cause after "<file>: "; None: the file converts
    size: tuple[int, int] | None = None  # (width, height) of the ratio-2 thumbnail
    mode: str | None = None  # its mode with --method bicubic (and learned, unless learned_mode)
    learned_mode: str | None = None


CASES = [
    Case("empty.jpg", lambda p: p.write_bytes(b""), error="not an image file: it is empty"),
    Case("truncated.jpg", lambda p: p.write_bytes(_encoded(noise(64, 64), "JPEG")[:800]),
         error="cannot read: (?i:.*truncated)"),
    Case("corrupt.png", _corrupt_png, error="cannot read: broken data stream"),
    Case("text.jpg", lambda p: p.write_text("not a picture, just text\n"), error="not an image file Pillow can decode"),
    Case("fits.jpg", _fits_named_jpg, error="Pillow reads FITS files but cannot write them; use --format png"),
    Case("tiny.png", lambda p: Image.new("RGB", (1, 1)).save(p), error="a 1x1 image is too small for ratio 2"),
    Case("gray16.png", lambda p: Image.fromarray(np.full((12, 20), 40000, np.uint16)).save(p),
         size=(10, 6), mode="I;16"),
    Case("bilevel.png", lambda p: noise(12, 20).convert("1").save(p), size=(10, 6), mode="L", learned_mode="1"),
    Case("palette-transparent.png", _palette_with_transparency, size=(10, 6), mode="RGBA"),
    Case("gray-alpha.png", lambda p: noise(12, 20).convert("LA").save(p), size=(10, 6), mode="LA"),
    Case("rgba.png", lambda p: noise(12, 20).convert("RGBA").save(p), size=(10, 6), mode="RGBA"),
    Case("cmyk.jpg", lambda p: noise(12, 20).convert("CMYK").save(p), size=(10, 6), mode="CMYK"),
    Case("transparent.gif", _transparent_gif, size=(10, 6), mode="P"),
    Case("gray.jpg", lambda p: noise(12, 20).convert("L").save(p), size=(10, 6), mode="L"),
    Case("strip.png", lambda p: noise(3, 10000).save(p), size=(5000, 1), mode="RGB"),
    Case("exif6.jpg", _exif_orientation_6, size=(6, 10), mode="RGB"),
    Case("exif6-corrupt.jpg", lambda p: _exif_orientation_6(p, corrupt=True), size=(6, 10), mode="RGB"),
    Case("ünï cödé 写真.png", lambda p: noise(12, 20).save(p), size=(10, 6), mode="RGB"),
]
BAD = [c for c in CASES if c.error]
GOOD = [c for c in CASES if not c.error]


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (links by their target, not followed), by relative path."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def assert_error_line(output: str, path: Path, cause: str) -> None:
    """Exactly one ``error: <path>: <cause>`` line names the file."""
    pattern = re.compile(f"error: {re.escape(str(path))}: {cause}")
    hits = [line for line in error_lines(output) if pattern.match(line)]
    assert len(hits) == 1, f"want one error line for {path} matching {cause!r}; got:\n{output}"


def assert_no_leftovers(outdir: Path) -> None:
    """No temporary files remain, and every output decodes in full."""
    for path in outdir.rglob("*"):
        assert not path.name.startswith("."), f"temporary file left behind: {path}"
        if path.is_file():
            with Image.open(path) as img:
                img.load()


def run_cli(*args) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def messy(tmp_path) -> Path:
    """A folder holding every case of ``CASES`` plus ``folder.png/``, a folder with an image suffix."""
    root = tmp_path / "messy"
    root.mkdir()
    for case in CASES:
        case.make(root / case.name)
    (root / "folder.png").mkdir()
    noise(8, 8).save(root / "folder.png" / "inner.png")
    return root


@pytest.fixture()
def tampered_weights(tmp_path, monkeypatch):
    """``(name, file)``: the registry's default ratio-2 downscaler with one bit flipped in its file."""
    copy = tmp_path / "weights"
    shutil.copytree(pretrained.weights_dir(), copy)
    name = pretrained.default_weights(2)
    path = copy / pretrained.list_pretrained()[name]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "weights_dir", lambda: copy)
    # Loaded weights are cached by name per process: start and end with empty caches.
    resize._cached_downscaler.cache_clear()
    yield name, path
    resize._cached_downscaler.cache_clear()


class _Payload:
    """Unpickling this creates a folder: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.fixture()
def evil_weights(tmp_path):
    """``(file, marker)``: a torch.save file shaped like weights whose state_dict runs code when unpickled."""
    evil, marker = tmp_path / "evil.pt", tmp_path / "code-ran"
    torch.save({"config": {"ratio": 2, "width": 4}, "state_dict": _Payload(marker)}, evil)
    return evil, marker
