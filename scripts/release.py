"""Copy a finished `downscale train` run into pretrained/ under versioned names and register it.

    python scripts/release.py RUN_DIR NAME [--student-name NAME] [--default] [--note TEXT]

A run with a learned E releases E as NAME (and its student as --student-name, by default NAME with
"thumbnet-" replaced by "student-"); a bicubic-baseline run releases its student as NAME. The card
is copied as NAME.md; pretrained/registry.json records file, sha256, kind, ratio, card, summary,
teacher and data (students also the downscaler they pair with). --default makes E the default of
learned_resize for its ratio. Never overwrites a file or a registered name.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click

from downscale.pretrained import load_weights, sha256

ROOT = Path(__file__).resolve().parents[1] / "pretrained"


def _summary(run: dict, what: str) -> str:
    cfg, h = run["config"], run.get("holdout", {})
    acc = h.get("top1_trained")
    ways = len(run["classes"]) if isinstance(run.get("classes"), list) else run.get("classes", "?")
    score = f"; holdout top-1 {100 * acc:.1f}% (n={h['n']}, {ways}-way)" if acc is not None else ""
    data = Path(cfg["data"]).resolve()
    return (f"{what}, {cfg['strategy']} on {data.parent.name}/{data.name} ({run['train_images']} images, "
            f"{len(run['history'])} epoch(s), seed {cfg['seed']}){score}")


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--student-name", help="registry name of the run's student (runs with a learned E).")
@click.option("--default", "make_default", is_flag=True, help="make E the default for its ratio.")
@click.option("--note", default="", help="Markdown paragraph added to the card under 'Notes'.")
def release(run_dir: Path, name: str, student_name: str | None, make_default: bool, note: str):
    run = json.loads((run_dir / "run.json").read_text())
    cfg = run["config"]
    registry_path = ROOT / "registry.json"
    registry = json.loads(registry_path.read_text())
    teacher = f"{cfg['teacher']} ({Path(cfg['teacher_weights']).name}, normalize {cfg['normalize']})"
    data = Path(cfg["data"]).resolve()
    common = {"ratio": cfg["ratio"], "card": f"{name}.md", "learned": True, "teacher": teacher,
              "data": f"{data.parent.name}/{data.name}: {run['train_images']} images, holdout {run['holdout']['n']}"}

    releases = []  # (registry name, source file, entry)
    has_e = (run_dir / "downscaler.pt").exists()
    if has_e:
        releases.append((name, "downscaler.pt", {"kind": "downscaler", **common,
                                                 "summary": _summary(run, "E tuned alone for the frozen teacher"
                                                                     if cfg.get("freeze_classifier") else
                                                                     "E trained with a student")}))
    if (run_dir / "student.pt").exists():
        sname = (student_name or name.replace("thumbnet-", "student-", 1)) if has_e else name
        if sname in (n for n, _, _ in releases):
            raise click.UsageError("pass --student-name: the student needs its own name")
        pairs = name if has_e else "bicubic (antialiased, no E)"
        what = "student on E's thumbnails" if has_e else "baseline student on bicubic thumbnails"
        releases.append((sname, "student.pt", {"kind": "student", **common, "downscaler": pairs,
                                               "summary": _summary(run, what)}))
    if make_default and not has_e:
        raise click.UsageError("--default needs a run with a learned E")

    card_path = ROOT / f"{name}.md"
    targets = [card_path] + [ROOT / f"{n}.pt" for n, _, _ in releases]
    clash = [str(t) for t in targets if t.exists()] + [n for n, _, _ in releases if n in registry["models"]]
    if clash:
        raise click.UsageError(f"refusing to overwrite released weights: {', '.join(clash)}; pick a new version")

    for reg_name, source, entry in releases:
        target = ROOT / f"{reg_name}.pt"
        shutil.copyfile(run_dir / source, target)
        digest = sha256(target)
        recorded = run.get("downscaler_sha256" if source == "downscaler.pt" else "student_sha256")
        if recorded and digest != recorded:
            target.unlink()
            raise click.ClickException(f"{run_dir / source} changed since the run wrote it (sha256 mismatch)")
        load_weights(target)
        registry["models"][reg_name] = {"file": target.name, "sha256": digest, **entry}
        click.echo(f"released {reg_name}: {target.name} ({target.stat().st_size / 1e6:.1f} MB) sha256 {digest[:12]}")
    names = "\n".join(f"- `{n}` ({e['kind']}): `{n}.pt`" for n, _, e in releases)
    notes = f"\n\n## Notes\n\n{note}" if note else ""
    card_path.write_text((run_dir / "card.md").read_text().rstrip("\n")
                         + f"{notes}\n\n## Released as\n\n{names}\n")
    if make_default:
        registry["defaults"][str(cfg["ratio"])] = name
        click.echo(f"default for ratio {cfg['ratio']}: {name}")
    registry_path.write_text(json.dumps(registry, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(release())
