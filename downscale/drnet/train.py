"""DRNet training in two stages (Zhu et al., NeurIPS 2021), on the training kit's data and teacher cache.

Stage 1: a MultiResolutionClassifier initialised from the teacher learns every ratio at once: each
step sums KD (teacher logits on the full image, cached) + CE over ratios 1, 2, 4, the thumbnails made
by fixed downscalers E (the registry defaults unless named).

Stage 2: with the classifier frozen, each image's loss at every ratio is computed once; a
ResolutionPredictor then learns to choose with straight-through Gumbel-softmax and the FLOPs term
``L_reg = max(0, (E[FLOPs] - alpha) / (C_max - C_min))`` weighted by ``eta``, one predictor per
target ``alpha``. Stage 2 uses training images stage 1 did not see (when ``limit`` leaves some), so
the per-ratio losses it learns from are not the optimistic ones of memorised images.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

from ..classifiers import build_classifier, class_indices
from ..dynamic import RATIOS, DynamicClassifier, MultiResolutionClassifier, ResolutionPredictor, load_multires
from ..images import write_atomic
from ..pretrained import default_weights, load_downscaler, save_weights, sha256
from ..training.config import RunConfig, setting
from ..training.data import IndexedImageFolder, cache_key, epoch_flips, flip_where, split_holdout, teacher_logits
from ..training.losses import classification, distillation

CL = torch.channels_last


@dataclass
class DynamicConfig(RunConfig):
    """Every setting of a DRNet run (``downscale train-dynamic``): stage 1 (the multi-resolution
    classifier) and stage 2 (one resolution predictor per FLOPs target)."""

    teacher_weights: str = setting(help="plain state_dict file of the teacher T (also the classifier's "
                                   "initialisation).", path="file", exists=True)
    epochs: int = setting(1, help="stage-1 epochs.", min=1)
    limit: int | None = setting(None, help="stage 1 uses the first N training images; stage 2 the rest.", min=1)
    flip: bool = setting(True, help="stage-1 random horizontal flips.")
    downscalers: tuple[str, str] | None = setting(None, help="E for ratio 2 and 4 (registry names or files) "
                                                  "[default: the registry defaults].", metavar="E2,E4")
    student: str | None = setting(None, help="skip stage 1: a multi-resolution classifier file from an earlier run.",
                                  path="file", exists=True)
    max_steps: int | None = setting(None, help="stop stage 1 after N steps (the one-cycle schedule spans them).",
                                    min=1)
    stage2_limit: int | None = setting(None, help="stage 2 uses at most N images.", min=1)
    lr: float = setting(2e-4, help="stage-1 peak learning rate (AdamW, one-cycle).")
    targets: tuple[float, ...] = setting((0.5, 0.6, 0.7), help="targets alpha as fractions of the full-resolution "
                                         "FLOPs (predictor included), one predictor each.", flag="--target-flops")
    eta: float = setting(10.0, help="weight of the FLOPs term.")
    gumbel_tau: float = setting(1.0, help="temperature of the Gumbel-softmax choice.")
    predictor_epochs: int = setting(30, help="stage-2 epochs of each predictor.", min=1)
    predictor_batch: int = setting(128, help="stage-2 batch size.", min=1)
    predictor_lr: float = setting(2e-3, help="stage-2 peak learning rate (AdamW, one-cycle).")
    predictor_widths: tuple[int, ...] = setting((16, 32, 64, 128), help="channels of the predictor's conv layers.")
    preview: int = setting(56, help="side of the square preview the predictor sees.", min=1)

    def __post_init__(self):
        if any(not 0 < t <= 1.5 for t in self.targets):
            raise ValueError(f"targets are fractions of the full-resolution FLOPs in (0, 1.5], got {self.targets}")
        if self.epochs < 1 or self.batch_size < 1 or self.predictor_epochs < 1:
            raise ValueError("epochs, batch_size and predictor_epochs must be >= 1")


def split(n: int, cfg: DynamicConfig) -> tuple[list[int], list[int], list[int]]:
    """``(stage1, stage2, held_out)`` sorted dataset indices; the same seeded permutation as ThumbNet's
    ``split_holdout``. Stage 2 gets the images after ``limit``; with none left it reuses stage 1's."""
    stage1, held = split_holdout(n, cfg.holdout, cfg.seed, cfg.limit)
    rest = sorted(set(range(n)) - set(stage1) - set(held))
    stage2 = rest or stage1
    if cfg.stage2_limit is not None:
        perm = torch.randperm(len(stage2), generator=torch.Generator().manual_seed(cfg.seed + 1)).tolist()
        stage2 = sorted(stage2[i] for i in perm[: cfg.stage2_limit])
    return stage1, stage2, held


