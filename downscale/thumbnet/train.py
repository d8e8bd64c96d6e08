"""The ThumbNet training run. ``train`` reads top to bottom: setup (DDP when launched by torchrun), the
teacher cache, the networks and optimizer, one ``train_epoch`` per epoch (its loss terms from
``step_losses``; AMP on CUDA, channels_last), an epoch-end checkpoint (``save_checkpoint`` /
``load_checkpoint``: exact resume), ``evaluate_holdout``, and ``export`` (downscaler.pt, student.pt,
card.md, run.json)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler

from ..classifiers import class_indices
from ..errors import WeightsError
from ..images import write_atomic
from ..methods import CLASSICAL, RENAMED, thumbnail
from ..model import Downscaler, as_float, bicubic, output_size
from ..pretrained import load_downscaler, save_weights, sha256
from ..training.data import (
    IndexedImageFolder,
    ThumbnailSet,
    cache_key,
    epoch_flips,
    fixed_thumbnails,
    flip_where,
    split_holdout,
    teacher_logits,
    thumbnail_key,
)
from ..training.losses import classification, colour_shift, distillation, feature_mapping, moment_matching
from .card import data_name as _data_name
from .card import model_card
from .config import TrainConfig
from .nets import ThumbNet, build_student, build_teacher, check_teacher, fm_channels, tap

CL = torch.channels_last
# fields that do not change the trained weights (may differ between a run and its resume)
_RESUME_FREE = {"workers", "log_every", "cache", "device"}


def _setup(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)``; joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return 0, 1, device
    use_cuda = torch.cuda.is_available() and cfg.device != "cpu"
    dist.init_process_group("nccl" if use_cuda else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return dist.get_rank(), world, device


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def _train_mode(net: ThumbNet, cfg: TrainConfig) -> None:
    net.train()
    if cfg.freeze_classifier:
        net.classifier.eval()  # the frozen teacher keeps its BN statistics


def _fixed_thumbnailer(cfg: TrainConfig):
    """``(make, identity)``: the fixed thumbnail function (float [N, 3, H, W] in [0, 1] -> float thumbnails)
    and a string naming exactly what it computes (for the cache key). A classical method resizes the centre
    ``cfg.fov`` view (``sizes.fov_box``); a given E must have the run's ratio."""
    if cfg.downscaler in CLASSICAL:
        identity = cfg.downscaler if cfg.fov == 1 else f"{cfg.downscaler} fov {cfg.fov!r}"
        return (lambda x: thumbnail(cfg.downscaler, x.mul(255).round_().to(torch.uint8), cfg.ratio, fov=cfg.fov)), \
            identity
    e = load_downscaler(cfg.fixed_downscaler).requires_grad_(False).eval()
    if e.ratio != cfg.ratio:
        raise ValueError(f"downscaler {cfg.fixed_downscaler} reduces by {e.ratio}, but --ratio is {cfg.ratio}")
    weights = hashlib.sha256(b"".join(t.numpy().tobytes() for t in e.state_dict().values())).hexdigest()
    return (lambda x: e(x).clamp_(0, 1)), f"{json.dumps(e.config(), sort_keys=True)} {weights}"


