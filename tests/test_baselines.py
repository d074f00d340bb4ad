"""Table 2's trivial baselines (cam_lib.metrics.baselines) on hand-made boxes whose answer is known, each checked
against a brute-force Python computation of the same rule."""

import itertools

import numpy as np
import pytest
import torch

from cam_lib.boxes import pad_boxes
from cam_lib.errors import BadInputError
from cam_lib.metrics import (baseline_hits, best_fixed_box, box_hits, centered_box, centered_box_norm, frame_box,
                             mean_box_size, normalize_boxes, pixel_box)


def _iou_inclusive(a, b):
    """The +1-convention IoU of two inclusive pixel boxes, in plain Python."""
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = iw * ih
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)   # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _iou_continuous(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _random_gt(rng, n, width, height):
    """Per-image lists of 1-3 inclusive pixel boxes, from tiny to the whole frame."""
    out = []
    for _ in range(n):
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            x0, x1 = sorted(rng.integers(0, width, 2))
            y0, y1 = sorted(rng.integers(0, height, 2))
            boxes.append([x0, y0, x1, y1])
        out.append(boxes)
    return out


def test_frame_box_hits_exactly_the_images_with_a_large_enough_box():
    width, height = 64, 48
    rng = np.random.default_rng(0)
    gt = _random_gt(rng, 300, width, height)
    gt_boxes, gt_valid, _ = pad_boxes(gt)
    frame = [0, 0, width - 1, height - 1]
    assert frame_box(width, height).tolist() == frame
    expected = [any(_iou_inclusive(frame, b) >= 0.5 for b in boxes) for boxes in gt]
    hits = baseline_hits([0.0, 0.0, 1.0, 1.0], gt_boxes, gt_valid, width, height)
    assert hits.dtype == bool and hits.tolist() == expected
    assert 0 < sum(expected) < len(expected)
    # numpy input, and an invalid padded row that would hit never counts
    gt_boxes[:, -1], gt_valid[:, -1] = torch.tensor(frame, dtype=torch.float64), False
    assert baseline_hits([0, 0, 1, 1], gt_boxes.numpy(), gt_valid.numpy(), width, height).tolist() == \
        [any(_iou_inclusive(frame, b) >= 0.5 for b in boxes[:gt_boxes.shape[1] - 1]) for boxes in gt]


def test_baseline_hits_score_the_pixel_box_with_box_hits():
    width, height = 100, 80
    rng = np.random.default_rng(1)
    gt_boxes, gt_valid, _ = pad_boxes(_random_gt(rng, 200, width, height))
    for box in ([0.1, 0.2, 0.6, 0.9], [0.33, 0.0, 1.0, 0.51]):
        px = torch.from_numpy(pixel_box(box, width, height)).double()
        expected = box_hits(px[None].expand(200, 4), gt_boxes, gt_valid)
        assert baseline_hits(box, gt_boxes, gt_valid, width, height).tolist() == expected.tolist()


def test_pixel_and_normalised_boxes_map_as_documented():
    assert pixel_box([0, 0, 1, 1], 224, 224).tolist() == [0, 0, 223, 223]
    assert pixel_box([0.2, 0.25, 0.7, 0.5], 10, 8).tolist() == [2, 2, 6, 3]
    assert pixel_box([0.25, 0.0, 0.35, 1.0], 10, 8).tolist() == [3, 0, 3, 7]        # edges 2.5 -> 3, 3.5 -> 4
    assert pixel_box([0.41, 0.0, 0.42, 1.0], 10, 8).tolist() == [4, 0, 4, 7]        # thinner than a pixel: one pixel
    assert pixel_box([0.99, 0.99, 1.0, 1.0], 10, 8).tolist() == [9, 7, 9, 7]        # clipped into the frame
    rng = np.random.default_rng(2)
    for width, height in ((224, 224), (37, 91)):
        for boxes in _random_gt(rng, 50, width, height):
            for box in boxes:
                norm = normalize_boxes(box, width, height)
                assert pixel_box(norm, width, height).tolist() == box             # inverse on pixel boxes
    assert normalize_boxes([[0, 0, 9, 4]], 10, 5).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    sizes = normalize_boxes([[0, 0, 9, 9], [0, 0, 9, 9]], np.array([10, 20]), np.array([10, 40]))
    assert sizes.tolist() == [[0, 0, 1, 1], [0, 0, 0.5, 0.25]]


