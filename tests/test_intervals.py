"""Bootstrap intervals (cam_lib.metrics.intervals) and the per-image outcomes of the streaming metrics, on
hand-made data whose answer is known."""

import math

import numpy as np
import pytest
import torch

from cam_lib.boxes import pad_boxes
from cam_lib.errors import BadInputError
from cam_lib.metrics import (ClassificationError, GTKnownLocalization, Interval, LocalizationError, MaxBoxAcc,
                             bootstrap_mean, maxboxacc_per_image, paired_difference, paired_difference_seeds, seed_spread, topk_misses,
                             verdict)


# ---------------------------------------------------------------------------------------------------------
# bootstrap_mean


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_constant_outcomes_give_a_zero_width_interval(value):
    out = bootstrap_mean(np.full(500, value), n_boot=300)
    assert (out.estimate, out.low, out.high, out.level) == (value, value, value, 0.95)


def test_bernoulli_interval_matches_the_normal_approximation():
    n, p = 10_000, 0.3
    hits = np.random.default_rng(123).random(n) < p
    out = bootstrap_mean(hits)
    p_hat = hits.mean()
    assert out.estimate == p_hat
    half = 1.96 * math.sqrt(p_hat * (1 - p_hat) / n)
    assert abs((out.high - out.low) / 2 - half) <= 0.1 * half
    assert out.low < p < out.high
    assert out.low < p_hat < out.high


def test_same_seed_same_bytes_other_seed_slightly_different():
    values = np.random.default_rng(5).random(2_000)
    a, b = bootstrap_mean(values, seed=7), bootstrap_mean(values, seed=7)
    assert a == b and a.to_json() == b.to_json()
    c = bootstrap_mean(values, seed=8)
    assert (c.low, c.high) != (a.low, a.high)
    width = a.high - a.low
    assert abs(c.low - a.low) < 0.1 * width and abs(c.high - a.high) < 0.1 * width
    assert c.estimate == a.estimate


def test_many_small_chunks_give_a_deterministic_interval_of_the_same_width(monkeypatch):
    import cam_lib.metrics.intervals as intervals
    values = np.random.default_rng(0).random(1_001)
    whole = bootstrap_mean(values, n_boot=1_000)
    monkeypatch.setattr(intervals, "_CHUNK_ELEMENTS", 3_000)     # 2 replicates per chunk: 500 chunks
    small = bootstrap_mean(values, n_boot=1_000)
    assert small == bootstrap_mean(values, n_boot=1_000)
    assert small.estimate == whole.estimate
    assert small.high - small.low == pytest.approx(whole.high - whole.low, rel=0.15)


def test_accepts_bool_lists_and_tensors():
    assert bootstrap_mean([True, False, True, True], n_boot=50).estimate == 0.75
    assert bootstrap_mean(torch.tensor([1.0, 0.0]), n_boot=50).estimate == 0.5


@pytest.mark.parametrize("values, fragment", [
    ([], "empty"), ([0.1, float("nan")], "NaN"), ([0.1, float("inf")], "NaN or infinite"),
    (np.zeros((2, 2)), "1-D"), (["a"], "numbers"),
])
def test_bad_values_are_named(values, fragment):
    with pytest.raises(BadInputError, match=fragment) as err:
        bootstrap_mean(values)
    assert err.value.param == "values" and "values" in str(err.value)


@pytest.mark.parametrize("kwargs, param", [
    ({"n_boot": 0}, "n_boot"), ({"n_boot": 2.5}, "n_boot"), ({"level": 1.0}, "level"), ({"level": 0}, "level"),
    ({"seed": -1}, "seed"),
])
def test_bad_settings_are_named(kwargs, param):
    with pytest.raises(BadInputError) as err:
        bootstrap_mean([0.0, 1.0], **kwargs)
    assert err.value.param == param


# ---------------------------------------------------------------------------------------------------------
# Interval


def test_interval_json_format_and_excludes():
    iv = Interval(0.564, 0.521, 0.603)
    assert str(iv) == "56.4 [52.1, 60.3]"
    assert iv.format(scale=1.0, digits=3) == "0.564 [0.521, 0.603]"
    assert Interval.from_json(iv.to_json()) == iv
    assert iv.to_json() == {"estimate": 0.564, "low": 0.521, "high": 0.603, "level": 0.95}
    assert iv.excludes() and not iv.excludes(0.55) and iv.excludes(0.61)
    assert not Interval(0.0, -0.1, 0.1).excludes(0.0)
    assert not Interval(0.0, 0.0, 0.1).excludes(0.0)       # a bound on 0 does not resolve the sign


