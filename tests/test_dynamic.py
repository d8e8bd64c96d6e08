"""DRNet inference side: per-resolution BN sets, the predictor, the dynamic classifier, weights I/O."""

import pytest
import torch

from downscale.classifiers import Classifier
from downscale.dynamic import (
    DynamicClassifier, MultiResolutionClassifier, ResolutionPredictor, choose_ratios, load_dynamic,
    load_multires, load_predictor,
)
from downscale.errors import WeightsError
from downscale.model import Downscaler, bicubic
from downscale.pretrained import save_weights


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def base():
    torch.manual_seed(0)
    classifier = Classifier("mobilenet_v2", 5, "minus1to1").eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong BN copy shows in the logits
        for m in classifier.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return classifier


@pytest.fixture
def multires(base):
    torch.manual_seed(1)
    downscalers = {r: (f"identity-r{r}", Downscaler(r).eval()) for r in (2, 4)}
    return MultiResolutionClassifier.from_classifier(base, downscalers).eval()


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


def test_compare_rows_are_exact():
    from downscale.dynamic_eval import compare, markdown

    T, F_ = True, False
    correct = torch.tensor([[T, T, T], [T, T, F_], [T, F_, F_], [F_, F_, F_]])
    costs = torch.tensor([100e6, 40e6, 10e6])
    rows = compare(correct, costs, {"p": (torch.tensor([2, 1, 0, 0]), 1e6)}, seed=0, permutations=50)
    by = {r["method"]: r for r in rows}
    assert [by[f"fixed ratio {r}"]["correct"] for r in (1, 2, 4)] == [3, 2, 1]
    dyn = by["dynamic p"]
    assert (dyn["correct"], dyn["mean_flops"], dyn["share_r1"], dyn["share_r4"]) == (3, 63.5e6, 0.5, 0.25)
    assert dyn["vs_fixed1"] == {"only_this": 0, "only_other": 0, "p_mcnemar": 1.0}
    rand = by["random, shares of p (seed 0)"]
    assert (rand["mean_flops"], rand["share_r2"]) == (62.5e6, 0.25)
    oracle = by["oracle (cheapest ratio that is right)"]
    assert (oracle["correct"], oracle["mean_flops"]) == (3, 40e6)
    table = markdown(rows, 100e6)
    assert "| dynamic p | 75.00% (30.1-95.4) | 64 | -36.5% | 50%/25%/25% |" in table
    assert "| oracle (cheapest ratio that is right) | 75.00% (30.1-95.4) | 40 | -60.0% | 25%/25%/50% |" in table


def test_released_v1_loads_and_routes():
    from downscale.pretrained import weights_dir

    folder = weights_dir()
    predictor = folder / "drnet-mobilenet_v2-imagenette-v1-t0.65.pt"
    if not predictor.exists():
        pytest.skip("DRNet v1 weights are not in this install")
    model = load_dynamic(predictor, folder / "drnet-mobilenet_v2-imagenette-v1-student.pt")
    assert model.classifier.downscaler_specs["2"]["name"] == "bicubic-identity-r2-v0"
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        logits, ratios = model(x)
    assert logits.shape == (2, 1001) and set(ratios.tolist()) <= {1, 2, 4}
    assert choose_ratios(x, model.predictor) == ratios.tolist()
