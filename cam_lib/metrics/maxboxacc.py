"""MaxBoxAcc and MaxBoxAccV2 (Choe et al., CVPR 2020), the threshold-free localization score reported next to the
paper's Tables 2-4: every CAM threshold of a grid labelled in one compiled sweep per map.

MaxBoxAcc(delta) = max over CAM thresholds tau of the fraction of images whose best box at tau has IoU >= delta
with a ground-truth box; MaxBoxAccV2 averages delta in {0.3, 0.5, 0.7} and boxes every connected component (V1:
delta = 0.5 and the largest component only). :func:`best_ious` gives the numbers of the per-threshold OpenCV
algorithm (:func:`cam_lib.metrics.reference.baseline_best_ious`) without a loop over thresholds.
:meth:`MaxBoxAcc.per_image` and :func:`maxboxacc_per_image` give each image's share of the score (for the
intervals of :mod:`.intervals`). :class:`MaxBoxAccV2` and :class:`GTKnownCurve` are the metrics of the evaluation
loop (:mod:`.protocol`), both fed by one sweep per batch (:func:`batch_sweep`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..boxes import check_boxes_tensor
from ..errors import BadInputError
from .checks import check_batch, check_gt
from .intervals import stack_outcomes
from .protocol import AccumulatorMetric, Result

__all__ = ["V2_IOU_THRESHOLDS", "MaxBoxAcc", "best_ious", "best_ious_both", "ceil_float32", "map_levels", "maxboxacc_per_image",
           "threshold_grid", "batch_sweep", "MaxBoxAccV2", "GTKnownCurve", "MaxBoxAccResult", "GTKnownCurveResult"]

V2_IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """CAM thresholds ``0, step, 2 step, ... < 1`` (wsolevaluation's ``cam_curve_interval``)."""
    if not 0 < step < 1:
        raise BadInputError(f"parameter step={step!r}: the threshold grid step must be in (0, 1)", param="step")
    return np.arange(0, 1, step)


_CHUNKS_PER_THREAD = 4   # several chunks per thread even out maps of uneven cost


def ceil_float32(thresholds: np.ndarray) -> np.ndarray:
    """The smallest float32 >= each threshold: for a float32 value v, ``v >= tau`` (compared in float64, as numpy
    compares a float32 map with a float64 threshold) holds exactly when ``v >= ceil_float32(tau)``."""
    c = thresholds.astype(np.float32)
    low = c.astype(np.float64) < thresholds
    c[low] = np.nextafter(c[low], np.float32(np.inf))
    return c


def _level_table(grid: np.ndarray) -> tuple[np.ndarray, np.float32, type]:
    """``ext = [-inf, ceil32(grid)..., +inf]`` for a SORTED grid, the affine estimate's scale, and the smallest
    unsigned type that holds the levels 0..T."""
    c = ceil_float32(np.asarray(grid, np.float64))
    ext = np.concatenate([[-np.inf], c, [np.inf]]).astype(np.float32)
    spread = float(c[-1]) - float(c[0])
    scale = np.float32((len(c) - 1) / spread) if len(c) > 1 and spread > 0 else np.float32(0)
    dtype = np.uint8 if len(c) <= 0xFF else np.uint16 if len(c) <= 0xFFFF else np.uint32
    return ext, scale, dtype


def map_levels(maps: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``L = #{t: thresholds[t] <= map}`` (int32, the shape of ``maps``) for float32 ``maps`` and a SORTED grid, so
    that ``maps >= thresholds[t]`` is exactly ``L > t``: step 1 of :func:`best_ious`."""
    values = np.ascontiguousarray(np.asarray(maps, np.float32).reshape(-1, np.shape(maps)[-1]))
    ext, scale, dtype = _level_table(thresholds)
    out = np.zeros(values.size, dtype)
    from . import sweep   # the compiled kernels: numba on first use

    if not sweep._levels(values, ext, scale, out, values.shape[1], 0, np.zeros(len(ext) - 1, np.int64)):
        raise BadInputError("parameter maps: the maps contain NaN values", param="maps")
    return out.astype(np.int32).reshape(np.shape(maps))


def best_ious(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
              all_components: bool = True, threads: int | None = None) -> np.ndarray:
    """``(B, T)``: for every map and threshold, the best IoU with a valid ground-truth box of a box of
    ``maps >= thresholds[t]`` (compared in float32): of every 8-connected component (``all_components``) or of
    the largest (most pixels, first in raster order on ties); an empty mask gives the whole frame; an image
    without a valid ground-truth box scores 0. ``maps (B, H, W)``, ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)``;
    any grid (sorted here). One sweep per map labels every threshold: the cost barely depends on the number of
    thresholds. Chunks of maps run on ``threads`` threads (default: ``torch.get_num_threads()``)."""
    every, largest = _best_ious(maps, thresholds, gt_boxes, gt_valid, bool(all_components), not all_components,
                                threads)
    return every if all_components else largest


def best_ious_both(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
                   threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`best_ious` with every component's boxes and with the largest component's, from ONE sweep per map
    (MaxBoxAccV2 and the GT-known curve of the same maps: :func:`cam_lib.localize.evaluate`)."""
    return _best_ious(maps, thresholds, gt_boxes, gt_valid, True, True, threads)


def _best_ious(maps, thresholds, gt_boxes, gt_valid, want_all: bool, want_big: bool, threads: int | None
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    maps = np.ascontiguousarray(maps, np.float32)
    if maps.ndim != 3 or min(maps.shape[1:], default=0) < 1:
        raise BadInputError(f"parameter maps: must be (B, H, W) with H, W >= 1, got shape {maps.shape}", param="maps")
    thresholds = np.asarray(thresholds, np.float64)
    if thresholds.ndim != 1 or len(thresholds) == 0 or not np.isfinite(thresholds).all():
        raise BadInputError("parameter thresholds: must be a non-empty 1-D sequence of finite values",
                            param="thresholds")
    batch, height, width = maps.shape
    if height * width >= 1 << 31:
        raise BadInputError(f"parameter maps: maps of {height}x{width} pixels are too large (at most 2**31 - 1 "
                            "pixels)", param="maps")
    gt = np.ascontiguousarray(gt_boxes, np.float64)
    valid = np.ascontiguousarray(gt_valid, bool)
    if gt.ndim != 3 or gt.shape[0] != batch or gt.shape[-1] != 4 or valid.shape != gt.shape[:2]:
        bad = "gt_boxes" if gt.ndim != 3 or gt.shape[0] != batch or gt.shape[-1] != 4 else "gt_valid"
        raise BadInputError(f"parameter {bad}: gt_boxes (B, M, 4) and gt_valid (B, M) must match maps (B={batch}), "
                            f"got {gt.shape} and {valid.shape}", param=bad)
    # copies: the arrays may be read-only
    check_boxes_tensor("gt_boxes", torch.tensor(gt), torch.tensor(valid), valid_name="gt_valid")
    from . import sweep   # the compiled kernels: numba on first use

    order = np.argsort(thresholds, kind="stable")
    ext, scale, dtype = _level_table(thresholds[order])
    shift = max(1, (max(height, width) - 1).bit_length())
    packed = np.uint32 if 2 * shift + 8 <= 32 else np.uint64
    best_all = np.zeros((batch, len(thresholds)) if want_all else (batch, 0))
    best_big = np.zeros((batch, len(thresholds)) if want_big else (batch, 0))
    threads = max(1, min(batch, torch.get_num_threads() if threads is None else int(threads)))
    chunks = 1 if threads == 1 else min(batch, threads * _CHUNKS_PER_THREAD)
    bounds = np.linspace(0, batch, chunks + 1).astype(int)

    def run(lo: int, hi: int) -> int:
        bad = sweep._sweep(maps[lo:hi], ext, scale, gt[lo:hi], valid[lo:hi], want_all, want_big,
                           sweep.GROUP_REPS, sweep.GROUP_COUNT, np.zeros((height + 2) * (width + 2), dtype),
                           np.empty(height * width, packed), shift, best_all[lo:hi], best_big[lo:hi])
        return lo + bad if bad >= 0 else -1

    spans = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    if len(spans) > 1:   # the threads end with the call (the sweep releases the GIL)
        with ThreadPoolExecutor(threads, thread_name_prefix="cam_lib-sweep") as pool:
            bad = list(pool.map(lambda span: run(*span), spans))
    else:
        bad = [run(*span) for span in spans]
    nan = [i for i in bad if i >= 0]
    if nan:
        raise BadInputError(f"parameter maps: the maps contain NaN values (map {nan[0]})", param="maps")
    outs = []
    for best, wanted in ((best_all, want_all), (best_big, want_big)):
        out = None
        if wanted:
            out = np.empty_like(best)
            out[:, order] = best
        outs.append(out)
    return outs[0], outs[1]


def load_compiled() -> None:
    """Load the compiled sweep now (numba's on-disk cache; compiled on the first run): about 0.4 s of the first call
    of a fresh process, which ``localize`` spends on a background thread while it reads the dataset and builds the
    network."""
    maps = np.zeros((1, 2, 2), np.float32)
    best_ious_both(maps, threshold_grid(), np.zeros((1, 1, 4)), np.ones((1, 1), bool), threads=1)


def _reached(best: np.ndarray, iou_thresholds: np.ndarray) -> np.ndarray:
    """``(N, T, D)`` bool: image n's best IoU at CAM threshold t reaches IoU threshold d."""
    return best[:, :, None] >= iou_thresholds[None, None, :]


def _accuracy(counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The accuracy ``(T, D)`` at every pair of thresholds, and the CAM threshold index that maximises it for each
    IoU threshold ``(D,)`` (the first on ties)."""
    acc = counts / n
    return acc, acc.argmax(0)


def maxboxacc_per_image(best_iou: np.ndarray, cam_thresholds: np.ndarray,
                        iou_thresholds: np.ndarray | tuple[float, ...] = V2_IOU_THRESHOLDS) -> np.ndarray:
    """``(N,)`` float64: each image's share of MaxBoxAcc, at the CAM thresholds chosen on the WHOLE set:
    ``mean over delta of [best_iou[n, t*_delta] >= delta]``, with ``t*_delta`` the threshold of best accuracy at
    ``delta`` over all N images (as :meth:`MaxBoxAcc.compute` picks it). Its mean is MaxBoxAcc (to rounding).
    ``best_iou (N, T)``: :func:`best_ious` of the N images at ``cam_thresholds (T,)`` (only their number is used).
    The thresholds stay fixed when images are resampled: an interval from these values leaves out the
    (optimistic) choice of threshold on each resample."""
    best_iou = np.asarray(best_iou, np.float64)
    cam_thresholds = np.asarray(cam_thresholds, np.float64)
    iou_thresholds = np.asarray(iou_thresholds, np.float64)
    if cam_thresholds.ndim != 1 or len(cam_thresholds) == 0:
        raise BadInputError(f"cam_thresholds must be a non-empty 1-D sequence, got shape {cam_thresholds.shape}",
                            param="cam_thresholds")
    if iou_thresholds.ndim != 1 or len(iou_thresholds) == 0 or not np.isfinite(iou_thresholds).all():
        raise BadInputError("iou_thresholds must be a non-empty 1-D sequence of finite values",
                            param="iou_thresholds")
    if best_iou.ndim != 2 or best_iou.shape[0] == 0 or best_iou.shape[1] != len(cam_thresholds):
        raise BadInputError(f"best_iou must be (N >= 1, T = {len(cam_thresholds)}) (one column per CAM threshold), "
                            f"got shape {best_iou.shape}", param="best_iou")
    if not np.isfinite(best_iou).all():
        raise BadInputError("best_iou contains NaN or infinite values", param="best_iou")
    reached = _reached(best_iou, iou_thresholds)
    _, chosen = _accuracy(reached.sum(0), len(best_iou))
    return reached[:, chosen, np.arange(len(iou_thresholds))].mean(1)


class MaxBoxAcc:
    """MaxBoxAcc over a grid of CAM thresholds (Choe et al. 2020); the defaults give MaxBoxAccV2.

    ``update(maps, gt_boxes, gt_valid)`` with the ground-truth class's normalised maps ``(B, H, W)``.
    For every image and threshold ``tau`` it finds the best IoU of any box at ``tau`` (every component's box,
    or the largest component's with ``all_components=False``) with any ground-truth box, and counts the
    images whose best IoU reaches each ``delta``. Maps are compared in float32 (``map >= tau``); all thresholds
    of a batch come from one sweep per map (:func:`best_ious`), so the cost hardly depends on the grid: a 0.001
    grid costs little more than a 0.01 grid. ``threads``: worker threads per batch (default
    ``torch.get_num_threads()``).
    """

    def __init__(self, cam_thresholds: np.ndarray | None = None,
                 iou_thresholds: tuple[float, ...] = V2_IOU_THRESHOLDS, all_components: bool = True,
                 threads: int | None = None):
        self.cam_thresholds = np.asarray(threshold_grid() if cam_thresholds is None else cam_thresholds, float)
        if self.cam_thresholds.ndim != 1 or len(self.cam_thresholds) == 0:
            raise BadInputError("parameter cam_thresholds: must be a non-empty 1-D sequence", param="cam_thresholds")
        if not np.isfinite(self.cam_thresholds).all():
            raise BadInputError("parameter cam_thresholds: must be finite", param="cam_thresholds")
        self.iou_thresholds = np.asarray(iou_thresholds, float)
        if self.iou_thresholds.ndim != 1 or len(self.iou_thresholds) == 0:
            raise BadInputError("parameter iou_thresholds: must be a non-empty 1-D sequence", param="iou_thresholds")
        self.all_components = bool(all_components)
        if threads is not None and int(threads) < 1:
            raise BadInputError(f"parameter threads={threads!r}: must be >= 1", param="threads")
        self.threads = threads
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.counts = np.zeros((len(self.cam_thresholds), len(self.iou_thresholds)), dtype=np.int64)
        self.best = []   # (B, T) float64 per batch: best_ious, as counted

    def per_image(self) -> dict[str, np.ndarray]:
        """Per-image outcomes in update order: ``best_iou (N, T)`` float64 (:func:`best_ious`: each image's best
        IoU at each CAM threshold, the numbers ``counts`` is made of) and ``maxboxacc (N,)``, each image's share at
        the thresholds chosen on the whole set (:func:`maxboxacc_per_image`), whose mean is
        ``compute()["maxboxacc"]`` (to rounding: the same fractions summed in another order)."""
        best = stack_outcomes(self.best, "MaxBoxAcc", dim=0)
        return {"best_iou": best,
                "maxboxacc": maxboxacc_per_image(best, self.cam_thresholds, self.iou_thresholds)}

    def best_iou(self, score_map: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
        """``(T,)``: for each CAM threshold, the best IoU of a box of ``score_map >= tau`` with ``gt_boxes``."""
        score_map = np.asarray(score_map, np.float32)
        if score_map.ndim != 2:
            raise BadInputError(f"parameter score_map: must be 2-D (H, W), got shape {score_map.shape}",
                                param="score_map")
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        check_boxes_tensor("gt_boxes", torch.tensor(gt_boxes))
        if len(gt_boxes) == 0:
            return np.zeros(len(self.cam_thresholds))
        return best_ious(score_map[None], self.cam_thresholds, gt_boxes[None], np.ones((1, len(gt_boxes)), bool),
                         self.all_components, self.threads)[0]

    def update(self, maps: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        check_batch("maps", maps, 3)
        check_gt(gt_boxes, gt_valid, maps.shape[0])
        if maps.shape[0] == 0:
            return
        self.add_ious(best_ious(maps.detach().float().cpu().numpy(), self.cam_thresholds,
                                gt_boxes.detach().cpu().numpy(), gt_valid.detach().cpu().numpy(), self.all_components,
                                self.threads))

    def add_ious(self, best: np.ndarray) -> None:
        """Count images whose :func:`best_ious` ``(B, T)`` were computed already (on this accumulator's CAM
        thresholds and component rule: e.g. by :func:`best_ious_both`, one sweep for two accumulators)."""
        best = np.asarray(best, np.float64)
        if best.ndim != 2 or best.shape[1] != len(self.cam_thresholds):
            raise BadInputError(f"parameter best: best IoUs must be (B, T={len(self.cam_thresholds)}), got shape "
                                f"{best.shape}", param="best")
        self.counts += _reached(best, self.iou_thresholds).sum(0)
        self.best.append(best)
        self.n += best.shape[0]

    def compute(self) -> dict:
        """``maxboxacc`` (mean over IoU thresholds), and per IoU threshold the accuracy and best CAM threshold."""
        if self.n == 0:
            raise BadInputError("MaxBoxAcc.compute() called before any update()", param=None)   # no parameter
        acc, best = _accuracy(self.counts, self.n)
        return {
            "maxboxacc": float(acc.max(0).mean()),
            "per_iou": {float(d): float(acc[best[i], i]) for i, d in enumerate(self.iou_thresholds)},
            "best_threshold": {float(d): float(self.cam_thresholds[best[i]])
                               for i, d in enumerate(self.iou_thresholds)},
        }


def batch_sweep(batch, out, grid: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`best_ious_both` of a batch's ground-truth class maps (``out.gt_maps``) at ``grid``, computed once per
    batch and grid and kept in ``out.cache``: MaxBoxAccV2 and the GT-known curve read one sweep."""
    key = ("sweep", np.asarray(grid, np.float64).tobytes())
    if key not in out.cache:
        out.cache[key] = best_ious_both(out.gt_maps.detach().float().cpu().numpy(), grid, batch.gt_boxes.numpy(),
                                        batch.gt_valid.numpy(), threads)
    return out.cache[key]


@dataclass(frozen=True)
class MaxBoxAccResult(Result):
    """MaxBoxAcc over the CAM threshold grid: the mean over IoU thresholds (``maxboxacc``), and per IoU threshold
    the accuracy (``per_iou``) and the CAM threshold that reaches it (``best_threshold``)."""

    kind: ClassVar[str] = "maxboxacc"
    maxboxacc: float
    per_iou: dict
    best_threshold: dict
    key: str = "maxboxacc_v2"

    def scores(self) -> dict:
        return {self.key: self.maxboxacc}

    @classmethod
    def _from_fields(cls, data: dict) -> "MaxBoxAccResult":
        return cls(**{**data, "per_iou": {float(k): float(v) for k, v in data["per_iou"].items()},
                      "best_threshold": {float(k): float(v) for k, v in data["best_threshold"].items()}})


@dataclass(frozen=True, eq=False)
class GTKnownCurveResult(Result):
    """GT-known localization at every threshold of a grid (the largest component's box, IoU >= 0.5): ``hits (N,
    T)`` bool, one row per image. :meth:`chosen_threshold` on a validation split, :meth:`at` on a test split (the
    protocol of Choe et al. 2020)."""

    kind: ClassVar[str] = "gt_known_curve"
    thresholds: tuple
    hits: np.ndarray

    def __eq__(self, other) -> bool:
        return (isinstance(other, GTKnownCurveResult) and tuple(self.thresholds) == tuple(other.thresholds)
                and np.array_equal(self.hits, other.hits))

    __hash__ = None

    def curve(self) -> np.ndarray:
        """``(T,)``: GT-known accuracy at each threshold."""
        return self.hits.mean(0)

    def chosen_threshold(self) -> float:
        """The threshold with the best GT-known accuracy on THIS set (the first on ties)."""
        return float(self.thresholds[int(np.argmax(self.curve()))])

    def at(self, threshold: float) -> np.ndarray:
        """``(N,)`` float 0/1: each image's hit at ``threshold`` (a value of the grid)."""
        grid = np.asarray(self.thresholds, float)
        at = np.flatnonzero(np.isclose(grid, threshold, rtol=0, atol=1e-9))
        if not len(at):
            raise BadInputError(f"parameter threshold={threshold!r} is not on the evaluated grid "
                                f"({grid[0]:g}, {grid[1] - grid[0]:g}, ..., {grid[-1]:g})", param="threshold")
        return self.hits[:, at[0]].astype(float)

    def to_json(self) -> dict:
        return {"kind": self.kind, "thresholds": list(self.thresholds), "hits": self.hits.astype(np.uint8).tolist()}

    @classmethod
    def _from_fields(cls, data: dict) -> "GTKnownCurveResult":
        hits = np.asarray(data["hits"], np.uint8).reshape(-1, len(data["thresholds"]))
        if not np.isin(hits, (0, 1)).all():
            raise BadInputError("parameter data: GT-known hits must be 0 or 1", param="data")
        return cls(tuple(float(t) for t in data["thresholds"]), hits.astype(bool))


class _SweptMetric(AccumulatorMetric):
    """A :class:`MaxBoxAcc` accumulator fed from the batch's one sweep (:func:`batch_sweep`)."""

    needs, parts, add = frozenset({"gt"}), "best", "add_ious"
    _column = 0   # 0: every component's boxes; 1: the largest component's

    def __init__(self, acc: MaxBoxAcc, threads: int | None) -> None:
        self.acc, self.threads = acc, threads

    def update(self, batch, out) -> None:
        self.acc.add_ious(batch_sweep(batch, out, self.acc.cam_thresholds, self.threads)[self._column])


class MaxBoxAccV2(_SweptMetric):
    """MaxBoxAccV2 of the evaluation loop: the ground-truth class's map, every component boxed, IoU 0.3/0.5/0.7."""

    name = "maxboxacc"

    def __init__(self, cam_thresholds: np.ndarray, threads: int | None = None) -> None:
        super().__init__(MaxBoxAcc(cam_thresholds), threads)

    def per_image(self) -> dict[str, np.ndarray]:
        return {"maxboxacc_v2": self.acc.per_image()["maxboxacc"]}

    def compute(self) -> MaxBoxAccResult:
        box = self.acc.compute()
        return MaxBoxAccResult(box["maxboxacc"], box["per_iou"], box["best_threshold"])


class GTKnownCurve(_SweptMetric):
    """GT-known localization at every threshold of the grid (the largest component, IoU >= 0.5), from the same
    sweep as :class:`MaxBoxAccV2`."""

    name, _column = "gt_known_curve", 1

    def __init__(self, cam_thresholds: np.ndarray, threads: int | None = None) -> None:
        super().__init__(MaxBoxAcc(cam_thresholds, iou_thresholds=(0.5,), all_components=False), threads)

    def compute(self) -> GTKnownCurveResult:
        return GTKnownCurveResult(tuple(self.acc.cam_thresholds.tolist()), self.acc.per_image()["best_iou"] >= 0.5)
