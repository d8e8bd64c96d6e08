"""Does compiling the classifier move the end-to-end speed-up of `downscale bench`'s classify rows?

    python experiments/time_compiled_classifier.py [--batch 32] [--repeats 7]

MobileNetV2 (random weights, channels_last, torch threads = cores) at 224 px on a float batch, and the
same network at 56 px on the default ratio-4 E's thumbnails of that batch, each four ways: eager, eager
with BatchNorm folded into the convolutions (`torch.fx.experimental.optimization.fuse`), TorchScript
frozen and optimised for inference (`torch.jit.freeze` + `optimize_for_inference`: BatchNorm folded,
oneDNN fusions; deprecated in torch 2.14) and `torch.compile` (Inductor, `freezing=True`). Prints the median ms per batch
after 2 warm-ups, the one-off compile time, the largest output difference from eager, and the
wall-clock ratio full / (E + student), as the bench computes it.
"""

from __future__ import annotations

import sys
import time

import click
import torch
from torch.fx.experimental.optimization import fuse

from downscale.classifiers import build_classifier
from downscale.evaluation.cost import median_time
from downscale.memory import keep_freed_memory
from downscale.pretrained import default_weights, load_downscaler

CL = torch.channels_last


def _frozen(net, x):
    return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, x)))


def _compiled(net, x):
    import torch._inductor.config

    torch._inductor.config.freezing = True
    compiled = torch.compile(net)
    compiled(x)
    return compiled


@click.command()
@click.option("--batch", default=32, show_default=True)
@click.option("--repeats", default=7, show_default=True)
def main(batch: int, repeats: int):
    keep_freed_memory()
    torch.manual_seed(0)
    net = build_classifier("mobilenet_v2", num_classes=1000).eval().to(memory_format=CL)
    e4 = load_downscaler(default_weights(4)).to(memory_format=CL)
    x = torch.rand(batch, 3, 224, 224).contiguous(memory_format=CL)
    with torch.no_grad():
        thumbs = e4(x).contiguous(memory_format=CL)
        t_e = median_time(lambda: e4(x), repeats, 2)
        click.echo(f"batch {batch}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
                   f"E (ratio 4, {default_weights(4)}) {1e3 * t_e:.1f} ms")
        click.echo("| form | build s (224 / 56) | 224 px ms | 56 px ms | max diff from eager | "
                   "224 / (E + 56) |\n|---|---:|---:|---:|---:|---:|")
        for name, build in (("eager", None), ("BatchNorm folded", lambda net, x: fuse(net)), ("torch.jit.freeze", _frozen),
                            ("torch.compile", _compiled)):
            times, builds, diff = {}, [], 0.0
            for side, inp in (("224", x), ("56", thumbs)):
                tic = time.perf_counter()
                model = build(net, inp) if build else net
                builds.append(time.perf_counter() - tic)
                times[side] = median_time(lambda: model(inp), repeats, 2)
                diff = max(diff, (model(inp) - net(inp)).abs().max().item())
            click.echo(f"| {name} | {builds[0]:.1f} / {builds[1]:.1f} | {1e3 * times['224']:.1f} | "
                       f"{1e3 * times['56']:.1f} | {diff:.1e} | {times['224'] / (t_e + times['56']):.2f}× |")


if __name__ == "__main__":
    sys.exit(main())
