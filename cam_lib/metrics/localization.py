"""Top-1 / top-5 localization error (Tables 2 and 3 of the paper) and GT-known localization accuracy.

The hit rule, once: a box hits when its IoU (+1 convention, :func:`cam_lib.boxes.box_iou`) with ANY valid
ground-truth box (of the guessed class, when boxes carry labels) is >= ``iou_threshold`` (0.5, the ILSVRC rule).
:func:`box_hits` applies it to one box per image, :func:`guess_hits` to ranked (class, box) guesses, where the
class must also be the image's. Neither checks its inputs: the metrics check them at their entry
(:func:`cam_lib.boxes.check_boxes_tensor`, :func:`cam_lib.metrics.checks.check_gt`). Both metrics keep their
per-image outcomes (``per_image()``), from which :mod:`.intervals` draws the 95% intervals of Tables 2-3.
:class:`TopKLocalization` and :class:`GTKnown` are the metrics of the evaluation loop (:mod:`.protocol`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..boxes import box_iou, check_boxes_tensor
from ..errors import BadInputError
from .checks import check_batch, check_gt
from .intervals import stack_outcomes
from .protocol import AccumulatorMetric, Result

__all__ = ["IOU_THRESHOLD", "GTKnownLocalization", "LocalizationError", "box_hits", "guess_hits", "scored_guess_hits",
           "TopKLocalization", "GTKnown", "LocalizationResult", "GTKnownResult"]

IOU_THRESHOLD = 0.5


def _any_gt_hit(boxes: torch.Tensor, gt_boxes: torch.Tensor, ok: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``(B, k)`` bool: box ``boxes[b, j]`` has IoU >= ``iou_threshold`` with a box ``gt_boxes[b, m]`` where
    ``ok[b, j, m]``."""
    iou = box_iou(boxes, gt_boxes.to(boxes.device))  # (B, k, M)
    return ((iou >= iou_threshold) & ok).any(-1)


