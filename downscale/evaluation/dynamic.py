"""Accuracy against mean FLOPs for DRNet dynamic resolution, beside fixed ratios and random choices.

Every image of an ImageFolder is classified once at each ratio; a predictor's accuracy is then the
correctness at the ratio it picks, so every row is measured on the same images. Rows: fixed ratios
1, 2, 4; each predictor; for each predictor a random per-image choice with exactly its mean FLOPs
(a seeded permutation of its choices) and the oracle (cheapest ratio that is right). Paired tests:
exact McNemar of each predictor against fixed ratio 1 and against the random choice, plus a
permutation p-value (share of random permutations scoring at least the predictor's top-1).
"""

from __future__ import annotations

import time

import torch

from ..classifiers import class_indices
from ..drnet.train import per_ratio_outcomes
from ..dynamic import DynamicClassifier, MultiResolutionClassifier, ResolutionPredictor, exit_steps
from ..training.data import IndexedImageFolder
from .stats import discordant, mcnemar_exact, wilson_interval


def _row(name: str, correct: torch.Tensor, flops: float, **extra) -> dict:
    n, k = len(correct), int(correct.sum())
    low, high = wilson_interval(k, n)
    return {"method": name, "n": n, "correct": k, "top1": k / n, "ci95": [low, high], "mean_flops": flops, **extra}


def _paired(a: torch.Tensor, b: torch.Tensor) -> dict:
    only_a, only_b = discordant(a.tolist(), b.tolist())
    return {"only_this": only_a, "only_other": only_b, "p_mcnemar": mcnemar_exact(only_a, only_b)}


def _against_random(correct: torch.Tensor, pick: torch.Tensor, ratios, seed: int, permutations: int):
    """Image ``i`` answered at column ``pick[i]``, against the same choices randomly permuted (same
    shares, same FLOPs). Returns ``(outcomes, random outcomes, shares, paired statistics)``."""
    n, every = len(correct), torch.arange(len(correct))
    mine = correct[every, pick]
    g = torch.Generator().manual_seed(seed)
    rand = correct[every, pick[torch.randperm(n, generator=g)]]
    scores = torch.stack([correct[every, pick[torch.randperm(n, generator=g)]].float().mean()
                          for _ in range(permutations)])
    share = {f"share_r{r}": float((pick == i).float().mean()) for i, r in enumerate(ratios)}
    stats = {"vs_fixed1": _paired(mine, correct[:, 0]), "vs_random": _paired(mine, rand),
             "p_permutation": float((scores >= mine.float().mean()).float().mean()),
             "random_top1_mean": float(scores.mean()), "random_top1_std": float(scores.std())}
    return mine, rand, share, stats


def compare(correct: torch.Tensor, costs: torch.Tensor, picks: dict[str, tuple[torch.Tensor, int]],
            ratios=(1, 2, 4), seed: int = 0, permutations: int = 1000) -> list[dict]:
    """The table's rows from per-image outcomes.

    ``correct`` bool ``[N, R]`` (right at each ratio); ``costs`` ``[R]`` FLOPs per image of each
    ratio (downscaler + classifier); ``picks`` ``{name: (int64 [N] column chosen per image,
    predictor FLOPs per image)}``. A predictor's mean FLOPs include its own; the random choice
    (same ratio shares, so the same classification FLOPs) and the oracle run no predictor.
    """
    n = len(correct)
    rows = [_row(f"fixed ratio {r}", correct[:, i], float(costs[i])) for i, r in enumerate(ratios)]
    every = torch.arange(n)
    for name, (pick, predictor_flops) in picks.items():
        mine, rand, share, stats = _against_random(correct, pick, ratios, seed, permutations)
        flops = float(costs[pick].mean())
        rows.append(_row(f"dynamic {name}", mine, flops + predictor_flops, **share, **stats))
        rows.append(_row(f"random, shares of {name} (seed {seed})", rand, flops, **share))
    # the cheapest ratio that is right (the cheapest of all where none is)
    oracle = torch.where(correct.any(1, keepdim=True), torch.where(correct, costs, torch.inf), costs).argmin(1)
    rows.append(_row("oracle (cheapest ratio that is right)", correct[every, oracle], float(costs[oracle].mean()),
                     **{f"share_r{r}": float((oracle == i).float().mean()) for i, r in enumerate(ratios)}))
    return rows


