"""``downscale bench``: resize throughput of E vs classical resizes, and end-to-end classification throughput."""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..classifiers import build_classifier
from ..convert import find_images
from ..model import TRAINED_RATIOS, as_float, bicubic, output_size
from ..pretrained import default_weights, load_downscaler
from ..resize import learned_resize
from ..sizes import parse_list
from .cost import median_time
from .report import write_text

CL = torch.channels_last
PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "box (area)": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}


def _ints(ctx, param, value):
    """Click callback: ``sizes.parse_list`` of integers, its ValueError a usage error."""
    try:
        return parse_list(value, int)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _trained_ratios(ratios: list[int]) -> list[int]:
    """``ratios`` if E has weights for each (registry defaults), else click.BadParameter naming them."""
    if not ratios or (bad := [r for r in ratios if r not in TRAINED_RATIOS]):
        given = ", ".join(map(str, bad)) if ratios else "none"
        raise click.BadParameter(f"E is trained for ratios {', '.join(map(str, TRAINED_RATIOS))} only, got {given}",
                                 param_hint="--ratios")
    return ratios


def _devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def resize_bench(sizes: list[int], ratios: list[int], repeats: int, warmup: int) -> list[dict]:
    """Median seconds per image for each method at each square size and ratio (batch of one image).

    PIL methods (every classical filter) and ``learned_resize`` take and return a PIL RGB image (the
    user's path, default E); the torch rows time E and torch's classical resizes alone on a float
    ``[1, 3, S, S]`` channels_last tensor.
    """
    rows = []
    g = torch.Generator().manual_seed(0)
    downscalers = {r: load_downscaler(default_weights(r)) for r in ratios}
    for size in sizes:
        u8 = torch.randint(0, 256, (size, size, 3), dtype=torch.uint8, generator=g)
        pil = Image.fromarray(u8.numpy())
        for ratio in ratios:
            out = output_size(size, size, ratio)
            e = downscalers[ratio]
            cases = {f"PIL {name}": ("cpu", lambda f=f: pil.resize(out[::-1], f)) for name, f in PIL_FILTERS.items()}
            cases["PIL reduce"] = ("cpu", lambda: pil.reduce(ratio))
            cases["learned_resize (PIL in/out)"] = ("cpu", lambda: learned_resize(pil, ratio))
            for dev in _devices():
                x = as_float(u8.permute(2, 0, 1)[None]).to(dev).contiguous(memory_format=CL)
                e_dev = copy.deepcopy(e).to(dev).to(memory_format=CL)  # Module.to moves in place: one copy each
                for mode in ("nearest", "bicubic", "area"):  # without antialias (area has none to take)
                    cases[f"torch {mode} ({dev})"] = (dev, lambda x=x, mode=mode: F.interpolate(x, size=out, mode=mode))
                cases[f"torchvision bicubic aa ({dev})"] = (dev, lambda x=x: bicubic(x, out))
                cases[f"learned E ({dev})"] = (dev, lambda x=x, e_dev=e_dev: e_dev(x))
            with torch.inference_mode():
                times = {name: median_time(fn, repeats, warmup, sync=dev == "cuda") for name, (dev, fn) in cases.items()}
            base = times["PIL bicubic"]
            for name, t in times.items():
                rows.append({"size": size, "ratio": ratio, "method": name, "ms": 1e3 * t, "vs_pil_bicubic": t / base,
                             "megapixels_per_s": size * size / t / 1e6})
    return rows


def batch_bench(batch: int, size: int, ratios: list[int], repeats: int, warmup: int) -> list[dict]:
    """Images per second for a batch of ``batch`` RGB ``size``-px images: Pillow bicubic over the list of
    PIL images vs ``learned_resize`` on the uint8 ``[batch, 3, size, size]`` tensor (one call)."""
    g = torch.Generator().manual_seed(0)
    u8 = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=g)
    pils = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in u8]
    rows = []
    for ratio in ratios:
        out = output_size(size, size, ratio)
        t_pil = median_time(lambda: [p.resize(out[::-1], Image.Resampling.BICUBIC) for p in pils], repeats, warmup)
        t_e = median_time(lambda: learned_resize(u8, ratio), repeats, warmup)
        for name, t in (("PIL bicubic, one image at a time", t_pil), ("learned_resize, uint8 batch tensor", t_e)):
            rows.append({"batch": batch, "size": size, "ratio": ratio, "method": name, "ms_per_batch": 1e3 * t,
                         "images_per_s": batch / t, "vs_pil_bicubic": t / t_pil})
    return rows


