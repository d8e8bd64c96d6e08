"""Training data: an indexed ImageFolder, the seeded holdout split, per-epoch flips, the teacher cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torchvision import datasets
from torchvision.transforms import v2

from ..classifiers import Classifier
from ..pretrained import sha256


class IndexedImageFolder(datasets.ImageFolder):
    """ImageFolder whose items are ``(image [3, S, S] float in [0, 1], label, index)``.

    Images are resized (short side) and centre-cropped to ``size``; no random augmentation here
    (flips are applied per batch from a seeded per-epoch plan, see ``epoch_flips``). Raises ValueError
    naming ``root`` when it holds no class sub-folders.
    """

    def __init__(self, root: str | os.PathLike, size: int = 224):
        transform = v2.Compose([
            v2.ToImage(), v2.Resize(size, antialias=True), v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True),
        ])
        try:
            super().__init__(str(root), transform=transform)
        except FileNotFoundError as exc:  # torchvision's "Couldn't find any class folder in ..."
            raise ValueError(f"{root}: no class sub-folders ({exc}); --data must hold one folder of images "
                             "per class (DATA/<class>/<image>)") from exc

    def __getitem__(self, index: int):
        image, label = super().__getitem__(index)
        return image, label, index


def split_holdout(n: int, holdout: int, seed: int, limit: int | None = None) -> tuple[list[int], list[int]]:
    """``(train, held_out)`` dataset indices: a seeded permutation's first ``holdout`` are held out.

    ``limit`` keeps only the first ``limit`` training indices (of the same permutation). Sorted.
    """
    if holdout >= n:
        raise ValueError(f"holdout={holdout} leaves no training images out of {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    held, train = perm[:holdout], perm[holdout:]
    if limit is not None:
        train = train[:limit]
    return sorted(train), sorted(held)


def epoch_flips(n: int, seed: int, epoch: int, enabled: bool = True) -> torch.Tensor:
    """Bool ``[n]``: whether dataset image ``i`` is flipped in ``epoch`` (same on every process)."""
    if not enabled:
        return torch.zeros(n, dtype=torch.bool)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.rand(n, generator=g) < 0.5


def flip_where(images: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Horizontally flip the images of ``[N, C, H, W]`` where ``flips`` ``[N]`` is True."""
    return torch.where(flips.view(-1, 1, 1, 1).to(images.device), images.flip(-1), images)


def cache_key(dataset: IndexedImageFolder, indices: list[int], teacher_weights: str, teacher: Classifier,
              size: int, flips: bool) -> str:
    """Hex digest of everything the cached logits depend on: files, teacher, normalisation, size, flips."""
    files = [(os.path.relpath(dataset.samples[i][0], dataset.root), os.path.getsize(dataset.samples[i][0]))
             for i in indices]
    parts = {"files": files, "teacher": teacher.config(), "weights": sha256(teacher_weights), "size": size,
             "flips": flips}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@torch.no_grad()
def teacher_logits(
    teacher: Classifier, dataset: IndexedImageFolder, indices: list[int], cache_dir: str | os.PathLike,
    key: str, batch_size: int = 64, workers: int = 0, device: torch.device | str = "cpu", echo=print,
    flips: bool = True,
) -> dict[int, torch.Tensor]:
    """T's logits for each image and (``flips``) its horizontal flip: ``{dataset index: [2 or 1, K]}``.

    Computed once and stored as ``cache_dir/teacher-logits-<key[:16]>.pt``; reloaded when the key
    (see ``cache_key``) matches. Row 0 of each entry is the unflipped image, row 1 the flipped one.
    """
    path = Path(cache_dir) / f"teacher-logits-{key[:16]}.pt"
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["key"] == key:
            return dict(zip(saved["indices"].tolist(), saved["logits"]))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=batch_size,
                                         num_workers=workers)
    teacher = teacher.to(device, memory_format=torch.channels_last).eval()
    out_index, out_logits = [], []
    for step, (images, _, index) in enumerate(loader):
        images = images.to(device).contiguous(memory_format=torch.channels_last)
        both = torch.cat([images, images.flip(-1)]) if flips else images
        logits = teacher(both).float().cpu()
        out_logits.append(logits.unflatten(0, (1 + flips, len(images))).transpose(0, 1))
        out_index.append(index)
        if step % 20 == 0:
            echo(f"teacher cache: {sum(map(len, out_index))}/{len(indices)} images")
    logits, index = torch.cat(out_logits), torch.cat(out_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..images import write_atomic
    write_atomic(path, lambda f: torch.save({"key": key, "indices": index, "logits": logits}, f), overwrite=True)
    return dict(zip(index.tolist(), logits))
