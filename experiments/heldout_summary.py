"""Summarise held-out evaluations (experiments/eval_heldout.sh outputs) as one Markdown table.

For each classifier folder under each RUN (``RUN/<classifier>/results.json``), at one ratio and over
all images: 1000-way top-1 and agreement with the classifier's own full-image top-1 for every method,
the best classical resize (chosen on these images), and ``learned`` against it (delta, exact McNemar p).
A second RUN may hold only ``learned`` and the best classical resize: its E is compared with the best
classical resize of the first RUN's table (the same images, so the same paired test).

Usage: python experiments/heldout_summary.py [--ratio 2] RUN [RUN ...]
"""

import argparse
import json
from pathlib import Path

from downscale.evaluation.runner import best_classical
from downscale.methods import CLASSICAL


def rows_of(path: Path, ratio: float) -> dict:
    """{view: {method: row}} for the "all images" group at ``ratio``."""
    res = json.loads(path.read_text())
    out: dict = {"config": res["config"]}
    for row in res["rows"]:
        if row["group"] == "all images" and row["ratio"] == ratio:
            out.setdefault(row["view"], {})[row["method"]] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--ratio", type=float, default=2)
    args = parser.parse_args()
    first = args.runs[0]
    print(f"| classifier | view | n | best classical | {' | '.join(f'E: {run.name}' for run in args.runs)} |")
    print("|---|---|---:|---|" + "---:|" * len(args.runs))
    for clf in sorted(p.name for p in first.iterdir() if (p / "results.json").is_file()):
        tables = [rows_of(run / clf / "results.json", args.ratio) for run in args.runs
                  if (run / clf / "results.json").is_file()]
        for view in ("all", "agreement"):
            base = tables[0].get(view, {})
            classical = {m: r for m, r in base.items() if m in CLASSICAL}
            if not classical:
                continue
            best = best_classical({m: r["top1"] for m, r in classical.items()})
            cells = []
            for table in tables:
                e = table.get(view, {}).get("learned")
                vs = e and e.get("vs_best_classical")
                if not e or not vs or vs["method"] != best:
                    cells.append("n/a" if not e else f"{100 * e['top1']:.1f} (best classical differs)")
                    continue
                cells.append(f"{100 * e['top1']:.1f} ({100 * vs['delta']:+.1f}, p = {vs['p_mcnemar']:.2g})")
            cells += [""] * (len(args.runs) - len(tables))
            name = "top-1" if view == "all" else "agreement"
            print(f"| {clf} | {name} | {base[best]['n']} | {best} {100 * classical[best]['top1']:.1f} | "
                  + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
