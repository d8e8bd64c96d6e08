"""Evaluation outputs: results.json (with per-image results), a Markdown table, and a PNG grid of thumbnails."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ..images import write_atomic
from ..model import as_float
from .stats import discordant, mcnemar_exact

VIEW_TITLES = {"all": "top-1 over all {outputs} classifier outputs", "dataset": "top-1 over the {classes} dataset classes",
               "agreement": "agreement: share of images whose top-1 equals the classifier's top-1 on the full image"}


def _clean(obj):
    """JSON-safe copy: numpy to Python, non-finite floats to None (JSON has no inf/nan)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def compare_runs(a: dict, key_a: str, b: dict, key_b: str) -> dict:
    """Paired comparison of two ``results.json`` contents on the same images, over the dataset classes.

    ``key_a`` / ``key_b`` name a per-image entry such as ``"learned@4"``: e.g. E + its student against
    bicubic + the baseline student. Returns n, both top-1s, the discordant counts and the exact
    McNemar p. Raises ValueError if the runs did not evaluate the same images in the same order.
    """
    if [im["path"] for im in a["images"]] != [im["path"] for im in b["images"]]:
        raise ValueError("the two runs evaluated different images; rerun with the same --data/--limit/--seed")
    labels = np.array([im["label"] for im in a["images"]])
    ok_a = np.array(a["per_image"][key_a]["dataset_pred"]) == labels
    ok_b = np.array(b["per_image"][key_b]["dataset_pred"]) == labels
    only_a, only_b = discordant(ok_a.tolist(), ok_b.tolist())
    return {"n": len(labels), "top1_a": float(ok_a.mean()), "top1_b": float(ok_b.mean()), "a_only": only_a,
            "b_only": only_b, "p_mcnemar": mcnemar_exact(only_a, only_b)}


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (``images.write_atomic``), replacing an earlier report."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")), overwrite=True)


def write_json(path: Path, results: dict) -> None:
    """Compact JSON (per-image lists make an indented file several times larger)."""
    write_text(path, json.dumps(_clean(results), separators=(",", ":")) + "\n")


def _fmt_shift(values) -> str:
    return "/".join(f"{255 * v:+.1f}" for v in values)


def _row_md(row: dict) -> str:
    ci = row["ci95"]
    cells = [f"{row['ratio']:g}", "x".join(map(str, row["size"])), row["method"] + (" ★" if row.get("own") else "")]
    if "fov" in row:
        cells.append(f"{row['fov']:g}")
    cells.append(f"{100 * row['top1']:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]")
    for vs in (row.get("vs_best_classical"), row.get("vs_bicubic")):
        best = vs and "method" in vs and (vs["method"] + (f", fov {vs['fov']:g}" if "fov" in vs else ""))
        cells += [f"{100 * vs['delta']:+.1f}" + (f" ({best})" if best else ""),
                  f"{vs['p_mcnemar']:.3g} (+{vs['method_only']}/−{vs['other_only']})"] if vs else ["", ""]
    q = row.get("quality_vs_bicubic")
    if q:
        psnr = "∞" if q["psnr"] is None or not math.isfinite(q["psnr"]) else f"{q['psnr']:.1f}"
        cells += [psnr, f"{q['ssim']:.3f}", _fmt_shift(q["mean_shift"]), _fmt_shift(q["std_shift"])]
    else:
        cells += ["", "", "", ""]
    fl, lat = row.get("flops"), row.get("latency")
    cheaper = (f" (1/{fl['full_size'] / (fl['downscaler'] + fl['classifier']):.1f})"
               if fl and fl.get("full_size") and fl["downscaler"] + fl["classifier"] else "")
    cells.append(f"{fl['downscaler'] / 1e6:.1f} + {fl['classifier'] / 1e6:.1f}{cheaper}" if fl else "")
    cells.append(f"{lat['downscale_ms']:.2f} + {lat['classify_ms']:.2f}" if lat else "")
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| ratio | size | method | % [95% CI] | Δ vs best classical (pts) | McNemar p (+only/−only) "
    "| Δ vs bicubic_aa (pts) | McNemar p | PSNR dB | SSIM "
    "| mean shift R/G/B (/255) | std shift R/G/B (/255) | MFLOPs E + C (of full size) | ms/img E + C |\n"
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


