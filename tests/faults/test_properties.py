"""Property-based fuzzing of ``learned_resize`` and ``LearnedResize`` (hypothesis).

Drawn: the input's kind (numpy, tensor, PIL), shape (batch dimensions, including empty ones),
dtype (also big-endian and half precision), layout (negative strides, steps, transposes,
broadcast views, channels_last), PIL mode, and ratio or size (also invalid ones). Checked:
either a result or a DownscaleError, never another exception; the output-size rule; type, dtype,
device and mode kept; values in range; a flat colour comes back exactly.

The default profile keeps the run short (small images, a bounded number of examples);
``HYPOTHESIS_PROFILE=thorough`` draws ten times as many, with fresh seeds.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision import tv_tensors

from downscale import LearnedResize, learned_resize
from downscale.errors import DownscaleError, ImageTooSmallError, WeightsError
from downscale.sizes import output_size

settings.register_profile("default", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SIDE = st.integers(1, 20)
RATIO = st.one_of(
    st.sampled_from([1, 2, 3, 4, 8, 1.5, 2.5]),
    st.floats(1, 12, allow_nan=False),
    st.sampled_from([0.5, 0, -2, math.inf, math.nan, True, "2", "fast"]),  # refused
)


# registered weights -> (the ratio E runs at, whether a flat colour comes back exactly: E's correction is
# zero, or the "area" layout's, which cannot move flat colours); None: the default for each ratio
WEIGHTS = {None: (None, True), "bicubic-identity-r2-v0": (2, True), "area-identity-r4-v0": (4, True),
           "thumbnet-mobilenet_v2-imagenette-r4-v1": (4, False), "frozen-mobilenet_v2-r2-v4": (2, True)}


@st.composite
def requests(draw, with_weights=True):
    """``(ratio, size, weights)`` keyword arguments: a ratio, a size (also larger than images), odd mixes."""
    kind = draw(st.sampled_from(["ratio", "ratio", "ratio", "size", "both", "bad size"]))
    if kind == "ratio":
        request = {"ratio": draw(RATIO)}
    elif kind == "bad size":
        request = {"size": draw(st.sampled_from([(4.5, 3), (4,), (2, 2, 2), "88", (0, 3), (math.inf, 2), 7]))}
    else:
        request = {"size": (draw(st.integers(1, 24)), draw(st.integers(1, 24)))}
        if kind == "both":
            request["ratio"] = 2
    weights = draw(st.sampled_from(sorted(WEIGHTS, key=str))) if with_weights else None
    return {**request, "weights": weights} if weights else request


def expected_size(height: int, width: int, request: dict) -> tuple[int, int] | type[Exception]:
    """The documented output size, or the DownscaleError subclass the call must raise."""
    ratio, size = request.get("ratio"), request.get("size")
    if size is not None:
        valid = (ratio is None and isinstance(size, tuple) and len(size) == 2
                 and all(isinstance(s, int) and s >= 1 for s in size))
        if not valid or size[0] > height or size[1] > width:
            return DownscaleError
        factor = min(height / size[0], width / size[1])
    else:
        valid = not isinstance(ratio, (bool, str)) and math.isfinite(ratio) and ratio >= 1
        if not valid:
            return DownscaleError
        try:
            size = output_size(height, width, ratio)
        except ValueError:
            return ImageTooSmallError
        factor = ratio
    weights_ratio = WEIGHTS[request.get("weights")][0]
    if weights_ratio is not None and weights_ratio > factor * (1 + 1e-9):
        return WeightsError  # weights for a larger reduction than asked
    return size


def exact_flat(request: dict) -> bool:
    return WEIGHTS[request.get("weights")][1]


def call(img, request: dict, expect):
    """``learned_resize(img, **request)``: the result, or None where the expected error was raised."""
    if isinstance(expect, type):
        with pytest.raises(expect):
            learned_resize(img, **request)
        return None
    return learned_resize(img, **request)


NUMPY_DTYPES = [np.dtype(t) for t in ("u1", "<u2", ">u2", "<f4", ">f4", "<f8", "f2")]


@st.composite
def numpy_images(draw):
    """``(array, flat)``: any dtype, 2-D or ``[..., H, W, C]``, any strides; ``flat``: one colour."""
    dtype = draw(st.sampled_from(NUMPY_DTYPES))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    lead = tuple(draw(st.lists(st.integers(0, 2), max_size=2))) if channels else ()
    height, width = draw(SIDE), draw(SIDE)
    shape = (*lead, height, width) + ((channels,) if channels else ())
    flat = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = 255 if dtype.itemsize == 1 else 65535 if dtype.kind == "u" else 1
    if flat:
        colour = rng.integers(0, top + 1, channels or 1) if dtype.kind == "u" else rng.random(channels or 1)
        array = np.broadcast_to(colour.reshape(-1) if channels else colour[0], shape).astype(dtype)
    else:
        array = (rng.integers(0, top + 1, shape) if dtype.kind == "u" else rng.random(shape)).astype(dtype)
    view = draw(st.sampled_from(["none", "flip", "step", "transpose", "broadcast", "slice"]))
    if view == "flip":
        array = array[..., ::-1, :] if channels else array[:, ::-1]
        if channels:
            array = array[..., ::-1]  # channels reversed too (BGR <-> RGB): negative strides on two axes
    elif view == "step":
        bigger = np.repeat(np.repeat(array, 2, axis=-3 if channels else 0), 2, axis=-2 if channels else 1)
        array = bigger[..., ::2, ::2, :] if channels else bigger[::2, ::2]
    elif view == "transpose":
        array = np.swapaxes(array, -3, -2) if channels else array.T
    elif view == "broadcast" and channels:
        array = np.broadcast_to(array, (2, *array.shape))  # stride 0 on the new batch axis
    elif view == "slice":
        array = np.pad(array, [(0, 0)] * (array.ndim - (3 if channels else 2)) + [(1, 1), (1, 1)]
                       + ([(0, 0)] if channels else []))[..., 1:-1, 1:-1, :] if channels else \
            np.pad(array, 1)[1:-1, 1:-1]
    return array, flat


@given(numpy_images(), requests())
def test_numpy_inputs(drawn, request):
    array, flat = drawn
    height, width = array.shape[-3:-1] if array.ndim >= 3 else array.shape
    before = array.copy()  # (no NaN is drawn)
    out = call(array, request, expected_size(height, width, request))
    assert np.array_equal(array, before)  # never written
    if out is None:
        return
    size = expected_size(height, width, request)
    assert isinstance(out, np.ndarray) and out.dtype == array.dtype.newbyteorder("=")
    lead = array.shape[:-3] if array.ndim >= 3 else ()
    assert out.shape == (*lead, *size, *(array.shape[-1:] if array.ndim >= 3 else ()))
    if out.dtype.kind == "f":
        assert np.isfinite(out).all() and out.min(initial=0) >= 0 and out.max(initial=0) <= 1
    if flat and out.size and exact_flat(request):
        first = np.asarray(array).reshape(-1, *(array.shape[-1:] if array.ndim >= 3 else ()))[0]
        tolerance = 0 if out.dtype.kind == "u" else max(4 * np.finfo(out.dtype).eps, 2e-5)  # (alpha: divided back out)
        error = np.abs(out.astype(np.float64) - first.astype(np.float64))
        if array.ndim >= 3 and array.shape[-1] in (2, 4) and first[-1] == 0:
            error = error[..., -1:]  # fully transparent: no colour to keep
        assert error.max() <= tolerance


TORCH_DTYPES = [torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64]


@st.composite
def tensor_images(draw):
    dtype = draw(st.sampled_from(TORCH_DTYPES))
    channels = draw(st.integers(1, 4))
    lead = tuple(draw(st.lists(st.integers(0, 2), max_size=2)))
    shape = (*lead, channels, draw(SIDE), draw(SIDE))
    flat = draw(st.booleans())
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    top = {torch.uint8: 255, torch.uint16: 65535}.get(dtype)
    if flat:
        colour = torch.rand(channels, 1, 1, generator=generator)
        x = colour.expand(shape).clone()
    else:
        x = torch.rand(shape, generator=generator)
    x = (x * top).round().to(dtype) if top else x.to(dtype)
    view = draw(st.sampled_from(["none", "transpose", "step", "channels_last", "expand", "grad"]))
    if view == "transpose":
        x = x.transpose(-1, -2)
    elif view == "step":
        x = x.repeat_interleave(2, dim=-1)[..., ::2]
    elif view == "channels_last" and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    elif view == "expand":
        x = x.unsqueeze(0).expand(2, *x.shape)  # stride 0
    elif view == "grad" and x.is_floating_point():
        x = x.clone().requires_grad_(True)
    return x, flat


@given(tensor_images(), requests())
def test_tensor_inputs(drawn, request):
    x, flat = drawn
    height, width = x.shape[-2:]
    before = x.detach().clone()
    out = call(x, request, expected_size(height, width, request))
    assert torch.equal(x.detach(), before)
    if out is None:
        return
    size = expected_size(height, width, request)
    assert isinstance(out, torch.Tensor) and out.dtype == x.dtype and out.device == x.device
    assert out.shape == (*x.shape[:-2], *size)
    assert out.requires_grad == x.requires_grad
    if out.is_floating_point() and out.numel():
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    if flat and out.numel() and exact_flat(request):
        first = x.detach().reshape(-1, *x.shape[-3:])[0, :, :1, :1].double()
        tolerance = 0 if not x.is_floating_point() else max(4 * torch.finfo(x.dtype).eps, 2e-5)  # (alpha: divided back out)
        error = (out.detach().double() - first).abs()
        if x.shape[-3] in (2, 4) and first[-1].item() == 0:
            error = error[..., -1:, :, :]  # fully transparent: no colour to keep
        assert error.max() <= tolerance


# PIL mode -> (mode of the result, whether a flat colour must come back exactly)
PIL_MODES = {"1": "1", "L": "L", "LA": "LA", "P": "RGB", "PA": "RGBA", "RGB": "RGB", "RGBA": "RGBA",
             "RGBX": "RGBX", "CMYK": "CMYK", "YCbCr": "YCbCr", "I;16": "I;16", "I;16B": "I;16",
             "I;16L": "I;16", "I": "I", "F": "F"}


@st.composite
def pil_images(draw):
    mode = draw(st.sampled_from(sorted(PIL_MODES)))
    width, height = draw(SIDE), draw(SIDE)
    flat = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rgba = rng.integers(0, 256, (1, 1, 4) if flat else (height, width, 4), np.uint8)
    base = Image.fromarray(np.broadcast_to(rgba, (height, width, 4)).copy())
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.broadcast_to(rng.integers(0, 65536, (1, 1) if flat else (height, width)), (height, width))
        img = Image.fromarray(values.astype(np.uint16))
        if mode == "I;16B":
            img = Image.frombytes("I;16B", (width, height), values.astype(">u2").tobytes())
        elif mode == "I;16L":
            img = Image.frombytes("I;16L", (width, height), values.astype("<u2").tobytes())
        elif mode == "I":
            img = img.convert("I")
    elif mode == "F":
        img = base.convert("L").convert("F")
    elif mode == "CMYK":
        img = Image.frombytes("CMYK", (width, height), np.asarray(base).tobytes())
    elif mode in ("P", "PA"):
        img = base.convert("RGB").quantize(256) if mode == "P" else base.convert("PA")
    elif mode == "1":
        img = base.convert("L").convert("1", dither=Image.Dither.NONE)
    else:
        img = base.convert(mode)
    return img, flat


@given(pil_images(), requests())
def test_pil_inputs(drawn, request):
    img, flat = drawn
    before = img.tobytes()
    out = call(img, request, expected_size(img.height, img.width, request))
    assert img.tobytes() == before
    if out is None:
        return
    height, width = expected_size(img.height, img.width, request)
    assert isinstance(out, Image.Image) and out.mode == PIL_MODES[img.mode] and out.size == (width, height)
    if flat and exact_flat(request) and img.mode != "YCbCr":  # (YCbCr <-> RGB conversions round both ways)
        first = np.asarray(img.convert(out.mode) if img.mode in ("P", "PA") else img, np.float64)[0, 0]
        values = np.asarray(out, np.float64)
        if img.mode == "RGBX":
            values, first = values[..., :3], first[:3]  # (the padding byte is not image data)
        elif img.mode in ("LA", "PA", "RGBA") and first[-1] == 0 or img.mode == "CMYK" and first[-1] == 255:
            values, first = values[..., -1:], first[-1:]  # transparent (or K = 100%): no colour to keep
        tolerance = 255 * 4 * np.finfo(np.float32).eps if img.mode == "F" else 0
        assert np.abs(values - first).max() <= tolerance


@st.composite
def samples(draw):
    """An image in one of the types LearnedResize takes, with a box and a mask on it."""
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    kind = draw(st.sampled_from(["pil", "tensor", "tv_image", "video"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pixels = rng.integers(0, 256, (height, width, 3), np.uint8)
    if kind == "pil":
        image = Image.fromarray(pixels)
    else:
        tensor = torch.from_numpy(pixels).permute(2, 0, 1)
        image = {"tensor": tensor, "tv_image": tv_tensors.Image(tensor),
                 "video": tv_tensors.Video(tensor.expand(2, -1, -1, -1))}[kind]
    x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    box = [x0, y0, draw(st.integers(x0 + 1, width)), draw(st.integers(y0 + 1, height))]
    boxes = tv_tensors.BoundingBoxes([box], format="XYXY", canvas_size=(height, width))
    mask = tv_tensors.Mask(torch.from_numpy(rng.integers(0, 2, (height, width), np.uint8)))
    return image, boxes, mask


@given(samples(), requests())
def test_learned_resize_transform(sample, request):
    image, boxes, mask = sample
    height, width = boxes.canvas_size
    expect = expected_size(height, width, request)
    try:
        transform = LearnedResize(**request)
    except DownscaleError:
        assert isinstance(expect, type)  # refused up front: an argument no image can take
        return
    if isinstance(expect, type):
        with pytest.raises(DownscaleError):
            transform(image, boxes, mask)
        return
    out_image, out_boxes, out_mask = transform(image, boxes, mask)
    assert type(out_image) is type(image)
    out_size = (out_image.height, out_image.width) if isinstance(out_image, Image.Image) else tuple(out_image.shape[-2:])
    assert out_size == expect == tuple(out_boxes.canvas_size) == tuple(out_mask.shape[-2:])
    assert (out_boxes[:, 0::2] >= 0).all() and (out_boxes[:, 0::2] <= expect[1]).all()
    assert (out_boxes[:, 1::2] >= 0).all() and (out_boxes[:, 1::2] <= expect[0]).all()


# ---------------------------------------------------------------------------------------------
# `downscale convert` on animations and multi-page files, and `--dry-run` against the real run.
# Each example writes and converts a few tiny files, so these draw a fifth as many examples.

FEWER = settings(max_examples=max(10, settings().max_examples // 5))
COLOURS = [(255, 0, 0, 255), (0, 160, 0, 255), (0, 0, 255, 255), (250, 250, 0, 255), (0, 200, 200, 128)]


@st.composite
def animations(draw):
    """``(file name, make(path), format)``: a GIF, APNG, WebP or TIFF of 1-4 tiny frames with drawn
    durations (or none), disposal and blending, transparency, and for TIFF an EXIF orientation."""
    fmt = draw(st.sampled_from(["GIF", "PNG", "WEBP", "TIFF"]))
    count = draw(st.integers(1, 4))
    width, height = draw(st.integers(4, 12)), draw(st.integers(4, 12))
    frames = []
    for index in range(count):
        frame = Image.new("RGBA", (width, height), (0, 0, 0, 0) if draw(st.booleans()) else COLOURS[0])
        for _ in range(draw(st.integers(1, 2))):
            x0, y0 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
            box = (x0, y0, draw(st.integers(x0 + 1, width)), draw(st.integers(y0 + 1, height)))
            colour = draw(st.sampled_from(COLOURS if fmt == "PNG" else COLOURS[:4]))  # (GIF: 1-bit alpha)
            frame.paste(colour, box)
        frame.paste(COLOURS[index], (0, 0, 2, 2))  # each frame differs (writers merge identical frames)
        frames.append(frame)
    options = {}
    if fmt != "TIFF" and draw(st.booleans()):
        options["duration"] = draw(st.lists(st.integers(10, 500).map(lambda d: d // 10 * 10),
                                            min_size=count, max_size=count))
    if fmt in ("GIF", "PNG"):
        options["disposal"] = draw(st.lists(st.integers(0, 3 if fmt == "GIF" else 2), min_size=count,
                                            max_size=count))
    if fmt == "PNG":
        options["blend"] = draw(st.lists(st.integers(0, 1), min_size=count, max_size=count))
    if fmt == "TIFF":
        exif = Image.Exif()
        exif[0x0112] = draw(st.integers(1, 8))
        options["exif"] = exif
        frames = [f.convert("RGB") for f in frames]
    name = {"GIF": "a.gif", "PNG": "a.png", "WEBP": "a.webp", "TIFF": "a.tif"}[fmt]

    if count == 1:  # (Pillow takes lists only for several frames)
        options = {k: v[0] if isinstance(v, list) else v for k, v in options.items()}

    def make(path):
        frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], **options)

    return name, make, fmt


def _shown(path) -> tuple[list[np.ndarray], list]:
    """Each frame as a viewer shows it (RGBA) and its duration."""
    with Image.open(path) as img:
        shown, durations = [], []
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            img.load()
            shown.append(np.asarray(img.convert("RGBA")))
            durations.append(img.info.get("duration"))
        return shown, durations


@FEWER
@given(animations())
def test_animations_and_pages_convert_frame_by_frame(drawn):
    import tempfile
    from pathlib import Path

    from downscale.convert import Options, Task, convert_one, thumbnail
    from downscale.images import DEFAULT_FRAME_MS, read_frames

    name, make, fmt = drawn
    with tempfile.TemporaryDirectory() as folder:
        src, out = Path(folder) / name, Path(folder) / "out" / name
        make(src)
        opts = Options(method="bicubic")
        source = read_frames(src)
        result = convert_one(Task(src, out), opts)
        assert result.status == "converted", result.message
        shown, durations = _shown(out)
        wanted = [np.asarray(thumbnail(frame, opts).convert("RGBA")) for frame in source.images]
        if fmt == "GIF":  # 1-bit alpha, quantised colours: the shape of each frame, no ghost
            shown, wanted = [got[..., 3] > 0 for got in shown], [want[..., 3] >= 128 for want in wanted]
        if fmt in ("GIF", "PNG", "TIFF"):  # (TIFF, PNG: exactly the thumbnail of the frame shown, upright)
            assert all(got.shape == wanted[0].shape for got in shown)
            assert _merged(shown) == _merged(wanted)  # (a writer merges frames that come out identical)
        else:
            assert len(shown) == len(wanted)
        if fmt != "TIFF" and len(shown) == len(wanted) > 1:
            assert durations == [DEFAULT_FRAME_MS if d is None else d for d in source.timing["duration"]]


def _merged(frames: list[np.ndarray]) -> list[bytes]:
    """The frames' bytes, each run of equal frames as one."""
    merged = []
    for frame in frames:
        if not merged or merged[-1] != frame.tobytes():
            merged.append(frame.tobytes())
    return merged


