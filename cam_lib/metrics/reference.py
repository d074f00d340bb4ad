"""The per-threshold reference algorithm of MaxBoxAccV2 (Choe et al., CVPR 2020; the localization scores next to
Tables 2-4 of the paper): wsolevaluation's loop over CAM thresholds with OpenCV, in this project's conventions.

:class:`cam_lib.metrics.MaxBoxAcc` must give exactly its numbers (tests/test_metrics.py), and the benchmark
(``bench/``, Sec. 2) times it as the baseline. Also the one-mask box rule written plainly
(:func:`largest_component_box`), which the tests compare the batched boxes with. Not used to compute any result.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..boxes import box_iou
from .maxboxacc import V2_IOU_THRESHOLDS, ceil_float32

__all__ = ["baseline_best_ious", "baseline_maxboxacc", "baseline_pxap", "component_boxes", "largest_component_box"]


def baseline_pxap(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray) -> float:
    """PxAP written plainly, threshold by threshold, for :class:`cam_lib.metrics.PxAP` to be checked against:
    for each threshold t, from the highest (wsolevaluation's extra edges 2 and 1, then the grid downwards), the
    object pixels and the background pixels with a value >= t over all images (ignore pixels, mask value 255, left
    out), precision and recall; the area is the sum over thresholds of precision times the rise in recall since the
    previous threshold (thresholds that predict no pixel are skipped). ``maps (N, H, W)``, ``masks (N, H, W)``."""
    maps, masks = np.asarray(maps, np.float64), np.asarray(masks)
    objects, background = maps[masks == 1], maps[masks == 0]
    area, previous = 0.0, 0.0
    for t in [2.0, 1.0, *sorted(np.asarray(thresholds, np.float64), reverse=True)]:
        tp, fp = float((objects >= t).sum()), float((background >= t).sum())
        recall = tp / len(objects)
        if tp + fp > 0:
            area += tp / (tp + fp) * (recall - previous)
        previous = recall
    return area


def component_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(n, 4)`` (inclusive ``x0, y0, x1, y1``) and pixel counts ``(n,)`` of the 8-connected components of ONE
    2-D boolean mask, in raster order of each component's first pixel (Wu's labeller); an empty mask has none. The
    plain one-mask form of what :func:`cam_lib.boxes.boxes_from_maps` does for a whole batch in one call."""
    n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(np.ascontiguousarray(mask).view(np.uint8), 8,
                                                                   cv2.CV_32S, cv2.CCL_WU)
    x, y, w, h, area = stats[1:n].astype(np.int64).T   # label 0 is the background
    return np.stack([x, y, x + w - 1, y + h - 1], axis=1), area


def largest_component_box(mask: np.ndarray) -> np.ndarray:
    """The box of the component of ONE mask with the most pixels (the first in raster order on ties); the whole
    frame for an empty mask: the rule of :func:`cam_lib.boxes.boxes_from_maps`, written plainly."""
    boxes, area = component_boxes(mask)
    if len(area) == 0:
        return np.array([0, 0, mask.shape[1] - 1, mask.shape[0] - 1], np.int64)
    return boxes[int(np.argmax(area))]


def baseline_best_ious(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
                       holes: bool = False) -> np.ndarray:
    """``(B, T)`` best IoU per map and threshold by the published per-threshold algorithm of wsolevaluation
    (Choe et al. 2020, ``compute_bboxes_from_scoremaps`` + ``BoxEvaluator.accumulate``): for every threshold of
    the grid, ``cv2.threshold``, ``cv2.findContours(..., CHAIN_APPROX_SIMPLE)``, ``cv2.boundingRect`` of each
    contour; then the IoU of all boxes with the ground truth and the best per threshold.

    Where wsolevaluation's own choices differ from conventions.md, this follows conventions.md (as MaxBoxAcc):

    - the mask is ``map >= tau`` on the float32 map (wsolevaluation: ``uint8(255 map) > int(tau * max)``):
      ``cv2.threshold(-map, -ceil32(tau), 1, THRESH_BINARY_INV)`` is exactly that;
    - boxes are inclusive ``[x, y, x + w - 1, y + h - 1]`` (wsolevaluation: ``x + w``, clipped to the frame);
    - an empty mask gives the whole frame (wsolevaluation: ``[0, 0, 0, 0]``);
    - every connected component gets one box: the outer contours (``RETR_CCOMP``, contours without a parent:
      one per 8-connected component). wsolevaluation's ``RETR_TREE`` also boxes hole borders, which are not
      components: a hole's border box can beat its component's (see tests/test_bench.py). ``holes=True`` keeps
      them, to measure that difference.
    """
    maps = np.asarray(maps, np.float32)
    batch, height, width = maps.shape
    limits = -ceil_float32(np.asarray(thresholds, np.float64))
    gt, valid = torch.as_tensor(gt_boxes, dtype=torch.float64), torch.as_tensor(gt_valid, dtype=torch.bool)
    mode = cv2.RETR_TREE if holes else cv2.RETR_CCOMP
    out = np.zeros((batch, len(limits)))
    for b in range(batch):
        negated = -maps[b]
        boxes, number = [], []
        for limit in limits:                                     # the per-threshold loop this is about
            _, mask = cv2.threshold(negated, float(limit), 1, cv2.THRESH_BINARY_INV)
            contours, hierarchy = cv2.findContours(mask.astype(np.uint8), mode, cv2.CHAIN_APPROX_SIMPLE)
            if not holes and len(contours):
                contours = [c for c, h in zip(contours, hierarchy[0]) if h[3] < 0]
            if len(contours) == 0:
                boxes.append([0, 0, width - 1, height - 1])
                number.append(1)
                continue
            for contour in contours:
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append([x, y, x + w - 1, y + h - 1])
            number.append(len(contours))
        if not bool(valid[b].any()):
            continue
        iou = box_iou(torch.tensor(boxes, dtype=torch.float64), gt[b][valid[b]]).amax(-1).numpy()
        start = 0
        for t, n in enumerate(number):
            out[b, t] = iou[start:start + n].max()
            start += n
    return out


def baseline_maxboxacc(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
                       iou_thresholds: tuple[float, ...] = V2_IOU_THRESHOLDS) -> np.ndarray:
    """Counts ``(T, len(iou_thresholds))`` of images whose best IoU at each threshold reaches each delta, by the
    per-threshold baseline; equal to ``MaxBoxAcc.counts`` after the same updates."""
    best = baseline_best_ious(maps, thresholds, gt_boxes, gt_valid)
    return (best[:, :, None] >= np.asarray(iou_thresholds)[None, None, :]).sum(0)