FOV_HEADER = (HEADER.replace("| method |", "| method | fov |").replace("Δ vs bicubic_aa (pts)", "Δ vs bicubic_aa, same fov (pts)")
              .replace("|---|---:|", "|---|---:|---:|", 1))


def markdown(results: dict) -> str:
    """A Markdown report: the setup, then one table per image group and accuracy view."""
    cfg = results["config"]
    lines = [f"# downscale eval: {cfg['model']}", ""]
    lines += [f"- data: `{cfg['data']}` ({cfg['n_images']} images"
              + (f", seeded subset: limit {cfg['limit']}, seed {cfg['seed']}" if cfg["limit"] else ", all") + ")"]
    if cfg.get("fovs"):
        lines.append(f"- fields of view {', '.join(f'{f:g}' for f in cfg['fovs'])}: the centre fraction fov of each side,"
                     " resized to the whole image's thumbnail size (the same classifier FLOPs); `learned` at fov 1 only;"
                     " the best classical is the best (method, fov) pair")
    for r, d in cfg["downscalers"].items():
        lines.append(f"- `learned` at ratio {r}: `{d['name']}`" + ("" if d.get("learned", True) else " (untrained: equals bicubic_aa)"))
    if cfg.get("zoom"):
        lines.append(f"- `zoom` at ratio {', '.join(f'{r:g}' for r in cfg['ratios'] if r != 1)}: bicubic of the box"
                     f" the predictor `{Path(cfg['zoom']).name}` picks for each image (its FLOPs in the E column)")
    if cfg.get("own_method"):
        lines.append(f"- ★ = the student's own thumbnails (`{cfg['own_method']}`, the downscaler it was trained with)")
    lines += [
        "- thumbnails are clamped to [0, 1]; quality columns compare each thumbnail with the `bicubic_aa` one;"
        " McNemar is exact, two-sided, on the paired per-image results against the best classical resize of the"
        " same table and ratio (named; chosen on these images, which favours it) and against `bicubic_aa`;"
        " the CI is Wilson's; FLOPs from torch.utils.flop_counter (classical resizes count 0), with the share of"
        " the classifier's network on the full image;"
        f" latency is the median of {cfg['latency_repeats']} runs on a batch of {cfg['batch_size']} ({cfg['device']},"
        f" {cfg['threads']} CPU thread(s)), per image",
        f"- wall time {cfg['wall_s']:.0f} s; torch {cfg['torch']}", "",
    ]
    groups: dict = {}
    for row in results["rows"]:
        groups.setdefault((row["group"], row["view"]), []).append(row)
    for (group, view), rows in groups.items():
        title = VIEW_TITLES[view].format(outputs=cfg["num_outputs"], classes=cfg["num_classes"])
        header = FOV_HEADER if "fov" in rows[0] else HEADER
        lines += [f"## {group} (n={rows[0]['n']}): {title}", "", header, *map(_row_md, rows), ""]
    return "\n".join(lines)


def grid_png(path: Path, examples: dict, columns: list[tuple[str, float, float]], label_height: int = 16) -> None:
    """A PNG: one row per example image, columns ``original | method@ratio ...`` with a text header;
    ``columns`` are ``(method, ratio, fov)`` keys of ``examples["thumbs"]`` (missing ones are left out).

    Thumbnails are enlarged with nearest-neighbour to the original's size so their pixels stay visible.
    """
    images = examples["images"]
    n, _, h, w = images.shape
    cols = [("original", as_float(images))]
    for method, ratio, fov in columns:
        t = examples["thumbs"].get((method, ratio, fov))
        if t is not None:
            name = f"{method} /{ratio:g}" + ("" if fov == 1 else f" fov {fov:g}")
            cols.append((name, F.interpolate(t, size=(h, w), mode="nearest")))
    pad = 4
    canvas = Image.new("RGB", (len(cols) * (w + pad) + pad, label_height + n * (h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c, (name, batch) in enumerate(cols):
        x0 = pad + c * (w + pad)
        draw.text((x0, 2), name, fill="black")
        for r in range(n):
            tile = (batch[r].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            canvas.paste(Image.fromarray(tile), (x0, label_height + pad + r * (h + pad)))
    write_atomic(path, lambda f: canvas.save(f, format="PNG"), overwrite=True)