ENTRIES = ["png", "jpg", "gif-anim", "empty", "text", "tiny", "exists", "folder-at-output", "dangling-link",
           "collision"]


@st.composite
def folders(draw):
    """``(entries, options)``: a folder of files of drawn kinds and the convert options to run on it."""
    entries = draw(st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=6))
    options = []
    if draw(st.booleans()):
        options.append("--overwrite")
    fmt = draw(st.sampled_from(["keep", "png", "jpeg"]))
    options += ["--format", fmt]
    if draw(st.booleans()):
        options.append("--first-frame")
    options += ["--ratio", draw(st.sampled_from(["2", "3"]))]
    if draw(st.booleans()):
        options += ["--shard", f"{draw(st.integers(0, 1))}/2"]
    return entries, options, fmt


def _build(root, entries, fmt) -> None:
    from downscale.images import FORMAT_SUFFIX

    src, out = root / "in", root / "out"
    src.mkdir()
    out.mkdir()
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 12, 3), np.uint8))
    for i, kind in enumerate(entries):
        stem = src / f"f{i}"
        path = stem.with_suffix(".jpg" if kind == "jpg" else ".gif" if kind == "gif-anim" else ".png")
        dest = out / (path.name if fmt == "keep" else path.with_suffix(FORMAT_SUFFIX[fmt]).name)
        if kind == "empty":
            path.write_bytes(b"")
        elif kind == "text":
            path.write_text("not an image")
        elif kind == "tiny":
            picture.crop((0, 0, 1, 2)).save(path)
        elif kind == "gif-anim":
            frames = [picture.convert("P"), picture.transpose(Image.Transpose.ROTATE_180).convert("P")]
            frames[0].save(path, save_all=True, append_images=frames[1:])
        else:
            picture.save(path)
        if kind == "exists":
            dest.write_bytes(b"mine")
        elif kind == "folder-at-output":
            dest.mkdir()
        elif kind == "dangling-link":
            dest.symlink_to(out / "nowhere")
        elif kind == "collision":  # a second input with the same output name
            picture.save(stem.with_suffix(".jpg"))