def _downscalers(cfg: DynamicConfig) -> dict:
    names = cfg.downscalers or (default_weights(2), default_weights(4))
    return {r: (str(name), load_downscaler(name)) for r, name in zip((2, 4), names)}


def train_stage1(cfg: DynamicConfig, dataset, indices, teacher, targets, device, echo) -> tuple[MultiResolutionClassifier, dict]:
    """Stage 1: KD + CE summed over the ratios; returns the classifier and a history record."""
    torch.manual_seed(cfg.seed)
    key = cache_key(dataset, indices, cfg.teacher_weights, teacher, cfg.image_size, flips=cfg.flip)
    logits = teacher_logits(teacher, dataset, indices, cfg.cache or Path(cfg.out) / "cache", key,
                            workers=cfg.workers, device=device, echo=echo, flips=cfg.flip)
    cached = torch.zeros(len(dataset), 2, teacher.num_classes)
    for i, v in logits.items():
        cached[i] = v  # [2, K] (image, flip) or [1, K] broadcast when flips are off
    model = MultiResolutionClassifier.from_classifier(teacher.cpu(), _downscalers(cfg)).to(device, memory_format=CL)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = DataLoader(Subset(dataset, indices), batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.workers, generator=torch.Generator().manual_seed(cfg.seed))
    if len(loader) == 0:
        raise ValueError(f"{len(indices)} stage-1 images make no batch of {cfg.batch_size}: lower --batch-size")
    total = min(len(loader) * cfg.epochs, cfg.max_steps or math.inf)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    tic, done, history = time.time(), 0, []
    for epoch in range(math.ceil(total / len(loader))):
        model.train()
        flips = epoch_flips(len(dataset), cfg.seed, epoch, cfg.flip)
        sums, steps = {r: 0.0 for r in model.ratios}, 0
        for images, labels, index in loader:
            flipped = flips[index]
            x = flip_where(images, flipped).to(device).contiguous(memory_format=CL)
            soft = cached[index, flipped.long()].to(device)
            target = targets[labels].to(device)
            optimizer.zero_grad(set_to_none=True)
            for r in model.ratios:  # one backward per ratio: the summed gradient with a third of the memory
                out = model(x, r)
                loss = cfg.w_kd * distillation(out, soft, cfg.tau) + cfg.w_cl * classification(out, target)
                loss.backward()
                sums[r] += loss.item()
            optimizer.step()
            scheduler.step()
            done, steps = done + 1, steps + 1
            if done % cfg.log_every == 0 or done == total:
                speed = done * cfg.batch_size / (time.time() - tic)
                eta = (time.time() - tic) / done * (total - done)
                echo(f"stage 1 step {done}/{total} (epoch {epoch + 1}) | {speed:.1f} img/s | "
                     + " ".join(f"loss@{r} {sums[r] / steps:.3f}" for r in model.ratios) + f" | eta {eta / 60:.1f} min")
            if done == total:
                break
        history.append({"epoch": epoch + 1, "steps": steps, **{f"loss_r{r}": sums[r] / steps for r in model.ratios}})
    return model.eval(), {"history": history, "seconds": round(time.time() - tic, 1), "steps": total}


