import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from downscale import LearnedResize, learned_resize


def test_plain_tensor_and_pil_equal_the_function(astronaut):
    t = torch.rand(2, 3, 40, 36)
    assert torch.equal(LearnedResize(4)(t), learned_resize(t, 4))
    out = LearnedResize(2)(astronaut)
    assert isinstance(out, Image.Image) and out.tobytes() == learned_resize(astronaut, 2).tobytes()


def test_image_and_video_stay_tv_tensors():
    image = tv_tensors.Image(torch.randint(0, 256, (3, 64, 48), dtype=torch.uint8))
    video = tv_tensors.Video(torch.rand(5, 3, 64, 48))
    out = LearnedResize(4)({"image": image, "video": video})
    assert type(out["image"]) is tv_tensors.Image and out["image"].shape == (3, 16, 12)
    assert type(out["video"]) is tv_tensors.Video and out["video"].shape == (5, 3, 16, 12)
    assert torch.equal(out["image"].as_subclass(torch.Tensor), learned_resize(image.as_subclass(torch.Tensor), 4))


def test_boxes_masks_keypoints_follow_the_image():
    image = tv_tensors.Image(torch.rand(3, 64, 48))
    boxes = tv_tensors.BoundingBoxes([[4, 8, 20, 40]], format="XYXY", canvas_size=(64, 48))
    mask = tv_tensors.Mask(torch.zeros(64, 48, dtype=torch.uint8))
    mask[:32] = 1
    points = tv_tensors.KeyPoints([[8.0, 16.0]], canvas_size=(64, 48))
    out = LearnedResize(size=(16, 12))({"image": image, "boxes": boxes, "mask": mask, "points": points, "label": 7})
    assert out["boxes"].canvas_size == (16, 12) and out["boxes"].tolist() == [[1, 2, 5, 10]]
    assert out["mask"].shape == (16, 12) and out["mask"][:8].all() and not out["mask"][8:].any()
    assert out["points"].tolist() == [[2.0, 4.0]]
    assert out["label"] == 7


def test_in_compose_pipeline(astronaut):
    pipeline = v2.Compose([v2.ToImage(), LearnedResize(4), v2.ToDtype(torch.float32, scale=True)])
    out = pipeline(astronaut)
    assert out.shape == (3, 128, 128) and out.dtype == torch.float32


class _Photos(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return self.transform(tv_tensors.Image(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=g))), i


def test_works_in_a_dataloader_with_workers():
    loader = DataLoader(_Photos(LearnedResize(2)), batch_size=2, num_workers=2)
    batches = list(loader)
    assert [tuple(images.shape) for images, _ in batches] == [(2, 3, 16, 16)] * 2
    first = _Photos(LearnedResize(2))[0][0]
    assert torch.equal(batches[0][0][0], first.as_subclass(torch.Tensor))


def test_repr_says_what_it_does():
    assert "ratio=4" in repr(LearnedResize(4)) and "size=(8, 8)" in repr(LearnedResize(size=(8, 8)))


def test_fov_crops_the_image_and_its_boxes_masks_keypoints_alike():
    # 64x48 at fov 0.5: the centre 32x24 (rows 16..48, columns 12..36), resized by 2 to 16x12; a box
    # reaching beyond the view is clipped to it
    image = tv_tensors.Image(torch.rand(3, 64, 48))
    boxes = tv_tensors.BoundingBoxes([[16, 24, 32, 40], [16, 24, 32, 56]], format="XYXY", canvas_size=(64, 48))
    mask = tv_tensors.Mask(torch.zeros(64, 48, dtype=torch.uint8))
    mask[16:32] = 1
    points = tv_tensors.KeyPoints([[20.0, 32.0]], canvas_size=(64, 48))
    out = LearnedResize(4, fov=0.5)({"image": image, "boxes": boxes, "mask": mask, "points": points})
    crop = image.as_subclass(torch.Tensor)[:, 16:48, 12:36]
    assert type(out["image"]) is tv_tensors.Image and torch.equal(out["image"].as_subclass(torch.Tensor),
                                                                   learned_resize(crop, 2))
    assert out["boxes"].canvas_size == (16, 12) and out["boxes"].tolist() == [[2, 4, 10, 12], [2, 4, 10, 16]]
    assert out["mask"].shape == (16, 12) and out["mask"][:8].all() and not out["mask"][8:].any()
    assert out["points"].tolist() == [[4.0, 8.0]]
    same = LearnedResize(4, fov=(12, 16, 36, 48))({"image": image, "boxes": boxes})
    assert torch.equal(same["image"], out["image"]) and same["boxes"].tolist() == out["boxes"].tolist()


def test_fov_one_changes_nothing_and_bad_fov_fails_at_construction():
    from downscale.errors import InvalidArgumentError

    t = torch.rand(2, 3, 40, 36)
    assert torch.equal(LearnedResize(4, fov=1.0)(t), LearnedResize(4)(t))
    assert "fov" not in repr(LearnedResize(4)) and "fov=0.75" in repr(LearnedResize(2, fov=0.75))
    for bad in (0, 1.5, float("nan"), (1, 2)):
        with pytest.raises(InvalidArgumentError, match="fov must be"):
            LearnedResize(2, fov=bad)


def test_uses_no_private_torchvision_module():
    import ast
    import inspect

    import downscale.transforms

    tree = ast.parse(inspect.getsource(downscale.transforms))
    modules = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    assert [m for m in modules if m.startswith("torchvision") and "._" in m] == []


def test_sizes_that_disagree_or_are_missing_are_refused_as_torchvision_does():
    with pytest.raises(ValueError, match="multiple HxW"):
        LearnedResize(2)({"image": tv_tensors.Image(torch.rand(3, 8, 8)), "mask": tv_tensors.Mask(torch.zeros(6, 6))})
    with pytest.raises(TypeError, match="No image"):
        LearnedResize(2)({"label": 7})
