"""Weakly-supervised localization with CAM or Backprop (Sec. 4.2 of the paper, Tables 2 and 3).

:func:`localize_batch` turns one batch into ranked (class, box) guesses and the ground-truth class's map, from
ONE forward pass for CAM (the top-k maps and the ground-truth map are one matrix product on the same features).
:func:`evaluate` streams a dataset through it into the metrics of :mod:`cam_lib.metrics` and returns a typed
:class:`Evaluation` (``to_json`` / ``from_json`` for caches and files): only the ground-truth class's map is made and
labelled when no caller reads the boxes (the only box any metric scores), the boxes and metrics of a batch overlap
the next forward pass, and under torchrun each rank evaluates a :func:`shard` whose outcomes are gathered in order,
so that N processes give one process's numbers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD, _boxes_from_maps, boxes_from_maps, heuristic_guesses
from .cam import compute_cams
from .data.common import Skipped
from .errors import BadInputError
from .metrics import (ClassificationError, GTKnownLocalization, Interval, LocalizationError, MaxBoxAcc, baseline_hits,
                      best_ious_both, bootstrap_mean, threshold_grid)
from .models import evaluating
from .saliency import backprop_saliency

METHODS = ("cam", "backprop")

__all__ = ["METHODS", "Localization", "Evaluation", "HeuristicEvaluation", "localize_batch", "evaluate",
           "evaluate_heuristic", "shard"]


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
    out = _maps(model, images, topk, targets, method, frame, crop_size)
    return _boxed(out, min(topk, model.num_classes), threshold, targets is not None)


def _maps(model, images, topk, targets, method, frame, crop_size=None, only_targets: bool = False):
    """The network's part of :func:`localize_batch`: logits, the top-k (and ground-truth) classes and their maps;
    ``only_targets``: logits and the ground-truth classes' maps alone (for :func:`_scored_boxes`)."""
    if method not in METHODS:
        raise BadInputError(f"parameter method={method!r}: choose one of {', '.join(METHODS)}", param="method")
    if frame == "ten_crop" and method != "cam":
        raise BadInputError("parameter frame='ten_crop' is implemented for CAM (method='cam')", param="frame")
    k = min(topk, model.num_classes)
    if only_targets:
        if method == "cam":
            return compute_cams(model, images, "gt", targets=targets, frame=frame, crop_size=crop_size)
        return backprop_saliency(model, images, "gt", targets=targets)
    if method == "cam":
        return compute_cams(model, images, k, extra=targets, frame=frame, crop_size=crop_size)
    return backprop_saliency(model, images, k, extra=targets)   # one forward pass, one backward per map


def _boxed(out, k: int, threshold: float, has_targets: bool) -> Localization:
    """The boxes' part of :func:`localize_batch`: every map's box, split into the top-k and the ground truth's."""
    logits, classes, maps = out.logits, out.classes, out.maps
    if not has_targets:
        return Localization(logits, classes, maps, boxes_from_maps(maps, threshold), None, None)
    boxes = _boxes_from_maps(maps[:, :k], threshold)   # maps normalised by compute_cams / backprop_saliency
    return Localization(logits, classes[:, :k], maps[:, :k], boxes, maps[:, k], _gt_boxes(classes, maps, boxes, k,
                                                                                          threshold))


def _scored_boxes(out, k: int, threshold: float) -> Localization:
    """What the metrics of :func:`evaluate` read, from the maps of the ground-truth classes alone (``out``: one map
    per image, :func:`_maps` with ``only_targets``): every metric scores only the ground-truth class's box (a
    top-k guess of another class is wrong whatever its box, by the ILSVRC rule), and a guess of the ground-truth
    class has the ground-truth class's map. The other guesses' maps and boxes are placeholders (the ground truth's),
    never scored and never returned to a caller. A sixth of the maps, upsampling and labelling of
    :func:`localize_batch`, for the same numbers."""
    gt_maps = out.maps[:, 0]
    gt = _boxes_from_maps(gt_maps, threshold)   # maps normalised by compute_cams / backprop_saliency
    return Localization(out.logits, out.logits.topk(k, dim=1).indices, gt_maps[:, None].expand(-1, k, -1, -1),
                        gt[:, None].expand(-1, k, -1), gt_maps, gt)