@FEWER
@given(folders())
def test_dry_run_predicts_the_real_run(drawn):
    import json
    import re
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from downscale.cli import main

    entries, options, fmt = drawn
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _build(root, entries, fmt)
        args = ["convert", str(root / "in"), "-o", str(root / "out"), "--method", "bicubic", *options, "--json"]
        dry = CliRunner().invoke(main, [*args, "--dry-run"])
        real = CliRunner().invoke(main, args)
    planned, done = json.loads(dry.stdout), json.loads(real.stdout)  # each file's outcome (the human lines: stderr)
    assert [(f["source"], f["status"]) for f in planned["files"]] == [(f["source"], f["status"]) for f in done["files"]]
    assert planned["exit_status"] == done["exit_status"] == real.exit_code
    planned = re.search(r"(\d+) to convert, (\d+) skipped \(already there\), (\d+) failed; nothing written",
                        dry.output)
    done = re.search(r"(\d+) converted, (\d+) skipped \(already there\), (\d+) failed", real.output)
    assert planned and done, (dry.output, real.output)
    assert planned.groups() == done.groups(), (dry.output, real.output)
    assert dry.exit_code == real.exit_code
    errors = sorted(line for line in dry.output.splitlines() if line.startswith("error: "))
    assert errors == sorted(line.strip() for line in real.output.splitlines() if line.strip().startswith("error: "))


