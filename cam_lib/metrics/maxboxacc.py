"""MaxBoxAcc and MaxBoxAccV2 (Choe et al., CVPR 2020), the threshold-free localization score reported next to the
paper's Tables 2-4: every CAM threshold of a grid labelled in one compiled sweep per map.

MaxBoxAcc(delta) = max over CAM thresholds tau of the fraction of images whose best box at tau has IoU >= delta
with a ground-truth box; MaxBoxAccV2 averages delta in {0.3, 0.5, 0.7} and boxes every connected component (V1:
delta = 0.5 and the largest component only). :func:`best_ious` gives the numbers of the per-threshold OpenCV
algorithm (:func:`cam_lib.metrics.reference.baseline_best_ious`) without a loop over thresholds.
:meth:`MaxBoxAcc.per_image` and :func:`maxboxacc_per_image` give each image's share of the score (for the
intervals of :mod:`.intervals`).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

from ..boxes import check_boxes_tensor
from ..errors import BadInputError
from .checks import check_batch, check_gt
from .intervals import stack_outcomes

__all__ = ["V2_IOU_THRESHOLDS", "MaxBoxAcc", "best_ious", "ceil_float32", "map_levels", "maxboxacc_per_image",
           "threshold_grid"]

V2_IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """CAM thresholds ``0, step, 2 step, ... < 1`` (wsolevaluation's ``cam_curve_interval``)."""
    if not 0 < step < 1:
        raise BadInputError(f"threshold grid step must be in (0, 1), got {step}")
    return np.arange(0, 1, step)


# ---------------------------------------------------------------------------------------------------------
# MaxBoxAcc: every threshold of the grid in one sweep per map
#
# The per-threshold algorithm of wsolevaluation (threshold, find contours, box each, for every tau of the grid)
# labels T masks per map. The upper level sets {map >= tau} are nested, so one sweep from the top level down
# labels them all (a union-find over the component tree, as in max-tree construction):
#
# 1. levels: L = #{tau in the grid: tau <= map} per pixel, so that {map >= tau_t} = {L > t} exactly (float32
#    comparisons, as the per-threshold code makes them: see ceil_float32);
# 2. a counting sort orders the pixels by level, highest first, raster order within a level;
# 3. each pixel joins the 8-connected components of its already active neighbours. Which neighbours are active
#    is one vectorised comparison per neighbour (an earlier neighbour in raster order at >= L, a later one at
#    > L); a 256-entry table of that 8-bit pattern says which active neighbours already touch each other, so
#    most pixels need one find. Every component carries its box, pixel count and first raster pixel;
# 4. once the pixels of level t + 1 are in, the components are those of {L > t}: each component touched since
#    the last threshold is scored against the ground truth, and the threshold keeps the best IoU (or that of
#    the largest component); an empty mask scores the whole frame.
#
# Hand-written, in numba (compiled on first use, cached on disk): no maintained library builds a component
# tree with boxes, and per-pixel union-find is too slow in numpy. Chunks of maps run on threads (nogil).
# tests/test_metrics.py checks the result against the per-threshold OpenCV algorithm
# (cam_lib.metrics.reference.baseline_best_ious) on random, many-small-component, flat, tie, border and empty maps.

_RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))   # N NE E SE S SW W NW: bit i


def _ring_groups() -> tuple[np.ndarray, np.ndarray]:
    """For each 8-bit pattern of active neighbours (bit i: ``_RING[i]``), the neighbours that stand for its
    groups of mutually 8-connected active neighbours: ``(256, 4)`` ring indices (-1 past the last), and the
    number of groups ``(256,)`` (at most 4)."""
    reps, count = np.full((256, 4), -1, np.int64), np.zeros(256, np.int64)
    for pattern in range(256):
        on = [i for i in range(8) if pattern >> i & 1]
        group = {i: i for i in on}
        for a in on:
            for b in on:
                if max(abs(_RING[a][0] - _RING[b][0]), abs(_RING[a][1] - _RING[b][1])) <= 1:
                    group = {i: group[a] if g == group[b] else g for i, g in group.items()}
        heads = sorted(set(group.values()))
        count[pattern], reps[pattern, :len(heads)] = len(heads), heads
    return reps, count


_GROUP_REPS, _GROUP_COUNT = _ring_groups()
_CHUNKS_PER_THREAD = 4   # several chunks per thread even out maps of uneven cost
_U = np.uintp   # unsigned indices: numba skips the negative-index wraparound on them


