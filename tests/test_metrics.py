"""Pins the metric conventions of conventions.md with small hand-computed cases."""

import numpy as np
import pytest
import torch

from cam_lib.boxes import pad_boxes
from cam_lib.errors import BadInputError
from cam_lib.metrics import (ClassificationError, GTKnownLocalization, LocalizationError, MaxBoxAcc, box_hits,
                             guess_hits, threshold_grid, topk_wrong)


def _logits(rankings, num_classes=10):
    """Logits whose descending order is the given ranking per row."""
    out = torch.zeros(len(rankings), num_classes)
    for i, r in enumerate(rankings):
        for pos, c in enumerate(r):
            out[i, c] = 100.0 - pos
    return out


def test_classification_error_top1_top5():
    logits = _logits([[3, 1, 2, 0, 4], [1, 2, 3, 4, 5], [9, 8, 7, 6, 5]])
    targets = torch.tensor([3, 5, 0])    # right at rank 1, right at rank 5, not in the top 5
    m = ClassificationError()
    m.update(logits[:2], targets[:2])
    m.update(logits[2:], targets[2:])    # streaming over batches
    assert m.compute() == {"top1_cls_err": pytest.approx(2 / 3), "top5_cls_err": pytest.approx(1 / 3)}


GT = [0, 0, 9, 9]          # 100 pixels
HALF = [0, 0, 9, 4]        # 50 pixels inside GT: IoU exactly 0.5
FAR = [20, 20, 29, 29]


def _guesses(pairs):
    classes = torch.tensor([[c for c, _ in row] for row in pairs])
    boxes = torch.tensor([[b for _, b in row] for row in pairs], dtype=torch.float64)
    return classes, boxes


def test_localization_error_ilsvrc_rule():
    # image 0: top-1 right class, IoU exactly 0.5 -> right (IoU >= 0.5)
    # image 1: top-1 wrong class with a perfect box, rank-3 right class and box -> top-1 miss, top-5 hit
    # image 2: right class everywhere but the box misses -> miss
    # image 3: right class, the box matches the SECOND ground-truth box -> hit
    # image 4: right class and box only at rank 6 -> top-5 miss
    pairs = [
        [(1, HALF), (2, GT), (3, GT), (4, GT), (5, GT), (6, GT)],
        [(7, GT), (8, GT), (2, GT), (4, FAR), (5, FAR), (6, FAR)],
        [(3, FAR), (3, FAR), (3, FAR), (3, FAR), (3, FAR), (3, FAR)],
        [(4, FAR), (0, GT), (1, GT), (2, GT), (5, GT), (6, GT)],
        [(0, GT), (1, GT), (2, GT), (3, GT), (5, GT), (9, GT)],
    ]
    classes, boxes = _guesses(pairs)
    targets = torch.tensor([1, 2, 3, 4, 9])
    gt_boxes, gt_valid, _ = pad_boxes([[GT], [GT], [GT], [GT, FAR], [GT]])
    m = LocalizationError()
    m.update(classes, boxes, targets, gt_boxes, gt_valid)
    # top-1: hits on images 0 and 3 -> 3/5 wrong; top-5: hits on 0, 1, 3 -> 2/5 wrong
    assert m.compute() == {"top1_loc_err": pytest.approx(3 / 5), "top5_loc_err": pytest.approx(2 / 5)}


def test_iou_just_below_half_is_a_miss():
    classes, boxes = _guesses([[(1, [0, 0, 9, 3])] * 5])   # 40 / 100
    gt_boxes, gt_valid, _ = pad_boxes([[GT]])
    hits = guess_hits(classes, boxes, torch.tensor([1]), gt_boxes, gt_valid)
    assert not hits.any()


