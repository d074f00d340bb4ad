"""Class Activation Mapping (Sec. 2 of the paper, Fig. 2).

For a GAP network with last-conv features ``f_k(x, y)`` and classifier weights ``w[c, k]``, the CAM of class
``c`` is ``M_c(x, y) = sum_k w[c, k] f_k(x, y)`` (no bias). It comes from the same forward pass that gives the
logits: :meth:`cam_lib.models.CAMNet.forward_features` returns both, so a CAM costs one small matrix product
on top of classification, with no backward pass and no hooks.

Conventions (conventions.md, pinned by tests/test_cam.py): maps are upsampled bilinearly
(``align_corners=False``) to the evaluated image frame, then min-max normalised per map to [0, 1]; a constant
map becomes all zeros. All tensor work stays on the model's device.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from .errors import BadInputError

__all__ = ["CAMModel", "FRAMES", "check_images", "model_dtype", "MapOutput", "class_activation_maps", "normalize_maps", "map_floor", "upsample_maps",
           "select_classes", "chosen_classes", "compute_cams", "ten_crop_geometry", "ten_crop_size", "ten_crops", "merge_ten_crop_maps"]

# The evaluated frames (conventions.md): the whole image resized, a center crop, or the official ten crops.
FRAMES = ("resize", "center_crop", "ten_crop")


@runtime_checkable
class CAMModel(Protocol):
    """What a network must provide for CAM (every :class:`cam_lib.models.CAMNet` with a global pooling head does).

    ``forward_features(x)``: ONE forward pass of RGB images in [0, 1] giving ``(logits (B, C), fmap (B, K, h, w))``,
    the normalisation (``mean``, ``std``) applied inside; ``cam_weights``: the ``(C, K)`` classifier weights that
    follow the global pooling (TypeError for a network with FC layers after its last conv); ``num_classes``: C.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    @property
    def cam_weights(self) -> torch.Tensor: ...

    @property
    def num_classes(self) -> int: ...


def _check_classes(classes: torch.Tensor, num_classes: int, batch: int, param: str = "classes") -> torch.Tensor:
    """``classes`` as ``(B, n)`` int64 indices; ``param``: the caller's parameter that gave them (errors name it)."""
    if classes.dim() == 1:
        classes = classes[:, None]
    if classes.dim() != 2 or classes.shape[0] != batch:
        raise BadInputError(f"parameter {param}: must have shape (B,) or (B, n) with B={batch}, got "
                            f"{tuple(classes.shape)}", param=param)
    if classes.is_floating_point():
        raise BadInputError(f"parameter {param}: must be integer class indices, got dtype {classes.dtype}",
                            param=param)
    if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= num_classes):
        bad = classes[(classes < 0) | (classes >= num_classes)][0].item()
        raise BadInputError(f"parameter {param}: class index {bad} out of range for a model with {num_classes} "
                            "classes", param=param)
    return classes.long()