def gpu_bench(batches: list[int], side: int, ratios: list[int], repeats: int, warmup: int,
              device: str = "cuda") -> list[dict]:
    """Input gigapixels per second for batches of uint8 ``[batch, 3, side, side]`` already on ``device``
    (a GPU), uint8 out (no host copies): torchvision's antialiased resize (v2 API) and ``learned_resize``
    computing in float32, bfloat16 and float16, with the largest difference from float32 in 1/255 steps."""
    from torchvision.transforms.v2 import functional as TF

    rows = []
    for batch in batches:
        u8 = torch.randint(0, 256, (batch, 3, side, side), dtype=torch.uint8, device=device)
        for ratio in ratios:
            out = list(output_size(side, side, ratio))
            cases = {"torchvision resize, bicubic antialias": lambda: TF.resize(
                u8, out, interpolation=TF.InterpolationMode.BICUBIC, antialias=True)}
            for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16), ("float16", torch.float16)):
                cases[f"learned_resize, {name}"] = lambda dtype=dtype: learned_resize(u8, ratio, dtype=dtype)
            exact = learned_resize(u8, ratio)
            for name, fn in cases.items():
                t = median_time(fn, repeats, warmup, sync=device == "cuda")
                y = fn()
                diff = int((y.int() - exact.int()).abs().max()) if name.startswith("learned") else None
                rows.append({"batch": batch, "side": side, "ratio": ratio, "method": name, "ms_per_batch": 1e3 * t,
                             "gigapixels_per_s": batch * side * side / t / 1e9, "max_diff_levels": diff})
    return rows


def convert_bench(folder: str, ratio: int, jobs: int, repeats: int) -> list[dict]:
    """Seconds and images per second of ``downscale convert FOLDER --jobs J`` as a real subprocess
    (start-up, decode, resize, encode and write included) for ``--method learned`` and ``pil_bicubic``,
    median of ``repeats`` runs into fresh folders; also the rate after start-up (imports, weights),
    from the conversion time the command itself reports (``--json``)."""
    files = [f for f, _ in find_images([Path(folder)], Path(tempfile.gettempdir()) / "unused", recursive=True)[0]]
    if not files:
        raise click.BadParameter(f"{folder} holds no images", param_hint="--folder")
    rows = []
    for method in ("learned", "pil_bicubic"):
        runs = [_time_convert(folder, ratio, jobs, method) for _ in range(repeats)]
        seconds, converting = (statistics.median(r[k] for r in runs) for k in (0, 1))
        rows.append({"method": method, "images": len(files), "ratio": ratio, "jobs": jobs, "seconds": seconds,
                     "images_per_s": len(files) / seconds, "startup_seconds": seconds - converting,
                     "images_per_s_after_startup": len(files) / converting})
    return rows