def test_ground_truth_boxes_of_another_class_do_not_count():
    classes, boxes = _guesses([[(1, FAR)] * 5])
    gt_boxes, gt_valid, gt_labels = pad_boxes([[GT, FAR]], [[1, 2]])
    hits = guess_hits(classes, boxes, torch.tensor([1]), gt_boxes, gt_valid, gt_labels)
    assert not hits.any()   # the FAR box belongs to class 2
    hits = guess_hits(classes, boxes, torch.tensor([1]), gt_boxes, gt_valid)
    assert hits.all()       # without labels every box is of the image's class


def test_gt_known_localization():
    boxes = torch.tensor([HALF, FAR, FAR], dtype=torch.float64)
    gt_boxes, gt_valid, _ = pad_boxes([[GT], [GT], [GT, FAR]])
    m = GTKnownLocalization()
    m.update(boxes, gt_boxes, gt_valid)
    assert m.compute() == {"gt_known_loc_acc": pytest.approx(2 / 3)}


def test_padded_invalid_boxes_never_match():
    gt_boxes = torch.tensor([[GT, FAR]], dtype=torch.float64)
    gt_valid = torch.tensor([[True, False]])
    m = GTKnownLocalization()
    m.update(torch.tensor([FAR], dtype=torch.float64), gt_boxes, gt_valid)
    assert m.compute()["gt_known_loc_acc"] == 0.0


def test_maxboxacc_picks_the_best_threshold_per_iou():
    # A 20x20 map: a 10x10 block at 0.6 (the ground truth) around a 4x4 core at 1.0.
    m = torch.zeros(20, 20)
    m[0:10, 0:10] = 0.6
    m[3:7, 3:7] = 1.0
    gt_boxes, gt_valid, _ = pad_boxes([[GT]])
    acc = MaxBoxAcc(cam_thresholds=np.array([0.0, 0.5, 0.9]), iou_thresholds=(0.1, 0.5, 0.9))
    acc.update(m[None], gt_boxes, gt_valid)
    # IoU at tau=0: whole 20x20 frame -> 100/400 = 0.25; tau=0.5: the block -> 1.0; tau=0.9: core -> 16/100
    assert acc.counts.tolist() == [[1, 0, 0], [1, 1, 1], [1, 0, 0]]
    out = acc.compute()
    assert out["maxboxacc"] == 1.0
    assert out["best_threshold"] == {0.1: 0.0, 0.5: 0.5, 0.9: 0.5}


def test_maxboxacc_v2_boxes_every_component_v1_only_the_largest():
    m = torch.zeros(30, 30)
    m[0:10, 0:10] = 1.0       # matches GT, 100 pixels
    m[15:30, 15:30] = 1.0     # larger component elsewhere, 225 pixels
    gt_boxes, gt_valid, _ = pad_boxes([[GT]])
    v2 = MaxBoxAcc(cam_thresholds=np.array([0.5]))
    v1 = MaxBoxAcc(cam_thresholds=np.array([0.5]), iou_thresholds=(0.5,), all_components=False)
    v2.update(m[None], gt_boxes, gt_valid)
    v1.update(m[None], gt_boxes, gt_valid)
    assert v2.compute()["maxboxacc"] == 1.0
    assert v1.compute()["maxboxacc"] == 0.0


def test_maxboxacc_constant_map_gives_whole_frame():
    gt_boxes, gt_valid, _ = pad_boxes([[[0, 0, 9, 9]]])
    acc = MaxBoxAcc(cam_thresholds=np.array([0.2]), iou_thresholds=(0.5,))
    acc.update(torch.zeros(1, 10, 10), gt_boxes, gt_valid)   # empty mask -> whole 10x10 frame = GT
    assert acc.compute()["maxboxacc"] == 1.0


def test_threshold_grid_matches_wsolevaluation():
    assert len(threshold_grid(0.01)) == 100 and threshold_grid(0.01)[0] == 0.0
    assert threshold_grid(0.01)[-1] == pytest.approx(0.99)
    assert len(threshold_grid(0.001)) == 1000
    with pytest.raises(BadInputError, match="step"):
        threshold_grid(0)


