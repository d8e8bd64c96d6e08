"""Training data: the seeded holdout split, per-epoch flips, the teacher-logit cache."""

import pytest
import torch

from downscale.classifiers import build_classifier
from downscale.training.data import IndexedImageFolder, epoch_flips, split_holdout, teacher_logits


def test_split_holdout_is_seeded_and_disjoint():
    train_a, held_a = split_holdout(100, 10, seed=3, limit=50)
    train_b, held_b = split_holdout(100, 10, seed=3, limit=50)
    assert (train_a, held_a) == (train_b, held_b)
    assert len(held_a) == 10 and len(train_a) == 50 and not set(train_a) & set(held_a)
    assert split_holdout(100, 10, seed=4)[1] != held_a
    with pytest.raises(ValueError, match="holdout"):
        split_holdout(10, 10, seed=0)


def test_epoch_flips_depend_on_seed_and_epoch_only():
    assert torch.equal(epoch_flips(64, 0, 1), epoch_flips(64, 0, 1))
    assert not torch.equal(epoch_flips(64, 0, 1), epoch_flips(64, 0, 2))
    assert not epoch_flips(64, 0, 1, enabled=False).any()


def test_teacher_cache_holds_logits_of_image_and_flip(tiny_data, tmp_path):
    teacher = build_classifier("mobilenet_v2", tiny_data / "teacher.pt", normalize="minus1to1").eval()
    dataset = IndexedImageFolder(tiny_data / "data", 64)
    logits = teacher_logits(teacher, dataset, [1, 5], tmp_path, "k" * 64, batch_size=2)
    image = dataset[5][0][None]
    with torch.no_grad():
        expected = torch.cat([teacher(image), teacher(image.flip(-1))])
    torch.testing.assert_close(logits[5], expected, rtol=1e-4, atol=1e-4)
    assert sorted(logits) == [1, 5]
    # a second call loads the file instead of recomputing
    again = teacher_logits(None, dataset, [1, 5], tmp_path, "k" * 64)
    assert torch.equal(again[5], logits[5])
    plain = teacher_logits(teacher, dataset, [5], tmp_path, "p" * 64, flips=False)
    torch.testing.assert_close(plain[5], expected[:1], rtol=1e-4, atol=1e-4)