def _eta(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s"


@torch.no_grad()
def evaluate_holdout(net: ThumbNet, teacher, dataset, indices: list[int], targets: torch.Tensor,
                     batch_size: int, device: torch.device, full_logits: torch.Tensor | None = None,
                     trained_only: bool = False) -> dict:
    """Top-1 over the dataset's classes (argmax among their logits) on ``indices``, each image once.

    ``dataset`` yields full images, or the fixed thumbnails (``ThumbnailSet``) of a run without a learned
    E. Keys: ``n``; ``trained`` (the run's classifier on the run's thumbnails); unless ``trained_only``:
    ``teacher_full`` (T at full size); ``teacher_bicubic`` (T on antialiased-bicubic thumbnails; full
    images only); ``teacher_on_thumbnails`` (T on the fixed thumbnails); with a learned E
    ``teacher_on_E`` and ``psnr_E_vs_bicubic`` (dB, mean over images). ``full_logits`` (T's cached
    logits, ``[len(dataset), >=1, K]``, row 0 unflipped) saves the full-size teacher forward.
    """
    net.eval()
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size)
    correct: dict[str, int] = {}
    psnr_sum = 0.0
    for images, labels, index in loader:
        x = as_float(images).to(device).contiguous(memory_format=CL)
        thumb, logits, _ = net(x)
        outputs = {"trained": logits}
        if not trained_only and net.downscaler is None:  # x is a fixed thumbnail: T's full size only from the cache
            outputs["teacher_on_thumbnails"] = teacher(x)
            if full_logits is not None:
                outputs["teacher_full"] = full_logits[index, 0]
        elif not trained_only:
            plain = bicubic(x, output_size(x.shape[-2], x.shape[-1], net.ratio))
            full = teacher(x) if full_logits is None else full_logits[index, 0]
            outputs.update(teacher_full=full, teacher_bicubic=teacher(plain), teacher_on_E=teacher(thumb))
            mse = (thumb.clamp(0, 1) - plain.clamp(0, 1)).square().flatten(1).mean(1)
            psnr_sum += (10 * torch.log10(1 / mse.clamp_min(1e-12))).sum().item()
        for name, out in outputs.items():
            pred = out.float()[:, targets.to(out.device)].argmax(1).cpu()
            correct[name] = correct.get(name, 0) + int((pred == labels).sum())
    n = len(indices)
    metrics = {"n": n, **{f"top1_{k}": v / n for k, v in correct.items()}}
    if net.downscaler is not None and not trained_only:
        metrics["psnr_E_vs_bicubic"] = psnr_sum / n
    return metrics


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None, echo=print) -> dict:
    """Run ``cfg``; returns the run record (also written to ``OUT/run.json`` when training finishes).

    ``resume`` continues from ``OUT/checkpoint.pt`` (written at every epoch end) and reproduces the
    uninterrupted run's weights exactly. ``stop_after=k`` stops after epoch k without exporting
    (for tests of resume). Raises ValueError / WeightsError naming the bad argument or file.
    """
    started = time.time()
    rank, world, device = _setup(cfg)
    say = echo if rank == 0 else (lambda *a, **k: None)
    check_teacher(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    if not resume and ckpt_path.exists():
        raise ValueError(f"{ckpt_path} exists: pass --resume to continue that run, or pick a new --out")

    dataset = IndexedImageFolder(cfg.data, cfg.image_size)
    train_idx, held_idx = split_holdout(len(dataset), cfg.holdout, cfg.seed, cfg.limit)
    dataset.check(train_idx + held_idx)
    teacher = build_teacher(cfg)
    targets = torch.tensor(class_indices(dataset.classes, teacher.num_classes))
    stages = cfg.stage_epochs
    teacher.to(device, memory_format=CL)
    cache = _TeacherCache(cfg, teacher, dataset, rank, world, device, say)
    # Without --limit the caches cover every image of the folder, so runs with another seed or holdout reuse
    # them; a --limit run caches only its own images (a small run on a large folder stays small).
    everything = list(range(len(dataset))) if cfg.limit is None else sorted(train_idx + held_idx)
    kd = cfg.w_kd > 0 and "distill" in stages
    logits = cache.logits(everything, cfg.flip) if kd else cache.logits(held_idx, False) if held_idx else None
    cached = logits if kd else None
    held_logits = logits[:, :1] if held_idx else None
    data = ThumbnailSet(cache.thumbnails(everything), dataset) if cfg.fixed_thumbnails else dataset

    torch.manual_seed(cfg.seed)  # after the cache, which may or may not have drawn random numbers
    net = build_net(cfg, teacher).to(device, memory_format=CL)
    teacher_features: dict = {}
    if cfg.strategy == "fm":
        tap(teacher, cfg.fm_layer, teacher_features)
    optimizer = build_optimizer(cfg, net)
    sampler, loader = _loader(cfg, data, train_idx, rank, world, device)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                                    total_steps=len(loader) * len(stages))
    model = DistributedDataParallel(net, find_unused_parameters=cfg.strategy == "fm") if world > 1 else net

    history: list[dict] = []
    start_epoch = 0
    if resume:
        start_epoch, history = load_checkpoint(ckpt_path, cfg, net, optimizer, scheduler)
        say(f"resumed {out} after epoch {start_epoch}/{len(stages)}")

    progress = _Progress((len(stages) - start_epoch) * len(loader), cfg.batch_size * world)
    for epoch in range(start_epoch, len(stages)):
        sampler.set_epoch(epoch)
        flips = epoch_flips(len(dataset), cfg.seed, epoch, cfg.flip)
        losses = train_epoch(cfg, stages[epoch], model, teacher, teacher_features, loader, flips, cached, targets,
                             optimizer, scheduler, device, progress,
                             lambda step, text: say(f"epoch {epoch + 1}/{len(stages)} [{stages[epoch]}] step "
                                                    f"{step}/{len(loader)} | {text}"))
        history.append({"epoch": epoch + 1, "stage": stages[epoch], **losses})
        if held_idx and rank == 0:
            history[-1]["holdout_top1"] = evaluate_holdout(net, teacher, data, held_idx, targets, 64, device,
                                                           trained_only=True)["top1_trained"]
            say(f"epoch {epoch + 1}/{len(stages)}: held-out top-1 {100 * history[-1]['holdout_top1']:.1f}%")
        if rank == 0:
            save_checkpoint(ckpt_path, cfg, net, optimizer, scheduler, epoch + 1, history)
        _barrier(world)
        if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < len(stages):
            say(f"stopped after epoch {epoch + 1} (checkpoint {ckpt_path})")
            return {"config": dataclasses.asdict(cfg), "history": history, "finished": False}

    record = {"config": dataclasses.asdict(cfg), "history": history, "finished": True}
    if rank == 0:
        say(f"evaluating on {len(held_idx)} held-out images")
        record["holdout"] = (evaluate_holdout(net, teacher, data, held_idx, targets, 64, device, held_logits)
                             if held_idx else {"n": 0})
        record.update(
            command=cfg.command_line("train"), wall_seconds=round(time.time() - started, 1), world_size=world,
            device=str(device), host=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpu",
            torch=torch.__version__, train_images=len(train_idx), classes=dataset.classes,
            teacher_sha256=sha256(cfg.teacher_weights) if cfg.teacher_weights else None,
        )
        export(net, cfg, record)
        say(f"wrote {out}/run.json, card.md" + (", downscaler.pt" if cfg.downscaler == "learned" else "")
            + ("" if cfg.freeze_classifier else ", student.pt"))
    _barrier(world)
    if world > 1:
        dist.destroy_process_group()
    return record


