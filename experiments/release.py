"""Copy a finished training run into the registry under new versioned names.

    python experiments/release.py thumbnet RUN_DIR NAME [--student-name NAME] [--default] [--note TEXT]
    python experiments/release.py drnet RUN_DIR NAME --card drnet-vN.md [--predictor predictor-t0.55.pt ...]

``thumbnet`` (a ``downscale train`` run): a run with a learned E releases E as NAME (and its student as
--student-name, by default NAME with "thumbnet-" replaced by "student-"); a run on bicubic or on a
fixed E's thumbnails releases its student as NAME (paired with that E). The run's card is copied as pretrained/NAME.md. --default makes E the
default of learned_resize for its ratio.

``drnet`` (a ``downscale train-dynamic`` run): the multi-resolution classifier as NAME-student (copied
byte for byte) and each predictor as NAME-t<target> (re-saved so its ``student`` metadata names
NAME-student); the card (pretrained/drnet-vN.md) is written by hand from the evaluation.

Downscalers and predictors go to pretrained/ (the ``downscale`` wheel), students to
models/downscale_models/ (the ``downscale-models`` wheel). pretrained/registry.json records file,
sha256, package, kind, ratio, card, summary, teacher and data. Never overwrites a file or a registered name.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from downscale.images import write_atomic
from downscale.methods import CLASSICAL
from downscale.pretrained import load_weights, save_weights, sha256

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained"
FOLDERS = {"downscale.weights": PRETRAINED, "downscale_models": REPO / "models" / "downscale_models"}
STUDENT_KINDS = ("student", "multires_classifier")  # 14-15 MB each: the downscale-models wheel


def _package(kind: str) -> str:
    return "downscale_models" if kind in STUDENT_KINDS else "downscale.weights"


def _target(name: str, kind: str) -> Path:
    return FOLDERS[_package(kind)] / f"{name}.pt"


def _load_registry() -> dict:
    return json.loads((PRETRAINED / "registry.json").read_text())


def _save_registry(registry: dict) -> None:
    text = json.dumps(registry, indent=2) + "\n"
    write_atomic(PRETRAINED / "registry.json", lambda f: f.write(text.encode()), overwrite=True)


def _refuse_clashes(registry: dict, names: list[str], files: list[Path]) -> None:
    clash = [str(f) for f in files if f.exists()] + [n for n in names if n in registry["models"]]
    if clash:
        raise click.UsageError(f"refusing to overwrite released weights: {', '.join(clash)}; pick a new version")


def _entry(target: Path, digest: str, kind: str, **fields) -> dict:
    package = _package(kind)
    return {"file": target.name, "sha256": digest, **({"package": package} if package != "downscale.weights" else {}),
            "kind": kind, **fields}


def _data(cfg: dict) -> Path:
    return Path(cfg["data"]).resolve()


def _summary(run: dict, what: str) -> str:
    cfg, h = run["config"], run.get("holdout", {})
    acc = h.get("top1_trained")
    ways = len(run["classes"]) if isinstance(run.get("classes"), list) else run.get("classes", "?")
    score = f"; holdout top-1 {100 * acc:.1f}% (n={h['n']}, {ways}-way)" if acc is not None else ""
    data = _data(cfg)
    return (f"{what}, {cfg['strategy']} on {data.parent.name}/{data.name} ({run['train_images']} images, "
            f"{len(run['history'])} epoch(s), seed {cfg['seed']}){score}")


@click.group()
def main():
    """Release a training run into pretrained/ and models/ (never overwriting)."""


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--student-name", help="registry name of the run's student (runs with a learned E).")
@click.option("--default", "make_default", is_flag=True, help="make E the default for its ratio.")
@click.option("--note", default="", help="Markdown paragraph added to the card under 'Notes'.")
def thumbnet(run_dir: Path, name: str, student_name: str | None, make_default: bool, note: str):
    """A `downscale train` run: E and/or its student."""
    run = json.loads((run_dir / "run.json").read_text())
    cfg = run["config"]
    registry = _load_registry()
    teacher = f"{cfg['teacher']} ({Path(cfg['teacher_weights']).name}, normalize {cfg['normalize']})"
    data = _data(cfg)
    common = {"ratio": cfg["ratio"], "card": f"{name}.md", "learned": True, "teacher": teacher,
              "data": f"{data.parent.name}/{data.name}: {run['train_images']} images, holdout {run['holdout']['n']}"}

    releases = []  # (registry name, source file, entry fields)
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
        classical = not has_e and cfg["downscaler"] in CLASSICAL
        pairs = {"thumbnails": cfg["downscaler"]} if classical else {"downscaler": name if has_e else cfg["downscaler"]}
        what = "student on E's thumbnails" if has_e else f"student on {cfg['downscaler']} thumbnails"
        releases.append((sname, "student.pt", {"kind": "student", **common, **pairs,
                                               "summary": _summary(run, what)}))
    if make_default and not has_e:
        raise click.UsageError("--default needs a run with a learned E")

    card_path = PRETRAINED / f"{name}.md"
    _refuse_clashes(registry, [n for n, _, _ in releases],
                    [card_path] + [_target(n, e["kind"]) for n, _, e in releases])
    for reg_name, source, fields in releases:
        target = _target(reg_name, fields["kind"])
        shutil.copyfile(run_dir / source, target)
        digest = sha256(target)
        recorded = run.get("downscaler_sha256" if source == "downscaler.pt" else "student_sha256")
        if recorded and digest != recorded:
            target.unlink()
            raise click.ClickException(f"{run_dir / source} changed since the run wrote it (sha256 mismatch)")
        load_weights(target)
        registry["models"][reg_name] = _entry(target, digest, **fields)
        click.echo(f"released {reg_name}: {target} ({target.stat().st_size / 1e6:.1f} MB) sha256 {digest[:12]}")
    names = "\n".join(f"- `{n}` ({e['kind']}): `{n}.pt`" for n, _, e in releases)
    notes = f"\n\n## Notes\n\n{note}" if note else ""
    card_path.write_text((run_dir / "card.md").read_text().rstrip("\n")
                         + f"{notes}\n\n## Released as\n\n{names}\n")
    if make_default:
        registry["defaults"][str(cfg["ratio"])] = name
        click.echo(f"default for ratio {cfg['ratio']}: {name}")
    _save_registry(registry)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--predictor", "predictors", multiple=True, help="predictor files of the run [default: all].")
@click.option("--card", required=True, help="card file name in pretrained/, e.g. drnet-v2.md.")
def drnet(run_dir: Path, name: str, predictors: tuple[str, ...], card: str):
    """A `downscale train-dynamic` run: the multi-resolution student and its resolution predictors."""
    from downscale.dynamic import load_predictor

    run = json.loads((run_dir / "run.json").read_text())
    registry = _load_registry()
    student = f"{name}-student"
    chosen = {Path(f).name: run["predictors"][Path(f).name] for f in predictors or sorted(run["predictors"])}
    targets = {f: _target(f"{name}-t{meta['target_fraction']:g}", "resolution_predictor") for f, meta in chosen.items()}
    student_dst = _target(student, "multires_classifier")
    _refuse_clashes(registry, [student, *(t.stem for t in targets.values())], [student_dst, *targets.values()])

    shutil.copyfile(Path(run["student"]), student_dst)
    config = load_weights(student_dst)["config"]
    data = _data(run["config"])
    common = {"card": card, "learned": True, "ratio": "auto",
              "teacher": f"{config['arch']} ({Path(run['config']['teacher_weights']).name}, normalize {config['normalize']})",
              "data": f"{data.parent.name}/{data.name}"}
    registry["models"][student] = _entry(
        student_dst, sha256(student_dst), "multires_classifier", **common,
        downscalers={r: d["name"] for r, d in config["downscalers"].items()},
        summary="DRNet multi-resolution classifier: shared convolutions, one BN set per ratio 1/2/4")
    for file, meta in chosen.items():
        target = meta["target_fraction"]
        dst = targets[file]
        digest = save_weights(load_predictor(run_dir / file), dst, kind="resolution_predictor",
                              student=student, target_fraction=target, alpha_flops=meta["alpha_flops"])
        registry["models"][dst.stem] = _entry(
            dst, digest, "resolution_predictor", **common, student=student,
            summary=f"DRNet resolution predictor (56 px preview), FLOPs target {target:g} x full")
    for reg_name in (student, *(t.stem for t in targets.values())):
        click.echo(f"released {reg_name}: sha256 {registry['models'][reg_name]['sha256'][:12]}")
    _save_registry(registry)


if __name__ == "__main__":
    main()