def test_centered_box_of_a_known_mean_size():
    train = np.array([[0.1, 0.1, 0.5, 0.3], [0.2, 0.5, 0.8, 0.9], [0.0, 0.0, 1.0, 1.0]])
    valid = np.array([True, True, False])                                        # the whole-frame box is padding
    w, h = mean_box_size(train, valid)
    assert (w, h) == (pytest.approx(0.5), pytest.approx(0.3))
    assert mean_box_size(train) == (pytest.approx((0.4 + 0.6 + 1.0) / 3), pytest.approx((0.2 + 0.4 + 1.0) / 3))
    assert centered_box_norm((0.5, 0.3)).tolist() == pytest.approx([0.25, 0.35, 0.75, 0.65])
    # 50 of 100 pixels wide, centred: pixels 25..74; 60 of 200 pixels high, centred: pixels 70..129
    assert centered_box((w, h), 100, 200).tolist() == [25, 70, 74, 129]
    assert centered_box((1.0, 1.0), 100, 200).tolist() == frame_box(100, 200).tolist()


def test_best_fixed_box_finds_the_one_training_box():
    box = np.linspace(0, 1, 21)[[4, 6, 14, 18]]                    # [0.2, 0.3, 0.7, 0.9], on the grid
    found, rate = best_fixed_box(np.tile(box, (30, 1)))
    assert found.tolist() == box.tolist() and rate == 1.0
    padded = np.zeros((30, 2, 4))
    padded[:, 0] = box
    padded[::2, 1] = [0.0, 0.0, 0.1, 0.1]                           # a second, small box on half the images
    valid = np.zeros((30, 2), bool)
    valid[:, 0], valid[::2, 1] = True, True
    found, rate = best_fixed_box(padded, valid)
    assert found.tolist() == box.tolist() and rate == 1.0


def test_best_fixed_box_follows_the_majority():
    a, b = [0.0, 0.0, 0.4, 0.4], [0.6, 0.5, 1.0, 1.0]                  # far apart: no box hits both
    found, rate = best_fixed_box(np.array([a, a, a, b, b]), grid=0.1)
    assert found.tolist() == pytest.approx(a) and rate == 0.6


def test_best_fixed_box_equals_a_brute_force_search(monkeypatch):
    import cam_lib.metrics.baselines as baselines
    rng = np.random.default_rng(3)
    n, m = 40, 3
    lo = rng.uniform(0, 0.6, (n, m, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.1, 0.4, (n, m, 2))], -1)
    valid = rng.random((n, m)) < 0.6
    valid[:3] = False                                                  # images without a valid box are misses
    values = np.linspace(0, 1, 5)
    best = None
    for x0, x1, y0, y1 in itertools.product(values, repeat=4):
        if x1 <= x0 or y1 <= y0:
            continue
        cand = [x0, y0, x1, y1]
        ious = [max([_iou_continuous(cand, boxes[i, j]) for j in range(m) if valid[i, j]], default=0.0)
                for i in range(n)]
        key = (sum(v >= 0.5 for v in ious), sum(ious))
        if best is None or key[0] > best[0][0] or (key[0] == best[0][0] and key[1] > best[0][1] + 1e-12):
            best = (key, cand)
    monkeypatch.setattr(baselines, "_CHUNK_ELEMENTS", 500)             # several images per chunk, many chunks
    found, rate = best_fixed_box(boxes, valid, grid=0.25)
    assert found.tolist() == best[1] and rate == best[0][0] / n
    assert best_fixed_box(boxes, valid, grid=values)[0].tolist() == best[1]


