"""Top-1 / top-5 localization error (Tables 2 and 3 of the paper) and GT-known localization accuracy.

The hit rule, once: a box hits when its IoU (+1 convention, :func:`cam_lib.boxes.box_iou`) with ANY valid
ground-truth box (of the guessed class, when boxes carry labels) is >= ``iou_threshold`` (0.5, the ILSVRC rule).
:func:`box_hits` applies it to one box per image, :func:`guess_hits` to ranked (class, box) guesses, where the
class must also be the image's. Neither checks its inputs: the metrics check them at their entry
(:func:`cam_lib.boxes.check_boxes_tensor`, :func:`cam_lib.metrics.checks.check_gt`). Both metrics keep their
per-image outcomes (``per_image()``), from which :mod:`.intervals` draws the 95% intervals of Tables 2-3.
"""

from __future__ import annotations

import numpy as np
import torch

from ..boxes import box_iou, check_boxes_tensor
from ..errors import BadInputError
from .checks import check_batch, check_gt
from .intervals import stack_outcomes

__all__ = ["IOU_THRESHOLD", "GTKnownLocalization", "LocalizationError", "box_hits", "guess_hits"]

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
            raise BadInputError(f"need one box per guessed class, got classes {tuple(classes.shape)}, "
                                f"boxes {tuple(boxes.shape)}")
        check_boxes_tensor("boxes", boxes)
        hit = guess_hits(classes, boxes, targets, gt_boxes, gt_valid, gt_labels, self.iou_threshold)
        self.add_misses(torch.stack([~hit[:, 0], ~hit[:, :5].any(1)]))

    def add_misses(self, misses: torch.Tensor) -> None:
        """Count images whose outcomes are known already: ``misses (2, B)`` bool, top-1 and top-5 (e.g. another
        rank's images, gathered in order by :func:`cam_lib.localize.evaluate`)."""
        check_batch("misses", misses, 2)
        if misses.shape[0] != 2 or misses.dtype != torch.bool:
            raise BadInputError(f"misses must be bool (2, B), got {misses.dtype} {tuple(misses.shape)}")
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
            raise BadInputError("LocalizationError.compute() called before any update()")
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
            raise BadInputError(f"hits must be bool (B,), got {hits.dtype}")
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
            raise BadInputError("GTKnownLocalization.compute() called before any update()")
        return {"gt_known_loc_acc": float(self.right) / self.n}