@pytest.mark.parametrize("args, param", [((0.5, 0.6, 0.4), "low"), ((0.5, 0.4, 0.6, 1.5), "level"),
                                         ((float("nan"), 0.4, 0.6), "estimate")])
def test_bad_intervals_are_named(args, param):
    with pytest.raises(BadInputError) as err:
        Interval(*args)
    assert err.value.param == param
    with pytest.raises(BadInputError):
        Interval.from_json({"estimate": 0.5, "low": 0.4})


# ---------------------------------------------------------------------------------------------------------
# paired_difference and verdict


def test_paired_difference_of_identical_outcomes_is_zero_with_a_real_interval():
    a = np.random.default_rng(1).random(300) < 0.6
    out = paired_difference(a, a.copy())
    # Agresti-Min: half a pseudo-image in each discordant cell, n + 2 images
    half = 1.959964 * np.sqrt(1.0) / 302
    assert out.estimate == 0.0 and out.low == pytest.approx(-half, rel=1e-5) and out.high == pytest.approx(half, rel=1e-5)
    three = paired_difference_seeds(np.stack([a] * 3), np.stack([a] * 3))
    assert three.estimate == 0.0 and three.low == pytest.approx(-half, rel=1e-5)   # seeds too: never a point


def test_paired_difference_of_matched_proportions_is_agresti_min():
    # 200 images: 30 only a gets right, 10 only b: Agresti and Min (2005), eq. for the adjusted Wald interval
    a = np.r_[np.ones(30), np.zeros(10), np.ones(80), np.zeros(80)]
    b = np.r_[np.zeros(30), np.ones(10), np.ones(80), np.zeros(80)]
    out = paired_difference(a, b)
    f, g, m = 30.5, 10.5, 202
    half = 1.959964 * np.sqrt((f + g) - (f - g) ** 2 / m) / m
    assert out.estimate == pytest.approx(0.1)
    assert out.low == pytest.approx((f - g) / m - half, rel=1e-5) and out.high == pytest.approx((f - g) / m + half, rel=1e-5)


def test_paired_difference_of_a_constant_shift_is_exact():
    b = (np.random.default_rng(2).random(400) < 0.4).astype(float)
    out = paired_difference(b + 1, b)
    assert (out.estimate, out.low, out.high) == (1.0, 1.0, 1.0)


def test_pairing_narrows_the_interval_of_correlated_outcomes():
    rng = np.random.default_rng(3)
    n, n_boot = 2_000, 2_000
    a = rng.random(n) < 0.6
    b = a.copy()
    flip = rng.choice(n, 60, replace=False)                   # b disagrees with a on 3% of the images
    b[flip] = ~b[flip]
    paired = paired_difference(a, b, n_boot=n_boot)
    assert paired.estimate == pytest.approx(a.mean() - b.mean())
    # the unpaired interval: a and b resampled independently (as if scored on different images)
    ia, ib = rng.integers(0, n, (n_boot, n)), rng.integers(0, n, (n_boot, n))
    diffs = a[ia].mean(1) - b[ib].mean(1)
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert (paired.high - paired.low) < 0.4 * (high - low)
    assert paired.low <= paired.estimate <= paired.high


def test_paired_difference_needs_the_same_images():
    with pytest.raises(BadInputError, match="same images") as err:
        paired_difference([1, 0, 1], [1, 0])
    assert err.value.param == "b"
    with pytest.raises(BadInputError) as err:
        paired_difference([1, float("nan")], [1, 0])
    assert err.value.param == "a"


def test_verdict_reads_the_interval_against_the_paper():
    up, down, open_ = Interval(0.05, 0.01, 0.09), Interval(-0.05, -0.09, -0.01), Interval(0.01, -0.02, 0.04)
    assert verdict(up, +1) == "same direction"
    assert verdict(up, -1) == "opposite direction"
    assert verdict(down, -1) == "same direction"
    assert verdict(down, 1) == "opposite direction"
    assert verdict(open_, 1) == verdict(open_, -1) == "not resolved"
    assert verdict(Interval(0.02, 0.0, 0.04), 1) == "not resolved"


@pytest.mark.parametrize("sign", [0, 2, -2, True, "1", 0.5])
def test_verdict_rejects_a_bad_paper_sign(sign):
    with pytest.raises(BadInputError) as err:
        verdict(Interval(0.05, 0.01, 0.09), sign)
    assert err.value.param == "paper_sign"
    with pytest.raises(BadInputError):
        verdict((0.05, 0.01, 0.09), 1)


def test_seed_spread():
    assert seed_spread([0.5, 0.7, 0.6]) == {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "min": 0.5,
                                            "max": 0.7, "n": 3}
    assert seed_spread([0.4])["std"] == 0.0


