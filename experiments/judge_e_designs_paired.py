"""Paired comparison on the training holdout of "E designs within the cost cap" (docs/results.md).

Usage: python experiments/judge_e_designs_paired.py REFERENCE_RUN RUN...
Each RUN is a `downscale train` folder (run.json, student.pt, and downscaler.pt for a learned E) on the same
data, seed, holdout and limit as REFERENCE_RUN (a classical pilot). Scores every held-out image again with
each run's student on its own thumbnails (checked against the run's recorded held-out top-1), then prints
per run: top-1, Δ against the reference, the discordant counts and the exact McNemar p.
"""

import json
import sys
from pathlib import Path

import torch

from downscale.classifiers import class_indices, load_classifier
from downscale.evaluation.stats import paired
from downscale.methods import thumbnail
from downscale.pretrained import load_downscaler
from downscale.training.data import IndexedImageFolder, split_holdout

SAME = ("data", "seed", "holdout", "limit", "image_size", "ratio")


@torch.no_grad()
def held_out_outcomes(folder: Path, reference: dict | None = None) -> tuple[dict, list[bool]]:
    """(the run's config, whether its student is right on each held-out image, in index order)."""
    run = json.loads((folder / "run.json").read_text())
    cfg = run["config"]
    if reference is not None and any(cfg[k] != reference[k] for k in SAME):
        raise ValueError(f"{folder}: {', '.join(k for k in SAME if cfg[k] != reference[k])} differ(s) from the "
                         "reference run's; a paired test needs the same held-out images")
    dataset = IndexedImageFolder(cfg["data"], cfg["image_size"])
    _, held = split_holdout(len(dataset), cfg["holdout"], cfg["seed"], cfg["limit"])
    student = load_classifier(folder / "student.pt").eval()
    targets = torch.tensor(class_indices(dataset.classes, student.num_classes))
    e = load_downscaler(folder / "downscaler.pt") if cfg["downscaler"] == "learned" else None
    outcomes = []
    for images, labels, _ in torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, held), batch_size=50):
        if e is not None:
            thumbs = e(images)
        else:  # as the run's cache stored them: uint8
            made = thumbnail(cfg["downscaler"], images.mul(255).round_().to(torch.uint8), cfg["ratio"])
            thumbs = made.mul(255).round_().clamp_(0, 255).to(torch.uint8).float() / 255
        pred = student(thumbs)[:, targets].argmax(1)
        outcomes += (pred == labels).tolist()
    recorded = run["holdout"]["top1_trained"]
    if abs(sum(outcomes) / len(outcomes) - recorded) > 1e-9:
        raise ValueError(f"{folder}: re-scored held-out top-1 {sum(outcomes) / len(outcomes)} differs from the "
                         f"recorded {recorded}")
    return cfg, outcomes


ref_cfg, ref = held_out_outcomes(Path(sys.argv[1]))
print(f"reference {Path(sys.argv[1]).name}: {100 * sum(ref) / len(ref):.1f}% of {len(ref)}")
print("| run | top-1 % | Δ vs reference | +/− | exact McNemar p |")
print("|---|---:|---:|---:|---:|")
for folder in map(Path, sys.argv[2:]):
    _, ok = held_out_outcomes(folder, ref_cfg)
    p = paired(ok, ref)
    print(f"| {folder.name} | {100 * sum(ok) / len(ok):.1f} | {100 * p.delta:+.1f} | +{p.method_only}/−{p.other_only} "
          f"| {p.p_mcnemar:.2g} |")
