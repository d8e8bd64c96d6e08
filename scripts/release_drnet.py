"""Copy a DRNet run (``downscale train-dynamic``) into pretrained/ and print its registry entries.

    python scripts/release_drnet.py RUN_DIR NAME [--predictor predictor-t0.55.pt ...]

Writes ``pretrained/NAME-student.pt`` (the multi-resolution classifier, copied byte for byte) and
``pretrained/NAME-t<target>.pt`` per predictor (re-saved so its ``student`` metadata names
``NAME-student``), never overwriting, then prints the entries for ``pretrained/registry.json``
(the card ``drnet-<version>.md`` is written by hand from the evaluation).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from downscale.drnet.model import load_predictor
from downscale.pretrained import load_weights, save_weights, sha256

ROOT = Path(__file__).resolve().parents[1] / "pretrained"


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--predictor", "predictors", multiple=True, help="predictor files of the run [default: all].")
@click.option("--card", required=True, help="card file name in pretrained/, e.g. drnet-v1.md.")
def release(run_dir: Path, name: str, predictors: tuple[str, ...], card: str):
    run = json.loads((run_dir / "run.json").read_text())
    student_src = Path(run["student"])
    student_dst = ROOT / f"{name}-student.pt"
    if student_dst.exists():
        raise click.UsageError(f"{student_dst} exists; released weights are never overwritten")
    shutil.copyfile(student_src, student_dst)
    config = load_weights(student_dst)["config"]
    data = Path(run["config"]["data"]).resolve()
    common = {"card": card, "learned": True, "ratio": "auto",
              "teacher": f"{config['arch']} ({Path(run['config']['teacher_weights']).name}, normalize {config['normalize']})",
              "data": f"{data.parent.name}/{data.name}"}
    entries = {f"{name}-student": {"file": student_dst.name, "sha256": sha256(student_dst), "kind": "multires_classifier",
                                   **common, "downscalers": {r: d["name"] for r, d in config["downscalers"].items()},
                                   "summary": "DRNet multi-resolution classifier: shared convolutions, one BN set per ratio 1/2/4"}}
    for file in predictors or sorted(run["predictors"]):
        meta = run["predictors"][Path(file).name]
        target = meta["target_fraction"]
        dst = ROOT / f"{name}-t{target:g}.pt"
        sha = save_weights(load_predictor(run_dir / Path(file).name), dst, kind="resolution_predictor",
                           student=f"{name}-student", target_fraction=target, alpha_flops=meta["alpha_flops"])
        entries[dst.stem] = {"file": dst.name, "sha256": sha, "kind": "resolution_predictor", **common,
                             "student": f"{name}-student",
                             "summary": f"DRNet resolution predictor (56 px preview), FLOPs target {target:g} x full"}
    click.echo(json.dumps(entries, indent=2))


if __name__ == "__main__":
    release()
