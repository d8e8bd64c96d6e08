"""The device path of ``convert`` (downscale.jpeg) on CPU tensors, against the Pillow path; CUDA where present."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from downscale import jpeg
from downscale.convert import Options, Task, convert_batch
from downscale.jpeg import convert_jpegs, decode_jpegs, encode_jpegs, upright, with_icc

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (nvJPEG decode/encode, Triton E)")


def _jpeg(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92, **save)
    return buf.getvalue()


@pytest.fixture()
def photos(tmp_path, astronaut):
    """in/: two same-size colour JPEGs (one with an sRGB profile), one with EXIF orientation 6, a grey JPEG,
    a PNG, a file that is not a JPEG, and a JPEG cut short: what convert meets in a folder."""
    src = tmp_path / "in"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    (src / "a.jpg").write_bytes(_jpeg(astronaut.crop((0, 0, 160, 120)), icc_profile=SRGB))
    (src / "b.jpg").write_bytes(_jpeg(astronaut.crop((200, 200, 360, 320))))
    (src / "c.jpg").write_bytes(_jpeg(astronaut.crop((0, 0, 200, 96)), exif=exif))  # shown 96 wide, 200 tall
    (src / "d.jpg").write_bytes(_jpeg(astronaut.crop((0, 0, 64, 64)).convert("L")))
    astronaut.crop((0, 0, 90, 70)).save(src / "e.png")
    (src / "f.jpg").write_bytes(b"not a jpeg")
    (src / "g.jpg").write_bytes(_jpeg(astronaut.crop((0, 0, 160, 120)))[:700])
    return src


def _tasks(src, out, suffix=None):
    return [Task(p, out / (p.name if suffix is None else p.with_suffix(suffix).name)) for p in sorted(src.iterdir())]


def test_decode_matches_pillow_and_encode_round_trips(astronaut):
    data = _jpeg(astronaut)
    decoded = decode_jpegs([data, data])
    assert len(decoded) == 2 and decoded[0].dtype == torch.uint8 and decoded[0].shape == (3, 512, 512)
    pillow = torch.from_numpy(np.array(Image.open(io.BytesIO(data)))).permute(2, 0, 1)
    assert (decoded[0].int() - pillow.int()).abs().float().mean() <= 1  # (libjpeg-turbo in both)
    again = decode_jpegs(encode_jpegs([decoded[0]], quality=95))[0]
    assert (again.int() - decoded[0].int()).abs().float().mean() < 2


def test_decode_raises_on_a_bad_file():
    with pytest.raises(RuntimeError):
        decode_jpegs([b"\xff\xd8 not really a jpeg"])


@pytest.mark.parametrize("size", [3000, 150_000])  # one APP2 segment, and three
def test_icc_profiles_are_embedded_as_pillow_reads_them(size):
    icc = SRGB if size == 3000 else bytes(range(256)) * (size // 256)
    jpeg = encode_jpegs([torch.zeros(3, 8, 8, dtype=torch.uint8)], icc_profiles=[icc])[0]
    img = Image.open(io.BytesIO(jpeg))
    assert img.info["icc_profile"] == icc and img.info.get("jfif") is not None  # the JFIF header stays first
    assert with_icc(jpeg, None) == jpeg


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_applies_exif_orientation_as_pillow(orientation):
    img = Image.fromarray(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10)
    img.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(img))
    got = upright(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1), orientation)
    assert np.array_equal(got.permute(1, 2, 0).numpy(), expected)


def test_convert_jpegs_on_cpu_tensors_matches_the_pillow_path(photos, tmp_path, monkeypatch):
    pillow = convert_batch(_tasks(photos, tmp_path / "pillow"), Options(ratio=2))
    handed = []

    def spy(tasks, opts):
        handed.extend(t.source.name for t in tasks)
        return convert_batch(tasks, opts)

    monkeypatch.setattr(jpeg, "convert_batch", spy)
    tensors = convert_jpegs(_tasks(photos, tmp_path / "tensors"), Options(ratio=2))
    assert handed == ["d.jpg", "e.png", "f.jpg", "g.jpg"]  # grey, not a JPEG, not an image, cut short
    assert [r.status for r in tensors] == [r.status for r in pillow] == ["converted"] * 5 + ["failed"] * 2
    assert [r.message.replace("tensors", "pillow") for r in tensors] == [r.message for r in pillow]  # same wording
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.png"):
        a, b = Image.open(tmp_path / "pillow" / name), Image.open(tmp_path / "tensors" / name)
        assert (a.size, a.mode, a.info.get("icc_profile")) == (b.size, b.mode, b.info.get("icc_profile"))
        assert not b.getexif().get(0x0112)  # upright, the tag dropped, as the Pillow path writes it
        diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
        assert diff.mean() <= 1, name  # within 1/255 on average (identical where both use libjpeg-turbo alike)
    assert Image.open(tmp_path / "tensors" / "c.jpg").size == (48, 100)
    assert Image.open(tmp_path / "tensors" / "a.jpg").info["icc_profile"] == SRGB


def test_convert_jpegs_to_png_keeps_the_profile_and_skips_existing(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"mine")
    results = convert_jpegs(_tasks(photos, out, ".png"), Options(ratio=2, fmt="png"))
    assert [r.status for r in results] == ["converted", "skipped", "converted", "converted", "converted",
                                           "failed", "failed"]
    assert (out / "b.png").read_bytes() == b"mine"
    a = Image.open(out / "a.png")
    assert a.format == "PNG" and a.size == (80, 60) and a.info["icc_profile"] == SRGB
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_convert_jpegs_hands_other_methods_to_convert_batch(photos, tmp_path):
    results = convert_jpegs(_tasks(photos, tmp_path / "out"), Options(ratio=2, method="bicubic"))
    assert [r.status for r in results] == ["converted"] * 5 + ["failed"] * 2


@CUDA
def test_convert_jpegs_on_cuda_is_within_one_level_of_the_cpu_path(photos, tmp_path):
    convert_jpegs(_tasks(photos, tmp_path / "cpu"), Options(ratio=2))
    results = convert_jpegs(_tasks(photos, tmp_path / "cuda"), Options(ratio=2, device="cuda"))
    assert [r.status for r in results] == ["converted"] * 5 + ["failed"] * 2
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.png"):
        a, b = (np.asarray(Image.open(tmp_path / d / name), dtype=np.int16) for d in ("cpu", "cuda"))
        assert a.shape == b.shape and np.abs(a - b).mean() <= 1, name