@numba.njit(nogil=True, cache=True)
def _levels(values, ext, scale, levels, row_stride, offset, count):
    """Step 1 for one map ``values (H, W)``: ``levels[offset + y * row_stride + x] = L`` and the histogram
    ``count[L] += 1``. ``ext = [-inf, ceil32(grid)..., +inf]``; an affine estimate is checked against ``ext`` and
    searched only where it is off. Returns False at a NaN."""
    height, width = values.shape
    n_thr = len(ext) - 2
    top = np.float32(n_thr - 1)
    low = ext[1]
    for y in range(height):
        row = levels[offset + y * row_stride:offset + y * row_stride + width]
        src = values[y]
        for x in range(width):                        # the estimate (vectorised), in [0, T] even for NaN or inf
            e = (src[x] - low) * scale
            row[x] = int(min(max(e, np.float32(-1.0)), top) if e == e else np.float32(-1.0)) + 1
        for x in range(width):                        # exact: ext[L] <= v < ext[L + 1]
            v = src[x]
            lev = _U(row[x])
            if v != v or ext[lev] > v or ext[lev + _U(1)] <= v:
                if v != v:
                    return False
                lo, hi = 0, n_thr + 1                 # the largest L in [0, T] with ext[L] <= v
                while hi - lo > 1:
                    mid = (lo + hi) >> 1
                    if ext[_U(mid)] <= v:
                        lo = mid
                    else:
                        hi = mid
                lev = _U(lo)
                row[x] = lo
            count[lev] += 1
    return True


@numba.njit(nogil=True, cache=True, inline="always")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[_U(parent[i])]
        i = _U(parent[i])
    return i


@numba.njit(nogil=True, cache=True, inline="always")
def _best_gt_iou(x0, y0, x1, y1, gt, valid, b):
    """The best IoU of the inclusive box with a valid ground-truth box of image ``b`` (-1 if none is valid):
    the arithmetic of :func:`cam_lib.boxes.box_iou`, in float64."""
    best = -1.0
    for m in range(gt.shape[1]):
        if valid[b, m]:
            iw = max(min(x1, gt[b, m, 2]) - max(x0, gt[b, m, 0]) + 1.0, 0.0)
            ih = max(min(y1, gt[b, m, 3]) - max(y0, gt[b, m, 1]) + 1.0, 0.0)
            inter = iw * ih
            iou = inter / ((x1 - x0 + 1.0) * (y1 - y0 + 1.0)
                           + (gt[b, m, 2] - gt[b, m, 0] + 1.0) * (gt[b, m, 3] - gt[b, m, 1] + 1.0) - inter)
            best = max(best, iou)
    return best