class _TeacherCache:
    """T's logits for the run's images, computed once into the cache folder (by rank 0; the other
    processes wait, then read it)."""

    def __init__(self, cfg: TrainConfig, teacher, dataset, rank: int, world: int, device: torch.device, say):
        self.cfg, self.teacher, self.dataset = cfg, teacher, dataset
        self.rank, self.world, self.device, self.say = rank, world, device, say

    def logits(self, indices: list[int], flips: bool) -> torch.Tensor:
        """``[len(dataset), 1 + flips, K]`` (NaN outside ``indices``)."""
        cfg, teacher, dataset = self.cfg, self.teacher, self.dataset
        key = cache_key(dataset, indices, cfg.teacher_weights, teacher, cfg.image_size, flips)
        for turn in range(2):
            if (self.rank == 0) == (turn == 0):
                tic = time.time()
                logits = teacher_logits(teacher, dataset, indices, cfg.cache or Path(cfg.out) / "cache", key,
                                        batch_size=64, workers=cfg.workers, device=self.device, echo=self.say,
                                        flips=flips)
                self.say(f"teacher logits for {len(logits)} images x {1 + flips} ready ({time.time() - tic:.0f} s)")
            _barrier(self.world)
        dense = torch.full((len(dataset), 1 + flips, teacher.num_classes), float("nan"))
        for i, v in logits.items():
            dense[i] = v
        return dense

    def thumbnails(self, indices: list[int]) -> torch.Tensor:
        """uint8 ``[len(dataset), 3, h, w]``: the run's fixed thumbnails of ``indices`` (see ``fixed_thumbnails``)."""
        cfg = self.cfg
        make, identity = _fixed_thumbnailer(cfg)
        key = thumbnail_key(self.dataset, indices, cfg.image_size, cfg.ratio, identity)
        for turn in range(2):
            if (self.rank == 0) == (turn == 0):
                tic = time.time()
                thumbs = fixed_thumbnails(make, self.dataset, indices, cfg.cache or Path(cfg.out) / "cache", key,
                                          workers=cfg.workers, echo=self.say)
                self.say(f"{cfg.downscaler} thumbnails of {len(indices)} images ready ({time.time() - tic:.0f} s)")
            _barrier(self.world)
        return thumbs