def box_hits(boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor,
             iou_threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """``(B,)`` bool: the box ``boxes[b]`` (``(B, 4)``, one per image) has IoU >= ``iou_threshold`` with any valid
    ground-truth box of its image (``gt_boxes (B, M, 4)``, ``gt_valid (B, M)``)."""
    return _any_gt_hit(boxes[:, None], gt_boxes, gt_valid.to(boxes.device)[:, None, :], iou_threshold)[:, 0]


def best_box_iou(boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> torch.Tensor:
    """``(B,)`` float64: the best IoU of the box ``boxes[b]`` (``(B, 4)``, one per image) with a valid ground-truth
    box of its image (``gt_boxes (B, M, 4)``, ``gt_valid (B, M)``; 0 for an image without one). What a figure
    states beside :func:`box_hits`, which is ``best_box_iou(...) >= iou_threshold`` for a threshold above 0."""
    iou = box_iou(boxes[:, None], gt_boxes.to(boxes.device))[:, 0]   # (B, M)
    iou = torch.where(gt_valid.to(boxes.device).bool(), iou, torch.zeros_like(iou))
    return iou.max(1).values if iou.shape[1] else torch.zeros(len(boxes), dtype=iou.dtype, device=iou.device)


__all__ += ["best_box_iou"]


def guess_hits(classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None,
               iou_threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """``(B, k)`` bool: guess ``j`` is right when ``classes[:, j] == targets`` and its box has IoU >=
    ``iou_threshold`` with any valid ground-truth box of that class (``gt_labels``; default: all boxes are of
    the image's class)."""
    ok = gt_valid.to(boxes.device)[:, None, :]
    if gt_labels is not None:
        ok = ok & (gt_labels.to(boxes.device)[:, None, :] == classes[:, :, None])
    return _any_gt_hit(boxes, gt_boxes, ok, iou_threshold) & (classes == targets.to(classes.device)[:, None])


class LocalizationError:
    """Top-1 / top-5 localization error (Tables 2 and 3), ILSVRC rule over ranked (class, box) guesses."""

    def __init__(self, iou_threshold: float = IOU_THRESHOLD):
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None
        self.misses = []   # (2, B) bool per batch (top-1, top-5), on the device of the inputs

    def update(self, classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None) -> None:
        """``classes (B, k)`` and ``boxes (B, k, 4)``: the guesses in rank order. Top-5 uses the first five
        (all ``k`` when a dataset has fewer than five classes)."""
        check_batch("classes", classes, 2)
        batch = classes.shape[0]
        check_batch("boxes", boxes, 3, batch)
        check_batch("targets", targets, 1, batch)
        check_gt(gt_boxes, gt_valid, batch)
        if boxes.shape[1] != classes.shape[1] or classes.shape[1] < 1:
            bad = "classes" if classes.shape[1] < 1 else "boxes"
            raise BadInputError(f"parameter {bad}: need one box per guessed class, got classes "
                                f"{tuple(classes.shape)}, boxes {tuple(boxes.shape)}", param=bad)
        check_boxes_tensor("boxes", boxes)
        hit = guess_hits(classes, boxes, targets, gt_boxes, gt_valid, gt_labels, self.iou_threshold)
        self.add_misses(torch.stack([~hit[:, 0], ~hit[:, :5].any(1)]))

    def add_misses(self, misses: torch.Tensor) -> None:
        """Count images whose outcomes are known already: ``misses (2, B)`` bool, top-1 and top-5 (e.g. another
        rank's images, gathered in order by :func:`cam_lib.localize.evaluate`)."""
        check_batch("misses", misses, 2)
        if misses.shape[0] != 2 or misses.dtype != torch.bool:
            raise BadInputError(f"parameter misses: must be bool (2, B), got {misses.dtype} {tuple(misses.shape)}",
                                param="misses")
        wrong = misses.sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong.to(self.wrong.device)
        self.misses.append(misses)
        self.n += misses.shape[1]

    def per_image(self) -> dict[str, np.ndarray]:
        """Per-image outcomes in update order: ``top1_wrong`` and ``top5_wrong`` ``(N,)`` bool; their means are
        ``compute()["top1_loc_err"]`` and ``compute()["top5_loc_err"]`` exactly."""
        top1, top5 = stack_outcomes(self.misses, "LocalizationError", dim=1)
        return {"top1_wrong": top1, "top5_wrong": top5}

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("LocalizationError.compute() called before any update()", param=None)   # no parameter
        top1, top5 = self.wrong.tolist()
        return {"top1_loc_err": top1 / self.n, "top5_loc_err": top5 / self.n}


class GTKnownLocalization:
    """GT-known localization accuracy: the box from the ground-truth class's map has IoU >= 0.5 with a
    ground-truth box."""

    def __init__(self, iou_threshold: float = IOU_THRESHOLD):
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.right = None
        self.hits = []   # (B,) bool per batch, on the device of the inputs

    def update(self, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        """``boxes (B, 4)``: one box per image from the ground-truth class's map."""
        check_batch("boxes", boxes, 2)
        check_gt(gt_boxes, gt_valid, boxes.shape[0])
        check_boxes_tensor("boxes", boxes)
        self.add_hits(box_hits(boxes, gt_boxes, gt_valid, self.iou_threshold))

    def add_hits(self, hits: torch.Tensor) -> None:
        """Count images whose outcomes are known already: ``hits (B,)`` bool (e.g. another rank's images, gathered
        in order by :func:`cam_lib.localize.evaluate`)."""
        check_batch("hits", hits, 1)
        if hits.dtype != torch.bool:
            raise BadInputError(f"parameter hits: must be bool (B,), got {hits.dtype}", param="hits")
        right = hits.sum()
        self.right = right if self.right is None else self.right + right.to(self.right.device)
        self.hits.append(hits)
        self.n += hits.shape[0]

    def per_image(self) -> dict[str, np.ndarray]:
        """Per-image outcomes in update order: ``hit`` ``(N,)`` bool; its mean is ``compute()["gt_known_loc_acc"]``
        exactly."""
        return {"hit": stack_outcomes(self.hits, "GTKnownLocalization", dim=0)}

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("GTKnownLocalization.compute() called before any update()", param=None)   # no parameter
        return {"gt_known_loc_acc": float(self.right) / self.n}


def scored_guess_hits(classes: torch.Tensor, gt_box_hits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(B, k)`` bool: the ILSVRC rule for ranked guesses when only the ground-truth class's box is known. A guess
    of another class is wrong whatever its box; a guess of the ground-truth class has that class's map, so its
    box is the ground-truth class's box, which hits or not (``gt_box_hits (B,)``, :func:`box_hits`). The same
    outcomes as :func:`guess_hits` on the boxes of every guess, for one map per image instead of k."""
    return (classes == targets.to(classes.device)[:, None]) & gt_box_hits.to(classes.device)[:, None]


@dataclass(frozen=True)
class LocalizationResult(Result):
    """Tables 2-3: top-1 and top-5 localization error (right class and IoU >= 0.5)."""

    kind: ClassVar[str] = "localization"
    top1_loc_err: float
    top5_loc_err: float

    def scores(self) -> dict:
        return {"top1_loc_err": self.top1_loc_err, "top5_loc_err": self.top5_loc_err}


@dataclass(frozen=True)
class GTKnownResult(Result):
    """GT-known localization accuracy at the evaluation's threshold (the ground-truth class's box)."""

    kind: ClassVar[str] = "gt_known"
    gt_known_loc_acc: float

    def scores(self) -> dict:
        return {"gt_known_loc_acc": self.gt_known_loc_acc}


class TopKLocalization(AccumulatorMetric):
    """Top-1 / top-5 localization error of the evaluation loop (:class:`LocalizationError`): the top-k classes
    of the logits scored by :func:`scored_guess_hits` with the ground-truth class's box."""

    name, needs, parts, add = "localization", frozenset({"gt"}), "misses", "add_misses"

    def __init__(self, iou_threshold: float = IOU_THRESHOLD) -> None:
        self.acc = LocalizationError(iou_threshold)

    def update(self, batch, out) -> None:
        hit = scored_guess_hits(out.classes, box_hits(out.gt_boxes, batch.gt_boxes, batch.gt_valid,
                                                      self.acc.iou_threshold), batch.labels)
        self.acc.add_misses(torch.stack([~hit[:, 0], ~hit[:, :5].any(1)]))

    def per_image(self) -> dict[str, np.ndarray]:
        wrong = self.acc.per_image()
        return {"top1_loc_err": wrong["top1_wrong"], "top5_loc_err": wrong["top5_wrong"]}

    def compute(self) -> LocalizationResult:
        err = self.acc.compute()
        return LocalizationResult(err["top1_loc_err"], err["top5_loc_err"])


class GTKnown(AccumulatorMetric):
    """GT-known localization accuracy of the evaluation loop (:class:`GTKnownLocalization` of the ground-truth
    class's box at the evaluation's threshold)."""

    name, needs, parts, add = "gt_known", frozenset({"gt"}), "hits", "add_hits"

    def __init__(self, iou_threshold: float = IOU_THRESHOLD) -> None:
        self.acc = GTKnownLocalization(iou_threshold)

    def update(self, batch, out) -> None:
        self.acc.update(out.gt_boxes, batch.gt_boxes, batch.gt_valid)

    def per_image(self) -> dict[str, np.ndarray]:
        return {"gt_known_loc_acc": self.acc.per_image()["hit"]}

    def compute(self) -> GTKnownResult:
        return GTKnownResult(self.acc.compute()["gt_known_loc_acc"])
