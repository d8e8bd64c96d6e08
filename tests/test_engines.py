from pathlib import Path

import pytest
from PIL import Image

from downscale.convert import Options, find_images, plan
from downscale.engines import run_local, run_ray


@pytest.fixture()
def job(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        Image.new("RGB", (40 + i, 32), (40 * i, 90, 10)).save(src / f"{i}.png")
    (src / "bad.png").write_bytes(b"not a png")
    files, _ = find_images([src], tmp_path / "out", recursive=False)
    tasks, _ = plan(files, tmp_path / "out", "keep")
    return tasks, tmp_path / "out"


def _check(results, out: Path):
    statuses = sorted(r.status for r in results)
    assert statuses == ["converted"] * 5 + ["failed"]
    assert any("bad.png: not an image file" in r.message for r in results)
    assert {r.ratio for r in results if r.status == "converted"} == {2}
    assert sorted(p.name for p in out.iterdir()) == [f"{i}.png" for i in range(5)]
    assert Image.open(out / "4.png").size == (22, 16)


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_engine(job, jobs):
    tasks, out = job
    _check(list(run_local(tasks, Options(ratio=2), jobs=jobs)), out)


@pytest.mark.slow
def test_ray_engine_on_a_local_two_cpu_instance(job):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'downscale[ray]'")
    tasks, out = job
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        _check(list(run_ray(tasks, Options(ratio=2))), out)
        again = list(run_ray(tasks, Options(ratio=2)))  # skip-existing holds on the cluster too
        assert sorted(r.status for r in again) == ["failed"] + ["skipped"] * 5
    finally:
        ray.shutdown()


def test_chunks_hold_at_most_16_files_or_about_2_mb(tmp_path):
    from downscale.convert import Task
    from downscale.engines import _chunks

    sizes = [100] * 20 + [1 << 20] * 3 + [3 << 20]  # many small files, then photos, then a large one
    tasks = []
    for i, n in enumerate(sizes):
        (tmp_path / f"{i}").write_bytes(b"x" * n)
        tasks.append(Task(tmp_path / f"{i}", tmp_path / "out" / f"{i}"))
    tasks.append(Task(tmp_path / "missing", tmp_path / "out" / "missing"))
    chunks = _chunks(tasks)
    assert [len(c) for c in chunks] == [16, 5, 2, 1, 1]  # 16 small | 4 small + a photo | 2 photos | large | missing
    assert [t for c in chunks for t in c] == tasks
