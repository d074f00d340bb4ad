"""What every dataset shares: image decoding with clear errors, the box-aware evaluation frame, batching.

Boxes in this project are inclusive pixel boxes ``[x0, y0, x1, y1]`` (conventions.md). torchvision's
``tv_tensors.BoundingBoxes`` are continuous ``XYXY`` boxes, so a box enters the transforms as
``[x0, y0, x1 + 1, y1 + 1]`` and leaves as ``[x0, y0, x1 - 1, y1 - 1]``: a box over the whole stored image
maps exactly onto the whole evaluated frame, whatever the resize factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torchvision import tv_tensors
from torchvision.transforms import v2

from ..boxes import pad_boxes
from ..errors import BadInputError

FRAMES = ("resize", "center_crop")
IMAGE_SIZE = 224


def load_image(path: str | Path) -> Image.Image:
    """Decode an RGB image; a missing, corrupt or truncated file raises BadInputError naming it."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")  # convert() forces the full decode: truncated files fail here
    except FileNotFoundError:
        raise BadInputError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{path}: cannot decode image ({e})") from None


def eval_transform(frame: str = "resize", size: int = IMAGE_SIZE) -> v2.Transform:
    """The evaluated image frame (conventions.md): ``"resize"`` (the whole image to ``size x size``, default) or
    ``"center_crop"`` (resize the short side to ``size * 256 / 224``, center crop ``size``). Boxes follow."""
    if frame not in FRAMES:
        raise BadInputError(f"frame must be one of {FRAMES}, got {frame!r}")
    geometry = ([v2.Resize((size, size))] if frame == "resize"
                else [v2.Resize(round(size * 256 / 224)), v2.CenterCrop(size)])
    return v2.Compose([v2.ToImage(), *geometry, v2.ClampBoundingBoxes(), v2.ToDtype(torch.float32, scale=True)])


def make_sample(image: Image.Image, boxes: torch.Tensor, label: int, index: int, transform: v2.Transform
                ) -> tuple[torch.Tensor, dict]:
    """Apply ``transform`` to an image and its inclusive boxes ``(n, 4)``; returns ``(image, target)`` with
    ``target = {"label", "boxes" (inclusive, in the output frame), "index"}``."""
    cont = boxes.double().reshape(-1, 4) + torch.tensor([0, 0, 1, 1], dtype=torch.float64)
    bb = tv_tensors.BoundingBoxes(cont.float(), format="XYXY", canvas_size=(image.height, image.width))
    img, bb = transform(image, bb)
    out = bb.as_subclass(torch.Tensor).double() - torch.tensor([0, 0, 1, 1], dtype=torch.float64)
    return img, {"label": int(label), "boxes": out, "index": int(index)}


@dataclass
class Skipped:
    """A sample that could not be loaded, returned instead of raising when a dataset runs with skip_bad."""

    index: int
    path: str
    reason: str


@dataclass
class Batch:
    images: torch.Tensor            # (B, 3, H, W) float in [0, 1]
    labels: torch.Tensor            # (B,) int64, -1 when the dataset has no labels
    gt_boxes: torch.Tensor          # (B, M, 4) float64 inclusive boxes in the image frame
    gt_valid: torch.Tensor          # (B, M) bool
    indices: torch.Tensor           # (B,) dataset indices
    skipped: list[Skipped] = field(default_factory=list)

    def pin_memory(self) -> "Batch":
        self.images = self.images.pin_memory()
        return self


def collate(samples: list) -> Batch:
    """Batch ``(image, target)`` samples, setting aside :class:`Skipped` ones (counted by the caller)."""
    skipped = [s for s in samples if isinstance(s, Skipped)]
    good = [s for s in samples if not isinstance(s, Skipped)]
    if not good:
        return Batch(torch.zeros(0, 3, 1, 1), torch.zeros(0, dtype=torch.int64), torch.zeros(0, 1, 4),
                     torch.zeros(0, 1, dtype=torch.bool), torch.zeros(0, dtype=torch.int64), skipped)
    gt_boxes, gt_valid, _ = pad_boxes([t["boxes"] for _, t in good])
    return Batch(images=torch.stack([im for im, _ in good]),
                 labels=torch.tensor([t["label"] for _, t in good], dtype=torch.int64),
                 gt_boxes=gt_boxes, gt_valid=gt_valid,
                 indices=torch.tensor([t["index"] for _, t in good], dtype=torch.int64), skipped=skipped)
