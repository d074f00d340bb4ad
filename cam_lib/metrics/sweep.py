"""The compiled sweep behind :mod:`cam_lib.metrics.maxboxacc` (MaxBoxAcc / MaxBoxAccV2 next to Tables 2-4): the
numba kernels, in a module of their own so that importing cam_lib does not import numba (about 0.3 s) nor load
the compiled code from numba's cache (about 0.4 s): :mod:`.maxboxacc` imports this module on first use, and
``localize`` does that on a background thread while it reads the dataset and builds the network
(:func:`cam_lib.metrics.maxboxacc.load_compiled`).
"""

from __future__ import annotations

import numba
import numpy as np

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


GROUP_REPS, GROUP_COUNT = _ring_groups()
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
def _sweep(maps, ext, scale, gt, valid, want_all, want_big, reps, groups, levels, order, shift, out_all, out_big):
    """:func:`best_ious` of ``maps (B, H, W)``, every component's boxes into ``out_all (B, T)`` (if ``want_all``) and
    the largest component's into ``out_big (B, T)`` (if ``want_big``): one sweep for both. ``levels``: a zeroed buffer of (H + 2) *
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
                if want_all:
                    out_all[b, t] = frame
                if want_big:
                    out_big[b, t] = frame
                continue
            kept, best, big, big_first, big_r = _U(0), -1.0, -1, 0, _U(0)
            for i in range(n_live):
                r = _U(live[i])
                if parent[r] != r:                     # merged into another
                    continue
                live[kept] = r
                kept += _U(1)
                if want_all:
                    if touched[r] == t:
                        score[r] = _best_gt_iou(x0[r] * 1.0, y0[r] * 1.0, x1[r] * 1.0, y1[r] * 1.0, gt, valid, b)
                    best = max(best, score[r])
                if want_big and (area[r] > big or (area[r] == big and first[r] < big_first)):   # most pixels, then first
                    big, big_first, big_r = area[r], first[r], r
            n_live = kept
            if want_all:
                out_all[b, t] = max(best, 0.0)
            if want_big:
                out_big[b, t] = max(_best_gt_iou(x0[big_r] * 1.0, y0[big_r] * 1.0, x1[big_r] * 1.0, y1[big_r] * 1.0,
                                                 gt, valid, b), 0.0)
    return -1
