"""The table a user decides from: the teacher on full images and on the best classical thumbnail, and the
thumbnail students on their own thumbnails, read from `downscale eval` runs (10-way, all images).

    python experiments/students_summary.py TEACHER_RUN STUDENT_RUN [STUDENT_RUN ...]

TEACHER_RUN: an eval of the frozen teacher with --ratio 1,2,4 (full size and every method it compared);
each STUDENT_RUN: an eval of one student (its own thumbnails are the row marked ``own``). FLOPs are per
image, E + classifier, with the share of the teacher's network on the full image.
"""

import json
import sys
from pathlib import Path


def rows(run: str) -> list[dict]:
    results = json.loads((Path(run) / "results.json").read_text())
    return [r for r in results["rows"] if r["group"] == "all images" and r["view"] == "dataset"]


def line(what: str, row: dict, full_flops: int) -> str:
    low, high = row["ci95"]
    cost = row["flops"]["downscaler"] + row["flops"]["classifier"]
    size = "x".join(map(str, row["size"]))
    return (f"| {what} | {size} | {100 * row['top1']:.1f} [{100 * low:.1f}, {100 * high:.1f}] | "
            f"{cost / 1e6:.0f} (1/{full_flops / cost:.1f}) |")


def main(teacher_run: str, *student_runs: str) -> None:
    teacher = rows(teacher_run)
    full = next(r for r in teacher if r["ratio"] == 1)
    full_flops = full["flops"]["classifier"]
    out = ["| what runs | input px | top-1 % [95% CI] | MFLOPs per image (share of T) |", "|---|---|---:|---:|",
           line("T, the teacher, on the full image", full, full_flops)]
    for ratio in sorted({r["ratio"] for r in teacher} - {1}):
        best = max((r for r in teacher if r["ratio"] == ratio), key=lambda r: r["top1"])
        out.append(line(f"T unchanged, on its best classical thumbnail (`{best['method']}`)", best, full_flops))
    for run in student_runs:
        own = next(r for r in rows(run) if r["own"])
        out.append(line(f"S, a student of T, on `{own['method']}` thumbnails", own, full_flops))
    print(f"n = {full['n']} images, top-1 over the dataset's classes\n")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
