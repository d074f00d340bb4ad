"""Weakly-supervised localization with CAM or Backprop (Sec. 4.2 of the paper, Tables 2 and 3).

:func:`localize_batch` turns one batch into ranked (class, box) guesses and the ground-truth class's map, from
ONE forward pass for CAM (the top-k maps and the ground-truth map are one matrix product on the same features).
:func:`evaluate` streams a dataset through it into the metrics of :mod:`cam_lib.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD, boxes_from_maps, heuristic_guesses
from .cam import class_activation_maps, merge_ten_crop_maps, normalize_maps, ten_crops, upsample_maps
from .errors import BadInputError
from .metrics import ClassificationError, GTKnownLocalization, LocalizationError, MaxBoxAcc, threshold_grid
from .saliency import backprop_saliency

METHODS = ("cam", "backprop")

__all__ = ["METHODS", "Localization", "localize_batch", "evaluate", "evaluate_heuristic"]


@dataclass
class Localization:
    """Everything one batch gives, on the model's device."""

    logits: torch.Tensor            # (B, C)
    classes: torch.Tensor           # (B, k) top-k predicted classes, rank order
    maps: torch.Tensor              # (B, k, H, W) their normalised maps
    boxes: torch.Tensor             # (B, k, 4) their boxes at the threshold
    gt_maps: torch.Tensor | None    # (B, H, W) the ground-truth class's map, when targets were given
    gt_boxes: torch.Tensor | None   # (B, 4) its box


def _check_targets(targets: torch.Tensor, num_classes: int) -> None:
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
        bad = targets[(targets < 0) | (targets >= num_classes)][0].item()
        raise BadInputError(f"class index {bad} out of range for a model with {num_classes} classes")


def localize_batch(model: torch.nn.Module, images: torch.Tensor, topk: int = 5,
                   threshold: float = DEFAULT_THRESHOLD, targets: torch.Tensor | None = None,
                   method: str = "cam", crop_size: int | None = None) -> Localization:
    """Top-``topk`` classes with their maps and boxes, plus the ground-truth class's map and box if ``targets``.

    ``method="cam"``: one forward pass, no backward pass. ``method="backprop"``: one forward pass and one
    backward pass per map (the baseline of Table 2). ``crop_size``: evaluate ten crops of that size of the
    (square) images, as the official CAM code does (images resized to 256x256, 224 crops)."""
    if method not in METHODS:
        raise BadInputError(f"method must be one of {METHODS}, got {method!r}")
    if crop_size is not None and method != "cam":
        raise BadInputError("ten-crop evaluation is implemented for CAM (method='cam')")
    if method == "cam":
        with torch.inference_mode():
            weights = model.cam_weights  # TypeError for FC networks
            if crop_size is None:
                logits, fmap = model.forward_features(images)
            else:  # the official 10-crop protocol: average the crops' logits, merge their maps onto the image
                crop_logits, fmap = model.forward_features(ten_crops(images, crop_size))
                logits = crop_logits.view(images.shape[0], 10, -1).mean(1)
            k = min(topk, logits.shape[1])
            classes = logits.topk(k, dim=1).indices
            if targets is not None:
                _check_targets(targets, logits.shape[1])
                classes = torch.cat([classes, targets.to(classes.device)[:, None]], dim=1)
            if crop_size is None:
                maps = upsample_maps(class_activation_maps(fmap, weights, classes), images.shape[-2:])
            else:
                crop_maps = upsample_maps(class_activation_maps(fmap, weights, classes.repeat_interleave(10, 0)),
                                          (crop_size, crop_size))
                maps = merge_ten_crop_maps(crop_maps.view(images.shape[0], 10, *crop_maps.shape[1:]),
                                           images.shape[-1])
            maps = normalize_maps(maps)
    else:
        k = min(topk, model.num_classes)
        if targets is not None:
            _check_targets(targets, model.num_classes)
        out = backprop_saliency(model, images, k, extra=targets)   # one forward pass, one backward per map
        logits, classes, maps = out.logits, out.classes, out.maps
    boxes = boxes_from_maps(maps, threshold)
    if targets is None:
        return Localization(logits, classes, maps, boxes, None, None)
    return Localization(logits, classes[:, :k], maps[:, :k], boxes[:, :k], maps[:, k], boxes[:, k])