def _gt_boxes(classes, maps, boxes, k: int, threshold: float) -> torch.Tensor:
    """The ground-truth map's box: where the ground-truth class is among the top-k and its map is bit for bit that
    top-k map (one matrix product gives both), the box already found; else labelled here. The same boxes as
    labelling every ground-truth map, for a sixth less labelling when the classifier is right."""
    rank = (classes[:, :k] == classes[:, k:k + 1]).int().argmax(1)   # first matching rank (0 when none)
    rows = torch.arange(len(classes), device=classes.device)
    same = (classes[rows, rank] == classes[:, k]) & (maps[rows, rank] == maps[:, k]).flatten(1).all(1)
    gt = boxes[rows, rank].clone()
    if not bool(same.all()):
        gt[~same] = _boxes_from_maps(maps[~same, k], threshold)
    return gt


def evaluate(model: torch.nn.Module, loader, device: torch.device | str = "cpu", method: str = "cam",
             threshold: float = DEFAULT_THRESHOLD, topk: int = 5, cam_step: float = 0.01,
             progress: bool = True, on_batch=None, frame: str = "resize",
             baselines: dict[str, np.ndarray] | None = None, distributed: bool = False, amp: bool = False,
             channels_last: bool = False) -> Evaluation:
    """Stream a labelled dataset through :func:`localize_batch` into an :class:`Evaluation`. ``on_batch(batch,
    localization)`` is called after each batch. ``baselines``: name -> a fixed normalised box (Table 2's trivial
    baselines, :mod:`cam_lib.metrics.baselines`), scored on the same images by the same hit rule as the CAM's
    GT-known box; each image's hit lands in ``per_image["baseline:<name>"]`` (paired with the CAM's outcomes).
    The model is left on its device and in its mode afterwards.

    The network's work on a batch overlaps the boxes and metrics of the batch before (one worker thread, batches
    accounted in order: the numbers are those of a plain loop). ``distributed``: this process is one rank of a
    ``torch.distributed`` group and ``loader`` holds its shard (:func:`shard`: contiguous, in rank order); the
    ranks' accumulators are gathered after the loop, so every rank returns the Evaluation of the whole dataset,
    identical to one process's.

    The GPU path (numbers close to, not identical with, float32): ``amp`` runs the forward pass under bfloat16
    autocast, ``channels_last`` in that memory format; a loader over a dataset with ``set_decode("device")``
    decodes the JPEGs on ``device``. Maps move to the CPU once per batch, for the boxes and metrics."""
    device = torch.device(device)
    cls_err, loc_err = ClassificationError((1, min(5, model.num_classes))), LocalizationError()
    grid = threshold_grid(cam_step)
    gt_known, maxbox = GTKnownLocalization(), MaxBoxAcc(grid)
    gt_curve = MaxBoxAcc(grid, iou_thresholds=(0.5,), all_components=False)   # GT-known at every threshold
    skipped = []
    fixed = {name: [] for name in baselines or {}}
    k = min(topk, model.num_classes)
    sweep_threads = 1 if device.type == "cpu" else None   # on the CPU the forward pass of the next batch has the cores

    def account(batch, maps, frame_size) -> None:   # boxes and metrics of one batch (on the worker thread)
        if maps.maps.device.type != "cpu":   # one copy per batch; the main thread goes on with the next batch
            maps = type(maps)(maps.logits.float().cpu(), maps.classes.cpu(), maps.maps.cpu())
        out = _boxed(maps, k, threshold, True) if on_batch is not None else _scored_boxes(maps, k, threshold)
        targets = batch.labels.to(out.classes.device)
        cls_err.update(out.logits, targets)
        loc_err.update(out.classes, out.boxes, targets, batch.gt_boxes, batch.gt_valid)
        gt_known.update(out.gt_boxes, batch.gt_boxes, batch.gt_valid)
        every, largest = best_ious_both(out.gt_maps.detach().float().cpu().numpy(), grid, batch.gt_boxes.numpy(),
                                        batch.gt_valid.numpy(), sweep_threads)   # MaxBoxAccV2, GT-known curve
        maxbox.add_ious(every)
        gt_curve.add_ious(largest)
        for name, box in (baselines or {}).items():
            fixed[name].append(baseline_hits(box, batch.gt_boxes, batch.gt_valid, *frame_size))
        if on_batch is not None:
            on_batch(batch, out)

    with evaluating(model, device), _memory_format(model, channels_last), \
            ThreadPoolExecutor(1, thread_name_prefix="cam_lib-evaluate") as worker:
        pending = None
        for batch in tqdm(loader, desc=f"localize ({method})", unit="batch", disable=not progress):
            skipped.extend(batch.skipped)
            if len(batch.labels) == 0:
                continue
            images = batch.images_on(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                maps = _maps(model, images, topk, batch.labels.to(device), method, frame,
                             only_targets=on_batch is None)
            if pending is not None:
                pending.result()   # one batch in flight: bounded memory, errors raised here
            pending = worker.submit(account, batch, maps, (images.shape[-1], images.shape[-2]))
        if pending is not None:
            pending.result()
    if distributed:
        skipped = _gather_ranks(cls_err, loc_err, gt_known, maxbox, gt_curve, fixed, skipped)
    n = cls_err.n
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


@contextmanager
def _memory_format(model: torch.nn.Module, channels_last: bool):
    """The model's weights in channels-last memory format inside the block (back to contiguous afterwards)."""
    if not channels_last:
        yield model
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


def shard(dataset, rank: int, world: int, batch_size: int):
    """Rank ``rank``'s part of ``dataset`` among ``world`` processes: a contiguous block of WHOLE batches of
    ``batch_size`` (each batch holds the images a single process would batch together, so the network sees the
    same batches), blocks in rank order. A ``torch.utils.data.Subset``; items keep their dataset index."""
    from torch.utils.data import Subset

    if not 0 <= rank < world:
        raise BadInputError(f"rank {rank} is not in [0, world size {world})")
    if batch_size < 1:
        raise BadInputError(f"parameter batch_size={batch_size!r}: must be >= 1", param="batch_size")
    batches = -(-len(dataset) // batch_size)
    lo, hi = batches * rank // world * batch_size, batches * (rank + 1) // world * batch_size
    return Subset(dataset, range(min(lo, len(dataset)), min(hi, len(dataset))))


def _gather_ranks(cls_err, loc_err, gt_known, maxbox, gt_curve, fixed: dict, skipped: list) -> list:
    """Every rank's per-image outcomes (on the CPU), gathered in rank order into the accumulators of each rank:
    the shards are contiguous blocks in dataset order (:func:`shard`), so the accumulators then hold the whole
    dataset in the order one process would have counted it, and every sum is an exact integer count. Returns the
    skipped images of all ranks."""
    import torch.distributed as dist

    mine = {"cls": [m.cpu() for m in cls_err.misses], "loc": [m.cpu() for m in loc_err.misses],
            "gt": [h.cpu() for h in gt_known.hits], "box": maxbox.best, "curve": gt_curve.best,
            "fixed": {k: [np.asarray(v) for v in hits] for k, hits in fixed.items()}, "skipped": skipped}
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, mine)
    for acc in (cls_err, loc_err, gt_known, maxbox, gt_curve):
        acc.reset()
    for hits in fixed.values():
        hits.clear()
    for part in parts:
        for m in part["cls"]:
            cls_err.add_misses(m)
        for m in part["loc"]:
            loc_err.add_misses(m)
        for h in part["gt"]:
            gt_known.add_hits(h)
        for acc, key in ((maxbox, "box"), (gt_curve, "curve")):
            for best in part[key]:
                acc.add_ious(best)
        for name, hits in part["fixed"].items():
            fixed[name].extend(hits)
    return [s for part in parts for s in part["skipped"]]


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
            out = localize_batch(model, batch.images_on(device), topk=5, threshold=threshold)
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
