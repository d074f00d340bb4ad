"""Classification and localization metrics (Tables 1-4 of the paper; MaxBoxAcc of Choe et al., CVPR 2020).

Streaming accumulators in the style of wsolevaluation: ``update`` once per batch, ``compute`` at the end,
``reset`` to reuse. Counts stay on the device of the inputs until ``compute``. Every result is a fraction in
[0, 1]. Conventions (conventions.md, pinned by tests/test_metrics.py):

- IoU with the +1 pixel convention on inclusive boxes (:func:`cam_lib.boxes.box_iou`);
- a localization guess is right when its class is the ground-truth class and IoU >= 0.5 with ANY ground-truth
  box of that class (ILSVRC rule); top-1 uses the first guess, top-5 any of the first five;
- GT-known localization uses the ground-truth class's map (one box per image);
- MaxBoxAcc(delta) = max over CAM thresholds tau of the fraction of images whose best box at tau has IoU >=
  delta with a ground-truth box; MaxBoxAccV2 averages delta in {0.3, 0.5, 0.7} and boxes every connected
  component (V1: delta = 0.5 and the largest component only).

Ground truth comes padded: ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)`` (see :func:`cam_lib.boxes.pad_boxes`).
"""

from __future__ import annotations

import numpy as np
import torch

from .boxes import box_iou, component_boxes, largest_component_box, whole_frame_box
from .errors import BadInputError

__all__ = ["ClassificationError", "LocalizationError", "GTKnownLocalization", "MaxBoxAcc", "guess_hits",
           "threshold_grid"]

IOU_THRESHOLD = 0.5
V2_IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def _check_batch(name: str, tensor: torch.Tensor, dims: int, batch: int | None = None) -> None:
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != dims:
        raise BadInputError(f"{name} must be a {dims}-D tensor, got shape {tuple(getattr(tensor, 'shape', ()))}")
    if batch is not None and tensor.shape[0] != batch:
        raise BadInputError(f"{name} has batch size {tensor.shape[0]}, expected {batch}")


def _check_gt(gt_boxes: torch.Tensor, gt_valid: torch.Tensor, batch: int) -> None:
    _check_batch("gt_boxes", gt_boxes, 3, batch)
    _check_batch("gt_valid", gt_valid, 2, batch)
    if gt_boxes.shape[-1] != 4 or gt_valid.shape != gt_boxes.shape[:2]:
        raise BadInputError(f"gt_boxes (B, M, 4) and gt_valid (B, M) disagree: {tuple(gt_boxes.shape)}, "
                            f"{tuple(gt_valid.shape)}")
    # An image with no valid box (every box cropped out of the frame) counts as a miss, never as a hit.


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """CAM thresholds ``0, step, 2 step, ... < 1`` (wsolevaluation's ``cam_curve_interval``)."""
    if not 0 < step < 1:
        raise BadInputError(f"threshold grid step must be in (0, 1), got {step}")
    return np.arange(0, 1, step)


class ClassificationError:
    """Top-k classification error (Table 1): the fraction of images whose label is not in the top-k."""

    def __init__(self, topk: tuple[int, ...] = (1, 5)):
        if not topk or any(k < 1 for k in topk):
            raise BadInputError(f"topk must be positive integers, got {topk}")
        self.topk = tuple(topk)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """``logits (B, C)`` (or predicted classes ``(B, k)`` in rank order, integer dtype), ``targets (B,)``."""
        _check_batch("logits", logits, 2)
        _check_batch("targets", targets, 1, logits.shape[0])
        k = max(self.topk)
        if logits.is_floating_point():
            if k > logits.shape[1]:
                raise BadInputError(f"top-{k} error needs at least {k} classes, logits have {logits.shape[1]}")
            pred = logits.topk(k, dim=1).indices
        else:
            pred = logits
            if pred.shape[1] < k:
                raise BadInputError(f"top-{k} error needs {k} predictions per image, got {pred.shape[1]}")
        hit = pred[:, :k] == targets.to(pred.device)[:, None]
        wrong = torch.stack([~hit[:, :j].any(1) for j in self.topk]).sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong
        self.n += logits.shape[0]

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("ClassificationError.compute() called before any update()")
        return {f"top{k}_cls_err": float(w) / self.n for k, w in zip(self.topk, self.wrong.tolist())}


