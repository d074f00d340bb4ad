"""Pins the box conventions of conventions.md with hand-computed cases: each test fails if a convention changes."""

import numpy as np
import pytest
import torch

from cam_lib.boxes import box_iou, boxes_from_maps, check_boxes_tensor, heuristic_guesses, pad_boxes
from cam_lib.metrics.reference import component_boxes, largest_component_box
from cam_lib.errors import BadInputError




def test_iou_uses_plus_one_pixel_convention():
    a = torch.tensor([[0, 0, 9, 9]])       # 10 x 10 = 100 pixels
    b = torch.tensor([[5, 5, 14, 14]])     # 100 pixels, overlap 5 x 5 = 25
    assert box_iou(a, b).item() == pytest.approx(25 / 175)
    # one-pixel boxes: without the +1 their area would be 0 and IoU undefined
    assert box_iou(torch.tensor([[3, 3, 3, 3]]), torch.tensor([[3, 3, 3, 3]])).item() == 1.0
    # touching but not overlapping (x1 = 4, x0 = 5): IoU 0
    assert box_iou(torch.tensor([[0, 0, 4, 4]]), torch.tensor([[5, 0, 9, 4]])).item() == 0.0
    # sharing one column: 1 x 5 overlap
    assert box_iou(torch.tensor([[0, 0, 4, 4]]), torch.tensor([[4, 0, 8, 4]])).item() == pytest.approx(5 / 45)


def test_iou_is_pairwise_and_batched():
    a = torch.tensor([[[0, 0, 9, 9], [0, 0, 4, 4]]])
    b = torch.tensor([[[0, 0, 9, 9], [0, 0, 9, 4], [20, 20, 21, 21]]])
    iou = box_iou(a, b)
    assert iou.shape == (1, 2, 3)
    assert iou[0, 0].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert iou[0, 1, 1].item() == pytest.approx(25 / 50)


def test_threshold_is_greater_or_equal():
    m = torch.zeros(8, 8)
    m[1, 1] = 1.0             # 1-pixel peak
    m[5:7, 5:7] = 0.2         # 4 pixels exactly at the threshold
    assert boxes_from_maps(m[None], 0.2)[0].tolist() == [5, 5, 6, 6]   # '>' would give [1, 1, 1, 1]
    assert boxes_from_maps(m[None], 0.21)[0].tolist() == [1, 1, 1, 1]


def test_components_are_8_connected():
    m = torch.zeros(8, 8)
    m[0, 0] = m[1, 1] = m[2, 2] = 1.0   # diagonal chain: one 8-connected component of 3 pixels
    m[6, 5] = m[6, 6] = 1.0             # a 2-pixel component, the largest under 4-connectivity
    assert boxes_from_maps(m[None], 0.5)[0].tolist() == [0, 0, 2, 2]
    boxes, area = component_boxes((m >= 0.5).numpy())
    assert boxes.tolist() == [[0, 0, 2, 2], [5, 6, 6, 6]] and area.tolist() == [3, 2]


def test_boxes_are_inclusive_pixel_coordinates():
    m = torch.zeros(6, 10)
    m[1:4, 2:6] = 1.0   # rows 1..3, columns 2..5
    assert boxes_from_maps(m[None], 0.2)[0].tolist() == [2, 1, 5, 3]


def test_largest_component_wins_and_ties_go_to_raster_order():
    m = torch.zeros(8, 8)
    m[6, 0:2] = 1.0      # 2 pixels, later in raster order
    m[0, 5:7] = 1.0      # 2 pixels, first in raster order
    assert boxes_from_maps(m[None], 0.5)[0].tolist() == [5, 0, 6, 0]
    m[7, 0] = 1.0        # now the lower one has 3 pixels
    assert boxes_from_maps(m[None], 0.5)[0].tolist() == [0, 6, 1, 7]


def test_empty_mask_and_constant_map_give_the_whole_frame():
    flat = torch.zeros(1, 5, 7)   # a constant map normalises to all zeros: nothing reaches 0.2
    assert boxes_from_maps(flat, 0.2)[0].tolist() == [0, 0, 6, 4]
    assert largest_component_box(torch.zeros(5, 7, dtype=torch.bool).numpy()).tolist() == [0, 0, 6, 4]
    # threshold 0 keeps every pixel: one component, the whole frame
    assert boxes_from_maps(torch.rand(1, 5, 7), 0.0)[0].tolist() == [0, 0, 6, 4]


def test_batched_shapes():
    maps = torch.zeros(2, 3, 8, 8)
    maps[1, 2, 0, 0] = maps[1, 2, 4:6, 4:6] = 1.0
    boxes = boxes_from_maps(maps, 0.5)
    assert boxes.shape == (2, 3, 4) and boxes.dtype == torch.int64
    assert boxes[1, 2].tolist() == [4, 4, 5, 5]
    assert boxes[0, 0].tolist() == [0, 0, 7, 7]