def build_net(cfg: TrainConfig, teacher) -> ThumbNet:
    """The trained parts as one ThumbNet: E (learned, fixed or none), the classifier (a student, or
    the frozen teacher) and, for the FM strategy, its decoder."""
    downscaler = (Downscaler(cfg.ratio, cfg.downscaler_width, cfg.downscaler_arch, cfg.downscaler_skip)
                  if cfg.downscaler == "learned" else None)
    classifier = teacher if cfg.freeze_classifier else build_student(cfg, teacher)
    fm = cfg.strategy == "fm"
    channels = fm_channels(teacher, cfg.fm_layer, 64) if fm else None
    return ThumbNet(downscaler, classifier, cfg.ratio, cfg.fm_layer if fm else None, channels)


def build_optimizer(cfg: TrainConfig, net: ThumbNet) -> torch.optim.AdamW:
    """AdamW over the student (unless frozen) at ``lr_student`` and a learned E and FM decoder at
    ``lr_downscaler``."""
    groups = []
    if not cfg.freeze_classifier:
        groups.append({"params": list(net.classifier.parameters()), "lr": cfg.lr_student})
    e_params = [*(net.downscaler.parameters() if cfg.downscaler == "learned" else []),
                *(net.decoder.parameters() if net.decoder is not None else [])]
    if e_params:
        groups.append({"params": e_params, "lr": cfg.lr_downscaler})
    return torch.optim.AdamW(groups, lr=cfg.lr_student, weight_decay=cfg.weight_decay)


def _loader(cfg: TrainConfig, dataset, indices: list[int], rank: int, world: int, device: torch.device):
    """``(sampler, loader)`` over this process's share of ``indices``, full batches only."""
    subset = Subset(dataset, indices)
    sampler = DistributedSampler(subset, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed,
                                 drop_last=True)
    workers = 0 if isinstance(dataset, ThumbnailSet) else cfg.workers  # cached thumbnails: nothing to decode
    loader = DataLoader(subset, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers,
                        drop_last=True, pin_memory=device.type == "cuda")
    # (no persistent workers: each epoch's iterator then draws its seed from the RNG the checkpoint restores)
    if len(loader) == 0:
        raise ValueError(f"{len(indices)} training images make no full batch of {cfg.batch_size} "
                         f"on {world} process(es): lower --batch-size or raise --limit")
    return sampler, loader


def step_losses(cfg: TrainConfig, stage: str, x: torch.Tensor, thumb: torch.Tensor, logits: torch.Tensor,
                decoded, target: torch.Tensor, soft: torch.Tensor | None, teacher, teacher_features: dict):
    """The weighted terms of one step: ``({name: (weight, value)}, mm)``; MM is always computed
    (and logged), but trained only with a learned E."""
    terms = {}
    if stage == "fm":
        with torch.no_grad():
            teacher(x)  # fills teacher_features through the tap
        target_features = teacher_features.pop("features")
        if decoded.shape[-2:] != target_features.shape[-2:]:  # S saw an enlarged thumbnail (student_upscale)
            decoded = F.interpolate(decoded, size=target_features.shape[-2:], mode="bilinear", align_corners=False)
        terms["fm"] = (cfg.w_fm, feature_mapping(decoded, target_features))
    else:
        if cfg.w_cl > 0:
            terms["cl"] = (cfg.w_cl, classification(logits, target))
        if stage == "distill" and cfg.w_kd > 0:
            terms["kd"] = (cfg.w_kd, distillation(logits, soft, cfg.tau))
    mm = moment_matching(thumb, x)
    if cfg.downscaler == "learned" and cfg.w_mm > 0:
        terms["mm"] = (cfg.w_mm, mm)
    if cfg.downscaler == "learned" and cfg.w_colour > 0:
        terms["colour"] = (cfg.w_colour, colour_shift(thumb, x))
    return terms, mm


class _Progress:
    """Images per second and time left over the steps this process runs."""

    def __init__(self, steps: int, images_per_step: int):
        self.steps, self.images_per_step, self.done, self.tic = steps, images_per_step, 0, time.time()

    def step(self) -> tuple[str, str]:
        """Count a step; ``(speed, time left)`` as text."""
        self.done += 1
        elapsed = time.time() - self.tic
        speed = self.done * self.images_per_step / elapsed
        return f"{speed:.1f} img/s", _eta(elapsed / self.done * (self.steps - self.done))


