"""Classification and localization metrics (Tables 1-4 of the paper; MaxBoxAcc of Choe et al., CVPR 2020).

Streaming accumulators in the style of wsolevaluation: ``update`` once per batch, ``compute`` at the end,
``reset`` to reuse. Counts stay on the device of the inputs until ``compute``. Every result is a fraction in
[0, 1]. Conventions (conventions.md, pinned by tests/test_metrics.py):

- IoU with the +1 pixel convention on inclusive boxes (:func:`cam_lib.boxes.box_iou`);
- a localization guess is right when its class is the ground-truth class and IoU >= 0.5 with ANY ground-truth
  box of that class (ILSVRC rule); top-1 uses the first guess, top-5 any of the first five;
- GT-known localization uses the ground-truth class's map (one box per image);
- MaxBoxAcc(delta) = max over CAM thresholds tau of the fraction of images whose best box at tau has IoU >=
  delta with a ground-truth box; MaxBoxAccV2 averages delta in {0.3, 0.5, 0.7} and boxes every connected
  component (V1: delta = 0.5 and the largest component only). :class:`MaxBoxAcc` reads every threshold of the
  grid off one component tree per map (:func:`best_ious`; no loop over thresholds), with numbers identical to
  the per-threshold OpenCV algorithm (:func:`cam_lib.bench.baseline_best_ious`).

Ground truth comes padded: ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)`` (see :func:`cam_lib.boxes.pad_boxes`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch

from .boxes import box_iou, whole_frame_box
from .errors import BadInputError

__all__ = ["ClassificationError", "LocalizationError", "GTKnownLocalization", "MaxBoxAcc", "best_ious", "guess_hits",
           "map_levels", "threshold_grid"]

IOU_THRESHOLD = 0.5
V2_IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def _check_batch(name: str, tensor: torch.Tensor, dims: int, batch: int | None = None) -> None:
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != dims:
        raise BadInputError(f"{name} must be a {dims}-D tensor, got shape {tuple(getattr(tensor, 'shape', ()))}")
    if batch is not None and tensor.shape[0] != batch:
        raise BadInputError(f"{name} has batch size {tensor.shape[0]}, expected {batch}")


def _check_gt(gt_boxes: torch.Tensor, gt_valid: torch.Tensor, batch: int) -> None:
    _check_batch("gt_boxes", gt_boxes, 3, batch)
    _check_batch("gt_valid", gt_valid, 2, batch)
    if gt_boxes.shape[-1] != 4 or gt_valid.shape != gt_boxes.shape[:2]:
        raise BadInputError(f"gt_boxes (B, M, 4) and gt_valid (B, M) disagree: {tuple(gt_boxes.shape)}, "
                            f"{tuple(gt_valid.shape)}")
    # An image with no valid box (every box cropped out of the frame) counts as a miss, never as a hit.


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """CAM thresholds ``0, step, 2 step, ... < 1`` (wsolevaluation's ``cam_curve_interval``)."""
    if not 0 < step < 1:
        raise BadInputError(f"threshold grid step must be in (0, 1), got {step}")
    return np.arange(0, 1, step)


class ClassificationError:
    """Top-k classification error (Table 1): the fraction of images whose label is not in the top-k."""

    def __init__(self, topk: tuple[int, ...] = (1, 5)):
        if not topk or any(k < 1 for k in topk):
            raise BadInputError(f"topk must be positive integers, got {topk}")
        self.topk = tuple(topk)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """``logits (B, C)`` (or predicted classes ``(B, k)`` in rank order, integer dtype), ``targets (B,)``."""
        _check_batch("logits", logits, 2)
        _check_batch("targets", targets, 1, logits.shape[0])
        k = max(self.topk)
        if logits.is_floating_point():
            if k > logits.shape[1]:
                raise BadInputError(f"top-{k} error needs at least {k} classes, logits have {logits.shape[1]}")
            pred = logits.topk(k, dim=1).indices
        else:
            pred = logits
            if pred.shape[1] < k:
                raise BadInputError(f"top-{k} error needs {k} predictions per image, got {pred.shape[1]}")
        hit = pred[:, :k] == targets.to(pred.device)[:, None]
        wrong = torch.stack([~hit[:, :j].any(1) for j in self.topk]).sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong
        self.n += logits.shape[0]

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("ClassificationError.compute() called before any update()")
        return {f"top{k}_cls_err": float(w) / self.n for k, w in zip(self.topk, self.wrong.tolist())}


def guess_hits(classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None,
               iou_threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """``(B, k)`` bool: guess ``j`` is right when ``classes[:, j] == targets`` and its box has IoU >=
    ``iou_threshold`` with any valid ground-truth box of that class (``gt_labels``; default: all boxes are of
    the image's class)."""
    iou = box_iou(boxes, gt_boxes.to(boxes.device))  # (B, k, M)
    ok = gt_valid.to(boxes.device)[:, None, :]
    if gt_labels is not None:
        ok = ok & (gt_labels.to(boxes.device)[:, None, :] == classes[:, :, None])
    box_hit = ((iou >= iou_threshold) & ok).any(-1)
    return box_hit & (classes == targets.to(classes.device)[:, None])


class LocalizationError:
    """Top-1 / top-5 localization error (Tables 2 and 3), ILSVRC rule over ranked (class, box) guesses."""

    def __init__(self, iou_threshold: float = IOU_THRESHOLD):
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.wrong = None

    def update(self, classes: torch.Tensor, boxes: torch.Tensor, targets: torch.Tensor, gt_boxes: torch.Tensor,
               gt_valid: torch.Tensor, gt_labels: torch.Tensor | None = None) -> None:
        """``classes (B, k)`` and ``boxes (B, k, 4)``: the guesses in rank order. Top-5 uses the first five
        (all ``k`` when a dataset has fewer than five classes)."""
        _check_batch("classes", classes, 2)
        batch = classes.shape[0]
        _check_batch("boxes", boxes, 3, batch)
        _check_batch("targets", targets, 1, batch)
        _check_gt(gt_boxes, gt_valid, batch)
        if boxes.shape[1] != classes.shape[1] or classes.shape[1] < 1:
            raise BadInputError(f"need one box per guessed class, got classes {tuple(classes.shape)}, "
                                f"boxes {tuple(boxes.shape)}")
        hit = guess_hits(classes, boxes, targets, gt_boxes, gt_valid, gt_labels, self.iou_threshold)
        wrong = torch.stack([~hit[:, 0], ~hit[:, :5].any(1)]).sum(1)
        self.wrong = wrong if self.wrong is None else self.wrong + wrong
        self.n += batch

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("LocalizationError.compute() called before any update()")
        top1, top5 = self.wrong.tolist()
        return {"top1_loc_err": top1 / self.n, "top5_loc_err": top5 / self.n}


class GTKnownLocalization:
    """GT-known localization accuracy: the box from the ground-truth class's map has IoU >= 0.5 with a
    ground-truth box."""

    def __init__(self, iou_threshold: float = IOU_THRESHOLD):
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.right = None

    def update(self, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        """``boxes (B, 4)``: one box per image from the ground-truth class's map."""
        _check_batch("boxes", boxes, 2)
        _check_gt(gt_boxes, gt_valid, boxes.shape[0])
        iou = box_iou(boxes[:, None], gt_boxes.to(boxes.device))[:, 0]  # (B, M)
        right = ((iou >= self.iou_threshold) & gt_valid.to(boxes.device)).any(1).sum()
        self.right = right if self.right is None else self.right + right
        self.n += boxes.shape[0]

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            raise BadInputError("GTKnownLocalization.compute() called before any update()")
        return {"gt_known_loc_acc": float(self.right) / self.n}


# ---------------------------------------------------------------------------------------------------------
# MaxBoxAcc: every threshold of the grid from one component tree per map
#
# The per-threshold algorithm of wsolevaluation (threshold, find contours, box each, for every tau of the grid)
# labels T masks per map. The upper level sets {map >= tau} are nested, so their 8-connected components form
# a tree; best_ious builds it once per map with vectorised numpy (no loop over thresholds) and reads every
# threshold's boxes off it:
#
# 1. levels: L = #{tau in the grid: tau <= map} per pixel, so that {map >= tau_t} = {L > t} exactly (compared
#    in float32 as the per-threshold code does, see _ceil_float32);
# 2. basins: every pixel points to the greatest of itself and its 8 neighbours in the strict order (map value,
#    raster index); pointer jumping takes it to the end of its ascending path, a local maximum: its basin.
#    Levels never decrease along the path, so basin ∩ {L > t} is connected (or empty) for every t;
# 3. a basin that touches a higher basin at its own level is, at every t where it exists, connected to it:
#    it joins it (the joins form a forest, each tree still connected at every t). One group is left per
#    regional maximum of L, give or take a few plateaus;
# 4. groups touching at a pixel pair (p, q) are connected exactly for t < min(L(p), L(q)); Kruskal on those
#    weights (highest first; tens of edges per map, the one Python loop) gives the tree of components: a node is
#    a component for t in [its parent's weight, its own weight or level);
# 5. each node's box at every t comes from its column and row profiles (the highest level in each column and
#    row); its pixel count and first raster pixel (largest-component rule) from level histograms;
# 6. every (node, t) box is scored against the ground truth once; each threshold keeps its best IoU; a
#    threshold above every value of the map (an empty mask) scores the whole frame.
#
# Everything runs on padded, flattened chunks of a few maps (neighbours are contiguous slices, and a chunk stays
# in the CPU cache). tests/test_metrics.py checks the result against the per-threshold OpenCV algorithm
# (cam_lib.bench.baseline_best_ious) on random, many-small-component, flat, tie, border and empty maps.

CHUNK_PIXELS = 1 << 18   # maps per chunk: as many as fit in about 256k pixels (at least one)


def _ceil_float32(thresholds: np.ndarray) -> np.ndarray:
    """The smallest float32 >= each threshold: for a float32 value v, ``v >= tau`` (compared in float64, as numpy
    compares a float32 map with a float64 threshold) holds exactly when ``v >= _ceil_float32(tau)``."""
    c = thresholds.astype(np.float32)
    low = c.astype(np.float64) < thresholds
    c[low] = np.nextafter(c[low], np.float32(np.inf))
    return c


def map_levels(maps: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``L = #{t: thresholds[t] <= map}`` (int32, the shape of ``maps``) for float32 ``maps`` and a SORTED grid, so
    that ``maps >= thresholds[t]`` is exactly ``L > t``. An affine estimate checked against the grid pixel by
    pixel; a binary search only where it is off. NaN gets level T."""
    c = _ceil_float32(np.asarray(thresholds, np.float64))
    ext = np.concatenate([[-np.inf], c, [np.inf]]).astype(np.float32)
    flat = np.asarray(maps, np.float32).reshape(-1)
    if len(c) > 1 and c[-1] > c[0]:
        est = (flat - c[0]) * np.float32((len(c) - 1) / (float(c[-1]) - float(c[0])))
        np.clip(est, -1, len(c) - 1, out=est)
        levels = est.astype(np.intp)    # truncated toward zero; the check below fixes any pixel that is off
        levels += 1
    else:
        levels = np.zeros(flat.shape, np.intp)
    wrong = (ext.take(levels) > flat) | (ext[1:].take(levels) <= flat)
    if wrong.any():
        levels[wrong] = np.searchsorted(c, flat[wrong], side="right")
    return levels.astype(np.int32).reshape(np.shape(maps))


_LAYOUTS: dict = {}


def _layout(batch: int, height: int, width: int) -> dict:
    """Index arrays of the padded, flattened layout of ``batch`` maps (cached by shape; safe across threads)."""
    key = (batch, height, width)
    lay = _LAYOUTS.get(key)
    if lay is None:
        hp, wp = height + 2, width + 2
        pos = np.arange(batch * hp * wp, dtype=np.int64)
        col, row = pos % wp, (pos // wp) % hp
        real = (col >= 1) & (col <= width) & (row >= 1) & (row <= height)
        lay = {"col": col, "row": row, "image": pos // (hp * wp),
               "col_t": (pos // hp) % wp,   # the column of each position of the transposed layout
               "raster": np.where(real, (row - 1) * width + col - 1, 0)}
        if len(_LAYOUTS) > 8:
            _LAYOUTS.clear()
        _LAYOUTS[key] = lay
    return lay


def _pad(values: np.ndarray, fill) -> np.ndarray:
    batch, height, width = values.shape
    out = np.full((batch, height + 2, width + 2), fill, values.dtype)
    out[:, 1:-1, 1:-1] = values
    return out.reshape(-1)


def _ascent_basins(maps: np.ndarray, wp: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 2 on padded flat ``maps`` (padding -inf, pixels finite): the basin of every position (-1 on the
    padding) and the position of each basin's root (its local maximum)."""
    n = len(maps)
    dilated = cv2.dilate(maps.reshape(-1, wp), np.ones((3, 3), np.uint8)).reshape(-1)
    lo, hi = wp + 1, n - wp - 1
    # the greatest of the 9 candidates in the order (value, raster index): the LAST candidate equal to the
    # 3x3 maximum; raster offsets increase with the candidate, so a running max of (offset + shift) picks it
    offsets = [dy * wp + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    shift = wp + 2
    code = np.int16 if 2 * shift < np.iinfo(np.int16).max else np.int32
    delta = np.zeros(hi - lo, code)
    tmp = np.empty(hi - lo, code)
    centre = dilated[lo:hi]
    for off in offsets:                                            # 9 candidates, not thresholds
        np.multiply(maps[lo + off:hi + off] == centre, code(off + shift), out=tmp)
        np.maximum(delta, tmp, out=delta)
    ptr = np.arange(n, dtype=np.int64)
    ptr[lo:hi] += delta
    ptr[lo:hi] -= shift
    pad = np.flatnonzero(np.isneginf(maps))
    ptr[pad] = pad                                                 # padding points to itself
    is_root = ptr == np.arange(n)
    is_root[pad] = False
    roots = np.flatnonzero(is_root)
    rounds = 0
    while True:                                                    # pointer jumping: log2(longest ascent) rounds
        nxt = ptr[ptr]
        rounds += 1
        # converged when nothing moves; a sparse sample rejects the unconverged rounds cheaply
        if rounds >= 5 and np.array_equal(nxt[::61], ptr[::61]) and np.array_equal(nxt, ptr):
            break
        ptr = nxt
    rank = np.full(n, -1, np.int64)
    rank[roots] = np.arange(len(roots))
    return rank[ptr], roots


def _boundary(ids: np.ndarray, levels: np.ndarray, wp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every 8-adjacent pair of pixels with two different ids >= 0 (padded flat layout):
    ``(id_a, id_b, min(L(a), L(b)))``."""
    out_a, out_b, out_w = [], [], []
    for off in (1, wp - 1, wp, wp + 1):        # right, down-left, down, down-right: each adjacency once
        at = np.flatnonzero(ids[:-off] != ids[off:])
        a, b = ids[at], ids[at + off]
        real = (a >= 0) & (b >= 0)              # pairs with the padding (id -1) are few: filter them after
        at, a, b = at[real], a[real], b[real]
        out_a.append(a)
        out_b.append(b)
        out_w.append(np.minimum(levels[at], levels[at + off]))
    return (np.concatenate(out_a).astype(np.int64), np.concatenate(out_b).astype(np.int64),
            np.concatenate(out_w).astype(np.int64))


def _join(a: np.ndarray, b: np.ndarray, w: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: the group (0..G-1) of every basin and the root basin of every group."""
    x, y, w = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([w, w])
    ok = (w == level[x]) & ((level[y] > level[x]) | ((level[y] == level[x]) & (y > x)))
    x, y = x[ok], y[ok]
    by_level = np.argsort(level[y], kind="stable")   # the last write wins: the highest target
    target = np.full(len(level), -1, np.int64)
    target[x[by_level]] = y[by_level]
    is_root = target < 0
    root = np.where(is_root, np.arange(len(level)), target)
    while True:                                      # targets are higher in (level, id): chains end
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    return (np.cumsum(is_root) - 1)[root], np.flatnonzero(is_root)


def _component_tree(n_groups: int, ga: np.ndarray, gb: np.ndarray, w: np.ndarray):
    """Step 4: Kruskal on the group graph. Returns the children ``(M, 2)`` of the M merge nodes (nodes: groups
    0..G-1, then merge node i = G + i, children before parents), their weights ``(M,)``, every node's parent."""
    keep = ga != gb
    lo, hi, w = np.minimum(ga, gb)[keep], np.maximum(ga, gb)[keep], w[keep]
    key = lo * n_groups + hi
    if n_groups * n_groups <= 1 << 22:               # the highest weight of each group pair: dense table
        table = np.full(n_groups * n_groups, -1, np.int64)
        np.maximum.at(table, key, w)
        key = np.flatnonzero(table >= 0)
        w = table[key]
    else:                                            # or a sort, for maps with very many maxima
        order = np.lexsort((w, key))
        key, w = key[order], w[order]
        last = np.r_[key[1:] != key[:-1], True] if len(key) else np.zeros(0, bool)
        key, w = key[last], w[last]
    order = np.argsort(-w, kind="stable")
    uf, node, children, weights = list(range(n_groups)), list(range(n_groups)), [], []

    def find(i: int) -> int:
        while uf[i] != i:
            uf[i] = uf[uf[i]]
            i = uf[i]
        return i

    for x, y, weight in zip((key[order] // n_groups).tolist(), (key[order] % n_groups).tolist(), w[order].tolist()):
        rx, ry = find(x), find(y)                    # one iteration per edge of the group graph (tens per map)
        if rx != ry:
            children.append((node[rx], node[ry]))
            weights.append(weight)
            uf[ry] = rx
            node[rx] = n_groups + len(weights) - 1
    children = np.array(children, np.int64).reshape(-1, 2)
    weights = np.array(weights, np.int64)
    parent = np.full(n_groups + len(weights), -1, np.int64)
    parent[children.reshape(-1)] = np.repeat(np.arange(n_groups, n_groups + len(weights)), 2)
    return children, weights, parent


def _bottom_up(values: np.ndarray, children: np.ndarray, reduce) -> np.ndarray:
    """Extend per-group rows ``values (G, ...)`` to every tree node, a merge node's row being ``reduce`` of its
    children's; merge nodes are done by generations (rounds = height of the tree, not thresholds)."""
    n_groups = len(values)
    out = np.concatenate([values, np.zeros((len(children),) + values.shape[1:], values.dtype)])
    done = np.zeros(len(out), bool)
    done[:n_groups] = True
    todo = np.arange(len(children))
    while len(todo):
        ready = done[children[todo, 0]] & done[children[todo, 1]]
        now = todo[ready]
        out[n_groups + now] = reduce(out[children[now, 0]], out[children[now, 1]])
        done[n_groups + now] = True
        todo = todo[~ready]
    return out


def _run_profile(group: np.ndarray, levels: np.ndarray, line: np.ndarray, n_groups: int, n_lines: int) -> np.ndarray:
    """``(n_groups, n_lines)``: the highest level of each group on each line (row, or column of the transposed
    layout), from the runs of equal group along the flat array (a run never crosses a line: the padding is a
    group of its own at both ends of every line)."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    run_max = np.maximum.reduceat(levels, starts)
    run_group = group[starts]
    out = np.zeros((n_groups + 1) * n_lines, np.int32)
    np.maximum.at(out, run_group * n_lines + line[starts], run_max)
    return out.reshape(n_groups + 1, n_lines)[:n_groups]


def _count_at_most(rows: np.ndarray, t: np.ndarray, which: np.ndarray) -> np.ndarray:
    """For each query q: how many entries of the nondecreasing row ``rows[which[q]]`` are <= ``t[q]`` (one
    searchsorted for all: rows are offset so that their concatenation stays sorted)."""
    stride = int(rows.max(initial=0)) + 1
    flat = (rows + np.arange(len(rows))[:, None] * stride).reshape(-1)
    return np.searchsorted(flat, t + which * stride, side="right") - which * rows.shape[1]


def _chunk_best_ious(maps: np.ndarray, grid: np.ndarray, gt: torch.Tensor, valid: torch.Tensor,
                     all_components: bool) -> np.ndarray:
    """:func:`best_ious` of a few maps on a sorted grid."""
    batch, height, width = maps.shape
    n_thr = len(grid)
    levels = map_levels(maps, grid)
    wp = width + 2
    lay = _layout(batch, height, width)
    flat_levels = _pad(levels, -1)
    basin, roots = _ascent_basins(_pad(maps, -np.inf), wp)
    a, b, w = _boundary(basin, flat_levels, wp)
    group_of_basin, group_roots = _join(a, b, w, flat_levels[roots].astype(np.int64))
    n_groups = len(group_roots)
    group_level = flat_levels[roots[group_roots]].astype(np.int64)
    group_image = lay["image"][roots[group_roots]]
    ga, gb = group_of_basin[a], group_of_basin[b]
    children, weights, parent = _component_tree(n_groups, ga, gb, w)
    n_nodes = len(parent)
    group = np.append(group_of_basin, n_groups)[basin]   # the padding (basin -1) gets an extra group

    # profiles: the highest level of each group in each row / column (0: none)
    row = _run_profile(group, flat_levels, lay["row"], n_groups, height + 2)
    shape = (batch, height + 2, wp)
    col = _run_profile(group.reshape(shape).transpose(0, 2, 1).reshape(-1),
                       flat_levels.reshape(shape).transpose(0, 2, 1).reshape(-1), lay["col_t"], n_groups, wp)
    col = _bottom_up(col[:, 1:-1], children, np.maximum)
    row = _bottom_up(row[:, 1:-1], children, np.maximum)
    image = _bottom_up(group_image[:, None], children, np.minimum)[:, 0]

    # each node is a component for t in [its parent's weight, its own weight or level)
    top = np.concatenate([group_level, weights])
    bottom = np.where(parent >= 0, top[np.maximum(parent, 0)], 0)
    count = np.maximum(np.minimum(top, n_thr) - bottom, 0)
    q_node = np.repeat(np.arange(n_nodes), count)
    q_t = np.arange(len(q_node)) - np.repeat(np.cumsum(count) - count - bottom, count)
    x0 = _count_at_most(np.maximum.accumulate(col, axis=1), q_t, q_node)
    x1 = width - 1 - _count_at_most(np.maximum.accumulate(col[:, ::-1], axis=1), q_t, q_node)
    y0 = _count_at_most(np.maximum.accumulate(row, axis=1), q_t, q_node)
    y1 = height - 1 - _count_at_most(np.maximum.accumulate(row[:, ::-1], axis=1), q_t, q_node)
    q_image = image[q_node]
    key = q_image * n_thr + q_t
    if not all_components:   # the largest component of each (image, t): most pixels, then first raster pixel
        cell = group * (n_thr + 2) + flat_levels + 1
        hist = np.bincount(cell, minlength=(n_groups + 1) * (n_thr + 2)).reshape(n_groups + 1, n_thr + 2)
        area = np.cumsum(hist[:n_groups, ::-1], axis=1)[:, ::-1]          # area[g, l + 1]: pixels with L >= l
        first = np.full((n_groups + 1) * (n_thr + 2), height * width, np.int64)
        np.minimum.at(first, cell, lay["raster"])
        first = np.minimum.accumulate(first.reshape(n_groups + 1, n_thr + 2)[:n_groups, ::-1], axis=1)[:, ::-1]
        area, first = _bottom_up(area, children, np.add), _bottom_up(first, children, np.minimum)
        pick = np.lexsort((first[q_node, q_t + 2], -area[q_node, q_t + 2], key))   # mask L > t, i.e. L >= t + 1
        pick = pick[np.r_[True, key[pick][1:] != key[pick][:-1]]] if len(pick) else pick
        q_image, key, x0, y0, x1, y1 = q_image[pick], key[pick], x0[pick], y0[pick], x1[pick], y1[pick]

    boxes = torch.from_numpy(np.stack([x0, y0, x1, y1], axis=1))
    iou = box_iou(boxes[:, None, :], gt[q_image])[:, 0]          # (Q, M): the pinned IoU convention
    iou = iou.masked_fill(~valid[q_image], -1.0).amax(-1).clamp_min(0).numpy()
    best = np.zeros(batch * n_thr)
    np.maximum.at(best, key, iou)
    # empty masks (thresholds at or above the map's highest level) score the whole frame
    frame = torch.from_numpy(whole_frame_box(height, width)).expand(batch, 1, 4)
    frame_iou = box_iou(frame, gt)[:, 0].masked_fill(~valid, -1.0).amax(-1).clamp_min(0).numpy()
    empty = np.arange(n_thr)[None, :] >= levels.reshape(batch, -1).max(1)[:, None]
    return np.where(empty, frame_iou[:, None], best.reshape(batch, n_thr))


def best_ious(maps: np.ndarray, thresholds: np.ndarray, gt_boxes: np.ndarray, gt_valid: np.ndarray,
              all_components: bool = True, threads: int | None = None) -> np.ndarray:
    """``(B, T)``: for every map and threshold, the best IoU with a valid ground-truth box of a box of
    ``maps >= thresholds[t]`` (compared in float32): of every 8-connected component (``all_components``) or of
    the largest (most pixels, first in raster order on ties); an empty mask gives the whole frame; an image
    without a valid ground-truth box scores 0. ``maps (B, H, W)``, ``gt_boxes (B, M, 4)``, ``gt_valid (B, M)``;
    any grid (sorted here). One component tree per map: the cost barely depends on the number of thresholds.
    Chunks of maps run on ``threads`` threads (default: ``torch.get_num_threads()``)."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 3 or min(maps.shape[1:], default=0) < 1:
        raise BadInputError(f"maps must be (B, H, W) with H, W >= 1, got shape {maps.shape}")
    if np.isnan(maps).any():
        raise BadInputError("maps contain NaN values")
    thresholds = np.asarray(thresholds, np.float64)
    if thresholds.ndim != 1 or len(thresholds) == 0 or not np.isfinite(thresholds).all():
        raise BadInputError("thresholds must be a non-empty 1-D sequence of finite values")
    batch, height, width = maps.shape
    gt = torch.as_tensor(np.asarray(gt_boxes), dtype=torch.float64)
    valid = torch.as_tensor(np.asarray(gt_valid), dtype=torch.bool)
    if gt.dim() != 3 or gt.shape[0] != batch or gt.shape[-1] != 4 or tuple(valid.shape) != tuple(gt.shape[:2]):
        raise BadInputError(f"gt_boxes (B, M, 4) and gt_valid (B, M) must match maps (B={batch}), got "
                            f"{tuple(gt.shape)} and {tuple(valid.shape)}")
    order = np.argsort(thresholds, kind="stable")
    n_thr = len(thresholds)
    maps = np.maximum(maps, np.finfo(np.float32).min)     # -inf would tie with the padding
    grid = thresholds[order]
    step = max(1, CHUNK_PIXELS // ((height + 2) * (width + 2)))
    chunks = [(maps[i:i + step], grid, gt[i:i + step], valid[i:i + step], all_components)
              for i in range(0, batch, step)]
    threads = min(len(chunks), max(1, torch.get_num_threads() if threads is None else int(threads)))
    if threads > 1:   # numpy and OpenCV release the GIL on whole arrays: chunks run in parallel
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda args: _chunk_best_ious(*args), chunks))
    else:
        parts = [_chunk_best_ious(*args) for args in chunks]
    best = np.concatenate(parts) if parts else np.zeros((0, n_thr))
    out = np.empty_like(best)
    out[:, order] = best
    return out


class MaxBoxAcc:
    """MaxBoxAcc over a grid of CAM thresholds (Choe et al. 2020); the defaults give MaxBoxAccV2.

    ``update(maps, gt_boxes, gt_valid)`` with the ground-truth class's normalised maps ``(B, H, W)``.
    For every image and threshold ``tau`` it finds the best IoU of any box at ``tau`` (every component's box,
    or the largest component's with ``all_components=False``) with any ground-truth box, and counts the
    images whose best IoU reaches each ``delta``. Maps are compared in float32 (``map >= tau``); all thresholds
    of a batch come from one component tree per map (:func:`best_ious`), so the cost hardly depends on the
    grid: a 0.001 grid costs about what a 0.01 grid does.
    """

    def __init__(self, cam_thresholds: np.ndarray | None = None,
                 iou_thresholds: tuple[float, ...] = V2_IOU_THRESHOLDS, all_components: bool = True):
        self.cam_thresholds = np.asarray(threshold_grid() if cam_thresholds is None else cam_thresholds, float)
        if self.cam_thresholds.ndim != 1 or len(self.cam_thresholds) == 0:
            raise BadInputError("cam_thresholds must be a non-empty 1-D sequence")
        if not np.isfinite(self.cam_thresholds).all():
            raise BadInputError("cam_thresholds must be finite")
        self.iou_thresholds = np.asarray(iou_thresholds, float)
        if self.iou_thresholds.ndim != 1 or len(self.iou_thresholds) == 0:
            raise BadInputError("iou_thresholds must be a non-empty 1-D sequence")
        self.all_components = bool(all_components)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.counts = np.zeros((len(self.cam_thresholds), len(self.iou_thresholds)), dtype=np.int64)

    def best_iou(self, score_map: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
        """``(T,)``: for each CAM threshold, the best IoU of a box of ``score_map >= tau`` with ``gt_boxes``."""
        score_map = np.asarray(score_map, np.float32)
        if score_map.ndim != 2:
            raise BadInputError(f"score_map must be 2-D (H, W), got shape {score_map.shape}")
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        if len(gt_boxes) == 0:
            return np.zeros(len(self.cam_thresholds))
        return best_ious(score_map[None], self.cam_thresholds, gt_boxes[None], np.ones((1, len(gt_boxes)), bool),
                         self.all_components)[0]

    def update(self, maps: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor) -> None:
        _check_batch("maps", maps, 3)
        _check_gt(gt_boxes, gt_valid, maps.shape[0])
        if maps.shape[0] == 0:
            return
        maps_np = np.ascontiguousarray(maps.detach().float().cpu().numpy())
        if np.isnan(maps_np).any():
            raise BadInputError("maps contain NaN values")
        best = best_ious(maps_np, self.cam_thresholds, gt_boxes.detach().cpu().numpy(),
                         gt_valid.detach().cpu().numpy(), self.all_components)
        self.counts += (best[:, :, None] >= self.iou_thresholds[None, None, :]).sum(0)
        self.n += maps.shape[0]

    def compute(self) -> dict:
        """``maxboxacc`` (mean over IoU thresholds), and per IoU threshold the accuracy and best CAM threshold."""
        if self.n == 0:
            raise BadInputError("MaxBoxAcc.compute() called before any update()")
        acc = self.counts / self.n
        best = acc.argmax(0)
        return {
            "maxboxacc": float(acc.max(0).mean()),
            "per_iou": {float(d): float(acc[best[i], i]) for i, d in enumerate(self.iou_thresholds)},
            "best_threshold": {float(d): float(self.cam_thresholds[best[i]])
                               for i, d in enumerate(self.iou_thresholds)},
        }
