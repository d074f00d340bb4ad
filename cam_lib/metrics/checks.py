"""Input checks shared by the metrics of Tables 1-4 (classification, localization, MaxBoxAcc): shapes, batch
sizes, and the box convention of :func:`cam_lib.boxes.check_boxes_tensor` for the ground truth."""

from __future__ import annotations

import torch

from ..boxes import check_boxes_tensor
from ..errors import BadInputError

__all__ = ["check_batch", "check_gt"]


def check_batch(name: str, tensor: torch.Tensor, dims: int, batch: int | None = None) -> None:
    """``tensor`` is a ``dims``-D tensor (with ``batch`` rows, when given); the message names ``name``."""
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != dims:
        raise BadInputError(f"parameter {name}: must be a {dims}-D tensor, got shape "
                            f"{tuple(getattr(tensor, 'shape', ()))}", param=name)
    if batch is not None and tensor.shape[0] != batch:
        raise BadInputError(f"parameter {name}: has batch size {tensor.shape[0]}, expected {batch}", param=name)


def check_gt(gt_boxes: torch.Tensor, gt_valid: torch.Tensor, batch: int) -> None:
    """Padded ground truth ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)`` of ``batch`` images; every VALID box follows
    the box convention (padded rows may hold anything)."""
    check_batch("gt_boxes", gt_boxes, 3, batch)
    check_batch("gt_valid", gt_valid, 2, batch)
    if gt_boxes.shape[-1] != 4 or gt_valid.shape != gt_boxes.shape[:2]:
        bad = "gt_boxes" if gt_boxes.shape[-1] != 4 else "gt_valid"
        raise BadInputError(f"parameter {bad}: gt_boxes (B, M, 4) and gt_valid (B, M) disagree: "
                            f"{tuple(gt_boxes.shape)}, {tuple(gt_valid.shape)}", param=bad)
    check_boxes_tensor("gt_boxes", gt_boxes, gt_valid, valid_name="gt_valid")
    # An image with no valid box (every box cropped out of the frame) counts as a miss, never as a hit.
