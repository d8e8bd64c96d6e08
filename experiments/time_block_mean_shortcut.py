"""The ratio-4 default E (`area-identity-r4-v0`, a zero correction) as the block mean alone against the two
convolutions a trained area E runs (the same weights with one correction weight set to 1e-30).

    python experiments/time_block_mean_shortcut.py [--rounds 21]

Two inputs: a float batch of 32 x 224² (as in `downscale bench`'s classify rows) and one uint8 1-MP image;
the two forms alternate, one call each per round; prints the median ms over --rounds (after 2 warm-up
rounds) and the largest output difference. torch threads = cores.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time

import click
import torch

from downscale.pretrained import default_weights, load_downscaler

CL = torch.channels_last


@click.command()
@click.option("--rounds", default=21, show_default=True)
def main(rounds: int):
    identity = load_downscaler(default_weights(4)).to(memory_format=CL)
    two_convs = copy.deepcopy(identity)
    with torch.no_grad():
        two_convs.correction.weight[0, 0, 0, 0] = 1e-30  # not zero: the general path, the same result
    inputs = {"float 32 x 224²": torch.rand(32, 3, 224, 224).contiguous(memory_format=CL),
              "uint8 1024²": torch.randint(0, 256, (1, 3, 1024, 1024), dtype=torch.uint8).contiguous(memory_format=CL)}
    click.echo(f"{default_weights(4)}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
               f"median of {rounds} alternating rounds")
    click.echo("| input | block mean alone ms | two convolutions ms | ratio | max diff |\n|---|---:|---:|---:|---:|")
    with torch.inference_mode():
        for name, x in inputs.items():
            times = {"alone": [], "two": []}
            for i in range(rounds + 2):
                for key, model in (("alone", identity), ("two", two_convs)):
                    tic = time.perf_counter()
                    model(x)
                    if i >= 2:
                        times[key].append(1e3 * (time.perf_counter() - tic))
            alone, two = (statistics.median(times[k]) for k in ("alone", "two"))
            diff = (identity(x) - two_convs(x)).abs().max().item()
            click.echo(f"| {name} | {alone:.2f} | {two:.2f} | {alone / two:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    sys.exit(main())
