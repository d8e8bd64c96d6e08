"""The model card of a ThumbNet run: Markdown rendered from the run's config and record (``run.json``),
computing nothing."""

from __future__ import annotations

from pathlib import Path

from ..methods import CLASSICAL
from .config import TrainConfig

SKIP_NAMES = {"area": "area (block mean)", "nearest": "nearest (subsampling)", "bicubic": "bicubic without antialias"}


def data_name(path: str) -> str:
    """``parent/name`` of a data folder (its resolved path), as cards and weights' metadata name it."""
    p = Path(path).resolve()
    return f"{p.parent.name}/{p.name}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def model_card(cfg: TrainConfig, record: dict) -> str:
    """The Markdown model card of the finished run ``cfg``, filled from its ``record`` (what ``train`` returns
    and writes to ``run.json``). A saved run's card renders again as
    ``model_card(TrainConfig(**record["config"]), record)``. Raises KeyError when the record lacks a field."""
    h = record.get("holdout", {})
    stages = cfg.stage_epochs
    losses = {"supervised": "CL + MM", "distill": "KD + CL + MM", "fm": "FM + MM first stage, then KD + CL + MM"}
    if cfg.downscaler == "learned":
        trained = "E (learned downscaler) and student S"
    elif cfg.downscaler in CLASSICAL:
        trained = f"student S on fixed `{cfg.downscaler}` thumbnails (a classical resize, no E)"
        if cfg.fov != 1:
            trained = (f"student S on fixed `{cfg.downscaler}` thumbnails of the centre {cfg.fov:g} of each side "
                       "(a field of view; a classical resize, no E; the teacher sees the whole image)")
    else:
        trained = f"student S on the thumbnails of the fixed E `{cfg.downscaler}` (E not trained)"
    if cfg.freeze_classifier:
        trained = "E alone, for the frozen teacher (no student)"
    speed = [e["images_per_s"] for e in record["history"]]
    lines = [
        f"# ThumbNet run: {cfg.teacher}, ratio {cfg.ratio} ({cfg.image_size} -> {cfg.image_size // cfg.ratio} px)",
        "",
        f"Trained: {trained}.",
        "",
        "## Data",
        f"- Training: `{data_name(cfg.data)}` (ImageFolder, {len(record['classes'])} classes), "
        f"{record['train_images']} images"
        + (f" (first {cfg.limit} of the split)" if cfg.limit else "")
        + f", after holding out {h.get('n', 0)} images (seeded split, seed {cfg.seed}) for validation.",
        f"- Images resized/centre-cropped to {cfg.image_size} px; augmentation: "
        + ("random horizontal flips." if cfg.flip else "none."),
        "",
        "## Teacher",
        (f"- `{cfg.teacher}` from `{Path(cfg.teacher_weights).name}` (sha256 {record['teacher_sha256'][:16]}...), "
         if cfg.teacher_weights else f"- `{cfg.teacher}` with its own ImageNet weights (the `efficientnet` extra), ")
        + f"input normalisation `{cfg.normalize}`; dataset classes mapped to its logits by "
        "`classifiers.class_indices`.",
        "",
        "## Recipe",
        f"- Strategy `{cfg.strategy}`: {losses[cfg.strategy]}"
        + (f" (FM at `{cfg.fm_layer}`, {cfg.fm_epochs} epoch(s))" if cfg.strategy == "fm" else "") + ".",
        f"- Loss weights: KD {cfg.w_kd} (tau {cfg.tau}), CL {cfg.w_cl}, MM {cfg.w_mm}, colour {cfg.w_colour}"
        + (f", FM {cfg.w_fm}" if cfg.strategy == "fm" else "")
        + ". KD targets: the teacher's logits on the full-size image" + (" (and its flip)" if cfg.flip else "")
        + ", computed once and cached.",
        f"- Student init: {'from the teacher' if cfg.student_init == 'teacher' else 'random'}; "
        f"E: residual over {SKIP_NAMES[cfg.downscaler_skip] if cfg.downscaler_arch in ('area', 'residual') else 'antialiased bicubic'}, arch `{cfg.downscaler_arch}`, width {cfg.downscaler_width}"
        + ("" if cfg.downscaler == "learned" else f" (not used: S trains on fixed `{cfg.downscaler}` thumbnails, "
           "computed once, flipped with the image)") + ".",
        *([f"- S enlarges each thumbnail {cfg.student_upscale:g}x (bicubic) before its network."]
          if cfg.student_upscale != 1 else []),
        f"- AdamW (weight decay {cfg.weight_decay}), one-cycle schedule, peak lr {cfg.lr_student} (S) / "
        f"{cfg.lr_downscaler} (E); {len(stages)} epoch(s), batch {cfg.batch_size} x {record['world_size']} "
        f"process(es), seed {cfg.seed}.",
        f"- Budget: {len(stages) * (record['train_images'] // (cfg.batch_size * record['world_size']))} steps; "
        f"wall time {record['wall_seconds'] / 60:.1f} min on {record['device']} ({record['host']}, "
        f"torch {record['torch']}); training speed {min(speed):.1f}-{max(speed):.1f} img/s.",
        "",
        "Command:",
        "",
        "```",
        record["command"],
        "```",
        "",
        f"## Held-out validation ({h.get('n', 0)} images of the training folder, each once, no flip)",
        "",
        "Top-1 among the dataset's classes (argmax over their logits):",
        "",
        "| classifier | input | top-1 |",
        "|---|---|---|",
        f"| teacher | full {cfg.image_size} px | {_pct(h.get('top1_teacher_full'))} |",
    ]
    if "top1_teacher_bicubic" in h:
        lines.append(f"| teacher | bicubic_aa {cfg.image_size // cfg.ratio} px | {_pct(h['top1_teacher_bicubic'])} |")
    if "top1_teacher_on_E" in h:
        lines.append(f"| teacher | E {cfg.image_size // cfg.ratio} px | {_pct(h.get('top1_teacher_on_E'))} |")
    if "top1_teacher_on_thumbnails" in h:
        lines.append(f"| teacher | {cfg.downscaler} {cfg.image_size // cfg.ratio} px | "
                     f"{_pct(h.get('top1_teacher_on_thumbnails'))} |")
    who = "teacher (frozen)" if cfg.freeze_classifier else "this run's student"
    thumbs = cfg.downscaler if cfg.downscaler in CLASSICAL else "E"
    lines.append(f"| {who} | {thumbs} {cfg.image_size // cfg.ratio} px | {_pct(h.get('top1_trained'))} |")
    if "psnr_E_vs_bicubic" in h:
        lines += ["", f"E's thumbnails vs antialiased bicubic: PSNR {h['psnr_E_vs_bicubic']:.1f} dB."]
    curve = [e for e in record["history"] if "holdout_top1" in e]
    if curve:
        lines += ["", "Held-out top-1 after each epoch:", "", "| epoch | stage | top-1 |", "|---|---|---|",
                  *(f"| {e['epoch']} | {e['stage']} | {_pct(e['holdout_top1'])} |" for e in curve)]
    lines += [
        "",
        "A student fine-tuned on these classes is reported over these classes only (it forgets the rest).",
        "",
        "## Official validation split (filled by `downscale eval`)",
        "",
        "_Not measured yet._",
        "",
    ]
    return "\n".join(lines)
