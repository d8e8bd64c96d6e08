import click
import numpy as np
import pytest
from PIL import Image

from downscale.evaluation import engine_bench as eb


def test_rounds_alternate_the_engines_and_ratios_are_taken_round_by_round(monkeypatch):
    calls = []
    rates = {"local": iter([10.0, 20.0, 30.0]), "ray": iter([9.0, 10.0, 33.0])}

    def fake(folder, engine, ratio, jobs, method="learned"):
        calls.append(engine)
        rate = next(rates[engine])
        return {"wall_s": 100 / rate, "startup_s": 1.0 if engine == "local" else 5.0, "per_s_after_startup": rate,
                "converted": 3, "failed": 1, "files": 4}

    monkeypatch.setattr(eb, "run_convert", fake)
    rows = eb.engine_bench("folder", ["local", "ray"], 2, 2, rounds=3)
    assert calls == ["local", "ray", "ray", "local", "local", "ray"]
    local, ray = rows
    assert local["per_s_after_startup"] == {"median": 20.0, "min": 10.0, "max": 30.0}
    assert ray["vs_first"] == {"median": 0.9, "min": 0.5, "max": 1.1}  # 9/10, 10/20, 33/30
    assert local["vs_first"]["median"] == 1.0
    assert (ray["files"], ray["converted"], ray["failed"], ray["startup_s"]["median"]) == (4, 3, 1, 5.0)
    table = eb.engine_table(rows)
    assert "| ray | 4 | 3 | 1 | 10.0 (3.0-11.1) | 5.00 (5.00-5.00) | 10.0 (9.0-33.0) | 0.90 (0.50-1.10) |" in table


def test_unknown_engines_are_refused():
    with pytest.raises(click.BadParameter, match="local, ray"):
        eb.engine_bench("folder", ["local", "spark"], 2, 1, rounds=1)


def test_a_real_run_reports_the_bad_file_and_converts_the_rest(tmp_path):
    from downscale.engines import CHUNK_FILES

    rng = np.random.default_rng(0)
    for i in range(CHUNK_FILES + 1):  # two chunks: a rate after the first
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / f"a{i}.jpg")
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    run = eb.run_convert(str(tmp_path), "local", 2, 1)
    assert (run["files"], run["converted"], run["failed"]) == (CHUNK_FILES + 2, CHUNK_FILES + 1, 1)
    assert 0 < run["startup_s"] < run["wall_s"] and run["per_s_after_startup"] > 0


def test_a_run_of_one_chunk_has_no_rate_after_start_up(tmp_path):
    Image.new("RGB", (40, 60)).save(tmp_path / "a.jpg")
    with pytest.raises(click.ClickException, match="one chunk"):
        eb.run_convert(str(tmp_path), "local", 2, 1)


def test_bench_engines_option_replaces_the_methods_table(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from downscale.cli import main

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    monkeypatch.setattr(eb, "run_convert", lambda folder, engine, ratio, jobs, method="learned": {
        "wall_s": 2.0, "startup_s": 0.5, "per_s_after_startup": 4.0, "converted": 1, "failed": 0, "files": 1})
    result = CliRunner().invoke(main, ["bench", "--sizes", "32", "--ratios", "2", "--repeats", "2", "--warmup", "0",
                                       "--batch", "2", "--batch-side", "16", "--batches", "1", "--image-size", "32",
                                       "--threads", "1", "--folder", str(tmp_path), "--engines", "local,ray",
                                       "--json", str(tmp_path / "b.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "b.json").read_text())
    assert [(r["engine"], r["rounds"]) for r in res["engines"]] == [("local", 2), ("ray", 2)] and "convert" not in res
    assert "| ray | 1 | 1 | 0 | 2.0 (2.0-2.0) |" in result.output
