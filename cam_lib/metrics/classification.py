"""Top-k classification error (Table 1 of the paper; also the per-epoch errors of training, Sec. 3.1).

:func:`topk_misses` is the one rule: an image is wrong at top-k when its label is not among its first k ranked
predictions; :func:`topk_wrong` counts it. :class:`ClassificationError` streams it over batches (and keeps the
per-image outcomes, :meth:`ClassificationError.per_image`, for the intervals of :mod:`.intervals`);
:func:`cam_lib.train.evaluate_classification` sums it across DDP ranks. :class:`TopKClassification` is the
metric of the evaluation loop (:mod:`.protocol`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import BadInputError
from .checks import check_batch
from .intervals import stack_outcomes
from .protocol import AccumulatorMetric, Result

__all__ = ["ClassificationError", "ClassificationResult", "TopKClassification", "topk_misses", "topk_wrong"]


def topk_misses(logits_or_pred: torch.Tensor, targets: torch.Tensor, topk: tuple[int, ...]) -> torch.Tensor:
    """``(len(topk), B)`` bool, per image: for each ``k`` of ``topk``, its ``targets`` entry is not among its first
    ``k`` predictions (the rule; :func:`topk_wrong` counts it). Arguments as for :func:`topk_wrong`."""
    check_batch("logits", logits_or_pred, 2)
    check_batch("targets", targets, 1, logits_or_pred.shape[0])
    k = max(topk)
    if logits_or_pred.is_floating_point():
        if k > logits_or_pred.shape[1]:
            raise BadInputError(f"parameter topk={tuple(topk)!r}: top-{k} error needs at least {k} classes, logits "
                                f"have {logits_or_pred.shape[1]}", param="topk")
        pred = logits_or_pred.topk(k, dim=1).indices
    else:
        pred = logits_or_pred
        if pred.shape[1] < k:
            raise BadInputError(f"parameter topk={tuple(topk)!r}: top-{k} error needs {k} predictions per image, got "
                                f"{pred.shape[1]}", param="topk")
    hit = pred[:, :k] == targets.to(pred.device)[:, None]
    return torch.stack([~hit[:, :j].any(1) for j in topk])


def topk_wrong(logits_or_pred: torch.Tensor, targets: torch.Tensor, topk: tuple[int, ...]) -> torch.Tensor:
    """``(len(topk),)`` int64: for each ``k`` of ``topk``, how many images' ``targets (B,)`` are not among their
    first ``k`` predictions. ``logits_or_pred``: logits ``(B, C)`` (floating point) or predicted classes ``(B, k)``
    in rank order (integer dtype)."""
    return topk_misses(logits_or_pred, targets, topk).sum(1)


class ClassificationError:
    """Top-k classification error (Table 1): the fraction of images whose label is not in the top-k."""

    def __init__(self, topk: tuple[int, ...] = (1, 5)):
        if not topk or any(k < 1 for k in topk):
            raise BadInputError(f"parameter topk={topk!r}: must be positive integers", param="topk")
        self.topk = tuple(topk)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None
        self.misses = []   # (len(topk), B) bool per batch, on the device of the inputs

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """``logits (B, C)`` (or predicted classes ``(B, k)`` in rank order, integer dtype), ``targets (B,)``."""
        self.add_misses(topk_misses(logits, targets, self.topk))

    def add_misses(self, misses: torch.Tensor) -> None:
        """Count images whose outcomes are known already: ``misses (len(topk), B)`` bool, as :func:`topk_misses`
        gives them (e.g. another rank's images, gathered in order by :func:`cam_lib.localize.evaluate`)."""
        check_batch("misses", misses, 2)
        if misses.shape[0] != len(self.topk) or misses.dtype != torch.bool:
            raise BadInputError(f"parameter misses: must be bool ({len(self.topk)}, B), got {misses.dtype} "
                                f"{tuple(misses.shape)}", param="misses")
        wrong = misses.sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong.to(self.wrong.device)
        self.misses.append(misses)
        self.n += misses.shape[1]

    def per_image(self) -> dict[str, np.ndarray]:
        """Per-image outcomes in update order: ``top{k}_wrong`` ``(N,)`` bool for each ``k`` of ``topk``; the mean
        of each is ``compute()["top{k}_cls_err"]`` exactly."""
        misses = stack_outcomes(self.misses, "ClassificationError", dim=1)
        return {f"top{k}_wrong": m for k, m in zip(self.topk, misses)}

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("ClassificationError.compute() called before any update()", param=None)   # no parameter
        return {f"top{k}_cls_err": float(w) / self.n for k, w in zip(self.topk, self.wrong.tolist())}


@dataclass(frozen=True)
class ClassificationResult(Result):
    """Table 1: top-1 and top-5 classification error (top-k with k = min(5, classes))."""

    kind: ClassVar[str] = "classification"
    top1_cls_err: float
    top5_cls_err: float

    def scores(self) -> dict:
        return {"top1_cls_err": self.top1_cls_err, "top5_cls_err": self.top5_cls_err}


class TopKClassification(AccumulatorMetric):
    """Top-1 / top-5 classification error of the evaluation loop (:class:`ClassificationError` of the logits)."""

    name, parts, add = "classification", "misses", "add_misses"

    def __init__(self, num_classes: int) -> None:
        self.acc = ClassificationError((1, min(5, num_classes)))

    def update(self, batch, out) -> None:
        self.acc.update(out.logits, batch.labels.to(out.logits.device))

    def per_image(self) -> dict[str, np.ndarray]:
        wrong = self.acc.per_image()
        return {"top1_cls_err": wrong["top1_wrong"], "top5_cls_err": wrong[f"top{self.acc.topk[-1]}_wrong"]}

    def compute(self) -> ClassificationResult:
        err = self.acc.compute()
        return ClassificationResult(err["top1_cls_err"], err[f"top{self.acc.topk[-1]}_cls_err"])
