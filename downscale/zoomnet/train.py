"""Train a ``ZoomPredictor`` against a frozen classifier by distillation from the classifier's own full-image
outputs (no labels): the loss is ``T^2 KL(softmax(full / T) || softmax(thumb / T))`` (or, with ``T = 0``, the
cross-entropy with the full image's top-1), where ``thumb`` is the classifier's logits on the ``zoom_crop``
thumbnail of the predicted box, so the gradient flows through the crop into the box.

The images (short side resized to ``image_size``, centre square, as ``downscale eval``) and the classifier's
full-image logits are cached once in ``--cache``. A seeded fraction of the images is held out; the report
gives, on it, the KD loss and the agreement of the thumbnail's top-1 with the full image's top-1, at init (the
centred box of ``init_scale``) and after each epoch.

Usage: python -m downscale.zoomnet.train --data FOLDER [FOLDER ...] --classifier mobilenet_v2 \
           --classifier-weights W.pt --normalize minus1to1 --cache DIR --out zoom.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import v2

from ..classifiers import build_classifier
from ..methods import as_float
from ..pretrained import save_weights
from ..sizes import output_size
from ..zoom import ZoomPredictor, zoom_crop

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def load_images(folders: list[Path], image_size: int) -> tuple[torch.Tensor, list[str]]:
    """uint8 ``[N, 3, S, S]`` of every image under ``folders`` (sorted; short side resized to S with
    antialiasing, then the centre square), and their paths."""
    fit = v2.Compose([v2.PILToTensor(), v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)])
    paths = sorted(str(p) for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"no images under {', '.join(map(str, folders))}")
    return torch.stack([fit(Image.open(p).convert("RGB")) for p in paths]), paths


@torch.no_grad()
def full_logits(classifier, images: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """The classifier's float logits on the full images (uint8 batch), ``batch`` images at a time."""
    return torch.cat([classifier(as_float(images[i:i + batch])) for i in range(0, len(images), batch)])


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 KL(softmax(teacher / T) || softmax(student / T))``, mean over the batch; ``temperature == 0``:
    cross-entropy with the teacher's top-1 (the limit of small T, which targets agreement)."""
    t = temperature
    if t == 0:
        return F.cross_entropy(student, teacher.argmax(1))
    return F.kl_div(F.log_softmax(student / t, 1), F.log_softmax(teacher / t, 1), log_target=True,
                    reduction="batchmean") * t * t


@torch.no_grad()
def evaluate(predictor, classifier, images, targets, size, temperature, batch: int = 50) -> dict:
    """KD loss, agreement (thumbnail top-1 == full-image top-1) and the mean box on ``images``."""
    predictor.eval()
    loss, agree, boxes = 0.0, 0, []
    for i in range(0, len(images), batch):
        x = as_float(images[i:i + batch])
        box = predictor(x)
        logits = classifier(zoom_crop(x, box, size).clamp(0, 1))
        loss += kd_loss(logits, targets[i:i + batch], temperature).item() * len(x)
        agree += (logits.argmax(1) == targets[i:i + batch].argmax(1)).sum().item()
        boxes.append(box)
    boxes = torch.cat(boxes)
    return {"kd": loss / len(images), "agreement": agree / len(images), "mean_box": boxes.mean(0).tolist(),
            "std_box": boxes.std(0).tolist()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="folders of training images")
    parser.add_argument("--classifier", default="mobilenet_v2")
    parser.add_argument("--classifier-weights", type=Path)
    parser.add_argument("--normalize")
    parser.add_argument("--cache", type=Path, required=True, help="folder for the cached images and logits")
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (never overwritten)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--ratio", type=float, default=2)
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction of the images held out")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=2.0, help="0: cross-entropy with the teacher's top-1")
    parser.add_argument("--train-backbone", action="store_true", help="also train the copied backbone")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--init-scale", type=float, default=0.75)
    parser.add_argument("--min-scale", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    classifier = build_classifier(args.classifier, args.classifier_weights, normalize=args.normalize).eval()
    classifier.requires_grad_(False)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = args.cache / f"images-{args.image_size}.pt"
    if not cache.is_file():
        images, paths = load_images(args.data, args.image_size)
        torch.save({"images": images, "paths": paths}, cache)
    payload = torch.load(cache, weights_only=True)
    images, paths = payload["images"], payload["paths"]
    logits_file = args.cache / f"logits-{args.classifier}-{classifier.normalize}.pt"
    if not logits_file.is_file():
        torch.save(full_logits(classifier, images), logits_file)
    targets = torch.load(logits_file, weights_only=True)
    print(f"{len(images)} images, logits cached, {time.perf_counter() - start:.0f} s", flush=True)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))
    n_hold = round(args.holdout * len(images))
    hold, train = order[:n_hold].sort().values, order[n_hold:]
    size = output_size(args.image_size, args.image_size, args.ratio)

    predictor = ZoomPredictor(width=args.width, min_scale=args.min_scale, init_scale=args.init_scale)
    copied = {k: v for k, v in classifier.net.features.state_dict().items()
              if int(k.split(".")[0]) < predictor.blocks}
    predictor.backbone.load_state_dict(copied, strict=True)
    if not args.train_backbone:
        predictor.backbone.requires_grad_(False)
    params = [p for p in predictor.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    steps = args.epochs * (len(train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps, pct_start=0.1)
    history = [{"epoch": 0, **evaluate(predictor, classifier, images[hold], targets[hold], size, args.temperature)}]
    print(json.dumps(history[-1]), flush=True)
    for epoch in range(1, args.epochs + 1):
        predictor.train()
        if not args.train_backbone:
            predictor.backbone.eval()  # frozen: keep the classifier's BatchNorm statistics
        perm = train[torch.randperm(len(train))]
        total = 0.0
        for step in range(len(train) // args.batch_size):
            index = perm[step * args.batch_size:(step + 1) * args.batch_size]
            x = as_float(images[index])
            logits = classifier(zoom_crop(x, predictor(x), size))
            loss = kd_loss(logits, targets[index], args.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
            if step % 20 == 0:
                print(f"epoch {epoch} step {step} loss {total / (step + 1):.4f} "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
        history.append({"epoch": epoch, "train_kd": total / (len(train) // args.batch_size),
                        **evaluate(predictor, classifier, images[hold], targets[hold], size, args.temperature)})
        print(json.dumps(history[-1]), flush=True)
    wall = time.perf_counter() - start
    save_weights(predictor.eval(), args.out, classifier=args.classifier, normalize=classifier.normalize,
                 ratio=args.ratio, image_size=args.image_size, n_train=len(train), n_holdout=n_hold,
                 args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "data"})
    report = {"args": {k: [str(p) for p in v] if k == "data" else str(v) if isinstance(v, Path) else v
                       for k, v in vars(args).items()},
              "n_images": len(images), "n_train": len(train), "n_holdout": n_hold, "history": history,
              "wall_s": wall}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
