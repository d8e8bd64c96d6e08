"""The same faults through the API: typed errors that name the file (or the input) and the cause."""

from __future__ import annotations

import os
import re
import threading

import pytest
import torch

from downscale import learned_resize
from downscale.errors import DownscaleError, ImageReadError, ImageTooSmallError, WeightsError
from downscale.images import read_image

from .conftest import BAD, GOOD, snapshot

READ_FAULTS = [c for c in BAD if c.error.startswith(("cannot read", "not an image"))]


@pytest.mark.parametrize("case", READ_FAULTS, ids=[c.name for c in READ_FAULTS])
def test_read_image_raises_a_typed_error_naming_file_and_cause(messy, case):
    before = snapshot(messy)
    with pytest.raises(ImageReadError, match=f"^{re.escape(str(messy / case.name))}: {case.error}") as info:
        read_image(messy / case.name)
    assert isinstance(info.value, DownscaleError) and isinstance(info.value, OSError)
    assert snapshot(messy) == before


def test_read_image_refuses_folders_and_missing_files(messy):
    with pytest.raises(ImageReadError, match=f"^{re.escape(str(messy / 'folder.png'))}: not an image file: not a regular"):
        read_image(messy / "folder.png")
    with pytest.raises(ImageReadError, match="gone.png: cannot read: No such file or directory"):
        read_image(messy / "gone.png")


def test_read_image_of_a_fifo_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            read_image(fifo)
        except ImageReadError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    if reader.is_alive():  # unblock the reader (it waits for a writer), then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_image blocked on a FIFO")
    assert outcome == [f"{fifo}: not an image file: not a regular file (a folder, FIFO, socket or device)"]


@pytest.mark.parametrize("case", GOOD, ids=[c.name for c in GOOD])
def test_learned_resize_takes_every_decodable_file(messy, case):
    img = read_image(messy / case.name)
    thumb = learned_resize(img, 2)
    palette_mode = "RGBA" if "transparency" in img.info else "RGB"  # documented: palettes come back as colour
    assert (thumb.size, thumb.mode) == (case.size, palette_mode if img.mode == "P" else img.mode)


@pytest.mark.parametrize("name, ratio, message", [("tiny.png", 2, "a 1x1 image is too small for ratio 2"),
                                                  ("strip.png", 4, "a 3x10000 image is too small for ratio 4")])
def test_images_smaller_than_the_ratio_raise_image_too_small(messy, name, ratio, message):
    with pytest.raises(ImageTooSmallError, match=f"{message}: each side needs at least {ratio} pixels"):
        learned_resize(read_image(messy / name), ratio)


def test_learned_resize_refuses_registered_weights_whose_sha256_differs(tampered_weights):
    name, path = tampered_weights
    for weights in (None, name):  # the registry default for ratio 2, and by name
        with pytest.raises(WeightsError, match=f"^{re.escape(str(path))}: sha256 does not match the registry"):
            learned_resize(torch.rand(3, 8, 8), 2, weights=weights)


def test_learned_resize_refuses_a_pickle_that_runs_code(evil_weights):
    evil, marker = evil_weights
    with pytest.raises(WeightsError, match=f"^{re.escape(str(evil))}: not a loadable weights file"):
        learned_resize(torch.rand(3, 8, 8), 2, weights=evil)
    assert not marker.exists()
