"""Box coverage (cam_lib.metrics.coverage): the share of the ground-truth box that a map covers above tau, the
measure of the mechanism behind GAP against GMP (Sec. 3.2). Pinned on hand-made maps whose answer is counted by
hand, and as a metric of the evaluation loop (streamed, merged across ranks, cached as JSON)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cam_lib.errors import BadInputError
from cam_lib.metrics import BoxCoverage, BoxCoverageResult, box_coverage, result_from_json

GRID = np.array([0.0, 0.2, 0.5, 0.8])


def _left_half_map(size: int = 20) -> torch.Tensor:
    """A 20 x 20 map: 1 on columns 0-9, 0.5 on columns 10-14, 0 on columns 15-19."""
    m = torch.zeros(size, size)
    m[:, :10], m[:, 10:15] = 1.0, 0.5
    return m


def test_coverage_counts_the_box_pixels_at_or_above_each_threshold():
    """Box [5, 0, 14, 9] (inclusive, 10 x 10 pixels): columns 5-9 at 1, 10-14 at 0.5. Above 0 and 0.2: all of it;
    at 0.5 (``>=``, the boxes' rule): all of it; at 0.8: the half at 1."""
    cov = box_coverage(_left_half_map()[None], torch.tensor([[[5, 0, 14, 9]]]), torch.tensor([[True]]), GRID)
    assert cov.shape == (1, 4)
    np.testing.assert_allclose(cov[0], [1.0, 1.0, 1.0, 0.5])


def test_coverage_of_a_box_the_map_misses_and_of_an_image_without_a_box():
    """A box on the zero columns is covered only at tau 0; an image without a valid box counts 0 everywhere."""
    maps = _left_half_map()[None].repeat(2, 1, 1)
    boxes = torch.tensor([[[15, 0, 19, 19]], [[0, 0, 19, 19]]])
    cov = box_coverage(maps, boxes, torch.tensor([[True], [False]]), GRID)
    np.testing.assert_allclose(cov, [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def test_two_overlapping_boxes_count_their_union_once():
    """Boxes [0, 0, 9, 9] and [5, 0, 14, 9]: union 15 columns x 10 rows = 150 pixels, of which columns 0-9 (100
    pixels) are at 1: coverage 100/150 at 0.8."""
    cov = box_coverage(_left_half_map()[None], torch.tensor([[[0, 0, 9, 9], [5, 0, 14, 9]]]),
                       torch.tensor([[True, True]]), GRID)
    np.testing.assert_allclose(cov[0], [1.0, 1.0, 1.0, 100 / 150])


def test_coverage_equals_a_plain_count_on_random_maps():
    """The vectorised bucketing equals ``(map[box] >= tau).mean()`` written plainly, image by image."""
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(6, 24, 24, generator=g)
    boxes = torch.tensor([[[1, 2, 10, 20]], [[0, 0, 23, 23]], [[5, 5, 5, 5]], [[3, 7, 18, 9]], [[20, 1, 23, 22]],
                          [[8, 8, 15, 15]]])
    grid = np.round(np.arange(0, 1, 0.01), 2)
    cov = box_coverage(maps, boxes, torch.ones(6, 1, dtype=torch.bool), grid)
    for i in range(6):
        x0, y0, x1, y1 = boxes[i, 0].tolist()
        inside = maps[i, y0:y1 + 1, x0:x1 + 1]
        want = [(inside >= torch.tensor(t, dtype=torch.float32)).double().mean().item() for t in grid]
        np.testing.assert_allclose(cov[i], want, atol=1e-12)


def test_bad_grids_are_named():
    for bad in ([], [0.5, 0.2], [[0.1, 0.2]]):
        with pytest.raises(BadInputError, match="parameter thresholds"):
            box_coverage(torch.zeros(1, 4, 4), torch.tensor([[[0, 0, 1, 1]]]), torch.tensor([[True]]), bad)


def _batch(maps, boxes):
    return (SimpleNamespace(gt_boxes=boxes, gt_valid=torch.ones(boxes.shape[:2], dtype=torch.bool)),
            SimpleNamespace(gt_maps=maps))


def test_metric_streams_merges_and_round_trips():
    """Fed in two batches, merged from two ranks' states, or read back from its JSON: the same per-image coverage;
    ``at`` reads one threshold of the grid and names one that is not on it."""
    g = torch.Generator().manual_seed(1)
    maps = torch.rand(5, 16, 16, generator=g)
    boxes = torch.tensor([[[2, 2, 9, 9]]]).repeat(5, 1, 1)
    whole, ranks = BoxCoverage(GRID), [BoxCoverage(GRID), BoxCoverage(GRID)]
    whole.update(*_batch(maps, boxes))
    ranks[0].update(*_batch(maps[:2], boxes[:2]))
    ranks[1].update(*_batch(maps[2:], boxes[2:]))
    merged = BoxCoverage(GRID)
    merged.merge([r.state() for r in ranks])
    result = whole.compute()
    assert isinstance(result, BoxCoverageResult) and result.coverage.shape == (5, 4)
    assert merged.compute() == result
    np.testing.assert_array_equal(result.at(0.5), result.coverage[:, 2])
    back = result_from_json(result.to_json())
    np.testing.assert_allclose(back.coverage, result.coverage, atol=5e-5)   # the JSON keeps 4 decimals
    with pytest.raises(BadInputError, match=r"parameter threshold=0.3 is not on the evaluated grid"):
        result.at(0.3)
    with pytest.raises(BadInputError, match="before any update"):
        BoxCoverage(GRID).compute()
