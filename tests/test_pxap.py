"""PxAP (Choe et al. 2020) on hand-made masks whose value is known, against the plain per-threshold reference and
wsolevaluation's algorithm (histograms over the grid's right edges), streaming through evaluate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cam_lib.errors import BadInputError
from cam_lib.metrics import threshold_grid
from cam_lib.metrics.pxap import MASK_IGNORE, PxAP, PxAPResult, pxap_from_histograms, pxap_histograms
from cam_lib.metrics.reference import baseline_pxap

GRID = threshold_grid(0.01)


def _pxap(maps, masks):
    return pxap_from_histograms(pxap_histograms(torch.as_tensor(maps), torch.as_tensor(masks), GRID).sum(0))


def test_pxap_of_hand_made_maps():
    mask = np.zeros((1, 10, 10), np.uint8)
    mask[0, 2:6, 3:8] = 1                                   # 20 object pixels of 100
    assert _pxap(mask.astype(np.float32), mask) == pytest.approx(1.0)          # the map is the mask: perfect
    assert _pxap(np.full((1, 10, 10), 0.5, np.float32), mask) == pytest.approx(0.2)   # flat: precision = share
    inverse = 1.0 - mask.astype(np.float32)                 # object at 0, background at 1: found only at t = 0
    assert _pxap(inverse, mask) == pytest.approx(0.2)
    ignored = mask.copy()
    ignored[0, 0, :] = MASK_IGNORE                           # 10 background pixels ignored
    flat = np.full((1, 10, 10), 0.5, np.float32)
    assert _pxap(flat, ignored) == pytest.approx(20 / 90)


def test_pxap_equals_the_plain_reference_and_wsolevaluations_algorithm():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 17, 13)).astype(np.float32) ** 2
    maps[0] = 0.0
    maps[1, 0, 0] = 1.0                                      # values on the edges 0 and 1
    masks = (rng.random((6, 17, 13)) < 0.3).astype(np.uint8)
    masks[rng.random((6, 17, 13)) < 0.1] = MASK_IGNORE
    assert _pxap(maps, masks) == pytest.approx(baseline_pxap(maps, masks, GRID), abs=1e-12)
    # wsolevaluation's MaskEvaluator: numpy.histogram over the right edges, summed, then the area
    edges = np.append(GRID, [1.0, 2.0, 3.0])
    true = sum(np.histogram(m[k == 1], bins=edges)[0] for m, k in zip(maps, masks)).astype(float)
    false = sum(np.histogram(m[k == 0], bins=edges)[0] for m, k in zip(maps, masks)).astype(float)
    tp, fp = true[::-1].cumsum(), false[::-1].cumsum()
    nz = (tp + fp) != 0
    with np.errstate(invalid="ignore"):
        auc = (tp / (tp + fp))[1:] * np.diff(tp / true.sum())
    assert _pxap(maps, masks) == pytest.approx(auc[nz[1:]].sum(), abs=1e-12)


def test_pxap_streams_and_keeps_the_images_for_its_interval():
    rng = np.random.default_rng(1)
    maps = torch.from_numpy(rng.random((8, 12, 12)).astype(np.float32))
    masks = torch.from_numpy((rng.random((8, 12, 12)) < 0.4).astype(np.uint8))

    class Batch:
        def __init__(self, lo, hi):
            self.masks = masks[lo:hi]

    class Out:
        def __init__(self, lo, hi):
            self.gt_maps = maps[lo:hi]

    metric = PxAP(GRID)
    for lo in (0, 3, 5):
        metric.update(Batch(lo, {0: 3, 3: 5, 5: 8}[lo]), Out(lo, {0: 3, 3: 5, 5: 8}[lo]))
    result = metric.compute()
    assert result.pxap == pytest.approx(_pxap(maps, masks)) and result.histograms.shape[0] == 8
    ci = result.interval(n_boot=200)
    assert ci.low <= result.pxap <= ci.high and ci.high > ci.low
    from cam_lib.metrics import result_from_json

    back = result_from_json(result.to_json())
    assert isinstance(back, PxAPResult) and back == result
    with pytest.raises(BadInputError, match="masks"):
        metric.update(type("NoMasks", (), {})(), Out(0, 2))
