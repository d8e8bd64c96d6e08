import pytest

from downscale.evaluation.stats import discordant, mcnemar_exact, wilson_interval


def test_wilson_hand_computed():
    # 8/10: p=0.8, z^2/n=0.38415 -> centre 0.71674, half-width 0.22658
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-4)
    assert high == pytest.approx(0.94332, abs=1e-4)


def test_wilson_edges_stay_in_unit_interval():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.16112, abs=1e-4)  # z^2/(n+z^2) = 3.8415/23.8415
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and low == pytest.approx(1 - 0.16112, abs=1e-4)


@pytest.mark.parametrize("correct,n", [(-1, 10), (11, 10), (0, 0)])
def test_wilson_rejects_bad_counts(correct, n):
    with pytest.raises(ValueError):
        wilson_interval(correct, n)


@pytest.mark.parametrize(
    "b,c,p",
    [
        (1, 5, 14 / 64),  # 2 * (C(6,0) + C(6,1)) / 2^6
        (5, 1, 14 / 64),  # symmetric
        (0, 10, 2 / 1024),  # 2 * C(10,0) / 2^10
        (3, 3, 1.0),  # min(1, 2 * 42/64)
        (0, 0, 1.0),  # no discordant pairs
        (2, 8, 2 * (1 + 10 + 45) / 1024),  # 0.109375
    ],
)
def test_mcnemar_hand_computed(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_large_counts_do_not_underflow_to_nan():
    p = mcnemar_exact(1000, 1400)
    assert 0 < p < 1e-8


def test_discordant_counts_pairs():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    assert discordant(a, b) == (2, 1)
    with pytest.raises(ValueError):
        discordant([True], [True, False])


def test_compare_runs_pairs_images_by_path():
    from downscale.evaluation.report import compare_runs

    images = [{"path": f"c/{i}.jpg", "label": i % 2} for i in range(6)]
    a = {"images": images, "per_image": {"learned@4": {"dataset_pred": [0, 1, 0, 1, 0, 0]}}}  # 5 right
    b = {"images": images, "per_image": {"bicubic_aa@4": {"dataset_pred": [0, 0, 1, 1, 0, 0]}}}  # 3 right
    res = compare_runs(a, "learned@4", b, "bicubic_aa@4")
    assert (res["n"], res["a_only"], res["b_only"]) == (6, 2, 0)
    assert res["top1_a"] == pytest.approx(5 / 6) and res["p_mcnemar"] == pytest.approx(0.5)  # 2 * 1/4
    with pytest.raises(ValueError, match="different images"):
        compare_runs(a, "learned@4", {**b, "images": images[::-1]}, "bicubic_aa@4")


def test_paired_names_the_statistics_of_two_methods_on_the_same_images():
    from dataclasses import asdict

    from downscale.evaluation.stats import Paired, paired

    stats = paired([True, True, False, True, False], [True, False, False, False, True])
    assert stats == Paired(delta=pytest.approx(0.2), method_only=2, other_only=1, p_mcnemar=1.0)
    assert list(asdict(stats)) == ["delta", "method_only", "other_only", "p_mcnemar"]  # results.json's keys
    with pytest.raises(ValueError, match="equal length"):
        paired([True], [True, False])
