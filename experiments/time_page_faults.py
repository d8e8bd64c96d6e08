"""What `memory.keep_freed_memory` saves: MobileNetV2 forwards (and a training step) on CPU, each setting in a
fresh process, with glibc's default malloc and with freed memory kept for reuse.

    python experiments/time_page_faults.py [--batch 64] [--repeats 5]

Prints wall, user and system CPU seconds and minor page faults over the timed steps (after one warm-up).
"""

from __future__ import annotations

import json
import subprocess
import sys

import click

_CHILD = """
import json, resource, sys, time, torch, torchvision
keep, batch, repeats, mode = sys.argv[1] == "keep", int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if keep:
    from downscale.memory import keep_freed_memory
    assert keep_freed_memory()
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(num_classes=1001).to(memory_format=torch.channels_last)
x = torch.rand(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)

def step():
    if mode == "forward":
        with torch.inference_mode():
            model.eval()(x)
    else:
        opt.zero_grad()
        model.train()(x).logsumexp(1).mean().backward()
        opt.step()

step()
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(repeats):
    step()
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
print(json.dumps({"wall": t1 - t0, "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
                  "faults": r1.ru_minflt - r0.ru_minflt}))
"""


@click.command()
@click.option("--batch", default=64, show_default=True)
@click.option("--repeats", default=5, show_default=True)
def main(batch: int, repeats: int):
    click.echo(f"MobileNetV2 (1001 outputs), batch {batch} x 224², {repeats} timed steps after 1 warm-up, "
               f"torch threads = cores; each row a fresh process")
    click.echo("| step | malloc | wall s | user s | system s | minor page faults |\n|---|---|---:|---:|---:|---:|")
    for mode in ("forward", "train"):
        for keep in ("default", "keep"):
            done = subprocess.run([sys.executable, "-c", _CHILD, keep, str(batch), str(repeats), mode],
                                  capture_output=True, text=True, check=True)
            r = json.loads(done.stdout)
            label = "glibc default" if keep == "default" else "keep_freed_memory()"
            click.echo(f"| {mode} | {label} | {r['wall']:.2f} | {r['user']:.2f} | {r['sys']:.2f} | {r['faults']} |")


if __name__ == "__main__":
    sys.exit(main())
