"""Weakly-supervised localization (Sec. 4.2 of the paper, Tables 2 and 3): maps, boxes and metrics over a dataset.

- :func:`localize_batch`: one batch into ranked (class, box) guesses and the ground-truth class's map and box, by any
  map method (:mod:`cam_lib.methods`; CAM from ONE forward pass);
- :func:`evaluate`: a dataset streamed through a map method into a list of metrics (:mod:`cam_lib.metrics.protocol`;
  by default those of Tables 1-3, :func:`cam_lib.metrics.standard_metrics`), returning a typed :class:`Evaluation`
  whose :meth:`Evaluation.to_json` is what ``python -m cam_lib localize --json`` writes;
- :class:`LocalizeConfig` and :func:`localize`: THE localize run (dataset, network, method, frame, threshold,
  devices, processes), called by the command line, the series and the benchmark.

The loop maps only what its metrics read: every metric of Tables 1-3 scores only the ground-truth class's box (a
top-k guess of another class is wrong whatever its box, by the ILSVRC rule, and a guess of the ground-truth class
has that class's map), so without a caller that reads the top-k boxes (``on_batch``, figures, predictions) one map
per image is made and labelled. The boxes and metrics of a batch overlap the network's work on the next (one worker
thread, batches accounted in order). Under torchrun each rank evaluates a :func:`cam_lib.distributed.shard` and the
metrics' states are gathered in rank order, so N processes give one process's numbers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .boxes import DEFAULT_THRESHOLD, _boxes_from_maps, heuristic_guesses
from .cam import FRAMES, MapOutput
from .data.common import Skipped
from .errors import BadInputError
from .methods import CAM, MapMethod, get_method
from .metrics import (BaselineResult, FixedBox, Interval, LocalizationError, Metric, PxAP, Result, mean_interval,
                      paired_difference, result_from_json, standard_metrics, threshold_grid)
from .models import evaluating
from .progress import bar

__all__ = ["RESULT_KEYS", "Localization", "Evaluation", "HeuristicEvaluation", "TopKPredictions", "PredictionsResult",
           "LocalizeConfig", "LocalizeRun", "localize", "localize_batch", "evaluate", "evaluate_heuristic"]

# the headline keys of `localize --json` on a labelled dataset, in the order they are written
RESULT_KEYS = ("n", "top1_cls_err", "top5_cls_err", "top1_loc_err", "top5_loc_err", "gt_known_loc_acc",
               "maxboxacc_v2", "threshold", "model", "world_size")


@dataclass
class Localization:
    """What the maps and boxes of one batch give, on one device: ``logits (B, C)``, the top-k predicted
    ``classes (B, k)`` in rank order, and, when asked for, their maps ``(B, k, H, W)`` and boxes ``(B, k, 4)``
    (``topk``) and the ground-truth class's map ``(B, H, W)`` and box ``(B, 4)`` (``gt``); what was not asked for is
    None. ``size``: the frame ``(W, H)``; ``cache``: what metrics compute once per batch (e.g. the MaxBoxAcc sweep)."""

    logits: torch.Tensor
    classes: torch.Tensor
    maps: torch.Tensor | None = None
    boxes: torch.Tensor | None = None
    gt_maps: torch.Tensor | None = None
    gt_boxes: torch.Tensor | None = None
    size: tuple[int, int] = (0, 0)
    cache: dict = field(default_factory=dict, repr=False)


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise BadInputError(f"parameter threshold={threshold!r}: must be in [0, 1] (maps are min-max normalised)",
                            param="threshold")
    return float(threshold)


def _method_maps(method: MapMethod, model, images, k: int, targets, want_topk: bool, frame: str) -> MapOutput:
    """The method's maps of a batch: the top-k classes (then the ground truth's, with ``targets``), or only the
    ground-truth classes; shapes checked (and values, for a method that does not normalise by construction)."""
    if want_topk:
        out = method(model, images, k, extra=targets, frame=frame)
    else:
        out = method(model, images, "gt", targets=targets, frame=frame)
    want = (len(images), (k if want_topk else 0) + (targets is not None))
    if out.maps.dim() != 4 or tuple(out.maps.shape[:2]) != want or tuple(out.classes.shape) != want:
        raise BadInputError(f"parameter method={method.name!r}: maps (B, n, H, W) and classes (B, n) with (B, n) = "
                            f"{want}, got {tuple(out.maps.shape)} and {tuple(out.classes.shape)}", param="method")
    if not method.maps_in_range:
        low, high = out.maps.detach().float().aminmax()
        if not (0 <= float(low) and float(high) <= 1):   # NaN fails too
            raise BadInputError(f"parameter method={method.name!r}: its maps must be normalised to [0, 1], got "
                                f"[{float(low):.4g}, {float(high):.4g}]", param="method")
    return out


def _boxed(out: MapOutput, k: int, threshold: float, want_topk: bool, has_gt: bool, size) -> Localization:
    """Boxes of the maps a batch got (:func:`_method_maps`), split into the top-k guesses and the ground truth's."""
    if not want_topk:   # the ground-truth classes' maps alone
        gt_maps = out.maps[:, 0]
        return Localization(out.logits, out.logits.topk(k, dim=1).indices, gt_maps=gt_maps,
                            gt_boxes=_boxes_from_maps(gt_maps, threshold), size=size)
    maps, classes = out.maps[:, :k], out.classes[:, :k]
    boxes = _boxes_from_maps(maps, threshold)
    if not has_gt:
        return Localization(out.logits, classes, maps, boxes, size=size)
    return Localization(out.logits, classes, maps, boxes, out.maps[:, k],
                        _gt_boxes(out.classes, out.maps, boxes, k, threshold), size)


