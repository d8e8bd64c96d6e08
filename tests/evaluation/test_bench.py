import json

from click.testing import CliRunner

from downscale.cli import main


def test_bench_smoke_tiny_sizes(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--sizes", "32,48", "--ratios", "2,4", "--repeats", "2", "--warmup", "0",
                                       "--batches", "1,2", "--image-size", "32", "--threads", "1", "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    devices = 2 if res["env"]["cuda"] else 1
    assert len(res["resize"]) == 2 * 2 * (2 + 2 * devices)  # sizes x ratios x (2 PIL + 2 torch per device)
    for row in res["resize"]:
        assert row["ms"] > 0
        if row["method"] == "PIL bicubic":
            assert row["vs_pil_bicubic"] == 1.0
    assert {r["method"] for r in res["resize"]} >= {"PIL bicubic", "PIL reduce", "learned E (cpu)",
                                                     "torchvision bicubic aa (cpu)"}
    pipelines = {(r["batch"], r["pipeline"]) for r in res["classify"] if r["device"] == "cpu"}
    assert pipelines == {(b, p) for b in (1, 2) for p in ("classifier @32", "bicubic_aa + student @16",
                                                           "E + student @16", "bicubic_aa + student @8", "E + student @8")}
    assert all(r["images_per_s"] > 0 for r in res["classify"])
    assert "| 48² | 4 | PIL reduce |" in result.output