def test_metric_input_errors():
    with pytest.raises(BadInputError, match="before any update"):
        ClassificationError().compute()
    with pytest.raises(BadInputError, match="batch size"):
        ClassificationError().update(torch.zeros(2, 10), torch.zeros(3, dtype=torch.long))
    with pytest.raises(BadInputError, match="top-5"):
        ClassificationError().update(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))


# ---------------------------------------------------------------------------------------------------------
# The fast MaxBoxAcc (one component tree per map) against the per-threshold OpenCV algorithm (issue 6)

from bench.cam_bench import synthetic_maps  # noqa: E402
from cam_lib.boxes import box_iou  # noqa: E402
from cam_lib.metrics.reference import largest_component_box  # noqa: E402
from cam_lib.metrics import best_ious, best_ious_both, map_levels  # noqa: E402
from cam_lib.metrics.reference import baseline_best_ious, baseline_maxboxacc  # noqa: E402


def _random_case(rng, kind: str, h: int, w: int) -> np.ndarray:
    if kind == "random":                   # many small components at every threshold
        return rng.random((h, w))
    if kind == "sparse":                   # many single pixels and diagonal chains
        return (rng.random((h, w)) > 0.7) * rng.random((h, w))
    if kind == "flat":                     # a constant map (normalises to zeros): every mask empty or full
        return np.full((h, w), 0.0)
    if kind == "ties":                     # few distinct values: large plateaus, values exactly on the grid
        return rng.integers(0, 5, (h, w)) / 4
    if kind == "smooth":                   # CAM-like: a 3x3 map upsampled
        low = torch.tensor(rng.random((1, 1, 3, 3)))
        return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")[0, 0].numpy()
    if kind == "border":                   # components touching the frame, a ring with a hole
        m = np.zeros((h, w))
        m[0, :] = m[:, -1] = 0.9
        m[h // 4:3 * h // 4, w // 4:3 * w // 4] = 0.6
        m[h // 3:2 * h // 3 + 1, w // 3:2 * w // 3 + 1] = 0.1
        return m
    raise ValueError(kind)


KINDS = ("random", "sparse", "flat", "ties", "smooth", "border")


def _gt(rng, batch, h, w, m=3):
    x0, y0 = rng.integers(0, w, (batch, m)), rng.integers(0, h, (batch, m))
    boxes = np.stack([x0, y0, np.minimum(x0 + rng.integers(0, w, (batch, m)), w - 1),
                      np.minimum(y0 + rng.integers(0, h, (batch, m)), h - 1)], -1).astype(np.float64)
    valid = rng.random((batch, m)) > 0.3
    valid[0] = False                       # an image without a valid box scores 0
    return boxes, valid


@pytest.mark.parametrize("kind", KINDS)
def test_fast_maxboxacc_equals_the_per_threshold_baseline(kind):
    rng = np.random.default_rng(KINDS.index(kind))
    for h, w in [(1, 1), (1, 7), (6, 1), (9, 13), (24, 17)]:
        maps = np.stack([_random_case(rng, kind, h, w) for _ in range(5)]).astype(np.float32)
        gt, valid = _gt(rng, 5, h, w)
        grids = [threshold_grid(0.01), threshold_grid(0.1), np.sort(rng.random(7)),
                 np.r_[maps.reshape(-1)[:4], 0.0, 1.0],                      # thresholds exactly at map values
                 np.array([0.5, 0.1, 0.9, 0.1])]                             # unsorted, with a duplicate
        for grid in grids:
            expected = baseline_best_ious(maps, grid, gt, valid)
            assert np.array_equal(best_ious(maps, grid, gt, valid), expected), (kind, h, w, grid)


def test_fast_maxboxacc_equals_the_baseline_on_cam_like_maps_at_both_grid_steps():
    maps, gt, valid = synthetic_maps(6, 48, seed=3)
    for step in (0.01, 0.001):
        grid = threshold_grid(step)
        acc = MaxBoxAcc(grid)
        acc.update(maps[:4], gt[:4], valid[:4])            # streamed in two batches
        acc.update(maps[4:], gt[4:], valid[4:])
        assert np.array_equal(acc.counts, baseline_maxboxacc(maps.numpy(), grid, gt.numpy(), valid.numpy()))
        assert acc.n == 6
    one = best_ious(maps.numpy(), grid, gt.numpy(), valid.numpy(), threads=1)
    two = best_ious(maps.numpy(), grid, gt.numpy(), valid.numpy(), threads=2)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_maxboxacc_v1_equals_the_largest_component_per_threshold(kind):
    rng = np.random.default_rng(10 + KINDS.index(kind))
    grid = np.r_[threshold_grid(0.05), 0.5]
    for h, w in [(1, 5), (3, 18), (17, 11)]:
        m = _random_case(rng, kind, h, w).astype(np.float32)
        gt, _ = _gt(rng, 1, h, w)
        expected = [box_iou(torch.from_numpy(largest_component_box(m >= tau))[None],
                            torch.from_numpy(gt[0])).amax().item() for tau in grid]
        acc = MaxBoxAcc(grid, iou_thresholds=(0.5,), all_components=False)
        assert np.array_equal(acc.best_iou(m, gt[0]), np.array(expected)), (kind, h, w)


@pytest.mark.parametrize("kind", KINDS)
def test_one_sweep_for_both_component_rules_equals_two_sweeps(kind):
    """Issue 14: evaluate takes MaxBoxAccV2 (every component) and the GT-known curve (largest component) from ONE
    sweep per map; both equal the single-rule sweeps, which equal the per-threshold algorithms above."""
    rng = np.random.default_rng(20 + KINDS.index(kind))
    for h, w in [(1, 1), (5, 9), (23, 16)]:
        maps = np.stack([_random_case(rng, kind, h, w) for _ in range(6)]).astype(np.float32)
        gt, valid = _gt(rng, 6, h, w)
        for grid in (threshold_grid(0.01), np.array([0.5, 0.1, 0.9, 0.1])):
            every, largest = best_ious_both(maps, grid, gt, valid, threads=2)
            assert np.array_equal(every, best_ious(maps, grid, gt, valid, all_components=True))
            assert np.array_equal(largest, best_ious(maps, grid, gt, valid, all_components=False))


def test_accumulators_merge_outcomes_in_order_as_one_stream():
    """What distributed evaluate does with each rank's outcomes: adding them batch by batch (add_misses /
    add_hits / add_ious) gives the counts and per-image outcomes of one accumulator fed every batch."""
    rng = np.random.default_rng(0)
    logits, targets = torch.tensor(rng.random((12, 7))), torch.tensor(rng.integers(0, 7, 12))
    maps, gt, valid = synthetic_maps(12, 32, seed=1)
    boxes = torch.tensor([[2, 3, 20, 25]]).repeat(12, 1)
    whole, parts = [ClassificationError(), GTKnownLocalization(), MaxBoxAcc()], [[], [], []]
    for lo, hi in ((0, 5), (5, 12)):
        part = [ClassificationError(), GTKnownLocalization(), MaxBoxAcc()]
        for accs in (whole, part):
            accs[0].update(logits[lo:hi], targets[lo:hi])
            accs[1].update(boxes[lo:hi], gt[lo:hi], valid[lo:hi])
            accs[2].update(maps[lo:hi], gt[lo:hi], valid[lo:hi])
        for i, (acc, key) in enumerate(zip(part, ("misses", "hits", "best"))):
            parts[i] += getattr(acc, key)
    merged = [ClassificationError(), GTKnownLocalization(), MaxBoxAcc()]
    for m in parts[0]:
        merged[0].add_misses(m)
    for h in parts[1]:
        merged[1].add_hits(h)
    for b in parts[2]:
        merged[2].add_ious(b)
    for a, b in zip(whole, merged):
        assert a.n == b.n == 12 and a.compute() == b.compute()
        for key, value in a.per_image().items():
            assert np.array_equal(value, b.per_image()[key])
    with pytest.raises(BadInputError, match=r"parameter misses: must be bool \(2, B\)"):
        merged[0].add_misses(torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(BadInputError, match=r"best IoUs must be \(B, T=100\)"):
        merged[2].add_ious(np.zeros((4, 3)))


def test_fast_maxboxacc_on_wide_maps_infinities_and_huge_grids():
    """The sweep's other layouts: a frame wider than 4096 (64-bit sort keys), more than 255 and more than 65535
    thresholds (16- and 32-bit levels), and +-inf scores (level 0 and the top level)."""
    rng = np.random.default_rng(7)
    wide = np.repeat(rng.random((2, 3, 40)), 110, axis=2).astype(np.float32)     # (2, 3, 4400)
    gt, valid = _gt(rng, 2, 3, 4400)
    valid[0] = True
    grid = np.sort(rng.random(9))
    assert np.array_equal(best_ious(wide, grid, gt, valid), baseline_best_ious(wide, grid, gt, valid))
    small = rng.random((2, 5, 6)).astype(np.float32)
    small[0, 1, 2], small[0, 3, 3], small[1, 0, 0] = np.inf, -np.inf, np.inf
    gt, valid = _gt(rng, 2, 5, 6)
    valid[0] = True
    for grid in (np.array([0.5]), np.linspace(0, 1, 300), np.linspace(-1, 2, 70_000)):
        assert np.array_equal(best_ious(small, grid, gt, valid), baseline_best_ious(small, grid, gt, valid))


def test_nan_maps_and_bad_thread_counts_are_named():
    maps = np.zeros((3, 4, 4), np.float32)
    maps[2, 1, 1] = np.nan
    with pytest.raises(BadInputError, match=r"NaN values \(map 2\)"):
        best_ious(maps, threshold_grid(), np.zeros((3, 1, 4)), np.ones((3, 1), bool), threads=2)
    with pytest.raises(BadInputError, match="NaN"):
        map_levels(maps, threshold_grid())
    with pytest.raises(BadInputError, match="threads"):
        MaxBoxAcc(threads=0)


def test_map_levels_are_exact_float32_comparisons():
    rng = np.random.default_rng(0)
    grid = threshold_grid(0.001)
    values = np.r_[rng.random(5000), grid, np.nextafter(grid, -1), np.nextafter(grid, 2), -1.0, 2.0, 0.0, 1.0]
    values = values.astype(np.float32)[None]
    expected = (values[..., None] >= grid).sum(-1)        # numpy: float32 map vs float64 threshold
    assert np.array_equal(map_levels(values, grid), expected)


def test_maxboxacc_rejects_nan_and_bad_grids():
    gt_boxes, gt_valid, _ = pad_boxes([[GT]])
    with pytest.raises(BadInputError, match="NaN"):
        MaxBoxAcc().update(torch.full((1, 4, 4), float("nan")), gt_boxes, gt_valid)
    with pytest.raises(BadInputError, match="cam_thresholds"):
        MaxBoxAcc(cam_thresholds=np.array([0.1, np.inf]))
    with pytest.raises(BadInputError, match="maps"):
        best_ious(np.zeros((4, 4), np.float32), threshold_grid(), np.zeros((1, 1, 4)), np.ones((1, 1), bool))


# ---------------------------------------------------------------------------------------------------------
# One box convention, checked at the entry of every metric


NAN = [0.0, 0.0, float("nan"), 9.0]
FLIPPED = [9, 0, 0, 9]      # x1 < x0


@pytest.mark.parametrize("bad", [NAN, FLIPPED, [0, 0, 9, float("inf")]])
def test_every_metric_rejects_bad_predicted_boxes(bad):
    gt_boxes, gt_valid, _ = pad_boxes([[GT]])
    classes, boxes = _guesses([[(1, GT), (2, bad)]])
    with pytest.raises(BadInputError, match=r"boxes\[0, 1\] = .* not an inclusive box"):
        LocalizationError().update(classes, boxes, torch.tensor([1]), gt_boxes, gt_valid)
    with pytest.raises(BadInputError, match=r"boxes\[0\] = .* not an inclusive box"):
        GTKnownLocalization().update(torch.tensor([bad], dtype=torch.float64), gt_boxes, gt_valid)


@pytest.mark.parametrize("bad", [NAN, FLIPPED])
def test_every_metric_rejects_bad_valid_ground_truth_boxes(bad):
    gt_boxes = torch.tensor([[GT, bad]], dtype=torch.float64)
    gt_valid = torch.tensor([[True, True]])
    classes, boxes = _guesses([[(1, GT)]])
    match = r"gt_boxes\[0, 1\] = .* not an inclusive box"
    with pytest.raises(BadInputError, match=match):
        LocalizationError().update(classes, boxes, torch.tensor([1]), gt_boxes, gt_valid)
    with pytest.raises(BadInputError, match=match):
        GTKnownLocalization().update(torch.tensor([GT], dtype=torch.float64), gt_boxes, gt_valid)
    with pytest.raises(BadInputError, match=match):
        MaxBoxAcc().update(torch.zeros(1, 10, 10), gt_boxes, gt_valid)
    with pytest.raises(BadInputError, match=match):
        best_ious(np.zeros((1, 10, 10), np.float32), threshold_grid(), gt_boxes.numpy(), gt_valid.numpy())
    with pytest.raises(BadInputError, match=r"gt_boxes\[1\] = "):
        MaxBoxAcc().best_iou(np.zeros((10, 10), np.float32), gt_boxes[0].numpy())


def test_invalid_padded_ground_truth_rows_may_hold_anything():
    gt_boxes = torch.tensor([[GT, NAN], [FLIPPED, GT]], dtype=torch.float64)
    gt_valid = torch.tensor([[True, False], [False, True]])
    classes, boxes = _guesses([[(1, GT)], [(1, GT)]])
    loc = LocalizationError()
    loc.update(classes, boxes, torch.tensor([1, 1]), gt_boxes, gt_valid)
    known = GTKnownLocalization()
    known.update(boxes[:, 0], gt_boxes, gt_valid)
    acc = MaxBoxAcc(cam_thresholds=np.array([0.5]), iou_thresholds=(0.5,))
    acc.update(torch.zeros(2, 10, 10), gt_boxes, gt_valid)    # empty masks: the whole 10x10 frame = GT
    assert loc.compute() == {"top1_loc_err": 0.0, "top5_loc_err": 0.0}
    assert known.compute() == {"gt_known_loc_acc": 1.0} and acc.compute()["maxboxacc"] == 1.0


def test_box_hits_is_the_one_box_per_image_rule():
    gt_boxes, gt_valid, _ = pad_boxes([[GT], [GT], [FAR, GT], [GT]])
    boxes = torch.tensor([HALF, [0, 0, 9, 3], GT, FAR], dtype=torch.float64)    # IoU 0.5, 0.4, 1 (2nd box), 0
    assert box_hits(boxes, gt_boxes, gt_valid).tolist() == [True, False, True, False]
    assert box_hits(boxes, gt_boxes, gt_valid, iou_threshold=0.3).tolist() == [True, True, True, False]
    gt_valid[2, 1] = False                                                      # only valid boxes count
    assert box_hits(boxes, gt_boxes, gt_valid).tolist() == [True, False, False, False]


def test_topk_wrong_counts_misses_for_each_k():
    logits = _logits([[3, 1, 2, 0, 4], [1, 2, 3, 4, 5], [9, 8, 7, 6, 5]])
    targets = torch.tensor([3, 5, 0])
    assert topk_wrong(logits, targets, (1, 5)).tolist() == [2, 1]
    assert topk_wrong(logits.topk(5, 1).indices, targets, (1, 2, 5)).tolist() == [2, 2, 1]
    with pytest.raises(BadInputError, match="parameter targets: has batch size"):
        topk_wrong(logits, targets[:2], (1,))