def train_epoch(cfg: TrainConfig, stage: str, model, teacher, teacher_features: dict, loader, flips: torch.Tensor,
                cached: torch.Tensor | None, targets: torch.Tensor, optimizer, scheduler, device: torch.device,
                progress: _Progress, log) -> dict:
    """One epoch of ``stage``; returns its seconds, speed and mean loss terms. ``log(step, text)``
    reports every ``cfg.log_every`` steps."""
    net = model.module if isinstance(model, DistributedDataParallel) else model
    _train_mode(net, cfg)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    sums: dict[str, float] = {}
    tic = time.time()
    for step, (images, labels, index) in enumerate(loader):
        flipped = flips[index]
        x = flip_where(as_float(images), flipped).to(device, non_blocking=True).contiguous(memory_format=CL)
        soft = cached[index, flipped.long()].to(device) if stage == "distill" and cfg.w_kd > 0 else None
        with autocast:
            thumb, logits, decoded = model(x, decode=stage == "fm")
            terms, mm = step_losses(cfg, stage, x, thumb, logits, decoded, targets[labels].to(device), soft,
                                    teacher, teacher_features)
            loss = sum(w * value for w, value in terms.values())
        if not torch.isfinite(loss):  # (stops before the step: no NaN reaches the weights)
            raise FloatingPointError(f"{stage} step {step + 1}: the loss is {loss.item()}; training stopped, "
                                     "nothing exported (check --tau, the loss weights and learning rates)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        values = {name: value.item() for name, (_, value) in terms.items()}
        if net.downscaler is not None:
            values.setdefault("mm", mm.item())
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value
        speed, eta = progress.step()
        if (step + 1) % cfg.log_every == 0 or step + 1 == len(loader):
            log(step + 1, f"{speed} | " + " ".join(f"{k} {v:.4f}" for k, v in values.items()) + f" | eta {eta}")
    seconds = time.time() - tic
    return {"seconds": round(seconds, 1), "images_per_s": round(len(loader) * progress.images_per_step / seconds, 1),
            **{f"loss_{k}": v / len(loader) for k, v in sums.items()}}


def save_checkpoint(path: Path, cfg: TrainConfig, net: ThumbNet, optimizer, scheduler, epoch: int,
                    history: list[dict]) -> None:
    """Everything an exact resume needs after ``epoch``, written atomically."""
    state = {"config": dataclasses.asdict(cfg), "model": net.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch, "history": history}
    write_atomic(path, lambda f: torch.save(state, f), overwrite=True)


def load_checkpoint(path: Path, cfg: TrainConfig, net: ThumbNet, optimizer, scheduler) -> tuple[int, list[dict]]:
    """Restore a checkpoint into ``net``, ``optimizer``, ``scheduler`` and the RNG; returns ``(epochs
    done, history)``. Raises ValueError if there is none or it was run with other weight-changing options."""
    if not path.exists():
        raise ValueError(f"--resume: {path} does not exist (no epoch of this run finished yet)")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    saved, now = ckpt["config"], dataclasses.asdict(cfg)
    skip = saved.get("downscaler_skip")
    saved["downscaler_skip"] = RENAMED["skip"].get(skip, skip)  # a run from before "mean" was spelled "area"
    saved.setdefault("fov", 1.0)  # a run from before the field of view: the whole image
    changed = sorted(k for k in now if k not in _RESUME_FREE and saved.get(k) != now[k])
    if changed:
        raise ValueError(f"--resume: options {changed} differ from the checkpointed run in {path.parent}; "
                         f"resume with the original options")
    net.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    return ckpt["epoch"], ckpt["history"]


def export(net: ThumbNet, cfg: TrainConfig, record: dict) -> None:
    """Write ``downscaler.pt`` / ``student.pt`` (never overwriting), ``card.md`` and ``run.json``."""
    out = Path(cfg.out)
    net = net.cpu().to(memory_format=torch.contiguous_format).eval()
    common = {"ratio": cfg.ratio, "teacher": cfg.teacher, "data": _data_name(cfg.data), "seed": cfg.seed,
              "strategy": cfg.strategy}
    for name in ("downscaler.pt", "student.pt"):
        if (out / name).exists():
            raise WeightsError(f"{out / name} exists; export never overwrites, pick a new --out")
    if cfg.downscaler == "learned":
        record["downscaler_sha256"] = save_weights(net.downscaler, out / "downscaler.pt", **common)
    if not cfg.freeze_classifier:
        fixed = ({"thumbnails": cfg.downscaler, **({"fov": cfg.fov} if cfg.fov != 1 else {})}
                 if cfg.downscaler in CLASSICAL else {"downscaler": cfg.downscaler})
        record["student_sha256"] = save_weights(net.classifier, out / "student.pt", **common, **fixed)
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "card.md").write_text(model_card(cfg, record))