@torch.no_grad()
def per_ratio_outcomes(model: MultiResolutionClassifier, dataset, indices, targets, preview: int, device,
                       batch_size: int = 64, echo=print) -> dict:
    """For each image of ``indices``: the loss and correctness at every ratio (over the dataset's
    classes) and its preview. Keys: ``loss`` float ``[N, R]``, ``correct`` bool ``[N, R]``,
    ``confidence`` float ``[N, R]`` (top softmax probability over those classes), ``preview`` float
    ``[N, 3, p, p]``, ``labels`` ``[N]``, ``indices`` ``[N]``."""
    from ..model import bicubic

    model.eval().to(device)
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size)
    out = {"loss": [], "correct": [], "confidence": [], "preview": [], "labels": [], "indices": []}
    tic = time.time()
    for step, (images, labels, index) in enumerate(loader):
        x = images.to(device).contiguous(memory_format=CL)
        losses, correct, confidence = [], [], []
        for r in model.ratios:
            logits = model(x, r).float()[:, targets.to(device)]
            losses.append(F.cross_entropy(logits, labels.to(device), reduction="none").cpu())
            correct.append((logits.argmax(1).cpu() == labels))
            confidence.append(logits.softmax(1).amax(1).cpu())
        out["loss"].append(torch.stack(losses, 1))
        out["correct"].append(torch.stack(correct, 1))
        out["confidence"].append(torch.stack(confidence, 1))
        out["preview"].append(bicubic(images, (preview, preview)))  # exactly what the predictor sees
        out["labels"].append(labels)
        out["indices"].append(index)
        if step % 20 == 0:
            echo(f"per-ratio outcomes: {(step + 1) * batch_size}/{len(indices)} images ({time.time() - tic:.0f} s)")
    return {k: torch.cat(v) for k, v in out.items()}


def flops_penalty(expected: torch.Tensor, alpha: float, low: float, high: float) -> torch.Tensor:
    """DRNet's ``L_reg = max(0, (E[FLOPs] - alpha) / (C_max - C_min))``."""
    return torch.clamp((expected - alpha) / (high - low), min=0)


def train_predictor(outcomes: dict, costs: torch.Tensor, alpha: float, cfg: DynamicConfig, ratios=RATIOS,
                    held: dict | None = None, echo=print) -> tuple[ResolutionPredictor, list[dict]]:
    """Stage 2 for one target: straight-through Gumbel-softmax choice over the precomputed per-ratio
    losses plus ``eta * L_reg``. ``costs`` ``[R]`` FLOPs per image of each choice (predictor
    included). Returns the predictor (eval mode) and a per-epoch log (with holdout metrics if given)."""
    torch.manual_seed(cfg.seed)
    predictor = ResolutionPredictor(ratios, cfg.preview, cfg.predictor_widths)
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=cfg.predictor_lr, weight_decay=1e-4)
    n = len(outcomes["loss"])
    steps = math.ceil(n / cfg.predictor_batch) * cfg.predictor_epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.predictor_lr, total_steps=steps)
    g = torch.Generator().manual_seed(cfg.seed)
    low, high = costs.min().item(), costs.max().item()
    log = []
    for epoch in range(cfg.predictor_epochs):
        predictor.train()
        perm = torch.randperm(n, generator=g)
        sums = {"task": 0.0, "reg": 0.0, "flops": 0.0}
        for start in range(0, n, cfg.predictor_batch):
            b = perm[start:start + cfg.predictor_batch]
            choice = F.gumbel_softmax(predictor(outcomes["preview"][b]), tau=cfg.gumbel_tau, hard=True)
            task = (choice * outcomes["loss"][b]).sum(1).mean()
            expected = (choice * costs).sum(1).mean()
            reg = flops_penalty(expected, alpha, low, high)
            loss = task + cfg.eta * reg
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            for k, v in (("task", task), ("reg", reg), ("flops", expected)):
                sums[k] += v.item() * len(b)
        entry = {"epoch": epoch + 1, **{k: v / n for k, v in sums.items()}}
        if held is not None:
            entry.update(choice_metrics(predictor, held, costs, ratios))
        log.append(entry)
        if epoch % 5 == 4 or epoch + 1 == cfg.predictor_epochs:
            echo(f"predictor alpha {alpha / 1e6:.0f} MFLOPs epoch {epoch + 1}: " + ", ".join(
                f"{k} {v / 1e6:.0f}M" if "flops" in k else f"{k} {v:.4f}" for k, v in entry.items() if k != "epoch"))
    return predictor.eval(), log


@torch.no_grad()
def choice_metrics(predictor: ResolutionPredictor, outcomes: dict, costs: torch.Tensor, ratios=RATIOS) -> dict:
    """Top-1 and mean FLOPs of the predictor's argmax choices over precomputed outcomes."""
    was = predictor.training
    predictor.eval()
    pick = predictor(outcomes["preview"]).argmax(1)
    predictor.train(was)
    correct = outcomes["correct"].gather(1, pick[:, None]).squeeze(1)
    return {"held_top1": correct.float().mean().item(), "held_flops": costs[pick].mean().item(),
            **{f"held_share_r{r}": (pick == i).float().mean().item() for i, r in enumerate(ratios)}}


