"""How much of the object a map covers (Sec. 3.2 of the paper: GAP rewards every discriminative part of an object,
GMP only the most discriminative one, so GAP's maps should cover more of the object): for each image and each
threshold ``tau`` of a grid, the share of the ground-truth box's pixels (the union of the ground-truth class's
boxes) where the ground-truth class's normalised map is ``>= tau``. The mechanism behind a GAP/GMP localization
difference, read at any threshold of the grid (:meth:`BoxCoverageResult.at`): the series reads it at each network's
own val-chosen threshold and at the paper's 20%, the same for both networks.

Streaming and vectorised: per batch, one bucketing of every map value into the grid and one ``bincount`` of the
values inside the boxes; no loop per image or threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..boxes import box_masks
from ..errors import BadInputError
from .protocol import AccumulatorMetric, Parts, Result

__all__ = ["BoxCoverage", "BoxCoverageResult", "box_coverage"]


def box_coverage(maps: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor,
                 thresholds: np.ndarray) -> np.ndarray:
    """``(B, T)``: for each map ``(B, H, W)`` and threshold, the share of the pixels inside its valid inclusive
    ground-truth boxes ``(B, M, 4)`` / ``(B, M)`` whose value is ``>= thresholds[t]`` (0 for an image without a
    valid box)."""
    grid = torch.as_tensor(np.asarray(thresholds, np.float64), dtype=torch.float32)
    if grid.dim() != 1 or len(grid) == 0 or bool((grid[1:] <= grid[:-1]).any()):
        raise BadInputError("parameter thresholds: an increasing, non-empty 1-D grid", param="thresholds")
    maps = maps.detach().float().cpu()
    inside = box_masks(gt_boxes.cpu(), gt_valid.cpu(), *maps.shape[-2:])                # (B, H, W)
    levels = torch.bucketize(maps, grid, right=True)                                   # #thresholds <= value
    owner = torch.arange(len(maps))[:, None, None].expand_as(levels)
    t = len(grid)
    counts = torch.bincount((owner * (t + 1) + levels)[inside], minlength=len(maps) * (t + 1)).view(len(maps), t + 1)
    above = counts.flip(1).cumsum(1).flip(1)[:, 1:].double()                           # values >= grid[t]
    return (above / counts.sum(1, keepdim=True).clamp_min(1).double()).numpy()


@dataclass(frozen=True, eq=False)
class BoxCoverageResult(Result):
    """``coverage (N, T)``: each image's box coverage at each threshold of ``thresholds``."""

    kind: ClassVar[str] = "box_coverage"
    thresholds: tuple
    coverage: np.ndarray

    def __eq__(self, other) -> bool:
        return (isinstance(other, BoxCoverageResult) and tuple(self.thresholds) == tuple(other.thresholds)
                and np.array_equal(self.coverage, other.coverage))

    __hash__ = None

    def at(self, threshold: float) -> np.ndarray:
        """``(N,)``: each image's coverage at ``threshold`` (a value of the grid)."""
        at = np.flatnonzero(np.isclose(np.asarray(self.thresholds, float), threshold, rtol=0, atol=1e-9))
        if not len(at):
            raise BadInputError(f"parameter threshold={threshold!r} is not on the evaluated grid", param="threshold")
        return self.coverage[:, at[0]]

    def to_json(self) -> dict:
        return {"kind": self.kind, "thresholds": list(self.thresholds),
                "coverage": np.round(self.coverage, 4).tolist()}

    @classmethod
    def _from_fields(cls, data: dict) -> "BoxCoverageResult":
        coverage = np.asarray(data["coverage"], np.float64).reshape(-1, len(data["thresholds"]))
        return cls(tuple(float(t) for t in data["thresholds"]), coverage)


class BoxCoverage(AccumulatorMetric):
    """The box coverage of the ground-truth class's map at every threshold of ``thresholds`` (module docstring)."""

    name, needs, parts, add = "box_coverage", frozenset({"gt"}), "parts", "add"

    def __init__(self, thresholds: np.ndarray) -> None:
        self.thresholds = np.asarray(thresholds, np.float64)
        self.acc = Parts()

    def update(self, batch, out) -> None:
        self.acc.add(box_coverage(out.gt_maps, batch.gt_boxes, batch.gt_valid, self.thresholds))

    def compute(self) -> BoxCoverageResult:
        if not self.acc.parts:
            raise BadInputError("parameter loader: BoxCoverage.compute() before any update()", param="loader")
        return BoxCoverageResult(tuple(self.thresholds.tolist()), np.concatenate(self.acc.parts))