def class_activation_maps(fmap: torch.Tensor, weights: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Raw CAMs ``(B, n, h, w)``: ``M[b, i] = sum_k weights[classes[b, i], k] * fmap[b, k]``.

    ``fmap``: ``(B, K, h, w)`` last conv features; ``weights``: ``(C, K)`` classifier weights;
    ``classes``: ``(B,)`` or ``(B, n)`` class indices (checked against ``C``).
    """
    if fmap.dim() != 4 or weights.dim() != 2 or fmap.shape[1] != weights.shape[1]:
        bad = "fmap" if fmap.dim() != 4 else "weights"
        raise BadInputError(f"parameter {bad}: fmap (B, K, h, w) and weights (C, K) must agree on K, got "
                            f"{tuple(fmap.shape)} and {tuple(weights.shape)}", param=bad)
    classes = _check_classes(classes, weights.shape[0], fmap.shape[0])
    w = weights[classes].to(fmap.dtype)  # (B, n, K)
    return torch.einsum("bnk,bkhw->bnhw", w, fmap)


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling (``align_corners=False``) of ``(B, n, h, w)`` maps to ``size = (H, W)``."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps.float(), size=tuple(size), mode="bilinear", align_corners=False)


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each map (last two dims) to [0, 1]; a constant map becomes all zeros."""
    flat = maps.float().flatten(-2)
    lo, hi = flat.aminmax(dim=-1, keepdim=True)
    span = hi - lo
    out = (flat - lo).div_(span.clamp_min(torch.finfo(flat.dtype).tiny))   # two passes over the maps, not six
    flat_maps = ~(span > 0)   # constant (or NaN) maps
    if bool(flat_maps.any()):
        out.masked_fill_(flat_maps, 0.0)
    return out.view(maps.shape)


def map_floor(maps: torch.Tensor) -> torch.Tensor:
    """How far below zero each RAW map (last two dims) reaches, as a fraction of its maximum: ``-min / max``,
    0 where the map has no negative value (the last dims reduced; NaN where the maximum is not positive).

    Min-max normalisation (the conventions) puts a map's zero at ``floor / (1 + floor)`` of its range, so a threshold
    tau keeps a different share of the positive evidence on each image whose floor differs: what separates CAM
    from Grad-CAM (CAM without its negative part) on a GAP network (notebook 07)."""
    flat = maps.float().flatten(-2)
    low, high = flat.aminmax(dim=-1)
    floor = (-low).clamp_min(0) / high
    return torch.where(high > 0, floor, torch.full_like(floor, float("nan")))


def select_classes(logits: torch.Tensor, classes: str | int | torch.Tensor, targets: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Class indices ``(B, n)`` for which to compute maps.

    ``classes``: ``"top1"``, ``"top5"``, an int ``k`` (top-k predictions, rank order), ``"gt"`` (``targets``,
    the ground-truth classes), or a tensor ``(B,)``/``(B, n)`` of given indices.
    """
    batch, num_classes = logits.shape
    if isinstance(classes, torch.Tensor):
        return _check_classes(classes.to(logits.device), num_classes, batch)
    if classes == "gt":
        if targets is None:
            raise BadInputError("parameter targets=None: classes='gt' needs targets (the ground-truth class of each "
                                "image)", param="targets")
        return _check_classes(targets.to(logits.device), num_classes, batch, "targets")
    if isinstance(classes, str) and classes.startswith("top") and classes[3:].isdigit():
        classes = int(classes[3:])
    if isinstance(classes, bool) or not isinstance(classes, int) or not 1 <= classes <= num_classes:
        raise BadInputError(f"parameter classes={classes!r}: must be 'top1', 'top5', 'gt', an int k in "
                            f"[1, {num_classes}] or a tensor", param="classes")
    return logits.topk(classes, dim=1).indices


@dataclass
class MapOutput:
    """Logits, the chosen classes and their maps (CAM or saliency), all on the model's device."""

    logits: torch.Tensor   # (B, C)
    classes: torch.Tensor  # (B, n) the classes whose maps were computed
    maps: torch.Tensor     # (B, n, H, W) upsampled, normalised CAMs in [0, 1]


TEN_CROP_BATCH = 20   # about this many crops per forward pass with frame="ten_crop" (2 images: ten crops each)
_RANGE_SLACK = 1e-3   # resampling (bilinear, antialias) may overshoot [0, 1] by rounding


def model_dtype(model) -> torch.dtype:
    """The floating type a network computes in: its normalisation buffer's, else its first parameter's."""
    mean = getattr(model, "mean", None)
    if isinstance(mean, torch.Tensor):
        return mean.dtype
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return param.dtype if param is not None and param.is_floating_point() else torch.float32


def check_images(images: torch.Tensor, param: str = "images", dtype: torch.dtype | None = None) -> torch.Tensor:
    """The entry check of every map: ``images (B, 3, H, W)`` RGB in [0, 1]. ``uint8`` images (0..255) are converted
    to float in [0, 1] (``/ 255``); other integer types, non-finite pixels, and floats outside [0, 1] (e.g. 0..255
    floats, or already mean/std-normalised images: the models normalise internally) raise BadInputError naming
    the first bad image. One reduction over the batch, on its device. ``dtype``: the float type to return (the
    model's, :func:`model_dtype`: float16 or float64 input is cast to it)."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise BadInputError(f"parameter {param}: must be a (B, 3, H, W) RGB tensor, got {shape}", param=param)
    if images.dtype == torch.uint8:
        return images.to(dtype or torch.float32).div_(255)
    if not images.is_floating_point():
        raise BadInputError(f"parameter {param}: dtype {images.dtype}; expected float in [0, 1] or uint8 in 0..255",
                            param=param)
    if images.numel() == 0:
        return images
    low, high = images.detach().flatten(1).aminmax(dim=1)   # one pass: NaN propagates, inf is out of range
    bad = ~((low >= -_RANGE_SLACK) & (high <= 1 + _RANGE_SLACK))
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        finite = bool(torch.isfinite(images[i]).all())
        what = "has NaN or infinite pixels" if not finite else \
            f"has values in [{float(low[i]):.4g}, {float(high[i]):.4g}]"
        raise BadInputError(f"parameter {param}: image {i} of the batch {what}; expected RGB floats in [0, 1] "
                            "(divide 0..255 images by 255; do not normalise by mean/std: the models do)", param=param)
    return images if dtype is None else images.to(dtype)


@torch.inference_mode()
def compute_cams(model: CAMModel, images: torch.Tensor, classes: str | int | torch.Tensor = "top1",
                 targets: torch.Tensor | None = None, extra: torch.Tensor | None = None, frame: str = "resize",
                 crop_size: int | None = None, size: tuple[int, int] | None = None,
                 normalize: bool = True, crop_batch: int = TEN_CROP_BATCH) -> MapOutput:
    """Logits and CAMs from one forward pass of a GAP/GMP network: THE extractor every map of the project comes from.

    ``images``: ``(B, 3, H, W)`` RGB in [0, 1] (or uint8 in 0..255) on the model's device, checked by
    :func:`check_images`. ``classes``: see :func:`select_classes`;
    ``extra``: ``(B,)`` or ``(B, m)`` more class indices (e.g. the ground truth) whose maps come from the same
    features, appended after the chosen ones. ``frame``: ``"resize"`` or ``"center_crop"`` evaluate the images as
    they are (the data transform made the frame); ``"ten_crop"`` takes square images (``256 x 256`` for 224 crops),
    averages the logits of their ten ``crop_size`` crops (default :func:`ten_crop_size`) and merges the crops' maps
    onto the image (:func:`merge_ten_crop_maps`), as the official CAM code does. ``size``: the frame the maps are
    upsampled to (default: the input's ``(H, W)``; not with ten crops). ``normalize=False`` keeps raw maps.
    ``crop_batch``: with ten crops, about how many crops go through the network at once (groups of
    ``crop_batch // 10`` images: a memory bound that does not change the numbers).
    """
    if frame not in FRAMES:
        raise BadInputError(f"parameter frame={frame!r}: choose one of {', '.join(FRAMES)}", param="frame")
    images = check_images(images, dtype=model_dtype(model))
    with eval_mode(model):   # a model in training mode: evaluated in eval mode, handed back in training mode
        return _compute_cams(model, images, classes, targets, extra, frame, crop_size, size, normalize, crop_batch)


@contextmanager
def eval_mode(model):
    """``model`` in eval mode inside the block and in the mode it had afterwards: in training mode BatchNorm would
    update its running statistics and normalise with the batch's, and dropout would drop features."""
    was = bool(getattr(model, "training", False))
    if was:
        model.eval()
    try:
        yield model
    finally:
        if was:
            model.train()


def _compute_cams(model, images, classes, targets, extra, frame, crop_size, size, normalize, crop_batch) -> MapOutput:
    """:func:`compute_cams` on checked images, the model in eval mode."""
    weights = model.cam_weights  # raises TypeError for FC networks: CAM needs a GAP/GMP network
    if frame == "ten_crop":
        if size is not None:
            raise BadInputError("parameter size: ten-crop maps are merged onto the images' own frame", param="size")
        if isinstance(crop_batch, bool) or not isinstance(crop_batch, int) or crop_batch < 1:
            raise BadInputError(f"parameter crop_batch={crop_batch!r}: must be an integer >= 1", param="crop_batch")
        # groups of images whose crops go through the network crop_batch at a time: memory bounded whatever the
        # batch size, and the same numbers (in eval mode an image's maps do not depend on the other images)
        group = max(1, crop_batch // 10)
        parts = [_ten_crop_cams(model, weights, images[lo:lo + group], _rows(classes, lo, group),
                                _rows(targets, lo, group), _rows(extra, lo, group), crop_size, normalize)
                 for lo in range(0, images.shape[0], group)]
        return MapOutput(*(torch.cat(field) for field in zip(*((p.logits, p.classes, p.maps) for p in parts))))
    logits, fmap = model.forward_features(images)
    chosen = chosen_classes(logits, classes, targets, extra)
    maps = upsample_maps(class_activation_maps(fmap, weights, chosen), size or tuple(images.shape[-2:]))
    return MapOutput(logits=logits, classes=chosen, maps=normalize_maps(maps) if normalize else maps.float())


def _rows(x, lo: int, n: int):
    """Rows ``lo:lo + n`` of a per-image tensor (``classes`` given as a tensor, ``targets``, ``extra``); else ``x``."""
    return x[lo:lo + n] if isinstance(x, torch.Tensor) else x


def chosen_classes(logits: torch.Tensor, classes, targets=None, extra=None) -> torch.Tensor:
    """``(B, n)``: the classes a map method maps, :func:`select_classes` of ``classes`` (and ``targets``), then the
    columns of ``extra`` (e.g. the ground truth), all on the logits' device: the one rule of every map method."""
    chosen = select_classes(logits, classes, targets)
    if extra is not None:
        chosen = torch.cat([chosen, select_classes(logits, extra.to(chosen.device))], dim=1)
    return chosen


def _ten_crop_cams(model, weights, images, classes, targets, extra, crop_size, normalize) -> MapOutput:
    """:func:`compute_cams` with ten crops for one group of images: the crops' logits averaged, their maps merged
    onto the images' frame (:func:`merge_ten_crop_maps`)."""
    crop_size = ten_crop_size(images.shape[-1]) if crop_size is None else crop_size
    crop_logits, fmap = model.forward_features(ten_crops(images, crop_size))
    logits = crop_logits.view(images.shape[0], 10, -1).mean(1)
    chosen = chosen_classes(logits, classes, targets, extra)
    crop_maps = upsample_maps(class_activation_maps(fmap, weights, chosen.repeat_interleave(10, 0)),
                              (crop_size, crop_size))
    maps = merge_ten_crop_maps(crop_maps.view(images.shape[0], 10, *crop_maps.shape[1:]), images.shape[-1])
    return MapOutput(logits=logits, classes=chosen, maps=normalize_maps(maps) if normalize else maps.float())


def ten_crop_geometry(full: int, size: int) -> list[tuple[int, int, bool]]:
    """``(top, left, flipped)`` of the ten crops of a ``full x full`` image: four corners and the center, then
    the same five mirrored (the official CAM evaluation: 256x256 images, 224 crops)."""
    c = (full - size) // 2
    five = [(0, 0), (0, full - size), (full - size, 0), (full - size, full - size), (c, c)]
    return [(t, l, False) for t, l in five] + [(t, l, True) for t, l in five]


def ten_crop_size(full: int) -> int:
    """The crop size of a ``full x full`` ten-crop frame: 224 for 256 (the official 224 / 256 ratio)."""
    return round(full * 224 / 256)


def ten_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    """``(B * 10, 3, size, size)``: the ten crops of square images ``(B, 3, F, F)`` (corners, center, mirrored;
    :func:`ten_crop_geometry`), cut on the images' device."""
    if images.shape[-2] != images.shape[-1] or images.shape[-1] < size:
        raise BadInputError(f"parameter images: ten crops of {size} px need square images of at least {size} px, got "
                            f"{tuple(images.shape[-2:])}", param="images")
    crops = []
    for top, left, flipped in ten_crop_geometry(images.shape[-1], size):
        crop = images[..., top:top + size, left:left + size]
        crops.append(crop.flip(-1) if flipped else crop)
    return torch.stack(crops, dim=1).flatten(0, 1)


def merge_ten_crop_maps(maps: torch.Tensor, full: int) -> torch.Tensor:
    """Merge per-crop maps ``(B, 10, n, S, S)`` (already upsampled to the crop size) onto the ``full x full`` image
    as the official CAM code does: un-mirror, paste each crop at its place, average where crops overlap.
    Returns ``(B, n, full, full)`` (raw, not normalised)."""
    size = maps.shape[-1]
    total = maps.new_zeros(*maps.shape[:1], *maps.shape[2:3], full, full)
    count = maps.new_zeros(full, full)
    for i, (top, left, flipped) in enumerate(ten_crop_geometry(full, size)):
        crop = maps[:, i].flip(-1) if flipped else maps[:, i]
        total[..., top:top + size, left:left + size] += crop
        count[top:top + size, left:left + size] += 1
    return total / count.clamp_min(1)
