"""The learned zoom against the best fixed field of view on held-out classes (experiments/eval_zoom_heldout.sh).

For each classifier with ``FOV/even/C``, ``FOV/odd/C`` (experiments/eval_fov_heldout.sh: the best classical
(method, fov) chosen on the even classes, and the full image's top-1 on the odd ones) and ``ZOOM/C`` (a
`downscale eval --zoom` run on the same odd images), a Markdown table: the zoom's 1000-way top-1 and agreement
with the full image's top-1 against the chosen fixed view's, the difference, its exact McNemar p (paired, per
image) and the FLOPs per image of each (predictor + classifier).

Usage: python experiments/zoom_summary.py [--ratio 2] FOV ZOOM
"""

import argparse
import json
from pathlib import Path

from fov_summary import choices, correct, paired

from downscale.evaluation.runner import key_name


def flops_of(res: dict, method: str, ratio: float, fov: float = 1) -> float:
    """MFLOPs per image (downscaler or predictor + classifier) of a row of ``res``."""
    row = next(r for r in res["rows"] if r["method"] == method and r["ratio"] == ratio and r.get("fov", 1) == fov)
    return (row["flops"]["downscaler"] + row["flops"]["classifier"]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fov", type=Path)
    parser.add_argument("zoom", type=Path)
    parser.add_argument("--ratio", type=float, default=2)
    args = parser.parse_args()
    print("| classifier | n odd | best fixed (chosen on even) | top-1 %: zoom vs fixed | Δ pts | McNemar p "
          "| agreement %: zoom vs fixed | Δ pts | McNemar p | MFLOPs: zoom vs fixed |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in sorted(args.zoom.glob("*/results.json")):
        clf = run.parent.name
        even, odd = args.fov / "even" / clf / "results.json", args.fov / "odd" / clf / "results.json"
        if not (even.is_file() and odd.is_file()):
            continue
        e, o, z = (json.loads(p.read_text()) for p in (even, odd, run))
        if [im["path"] for im in z["images"]] != [im["path"] for im in o["images"]]:
            raise SystemExit(f"{run} and {odd} hold different images")
        best = choices(e, args.ratio)[0]
        top_f, agree_f = correct(o, key_name(best[0], args.ratio, best[1]))
        z["per_image"]["full@1"] = o["per_image"]["full@1"]  # agreement with the same full-image top-1
        top_z, agree_z = correct(z, key_name("zoom", args.ratio))
        print(f"| {clf} | {len(top_z)} | `{best[0]}` fov {best[1]:g} | {paired(top_z, top_f)} | "
              f"{paired(agree_z, agree_f)} | {flops_of(z, 'zoom', args.ratio):.1f} vs "
              f"{flops_of(o, best[0], args.ratio, best[1]):.1f} |")
    print(f"\nratio {args.ratio:g}; top-1 over all 1000 ImageNet classes; agreement: the thumbnail's top-1 equals the "
          "same classifier's top-1 on the full 224 px image; exact two-sided McNemar on the paired per-image results "
          "(+ zoom only / − fixed only); FLOPs from torch.utils.flop_counter (a classical resize counts 0).")


if __name__ == "__main__":
    main()
