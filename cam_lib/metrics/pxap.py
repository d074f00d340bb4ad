"""PxAP (Choe et al., CVPR 2020): the area under the pixel precision-recall curve of the normalised map against the
object mask, over a grid of thresholds, pixels of the ignore region left out: localization by masks, the sibling of
MaxBoxAcc (:mod:`.maxboxacc`) for datasets with object masks (the embedded benchmark, wsolevaluation's OpenImages30k,
CUB-200-2011's segmentations). Not in the CAM paper.

Streaming, one pass per map: per image, a histogram of the map's values inside the mask and one outside it (ignore
pixels dropped), over the grid's right edges (:func:`pxap_histograms`, one ``bincount`` per batch, no loop per
threshold); the curve and its area come from the summed histograms exactly as wsolevaluation's ``MaskEvaluator``
computes them (:func:`pxap_from_histograms`), so the numbers are that evaluator's. The per-image histograms are kept:
the 95% interval resamples images (:meth:`PxAPResult.interval`). :func:`cam_lib.metrics.reference.baseline_pxap` is
the same metric written plainly, threshold by threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import BadInputError
from .intervals import Interval
from .protocol import AccumulatorMetric, Parts, Result

__all__ = ["PxAP", "PxAPResult", "pxap_histograms", "pxap_from_histograms", "MASK_IGNORE"]

MASK_IGNORE = 255   # the value of an ignore pixel in a (B, H, W) uint8 mask: 1 object, 0 background, 255 ignore


def _edges(thresholds: np.ndarray) -> np.ndarray:
    """wsolevaluation's ``threshold_list_right_edge``: the grid, then 1, 2, 3 (values of 1 fall in the last real bin)."""
    return np.append(np.asarray(thresholds, np.float64), [1.0, 2.0, 3.0])


def pxap_histograms(maps: torch.Tensor, masks: torch.Tensor, thresholds: np.ndarray) -> np.ndarray:
    """``(B, 2, E - 1)`` int64: per image, the histogram (``numpy.histogram`` bins of the right edges, E = T + 3) of
    the map's values on the object's pixels (row 0) and on the background's (row 1), ignore pixels left out.
    ``maps (B, H, W)`` normalised, ``masks (B, H, W)`` uint8 (1 object, 0 background, :data:`MASK_IGNORE`)."""
    if maps.dim() != 3 or masks.shape != maps.shape:
        raise BadInputError(f"parameter masks: (B, H, W) masks matching the maps {tuple(maps.shape)}, got "
                            f"{tuple(masks.shape)}", param="masks")
    edges = torch.as_tensor(_edges(thresholds))
    values = maps.detach().double().cpu()
    masks = masks.cpu()
    # numpy.histogram's bins: [e_i, e_{i+1}) and the last one closed; a value equal to an edge goes to its right bin
    bins = (torch.bucketize(values, edges, right=True) - 1).clamp_(0, len(edges) - 2)
    outside = (values < edges[0]) | (values > edges[-1])
    kind = torch.where(masks == 1, 0, torch.where(masks == 0, 1, -1))
    keep = (kind >= 0) & ~outside
    owner = torch.arange(len(maps))[:, None, None].expand_as(bins)
    nbins = len(edges) - 1
    keys = (owner * 2 + kind) * nbins + bins
    return torch.bincount(keys[keep], minlength=len(maps) * 2 * nbins).view(len(maps), 2, nbins).numpy()


def pxap_from_histograms(hist: np.ndarray) -> float:
    """PxAP in [0, 1] from summed histograms ``(2, E - 1)`` (object, background), as wsolevaluation's
    ``MaskEvaluator.compute``: cumulative true and false positives from the highest bin down, precision and
    recall at every threshold, the area ``sum(precision[1:] * diff(recall))``."""
    true, false = np.asarray(hist[0], np.float64), np.asarray(hist[1], np.float64)
    tp, fp = true[::-1].cumsum(), false[::-1].cumsum()
    if true.sum() <= 0:
        raise BadInputError("parameter masks: no object pixel in any mask: PxAP is undefined", param="masks")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    recall = tp / true.sum()
    return float((precision[1:] * np.diff(recall)).sum())


@dataclass(frozen=True, eq=False)
class PxAPResult(Result):
    """PxAP (``pxap``, in [0, 1]) with the per-image histograms ``(N, 2, E - 1)`` it is the area of."""

    kind: ClassVar[str] = "pxap"
    pxap: float
    thresholds: tuple
    histograms: np.ndarray

    def __eq__(self, other) -> bool:
        return isinstance(other, PxAPResult) and self.pxap == other.pxap and \
            np.array_equal(self.histograms, other.histograms)

    __hash__ = None

    def scores(self) -> dict:
        return {"pxap": self.pxap}

    def interval(self, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Interval:
        """The 95% percentile-bootstrap interval of PxAP over images (images resampled with their histograms)."""
        rng = np.random.default_rng(seed)
        n = len(self.histograms)
        boots = [pxap_from_histograms(self.histograms[rng.integers(0, n, n)].sum(0)) for _ in range(n_boot)]
        low, high = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
        return Interval(self.pxap, float(min(low, self.pxap)), float(max(high, self.pxap)), level)

    def to_json(self) -> dict:
        return {"kind": self.kind, "pxap": self.pxap, "thresholds": list(self.thresholds),
                "histograms": self.histograms.tolist()}

    @classmethod
    def _from_fields(cls, data: dict) -> "PxAPResult":
        return cls(float(data["pxap"]), tuple(float(t) for t in data["thresholds"]),
                   np.asarray(data["histograms"], np.int64).reshape(-1, 2, len(data["thresholds"]) + 2))


class PxAP(AccumulatorMetric):
    """PxAP of the ground-truth class's map against the batch's masks (``batch.masks``: a dataset with masks)."""

    name, needs, parts, add = "pxap", frozenset({"gt"}), "parts", "add"

    def __init__(self, thresholds: np.ndarray) -> None:
        self.thresholds = np.asarray(thresholds, np.float64)
        self.acc = Parts()

    def update(self, batch, out) -> None:
        masks = getattr(batch, "masks", None)
        if masks is None:
            raise BadInputError("parameter metrics: PxAP needs object masks, and this dataset gives none",
                                param="metrics")
        self.acc.add(pxap_histograms(out.gt_maps, masks, self.thresholds))

    def compute(self) -> PxAPResult:
        if not self.acc.parts:
            raise BadInputError("parameter loader: PxAP.compute() before any update()", param="loader")
        hist = np.concatenate(self.acc.parts)
        return PxAPResult(pxap_from_histograms(hist.sum(0)), tuple(self.thresholds.tolist()), hist)