def _gt_boxes(classes, maps, boxes, k: int, threshold: float) -> torch.Tensor:
    """The ground-truth map's box: where the ground-truth class is among the top-k and its map is bit for bit that
    top-k map (one matrix product gives both), the box already found; else labelled here."""
    rank = (classes[:, :k] == classes[:, k:k + 1]).int().argmax(1)   # first matching rank (0 when none)
    rows = torch.arange(len(classes), device=classes.device)
    same = (classes[rows, rank] == classes[:, k]) & (maps[rows, rank] == maps[:, k]).flatten(1).all(1)
    gt = boxes[rows, rank].clone()
    if not bool(same.all()):
        gt[~same] = _boxes_from_maps(maps[~same, k], threshold)
    return gt


def localize_batch(model: torch.nn.Module, images: torch.Tensor, topk: int = 5,
                   threshold: float = DEFAULT_THRESHOLD, targets: torch.Tensor | None = None,
                   method: str | MapMethod = "cam", frame: str = "resize", crop_size: int | None = None
                   ) -> Localization:
    """Top-``topk`` classes with their maps and boxes, plus the ground-truth class's map and box if ``targets``.

    ``method``: a map method or its name (:mod:`cam_lib.methods`; ``"cam"``: one forward pass, the top-k and
    ground-truth maps one matrix product on the same features; ``"backprop"``: one forward and one backward pass per
    map). ``frame="ten_crop"``: ten ``crop_size`` crops of the (square) images, as the official CAM code does."""
    method = CAM(crop_size) if crop_size is not None and method == "cam" else get_method(method)
    method.check(model, frame)
    k = min(topk, model.num_classes)
    out = _method_maps(method, model, images, k, targets, True, frame)
    return _boxed(out, k, _check_threshold(threshold), True, targets is not None, (images.shape[-1], images.shape[-2]))


def _dataset_of(loader):
    """The dataset behind a loader (through ``torch.utils.data.Subset`` shards); None for a list of batches."""
    dataset = getattr(loader, "dataset", None)
    while dataset is not None and not hasattr(dataset, "frame") and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


def _dataset_frame(loader, frame: str | None) -> str | None:
    """The frame the loader's dataset was built for (its ``frame``; a Subset's dataset's), checked against
    ``frame`` when the caller names one; None when the loader does not say (a list of batches)."""
    own = getattr(_dataset_of(loader), "frame", None)
    if frame is not None and frame not in FRAMES:
        raise BadInputError(f"parameter frame={frame!r}: choose one of {', '.join(FRAMES)}", param="frame")
    if frame is not None and own is not None and frame != own:
        raise BadInputError(f"parameter frame={frame!r}: the dataset was built for frame {own!r} (its images and "
                            f"boxes are in that frame); build it with frame={frame!r} or evaluate it with "
                            f"frame={own!r}", param="frame")
    return own or frame


