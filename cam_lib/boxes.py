"""Bounding boxes from localization maps (Sec. 3 "weakly-supervised object localization", Tables 2-4).

The paper: "we first segment the regions of which the value is above 20% of the max value of the CAM. Then we
take the bounding box that covers the largest connected component in the segmentation map." Conventions
(conventions.md, pinned by tests/test_boxes.py):

- maps are min-max normalised to [0, 1] first (:func:`cam_lib.cam.normalize_maps`), so "20% of the max" is
  ``map >= 0.2``; the comparison is ``>=``;
- components are 8-connected; "largest" means most pixels; ties go to the component whose first pixel comes
  first in raster order (OpenCV labels components in raster order);
- boxes are ``[x0, y0, x1, y1]`` in inclusive pixel coordinates of the map's frame;
- an empty mask (a constant map, or a threshold above every value) gives the whole frame.

:func:`heuristic_guesses` is the five-guess test-set heuristic of Table 3. (MaxBoxAccV2 boxes every component of
every threshold in its own compiled sweep: :mod:`cam_lib.metrics.maxboxacc`.)

Connected-component labelling runs in OpenCV (neither torch nor torchvision labels components): the masks of a
whole batch are stacked with an empty row between them and labelled in ONE call, and the largest component of
each map is picked with vectorised numpy, so there is no Python loop per map (nor per threshold). (Cutting the stack
into chunks labelled on several threads measured the same as the one call, on 2 CPU cores and beside an H200, so
there is one call.) The labeller
is Wu's scan (``CCL_WU``), which numbers components in raster order of their first pixel: the tie rule above
(OpenCV's default block-based labeller numbers them by 2x2 blocks, which breaks it on some ties).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from .errors import BadInputError

DEFAULT_THRESHOLD = 0.2
# Table 3 heuristic. The paper gives no thresholds; a higher threshold keeps the peak ("tight"), the paper's
# 20% keeps the extent ("loose"). Both are parameters of heuristic_guesses.
TIGHT_THRESHOLD = 0.5
LOOSE_THRESHOLD = 0.2

__all__ = [
    "DEFAULT_THRESHOLD", "TIGHT_THRESHOLD", "LOOSE_THRESHOLD",
    "boxes_from_maps", "heuristic_guesses", "whole_frame_box", "box_masks",
    "box_iou", "check_boxes_tensor", "pad_boxes",
]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``(..., N, M)`` of inclusive pixel boxes ``a (..., N, 4)`` and ``b (..., M, 4)``.

    The +1 pixel convention of the ILSVRC devkit: a box ``[x0, y0, x1, y1]`` covers ``(x1 - x0 + 1) *
    (y1 - y0 + 1)`` pixels. Computed in float64 so integer-pixel boxes of any image size give exact areas.
    """
    a, b = a.double()[..., :, None, :], b.double()[..., None, :, :]
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]) + 1).clamp_min(0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]) + 1).clamp_min(0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    return inter / (area_a + area_b - inter)


def check_boxes_tensor(name: str, boxes: torch.Tensor, valid: torch.Tensor | None = None,
                       valid_name: str = "valid") -> None:
    """Check the one box convention of every metric (conventions.md): ``boxes (..., 4)`` are inclusive 0-based
    pixel boxes ``[x0, y0, x1, y1]`` with finite coordinates, ``x1 >= x0`` and ``y1 >= y0``, scored by
    :func:`box_iou` (+1 convention). ``valid (...)``: only the boxes where it is True must follow it (padded
    ground-truth rows may hold anything). Raises :class:`BadInputError` naming ``name`` (or ``valid_name``, the
    caller's name of the mask), the index of the first bad box and its value; NaN coordinates are bad."""
    if not isinstance(boxes, torch.Tensor) or boxes.dim() < 1 or boxes.shape[-1] != 4:
        raise BadInputError(f"parameter {name}: {name} must be a tensor of boxes (..., 4), got shape "
                            f"{tuple(getattr(boxes, 'shape', ()))}", param=name)
    boxes = boxes.detach()
    bad = ~(torch.isfinite(boxes).all(-1) & (boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1]))
    if valid is not None:
        if not isinstance(valid, torch.Tensor) or valid.shape != boxes.shape[:-1]:
            raise BadInputError(f"parameter {valid_name}: the validity mask of {name} must have shape "
                                f"{tuple(boxes.shape[:-1])}, got {tuple(getattr(valid, 'shape', ()))}",
                                param=valid_name)
        bad &= valid.to(device=bad.device, dtype=torch.bool)
    if bool(bad.any()):
        index = [int(i) for i in bad.nonzero()[0]]
        raise BadInputError(f"parameter {name}: {name}{index} = {boxes[tuple(index)].tolist()} is not an inclusive "
                            f"box [x0, y0, x1, y1] with finite coordinates, x1 >= x0 and y1 >= y0", param=name)


