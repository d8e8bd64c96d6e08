"""Choose a field of view on one split and report the choice on another (experiments/eval_fov_heldout.sh).

``--choose RESULTS_JSON``: from a `downscale eval --fov ...` run (the even classes' holdout), print the
``--methods`` and ``--fov`` lists that hold the best classical (method, fov) and the best classical method
at fov 1 by 1000-way top-1 at ``--ratio`` (ties: the larger fov, then the CLASSICAL order).
``OUT``: for each classifier with ``OUT/even/C/results.json`` and ``OUT/odd/C/results.json``, a Markdown
table: the two choices made on even, and on odd their 1000-way top-1 and agreement with the classifier's own
full-image top-1, the difference and its exact McNemar p (paired, per image).

Usage: python experiments/fov_summary.py [--ratio 2] --choose RESULTS_JSON
       python experiments/fov_summary.py [--ratio 2] OUT
"""

import argparse
import json
from pathlib import Path

import numpy as np

from downscale.classifiers import IMAGENET_WNIDS
from downscale.evaluation.runner import best_classical_view, key_name
from downscale.evaluation.stats import discordant, mcnemar_exact


def choices(res: dict, ratio: float) -> tuple[tuple[str, float], tuple[str, float], dict]:
    """(best (method, fov), best (method, 1), {(method, fov): top-1}) over all images, 1000-way."""
    top1 = {(r["method"], r.get("fov", 1)): r["top1"] for r in res["rows"]
            if r["group"] == "all images" and r["view"] == "all" and r["ratio"] == ratio}
    return best_classical_view(top1), best_classical_view({k: v for k, v in top1.items() if k[1] == 1}), top1


def correct(res: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per image: 1000-way top-1 right, and agreement with the full image's top-1."""
    offset = res["config"]["num_outputs"] - 1000
    index = {w: i + offset for i, w in enumerate(IMAGENET_WNIDS)}
    truth = np.array([index[Path(im["path"]).parts[0]] for im in res["images"]])
    pred = np.array(res["per_image"][key]["logit_pred"])
    return pred == truth, pred == np.array(res["per_image"]["full@1"]["logit_pred"])


def paired(a: np.ndarray, b: np.ndarray) -> str:
    only_a, only_b = discordant(a.tolist(), b.tolist())
    return (f"{100 * a.mean():.1f} vs {100 * b.mean():.1f} | {100 * (a.mean() - b.mean()):+.1f} | "
            f"{mcnemar_exact(only_a, only_b):.2g} (+{only_a}/−{only_b})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--choose", type=Path, help="results.json of the sweep to choose on")
    parser.add_argument("--ratio", type=float, default=2)
    args = parser.parse_args()
    if args.choose:
        best, plain, _ = choices(json.loads(args.choose.read_text()), args.ratio)
        methods = dict.fromkeys([best[0], plain[0]])
        fovs = dict.fromkeys([1, best[1]])
        print(",".join(methods), ",".join(f"{f:g}" for f in fovs))
        return
    if args.out is None:
        raise SystemExit(__doc__)
    r = f"{args.ratio:g}"
    print("| classifier | n even | chosen on even: best (method, fov) / best at fov 1 (top-1 on even) | n odd "
          "| odd top-1 %: chosen vs fov 1 | Δ pts | McNemar p | odd agreement %: chosen vs fov 1 | Δ pts | McNemar p |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for even in sorted((args.out / "even").glob("*/results.json")):
        clf = even.parent.name
        odd = args.out / "odd" / clf / "results.json"
        if not odd.is_file():
            continue
        e, o = json.loads(even.read_text()), json.loads(odd.read_text())
        best, plain, top1 = choices(e, args.ratio)
        top_b, agree_b = correct(o, key_name(best[0], args.ratio, best[1]))
        top_p, agree_p = correct(o, key_name(plain[0], args.ratio, 1))
        print(f"| {clf} | {e['config']['n_images']} | `{best[0]}` fov {best[1]:g} ({100 * top1[best]:.1f}) / "
              f"`{plain[0]}` ({100 * top1[plain]:.1f}) | {o['config']['n_images']} | {paired(top_b, top_p)} "
              f"| {paired(agree_b, agree_p)} |")
    print(f"\nratio {r}; top-1 over all 1000 ImageNet classes; agreement: the thumbnail's top-1 equals the same "
          "classifier's top-1 on the full 224 px image; exact two-sided McNemar on the paired per-image results "
          "(+ chosen only / − fov-1 best only).")


if __name__ == "__main__":
    main()