@numba.njit(nogil=True, cache=True)
def _sweep(maps, ext, scale, gt, valid, all_components, reps, groups, levels, order, shift, out):
    """:func:`best_ious` of ``maps (B, H, W)`` into ``out (B, T)``. ``levels``: a zeroed buffer of (H + 2) *
    (W + 2) (the levels, padded with level 0); ``order``: a buffer of H * W entries packing a pixel's
    neighbour pattern, row and column in ``shift``-bit fields. Returns the index of a map with NaN, or -1."""
    batch, height, width = maps.shape
    n_thr = len(ext) - 2
    wp = width + 2
    n = height * width
    ring = np.array([-wp, -wp + 1, 1, wp + 1, wp, wp - 1, -1, -wp - 1])   # _RING as flat offsets
    rep = np.zeros(256 * 4, np.intp)                  # the ring offsets of each pattern's group heads
    n_groups = np.zeros(256, np.intp)
    for pattern in range(256):
        n_groups[pattern] = groups[pattern]
        for g in range(groups[pattern]):
            rep[pattern * 4 + g] = ring[reps[pattern, g]]
    coord = _U((1 << shift) - 1)
    pattern_at = np.zeros(len(levels), np.uint8)
    count = np.empty(n_thr + 1, np.int64)
    start = np.empty(n_thr + 1, np.int64)
    label = np.empty(len(levels), np.uint32)           # the component of each active pixel
    parent = np.empty(n, np.uint32)                    # union-find over components
    area = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    x0, y0 = np.empty(n, np.int32), np.empty(n, np.int32)
    x1, y1 = np.empty(n, np.int32), np.empty(n, np.int32)
    touched = np.empty(n, np.int64)                    # the last threshold at which a component changed
    score = np.empty(n, np.float64)
    live = np.empty(n, np.uint32)                      # the components, compacted at every threshold
    inner = len(levels) - 2 * wp - 2
    for b in range(batch):
        count[:] = 0
        if not _levels(maps[b], ext, scale, levels, wp, wp + 1, count):
            return b
        # which neighbours are active when a pixel joins (raster order within a level): vectorised
        centre = levels[wp + 1:wp + 1 + inner]
        bits = pattern_at[wp + 1:wp + 1 + inner]
        nn, ne = levels[1:1 + inner], levels[2:2 + inner]
        ee, se = levels[wp + 2:wp + 2 + inner], levels[2 * wp + 2:2 * wp + 2 + inner]
        ss, sw = levels[2 * wp + 1:2 * wp + 1 + inner], levels[2 * wp:2 * wp + inner]
        ww, nw = levels[wp:wp + inner], levels[:inner]
        for i in range(inner):
            c = centre[i]
            bits[i] = ((nn[i] >= c) * 1 | (ne[i] >= c) * 2 | (ee[i] > c) * 4 | (se[i] > c) * 8 | (ss[i] > c) * 16
                       | (sw[i] > c) * 32 | (ww[i] >= c) * 64 | (nw[i] >= c) * 128)
        # counting sort: highest level first, raster order within a level
        total = 0
        for lev in range(n_thr, -1, -1):
            start[lev] = total
            total += count[lev]
        for y in range(height):
            row = (y + 1) * wp + 1
            lev_row, bits_row = levels[row:row + width], pattern_at[row:row + width]
            packed_y = _U(y) << _U(shift)
            for x in range(width):
                lev = _U(lev_row[x])
                at = _U(start[lev])
                order[at] = (_U(bits_row[x]) << _U(2 * shift)) | packed_y | _U(x)
                start[lev] = at + _U(1)
        frame = max(_best_gt_iou(0.0, 0.0, width - 1.0, height - 1.0, gt, valid, b), 0.0)
        n_comp, n_live, k = _U(0), _U(0), _U(0)
        for t in range(n_thr - 1, -1, -1):
            end = k + _U(count[t + 1])
            while k < end:                             # the pixels of level t + 1 join
                v = _U(order[k])
                k += _U(1)
                pattern = v >> _U(2 * shift)
                py, px = np.int32((v >> _U(shift)) & coord), np.int32(v & coord)
                p = _U((py + 1) * wp + px + 1)
                raster = np.int64(py) * width + px
                n_heads = n_groups[pattern]
                if n_heads == 0:                       # a new component
                    r = n_comp
                    n_comp += _U(1)
                    parent[r], area[r], first[r] = r, 0, raster
                    x0[r], y0[r], x1[r], y1[r] = px, py, px, py
                    live[n_live] = r
                    n_live += _U(1)
                else:
                    r = _find(parent, _U(label[_U(p + rep[pattern * _U(4)])]))
                    for g in range(1, n_heads):        # a pixel that joins separate components merges them
                        z = _find(parent, _U(label[_U(p + rep[pattern * _U(4) + _U(g)])]))
                        if z == r:
                            continue
                        if area[z] > area[r]:
                            r, z = z, r
                        parent[z] = r
                        area[r] += area[z]
                        first[r] = min(first[r], first[z])
                        x0[r], y0[r] = min(x0[r], x0[z]), min(y0[r], y0[z])
                        x1[r], y1[r] = max(x1[r], x1[z]), max(y1[r], y1[z])
                area[r] += 1
                first[r] = min(first[r], raster)
                x0[r], y0[r], x1[r], y1[r] = min(x0[r], px), min(y0[r], py), max(x1[r], px), max(y1[r], py)
                touched[r] = t
                label[p] = r
            if n_live == 0:                            # empty mask: the whole frame
                out[b, t] = frame
                continue
            kept, best, big, big_first, big_r = _U(0), -1.0, -1, 0, _U(0)
            for i in range(n_live):
                r = _U(live[i])
                if parent[r] != r:                     # merged into another
                    continue
                live[kept] = r
                kept += _U(1)
                if all_components:
                    if touched[r] == t:
                        score[r] = _best_gt_iou(x0[r] * 1.0, y0[r] * 1.0, x1[r] * 1.0, y1[r] * 1.0, gt, valid, b)
                    best = max(best, score[r])
                elif area[r] > big or (area[r] == big and first[r] < big_first):   # most pixels, then first
                    big, big_first, big_r = area[r], first[r], r
            n_live = kept
            if not all_components:
                best = _best_gt_iou(x0[big_r] * 1.0, y0[big_r] * 1.0, x1[big_r] * 1.0, y1[big_r] * 1.0, gt, valid, b)
            out[b, t] = max(best, 0.0)
    return -1


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
    if not _levels(values, ext, scale, out, values.shape[1], 0, np.zeros(len(ext) - 1, np.int64)):
        raise BadInputError("maps contain NaN values")
    return out.astype(np.int32).reshape(np.shape(maps))


@functools.lru_cache(maxsize=4)
def _workers(pid: int, threads: int) -> ThreadPoolExecutor:
    """Worker threads kept for the process (keyed by its id: a forked child starts its own), as torch keeps its
    own: starting fresh threads for every batch costs about as much as sweeping a couple of maps."""
    return ThreadPoolExecutor(threads, thread_name_prefix="cam_lib-maxboxacc")