@dataclass(frozen=True)
class PredictionsResult(Result):
    """The top-k predictions of unlabelled images: per image its ``file`` and ``top5`` (class, name, prob, box)."""

    kind = "predictions"
    predictions: list

    def details(self) -> dict:
        return {"predictions": self.predictions}


class TopKPredictions(Metric):
    """Not a score: the top-k classes of each image with their probability, name and box, in dataset order (the
    ``localize`` output for folders of unlabelled images). ``names``: class names (or None); ``file_of(index)``:
    how an image is named in the output."""

    name, needs = "predictions", frozenset({"topk"})

    def __init__(self, names, file_of) -> None:
        self.names, self.file_of, self.rows = names, file_of, []

    def update(self, batch, out) -> None:
        from .figures import class_names_or_indices

        probs = out.logits.float().softmax(1)
        for j, idx in enumerate(batch.indices.tolist()):
            self.rows.append({"file": self.file_of(idx), "top5": [
                {"class": int(c), "name": class_names_or_indices(self.names, [c])[0], "prob": float(probs[j, c]),
                 "box": [int(v) for v in out.boxes[j, r].tolist()]} for r, c in enumerate(out.classes[j].tolist())]})

    def compute(self) -> PredictionsResult:
        return PredictionsResult(list(self.rows))

    def state(self) -> dict:
        return {"rows": self.rows}

    def merge(self, states: list[dict]) -> None:
        self.rows = [row for state in states for row in state["rows"]]


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured on one dataset: ``results`` (metric name -> its typed result, in the order the
    metrics ran), ``per_image`` (each image's outcome of every headline number, dataset order: the 95% intervals
    come from them), the images ``skipped``, and the run's facts. Fractions in [0, 1].

    The numbers of Tables 1-3 read as attributes (``top1_cls_err``, ..., ``maxboxacc_v2``); :meth:`to_json` is
    the schema ``localize --json`` writes (with ``outcomes=True``, also everything :meth:`from_json` needs)."""

    n: int
    results: dict
    per_image: dict = field(default_factory=dict)
    skipped: tuple = ()
    threshold: float = DEFAULT_THRESHOLD
    model: str = ""
    method: str = "cam"
    frame: str = "resize"
    world_size: int = 1
    skip_bad: bool = False

    def score(self, key: str) -> float:
        """The headline number ``key`` (a key of some result's ``scores()``)."""
        for result in self.results.values():
            scores = result.scores()
            if key in scores:
                return scores[key]
        raise BadInputError(f"parameter key={key!r}: no metric of this evaluation gives it "
                            f"(have {sorted(k for r in self.results.values() for k in r.scores())})", param="key")

    top1_cls_err = property(lambda self: self.score("top1_cls_err"))
    top5_cls_err = property(lambda self: self.score("top5_cls_err"))
    top1_loc_err = property(lambda self: self.score("top1_loc_err"))
    top5_loc_err = property(lambda self: self.score("top5_loc_err"))
    gt_known_loc_acc = property(lambda self: self.score("gt_known_loc_acc"))
    maxboxacc_v2 = property(lambda self: self.score("maxboxacc_v2"))

    def _result(self, name: str):
        if name not in self.results:
            raise BadInputError(f"parameter name={name!r}: this evaluation ran no such metric (ran "
                                f"{', '.join(self.results)})", param="name")
        return self.results[name]

    per_iou = property(lambda self: self._result("maxboxacc").per_iou)
    best_threshold = property(lambda self: self._result("maxboxacc").best_threshold)
    thresholds = property(lambda self: self._result("gt_known_curve").thresholds)
    gt_known_hits = property(lambda self: self._result("gt_known_curve").hits)

    def gt_known_curve(self) -> np.ndarray:
        """``(T,)``: GT-known localization at every threshold of :attr:`thresholds`."""
        return self._result("gt_known_curve").curve()

    def chosen_threshold(self) -> float:
        """The threshold with the best GT-known accuracy on THIS set (the first on ties): chosen on a validation
        split, to apply to a test split (Choe et al. 2020)."""
        return self._result("gt_known_curve").chosen_threshold()

    def gt_known_at(self, threshold: float) -> np.ndarray:
        """``(N,)`` float 0/1: each image's GT-known hit at ``threshold`` (a value of :attr:`thresholds`)."""
        return self._result("gt_known_curve").at(threshold)

    def baselines(self) -> dict[str, BaselineResult]:
        """The content-free baselines scored on these images, by name."""
        return {r.name: r for r in self.results.values() if isinstance(r, BaselineResult)}

    def interval(self, metric: str, seed: int = 0) -> Interval:
        """The 95% interval over images of ``metric`` (a key of :attr:`per_image`): Wilson for 0/1 outcomes, else a
        percentile bootstrap (:func:`cam_lib.metrics.mean_interval`)."""
        if metric not in self.per_image:
            raise BadInputError(f"parameter metric={metric!r}: no per-image outcomes (have {sorted(self.per_image)})",
                                param="metric")
        return mean_interval(np.asarray(self.per_image[metric], float), seed=seed)

    def _comparisons(self) -> dict:
        """GT-known localization's interval and each baseline's, with the paired interval of the method minus it."""
        fixed = self.baselines()
        if not fixed:
            return {}
        ci, own = self.interval("gt_known_loc_acc"), np.asarray(self.per_image["gt_known_loc_acc"], float)
        out = {"gt_known_loc_acc_ci": [ci.low, ci.high], "baselines": {}}
        for name, result in fixed.items():
            b = self.interval(f"baseline:{name}")
            d = paired_difference(own, np.asarray(self.per_image[f"baseline:{name}"], float))
            out["baselines"][name] = {"box": result.box, "gt_known_loc_acc": b.estimate, "ci": [b.low, b.high],
                                      "cam_minus_baseline": d.estimate, "cam_minus_baseline_ci": [d.low, d.high]}
        return out

    def to_json(self, outcomes: bool = True) -> dict:
        """The headline numbers, the run's threshold, model and world size, the baselines' comparisons, larger
        details (predictions), the skipped images (with ``skip_bad``); ``outcomes``: also every result and per-image
        outcome (what :meth:`from_json` reads; ``localize --json`` leaves them out)."""
        out = {"n": self.n}
        for result in self.results.values():
            out.update(result.scores())
        out.update(threshold=self.threshold, model=self.model, world_size=self.world_size)
        out.update(self._comparisons())
        for result in self.results.values():
            out.update(result.details())
        if self.skip_bad:
            out["skipped"] = len(self.skipped)
            out["skipped_files"] = [{"file": s.path, "reason": s.reason} for s in self.skipped]
        if outcomes:
            out["outcomes"] = {"method": self.method, "frame": self.frame, "skip_bad": self.skip_bad,
                               "results": {name: r.to_json() for name, r in self.results.items()},
                               "per_image": {k: list(v) for k, v in self.per_image.items()},
                               "skipped": [{"index": s.index, "file": str(s.path), "reason": s.reason}
                                           for s in self.skipped]}
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Evaluation":
        """The inverse of :meth:`to_json` with outcomes."""
        if not isinstance(data, dict) or "outcomes" not in data:
            raise BadInputError("parameter data: not an Evaluation with outcomes (Evaluation.to_json(outcomes=True))",
                                param="data")
        o = data["outcomes"]
        return cls(n=data["n"], results={k: result_from_json(v) for k, v in o["results"].items()},
                   per_image={k: tuple(v) for k, v in o["per_image"].items()},
                   skipped=tuple(Skipped(s["index"], s["file"], s["reason"]) for s in o["skipped"]),
                   threshold=data["threshold"], model=data["model"], method=o["method"], frame=o["frame"],
                   world_size=data["world_size"], skip_bad=o["skip_bad"])


@dataclass(frozen=True)
class HeuristicEvaluation:
    """Table 3: top-5 localization error of the plain top-5 guesses and of the tight/loose heuristic."""

    n: int
    plain_top5_loc_err: float
    heuristic_top5_loc_err: float
    per_image: dict[str, tuple] = field(default_factory=dict)   # each image's miss (1.0) or hit (0.0)

    def interval(self, metric: str, seed: int = 0) -> Interval:
        """The 95% (Wilson) interval over images of ``plain_top5_loc_err`` or ``heuristic_top5_loc_err``."""
        return mean_interval(np.asarray(self.per_image[metric], float), seed=seed)

    def to_json(self) -> dict:
        return {"n": self.n, "plain_top5_loc_err": self.plain_top5_loc_err,
                "heuristic_top5_loc_err": self.heuristic_top5_loc_err,
                "per_image": {k: list(v) for k, v in self.per_image.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "HeuristicEvaluation":
        return cls(**{**data, "per_image": {k: tuple(v) for k, v in data.get("per_image", {}).items()}})


def evaluate(model: torch.nn.Module, loader, device: torch.device | str = "cpu", method: str | MapMethod = "cam",
             threshold: float = DEFAULT_THRESHOLD, topk: int = 5, cam_step: float = 0.01, progress: bool = True,
             on_batch=None, frame: str | None = None, baselines: dict | None = None, metrics: list | None = None,
             distributed: bool = False, amp: bool = False, channels_last: bool = False) -> Evaluation:
    """Stream ``loader``'s batches through ``method``'s maps, their boxes at ``threshold`` and ``metrics`` into an
    :class:`Evaluation`. The model is evaluated in eval mode and handed back on its device and in its mode.

    ``metrics``: default :func:`cam_lib.metrics.standard_metrics` (Tables 1-3 on a ``cam_step`` grid); ``baselines``
    (name -> normalised box) adds a :class:`~cam_lib.metrics.FixedBox` each. ``on_batch(batch, localization)`` is
    called after each batch with the top-k maps and boxes too. ``frame``: the dataset's own frame is used (its
    images and boxes are in it); naming another raises an error that names both.

    ``distributed``: this process is one rank of a ``torch.distributed`` group and ``loader`` holds its shard; the
    metrics' states are gathered, so every rank returns the whole dataset's Evaluation, identical to one process's.
    The GPU path (numbers close to, not identical with, float32): ``amp`` (bfloat16 autocast), ``channels_last``;
    a dataset with ``set_decode("device")`` decodes its JPEGs on ``device``. Maps move to the CPU once per batch."""
    device, method, threshold = torch.device(device), get_method(method), _check_threshold(threshold)
    frame = _dataset_frame(loader, frame)
    method.check(model, frame or "resize")
    k = min(topk, model.num_classes)
    threads = 1 if device.type == "cpu" else None   # on the CPU the forward pass of the next batch has the cores
    if metrics is None:   # Tables 1-3, and PxAP where the dataset has object masks
        metrics = standard_metrics(model.num_classes, threshold_grid(cam_step), None, threads)
        if getattr(_dataset_of(loader), "has_masks", False):
            metrics.append(PxAP(threshold_grid(cam_step)))
    metrics = [*metrics, *(FixedBox(name, box) for name, box in (baselines or {}).items())]
    needs = frozenset().union(*(m.needs for m in metrics)) | ({"topk"} if on_batch is not None else set())
    want_topk, want_gt = "topk" in needs, "gt" in needs
    skipped, counted = [], [0]

    def account(batch, maps, size) -> None:   # boxes and metrics of one batch (on the worker thread)
        if maps.maps.device.type != "cpu":     # one copy per batch; the main thread goes on with the next batch
            maps = MapOutput(maps.logits.float().cpu(), maps.classes.cpu(), maps.maps.cpu())
        out = _boxed(maps, k, threshold, want_topk, want_gt, size)
        for metric in metrics:
            metric.update(batch, out)
        counted[0] += len(batch.indices)
        if on_batch is not None:
            on_batch(batch, out)

    with evaluating(model, device), _memory_format(model, channels_last), \
            ThreadPoolExecutor(1, thread_name_prefix="cam_lib-evaluate") as worker:
        pending = None
        for batch in bar(loader, progress, desc=f"localize ({method.name})", unit="batch"):
            skipped.extend(batch.skipped)
            if len(batch.indices) == 0:
                continue
            frame = _batch_frame(batch, frame)
            if want_gt and bool((batch.labels < 0).any()):
                raise BadInputError("parameter loader: the metrics score ground-truth classes, but the dataset has "
                                    "no labels (predictions only: metrics=[TopKPredictions(...)])", param="loader")
            images = batch.images_on(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                maps = _method_maps(method, model, images, k, batch.labels.to(device) if want_gt else None,
                                    want_topk, frame)
            if pending is not None:
                pending.result()   # one batch in flight: bounded memory, errors raised here
            pending = worker.submit(account, batch, maps, (images.shape[-1], images.shape[-2]))
        if pending is not None:
            pending.result()
    world = 1
    if distributed:
        parts = distributed_gather(metrics, skipped, counted[0])
        world, skipped, counted[0] = len(parts), [s for p in parts for s in p["skipped"]], sum(p["n"] for p in parts)
    if counted[0] == 0:
        raise BadInputError(f"parameter loader: no images were evaluated ({len(skipped)} skipped)", param="loader")
    per_image = {}
    for metric in metrics:
        per_image.update({key: tuple(np.asarray(v).astype(float).tolist()) for key, v in metric.per_image().items()})
    return Evaluation(counted[0], {m.name: m.compute() for m in metrics}, per_image, tuple(skipped), threshold,
                      getattr(model, "name", type(model).__name__), method.name, frame or "resize", world)


def distributed_gather(metrics: list, skipped: list, n: int) -> list[dict]:
    """Every rank's metric states, skipped images and image count, gathered in rank order
    (:func:`cam_lib.distributed.gather`); each metric becomes the metric of all ranks' images."""
    parts = distributed.gather({"states": [m.state() for m in metrics], "skipped": skipped, "n": n})
    for i, metric in enumerate(metrics):
        metric.merge([part["states"][i] for part in parts])
    return parts


def _batch_frame(batch, frame: str | None) -> str:
    """The frame of the evaluation: the dataset's (``frame``), checked against what a batch says it is in (batches
    decoded on the device carry their frame); one evaluation takes one frame."""
    own = getattr(batch, "frame", None)
    if own is not None and frame is not None and own != frame:
        raise BadInputError(f"parameter frame={frame!r}: this batch is in frame {own!r}; one evaluation takes one "
                            "frame", param="frame")
    return own or frame or "resize"


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


def evaluate_heuristic(model: torch.nn.Module, loader, device: torch.device | str = "cpu",
                       threshold: float = DEFAULT_THRESHOLD, progress: bool = True,
                       method: str | MapMethod = "cam") -> HeuristicEvaluation:
    """Table 3: top-5 localization error of the plain top-5 (class, box) guesses and of the tight/loose heuristic
    (:func:`cam_lib.boxes.heuristic_guesses`), both from the same maps of the top-3 classes. The model is left on its
    device and in its mode afterwards."""
    device = torch.device(device)
    if model.num_classes < 3:
        raise BadInputError(f"parameter model: the heuristic needs >= 3 classes; {model.name} has "
                            f"{model.num_classes}", param="model")
    plain, heuristic, n = LocalizationError(), LocalizationError(), 0
    frame = _dataset_frame(loader, None)
    with evaluating(model, device):
        for batch in bar(loader, progress, desc="localize (heuristic)", unit="batch"):
            if len(batch.labels) == 0:
                continue
            frame = _batch_frame(batch, frame)
            targets = batch.labels.to(device)
            out = localize_batch(model, batch.images_on(device), topk=5, threshold=threshold, method=method,
                                 frame=frame)
            plain.update(out.classes, out.boxes, targets, batch.gt_boxes, batch.gt_valid)
            classes, boxes = heuristic_guesses(out.classes[:, :3], out.maps[:, :3])
            heuristic.update(classes, boxes, targets, batch.gt_boxes, batch.gt_valid)
            n += len(targets)
    if n == 0:
        raise BadInputError("parameter loader: no images were evaluated", param="loader")
    per_image = {"plain_top5_loc_err": plain.per_image()["top5_wrong"],
                 "heuristic_top5_loc_err": heuristic.per_image()["top5_wrong"]}
    return HeuristicEvaluation(n=n, plain_top5_loc_err=plain.compute()["top5_loc_err"],
                               heuristic_top5_loc_err=heuristic.compute()["top5_loc_err"],
                               per_image={k: tuple(v.astype(float).tolist()) for k, v in per_image.items()})


# ---------------------------------------------------------------------------------------------------------------------
# The localize run


@dataclass(frozen=True)
class LocalizeConfig:
    """One localize run: the data, the network, the map method and how it is scored, the devices. Every field is
    checked by :meth:`check` (errors name the field; the command line maps it to its flag). ``baselines``: True
    scores the content-free boxes chosen on the evaluated images' own boxes (optimistic for them), or a dict
    name -> normalised box chosen elsewhere (e.g. on a training split)."""

    data: str
    model: str
    root: Path | None = None
    split: str | None = None
    layout: str = "auto"
    metadata: Path | None = None   # wsolevaluation's metadata folder (imagenet layout wsol, openimages)
    limit: int | None = None
    skip_bad: bool = False
    pretrained: bool = False
    checkpoint: Path | None = None
    num_classes: int | None = None
    width: float = 1.0
    method: str = "cam"
    frame: str = "resize"
    threshold: float = DEFAULT_THRESHOLD
    cam_step: float = 0.01
    baselines: bool | dict = False
    batch_size: int = 32
    workers: int = 0
    device: str = "auto"
    decode: str = "cpu"
    amp: bool = False
    channels_last: bool = False
    figures: Path | None = None
    max_figures: int = 16
    feature_layer: str | None = None   # a user's network (model "timm:<name>" / "torchvision:<name>"): its layers
    classifier: str | None = None
    progress: bool = True

    def check(self) -> "LocalizeConfig":
        """Every field that can be checked before any work (the files come next, in :func:`localize`)."""
        from .data import DATASETS
        from .models import check_model_name

        for name in ("batch_size", "limit", "num_classes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BadInputError(f"parameter {name}={value!r}: must be an integer >= 1", param=name)
        for name in ("workers", "max_figures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadInputError(f"parameter {name}={value!r}: must be an integer >= 0", param=name)
        _check_threshold(self.threshold)
        threshold_grid(self.cam_step)
        if self.data not in DATASETS:
            raise BadInputError(f"parameter data={self.data!r}: choose one of {', '.join(DATASETS)}", param="data")
        if ":" not in self.model:   # a user's torchvision / timm network is checked when it is built
            check_model_name(self.model)
        get_method(self.method)
        if self.frame not in FRAMES:
            raise BadInputError(f"parameter frame={self.frame!r}: choose one of {', '.join(FRAMES)}", param="frame")
        if self.root is not None and not Path(self.root).is_dir():
            raise BadInputError(f"parameter root={str(self.root)!r}: folder not found", param="root")
        if self.metadata is not None:
            if self.data not in ("imagenet", "openimages"):
                raise BadInputError(f"parameter metadata: wsolevaluation's metadata is read for imagenet and "
                                    f"openimages, not {self.data!r}", param="metadata")
            if not (Path(self.metadata) / "image_ids.txt").is_file():
                raise BadInputError(f"parameter metadata={str(self.metadata)!r}: no image_ids.txt there",
                                    param="metadata")
        return self


@dataclass(frozen=True)
class LocalizeRun:
    """What :func:`localize` gives: the :class:`Evaluation` (every rank holds the whole dataset's), this process's
    ``rank``, and the overlays it wrote."""

    evaluation: Evaluation
    rank: int = 0
    figures: tuple = ()
    layout: str | None = None   # the annotation layout the dataset was read in (ImageNet val: loc, devkit, wsol)


def localize(config: LocalizeConfig, net: torch.nn.Module | None = None) -> LocalizeRun:
    """THE localize run: the dataset, the network (``net``, or built from ``config``: pretrained weights or a
    checkpoint), its loader (this rank's shard under torchrun), and :func:`evaluate` with the standard metrics
    (labelled data) or :class:`TopKPredictions` (unlabelled folders); overlays into ``config.figures``."""
    from .data import build_dataset, eval_split, has_boxes
    from .metrics.maxboxacc import load_compiled

    config.check()
    loader_thread = threading.Thread(target=load_compiled, name="cam_lib-load-sweep")   # beside the set-up
    loader_thread.start()
    try:
        from .models import resolve_device

        _, world, local_rank = distributed.dist_info()
        device = resolve_device(f"cuda:{local_rank}" if world > 1 and config.device in ("auto", "cuda")
                                and torch.cuda.is_available() else config.device)
        labelled = has_boxes(config.data)
        if labelled and config.split not in (None, eval_split(config.data)):
            raise BadInputError(f"parameter split={config.split!r}: localization is evaluated on {config.data} "
                                f"{eval_split(config.data)}", param="split")
        if config.baselines and not labelled:
            raise BadInputError(f"parameter baselines: they need boxes, and data {config.data!r} has none",
                                param="baselines")
        dataset = build_dataset(config.data, config.root, split=eval_split(config.data) if labelled else config.split,
                                frame=config.frame, skip_bad=config.skip_bad, layout=config.layout,
                                limit=config.limit, **({"metadata": config.metadata} if config.metadata else {}))
        dataset.set_decode(config.decode)
        net = net if net is not None else _network(config, dataset, labelled)
        with distributed.process_group(device) as (rank, world):
            run = _run(config, dataset, net, device, labelled, rank, world)
    finally:
        loader_thread.join()
    return replace(run, layout=getattr(dataset, "layout", None))


def _network(config: LocalizeConfig, dataset, labelled: bool) -> torch.nn.Module:
    """The network of a run: built from the registry with pretrained weights, or with a checkpoint's."""
    from .io import load_checkpoint
    from .models import build_model

    num_classes = config.num_classes if config.num_classes is not None else getattr(dataset, "num_classes", 1000)
    if labelled and dataset.num_classes > num_classes:
        raise BadInputError(f"parameter num_classes={num_classes}: {config.root} has {dataset.num_classes} classes",
                            param="num_classes")
    if ":" in config.model:   # a user's network, wrapped (models.user_model)
        from .models import user_model

        net = user_model(config.model, num_classes, config.pretrained, config.feature_layer, config.classifier)
        if config.checkpoint is not None:
            load_checkpoint(net.net, config.checkpoint, param="checkpoint")
        return net.eval()
    net = build_model(config.model, num_classes=num_classes, pretrained=config.pretrained, width=config.width,
                      new_head=config.checkpoint is not None)   # a checkpoint brings its own head
    if config.checkpoint is not None:
        load_checkpoint(net, config.checkpoint)
    return net.eval()


def _run(config: LocalizeConfig, dataset, net, device, labelled: bool, rank: int, world: int) -> LocalizeRun:
    """The loop of :func:`localize` in its process group."""
    from .data import make_loader

    loader = make_loader(dataset if world == 1 else distributed.shard(dataset, rank, world, config.batch_size),
                         config.batch_size, config.workers, device)
    names = getattr(dataset, "class_names", None) or (_imagenet_names() if net.num_classes == 1000 else None)
    written: list[Path] = []
    save = _overlay_writer(config, dataset, names, written) if config.figures is not None and rank == 0 else None
    if labelled:
        baselines = _chosen_baselines(dataset) if config.baselines is True else config.baselines or None
        metrics = None
    else:
        root = Path(config.root) if config.root is not None else None
        baselines, metrics = None, [TopKPredictions(names, lambda i: str(dataset.path(i).relative_to(root)) if root
                                                    else dataset.path(i).name)]
    evaluation = evaluate(net, loader, device, method=config.method, threshold=config.threshold,
                          cam_step=config.cam_step, progress=config.progress and rank == 0, on_batch=save,
                          frame=config.frame, baselines=baselines, metrics=metrics, distributed=world > 1,
                          amp=config.amp, channels_last=config.channels_last)
    evaluation = replace(evaluation, skipped=tuple(dataset.skipped) + evaluation.skipped, skip_bad=config.skip_bad,
                         model=config.model)
    return LocalizeRun(evaluation, rank, tuple(written))


def _imagenet_names():
    from .data.imagenet import imagenet_class_names

    return imagenet_class_names()


def _chosen_baselines(dataset) -> dict:
    """The baselines' normalised boxes chosen on the evaluated images' own boxes (stored frames)."""
    from .data.common import stored_sizes
    from .metrics import choose_baseline_boxes

    chosen = choose_baseline_boxes([np.asarray(b, np.float64) for _, _, b in dataset.samples],
                                   stored_sizes(path for path, _, _ in dataset.samples))
    return {k: chosen[k] for k in ("frame", "centered", "best_fixed")}


def _overlay_writer(config: LocalizeConfig, dataset, names, written: list):
    """``on_batch`` that writes the first ``config.max_figures`` images' top-k maps and boxes as PNGs."""
    method = get_method(config.method).name

    def save(batch, out) -> None:
        from .figures import class_names_or_indices, save_topk_overlay   # matplotlib: only when drawing

        for j in range(len(batch.indices)):
            if len(written) >= config.max_figures:
                return
            stem = dataset.path(int(batch.indices[j])).stem
            gt = batch.gt_boxes[j][batch.gt_valid[j]]
            written.append(save_topk_overlay(Path(config.figures) / f"{stem}_{method}.png", batch.images[j],
                                             out.maps[j], out.boxes[j],
                                             class_names_or_indices(names, out.classes[j]), gt))
    return save


def config_fields() -> tuple[str, ...]:
    """The names of :class:`LocalizeConfig`'s fields (the command line builds one from its flags)."""
    return tuple(f.name for f in fields(LocalizeConfig))