MODES = ["L", "LA", "RGB", "RGBA", "P-tRNS", "RGB-tRNS", "I;16"]


@st.composite
def mixed_batches(draw):
    """``[(name, image), ...]``: 2-6 PNGs of drawn modes (a palette or RGB with a transparent colour key,
    16-bit grey), most of one size so that the learned method batches the RGB ones together."""
    width, height = draw(st.integers(4, 10)), draw(st.integers(4, 10))
    modes = draw(st.lists(st.sampled_from(MODES), min_size=2, max_size=6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    images = []
    for i, mode in enumerate(modes):
        size = (width, height) if draw(st.integers(0, 3)) else (width + 1, height)
        rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8))
        if mode == "I;16":
            img = Image.fromarray(rng.integers(0, 65536, (size[1], size[0]), np.uint16))
        elif mode == "P-tRNS":
            img = rgb.quantize(8)
            img.info["transparency"] = 0
        elif mode == "RGB-tRNS":
            img = rgb
            img.info["transparency"] = tuple(int(v) for v in np.asarray(rgb)[0, 0])
        else:
            img = rgb.convert(mode)
        images.append((f"{i}-{mode.replace(';', '')}.png", img))
    return images


@settings(max_examples=max(5, settings().max_examples // 20))
@given(mixed_batches())
def test_mixed_modes_converted_together_are_as_each_alone(images):
    import tempfile
    from pathlib import Path

    from downscale.convert import Options, Task, convert_batch, convert_one

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, img in images:
            img.save(root / name, transparency=img.info["transparency"]) if "transparency" in img.info \
                else img.save(root / name)
        opts = Options(ratio=2)
        together = convert_batch([Task(root / name, root / "together" / name) for name, _ in images], opts)
        alone = [convert_one(Task(root / name, root / "alone" / name), opts) for name, _ in images]
        assert [r.status for r in together] == [r.status for r in alone] == ["converted"] * len(images)
        for name, _ in images:
            with Image.open(root / "together" / name) as got, Image.open(root / "alone" / name) as want:
                assert (got.mode, got.size, "transparency" in got.info) == (want.mode, want.size,
                                                                            "transparency" in want.info), name
                difference = np.abs(np.asarray(got, np.int64) - np.asarray(want, np.int64))
                assert difference.max(initial=0) <= (257 if got.mode.startswith("I") else 1), name  # (one level)