# ---------------------------------------------------------------------------------------------------------
# per-image outcomes of the streaming metrics: their means are compute()


def _random_boxes(rng, n, size=32):
    xy = rng.integers(0, size - 8, (n, 2))
    wh = rng.integers(1, 10, (n, 2))
    return np.concatenate([xy, np.minimum(xy + wh, size - 1)], 1).astype(np.float64)


def test_classification_per_image_means_are_compute():
    rng = np.random.default_rng(0)
    logits, targets = torch.from_numpy(rng.normal(size=(90, 10))).float(), torch.from_numpy(rng.integers(0, 10, 90))
    m = ClassificationError((1, 3, 5))
    for lo in range(0, 90, 40):
        m.update(logits[lo:lo + 40], targets[lo:lo + 40])
    out, per = m.compute(), m.per_image()
    assert set(per) == {"top1_wrong", "top3_wrong", "top5_wrong"}
    for k in (1, 3, 5):
        assert per[f"top{k}_wrong"].dtype == bool and per[f"top{k}_wrong"].shape == (90,)
        assert per[f"top{k}_wrong"].mean() == out[f"top{k}_cls_err"]
    whole = topk_misses(logits, targets, (1, 3, 5)).numpy()   # update order is image order
    assert (np.stack([per["top1_wrong"], per["top3_wrong"], per["top5_wrong"]]) == whole).all()
    m.reset()
    with pytest.raises(BadInputError, match="before any update"):
        m.per_image()


def test_localization_per_image_means_are_compute():
    rng = np.random.default_rng(1)
    n, k = 60, 6
    gt = [_random_boxes(rng, int(rng.integers(1, 3))) for _ in range(n)]
    gt_boxes, gt_valid, _ = pad_boxes(gt)
    targets = torch.from_numpy(rng.integers(0, 4, n))
    classes = torch.from_numpy(rng.integers(0, 4, (n, k)))
    boxes = torch.from_numpy(np.stack([np.concatenate([g[:1], _random_boxes(rng, k - 1)]) for g in gt]))
    boxes[::3] = torch.from_numpy(_random_boxes(rng, k))         # some images miss everywhere
    loc, known = LocalizationError(), GTKnownLocalization()
    for lo in range(0, n, 25):
        sl = slice(lo, lo + 25)
        loc.update(classes[sl], boxes[sl], targets[sl], gt_boxes[sl], gt_valid[sl])
        known.update(boxes[sl, 0], gt_boxes[sl], gt_valid[sl])
    out, per = loc.compute(), loc.per_image()
    assert per["top1_wrong"].mean() == out["top1_loc_err"] and per["top5_wrong"].mean() == out["top5_loc_err"]
    assert 0 < out["top1_loc_err"] < 1 and (per["top5_wrong"] <= per["top1_wrong"]).all()
    hit = known.per_image()["hit"]
    assert hit.shape == (n,) and hit.mean() == known.compute()["gt_known_loc_acc"]
    assert 0 < hit.mean() < 1
    known.reset()
    loc.reset()
    assert known.hits == [] and loc.misses == []


@pytest.mark.parametrize("iou_thresholds, all_components", [((0.3, 0.5, 0.7), True), ((0.5,), False)])
def test_maxboxacc_per_image_means_are_compute(iou_thresholds, all_components):
    rng = np.random.default_rng(2)
    n = 40
    maps = torch.from_numpy(rng.random((n, 32, 32))).float()
    maps = torch.nn.functional.avg_pool2d(maps[:, None], 5, 1, 2)[:, 0]      # blobs
    low, high = maps.amin((1, 2), keepdim=True), maps.amax((1, 2), keepdim=True)
    maps = (maps - low) / (high - low)
    gt_boxes, gt_valid, _ = pad_boxes([_random_boxes(rng, 1) for _ in range(n)])
    grid = np.arange(0, 1, 0.05)
    m = MaxBoxAcc(grid, iou_thresholds, all_components)
    m.update(maps[:15], gt_boxes[:15], gt_valid[:15])
    m.update(maps[15:], gt_boxes[15:], gt_valid[15:])
    out, per = m.compute(), m.per_image()
    assert per["best_iou"].shape == (n, len(grid))
    # the counts compute() is made of are the per-image best IoUs
    assert (m.counts == (per["best_iou"][:, :, None] >= np.asarray(iou_thresholds)).sum(0)).all()
    share = maxboxacc_per_image(per["best_iou"], grid, iou_thresholds)
    assert share.shape == (n,) and (share == per["maxboxacc"]).all()
    assert share.mean() == pytest.approx(out["maxboxacc"], rel=0, abs=1e-12)
    if len(iou_thresholds) == 1:
        assert share.mean() == out["maxboxacc"]
    # each image's share is its hit at the thresholds chosen on the whole set
    column = {d: int(np.flatnonzero(grid == t)[0]) for d, t in out["best_threshold"].items()}
    expected = np.mean([per["best_iou"][:, column[d]] >= d for d in iou_thresholds], 0)
    assert (share == expected).all()
    m.reset()
    assert m.best == []