def train_dynamic(cfg: DynamicConfig, echo=print) -> dict:
    """Run both stages; writes ``student.pt`` (unless ``cfg.student``), ``predictor-t<target>.pt`` per
    target and ``run.json`` into ``cfg.out``; returns the run record."""
    started = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dataset = IndexedImageFolder(cfg.data, cfg.image_size)
    stage1_idx, stage2_idx, held_idx = split(len(dataset), cfg)
    dataset.check(sorted({*stage1_idx, *stage2_idx, *held_idx}))
    teacher = build_classifier(cfg.teacher, cfg.teacher_weights, normalize=cfg.normalize).requires_grad_(False).eval()
    targets = torch.tensor(class_indices(dataset.classes, teacher.num_classes))
    record: dict = {"config": dataclasses.asdict(cfg), "stage1_images": len(stage1_idx),
                    "stage2_images": len(stage2_idx), "holdout_images": len(held_idx),
                    "stage2_reuses_stage1": stage2_idx == stage1_idx, "teacher_sha256": sha256(cfg.teacher_weights)}
    if cfg.student:
        student_path = Path(cfg.student)
        model = load_multires(student_path, device)
        echo(f"stage 1 skipped: using {student_path}")
    else:
        student_path = out / "student.pt"
        if student_path.exists():
            raise ValueError(f"{student_path} exists: pass --student {student_path} to reuse it, or pick a new --out")
        teacher.to(device, memory_format=CL)
        model, record["stage1"] = train_stage1(cfg, dataset, stage1_idx, teacher, targets, device, echo)
        model = model.cpu().to(memory_format=torch.contiguous_format)
        record["student_sha256"] = save_weights(model, student_path, kind="multires_classifier",
                                                data=cfg.data, seed=cfg.seed, stage1=record["stage1"])
        echo(f"wrote {student_path}")
    record["student"] = str(student_path)

    echo(f"stage 2: per-ratio outcomes on {len(stage2_idx)} + {len(held_idx)} held-out images")
    tic = time.time()
    train_out = per_ratio_outcomes(model, dataset, stage2_idx, targets, cfg.preview, device, echo=echo)
    held_out = per_ratio_outcomes(model, dataset, held_idx, targets, cfg.preview, device, echo=echo) \
        if held_idx else None
    record["outcomes_seconds"] = round(time.time() - tic, 1)
    probe = DynamicClassifier(ResolutionPredictor(model.ratios, cfg.preview, cfg.predictor_widths), model.cpu())
    costs_map = probe.flops(cfg.image_size)
    costs = torch.tensor([float(costs_map[r]) for r in model.ratios])
    full = model.flops(cfg.image_size)[1]
    record["flops"] = {"with_predictor": costs_map, "ratio1_without_predictor": full}
    if held_out is not None:
        record["holdout_fixed_top1"] = {r: held_out["correct"][:, i].float().mean().item()
                                        for i, r in enumerate(model.ratios)}
    record["predictors"] = {}
    for target in cfg.targets:
        alpha = target * full
        predictor, log = train_predictor(train_out, costs, alpha, cfg, model.ratios, held_out, echo)
        path = out / f"predictor-t{target:g}.pt"
        sha = save_weights(predictor, path, kind="resolution_predictor", student=student_path.name,
                           target_fraction=target, alpha_flops=alpha, eta=cfg.eta, seed=cfg.seed)
        record["predictors"][path.name] = {"target_fraction": target, "alpha_flops": alpha, "sha256": sha,
                                           "final": log[-1], "log": log}
        echo(f"wrote {path}: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                              for k, v in log[-1].items()}))
    record["wall_seconds"] = round(time.time() - started, 1)
    run_json = out / "run.json"
    if run_json.exists():  # a second stage-2 run in the same folder keeps the first record
        run_json = out / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(record, indent=2) + "\n"
    write_atomic(run_json, lambda f: f.write(text.encode()), overwrite=True)
    echo(f"wrote {run_json}")
    return record