@pytest.mark.parametrize("call, param", [
    (lambda: pixel_box([0.5, 0.0, 0.4, 1.0], 10, 10), "box_norm"),
    (lambda: pixel_box([0.0, 0.0, 1.0, 1.1], 10, 10), "box_norm"),
    (lambda: pixel_box([0.0, 0.0, 1.0], 10, 10), "box_norm"),
    (lambda: pixel_box([[0.0, 0.0, 1.0, 1.0]], 10, 10), "box_norm"),
    (lambda: pixel_box([0, 0, 1, 1], 0, 10), "width"),
    (lambda: frame_box(10, 2.5), "height"),
    (lambda: centered_box((0.0, 0.5), 10, 10), "mean_wh_fraction"),
    (lambda: centered_box((0.5,), 10, 10), "mean_wh_fraction"),
    (lambda: mean_box_size(np.array([[0.1, 0.1, 0.2, float("nan")]])), "boxes_norm"),
    (lambda: mean_box_size(np.array([[0.1, 0.1, 0.2, 0.2]]), np.array([False])), "boxes_norm"),
    (lambda: mean_box_size(np.array([[0.1, 0.1, 0.2, 0.2]]), np.array([1])), "valid"),
    (lambda: best_fixed_box(np.zeros((0, 4))), "train_boxes_norm"),
    (lambda: best_fixed_box(np.array([[0.1, 0.1, 0.2, 0.2]]), grid=0.3), "grid"),
    (lambda: best_fixed_box(np.array([[0.1, 0.1, 0.2, 0.2]]), grid=[0.5, 0.2]), "grid"),
    (lambda: best_fixed_box(np.array([[0.1, 0.1, 0.2, 0.2]]), np.array([[True, True]])), "train_valid"),
    (lambda: best_fixed_box(np.array([[0.1, 0.1, 0.2, 0.2]]), iou_threshold=0), "iou_threshold"),
    (lambda: normalize_boxes([[0, 0, 1, 1]], 0, 10), "width"),
    (lambda: baseline_hits([0, 0, 1, 1], torch.zeros(2, 1, 4), torch.ones(2, 2, dtype=torch.bool), 10, 10),
     "gt_boxes"),
    (lambda: baseline_hits([0, 0, 1, 1], torch.zeros(2, 1, 4), torch.ones(2, 1), 10, 10), "gt_valid"),
    (lambda: baseline_hits([0, 0, 1, 1], torch.tensor([[[5.0, 0, 4, 1]]]), torch.ones(1, 1, dtype=torch.bool),
                           10, 10), "gt_boxes"),
])
def test_bad_arguments_are_named(call, param):
    with pytest.raises(BadInputError) as err:
        call()
    assert err.value.param == param


def test_the_centred_box_has_the_mean_size_of_each_images_largest_box():
    """Issue 21: averaging every box (second instances included) gives a box too small for most images; the
    centred baseline averages each image's LARGEST box (the one a localizer is mostly scored against)."""
    from cam_lib.metrics import choose_baseline_boxes, largest_boxes

    boxes = [np.array([[0, 0, 99, 99], [0, 0, 9, 9]]), np.array([[10, 10, 59, 59]])]   # 100x100 images
    chosen = choose_baseline_boxes(boxes, [(100, 100), (100, 100)])
    w = (1.0 + 0.5) / 2                                   # the largest boxes: 1.0 and 0.5 of the frame
    assert chosen["centered"] == pytest.approx([(1 - w) / 2, (1 - w) / 2, (1 + w) / 2, (1 + w) / 2])
    norm = np.array([[[0, 0, 1, 1], [0, 0, 0.1, 0.1]], [[0.1, 0.1, 0.6, 0.6], [0, 0, 0, 0]]])
    assert largest_boxes(norm, np.array([[True, True], [True, False]])).tolist() == [[0, 0, 1, 1], [0.1, 0.1, 0.6, 0.6]]