def test_maxboxacc_per_image_picks_the_threshold_on_the_whole_set():
    best = np.array([[0.9, 0.6], [0.2, 0.6], [0.2, 0.4]])    # threshold 1 reaches 0.5 on two images, threshold 0 on one
    assert maxboxacc_per_image(best, [0.1, 0.2], (0.5,)).tolist() == [1.0, 1.0, 0.0]
    assert maxboxacc_per_image(best, [0.1, 0.2], (0.5, 0.8)).tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(BadInputError) as err:
        maxboxacc_per_image(best, [0.1, 0.2, 0.3], (0.5,))
    assert err.value.param == "best_iou"
    with pytest.raises(BadInputError) as err:
        maxboxacc_per_image(best, [0.1, 0.2], ())
    assert err.value.param == "iou_thresholds"


# ------------------------------------------------------------------------------------ issue 21: protocol and intervals

def test_wilson_interval_never_collapses_and_matches_the_formula():
    from cam_lib.metrics import mean_interval, wilson

    for k, n in ((0, 200), (200, 200), (37, 50)):
        ci = wilson(k, n)
        z = 1.959963984540054
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert ci.estimate == p and ci.low == pytest.approx(max(0, centre - half)) \
            and ci.high == pytest.approx(min(1, centre + half))
        assert ci.high - ci.low > 0.01                     # all-equal outcomes keep a real interval
    assert mean_interval(np.zeros(200)) == wilson(0, 200)  # 0/1 outcomes: Wilson
    shares = np.array([0, 1 / 3, 2 / 3, 1] * 25)           # MaxBoxAccV2's per-image shares: the bootstrap
    assert mean_interval(shares) == bootstrap_mean(shares)


def test_seed_and_image_bootstrap_covers_seed_to_seed_variation():
    rng = np.random.default_rng(0)
    base = (rng.random((3, 300)) < 0.6).astype(float)
    steady = base.copy()
    steady[:, :30] = 0.0                                    # a is 10 points better on every seed
    one = paired_difference_seeds(base, steady)
    assert one.low > 0
    unsteady = base.copy()
    unsteady[0, :90] = 0.0                                  # +30 on one seed, 0 on the others: seeds disagree
    two = paired_difference_seeds(base, unsteady)
    assert two.estimate == pytest.approx(one.estimate, abs=0.01) and (two.high - two.low) > 2 * (one.high - one.low)
    assert paired_difference_seeds(base[:1], steady[:1]) == paired_difference(base[0], steady[0])
    with pytest.raises(BadInputError, match="b"):
        paired_difference_seeds(base, steady[:2])


def test_a_verdict_holds_only_when_every_protocol_agrees():
    from cam_lib.metrics import protocol_verdict

    same = {"gt_known_tau_fixed": "same direction", "gt_known_tau_val": "same direction",
            "maxboxacc_v2": "same direction"}
    assert protocol_verdict(same) == "same direction"
    assert protocol_verdict({**same, "gt_known_tau_val": "opposite direction"}) == "depends on the protocol"
    assert protocol_verdict({**same, "maxboxacc_v2": "not resolved"}) == "depends on the protocol"
    assert protocol_verdict(same, localizes=False) == "not testable here"
    with pytest.raises(BadInputError, match="verdicts"):
        protocol_verdict({"x": "maybe"})


def test_identical_shares_in_0_1_keep_an_interval():
    """MaxBoxAccV2's per-image shares (0, 1/3, 2/3, 1) that agree on every image: the paired bootstrap alone gives
    [0, 0]; the Agresti-Min floor (fractional discordance) keeps about +-1 point on 200 images."""
    shares = np.array([0, 1 / 3, 2 / 3, 1] * 50)
    one = paired_difference(shares, shares.copy())
    assert one.estimate == 0.0 and one.low < -0.005 and one.high > 0.005
    seeds = paired_difference_seeds(np.stack([shares] * 3), np.stack([shares] * 3))
    assert seeds.low < -0.005 and seeds.high > 0.005
    better = shares.copy()
    better[:20] = 1.0                                       # a real difference: the floor does not narrow it
    d = paired_difference(better, shares)
    assert d.low > 0 and d.estimate == pytest.approx((better - shares).mean())