def guess_hits(classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None,
               iou_threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """``(B, k)`` bool: guess ``j`` is right when ``classes[:, j] == targets`` and its box has IoU >=
    ``iou_threshold`` with any valid ground-truth box of that class (``gt_labels``; default: all boxes are of
    the image's class)."""
    iou = box_iou(boxes, gt_boxes.to(boxes.device))  # (B, k, M)
    ok = gt_valid.to(boxes.device)[:, None, :]
    if gt_labels is not None:
        ok = ok & (gt_labels.to(boxes.device)[:, None, :] == classes[:, :, None])
    box_hit = ((iou >= iou_threshold) & ok).any(-1)
    return box_hit & (classes == targets.to(classes.device)[:, None])


class LocalizationError:
    """Top-1 / top-5 localization error (Tables 2 and 3), ILSVRC rule over ranked (class, box) guesses."""

    def __init__(self, iou_threshold: float = IOU_THRESHOLD):
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None

    def update(self, classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None) -> None:
        """``classes (B, k)`` and ``boxes (B, k, 4)``: the guesses in rank order. Top-5 uses the first five
        (all ``k`` when a dataset has fewer than five classes)."""
        _check_batch("classes", classes, 2)
        batch = classes.shape[0]
        _check_batch("boxes", boxes, 3, batch)
        _check_batch("targets", targets, 1, batch)
        _check_gt(gt_boxes, gt_valid, batch)
        if boxes.shape[1] != classes.shape[1] or classes.shape[1] < 1:
            raise BadInputError(f"need one box per guessed class, got classes {tuple(classes.shape)}, "
                                f"boxes {tuple(boxes.shape)}")
        hit = guess_hits(classes, boxes, targets, gt_boxes, gt_valid, gt_labels, self.iou_threshold)
        wrong = torch.stack([~hit[:, 0], ~hit[:, :5].any(1)]).sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong
        self.n += batch

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

    def update(self, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        """``boxes (B, 4)``: one box per image from the ground-truth class's map."""
        _check_batch("boxes", boxes, 2)
        _check_gt(gt_boxes, gt_valid, boxes.shape[0])
        iou = box_iou(boxes[:, None], gt_boxes.to(boxes.device))[:, 0]  # (B, M)
        right = ((iou >= self.iou_threshold) & gt_valid.to(boxes.device)).any(1).sum()
        self.right = right if self.right is None else self.right + right
        self.n += boxes.shape[0]

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("GTKnownLocalization.compute() called before any update()")
        return {"gt_known_loc_acc": float(self.right) / self.n}


class MaxBoxAcc:
    """MaxBoxAcc over a grid of CAM thresholds (Choe et al. 2020); the defaults give MaxBoxAccV2.

    ``update(maps, gt_boxes, gt_valid)`` with the ground-truth class's normalised maps ``(B, H, W)``.
    For every image and threshold ``tau`` it finds the best IoU of any box at ``tau`` (every component's box,
    or the largest component's with ``all_components=False``) with any ground-truth box, and counts the
    images whose best IoU reaches each ``delta``.
    """

    def __init__(self, cam_thresholds: np.ndarray | None = None,
                 iou_thresholds: tuple[float, ...] = V2_IOU_THRESHOLDS, all_components: bool = True):
        self.cam_thresholds = np.asarray(threshold_grid() if cam_thresholds is None else cam_thresholds, float)
        if self.cam_thresholds.ndim != 1 or len(self.cam_thresholds) == 0:
            raise BadInputError("cam_thresholds must be a non-empty 1-D sequence")
        self.iou_thresholds = np.asarray(iou_thresholds, float)
        self.all_components = all_components
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.counts = np.zeros((len(self.cam_thresholds), len(self.iou_thresholds)), dtype=np.int64)

    def best_iou(self, score_map: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
        """``(T,)``: for each CAM threshold, the best IoU of a box of ``score_map >= tau`` with ``gt_boxes``."""
        if len(gt_boxes) == 0:
            return np.zeros(len(self.cam_thresholds))
        boxes, owner = [], []
        for t, tau in enumerate(self.cam_thresholds):
            mask = score_map >= tau
            if self.all_components:
                b, _ = component_boxes(mask)
                b = b if len(b) else whole_frame_box(*mask.shape)[None]
            else:
                b = largest_component_box(mask)[None]
            boxes.append(b)
            owner.append(np.full(len(b), t))
        iou = box_iou(torch.from_numpy(np.concatenate(boxes)), torch.from_numpy(gt_boxes)).amax(-1).numpy()
        out = np.zeros(len(self.cam_thresholds))
        np.maximum.at(out, np.concatenate(owner), iou)
        return out

    def update(self, maps: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        _check_batch("maps", maps, 3)
        _check_gt(gt_boxes, gt_valid, maps.shape[0])
        maps_np = maps.float().cpu().numpy()
        boxes_np, valid_np = gt_boxes.cpu().numpy(), gt_valid.cpu().numpy()
        for score_map, boxes, valid in zip(maps_np, boxes_np, valid_np):
            best = self.best_iou(score_map, boxes[valid])
            self.counts += best[:, None] >= self.iou_thresholds[None, :]
        self.n += maps.shape[0]

    def compute(self) -> dict:
        """``maxboxacc`` (mean over IoU thresholds), and per IoU threshold the accuracy and best CAM threshold."""
        if self.n == 0:
            raise BadInputError("MaxBoxAcc.compute() called before any update()")
        acc = self.counts / self.n
        best = acc.argmax(0)
        return {
            "maxboxacc": float(acc.max(0).mean()),
            "per_iou": {float(d): float(acc[best[i], i]) for i, d in enumerate(self.iou_thresholds)},
            "best_threshold": {float(d): float(self.cam_thresholds[best[i]])
                               for i, d in enumerate(self.iou_thresholds)},
        }
