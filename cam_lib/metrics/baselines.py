"""Table 2's trivial baselines: boxes that use no image content, measured by the same code as CAM (the hit rule
of :func:`cam_lib.metrics.box_hits`), so that a reader knows what "localizes" means on a dataset. Where objects
fill most of the frame, the whole frame alone is right on many images; a number for CAM means something only
next to these.

- :func:`frame_box`: the whole frame;
- :func:`centered_box`: a centred box of the mean ground-truth box size of a TRAINING split
  (:func:`mean_box_size`);
- :func:`best_fixed_box`: the one fixed box of a grid that is right on most training images.

Normalised boxes (this module's only other convention). A normalised box ``[x0, y0, x1, y1]`` is CONTINUOUS:
fractions of the frame's width and height of the box's outer edges, ``0 <= x0 < x1 <= 1``, ``0 <= y0 < y1 <= 1``
(``[0, 0, 1, 1]`` is the whole frame, and its width is ``x1 - x0``). :func:`normalize_boxes` maps an inclusive
pixel box of a ``W x H`` frame to ``[x0 / W, y0 / H, (x1 + 1) / W, (y1 + 1) / H]``; :func:`pixel_box` maps a
normalised box back to the inclusive pixel box of a ``W x H`` frame: each edge to the nearest pixel edge
(``floor(x0 * W + 0.5)``, ``floor(x1 * W + 0.5)``, halves rounded up), the last pixel is the one before the right
edge, clipped to the frame and at least one pixel wide. The two are inverse on pixel boxes. IoU between
normalised boxes is the plain continuous IoU, which equals the +1-convention IoU of :func:`cam_lib.boxes.box_iou`
for boxes on pixel edges (the frame's scale cancels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..boxes import whole_frame_box
from ..errors import BadInputError
from .checks import check_gt
from .localization import IOU_THRESHOLD, box_hits
from .protocol import Metric, Result

__all__ = ["baseline_hits", "choose_baseline_boxes", "largest_boxes", "best_fixed_box", "centered_box", "centered_box_norm", "frame_box", "mean_box_size",
           "normalize_boxes", "pixel_box"]

_CHUNK_ELEMENTS = 1 << 21   # (boxes x candidates) IoU entries held at once by best_fixed_box


def _frame_size(width, height) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise BadInputError(f"{name} must be a positive integer (pixels), got {value!r}", param=name)
    return int(width), int(height)


def _check_norm(name: str, boxes, valid: np.ndarray | None = None) -> np.ndarray:
    """``boxes (..., 4)`` as float64: finite, in [0, 1], ``x1 > x0`` and ``y1 > y0`` (where ``valid``)."""
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().cpu().numpy()
    try:
        boxes = np.asarray(boxes, np.float64)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{name} must be normalised boxes (..., 4): {err}", param=name) from None
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise BadInputError(f"{name} must be normalised boxes (..., 4), got shape {boxes.shape}", param=name)
    bad = ~(np.isfinite(boxes).all(-1) & (boxes >= 0).all(-1) & (boxes <= 1).all(-1)
            & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1]))
    if valid is not None:
        bad &= valid
    if bad.any():
        index = [int(i) for i in np.argwhere(bad)[0]]
        raise BadInputError(f"{name}{index} = {boxes[tuple(index)].tolist()} is not a normalised box [x0, y0, x1, y1] "
                            f"with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1", param=name)
    return boxes


def _check_valid(name: str, valid, shape: tuple[int, ...]) -> np.ndarray:
    if valid is None:
        return np.ones(shape, bool)
    if isinstance(valid, torch.Tensor):
        valid = valid.detach().cpu().numpy()
    valid = np.asarray(valid)
    if valid.shape != shape or valid.dtype != bool:
        raise BadInputError(f"{name} must be a bool mask of shape {shape}, got {valid.dtype} {valid.shape}", param=name)
    return valid


def normalize_boxes(boxes, width, height) -> np.ndarray:
    """Inclusive pixel boxes ``(..., 4)`` of a ``width x height`` frame (scalars, or arrays that broadcast against
    ``boxes[..., 0]``: one frame per image) as normalised continuous boxes ``[x0 / W, y0 / H, (x1 + 1) / W,
    (y1 + 1) / H]`` (float64)."""
    boxes = np.asarray(boxes, np.float64)
    if boxes.ndim < 1 or boxes.shape[-1] != 4 or not np.isfinite(boxes).all():
        raise BadInputError(f"boxes must be finite pixel boxes (..., 4), got shape {boxes.shape}", param="boxes")
    w, h = np.asarray(width, np.float64), np.asarray(height, np.float64)
    for name, size in (("width", w), ("height", h)):
        if not (np.isfinite(size).all() and (size >= 1).all()):
            raise BadInputError(f"{name} must be >= 1 pixel", param=name)
    return np.stack([boxes[..., 0] / w, boxes[..., 1] / h, (boxes[..., 2] + 1) / w, (boxes[..., 3] + 1) / h], -1)


def pixel_box(box_norm, width: int, height: int) -> np.ndarray:
    """The inclusive pixel box ``(4,)`` int64 of a normalised box in a ``width x height`` frame (module docstring:
    edges to the nearest pixel edge, last pixel before the right edge, clipped, at least one pixel)."""
    box = _check_norm("box_norm", box_norm)
    if box.shape != (4,):
        raise BadInputError(f"box_norm must be one box (4,), got shape {box.shape}", param="box_norm")
    width, height = _frame_size(width, height)
    size = np.array([width, height, width, height], np.float64)
    edges = np.floor(box * size + 0.5).astype(np.int64)
    first = np.minimum(edges[:2], size[:2].astype(np.int64) - 1)
    last = np.clip(edges[2:] - 1, first, size[:2].astype(np.int64) - 1)
    return np.concatenate([first, last])


def frame_box(width: int, height: int) -> np.ndarray:
    """The whole ``width x height`` frame as an inclusive pixel box ``[0, 0, W - 1, H - 1]`` (int64), the
    :func:`pixel_box` of the normalised box ``[0, 0, 1, 1]``."""
    width, height = _frame_size(width, height)
    return whole_frame_box(height, width)


def mean_box_size(boxes_norm, valid=None) -> tuple[float, float]:
    """The mean width and height ``(w, h)`` of normalised continuous boxes ``(..., 4)`` (module docstring: each a
    fraction of its own image's frame), over the boxes where ``valid (...)`` (bool; default all). Measure it on a
    TRAINING split."""
    boxes = np.asarray(boxes_norm) if not isinstance(boxes_norm, torch.Tensor) else boxes_norm
    valid = _check_valid("valid", valid, tuple(np.shape(boxes))[:-1])
    boxes = _check_norm("boxes_norm", boxes, valid)
    if not valid.any():
        raise BadInputError("boxes_norm has no valid box to average", param="boxes_norm")
    picked = boxes[valid]
    return float((picked[:, 2] - picked[:, 0]).mean()), float((picked[:, 3] - picked[:, 1]).mean())


def centered_box_norm(mean_wh_fraction) -> np.ndarray:
    """The normalised box ``(4,)`` of width ``w`` and height ``h`` (``mean_wh_fraction``, fractions of the frame in
    (0, 1]) centred in the frame: ``[(1 - w) / 2, (1 - h) / 2, (1 + w) / 2, (1 + h) / 2]``."""
    wh = np.asarray(mean_wh_fraction, np.float64)
    if wh.shape != (2,) or not np.isfinite(wh).all() or (wh <= 0).any() or (wh > 1).any():
        raise BadInputError(f"mean_wh_fraction must be (w, h) with 0 < w, h <= 1, got {mean_wh_fraction!r}",
                            param="mean_wh_fraction")
    return np.concatenate([(1 - wh) / 2, (1 + wh) / 2])


def centered_box(mean_wh_fraction, width: int, height: int) -> np.ndarray:
    """The centred box of the mean ground-truth size (``mean_wh_fraction = (w, h)`` from :func:`mean_box_size` on a
    training split) as an inclusive pixel box of a ``width x height`` frame: the :func:`pixel_box` of
    :func:`centered_box_norm`."""
    return pixel_box(centered_box_norm(mean_wh_fraction), width, height)


def _grid_values(grid) -> np.ndarray:
    """The coordinate values of a grid: a step (``0, step, ..., 1``; 1 / step must be an integer) or a sorted
    sequence of distinct values in [0, 1]."""
    if np.ndim(grid) == 0:
        step = float(grid)
        count = round(1 / step) if 0 < step <= 1 else 0
        if count < 1 or abs(count * step - 1) > 1e-9:
            raise BadInputError(f"grid step must divide 1 (e.g. 0.05), got {grid!r}", param="grid")
        return np.linspace(0.0, 1.0, count + 1)
    values = np.asarray(grid, np.float64)
    if values.ndim != 1 or len(values) < 2 or not np.isfinite(values).all() or (values < 0).any() \
            or (values > 1).any() or (np.diff(values) <= 0).any():
        raise BadInputError("grid must be a step or an increasing sequence of at least 2 values in [0, 1]",
                            param="grid")
    return values


def best_fixed_box(train_boxes_norm, train_valid=None, grid=0.05,
                   iou_threshold: float = IOU_THRESHOLD) -> tuple[np.ndarray, float]:
    """The fixed normalised box that is right on most training images, and its training hit rate.

    Candidates: every box ``[x0, y0, x1, y1]`` whose coordinates lie on ``grid`` (a step, default 0.05: 21 values,
    210 intervals per axis, 44,100 boxes; or a sequence of values) with ``x1 > x0`` and ``y1 > y0``. An image is
    hit when the candidate's IoU (continuous, in normalised coordinates: module docstring) with any of its valid
    boxes is ``>= iou_threshold``, the rule of :func:`cam_lib.metrics.box_hits`; an image without a valid box is a
    miss. ``train_boxes_norm (N, M, 4)`` normalised boxes (each in its own image's frame; ``(N, 4)``: one per
    image), ``train_valid (N, M)`` bool (default all valid). Ties: the highest hit rate, then the highest mean
    best IoU over images, then the first in grid order (x0, x1, y0, y1 ascending).

    Vectorised over candidates and boxes in chunks (no loop per image): the intersection is the product of an
    x-overlap and a y-overlap, each computed once per interval of the grid. Cost: about 44,100 x (number of
    boxes) IoU evaluations at the default grid (seconds for CUB's 6k training boxes)."""
    boxes = train_boxes_norm.detach().cpu().numpy() if isinstance(train_boxes_norm, torch.Tensor) \
        else np.asarray(train_boxes_norm)
    if boxes.ndim == 2:
        boxes = boxes[:, None]
        train_valid = None if train_valid is None else np.asarray(train_valid)[:, None]
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or boxes.shape[0] == 0:
        raise BadInputError(f"train_boxes_norm must be (N >= 1, M, 4) or (N >= 1, 4), got shape {boxes.shape}",
                            param="train_boxes_norm")
    valid = _check_valid("train_valid", train_valid, boxes.shape[:2])
    boxes = _check_norm("train_boxes_norm", boxes, valid)
    iou_threshold = float(iou_threshold)
    if not 0 < iou_threshold <= 1:
        raise BadInputError(f"iou_threshold must be in (0, 1], got {iou_threshold}", param="iou_threshold")
    if not valid.any():
        raise BadInputError("train_boxes_norm has no valid box: no box can be chosen", param="train_boxes_norm")
    values = _grid_values(grid)
    lo_i, hi_i = np.triu_indices(len(values), 1)                 # the intervals (lo < hi) of one axis
    lo, hi = values[lo_i], values[hi_i]
    n_images, n_axis = boxes.shape[0], len(lo)
    owner, box_index = np.nonzero(valid)                         # valid boxes, grouped by image
    gt = boxes[owner, box_index]                                 # (K, 4)
    gt_area = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    hits = np.zeros(n_axis * n_axis, np.int64)                   # per candidate (x interval, y interval)
    iou_sum = np.zeros(n_axis * n_axis)
    cand_area = ((hi - lo)[:, None] * (hi - lo)[None, :])[None]  # (1, x, y)
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1, len(gt)]   # each image's first valid box, then the end
    step = max(1, _CHUNK_ELEMENTS // (n_axis * n_axis * boxes.shape[1]))   # images per chunk
    for c in range(0, len(starts) - 1, step):
        bounds = starts[c:c + step + 1]
        g, area = gt[bounds[0]:bounds[-1]], gt_area[bounds[0]:bounds[-1]]
        wx = np.clip(np.minimum(g[:, None, 2], hi) - np.maximum(g[:, None, 0], lo), 0, None)   # (k, x)
        wy = np.clip(np.minimum(g[:, None, 3], hi) - np.maximum(g[:, None, 1], lo), 0, None)   # (k, y)
        inter = wx[:, :, None] * wy[:, None, :]                                                  # (k, x, y)
        iou = (inter / (cand_area + area[:, None, None] - inter)).reshape(len(g), -1)
        best = np.maximum.reduceat(iou, bounds[:-1] - bounds[0], axis=0)   # (images, candidates)
        hits += (best >= iou_threshold).sum(0)
        iou_sum += best.sum(0)
    order = np.lexsort((np.arange(len(hits)), -iou_sum, -hits))     # most hits, then highest IoU, then grid order
    x, y = divmod(int(order[0]), n_axis)
    return np.array([lo[x], lo[y], hi[x], hi[y]]), float(hits[order[0]]) / n_images


def baseline_hits(box_norm, gt_boxes, gt_valid, width: int, height: int,
                  iou_threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """``(N,)`` bool: the fixed normalised box ``box_norm`` hits image n of a split (IoU >= ``iou_threshold`` with
    a valid ground-truth box, +1 convention): it is mapped once to the inclusive pixel box of the ``width x height``
    evaluation frame (:func:`pixel_box`) and scored by :func:`cam_lib.metrics.box_hits` against ``gt_boxes (N, M,
    4)`` (inclusive pixel boxes of that frame) and ``gt_valid (N, M)``. Its mean is the baseline's GT-known
    localization accuracy; :func:`cam_lib.metrics.intervals.bootstrap_mean` gives its interval."""
    box = pixel_box(box_norm, width, height)
    gt_boxes = torch.as_tensor(gt_boxes.detach() if isinstance(gt_boxes, torch.Tensor) else np.asarray(gt_boxes),
                               dtype=torch.float64)
    gt_valid = torch.as_tensor(gt_valid.detach() if isinstance(gt_valid, torch.Tensor) else np.asarray(gt_valid))
    if gt_valid.dtype != torch.bool:
        raise BadInputError(f"gt_valid must be a bool mask, got {gt_valid.dtype}", param="gt_valid")
    try:
        check_gt(gt_boxes, gt_valid, gt_boxes.shape[0] if gt_boxes.dim() else -1)
    except BadInputError as err:
        name = "gt_valid" if str(err).startswith("gt_valid") else "gt_boxes"
        raise BadInputError(str(err), param=name) from None
    boxes = torch.from_numpy(box).to(gt_boxes)[None].expand(gt_boxes.shape[0], 4)
    return box_hits(boxes, gt_boxes, gt_valid, iou_threshold).cpu().numpy()


def largest_boxes(boxes_norm, valid) -> np.ndarray:
    """``(N, 4)``: each image's largest valid box (by area; the first on ties) of normalised boxes ``(N, M, 4)``
    with ``valid (N, M)``; every image must have one. The box a localizer is scored against most often (and the
    object the geometry of a benchmark is described by: ILSVRC's "largest box per image")."""
    boxes = np.asarray(boxes_norm, np.float64)
    valid = _check_valid("valid", valid, boxes.shape[:-1])
    if boxes.ndim != 3 or not valid.any(1).all():
        raise BadInputError("parameter valid: every image needs a valid box (N, M) to pick its largest",
                            param="valid")
    area = np.where(valid, (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]), -np.inf)
    return boxes[np.arange(len(boxes)), area.argmax(1)]


def choose_baseline_boxes(boxes: list, sizes: list) -> dict:
    """The three baselines as normalised boxes, chosen on a split's boxes only: ``frame`` (``[0, 0, 1, 1]``),
    ``centered`` (:func:`centered_box_norm` of the :func:`mean_box_size` of each image's LARGEST box: averaging
    every box, second instances included, gives a box too small for most images -- 21% of the real ILSVRC sample
    hit, against 55% with the largest) and ``best_fixed``
    (:func:`best_fixed_box`, with its hit rate on that split as ``best_fixed_train_hit_rate``). ``boxes``: per image
    the inclusive pixel boxes ``(M, 4)`` of its stored frame (images without boxes are left out); ``sizes``: per
    image its ``(width, height)``."""
    from ..boxes import pad_boxes

    if len(boxes) != len(sizes):
        raise BadInputError(f"{len(boxes)} box lists for {len(sizes)} image sizes", param="sizes")
    norm = [torch.from_numpy(normalize_boxes(np.asarray(b, np.float64).reshape(-1, 4), *wh))
            for b, wh in zip(boxes, sizes) if len(b)]
    if not norm:
        raise BadInputError("no image has a box: no baseline box can be chosen", param="boxes")
    padded, valid, _ = pad_boxes(norm)
    best, rate = best_fixed_box(padded.numpy(), valid.numpy())
    return {"frame": [0.0, 0.0, 1.0, 1.0],
            "centered": centered_box_norm(mean_box_size(largest_boxes(padded.numpy(), valid.numpy()))).tolist(),
            "best_fixed": np.asarray(best).tolist(), "best_fixed_train_hit_rate": float(rate), "images": len(norm)}


def frame_hits(boxes: list, sizes: list, iou_threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """``(N,)`` bool: the whole frame of image n (:func:`frame_box` of its ``(width, height)`` in ``sizes``) hits
    its ground truth (``boxes``: per image its inclusive pixel boxes ``(M, 4)`` in that frame, possibly none), by
    the rule of :func:`cam_lib.metrics.box_hits`. An image without a valid box is a miss."""
    from ..boxes import pad_boxes

    if len(boxes) != len(sizes):
        raise BadInputError(f"{len(boxes)} box lists for {len(sizes)} image sizes", param="sizes")
    if not len(boxes):
        return np.zeros(0, bool)
    frames = torch.from_numpy(np.stack([frame_box(w, h) for w, h in sizes])).to(torch.float64)
    gt, valid, _ = pad_boxes([np.asarray(b, np.float64).reshape(-1, 4) for b in boxes])
    return box_hits(frames, gt, valid, iou_threshold).numpy()


def frame_hit_rate(samples) -> tuple[float, int]:
    """The whole frame's hit rate on a box dataset (the content-free reference of a localization rate) and its
    number of images, from its ``samples`` ``[(path, label, boxes)]`` (stored pixel boxes) and the images' headers
    (:func:`cam_lib.data.common.stored_sizes`; nothing decoded): the mean of :func:`frame_hits`. ``(nan, 0)`` for
    no images."""
    from ..data.common import stored_sizes

    samples = list(samples or ())
    if not samples:
        return float("nan"), 0
    hits = frame_hits([b for _, _, b in samples], stored_sizes([p for p, _, _ in samples]))
    return int(hits.sum()) / len(samples), len(samples)


__all__ += ["frame_hits", "frame_hit_rate"]


@dataclass(frozen=True)
class BaselineResult(Result):
    """A fixed box's GT-known localization accuracy on the evaluated images: ``box`` (normalised), ``name``."""

    kind: ClassVar[str] = "baseline"
    name: str
    box: list
    gt_known_loc_acc: float


class FixedBox(Metric):
    """A content-free baseline of the evaluation loop: one fixed normalised ``box`` (e.g. of
    :func:`choose_baseline_boxes`) scored on every image by the rule of the GT-known box (:func:`baseline_hits`
    in the batch's frame). Its per-image hits are paired with the map method's (``per_image`` key
    ``baseline:<name>``)."""

    needs = frozenset()

    def __init__(self, name: str, box) -> None:
        self.name, self.label = f"baseline:{name}", name
        self.box = _check_norm("box", box).tolist()
        self.hits: list[np.ndarray] = []

    def update(self, batch, out) -> None:
        self.hits.append(baseline_hits(self.box, batch.gt_boxes, batch.gt_valid, *out.size))

    def per_image(self) -> dict[str, np.ndarray]:
        return {self.name: np.concatenate(self.hits) if self.hits else np.zeros(0, bool)}

    def compute(self) -> BaselineResult:
        if not self.hits:
            raise BadInputError(f"{self.name}: compute() called before any update()", param=None)   # no parameter
        return BaselineResult(self.label, self.box, float(np.concatenate(self.hits).mean()))

    def state(self) -> dict:
        return {"hits": list(self.hits)}

    def merge(self, states: list[dict]) -> None:
        self.hits = [h for state in states for h in state["hits"]]
