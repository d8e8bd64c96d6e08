"""The evaluation: decode each image once, make every method's thumbnails per batch, classify them, and
summarise per-image results into accuracy, paired tests, thumbnail quality, FLOPs and latency
(``evaluate`` -> ``Results``; ``downscale eval`` renders them)."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import v2

from ..classifiers import class_indices
from ..images import unreadable_images
from ..methods import CLASSICAL, FULL, REFERENCE, ZOOM, check_methods, thumbnail
from ..model import Downscaler, as_float, output_size
from .cost import flops, median_time
from .quality import thumbnail_quality
from .stats import paired, wilson_interval

VIEWS = ("all", "dataset", "agreement")  # top-1 over every classifier output, or only over the dataset's
# classes; or agreement: the thumbnail's top-1 equals the same classifier's top-1 on the full image (no labels)


class _Fit:
    """Resize the short side to ``size`` and centre-crop to ``size x size`` (a no-op at that size)."""

    def __init__(self, size: int):
        self.size, self.resize = size, v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size)])

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img if tuple(img.shape[-2:]) == (self.size, self.size) else self.resize(img)


IMG_EXTENSIONS = torchvision.datasets.folder.IMG_EXTENSIONS


class PhotoFolder(torch.utils.data.Dataset):
    """Every image file under ``root`` (recursive, sorted), unlabelled (target -1), as ``(image, -1)``;
    ``classes`` is empty. For label-free evaluation (agreement) on any folder of photos."""

    def __init__(self, root: str | Path, transform):
        files = sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
        if not files:
            raise ValueError(f"{root}: no image files ({', '.join(IMG_EXTENSIONS)}) found")
        self.samples, self.classes, self.transform = [(str(f), -1) for f in files], [], transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        return self.transform(torchvision.datasets.folder.pil_loader(self.samples[i][0])), -1


def image_folder(root: str | Path, image_size: int = 224, labelled: bool = True) -> torch.utils.data.Dataset:
    """uint8 ``[3, S, S]`` RGB tensors (short side resized to S, centre crop): an ImageFolder (class
    sub-folders), or with ``labelled=False`` a ``PhotoFolder`` of every image under ``root``.
    Raises ValueError naming the folder when it holds no class sub-folders or no images."""
    fit = v2.Compose([v2.PILToTensor(), _Fit(image_size)])  # the loaders give PIL RGB
    if not labelled:
        return PhotoFolder(root, fit)
    try:
        return torchvision.datasets.ImageFolder(str(root), transform=fit)
    except FileNotFoundError as exc:
        raise ValueError(f"{root}: {exc}; give a folder with one sub-folder per class, "
                         "or use --agreement alone for a folder of unlabelled photos") from exc


def seeded_subset(n: int, limit: int | None, seed: int) -> list[int]:
    """All of ``range(n)``, or ``limit`` of them drawn without replacement with ``seed`` (sorted)."""
    if limit is None or limit >= n:
        return list(range(n))
    g = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(n, generator=g)[:limit].tolist())


@dataclass
class Plan:
    """What to evaluate. ``keys`` are ``(method, ratio, fov)``: every method at every field of view
    ``fovs`` (the centre fraction of each side, ``sizes.fov_box``; 1 = the whole image), except
    ``learned`` and ``zoom`` (the ``zoom`` predictor picks each image's box), which take the whole image
    only; ratio 1 means the full image (method ``full``, fov 1)."""

    methods: list[str]
    ratios: list[float]
    downscalers: dict[float, Downscaler] = field(default_factory=dict)
    fovs: list[float] = field(default_factory=lambda: [1])
    zoom: torch.nn.Module | None = None

    @property
    def keys(self) -> list[tuple[str, float, float]]:
        return [(FULL, 1, 1) if r == 1 else (m, r, f) for r in self.ratios
                for f in ([1] if r == 1 else self.fovs)
                for m in ([FULL] if r == 1 else self.methods) if f == 1 or m not in ("learned", ZOOM)]


def key_name(method: str, ratio: float, fov: float = 1) -> str:
    """``method@ratio`` (e.g. ``bicubic@2``), with ``,fov0.75`` appended for a field of view below 1."""
    return f"{method}@{ratio:g}" + ("" if fov == 1 else f",fov{fov:g}")


@torch.inference_mode()
def run(
    dataset,
    indices: list[int],
    classifier: torch.nn.Module,
    class_map: list[int],
    plan: Plan,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    grid_images: int = 6,
    latency_repeats: int = 5,
    progress=None,
) -> dict:
    """Classify every ``plan`` thumbnail of ``dataset[indices]``.

    Returns ``{"keys", "labels", "logit_pred", "dataset_pred", "quality", "flops", "latency",
    "examples"}``: per-key arrays of per-image predictions (classifier output index, and dataset class
    index among ``class_map``'s logits), per-key quality arrays against ``bicubic_aa`` at the same
    ratio and fov, FLOPs per image, latency per image (median over ``latency_repeats`` on the first batch),
    and ``examples`` (uint8 images and thumbnails of ``grid_images`` evenly spaced images).
    """
    classifier = classifier.to(device).eval().to(memory_format=torch.channels_last)
    downscalers = {r: e.to(device).eval() for r, e in plan.downscalers.items()}
    zoom = plan.zoom.to(device).eval() if plan.zoom is not None else None
    columns = torch.tensor(class_map, device=device, dtype=torch.long)
    keys = plan.keys
    logit_pred = {k: [] for k in keys}
    dataset_pred = {k: [] for k in keys}
    quality = {k: [] for k in keys if k[0] not in (FULL, REFERENCE)}
    picks = set(np.linspace(0, len(indices) - 1, min(grid_images, len(indices))).round().astype(int).tolist())
    examples: dict = {"images": [], "thumbs": {k: [] for k in keys if k[0] != FULL}}
    labels, first = [], None
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=False)
    seen = 0
    for images, target in progress(loader) if progress else loader:
        images = images.to(device)
        labels.append(target)
        if first is None:
            first = images
        thumbs = {k: thumbnail(k[0], images, k[1], downscalers.get(k[1]), k[2], zoom) for k in keys}
        rows = [i for i in range(len(images)) if seen + i in picks]
        seen += len(images)
        if rows:
            examples["images"].append(images[rows].cpu())
        for k, t in thumbs.items():
            logits = classifier(t.contiguous(memory_format=torch.channels_last))
            logit_pred[k].append(logits.argmax(1).cpu())
            dataset_pred[k].append(logits[:, columns].argmax(1).cpu() if len(columns) else -torch.ones(len(t), dtype=torch.long))
            if k in quality:
                quality[k].append(thumbnail_quality(t, thumbs[(REFERENCE, k[1], k[2])]))
            if rows and k in examples["thumbs"]:
                examples["thumbs"][k].append(t[rows].cpu())
    cat = lambda parts: torch.cat(parts).numpy()  # noqa: E731
    out = {
        "keys": keys,
        "labels": cat(labels),
        "logit_pred": {k: cat(v) for k, v in logit_pred.items()},
        "dataset_pred": {k: cat(v) for k, v in dataset_pred.items()},
        "quality": {k: {m: np.concatenate([q[m] for q in v]) for m in v[0]} for k, v in quality.items() if v},
        "examples": {"images": torch.cat(examples["images"]) if examples["images"] else None,
                     "thumbs": {k: torch.cat(v) for k, v in examples["thumbs"].items() if v}},
    }
    out["flops"], out["latency"] = measure_cost(keys, first, classifier, downscalers, latency_repeats, device, zoom)
    return out


def measure_cost(keys, images, classifier, downscalers, repeats, device, zoom=None) -> tuple[dict, dict]:
    """Per key ``(method, ratio[, fov])``: FLOPs per image of E (or of the ``zoom`` predictor), the classifier
    and (``full_size``) the classifier's network on the full image (T's cost, without a student's input
    enlargement), and latency per image in ms (median of ``repeats`` runs on the uint8 batch ``images``; none
    if ``repeats == 0``)."""
    flops_, latency = {}, {}
    sync = torch.device(device).type == "cuda"
    full_size = flops(classifier.net, torch.zeros(1, 3, *images.shape[-2:], device=device))
    for key in keys:
        method, ratio, fov = (*key, 1)[:3]  # (method, ratio) keys: the whole image
        down = downscalers.get(ratio)
        size = output_size(*images.shape[-2:], ratio)
        flops_[key] = {
            "downscaler": (flops(down, as_float(images[:1])) if method == "learned"
                           else flops(zoom, as_float(images[:1])) if method == ZOOM else 0),
            "classifier": flops(classifier, torch.zeros(1, 3, *size, device=device)),
            "full_size": full_size,
        }
        if repeats > 0:
            t_down = median_time(lambda: thumbnail(method, images, ratio, down, fov, zoom), repeats, 1, sync)
            thumb = thumbnail(method, images, ratio, down, fov, zoom).contiguous(memory_format=torch.channels_last)
            t_cls = median_time(lambda: classifier(thumb), repeats, 1, sync)
            latency[key] = {"batch": len(images), "downscale_ms": 1e3 * t_down / len(images),
                                      "classify_ms": 1e3 * t_cls / len(images)}
    return flops_, latency


def best_classical(top1: dict[str, float]) -> str | None:
    """The classical method with the highest score in ``{method: top1}`` (ties: ``CLASSICAL`` order)."""
    present = [m for m in CLASSICAL if m in top1]
    return max(present, key=lambda m: (top1[m], -present.index(m))) if present else None


def best_classical_view(top1: dict[tuple[str, float], float]) -> tuple[str, float] | None:
    """The classical ``(method, fov)`` with the highest score in ``{(method, fov): top1}`` (ties: the
    larger fov, then ``CLASSICAL`` order); with fov 1 only, the method ``best_classical`` picks."""
    present = sorted((k for k in top1 if k[0] in CLASSICAL), key=lambda k: (-k[1], CLASSICAL.index(k[0])))
    return max(present, key=lambda k: (top1[k], -present.index(k))) if present else None


def summarise(raw: dict, class_map: list[int], groups: dict[str, np.ndarray], views: list[str]) -> list[dict]:
    """One row per (group, view, key): n, top-1 (or agreement) with Wilson 95% CI, exact McNemar against
    the best classical (method, fov) of that group, view and ratio (``vs_best_classical``, chosen on the
    same images, which favours the classical side) and against ``bicubic_aa`` at the same fov
    (``vs_bicubic``), mean thumbnail quality, FLOPs and latency per image. Where some key has a fov
    below 1, rows and ``vs_best_classical`` also carry ``fov``. ``groups`` maps a name to a boolean
    mask over the images. The ``agreement`` view needs the full-resolution key ``(full, 1, 1)``."""
    labels = raw["labels"]
    correct = {}
    if "all" in views:
        correct["all"] = {k: p == np.asarray(class_map, dtype=int)[labels] for k, p in raw["logit_pred"].items()}
    if "dataset" in views:
        correct["dataset"] = {k: p == labels for k, p in raw["dataset_pred"].items()}
    if "agreement" in views:
        full = raw["logit_pred"][(FULL, 1, 1)]
        correct["agreement"] = {k: p == full for k, p in raw["logit_pred"].items() if k != (FULL, 1, 1)}
    sweep = any(k[2] != 1 for k in raw["keys"])
    rows = []
    for group, mask in groups.items():
        n = int(mask.sum())
        if n == 0:
            continue
        for view in views:
            ok_of = {k: v[mask] for k, v in correct[view].items()}
            best = {r: best_classical_view({(m, f): ok.mean() for (m, r2, f), ok in ok_of.items() if r2 == r})
                    for r in {r for _, r, _ in ok_of}}
            for k in raw["keys"]:
                if k not in ok_of:
                    continue
                method, ratio, fov = k
                ok = ok_of[k]
                row = {"group": group, "view": view, "method": method, "ratio": ratio, "n": n,
                       "correct": int(ok.sum()), "top1": float(ok.mean())}
                if sweep:
                    row["fov"] = fov
                row["ci95"] = list(wilson_interval(row["correct"], n))
                b = best[ratio]
                if b and method != FULL and (method, fov) != b:
                    row["vs_best_classical"] = {"method": b[0], **({"fov": b[1]} if sweep else {}),
                                                **asdict(paired(ok, ok_of[(b[0], ratio, b[1])]))}
                if method not in (FULL, REFERENCE) and (REFERENCE, ratio, fov) in ok_of:
                    row["vs_bicubic"] = asdict(paired(ok, ok_of[(REFERENCE, ratio, fov)]))
                if k in raw["quality"]:
                    q = raw["quality"][k]
                    row["quality_vs_bicubic"] = {
                        "psnr": float(q["psnr"][mask].mean()), "ssim": float(q["ssim"][mask].mean()),
                        "mean_shift": q["mean_shift"][mask].mean(0).tolist(),
                        "std_shift": q["std_shift"][mask].mean(0).tolist(),
                    }
                row["flops"] = raw["flops"].get(k)
                row["latency"] = raw["latency"].get(k)
                rows.append(row)
    return rows


def subset_mask(paths: list[str], pattern: str | None) -> np.ndarray | None:
    """Boolean mask of the paths whose file name matches ``pattern`` (``re.search``), or None."""
    if not pattern:
        return None
    rx = re.compile(pattern)
    return np.array([bool(rx.search(Path(p).name)) for p in paths])


@dataclass
class Results:
    """What ``evaluate`` measured: ``as_json()`` is the content of results.json (``config``, ``rows``
    from ``summarise``, ``images`` ``[{"path", "label"}]`` and ``per_image`` ``{key_name: {"logit_pred",
    "dataset_pred"}}``); ``examples`` and ``grid_columns`` are what ``report.grid_png`` draws."""

    config: dict
    rows: list[dict]
    images: list[dict]
    per_image: dict
    examples: dict = field(repr=False)
    grid_columns: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def unreadable(self) -> list[str]:
        """The messages of the image files that could not be read (skipped)."""
        return self.config["unreadable"]

    def as_json(self) -> dict:
        return {"config": self.config, "rows": self.rows, "images": self.images, "per_image": self.per_image}


def evaluate(
    data: str | Path,
    classifier: torch.nn.Module,
    methods: list[str],
    ratios: list[float],
    *,
    downscalers: dict[float, Downscaler] | None = None,
    fovs: list[float] | None = None,
    zoom: torch.nn.Module | None = None,
    zoom_name: str | None = None,
    views: list[str] = ("all", "dataset"),
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    image_size: int = 224,
    subset_regex: str | None = "ILSVRC2012_val_",
    device: str = "cpu",
    grid_images: int = 6,
    latency_repeats: int = 5,
    label: str = "",
    downscaler_info: dict | None = None,
    own: tuple[str, float] | tuple[str, float, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    skipped: Callable[[str], None] | None = None,
) -> Results:
    """Evaluate thumbnail ``methods`` (``downscale.methods`` names) at ``ratios`` with ``classifier``
    (a module taking float ``[N, 3, h, w]`` in [0, 1]) on the images under ``data``.

    ``data`` is an ImageFolder (class sub-folders), or any folder of photos when ``views`` is only
    ``["agreement"]``. Images are fitted to ``image_size`` (short side, centre crop); ``limit`` draws a
    ``seed``-ed subset. ``bicubic_aa`` (the reference of the quality columns and of ``vs_bicubic``) is
    added to ``methods`` at ratios above 1, and ratio 1 (the full image) for the ``agreement`` view.
    ``downscalers``: E per ratio for ``learned``; ``fovs``: fields of view swept by the classical methods
    (None: the whole image); ``zoom``: a ``downscale.zoom.ZoomPredictor`` for the method ``zoom`` (added to
    ``methods`` when given; ``zoom_name``, its weights file, is named in the report). ``subset_regex``:
    also report the files whose name matches it.
    ``label``, ``downscaler_info`` (``{ratio: {"name", "learned"}}``) and ``own`` (the student's own
    ``(method, ratio[, fov])``, marked) describe the run in the report. ``progress(done, total)`` is called
    before the first and after each batch; ``skipped(message)`` for each unreadable file (skipped).

    Raises ValueError for an unknown method or view, the method ``zoom`` without ``zoom``, a folder
    without class sub-folders (unless only agreement is asked for) or without images, a dataset class
    the classifier lacks, or no readable image; unreadable files are otherwise skipped and listed in ``Results.unreadable``.
    """
    start = time.perf_counter()
    methods = list(check_methods(list(methods)))
    if zoom is not None and ZOOM not in methods:
        methods.append(ZOOM)
    if ZOOM in methods and zoom is None:
        raise ValueError("method 'zoom' needs zoom, a ZoomPredictor (downscale.zoom.load_zoom)")
    if bad := [v for v in views if v not in VIEWS]:
        raise ValueError(f"unknown view(s) {bad}: choose from {', '.join(VIEWS)}")
    views, ratios = list(views), list(ratios)
    if REFERENCE not in methods and any(r != 1 for r in ratios):
        methods = [REFERENCE, *methods]
    if "agreement" in views and 1 not in ratios:
        ratios = [1, *ratios]  # agreement is with the full image's top-1
    if not Path(data).is_dir():
        raise ValueError(f"{data}: not a folder; give an ImageFolder root (one sub-folder per class)")
    labelled = any(p.is_dir() for p in Path(data).iterdir())
    if not labelled and views != ["agreement"]:
        raise ValueError(f"{data}: no class sub-folders, so no labels: evaluate views=['agreement'] only "
                         "(agreement with the full image's top-1)")
    dataset = image_folder(data, image_size, labelled=labelled)
    class_map = class_indices(dataset.classes, classifier.num_classes) if labelled else []
    indices = seeded_subset(len(dataset), limit, seed)
    bad = unreadable_images([dataset.samples[i][0] for i in indices])  # listed and skipped, as by convert
    for message in bad.values():
        if skipped:
            skipped(message)
    indices = [index for n, index in enumerate(indices) if n not in bad]
    if not indices:
        raise ValueError(f"{data}: none of the {len(bad)} image file(s) can be read")
    torch.manual_seed(seed)
    fovs = fovs if fovs and list(fovs) != [1] else None  # fov 1 alone is the default: the plain report
    plan = Plan(methods, ratios, dict(downscalers or {}), fovs or [1], zoom)

    def counted(loader):
        done = 0
        progress(0, len(indices))
        for images, target in loader:
            yield images, target
            done += len(target)
            progress(done, len(indices))

    raw = run(dataset, indices, classifier, class_map, plan, batch_size=batch_size, device=device,
              grid_images=grid_images, latency_repeats=latency_repeats, progress=counted if progress else None)
    paths = [str(Path(dataset.samples[i][0]).relative_to(data)) for i in indices]
    groups = {"all images": np.ones(len(indices), bool)}
    mask = subset_mask(paths, subset_regex)
    if mask is not None and 0 < mask.sum() < len(mask):
        groups[f"files matching /{subset_regex}/"] = mask
    rows = summarise(raw, class_map, groups, views)
    own = (*own, 1)[:3] if own else None
    for row in rows:
        row["size"] = output_size(image_size, image_size, row["ratio"])
        row["own"] = own is not None and (row["method"], row["ratio"], row.get("fov", 1)) == own
    config = {
        "model": label, "data": str(data), "n_images": len(indices), "limit": limit, "seed": seed,
        "methods": methods, "ratios": ratios, **({"fovs": fovs} if fovs else {}), "classes": views,
        "image_size": image_size,
        "num_outputs": classifier.num_classes, "num_classes": len(dataset.classes), "batch_size": batch_size,
        "device": device, "threads": torch.get_num_threads(), "latency_repeats": latency_repeats,
        "torch": torch.__version__, "subset_regex": subset_regex,
        "downscalers": {f"{r:g}": d for r, d in (downscaler_info or {}).items()},
        **({"zoom": str(zoom_name or type(zoom).__name__)} if zoom is not None else {}),
        "own_method": key_name(*own) if own else None, "wall_s": time.perf_counter() - start,
        "unreadable": list(bad.values()),
    }
    per_image = {key_name(*k): {"logit_pred": raw["logit_pred"][k], "dataset_pred": raw["dataset_pred"][k]}
                 for k in raw["keys"]}
    columns = [(m, r, f) for r in ratios if r != 1 for f in fovs or [1] for m in (REFERENCE, "learned")]
    return Results(config, rows, [{"path": p, "label": int(y)} for p, y in zip(paths, raw["labels"])], per_image,
                   raw["examples"], columns if grid_images else [])
