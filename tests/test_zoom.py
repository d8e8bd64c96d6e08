import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from downscale.dynamic import count_flops
from downscale.errors import WeightsError
from downscale.methods import thumbnail
from downscale.pretrained import save_weights
from downscale.zoom import ZoomPredictor, load_zoom, zoom_crop, zoom_thumbnails

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def photo(size: int = 224) -> torch.Tensor:
    """skimage's astronaut as uint8 [1, 3, size, size]."""
    x = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=(size, size), mode="area").round().to(torch.uint8)


def test_at_init_every_box_is_the_centred_view():
    boxes = ZoomPredictor().eval()(torch.rand(3, 3, 100, 80))
    assert torch.equal(boxes, torch.tensor([[0.0, 0.0, 0.75]] * 3))
    assert ZoomPredictor(init_scale=0.6, min_scale=0.4)(torch.rand(1, 3, 64, 64))[0, 2].item() == pytest.approx(0.6)


def test_at_init_the_zoom_is_bicubic_at_fov_075_but_at_the_crop_edge():
    images = torch.cat([photo(), (torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * 255)
                        .to(torch.uint8)])
    zoomed = zoom_thumbnails(ZoomPredictor().eval(), images, (112, 112))
    fixed = thumbnail("bicubic", images, 2, fov=0.75)
    # the same sample positions; only the outermost 2 px read the image beyond the crop
    assert (zoomed - fixed)[..., 2:-2, 2:-2].abs().max() < 1e-4
    assert (zoomed - fixed)[0].abs().mean() < 1e-3


def test_the_whole_image_box_is_bicubic_at_fov_one():
    image = photo()
    whole = zoom_crop(image.float() / 255, torch.tensor([[0.0, 0.0, 1.0]]), (112, 112)).clamp(0, 1)
    assert (whole - thumbnail("bicubic", image, 2)).abs().max() < 1e-4


def test_a_shifted_box_shows_the_shifted_crop():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # scale 0.5, centre (0.5, -0.5): the top-right 2 x 2 quarter, sampled 1:1
    assert torch.allclose(zoom_crop(x, torch.tensor([[0.5, -0.5, 0.5]]), (2, 2)), torch.tensor([[[[2.0, 3], [6, 7]]]]))


def test_boxes_stay_inside_the_image_for_any_weights():
    predictor = ZoomPredictor(min_scale=0.5)
    torch.nn.init.normal_(predictor.head.weight, std=10.0)
    boxes = predictor(torch.rand(16, 3, 56, 56))
    scale = boxes[:, 2]
    assert (scale >= 0.5).all() and (scale <= 1).all()
    assert (boxes[:, :2].abs() <= (1 - scale)[:, None] + 1e-6).all()


def test_the_crop_is_differentiable_in_the_box():
    box = torch.tensor([[0.1, -0.1, 0.7]], requires_grad=True)
    zoom_crop(photo(64).float() / 255, box, (32, 32)).mean().backward()
    assert box.grad is not None and box.grad.abs().sum() > 0


def test_predictor_costs_under_five_percent_of_mobilenet_v2_at_112():
    assert count_flops(ZoomPredictor(), torch.zeros(1, 3, 224, 224)) <= 0.05 * 164.4e6


def test_weights_round_trip(tmp_path):
    predictor = ZoomPredictor(width=8)
    torch.nn.init.normal_(predictor.head.weight)
    save_weights(predictor, tmp_path / "z.pt")
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(load_zoom(tmp_path / "z.pt")(x), predictor.eval()(x))
    save_weights(ZoomPredictor(width=4), tmp_path / "other.pt")
    state = torch.load(tmp_path / "other.pt", weights_only=True)
    state["config"]["width"] = 8
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="ZoomPredictor"):
        load_zoom(tmp_path / "bad.pt")


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="boxes"):
        zoom_crop(torch.rand(2, 3, 8, 8), torch.zeros(1, 3), (4, 4))
    with pytest.raises(ValueError, match="uint8"):
        zoom_thumbnails(ZoomPredictor(), torch.rand(1, 3, 8, 8), (4, 4))
    with pytest.raises(ValueError, match="min_scale"):
        ZoomPredictor(min_scale=0.8, init_scale=0.75)
    with pytest.raises(ValueError, match="zoom"):
        thumbnail("zoom", photo(64), 2)
    with pytest.raises(ValueError, match="zoom"):
        thumbnail("zoom", photo(64), 2, fov=0.75, zoom=ZoomPredictor())


def test_the_zoom_method_is_the_predictors_thumbnails():
    predictor, images = ZoomPredictor().eval(), photo(64)
    expected = zoom_thumbnails(predictor, images, (32, 32))
    assert torch.equal(thumbnail("zoom", images, 2, zoom=predictor), expected)
    assert torch.equal(predictor.thumbnails(images, (32, 32)), expected)