def best_ious(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
              all_components: bool = True, threads: int | None = None) -> np.ndarray:
    """``(B, T)``: for every map and threshold, the best IoU with a valid ground-truth box of a box of
    ``maps >= thresholds[t]`` (compared in float32): of every 8-connected component (``all_components``) or of
    the largest (most pixels, first in raster order on ties); an empty mask gives the whole frame; an image
    without a valid ground-truth box scores 0. ``maps (B, H, W)``, ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)``;
    any grid (sorted here). One sweep per map labels every threshold: the cost barely depends on the number of
    thresholds. Chunks of maps run on ``threads`` threads (default: ``torch.get_num_threads()``)."""
    maps = np.ascontiguousarray(maps, np.float32)
    if maps.ndim != 3 or min(maps.shape[1:], default=0) < 1:
        raise BadInputError(f"maps must be (B, H, W) with H, W >= 1, got shape {maps.shape}")
    thresholds = np.asarray(thresholds, np.float64)
    if thresholds.ndim != 1 or len(thresholds) == 0 or not np.isfinite(thresholds).all():
        raise BadInputError("thresholds must be a non-empty 1-D sequence of finite values")
    batch, height, width = maps.shape
    if height * width >= 1 << 31:
        raise BadInputError(f"maps of {height}x{width} pixels are too large (at most 2**31 - 1 pixels)")
    gt = np.ascontiguousarray(gt_boxes, np.float64)
    valid = np.ascontiguousarray(gt_valid, bool)
    if gt.ndim != 3 or gt.shape[0] != batch or gt.shape[-1] != 4 or valid.shape != gt.shape[:2]:
        raise BadInputError(f"gt_boxes (B, M, 4) and gt_valid (B, M) must match maps (B={batch}), got "
                            f"{gt.shape} and {valid.shape}")
    check_boxes_tensor("gt_boxes", torch.tensor(gt), torch.tensor(valid))   # copies: the arrays may be read-only
    order = np.argsort(thresholds, kind="stable")
    ext, scale, dtype = _level_table(thresholds[order])
    shift = max(1, (max(height, width) - 1).bit_length())
    packed = np.uint32 if 2 * shift + 8 <= 32 else np.uint64
    best = np.zeros((batch, len(thresholds)))
    threads = max(1, min(batch, torch.get_num_threads() if threads is None else int(threads)))
    chunks = 1 if threads == 1 else min(batch, threads * _CHUNKS_PER_THREAD)
    bounds = np.linspace(0, batch, chunks + 1).astype(int)

    def run(lo: int, hi: int) -> int:
        bad = _sweep(maps[lo:hi], ext, scale, gt[lo:hi], valid[lo:hi], bool(all_components), _GROUP_REPS,
                     _GROUP_COUNT, np.zeros((height + 2) * (width + 2), dtype), np.empty(height * width, packed),
                     shift, best[lo:hi])
        return lo + bad if bad >= 0 else -1

    spans = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    if len(spans) > 1:
        bad = list(_workers(os.getpid(), threads).map(lambda span: run(*span), spans))
    else:
        bad = [run(*span) for span in spans]
    nan = [i for i in bad if i >= 0]
    if nan:
        raise BadInputError(f"maps contain NaN values (map {nan[0]})")
    out = np.empty_like(best)
    out[:, order] = best
    return out


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
            raise BadInputError("cam_thresholds must be a non-empty 1-D sequence")
        if not np.isfinite(self.cam_thresholds).all():
            raise BadInputError("cam_thresholds must be finite")
        self.iou_thresholds = np.asarray(iou_thresholds, float)
        if self.iou_thresholds.ndim != 1 or len(self.iou_thresholds) == 0:
            raise BadInputError("iou_thresholds must be a non-empty 1-D sequence")
        self.all_components = bool(all_components)
        if threads is not None and int(threads) < 1:
            raise BadInputError(f"threads must be >= 1, got {threads}")
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
            raise BadInputError(f"score_map must be 2-D (H, W), got shape {score_map.shape}")
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
        best = best_ious(maps.detach().float().cpu().numpy(), self.cam_thresholds, gt_boxes.detach().cpu().numpy(),
                         gt_valid.detach().cpu().numpy(), self.all_components, self.threads)
        self.counts += _reached(best, self.iou_thresholds).sum(0)
        self.best.append(best)
        self.n += maps.shape[0]

    def compute(self) -> dict:
        """``maxboxacc`` (mean over IoU thresholds), and per IoU threshold the accuracy and best CAM threshold."""
        if self.n == 0:
            raise BadInputError("MaxBoxAcc.compute() called before any update()")
        acc, best = _accuracy(self.counts, self.n)
        return {
            "maxboxacc": float(acc.max(0).mean()),
            "per_iou": {float(d): float(acc[best[i], i]) for i, d in enumerate(self.iou_thresholds)},
            "best_threshold": {float(d): float(self.cam_thresholds[best[i]])
                               for i, d in enumerate(self.iou_thresholds)},
        }
