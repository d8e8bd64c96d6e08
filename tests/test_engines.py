import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from downscale import engines
from downscale.cli import main
from downscale.convert import Options, Task, find_images, plan
from downscale.engines import RayConverter, convert_chunk, load_learned, on_device, run_local, run_ray

NAMES = ["0.png", "1.png", "2.png", "2x.png", "3.png", "4.png"]  # 2x.png, in the middle, is not an image


@pytest.fixture()
def job(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        Image.new("RGB", (40 + i, 32), (40 * i, 90, 10)).save(src / f"{i}.png")
    (src / "2x.png").write_bytes(b"not a png")
    files, _ = find_images([src], tmp_path / "out", recursive=False)
    tasks, _ = plan(files, tmp_path / "out", "keep")
    assert [t.source.name for t in tasks] == NAMES
    return tasks, tmp_path / "out"


def _check(results, out: Path):
    statuses = sorted(r.status for r in results)
    assert statuses == ["converted"] * 5 + ["failed"]
    assert any("2x.png: not an image file" in r.message for r in results)
    assert {r.ratio for r in results if r.status == "converted"} == {2}
    assert sorted(p.name for p in out.iterdir()) == [f"{i}.png" for i in range(5)]  # and no temporaries
    assert Image.open(out / "4.png").size == (22, 16)


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_engine(job, jobs):
    tasks, out = job
    results = list(run_local(tasks, Options(ratio=2), jobs=jobs))
    _check(results, out)
    assert [Path(r.message.split(" ")[0].rstrip(":")).name for r in results] == NAMES  # in order


def test_ray_worker_converts_chunks_without_ray(job):
    """RayConverter is a plain class: what each Ray actor runs, called here directly."""
    tasks, out = job
    worker = RayConverter(Options(ratio=2))
    paths = [[os.fsencode(getattr(t, side)) for t in part] for side in ("source", "dest") for part in (tasks[:4], tasks[4:])]
    rows = worker({"sources": paths[:2], "dests": paths[2:]})
    assert list(rows["status"]) == ["converted"] * 3 + ["failed"] + ["converted"] * 2
    assert rows["ratio"][0] == 2 and math.isnan(rows["ratio"][3])
    assert b"2x.png: not an image file" in rows["message"][3]
    assert sorted(p.name for p in out.iterdir()) == [f"{i}.png" for i in range(5)]


def test_ray_worker_carries_warnings(tmp_path):
    frames = [Image.new("RGB", (16, 12), c) for c in ("red", "green", "blue")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    still = tmp_path / "still.png"
    Image.new("RGB", (16, 12), "red").save(still)
    tasks = [Task(tmp_path / "a.gif", tmp_path / "out" / "a.jpg"), Task(still, tmp_path / "out" / "still.jpg")]
    (tmp_path / "out").mkdir()
    rows = RayConverter(Options(ratio=2, fmt="jpeg", method="bicubic"))(
        {"sources": [[os.fsencode(t.source) for t in tasks]], "dests": [[os.fsencode(t.dest) for t in tasks]]})
    assert list(rows["status"]) == ["converted", "converted"]
    assert b"3 frames" in rows["warning"][0] and rows["warning"][1] == b""


def test_an_unexpected_error_fails_the_chunk_not_the_job(job, monkeypatch):
    tasks, out = job

    def broken(tasks, opts):
        raise MemoryError("out of memory")

    monkeypatch.setattr(engines, "convert_batch", broken)
    results = convert_chunk(tasks[:2], Options(ratio=2))
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[1].message == f"{tasks[1].source}: not converted: MemoryError: out of memory"


def test_device_chunks_take_the_tensor_path(job, monkeypatch):
    """Off the CPU, chunks go through jpeg.convert_jpegs (run here on CPU tensors)."""
    tasks, out = job
    seen = []
    from downscale import jpeg

    real = jpeg.convert_jpegs
    monkeypatch.setattr(jpeg, "convert_jpegs", lambda tasks, opts: seen.append(len(tasks)) or real(tasks, opts))
    monkeypatch.setattr(engines, "on_device", lambda opts: True)
    _check(list(run_local(tasks, Options(ratio=2))), out)
    assert seen == [6]  # one chunk: device chunks hold up to 64 files


def test_a_failed_ray_job_is_a_runtime_error():
    class Lost:  # stands for a Ray dataset whose job fails
        def iter_batches(self, **how):
            raise ConnectionError("node lost")

    with pytest.raises(RuntimeError, match="^the Ray job failed: ConnectionError: node lost$"):
        list(engines._ray_results(Lost()))


@pytest.mark.parametrize("device, expected", [("cpu", False), ("cuda", True), ("cuda:1", True), ("mps", True)])
def test_on_device(device, expected):
    assert on_device(Options(device=device)) is expected


def test_load_learned_refuses_bad_weights(tmp_path):
    with pytest.raises(Exception, match="nope"):
        load_learned(Options(weights=str(tmp_path / "nope.pt")))


def test_convert_reports_start_up_and_the_rate_after_it(job, monkeypatch):
    tasks, out = job
    monkeypatch.setattr(engines, "_chunks", lambda tasks: [tasks[:2], tasks[2:]])
    result = CliRunner().invoke(main, ["convert", str(tasks[0].source.parent), "-o", str(out), "--jobs", "2"])
    assert result.exit_code == 1  # one bad file
    assert re.search(r"^start-up [0-9.]+ s \(to the first result\), then 4 in [0-9.]+ s \([0-9.]+/s\)$",
                     result.output, re.M)
    assert "5 converted, 0 skipped (already there), 1 failed" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where CUDA is absent")
def test_device_cuda_without_a_gpu_is_refused_before_any_file(job):
    tasks, out = job
    done = subprocess.run([sys.executable, "-m", "downscale", "convert", str(tasks[0].source), "-o", str(out),
                           "--device", "cuda"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "cannot use the learned downscaler (--weights default, --device cuda)" in done.stderr
    assert not out.exists()


def test_chunks_hold_at_most_16_files_or_about_2_mb(tmp_path):
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


# --- Ray (an optional extra; each test starts a Ray instance: tens of seconds) ---------------------------


@pytest.fixture()
def ray():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'downscale[ray]'")
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_on_a_local_two_cpu_instance(job, ray):
    tasks, out = job
    odd = tasks[0].source.with_name(os.fsdecode(b"\xff-not-utf8.png"))  # names need not be UTF-8
    Image.new("RGB", (8, 8)).save(odd)
    tasks = [*tasks, Task(odd, out.with_name("odd") / odd.name)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = list(run_ray(tasks, Options(ratio=2)))
    assert f"{odd} -> {tasks[-1].dest} (4x4)" in [r.message for r in results]
    _check([r for r in results if not r.message.startswith(str(odd))], out)
    again = list(run_ray(tasks, Options(ratio=2)))  # skip-existing holds on the cluster too
    assert sorted(r.status for r in again) == ["failed"] + ["skipped"] * 6
    with pytest.raises(ValueError, match="the Ray cluster has no GPU for --device cuda; use --device cpu"):
        run_ray(tasks, Options(ratio=2, device="cuda"))
    with pytest.raises(RuntimeError, match="^the Ray job failed: ActorDiedError: .*WeightsError: weights 'no-such"):
        list(run_ray(tasks, Options(ratio=2, weights="no-such-weights", overwrite=True)))


@pytest.mark.slow
def test_ray_engine_on_a_simulated_two_node_cluster_writes_every_file_once(tmp_path, ray):
    from ray.cluster_utils import Cluster

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (48, 64 + i, 3), dtype=np.uint8)).save(src / f"{i:02d}.jpg")
    (src / "20x.jpg").write_bytes(b"truncated")
    files, _ = find_images([src], tmp_path / "out", recursive=False)
    tasks, _ = plan(files, tmp_path / "out", "keep")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        results = list(run_ray(tasks, Options(ratio=2)))  # one actor per CPU: one on each node
    finally:
        ray.shutdown()
        cluster.shutdown()
    converted = [r.message.split(" -> ")[0] for r in results if r.status == "converted"]
    assert sorted(converted) == sorted(str(t.source) for t in tasks if t.source.name != "20x.jpg")  # each once
    assert [r.message for r in results if r.status != "converted"] == [
        f"{src / '20x.jpg'}: not an image file Pillow can decode"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{i:02d}.jpg" for i in range(40))


@pytest.mark.slow
def test_convert_engine_ray_as_a_subprocess(job):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'downscale[ray]'")
    tasks, out = job
    done = subprocess.run([sys.executable, "-m", "downscale", "convert", str(tasks[0].source.parent), "-o", str(out),
                           "--engine", "ray"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "2x.png: not an image file" in done.stderr
    assert re.search(r"^start-up [0-9.]+ s \(to the first result\), then 5 in ", done.stdout, re.M)
    assert "5 converted, 0 skipped (already there), 1 failed" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [f"{i}.png" for i in range(5)]


def test_a_gpu_actor_uses_the_gpu_ray_shows_it(monkeypatch):
    monkeypatch.setattr(engines, "load_learned", lambda opts: None)  # (no GPU needed to check the choice)
    assert RayConverter(Options(device="cuda:1")).opts.device == "cuda"
    assert RayConverter(Options(device="cpu")).opts.device == "cpu"


# --- convert_files: the whole command as a function returning a ConvertSummary ------------------------


def test_convert_files_returns_every_outcome_in_planned_order(job, monkeypatch):
    import downscale.dynamic as dynamic

    tasks, out = job
    src = tasks[0].source.parent
    (src / "notes.txt").write_text("not an image")
    picks = {40: 1, 41: 4, 42: 2, 43: 4, 44: 1}  # the predictor's pick for each image, by its width
    monkeypatch.setattr(dynamic, "choose_ratios", lambda batch, device=None: [picks.get(batch.shape[-1], 1)])
    seen, planned = [], []
    summary = engines.convert_files([src, src / "gone.png"], out, Options(ratio="auto"),
                                    on_planned=lambda s: planned.append((s.planned, [r.message for r in s.results])),
                                    on_result=seen.append)
    assert planned == [(6, [f"{src / 'gone.png'}: no such file or folder"])]
    assert len(seen) == 6 and summary.results[1:] == seen  # refused while planning first, then in order
    assert [(r.source.name, r.dest, r.status, r.ratio) for r in summary.results[1:]] == [
        ("0.png", out / "0.png", "converted", 1), ("1.png", out / "1.png", "converted", 4),
        ("2.png", out / "2.png", "converted", 2), ("2x.png", out / "2x.png", "failed", None),
        ("3.png", out / "3.png", "converted", 4), ("4.png", out / "4.png", "converted", 1)]
    assert Image.open(out / "1.png").size == (10, 8) and Image.open(out / "4.png").size == (44, 32)
    assert (summary.count("converted"), summary.count("failed"), summary.exit_status) == (5, 2, 1)
    assert summary.ratios == {1: 2, 2: 1, 4: 2} and summary.not_tried == [src / "notes.txt"]
    assert 0 <= summary.startup_s <= summary.seconds and summary.after_startup_s is None  # one chunk
    again = engines.convert_files([src], out, Options(ratio=2, method="bicubic"), dry_run=True)
    assert [r.status for r in again.results] == ["skipped"] * 3 + ["failed"] + ["skipped"] * 2


def test_convert_files_times_the_files_after_the_first_chunk(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(engines.CHUNK_FILES + 3):
        Image.new("RGB", (8, 6)).save(src / f"{i:02d}.png")
    summary = engines.convert_files([src], tmp_path / "out", Options(method="bicubic"), jobs=2)
    assert summary.count("converted") == engines.CHUNK_FILES + 3 and summary.engine == "local"
    assert summary.after_startup_files == 3
    assert summary.after_startup_s == pytest.approx(summary.seconds - summary.startup_s)
    assert summary.per_s_after_startup == pytest.approx(3 / summary.after_startup_s)
