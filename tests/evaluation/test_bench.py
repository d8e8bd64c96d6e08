import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from downscale.cli import main


def test_bench_smoke_tiny_sizes(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--sizes", "32,48", "--ratios", "2,4", "--repeats", "2", "--warmup", "0",
                                       "--batch", "3", "--batch-side", "16", "--batches", "1,2", "--image-size", "32",
                                       "--threads", "1", "--json", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    devices = 2 if res["env"]["cuda"] else 1
    # sizes x ratios x (5 Pillow filters + reduce + learned_resize, and 5 torch rows per device)
    assert len(res["resize"]) == 2 * 2 * (7 + 5 * devices)
    for row in res["resize"]:
        assert row["ms"] > 0
        if row["method"] == "PIL bicubic":
            assert row["vs_pil_bicubic"] == 1.0
    assert {r["method"] for r in res["resize"]} >= {"PIL bicubic", "PIL nearest", "PIL bilinear", "PIL box (area)",
                                                     "PIL lanczos", "PIL reduce", "learned_resize (PIL in/out)",
                                                     "learned E (cpu)", "torchvision bicubic aa (cpu)",
                                                     "torch nearest (cpu)", "torch bicubic (cpu)", "torch area (cpu)"}
    assert [(r["ratio"], r["batch"]) for r in res["batch"]] == [(2, 3), (2, 3), (4, 3), (4, 3)]
    pipelines = {(r["batch"], r["pipeline"]) for r in res["classify"] if r["device"] == "cpu"}
    assert pipelines == {(b, p) for b in (1, 2) for p in ("classifier @32", "bicubic_aa + student @16",
                                                           "E + student @16", "bicubic_aa + student @8", "E + student @8")}
    assert all(r["images_per_s"] > 0 for r in res["classify"])
    assert all(r["speedup"] == 1.0 for r in res["classify"] if r["pipeline"] == "classifier @32")
    assert "| 48² | 4 | PIL reduce |" in result.output
    assert "convert" not in res and "large" not in res


def test_bench_convert_folder_and_large_image(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(photos / f"{i}.jpg")
    result = CliRunner().invoke(main, ["bench", "--sizes", "32", "--ratios", "2", "--repeats", "1", "--warmup", "0",
                                       "--batch", "2", "--batch-side", "16", "--batches", "1", "--image-size", "32",
                                       "--threads", "1", "--folder", str(photos), "--jobs", "2", "--large-mp", "1",
                                       "--json", str(tmp_path / "b.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "b.json").read_text())
    assert [(r["method"], r["images"]) for r in res["convert"]] == [("learned", 3), ("pil_bicubic", 3)]
    assert all(0 < r["startup_seconds"] < r["seconds"] and r["images_per_s_after_startup"] > r["images_per_s"]
               for r in res["convert"])
    large = res["large"]
    assert large["megapixels"] == 1000 * 1000 / 1e6 and large["ratio"] == 2
    assert large["max_diff_levels"] <= 1
    assert large["tiled"]["input_mb"] > 2.8


def test_gpu_table_rows_run_on_any_device():
    # the GPU table's code path, on the CPU with tiny images (the real run needs CUDA)
    from downscale.evaluation.bench import gpu_bench

    rows = gpu_bench([2], 32, [2, 4], repeats=1, warmup=0, device="cpu")
    assert [(r["ratio"], r["method"]) for r in rows[:4]] == [
        (2, "torchvision resize, bicubic antialias"), (2, "learned_resize, float32"),
        (2, "learned_resize, bfloat16"), (2, "learned_resize, float16")]
    assert len(rows) == 8 and all(r["gigapixels_per_s"] > 0 for r in rows)
    diffs = {r["method"]: r["max_diff_levels"] for r in rows if r["ratio"] == 2}
    assert diffs["learned_resize, float32"] == 0 and diffs["torchvision resize, bicubic antialias"] is None
    assert diffs["learned_resize, bfloat16"] <= 2 and diffs["learned_resize, float16"] <= 1
