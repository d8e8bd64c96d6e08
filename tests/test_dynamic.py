"""DRNet inference side: per-resolution BN sets, the predictor, the dynamic classifier, weights I/O."""

import pytest
import torch

from downscale.dynamic import (
    DynamicClassifier,
    EarlyExitClassifier,
    MultiResolutionClassifier,
    ResolutionPredictor,
    choose_ratios,
    exit_steps,
    load_dynamic,
    load_multires,
    load_predictor,
)
from downscale.errors import WeightsError
from downscale.model import bicubic
from downscale.pretrained import save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_from_classifier_reproduces_the_classifier_at_every_ratio(base, multires):
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(multires(x, 1), base(x))
        for r in (2, 4):  # zero-initialised E = antialiased bicubic
            thumb = bicubic(x, (64 // r, 64 // r)).clamp(0, 1)
            assert torch.allclose(multires(x, r), base(thumb), atol=1e-5)


def test_each_ratio_trains_only_its_own_bn_set(multires):
    multires.train()
    bn = multires.classifier.net.features[0][1]
    before = [b.running_mean.clone() for b in bn.bns]
    e_before = multires.downscalers["2"].features[1].running_mean.clone()
    multires(torch.rand(4, 3, 64, 64), 2)
    changed = [not torch.equal(b.running_mean, old) for b, old in zip(bn.bns, before)]
    assert changed == [False, True, False]
    assert torch.equal(multires.downscalers["2"].features[1].running_mean, e_before)  # E stays fixed
    assert not any(p.requires_grad for p in multires.downscalers.parameters())


def test_unknown_ratio_is_refused(multires):
    with pytest.raises(ValueError, match="ratio must be one of"):
        multires(torch.rand(1, 3, 64, 64), 3)


def test_predictor_flops_are_exact_and_small():
    predictor = ResolutionPredictor().eval()
    x = torch.rand(3, 3, 224, 224)
    assert predictor(x).shape == (3, 3)
    assert set(predictor.choose(x).tolist()) <= {1, 2, 4}
    # 4 stride-2 3x3 convs on a 56 px preview (28, 14, 7, 4 px out) + a 128x3 linear layer, 2 FLOPs per MAC
    by_hand = 2 * (28 * 28 * 16 * 27 + 14 * 14 * 32 * 144 + 7 * 7 * 64 * 288 + 4 * 4 * 128 * 576 + 128 * 3)
    multi = MultiResolutionClassifier("mobilenet_v2", 10)
    costs = DynamicClassifier(predictor, multi).flops(224)
    full = multi.flops(224)
    assert costs[1] - full[1] == by_hand == 6_650_112
    assert by_hand < 0.02 * full[1]
    assert full[1] > full[2] > full[4]


class FixedChoice(ResolutionPredictor):
    def __init__(self, ratios):
        super().__init__()
        self.fixed = torch.tensor(ratios)

    def choose(self, x):
        return self.fixed


def test_dynamic_classifier_runs_each_image_at_its_ratio(multires):
    model = DynamicClassifier(FixedChoice([1, 4, 2, 1]), multires).eval()
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        logits, ratios = model(x)
        assert ratios.tolist() == [1, 4, 2, 1]
        for i, r in enumerate([1, 4, 2, 1]):
            assert torch.allclose(logits[i], multires(x[i:i + 1], r)[0], atol=1e-5)


def test_exit_steps_stop_at_the_first_confident_step():
    confidence = torch.tensor([[0.95, 0.5], [0.5, 0.95], [0.5, 0.5], [0.9, 0.1]])
    assert exit_steps(confidence, 0.9).tolist() == [1, 2, 2, 1]  # the last step takes whatever is left
    assert exit_steps(confidence, 0.0).tolist() == [1, 1, 1, 1]


class ScaledLogits(torch.nn.Module):
    """A stand-in multi-resolution classifier: logits = (pixel mean of each image) x a fixed vector x ratio."""

    ratios = (1, 2, 4)

    def forward(self, x, ratio):
        return x.mean((1, 2, 3))[:, None] * torch.tensor([4.0, 0.0, -4.0]) * ratio


def test_early_exit_classifier_escalates_only_unconfident_images():
    stub = ScaledLogits()
    x = torch.linspace(0, 1, 6).view(6, 1, 1, 1).expand(6, 3, 8, 8)  # brighter image, more confident
    at2 = stub(x, 2)
    confidence = at2.softmax(1).amax(1)
    threshold = ((confidence[2] + confidence[3]) / 2).item()
    logits, ratios = EarlyExitClassifier(stub, threshold, ladder=(2, 1))(x)
    assert ratios.tolist() == [1, 1, 1, 2, 2, 2]
    assert torch.allclose(logits[3:], at2[3:]) and torch.allclose(logits[:3], stub(x[:3], 1))
    with pytest.raises(ValueError, match="ladder"):
        EarlyExitClassifier(stub, 0.5, ladder=(8, 1))


def test_mismatched_ratios_are_refused(multires):
    with pytest.raises(ValueError, match="ratios"):
        DynamicClassifier(ResolutionPredictor(ratios=(1, 2)), multires)


def test_weights_round_trip_and_student_beside_predictor(tmp_path, multires):
    torch.manual_seed(2)
    predictor = ResolutionPredictor().eval()
    save_weights(multires, tmp_path / "student.pt", kind="multires_classifier")
    save_weights(predictor, tmp_path / "predictor.pt", kind="resolution_predictor", student="student.pt")
    model = load_dynamic(tmp_path / "predictor.pt")
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.predictor(x), predictor(x))
        for r in (1, 2, 4):
            assert torch.equal(model.classifier(x, r), multires(x, r))
    assert load_multires(tmp_path / "student.pt").downscaler_specs["4"]["name"] == "identity-r4"
    with pytest.raises(WeightsError, match="not a ResolutionPredictor"):
        load_predictor(tmp_path / "student.pt")
    save_weights(predictor, tmp_path / "orphan.pt")
    with pytest.raises(WeightsError, match="student"):
        load_dynamic(tmp_path / "orphan.pt")


def test_choose_ratios_returns_one_int_per_image():
    predictor = ResolutionPredictor().eval()
    with torch.no_grad():
        predictor.head.weight.zero_()
        predictor.head.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    assert choose_ratios(torch.rand(3, 3, 80, 120), predictor) == [2, 2, 2]
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        choose_ratios(torch.rand(3, 80, 120), predictor)


@pytest.mark.parametrize("version, predictor, downscaler_r2", [
    ("v1", "t0.65", "bicubic-identity-r2-v0"), ("v2", "t0.75", "frozen-mobilenet_v2-r2-v3")])
def test_released_drnet_loads_and_routes(version, predictor, downscaler_r2):
    from downscale.pretrained import resolve

    name = f"drnet-mobilenet_v2-imagenette-{version}"
    model = load_dynamic(resolve(f"{name}-{predictor}")[0], resolve(f"{name}-student")[0])  # as files
    assert model.classifier.downscaler_specs["2"]["name"] == downscaler_r2
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        logits, ratios = model(x)
    assert logits.shape == (2, 1001) and set(ratios.tolist()) <= {1, 2, 4}
    assert choose_ratios(x, model.predictor) == ratios.tolist()