def test_heuristic_gives_tight_and_loose_boxes_in_order():
    maps = torch.zeros(1, 3, 10, 10)
    for k in range(3):
        maps[0, k, 1:9, 1:9] = 0.3      # loose extent 1..8
        maps[0, k, 4:6, 4:6] = 1.0      # tight peak 4..5
    classes, boxes = heuristic_guesses(torch.tensor([[7, 3, 9]]), maps, tight=0.5, loose=0.2)
    assert classes.tolist() == [[7, 7, 3, 3, 9]]
    tight, loose = [4, 4, 5, 5], [1, 1, 8, 8]
    assert boxes[0].tolist() == [tight, loose, tight, loose, loose]


def test_bad_box_arguments_are_named():
    with pytest.raises(BadInputError, match="threshold"):
        boxes_from_maps(torch.zeros(1, 4, 4), 1.5)
    with pytest.raises(BadInputError, match="NaN"):
        boxes_from_maps(torch.full((1, 4, 4), float("nan")), 0.2)
    with pytest.raises(BadInputError, match="tight"):
        heuristic_guesses(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, 4, 4), tight=0.1, loose=0.2)


def test_pad_boxes_marks_padding_and_degenerate_boxes_invalid():
    boxes, valid, labels = pad_boxes([[[0, 0, 3, 3]], [[1, 1, 2, 2], [5, 5, 4, 6]]], [[4], [2, 2]])
    assert boxes.shape == (2, 2, 4) and boxes.dtype == torch.float64
    assert valid.tolist() == [[True, False], [True, False]]   # padding, and x1 < x0
    assert labels.tolist() == [[4, -1], [2, 2]]


def test_ties_go_to_the_first_pixel_in_raster_order_even_across_2x2_blocks():
    # OpenCV's default (block-based) labeller numbers [11, 1] before [16, 0]; the rule is the first pixel:
    # [16, 0] (raster index 16) comes before [11, 1] (raster index 29)
    m = torch.zeros(3, 18)
    m[0, 16:18] = 1.0
    m[1, 11] = m[2, 12] = 1.0
    assert boxes_from_maps(m[None], 0.5)[0].tolist() == [16, 0, 17, 0]
    assert largest_component_box((m >= 0.5).numpy()).tolist() == [16, 0, 17, 0]


def test_batched_boxes_equal_one_map_at_a_time():
    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(4, 3, 9, 14, generator=gen) * (torch.rand(4, 3, 9, 14, generator=gen) > 0.5)
    maps[1, 2] = 0.0                                       # an empty mask among full ones
    largest = boxes_from_maps(maps, 0.3)
    for i in range(4):
        for j in range(3):
            mask = (maps[i, j] >= 0.3).numpy()
            assert largest[i, j].tolist() == largest_component_box(mask).tolist()
    masks = torch.from_numpy(np.random.default_rng(0).random((37, 19, 23)) > 0.6)   # many components per map
    masks[5] = False                                                               # an empty map in the middle
    assert torch.equal(boxes_from_maps(masks.float(), 0.5),
                       torch.stack([torch.from_numpy(largest_component_box(m.numpy())) for m in masks]))


def test_box_checker_accepts_inclusive_boxes_and_names_the_first_bad_one():
    check_boxes_tensor("boxes", torch.tensor([[0, 0, 0, 0], [2, 3, 9, 3]]))     # one-pixel and one-row boxes
    check_boxes_tensor("boxes", torch.zeros(0, 4))
    bad = torch.tensor([[[0.0, 0.0, 5.0, 5.0], [1.0, 2.0, 3.0, 1.0]]])           # y1 < y0
    with pytest.raises(BadInputError, match=r"^parameter gt_boxes: gt_boxes\[0, 1\] = \[1.0, 2.0, 3.0, 1.0\] "
                                            r"is not an inclusive box"):
        check_boxes_tensor("gt_boxes", bad)
    check_boxes_tensor("gt_boxes", bad, torch.tensor([[True, False]]))           # invalid rows may hold anything
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(BadInputError, match=r"boxes\[1\] = "):
            check_boxes_tensor("boxes", torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, value, 1.0, 1.0]]))
    with pytest.raises(BadInputError, match=r"boxes must be a tensor of boxes \(\.\.\., 4\)"):
        check_boxes_tensor("boxes", torch.zeros(2, 3))
    with pytest.raises(BadInputError, match="validity mask of gt_boxes"):
        check_boxes_tensor("gt_boxes", bad, torch.tensor([True, False]))
