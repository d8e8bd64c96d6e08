"""Speed up a torchvision classifier with thumbnails: accuracy and time, full images vs thumbnails.

    python examples/speed_up_classifier.py --data imagenette-224/val \
        --weights mobilenet_v2_1001.pt --normalize minus1to1 --ratio 2 --limit 200

Runs the same images through (1) the classifier at full resolution, (2) the same frozen classifier on
learned thumbnails, and (3) a thumbnail student on its own thumbnails when one is registered for the
ratio (or given with --student). Prints top-1 over the dataset's classes and images per second
(resize + classify, this machine, all threads). Accuracy figures are from --limit images: see n.
"""

import argparse
import time

import torch
import torchvision
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import v2

from downscale import learned_resize
from downscale.classifiers import build_classifier, class_indices, load_classifier
from downscale.evaluation.stats import wilson_interval
from downscale.methods import CLASSICAL, thumbnail
from downscale.pretrained import list_pretrained


def top1_and_speed(model, classes, loader, shrink):
    """10-way (dataset classes) top-1 and images/s of ``model(shrink(x))`` over the loader."""
    correct = n = 0
    seconds = 0.0
    with torch.inference_mode():
        for x, y in loader:
            start = time.perf_counter()
            logits = model(shrink(x).contiguous(memory_format=torch.channels_last))
            seconds += time.perf_counter() - start
            correct += (logits[:, classes].argmax(1) == y).sum().item()
            n += len(y)
    return correct, n, n / seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="ImageFolder with ImageNet wnid class folders")
    p.add_argument("--arch", default="mobilenet_v2", help="torchvision model name")
    p.add_argument("--weights", required=True, help="the classifier's state_dict file")
    p.add_argument("--normalize", default="imagenet", choices=["imagenet", "minus1to1"])
    p.add_argument("--ratio", type=int, default=2, choices=[2, 4])
    p.add_argument("--student", help="a thumbnail student (registry name or file); default: a registered one")
    p.add_argument("--limit", type=int, default=200, help="images (seeded random subset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()

    to_224 = v2.Compose([v2.ToImage(), v2.Resize(224), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True)])
    dataset = torchvision.datasets.ImageFolder(args.data, transform=to_224)
    g = torch.Generator().manual_seed(args.seed)
    subset = Subset(dataset, torch.randperm(len(dataset), generator=g)[: args.limit].tolist())
    loader = DataLoader(subset, batch_size=args.batch_size)

    teacher = build_classifier(args.arch, args.weights, normalize=args.normalize).eval()
    teacher = teacher.to(memory_format=torch.channels_last)
    classes = class_indices(dataset.classes, teacher.num_classes)
    runs = [("full 224 px", teacher, lambda x: x),
            (f"frozen classifier, learned thumbnails ÷{args.ratio}", teacher,
             lambda x: learned_resize(x, ratio=args.ratio))]

    student = args.student or next((name for name, m in list_pretrained(kind="student").items()
                                    if m["ratio"] == args.ratio), None)
    if student:
        meta = list_pretrained(kind=None, all=True).get(student, {})
        own = meta.get("thumbnails") or meta.get("downscaler")  # a classical resize, or an E
        if own not in CLASSICAL and own not in list_pretrained(kind="downscaler", all=True):
            own = "bicubic_aa"  # older baseline students name it in words
        model = load_classifier(student).to(memory_format=torch.channels_last)
        resize = ((lambda x: thumbnail(own, x.mul(255).round().to(torch.uint8), args.ratio)) if own in CLASSICAL
                  else (lambda x: learned_resize(x, ratio=args.ratio, weights=own)))
        runs.append((f"student {student} on its own thumbnails ({own})", model, resize))
    else:
        print(f"(no student registered for ratio {args.ratio}; pass --student to add one)")

    print(f"{len(subset)} images from {args.data} (seed {args.seed}); top-1 over {len(classes)} classes")
    full_speed = None
    for name, model, shrink in runs:
        correct, n, speed = top1_and_speed(model, classes, loader, shrink)
        low, high = wilson_interval(correct, n)
        full_speed = full_speed or speed
        print(f"{name:60s} top-1 {100 * correct / n:5.1f}% [{100 * low:.1f}, {100 * high:.1f}]  "
              f"{speed:6.1f} img/s ({speed / full_speed:.2f}x full)")


if __name__ == "__main__":
    main()
