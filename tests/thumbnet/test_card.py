"""The model card renders from the run's config and record alone (no run, no files read)."""

import dataclasses
import json

from downscale.thumbnet.card import data_name, model_card
from downscale.thumbnet.config import TrainConfig


def _record(cfg: TrainConfig, **holdout) -> dict:
    """A finished run's record, as ``train`` returns it (and writes to run.json)."""
    return {
        "config": dataclasses.asdict(cfg), "finished": True, "classes": ["n01440764", "n02102040"],
        "history": [{"epoch": 1, "stage": "distill", "images_per_s": 12.5, "holdout_top1": 0.5},
                    {"epoch": 2, "stage": "distill", "images_per_s": 14.0, "holdout_top1": 0.75}],
        "holdout": {"n": 4, "top1_teacher_full": 1.0, "top1_trained": 0.75, **holdout},
        "command": cfg.command_line("train"), "wall_seconds": 90.0, "world_size": 1, "device": "cpu",
        "host": "x86_64, 2 cpu", "torch": "2.0", "train_images": 8, "teacher_sha256": "ab" * 32,
    }


def test_a_learned_run_card_names_its_recipe_results_and_command(tmp_path):
    cfg = TrainConfig(data=str(tmp_path / "imagenette" / "train"), teacher_weights="t.pt", out="run", ratio=2)
    card = model_card(cfg, _record(cfg, top1_teacher_on_E=0.25, psnr_E_vs_bicubic=31.25))
    assert card.startswith("# ThumbNet run: mobilenet_v2, ratio 2 (224 -> 112 px)\n")
    assert "Trained: E (learned downscaler) and student S." in card
    assert "`imagenette/train` (ImageFolder, 2 classes), 8 images" in card
    assert "| teacher | E 112 px | 25.0% |" in card and "| this run's student | E 112 px | 75.0% |" in card
    assert "PSNR 31.2 dB" in card and "| 2 | distill | 75.0% |" in card
    assert "training speed 12.5-14.0 img/s" in card and cfg.command_line("train") in card


def test_a_fixed_thumbnail_run_card_names_the_method():
    cfg = TrainConfig(data="d/train", teacher_weights="t.pt", out="run", downscaler="area")
    card = model_card(cfg, _record(cfg, top1_teacher_on_thumbnails=0.5))
    assert "student S on fixed `area` thumbnails (a classical resize, no E)" in card
    assert "| teacher | area 56 px | 50.0% |" in card and "| this run's student | area 56 px | 75.0% |" in card


def test_a_saved_run_card_renders_again_from_run_json():
    cfg = TrainConfig(data="d/train", teacher_weights="t.pt", out="run", strategy="fm", fm_epochs=2)
    record = _record(cfg)
    saved = json.loads(json.dumps(record))
    assert model_card(TrainConfig(**saved["config"]), saved) == model_card(cfg, record)


def test_data_name_is_the_folder_and_its_parent(tmp_path):
    assert data_name(str(tmp_path / "imagenette-224" / "train")) == "imagenette-224/train"
