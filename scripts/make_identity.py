"""Write the v0 'bicubic-identity' downscalers: E with a zero correction layer, i.e. exactly
antialiased bicubic. They exist so the library works before (and without) trained weights; they are
not learned. Usage: python scripts/make_bicubic_identity.py  (writes new files only)."""

import json
from pathlib import Path

import torch

from downscale.model import Downscaler
from downscale.pretrained import save_weights

root = Path(__file__).resolve().parents[1] / "pretrained"
registry_path = root / "registry.json"
registry = json.loads(registry_path.read_text()) if registry_path.exists() else {"defaults": {}, "models": {}}
for ratio in (2, 4):
    name = f"bicubic-identity-r{ratio}-v0"
    torch.manual_seed(0)
    digest = save_weights(Downscaler(ratio).eval(), root / f"{name}.pt", name=name)
    registry["models"][name] = {
        "file": f"{name}.pt", "sha256": digest, "kind": "downscaler", "ratio": ratio,
        "card": "bicubic-identity-v0.md", "learned": False,
        "summary": "untrained E (zero correction): output equals antialiased bicubic",
    }
    registry["defaults"].setdefault(str(ratio), name)
registry_path.write_text(json.dumps(registry, indent=2) + "\n")
print(json.dumps(registry, indent=2))
