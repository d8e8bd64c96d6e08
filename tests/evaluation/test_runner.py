"""``runner.evaluate``: the measurement behind ``downscale eval``, called without the command line."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from downscale.classifiers import Classifier
from downscale.evaluation.runner import Results, evaluate, key_name


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """4 photos at 48x48 in two ImageNet-wnid class folders, and one file that is no image."""
    root = tmp_path_factory.mktemp("images")
    for i, photo in enumerate([skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]):
        d = root / ("n01440764" if i < 2 else "n02102040")
        d.mkdir(exist_ok=True)
        Image.fromarray(photo).resize((48, 48), Image.Resampling.BICUBIC).save(d / f"img{i}.png")
    (root / "n02102040" / "broken.png").write_bytes(b"not a png")
    return root


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return Classifier("mobilenet_v2", 1000).eval()


def test_evaluate_returns_results_that_are_results_json(folder, classifier):
    progress, skipped = [], []
    results = evaluate(folder, classifier, ["area", "nearest"], [2], views=["dataset"], image_size=48,
                       batch_size=3, latency_repeats=0, grid_images=1, label="random MobileNetV2",
                       progress=lambda done, total: progress.append((done, total)), skipped=skipped.append)
    assert isinstance(results, Results)
    assert set(results.as_json()) == {"config", "rows", "images", "per_image"}
    cfg = results.config
    assert cfg["methods"] == ["bicubic_aa", "area", "nearest"]  # the reference is added first
    assert (cfg["n_images"], cfg["model"], cfg["ratios"], cfg["classes"]) == (4, "random MobileNetV2", [2], ["dataset"])
    assert progress == [(0, 4), (3, 4), (4, 4)]
    assert len(skipped) == 1 and "broken.png" in skipped[0] and results.unreadable == skipped
    assert [im["path"] for im in results.images] == [f"n01440764/img{i}.png" for i in (0, 1)] + [
        f"n02102040/img{i}.png" for i in (2, 3)]
    assert set(results.per_image) == {"bicubic_aa@2", "area@2", "nearest@2"}
    labels = np.array([im["label"] for im in results.images])
    by = {row["method"]: row for row in results.rows}
    for method, row in by.items():
        ok = np.asarray(results.per_image[key_name(method, 2)]["dataset_pred"]) == labels
        assert (row["n"], row["correct"], row["size"], row["own"]) == (4, ok.sum(), (24, 24), False)
    vs = by["area"]["vs_bicubic"]
    assert list(vs) == ["delta", "method_only", "other_only", "p_mcnemar"]
    assert vs["delta"] == pytest.approx(by["area"]["top1"] - by["bicubic_aa"]["top1"])
    assert results.grid_columns == [("bicubic_aa", 2, 1), ("learned", 2, 1)]
    assert results.examples["images"].shape == (1, 3, 48, 48)


def test_evaluate_agreement_adds_the_full_image_and_marks_the_own_method(folder, classifier):
    results = evaluate(folder, classifier, ["area"], [2], views=["agreement"], image_size=48, latency_repeats=0,
                       grid_images=0, own=("area", 2))
    assert results.config["ratios"] == [1, 2] and "full@1" in results.per_image
    assert results.config["own_method"] == "area@2" and results.grid_columns == []
    assert [(r["method"], r["own"]) for r in results.rows] == [("bicubic_aa", False), ("area", True)]  # vs full


@pytest.mark.parametrize("kwargs, message", [
    ({"methods": ["box"]}, "unknown method"),
    ({"views": ["some"]}, "unknown view"),
])
def test_evaluate_rejects_unknown_methods_and_views(folder, classifier, kwargs, message):
    args = {"methods": ["area"], "views": ["dataset"], **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate(folder, classifier, args["methods"], [2], views=args["views"], image_size=48)


def test_evaluate_needs_class_folders_unless_only_agreement(tmp_path, classifier):
    Image.fromarray(skdata.chelsea()).save(tmp_path / "cat.png")
    with pytest.raises(ValueError, match="no class sub-folders"):
        evaluate(tmp_path, classifier, ["area"], [2], views=["all"], image_size=48)
    with pytest.raises(ValueError, match="not a folder"):
        evaluate(tmp_path / "cat.png", classifier, ["area"], [2], views=["agreement"], image_size=48)