def _time_convert(folder: str, ratio: int, jobs: int, method: str, *options: str) -> tuple[float, float]:
    """(wall seconds, the conversion seconds the command reports in its ``--json`` summary) of one run,
    with more ``options``."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "downscale", "convert", folder, "-o", out, "--ratio", str(ratio),
                   "--jobs", str(jobs), "--method", method, "--json", *options]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise click.ClickException(f"{shlex.join(command)} failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)["seconds"]


def large_bench(megapixels: float, ratio: int) -> dict:
    """Peak memory and time of ``learned_resize`` on one uint8 RGB image of ``megapixels``, each in a
    fresh process (``bench_worker``: peak resident memory above what the process held with the input
    loaded; Linux only), tiled (the default above TILE² pixels) and untiled, and the largest
    difference between the two outputs (in 1/255 steps)."""
    side = int(math.sqrt(megapixels * 1e6))
    result = {"megapixels": side * side / 1e6, "ratio": ratio}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, flag in (("tiled", "0"), ("untiled", "1")):
            done = subprocess.run([sys.executable, "-m", "downscale.evaluation.bench_worker", str(side), str(ratio),
                                   flag, f"{tmp}/{mode}.npy"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise click.ClickException(f"large-image run ({mode}) failed:\n{done.stderr[-2000:]}")
            result[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        a, b = (np.load(f"{tmp}/{m}.npy").astype(np.int16) for m in ("tiled", "untiled"))
        result["max_diff_levels"] = int(np.abs(a - b).max())
    return result


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
@click.option("--ratios", default="2,4", show_default=True, callback=lambda c, p, v: _trained_ratios(_ints(c, p, v)),
              help=f"Ratios of E to time, among {', '.join(map(str, TRAINED_RATIOS))}.")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1), help="Timed runs; the median is reported.")
@click.option("--warmup", default=1, show_default=True, type=click.IntRange(0), help="Untimed runs before timing.")
@click.option("--batch", default=32, show_default=True, type=click.IntRange(1), help="Images in the batch-resize case.")
@click.option("--batch-side", default=224, show_default=True, type=click.IntRange(8), help="Their side in pixels.")
@click.option("--classifier", default="mobilenet_v2", show_default=True, help="torchvision architecture for end-to-end.")
@click.option("--num-classes", default=1001, show_default=True)
@click.option("--image-size", default=224, show_default=True, help="Full-resolution side for end-to-end.")
@click.option("--batches", default="1,32", show_default=True, callback=_ints, help="End-to-end batch sizes.")
@click.option("--threads", default=os.cpu_count(), show_default=True, type=click.IntRange(1), help="torch CPU threads.")
@click.option("--folder", type=click.Path(exists=True, file_okay=False),
              help="Also time `downscale convert` on this folder of images (a real subprocess per run).")
@click.option("--jobs", default=os.cpu_count(), show_default=True, type=click.IntRange(1), help="--jobs for --folder.")
@click.option("--convert-ratio", default=2, show_default=True, type=click.IntRange(1), help="--ratio for --folder.")
@click.option("--engines", default=None, metavar="E1,E2",
              help="With --folder: compare these --engine values (local, ray) on the same job, in alternating "
                   "rounds (--repeats of them), instead of timing both methods on the local engine.")
@click.option("--large-mp", type=click.FloatRange(1), help="Also measure peak memory on one image of this many megapixels.")
@click.option("--gpu-batches", default="16,64", show_default=True, callback=_ints,
              help="With CUDA: batch sizes of 1024² uint8 images for the GPU resize table.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def bench(sizes, ratios, repeats, warmup, batch, batch_side, classifier, num_classes, image_size, batches, threads,
          folder, jobs, convert_ratio, engines, large_mp, gpu_batches, json_path):
    """Time resizing, a batch, end-to-end classification, and on request a folder conversion and a large image.

    Resizing: learned_resize and E vs every classical resize (Pillow's filters and reduce, torch's
    nearest, bicubic and area, torchvision's antialiased bicubic) at each size and ratio; a batch of small images; end-to-end classification (full-size classifier vs
    downscale + thumbnail student); with CUDA, batches of 1-MP uint8 images on the GPU in float32,
    bfloat16 and float16; `downscale convert` on --folder; peak memory on a --large-mp image.

    Every time is the median of --repeats runs after --warmup runs.
    """
    torch.set_num_threads(threads)
    downscalers = {r: f"{default_weights(r)} ({load_downscaler(default_weights(r)).config()})" for r in ratios}
    env = {"downscalers": downscalers, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
           "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "repeats": repeats, "warmup": warmup}
    results = {"env": env}
    click.echo(f"# downscale bench: torch {env['torch']}, {env['threads']} CPU thread(s) of {env['cpu_count']}, "
               f"CUDA: {env['cuda']}; median of {repeats} after {warmup} warm-up")
    click.echo("E (registry defaults): " + "; ".join(f"ratio {r}: {d}" for r, d in downscalers.items()))

    click.echo("\n## Resize, one image (PIL rows: RGB image in and out; torch rows: float32 [1,3,S,S] channels_last)\n")
    click.echo("| size | ratio | method | ms | × PIL bicubic time | MP/s |\n|---:|---:|---|---:|---:|---:|")
    results["resize"] = resize_bench(sizes, ratios, repeats, warmup)
    for r in results["resize"]:
        click.echo(f"| {r['size']}² | {r['ratio']} | {r['method']} | {r['ms']:.3f} | {r['vs_pil_bicubic']:.2f} | "
                   f"{r['megapixels_per_s']:.1f} |")

    click.echo(f"\n## Resize, a batch of {batch} RGB images of {batch_side}²\n")
    click.echo("| ratio | method | ms / batch | images/s | × PIL bicubic time |\n|---:|---|---:|---:|---:|")
    results["batch"] = batch_bench(batch, batch_side, ratios, repeats, warmup)
    for r in results["batch"]:
        click.echo(f"| {r['ratio']} | {r['method']} | {r['ms_per_batch']:.2f} | {r['images_per_s']:.0f} | "
                   f"{r['vs_pil_bicubic']:.2f} |")

    click.echo(f"\n## Classification throughput ({classifier}, {num_classes} outputs, random weights; "
               f"student = same architecture on thumbnails)\n")
    click.echo("| device | batch | pipeline | ms / batch | images/s | speed-up vs full size |\n|---|---:|---|---:|---:|---:|")
    results["classify"] = classify_bench(classifier, num_classes, image_size, ratios, batches, repeats, warmup)
    full = {(r["device"], r["batch"]): r["ms_per_batch"] for r in results["classify"] if r["input"] == image_size}
    for r in results["classify"]:
        r["speedup"] = full[r["device"], r["batch"]] / r["ms_per_batch"]
        click.echo(f"| {r['device']} | {r['batch']} | {r['pipeline']} | {r['ms_per_batch']:.2f} | "
                   f"{r['images_per_s']:.1f} | {r['speedup']:.2f}× |")

    if torch.cuda.is_available() and gpu_batches:
        click.echo(f"\n## GPU resize ({env['cuda']}): uint8 [batch, 3, 1024, 1024] on the GPU -> uint8 thumbnail\n")
        click.echo("| batch | ratio | method | ms / batch | input GP/s | max diff from float32 (of 255) |\n"
                   "|---:|---:|---|---:|---:|---:|")
        results["gpu"] = gpu_bench(gpu_batches, 1024, ratios, repeats, warmup)
        for r in results["gpu"]:
            diff = "" if r["max_diff_levels"] is None else r["max_diff_levels"]
            click.echo(f"| {r['batch']} | {r['ratio']} | {r['method']} | {r['ms_per_batch']:.2f} | "
                       f"{r['gigapixels_per_s']:.1f} | {diff} |")
    if folder and engines:
        from .engine_bench import engine_bench, engine_table

        names = parse_list(engines)
        click.echo(f"\n## `downscale convert {folder} --ratio {convert_ratio} --jobs {jobs} --engine E` on each engine, "
                   f"{repeats} alternating rounds: median (range); start-up = to the first result\n")
        results["engines"] = engine_bench(folder, names, convert_ratio, jobs, repeats)
        click.echo(engine_table(results["engines"]))
    elif folder:
        click.echo(f"\n## `downscale convert {folder} --ratio {convert_ratio} --jobs {jobs}` (a subprocess; after start-up: the conversion time it reports)\n")
        click.echo("| method | images | seconds | images/s | start-up seconds | images/s after start-up |\n"
                   "|---|---:|---:|---:|---:|---:|")
        results["convert"] = convert_bench(folder, convert_ratio, jobs, repeats)
        for r in results["convert"]:
            click.echo(f"| {r['method']} | {r['images']} | {r['seconds']:.2f} | {r['images_per_s']:.1f} | "
                       f"{r['startup_seconds']:.2f} | {r['images_per_s_after_startup']:.1f} |")
    if large_mp:
        click.echo(f"\n## One {large_mp:g}-MP uint8 RGB image, ratio {ratios[0]} (a fresh process each)\n")
        r = results["large"] = large_bench(large_mp, ratios[0])
        click.echo("| run | seconds | input (MB) | peak memory above the input (MB) |\n|---|---:|---:|---:|")
        for mode in ("tiled", "untiled"):
            m = r[mode]
            click.echo(f"| {mode} | {m['seconds']:.2f} | {m['input_mb']:.0f} | {m['extra_peak_mb']:.0f} |")
        click.echo(f"\nTiled vs untiled output: largest difference {r['max_diff_levels']} of 255.")
    if json_path:
        write_text(Path(json_path), json.dumps(results, indent=1) + "\n")
        click.echo(f"\nwrote {json_path}")
