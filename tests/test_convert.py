import numpy as np
import pytest
from PIL import Image

import downscale.resize
from downscale.convert import Options, Task, convert_batch, convert_one


@pytest.fixture()
def small_photos(tmp_path, coffee_array):
    """Four same-size crops of a real photo, one of another size, one undecodable file."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.fromarray(coffee_array[i * 20 : i * 20 + 96, i * 30 : i * 30 + 128]).save(src / f"{i}.png")
    Image.fromarray(coffee_array[:64, :80]).save(src / "4.png")
    (src / "5.png").write_bytes(b"not a png")
    return [Task(src / f"{i}.png", tmp_path / "out" / f"{i}.png") for i in range(6)]


def test_batch_resizes_same_size_images_in_one_call_and_matches_one_at_a_time(small_photos, tmp_path, monkeypatch):
    calls = []
    real = downscale.resize.learned_resize

    def counting(img, *args, **kwargs):
        calls.append(np.shape(img) if isinstance(img, np.ndarray) else img.size)
        return real(img, *args, **kwargs)

    monkeypatch.setattr(downscale.resize, "learned_resize", counting)
    results = convert_batch(small_photos, Options(ratio=2))
    assert [r.status for r in results] == ["converted"] * 5 + ["failed"]  # in task order
    assert "5.png: not an image file" in results[5].message
    assert calls == [(4, 96, 128, 3), (80, 64)]  # the four 128x96 images together, the odd one alone
    for task in small_photos[:5]:
        alone = Task(task.source, tmp_path / "alone" / task.dest.name)
        assert convert_one(alone, Options(ratio=2)).status == "converted"
        batched, single = (np.asarray(Image.open(t.dest), dtype=int) for t in (task, alone))
        assert batched.shape == single.shape and np.abs(batched - single).max() <= 1


def test_batch_skips_existing_outputs_and_leaves_them_alone(small_photos):
    small_photos[1].dest.parent.mkdir(parents=True)
    small_photos[1].dest.write_bytes(b"mine")
    results = convert_batch(small_photos[:3], Options(ratio=2))
    assert [r.status for r in results] == ["converted", "skipped", "converted"]
    assert small_photos[1].dest.read_bytes() == b"mine"


def test_a_batch_too_small_for_the_ratio_fails_each_image_with_its_own_message(tmp_path):
    tasks = []
    for i in range(2):
        Image.new("RGB", (3, 3), (i, 0, 0)).save(tmp_path / f"{i}.png")
        tasks.append(Task(tmp_path / f"{i}.png", tmp_path / "out" / f"{i}.png"))
    results = convert_batch(tasks, Options(ratio=4))
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(str(t.source) in r.message and "too small" in r.message for t, r in zip(tasks, results))


@pytest.fixture()
def astronaut_jpeg(tmp_path, astronaut):
    path = tmp_path / "astronaut.jpg"
    astronaut.save(path, quality=95)
    return path


@pytest.mark.parametrize("ratio", [4, 8])
def test_bicubic_with_draft_decoding_stays_close_to_a_full_decode(astronaut_jpeg, tmp_path, ratio):
    """A 512 x 512 photo: the reduced decode changes the thumbnail by < 1.5/255 on average (measured 0.6 and 0.9; PSNR 48 and 45 dB)."""
    outs = {}
    for draft in (True, False):
        task = Task(astronaut_jpeg, tmp_path / str(draft) / "a.png")
        assert convert_one(task, Options(ratio=ratio, method="bicubic", draft=draft, fmt="png")).status == "converted"
        outs[draft] = np.asarray(Image.open(task.dest), dtype=float)
    full = Image.open(astronaut_jpeg).resize((512 // ratio, 512 // ratio), Image.Resampling.BICUBIC)
    assert np.array_equal(outs[False], np.asarray(full))  # --no-draft is Pillow's bicubic, exactly
    diff = outs[True] - outs[False]
    assert outs[True].shape == outs[False].shape and 0 < np.abs(diff).mean() < 1.5
    assert 10 * np.log10(255**2 / np.mean(diff**2)) > 40


@pytest.mark.parametrize("ratio, method", [(2, "bicubic"), (3, "bicubic"), (4, "learned")])
def test_draft_decoding_is_only_used_for_bicubic_reducing_at_least_twice_from_the_reduced_scale(
        astronaut_jpeg, tmp_path, ratio, method):
    outs = []
    for draft in (True, False):
        task = Task(astronaut_jpeg, tmp_path / str(draft) / "a.png")
        assert convert_one(task, Options(ratio=ratio, method=method, draft=draft, fmt="png")).status == "converted"
        outs.append(np.asarray(Image.open(task.dest)))
    assert np.array_equal(*outs)


def test_options_method_bicubic_is_the_deprecated_spelling_of_pil_bicubic():
    with pytest.warns(DeprecationWarning, match="convert method 'bicubic' is now spelled 'pil_bicubic'"):
        assert Options(method="bicubic").method == "pil_bicubic"
    assert Options(method="pil_bicubic").method == "pil_bicubic"
    with pytest.raises(ValueError, match="Options.method must be one of learned, pil_bicubic, got 'area'"):
        Options(method="area")


def test_batched_groups_calls_once_per_group_and_leaves_failed_groups_to_the_caller():
    from downscale.convert import batched

    calls = []

    def run(group):
        calls.append(group)
        if "bad" in group:
            raise ValueError("one bad item fails its group")
        return [s.upper() for s in group]

    items = ["ab", "c", "cd", "bad", "ef", "xyz"]
    assert batched(items, len, run) == ["AB", "C", "CD", None, "EF", None]
    assert calls == [["ab", "cd", "ef"], ["c"], ["bad", "xyz"]]
    assert batched(items[:3], len, run, least=2) == ["AB", None, "CD"]  # a group of one: the caller's
    assert batched([], len, run) == []
