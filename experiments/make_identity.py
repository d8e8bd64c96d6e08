"""Write the v0 identity downscalers: E with a zero correction layer, i.e. exactly a classical resize.
'bicubic-identity' (paper layout) is antialiased bicubic; 'area-identity' (the fast "area" layout,
width 8, the same compute as the shipped area E's) is the block mean; 'sharp-bicubic-identity' (the
same layout over skip="bicubic") is torch's bicubic without antialiasing. They are not learned: they make
the library work without trained weights, and stand in where no learned E beats the classical resize.
Usage: python experiments/make_identity.py  (writes only the files and names not there yet)."""

import json
from pathlib import Path

import torch

from downscale.model import Downscaler
from downscale.pretrained import save_weights

root = Path(__file__).resolve().parents[1] / "pretrained"
registry_path = root / "registry.json"
registry = json.loads(registry_path.read_text()) if registry_path.exists() else {"defaults": {}, "models": {}}
kinds = {
    "bicubic": ({"width": 32, "arch": "paper"}, "untrained E (zero correction): output equals antialiased bicubic"),
    "area": ({"width": 8, "arch": "area"}, "untrained fast E (zero correction): output equals area (block-mean) resize"),
    "sharp-bicubic": ({"width": 8, "arch": "area", "skip": "bicubic"},
                      "untrained fast E (zero correction): output equals bicubic without antialias (torch)"),
}
for kind, (config, summary) in kinds.items():
    for ratio in (2, 4):
        name = f"{kind}-identity-r{ratio}-v0"
        if name in registry["models"]:
            continue
        torch.manual_seed(0)
        digest = save_weights(Downscaler(ratio, **config).eval(), root / f"{name}.pt", name=name)
        registry["models"][name] = {
            "file": f"{name}.pt", "sha256": digest, "kind": "downscaler", "ratio": ratio,
            "card": f"{kind}-identity-v0.md", "learned": False, "summary": summary,
        }
        registry["defaults"].setdefault(str(ratio), name)
registry_path.write_text(json.dumps(registry, indent=2) + "\n")
print(json.dumps(registry["defaults"], indent=2))
