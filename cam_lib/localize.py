"""Weakly-supervised localization with CAM or Backprop (Sec. 4.2 of the paper, Tables 2 and 3).

:func:`localize_batch` turns one batch into ranked (class, box) guesses and the ground-truth class's map, from
ONE forward pass for CAM (the top-k maps and the ground-truth map are one matrix product on the same features).
:func:`evaluate` streams a dataset through it into the metrics of :mod:`cam_lib.metrics` and returns a typed
:class:`Evaluation` (``to_json`` / ``from_json`` for caches and files).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD, boxes_from_maps, heuristic_guesses
from .cam import compute_cams
from .data.common import Skipped
from .errors import BadInputError
from .metrics import (ClassificationError, GTKnownLocalization, Interval, LocalizationError, MaxBoxAcc, baseline_hits,
                      bootstrap_mean, threshold_grid)
from .models import evaluating
from .saliency import backprop_saliency

METHODS = ("cam", "backprop")

__all__ = ["METHODS", "Localization", "Evaluation", "HeuristicEvaluation", "localize_batch", "evaluate",
           "evaluate_heuristic"]


@dataclass
class Localization:
    """Everything one batch gives, on the model's device."""

    logits: torch.Tensor            # (B, C)
    classes: torch.Tensor           # (B, k) top-k predicted classes, rank order
    maps: torch.Tensor              # (B, k, H, W) their normalised maps
    boxes: torch.Tensor             # (B, k, 4) their boxes at the threshold
    gt_maps: torch.Tensor | None    # (B, H, W) the ground-truth class's map, when targets were given
    gt_boxes: torch.Tensor | None   # (B, 4) its box