def evaluate(model: torch.nn.Module, loader, device: torch.device | str = "cpu", method: str = "cam",
             threshold: float = DEFAULT_THRESHOLD, topk: int = 5, cam_step: float = 0.01,
             progress: bool = True, on_batch=None, crop_size: int | None = None) -> dict:
    """Stream a labelled dataset through :func:`localize_batch`; returns fractions in [0, 1]:
    ``n``, ``top1_cls_err``, ``top5_cls_err``, ``top1_loc_err``, ``top5_loc_err``, ``gt_known_loc_acc``,
    ``maxboxacc_v2`` (and ``maxboxacc_v2_detail``), plus ``skipped`` (a list of
    :class:`~cam_lib.data.common.Skipped`). ``on_batch(batch, localization)`` is called after each batch."""
    device = torch.device(device)
    model.eval().to(device)
    cls_err, loc_err = ClassificationError((1, min(5, model.num_classes))), LocalizationError()
    gt_known, maxbox = GTKnownLocalization(), MaxBoxAcc(threshold_grid(cam_step))
    skipped, n = [], 0
    for batch in tqdm(loader, desc=f"localize ({method})", unit="batch", disable=not progress):
        skipped.extend(batch.skipped)
        if len(batch.labels) == 0:
            continue
        images = batch.images.to(device, non_blocking=True)
        targets = batch.labels.to(device)
        out = localize_batch(model, images, topk=topk, threshold=threshold, targets=targets, method=method,
                             crop_size=crop_size)
        cls_err.update(out.logits, targets)
        loc_err.update(out.classes, out.boxes, targets, batch.gt_boxes, batch.gt_valid)
        gt_known.update(out.gt_boxes, batch.gt_boxes, batch.gt_valid)
        maxbox.update(out.gt_maps, batch.gt_boxes, batch.gt_valid)
        n += len(targets)
        if on_batch is not None:
            on_batch(batch, out)
    if n == 0:
        raise BadInputError(f"no images were evaluated ({len(skipped)} skipped)")
    cls, loc, box = cls_err.compute(), loc_err.compute(), maxbox.compute()
    return {"n": n, "top1_cls_err": cls["top1_cls_err"], "top5_cls_err": list(cls.values())[-1],
            "top1_loc_err": loc["top1_loc_err"], "top5_loc_err": loc["top5_loc_err"],
            **gt_known.compute(), "maxboxacc_v2": box["maxboxacc"], "maxboxacc_v2_detail": box,
            "skipped": skipped}


def evaluate_heuristic(model: torch.nn.Module, loader, device: torch.device | str = "cpu",
                       threshold: float = DEFAULT_THRESHOLD, progress: bool = True) -> dict:
    """Table 3: top-5 localization error of the plain top-5 (class, box) guesses and of the tight/loose heuristic
    (:func:`cam_lib.boxes.heuristic_guesses`), both from the same forward pass and the same top-3 CAMs."""
    device = torch.device(device)
    model.eval().to(device)
    if model.num_classes < 3:
        raise BadInputError(f"the heuristic needs >= 3 classes; {model.name} has {model.num_classes}")
    plain, heuristic, n = LocalizationError(), LocalizationError(), 0
    for batch in tqdm(loader, desc="localize (heuristic)", unit="batch", disable=not progress):
        if len(batch.labels) == 0:
            continue
        targets = batch.labels.to(device)
        out = localize_batch(model, batch.images.to(device), topk=5, threshold=threshold)
        plain.update(out.classes, out.boxes, targets, batch.gt_boxes, batch.gt_valid)
        classes, boxes = heuristic_guesses(out.classes[:, :3], out.maps[:, :3])
        heuristic.update(classes, boxes, targets, batch.gt_boxes, batch.gt_valid)
        n += len(targets)
    if n == 0:
        raise BadInputError("no images were evaluated")
    return {"n": n, "plain_top5_loc_err": plain.compute()["top5_loc_err"],
            "heuristic_top5_loc_err": heuristic.compute()["top5_loc_err"]}