def early_exit_rows(correct: torch.Tensor, confidence: torch.Tensor, costs: torch.Tensor, thresholds: list[float],
                    ladder=(2, 1), ratios=(1, 2, 4), seed: int = 0, permutations: int = 1000) -> list[dict]:
    """Rows for the early-exit ladder (``EarlyExitClassifier``) at each threshold, from per-image
    outcomes: ``correct`` / ``confidence`` ``[N, R]`` per ratio, ``costs`` ``[R]``. An image's FLOPs
    are the sum over the ratios it ran. Each row is followed by a random exit with the same number
    of images stopping at each step (so the same FLOPs), paired as in ``compare``."""
    cols = torch.tensor([ratios.index(r) for r in ladder])
    spent = costs[cols].cumsum(0)
    name = "->".join(str(r) for r in ladder)
    rows = []
    for t in thresholds:
        steps = exit_steps(confidence[:, cols], t)
        mine, rand, share, stats = _against_random(correct, cols[steps - 1], ratios, seed, permutations)
        flops = float(spent[steps - 1].mean())
        rows.append(_row(f"early exit {name}, threshold {t:g}", mine, flops, **share, threshold=t, **stats))
        rows.append(_row(f"random exit, shares of threshold {t:g} (seed {seed})", rand, flops, **share))
    return rows


def markdown(rows: list[dict], full_flops: float) -> str:
    """The rows as a Markdown table (FLOPs in M and relative to fixed ratio 1)."""
    lines = ["| method | top-1 (95% CI) | mean MFLOPs/image | vs fixed 1 | share 1/2/4 | p vs random | p vs fixed 1 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        share = "/".join(f"{100 * r[k]:.0f}%" for k in ("share_r1", "share_r2", "share_r4")) if "share_r1" in r else "-"
        p_rand = f"{r['vs_random']['p_mcnemar']:.3g} (perm {r['p_permutation']:.3g})" if "vs_random" in r else "-"
        p_full = f"{r['vs_fixed1']['p_mcnemar']:.3g}" if "vs_fixed1" in r else "-"
        lines.append(f"| {r['method']} | {100 * r['top1']:.2f}% ({100 * r['ci95'][0]:.1f}-{100 * r['ci95'][1]:.1f}) | "
                     f"{r['mean_flops'] / 1e6:.0f} | {100 * (r['mean_flops'] / full_flops - 1):+.1f}% | {share} | "
                     f"{p_rand} | {p_full} |")
    return "\n".join(lines) + "\n"


def evaluate_dynamic(student: MultiResolutionClassifier, predictors: dict[str, ResolutionPredictor], data: str,
                     image_size: int = 224, batch_size: int = 64, seed: int = 0, permutations: int = 1000,
                     limit: int | None = None, teacher=None, device="cpu", echo=print,
                     exits: tuple[float, ...] = ()) -> dict:
    """Outcomes of ``student`` at every ratio on the ImageFolder ``data`` (first ``limit`` images if
    given) and the comparison rows (see ``compare``; ``early_exit_rows`` for each threshold in
    ``exits``); with ``teacher``, also its fixed-224 top-1."""
    tic = time.time()
    dataset = IndexedImageFolder(data, image_size)
    indices = list(range(len(dataset)))[:limit]
    targets = torch.tensor(class_indices(dataset.classes, student.num_classes))
    outcomes = per_ratio_outcomes(student, dataset, indices, targets, next(iter(predictors.values())).preview
                                  if predictors else 56, device, batch_size, echo)
    student = student.cpu()
    fixed = student.flops(image_size)
    costs = torch.tensor([float(fixed[r]) for r in student.ratios])
    picks = {}
    for name, predictor in predictors.items():
        with torch.no_grad():
            pick = predictor.eval()(outcomes["preview"]).argmax(1)
        picks[name] = (pick, DynamicClassifier(predictor, student).flops(image_size)[1] - fixed[1])
    rows = compare(outcomes["correct"], costs, picks, student.ratios, seed, permutations)
    if exits:
        oracle = rows.pop()  # keep the oracle last
        rows += early_exit_rows(outcomes["correct"], outcomes["confidence"], costs, list(exits),
                                ratios=tuple(student.ratios), seed=seed, permutations=permutations) + [oracle]
    if teacher is not None:
        teacher = teacher.to(device).eval()
        right = []
        with torch.no_grad():
            for images, labels, _ in torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size):
                logits = teacher(images.to(device)).float()[:, targets.to(device)]
                right.append(logits.argmax(1).cpu() == labels)
        right = torch.cat(right)
        rows.insert(0, _row("teacher, fixed ratio 1", right, float(costs[0]),
                            vs_student_fixed1=_paired(right, outcomes["correct"][:, 0])))
    return {"data": str(data), "n": len(indices), "seed": seed, "permutations": permutations,
            "flops_fixed": {str(r): int(f) for r, f in fixed.items()},
            "flops_predictors": {name: int(f) for name, (_, f) in picks.items()},
            "rows": rows, "seconds": round(time.time() - tic, 1)}