def _float_keys(d: dict) -> dict[float, float]:
    return {float(k): float(v) for k, v in d.items()}


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measures on one dataset: fractions in [0, 1] (Tables 1 and 2).

    ``maxboxacc`` is MaxBoxAccV2's detail: ``per_iou`` and ``best_threshold`` map each IoU threshold (a float) to
    its accuracy and to the CAM threshold that reaches it. ``skipped``: the images left out, each with its reason.
    """

    n: int
    top1_cls_err: float
    top5_cls_err: float
    top1_loc_err: float
    top5_loc_err: float
    gt_known_loc_acc: float
    maxboxacc_v2: float
    per_iou: dict[float, float] = field(default_factory=dict)
    best_threshold: dict[float, float] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()
    per_image: dict[str, tuple] = field(default_factory=dict)   # each metric's outcome per image, dataset order
    thresholds: tuple[float, ...] = ()   # the CAM threshold grid of MaxBoxAcc and of gt_known_hits
    gt_known_hits: tuple[str, ...] = ()  # per image, one "1"/"0" per grid threshold: GT-known hit at that threshold

    def gt_known_curve(self) -> np.ndarray:
        """``(T,)``: GT-known localization accuracy at every threshold of :attr:`thresholds` (the ground-truth
        class's map, box of the largest component, IoU >= 0.5: the rule of :attr:`gt_known_loc_acc`)."""
        return self._hits().mean(0)

    def chosen_threshold(self) -> float:
        """The threshold of :attr:`thresholds` with the best GT-known accuracy on THIS set (the first on ties): the
        threshold chosen on a validation split, to apply to a test split (Choe et al. 2020)."""
        return float(self.thresholds[int(np.argmax(self.gt_known_curve()))])

    def gt_known_at(self, threshold: float) -> np.ndarray:
        """``(N,)`` float 0/1: each image's GT-known hit at ``threshold`` (a value of :attr:`thresholds`)."""
        grid = np.asarray(self.thresholds, float)
        at = np.flatnonzero(np.isclose(grid, threshold, rtol=0, atol=1e-9))
        if not len(at):
            raise BadInputError(f"parameter threshold={threshold!r} is not on the evaluated grid "
                                f"({grid[0]:g}, {grid[1] - grid[0]:g}, ..., {grid[-1]:g})", param="threshold")
        return self._hits()[:, at[0]].astype(float)

    def _hits(self) -> np.ndarray:
        if not self.gt_known_hits:
            raise BadInputError("this evaluation holds no per-threshold GT-known outcomes (an older cache or file)")
        return np.frombuffer("".join(self.gt_known_hits).encode(), np.uint8).reshape(self.n, -1) == ord("1")

    def interval(self, metric: str, seed: int = 0) -> Interval:
        """The 95% bootstrap interval over images of ``metric`` (a key of :data:`PER_IMAGE`), from the per-image
        outcomes (:func:`cam_lib.metrics.bootstrap_mean`)."""
        if metric not in self.per_image:
            raise BadInputError(f"parameter metric={metric!r}: no per-image outcomes (have {sorted(self.per_image)})",
                                param="metric")
        return bootstrap_mean(np.asarray(self.per_image[metric], float), seed=seed)

    def to_json(self) -> dict:
        """A JSON-safe dict (IoU thresholds as strings, skipped images as ``{"index", "file", "reason"}``)."""
        out = asdict(self)
        out["per_image"] = {k: list(v) for k, v in self.per_image.items()}
        out["per_iou"] = {str(k): v for k, v in self.per_iou.items()}
        out["best_threshold"] = {str(k): v for k, v in self.best_threshold.items()}
        out["skipped"] = [{"index": s.index, "file": str(s.path), "reason": s.reason} for s in self.skipped]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Evaluation":
        """The inverse of :meth:`to_json` (keys back to floats, skipped back to :class:`Skipped`)."""
        return cls(**{**data, "per_iou": _float_keys(data["per_iou"]), "thresholds": tuple(data.get("thresholds", ())),
                      "gt_known_hits": tuple(data.get("gt_known_hits", ())),
                      "best_threshold": _float_keys(data["best_threshold"]),
                      "skipped": tuple(Skipped(s["index"], s["file"], s["reason"]) for s in data["skipped"]),
                      "per_image": {k: tuple(v) for k, v in data.get("per_image", {}).items()}})


@dataclass(frozen=True)
class HeuristicEvaluation:
    """Table 3: top-5 localization error of the plain top-5 guesses and of the tight/loose heuristic."""

    n: int
    plain_top5_loc_err: float
    heuristic_top5_loc_err: float
    per_image: dict[str, tuple] = field(default_factory=dict)   # each image's miss (1.0) or hit (0.0)

    def interval(self, metric: str, seed: int = 0) -> Interval:
        """The 95% bootstrap interval over images of ``plain_top5_loc_err`` or ``heuristic_top5_loc_err``."""
        return bootstrap_mean(np.asarray(self.per_image[metric], float), seed=seed)

    def to_json(self) -> dict:
        return {**asdict(self), "per_image": {k: list(v) for k, v in self.per_image.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "HeuristicEvaluation":
        return cls(**{**data, "per_image": {k: tuple(v) for k, v in data.get("per_image", {}).items()}})


def localize_batch(model: torch.nn.Module, images: torch.Tensor, topk: int = 5,
                   threshold: float = DEFAULT_THRESHOLD, targets: torch.Tensor | None = None,
                   method: str = "cam", frame: str = "resize", crop_size: int | None = None) -> Localization:
    """Top-``topk`` classes with their maps and boxes, plus the ground-truth class's map and box if ``targets``.

    ``method="cam"``: one forward pass, no backward pass (:func:`cam_lib.cam.compute_cams`: the top-k maps and the
    ground-truth map are one matrix product on the same features). ``method="backprop"``: one forward pass and one
    backward pass per map (the baseline of Table 2). ``frame="ten_crop"``: ten ``crop_size`` crops of the (square)
    images, as the official CAM code does (images resized to 256x256, 224 crops)."""
    if method not in METHODS:
        raise BadInputError(f"parameter method={method!r}: choose one of {', '.join(METHODS)}", param="method")
    if frame == "ten_crop" and method != "cam":
        raise BadInputError("parameter frame='ten_crop' is implemented for CAM (method='cam')", param="frame")
    k = min(topk, model.num_classes)
    if method == "cam":
        out = compute_cams(model, images, k, extra=targets, frame=frame, crop_size=crop_size)
    else:
        out = backprop_saliency(model, images, k, extra=targets)   # one forward pass, one backward per map
    logits, classes, maps = out.logits, out.classes, out.maps
    boxes = boxes_from_maps(maps, threshold)
    if targets is None:
        return Localization(logits, classes, maps, boxes, None, None)
    return Localization(logits, classes[:, :k], maps[:, :k], boxes[:, :k], maps[:, k], boxes[:, k])


def evaluate(model: torch.nn.Module, loader, device: torch.device | str = "cpu", method: str = "cam",
             threshold: float = DEFAULT_THRESHOLD, topk: int = 5, cam_step: float = 0.01,
             progress: bool = True, on_batch=None, frame: str = "resize",
             baselines: dict[str, np.ndarray] | None = None) -> Evaluation:
    """Stream a labelled dataset through :func:`localize_batch` into an :class:`Evaluation`. ``on_batch(batch,
    localization)`` is called after each batch. ``baselines``: name -> a fixed normalised box (Table 2's trivial
    baselines, :mod:`cam_lib.metrics.baselines`), scored on the same images by the same hit rule as the CAM's
    GT-known box; each image's hit lands in ``per_image["baseline:<name>"]`` (paired with the CAM's outcomes).
    The model is left on its device and in its mode afterwards."""
    device = torch.device(device)
    cls_err, loc_err = ClassificationError((1, min(5, model.num_classes))), LocalizationError()
    grid = threshold_grid(cam_step)
    gt_known, maxbox = GTKnownLocalization(), MaxBoxAcc(grid)
    gt_curve = MaxBoxAcc(grid, iou_thresholds=(0.5,), all_components=False)   # GT-known at every threshold
    skipped, n = [], 0
    fixed = {name: [] for name in baselines or {}}
    with evaluating(model, device):
        for batch in tqdm(loader, desc=f"localize ({method})", unit="batch", disable=not progress):
            skipped.extend(batch.skipped)
            if len(batch.labels) == 0:
                continue
            images = batch.images.to(device, non_blocking=True)
            targets = batch.labels.to(device)
            out = localize_batch(model, images, topk=topk, threshold=threshold, targets=targets, method=method,
                                 frame=frame)
            cls_err.update(out.logits, targets)
            loc_err.update(out.classes, out.boxes, targets, batch.gt_boxes, batch.gt_valid)
            gt_known.update(out.gt_boxes, batch.gt_boxes, batch.gt_valid)
            maxbox.update(out.gt_maps, batch.gt_boxes, batch.gt_valid)
            gt_curve.update(out.gt_maps, batch.gt_boxes, batch.gt_valid)
            for name, box in (baselines or {}).items():
                fixed[name].append(baseline_hits(box, batch.gt_boxes, batch.gt_valid, images.shape[-1],
                                                 images.shape[-2]))
            n += len(targets)
            if on_batch is not None:
                on_batch(batch, out)
    if n == 0:
        raise BadInputError(f"no images were evaluated ({len(skipped)} skipped)")
    cls, loc, box = cls_err.compute(), loc_err.compute(), maxbox.compute()
    k5 = cls_err.topk[-1]
    cls_i, loc_i = cls_err.per_image(), loc_err.per_image()
    per_image = {"top1_cls_err": cls_i["top1_wrong"], "top5_cls_err": cls_i[f"top{k5}_wrong"],
                 "top1_loc_err": loc_i["top1_wrong"], "top5_loc_err": loc_i["top5_wrong"],
                 "gt_known_loc_acc": gt_known.per_image()["hit"], "maxboxacc_v2": maxbox.per_image()["maxboxacc"],
                 **{f"baseline:{name}": np.concatenate(hits) for name, hits in fixed.items()}}
    return Evaluation(n=n, top1_cls_err=cls["top1_cls_err"], top5_cls_err=cls[f"top{k5}_cls_err"],
                      top1_loc_err=loc["top1_loc_err"], top5_loc_err=loc["top5_loc_err"],
                      gt_known_loc_acc=gt_known.compute()["gt_known_loc_acc"], maxboxacc_v2=box["maxboxacc"],
                      per_iou=box["per_iou"], best_threshold=box["best_threshold"], skipped=tuple(skipped),
                      per_image={k: tuple(np.asarray(v).astype(float).tolist()) for k, v in per_image.items()},
                      thresholds=tuple(grid.tolist()),
                      gt_known_hits=_hit_strings(gt_curve.per_image()["best_iou"] >= 0.5))


def _hit_strings(hits: np.ndarray) -> tuple[str, ...]:
    """``(N, T)`` bool as one ``"0"``/``"1"`` string per image (compact in JSON; :meth:`Evaluation._hits` reads it)."""
    chars = np.where(hits, ord("1"), ord("0")).astype(np.uint8)
    return tuple(row.tobytes().decode() for row in chars)


def evaluate_heuristic(model: torch.nn.Module, loader, device: torch.device | str = "cpu",
                       threshold: float = DEFAULT_THRESHOLD, progress: bool = True) -> HeuristicEvaluation:
    """Table 3: top-5 localization error of the plain top-5 (class, box) guesses and of the tight/loose heuristic
    (:func:`cam_lib.boxes.heuristic_guesses`), both from the same forward pass and the same top-3 CAMs. The model
    is left on its device and in its mode afterwards."""
    device = torch.device(device)
    if model.num_classes < 3:
        raise BadInputError(f"the heuristic needs >= 3 classes; {model.name} has {model.num_classes}")
    plain, heuristic, n = LocalizationError(), LocalizationError(), 0
    with evaluating(model, device):
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
    per_image = {"plain_top5_loc_err": plain.per_image()["top5_wrong"],
                 "heuristic_top5_loc_err": heuristic.per_image()["top5_wrong"]}
    return HeuristicEvaluation(n=n, plain_top5_loc_err=plain.compute()["top5_loc_err"],
                               heuristic_top5_loc_err=heuristic.compute()["top5_loc_err"],
                               per_image={k: tuple(v.astype(float).tolist()) for k, v in per_image.items()})
