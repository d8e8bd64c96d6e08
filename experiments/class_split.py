"""Split ImageNet-style ImageFolders by class into two fixed halves, as folders of symlinks.

A class (wnid folder) is "even" or "odd" by the parity of its index in the sorted ImageNet wnid list
(the order of ``downscale.classifiers.IMAGENET_WNIDS``): fixed in advance, independent of any result.
E is trained on one half and evaluated on the other, so "held-out classes" means classes whose images
E never saw. Several sources are merged into one ImageFolder (same-named files are kept apart by a
source prefix).

Usage: python experiments/class_split.py {even,odd} OUT SRC [SRC ...]
  e.g. python experiments/class_split.py even runs/split-even \
         ../shared/data/imagenette-224/train ../shared/data/imagenet-sample-1000
"""

import sys
from pathlib import Path

from downscale.classifiers import IMAGENET_WNIDS


def main(parity: str, out: Path, sources: list[Path]) -> None:
    if parity not in ("even", "odd"):
        raise SystemExit(f"parity must be 'even' or 'odd', got {parity!r}")
    index = {w: i for i, w in enumerate(IMAGENET_WNIDS)}
    want = 0 if parity == "even" else 1
    counts: dict[str, int] = {}
    for k, src in enumerate(sources):
        if not src.is_dir():
            raise SystemExit(f"{src}: not a folder")
        for cls in sorted(p for p in src.iterdir() if p.is_dir()):
            if cls.name not in index:
                raise SystemExit(f"{cls}: not an ImageNet wnid folder")
            if index[cls.name] % 2 != want:
                continue
            (out / cls.name).mkdir(parents=True, exist_ok=True)
            for f in sorted(cls.iterdir()):
                link = out / cls.name / f"s{k}_{f.name}"
                if not link.exists():
                    link.symlink_to(f.resolve())
                counts[src.name] = counts.get(src.name, 0) + 1
    print(f"{parity} classes -> {out}: " + ", ".join(f"{n} images from {s}" for s, n in counts.items()))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
