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
from ..images import unreadable_images, write_atomic
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

    def check(self, indices: list[int]) -> None:
        """Decode the images at ``indices`` once (about 1 ms per 224-px JPEG on one core), so that a bad
        file stops a run up front, not in its teacher cache or training. Raises ValueError naming the
        files that cannot be read."""
        bad = unreadable_images([self.samples[i][0] for i in indices])
        if bad:
            listed = "; ".join(list(bad.values())[:3]) + ("; ..." if len(bad) > 3 else "")
            raise ValueError(f"{self.root}: {len(bad)} of the run's {len(indices)} image file(s) cannot be read; "
                             f"fix or remove them: {listed}")

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


def _digest(dataset: IndexedImageFolder, indices: list[int], **parts) -> str:
    files = [(os.path.relpath(dataset.samples[i][0], dataset.root), os.path.getsize(dataset.samples[i][0]))
             for i in indices]
    return hashlib.sha256(json.dumps({"files": files, **parts}, sort_keys=True).encode()).hexdigest()


def cache_key(dataset: IndexedImageFolder, indices: list[int], teacher_weights: str | None, teacher: Classifier,
              size: int, flips: bool) -> str:
    """Hex digest of everything the cached logits depend on: files, teacher, normalisation, size, flips
    (a teacher without a weights file is an EXTERNAL one, named by its config)."""
    weights = sha256(teacher_weights) if teacher_weights else None
    return _digest(dataset, indices, teacher=teacher.config(), weights=weights, size=size, flips=flips)


def thumbnail_key(dataset: IndexedImageFolder, indices: list[int], size: int, ratio: int, method: str) -> str:
    """Hex digest of everything cached thumbnails depend on: files, size, ratio and ``method`` (a
    classical method's name, or a digest of a fixed E's weights)."""
    return _digest(dataset, indices, size=size, ratio=ratio, method=method)


@torch.no_grad()
def fixed_thumbnails(make, dataset: IndexedImageFolder, indices: list[int], cache_dir: str | os.PathLike, key: str,
                     batch_size: int = 64, workers: int = 0, echo=print) -> torch.Tensor:
    """uint8 ``[len(dataset), 3, h, w]``: ``make``'s thumbnail of each image in ``indices`` (zeros elsewhere).

    ``make`` maps float ``[N, 3, H, W]`` in [0, 1] to float thumbnails in [0, 1]. Computed once and stored
    as ``cache_dir/thumbnails-<key[:16]>.pt``; reloaded when the key (``thumbnail_key``) matches.
    """
    path = Path(cache_dir) / f"thumbnails-{key[:16]}.pt"
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["key"] == key:
            return saved["thumbnails"]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=batch_size,
                                         num_workers=workers)
    thumbs = None
    for step, (images, _, index) in enumerate(loader):
        batch = make(images.contiguous(memory_format=torch.channels_last)).mul(255).round_().clamp_(0, 255)
        if thumbs is None:
            thumbs = torch.zeros((len(dataset), *batch.shape[1:]), dtype=torch.uint8)
        thumbs[index] = batch.to(torch.uint8)
        if step % 20 == 0:
            echo(f"thumbnails: {min((step + 1) * batch_size, len(indices))}/{len(indices)} images")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: torch.save({"key": key, "thumbnails": thumbs}, f), overwrite=True)
    return thumbs


class ThumbnailSet(torch.utils.data.Dataset):
    """Items ``(thumbnail uint8 [3, h, w], label, index)`` from precomputed thumbnails of ``dataset``."""

    def __init__(self, thumbnails: torch.Tensor, dataset: IndexedImageFolder):
        self.thumbnails, self.targets = thumbnails, dataset.targets

    def __len__(self) -> int:
        return len(self.thumbnails)

    def __getitem__(self, index: int):
        return self.thumbnails[index], self.targets[index], index


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
    write_atomic(path, lambda f: torch.save({"key": key, "indices": index, "logits": logits}, f), overwrite=True)
    return dict(zip(index.tolist(), logits))