def pad_boxes(boxes: list, labels: list | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Stack per-image ground-truth boxes ``(n_i, 4)`` into float64 ``(B, M, 4)`` with a validity mask ``(B, M)``
    (and their labels into ``(B, M)``, padded with -1), so metrics run on whole batches. A degenerate box
    (``x1 < x0`` or ``y1 < y0``, e.g. cropped out of the frame) is marked invalid."""
    m = max([len(b) for b in boxes] + [1])
    out = torch.zeros(len(boxes), m, 4, dtype=torch.float64)
    valid = torch.zeros(len(boxes), m, dtype=torch.bool)
    out_labels = torch.full((len(boxes), m), -1, dtype=torch.int64) if labels is not None else None
    for i, b in enumerate(boxes):
        b = torch.as_tensor(b, dtype=torch.float64).reshape(-1, 4)
        out[i, :len(b)] = b
        valid[i, :len(b)] = (b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1])
        if labels is not None:
            out_labels[i, :len(b)] = torch.as_tensor(labels[i], dtype=torch.int64)
    return out, valid, out_labels


def _check_maps(maps: torch.Tensor) -> None:
    if not isinstance(maps, torch.Tensor) or maps.dim() < 2:
        raise BadInputError(f"parameter maps: must be a tensor of shape (..., H, W), got {type(maps).__name__} "
                            f"with shape {tuple(getattr(maps, 'shape', ()))}", param="maps")
    if maps.is_floating_point() and bool(torch.isnan(maps).any()):
        raise BadInputError("parameter maps: the maps contain NaN values", param="maps")


def _check_threshold(threshold: float, param: str = "threshold") -> float:
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise BadInputError(f"parameter {param}={threshold!r}: must be in [0, 1] (maps are min-max normalised)",
                            param=param)
    return threshold


def box_masks(boxes: torch.Tensor, valid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(B, H, W)`` bool: the pixels of a ``height x width`` frame inside any valid inclusive box of each image
    (``boxes (B, M, 4)``, ``valid (B, M)``), on the boxes' device."""
    ys = torch.arange(height, dtype=torch.float64, device=boxes.device)[None, None, :, None]
    xs = torch.arange(width, dtype=torch.float64, device=boxes.device)[None, None, None, :]
    b = boxes.double()[..., None, None]
    inside = (xs >= b[:, :, 0]) & (xs <= b[:, :, 2]) & (ys >= b[:, :, 1]) & (ys <= b[:, :, 3])
    return (inside & valid.bool()[:, :, None, None]).any(1)


def whole_frame_box(height: int, width: int) -> np.ndarray:
    """The box of the whole ``height x width`` frame, used when a mask is empty."""
    return np.array([0, 0, width - 1, height - 1], dtype=np.int64)


def boxes_from_maps(maps: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> torch.Tensor:
    """Boxes ``(..., 4)`` (int64, on the maps' device) of a batch of normalised maps ``(..., H, W)``: the box of the
    largest 8-connected component of ``map >= threshold`` of each map (the whole frame for an empty mask). On
    another device than the CPU the masks are made there and only the boolean masks cross to the CPU."""
    _check_maps(maps)
    return _boxes_from_maps(maps, _check_threshold(threshold))


def _boxes_from_maps(maps: torch.Tensor, threshold: float) -> torch.Tensor:
    """:func:`boxes_from_maps` without its checks, for maps that a map method normalised (no NaN: a pass over every
    map saved per batch)."""
    lead, (height, width) = maps.shape[:-2], maps.shape[-2:]
    if maps.device.type == "cpu" and maps.dtype == torch.float32:   # thresholded while stacked for the labeller
        owner, boxes, area = _label_stack(maps.detach().reshape(-1, height, width).numpy(), threshold)
    else:   # only the boolean masks cross to the CPU
        owner, boxes, area = _label_stack((maps >= threshold).reshape(-1, height, width).cpu().numpy())
    out = np.tile(whole_frame_box(height, width), (math.prod(lead), 1))   # empty masks keep the whole frame
    pick = np.lexsort((-area, owner))            # by map, then most pixels, then label (raster order)
    pick = pick[np.r_[True, owner[pick][1:] != owner[pick][:-1]]] if len(pick) else pick
    out[owner[pick]] = boxes[pick]
    return torch.from_numpy(out).reshape(*lead, 4).to(maps.device)


def _label_stack(masks: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The components of a stack of masks ``(N, H, W)`` (bool; or float32 maps with ``threshold``: the masks are
    ``maps >= threshold`` compared in float32, as torch compares them), in ONE OpenCV call: each component's map
    ``(n,)`` (sorted), box ``(n, 4)`` and pixel count ``(n,)``, in raster order within each map."""
    count, height, width = masks.shape
    if count == 0:
        return np.zeros(0, np.int64), np.zeros((0, 4), np.int64), np.zeros(0, np.int64)
    stacked = np.zeros((count, height + 1, width), bool)   # an empty row after each map: nothing crosses
    if threshold is None:
        stacked[:, :height] = masks
    else:
        np.greater_equal(masks, np.float32(threshold), out=stacked[:, :height])
    n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(stacked.view(np.uint8).reshape(-1, width), 8,
                                                                   cv2.CV_32S, cv2.CCL_WU)
    x, y, w, h, area = stats[1:n].astype(np.int64).T
    owner, y = y // (height + 1), y % (height + 1)
    return owner, np.stack([x, y, x + w - 1, y + h - 1], axis=1), area


def heuristic_guesses(classes: torch.Tensor, maps: torch.Tensor, tight: float = TIGHT_THRESHOLD,
                      loose: float = LOOSE_THRESHOLD) -> tuple[torch.Tensor, torch.Tensor]:
    """The test-set heuristic of Table 3: five (class, box) guesses per image.

    From the CAMs of the top-1 and top-2 classes, one tight box (``map >= tight``) and one loose box
    (``map >= loose``) each; from the top-3 class, one loose box. ``classes``: ``(B, >=3)`` predicted classes in
    rank order; ``maps``: ``(B, >=3, H, W)`` their normalised CAMs. Returns ``classes (B, 5)`` and
    ``boxes (B, 5, 4)`` in the order top1-tight, top1-loose, top2-tight, top2-loose, top3-loose.
    """
    if classes.dim() != 2 or classes.shape[1] < 3 or maps.dim() != 4 or maps.shape[:2] != classes.shape:
        bad = "classes" if classes.dim() != 2 or classes.shape[1] < 3 else "maps"
        raise BadInputError(f"parameter {bad}: heuristic_guesses needs classes (B, k>=3) and maps (B, k, H, W), got "
                            f"{tuple(classes.shape)} and {tuple(maps.shape)}", param=bad)
    tight, loose = _check_threshold(tight, "tight"), _check_threshold(loose, "loose")
    if tight < loose:
        raise BadInputError(f"parameter tight={tight!r}: the tight threshold must be >= the loose threshold "
                            f"({loose})", param="tight")
    tight_boxes = boxes_from_maps(maps[:, :2], tight)
    loose_boxes = boxes_from_maps(maps[:, :3], loose)
    boxes = torch.stack([tight_boxes[:, 0], loose_boxes[:, 0], tight_boxes[:, 1], loose_boxes[:, 1],
                         loose_boxes[:, 2]], dim=1)
    guess_classes = classes[:, [0, 0, 1, 1, 2]]
    return guess_classes, boxes
