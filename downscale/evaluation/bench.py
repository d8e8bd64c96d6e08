"""``downscale bench``: resize throughput of E vs classical resizes, and end-to-end classification throughput."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import click
import torch
from PIL import Image

from ..classifiers import build_classifier
from ..model import bicubic, output_size
from ..pretrained import default_weights, load_downscaler
from .cost import median_time
from .report import write_text

CL = torch.channels_last


def _ints(ctx, param, value):
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers ({exc})") from exc


def _devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def resize_bench(sizes: list[int], ratios: list[int], repeats: int, warmup: int) -> list[dict]:
    """Median seconds per image for each method at each square size and ratio (batch of one image).

    PIL methods take a PIL RGB image; torch methods a float ``[1, 3, S, S]`` channels_last tensor.
    """
    rows = []
    g = torch.Generator().manual_seed(0)
    for size in sizes:
        u8 = torch.randint(0, 256, (size, size, 3), dtype=torch.uint8, generator=g)
        pil = Image.fromarray(u8.numpy())
        for ratio in ratios:
            out = output_size(size, size, ratio)
            e = load_downscaler(default_weights(ratio))
            cases = {
                "PIL bicubic": ("cpu", lambda: pil.resize(out[::-1], Image.Resampling.BICUBIC)),
                "PIL reduce": ("cpu", lambda: pil.reduce(ratio)),
            }
            for dev in _devices():
                x = (u8.permute(2, 0, 1)[None].float() / 255).to(dev).contiguous(memory_format=CL)
                e_dev = e.to(dev).to(memory_format=CL)
                cases[f"torchvision bicubic aa ({dev})"] = (dev, lambda x=x: bicubic(x, out))
                cases[f"learned E ({dev})"] = (dev, lambda x=x, e_dev=e_dev: e_dev(x))
            with torch.inference_mode():
                times = {name: median_time(fn, repeats, warmup, sync=dev == "cuda") for name, (dev, fn) in cases.items()}
            base = times["PIL bicubic"]
            for name, t in times.items():
                rows.append({"size": size, "ratio": ratio, "method": name, "ms": 1e3 * t, "vs_pil_bicubic": t / base,
                             "megapixels_per_s": size * size / t / 1e6})
    return rows


def classify_bench(arch: str, num_classes: int, image_size: int, ratios: list[int], batches: list[int],
                   repeats: int, warmup: int) -> list[dict]:
    """Images per second of: classifier at ``image_size`` on full images, and bicubic_aa or E followed by
    the same architecture (a thumbnail student) at ``image_size / ratio``. Random weights: speed only."""
    rows = []
    for dev in _devices():
        net = build_classifier(arch, num_classes=num_classes).eval().to(dev).to(memory_format=CL)
        downscalers = {r: load_downscaler(default_weights(r)).to(dev).to(memory_format=CL) for r in ratios}
        for batch in batches:
            x = torch.rand(batch, 3, image_size, image_size, device=dev).contiguous(memory_format=CL)
            cases = {(f"classifier @{image_size}", image_size): lambda: net(x)}
            for r, e in downscalers.items():
                side = output_size(image_size, image_size, r)
                cases[(f"bicubic_aa + student @{side[0]}", side[0])] = lambda side=side: net(bicubic(x, side))
                cases[(f"E + student @{side[0]}", side[0])] = lambda e=e: net(e(x))
            with torch.inference_mode():
                for (name, side), fn in cases.items():
                    t = median_time(fn, repeats, warmup, sync=dev == "cuda")
                    rows.append({"device": dev, "batch": batch, "pipeline": name, "input": side,
                                 "ms_per_batch": 1e3 * t, "images_per_s": batch / t})
    return rows


@click.command("bench")
@click.option("--sizes", default="224,512,1024,2048", show_default=True, callback=_ints, help="Square input sides.")
@click.option("--ratios", default="2,4", show_default=True, callback=_ints)
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Timed runs; the median is reported.")
@click.option("--warmup", default=1, show_default=True, type=click.IntRange(0), help="Untimed runs before timing.")
@click.option("--classifier", default="mobilenet_v2", show_default=True, help="torchvision architecture for end-to-end.")
@click.option("--num-classes", default=1001, show_default=True)
@click.option("--image-size", default=224, show_default=True, help="Full-resolution side for end-to-end.")
@click.option("--batches", default="1,32", show_default=True, callback=_ints, help="End-to-end batch sizes.")
@click.option("--threads", default=os.cpu_count(), show_default=True, type=click.IntRange(1), help="torch CPU threads.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def bench(sizes, ratios, repeats, warmup, classifier, num_classes, image_size, batches, threads, json_path):
    """Time resizing (learned E vs PIL bicubic, PIL reduce, torchvision antialiased bicubic) at each size and
    ratio, and end-to-end classification (full-size classifier vs downscale + thumbnail student).

    Every figure is the median of --repeats runs after --warmup runs, batch of one image for resizing.
    """
    torch.set_num_threads(threads)
    downscalers = {r: f"{default_weights(r)} ({load_downscaler(default_weights(r)).config()})" for r in ratios}
    env = {"downscalers": downscalers, "torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
           "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "repeats": repeats, "warmup": warmup}
    click.echo(f"# downscale bench: torch {env['torch']}, {env['threads']} CPU thread(s), CUDA: {env['cuda']}; "
               f"median of {repeats} after {warmup} warm-up")
    click.echo("E: " + "; ".join(f"ratio {r}: {d}" for r, d in downscalers.items()))
    click.echo("\n## Resize, one image (PIL: RGB image; torch: float32 [1,3,S,S] channels_last)\n")
    click.echo("| size | ratio | method | ms | × PIL bicubic time | MP/s |\n|---:|---:|---|---:|---:|---:|")
    resize = resize_bench(sizes, ratios, repeats, warmup)
    for r in resize:
        click.echo(f"| {r['size']}² | {r['ratio']} | {r['method']} | {r['ms']:.3f} | {r['vs_pil_bicubic']:.2f} | "
                   f"{r['megapixels_per_s']:.1f} |")
    click.echo(f"\n## Classification throughput ({classifier}, {num_classes} outputs, random weights; "
               f"student = same architecture on thumbnails)\n")
    click.echo("| device | batch | pipeline | ms / batch | images/s |\n|---|---:|---|---:|---:|")
    classify = classify_bench(classifier, num_classes, image_size, ratios, batches, repeats, warmup)
    for r in classify:
        click.echo(f"| {r['device']} | {r['batch']} | {r['pipeline']} | {r['ms_per_batch']:.2f} | {r['images_per_s']:.1f} |")
    if json_path:
        write_text(Path(json_path), json.dumps({"env": env, "resize": resize, "classify": classify}, indent=1) + "\n")
        click.echo(f"\nwrote {json_path}")
