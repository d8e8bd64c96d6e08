"""The learned downscaler inside a torchvision v2 pipeline, fed through a DataLoader.

    python examples/torchvision_pipeline.py [--data IMAGEFOLDER] [--ratio 2] [--limit 64] [--workers 2]

``LearnedResize`` is a v2 transform: it takes PIL images or tensors and resizes any bounding boxes in
the same sample to match. Without --data the photos that ship with scikit-image are used. Prints the
batch shapes and value range, a box before and after, and the loading throughput.
"""

import argparse
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from skimage import data as skdata
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from downscale import LearnedResize


class SkimagePhotos(Dataset):
    """A few RGB photos from scikit-image as PIL images, with label 0 (stand-in for an ImageFolder)."""

    def __init__(self, transform, n=16):
        photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
        self.photos = [Image.fromarray(photos[i % len(photos)]) for i in range(n)]
        self.transform = transform

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        return self.transform(self.photos[i]), 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="an ImageFolder (default: photos from scikit-image)")
    p.add_argument("--ratio", type=int, default=2, choices=[2, 4])
    p.add_argument("--limit", type=int, default=64, help="images to load")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    args = p.parse_args()

    pipeline = v2.Compose([
        v2.ToImage(),                             # PIL -> uint8 tv_tensors.Image [3, H, W]
        v2.Resize(224), v2.CenterCrop(224),       # a fixed size so the batch stacks
        LearnedResize(ratio=args.ratio),          # learned thumbnail, still uint8
        v2.ToDtype(torch.float32, scale=True),    # float in [0, 1] for a model
    ])
    print(pipeline)

    # One sample with a bounding box: the box is resized with the image.
    image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(skdata.astronaut())).permute(2, 0, 1))
    box = tv_tensors.BoundingBoxes([[180, 20, 330, 200]], format="XYXY", canvas_size=(512, 512))
    thumb, small_box = LearnedResize(ratio=args.ratio)(image, box)
    print(f"image {tuple(image.shape)} box {box.tolist()[0]} -> {tuple(thumb.shape)} box {small_box.tolist()[0]}")

    if args.data:
        dataset = torchvision.datasets.ImageFolder(args.data, transform=pipeline)
        dataset = torch.utils.data.Subset(dataset, range(min(args.limit, len(dataset))))
    else:
        dataset = SkimagePhotos(pipeline, n=args.limit)
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers)
    start, n = time.perf_counter(), 0
    for i, (x, y) in enumerate(loader):
        n += len(x)
        if i == 0:
            print(f"batch: {tuple(x.shape)} {x.dtype} in [{x.min():.3f}, {x.max():.3f}], labels {y[:8].tolist()}")
    seconds = time.perf_counter() - start
    print(f"loaded {n} images through the pipeline in {seconds:.2f} s ({n / seconds:.1f} img/s, "
          f"{args.workers} workers)")


if __name__ == "__main__":
    main()
