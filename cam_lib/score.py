"""Scoring saved score maps (the WSOL protocol of Choe et al., CVPR 2020, behind the localization columns of Tables
2-4): ``python -m cam_lib score --maps DIR --metadata DIR [--masks DIR] --json OUT``, wsolevaluation's job on NumPy 2,
any map size, streaming.

Input, wsolevaluation's layout: ``metadata/`` with ``image_ids.txt`` (one image id per line), ``class_labels.txt``
(``id,label``), ``image_sizes.txt`` (``id,width,height``) and ``localization.txt`` (``id,x0,y0,x1,y1`` per box, or for
masks ``id,mask_path,ignore_path``); one ``.npy`` map per image at ``maps/<image id>.npy`` (2-D, finite, values in
[0, 1]; any size: the boxes are carried into each map's frame). Every file and every map is checked, naming it.

Output: MaxBoxAcc (V1: the largest component, IoU 0.5; V2: every component, IoU 0.3 / 0.5 / 0.7), each IoU
threshold's accuracy and best map threshold, GT-known localization at every threshold of the grid, and PxAP where
masks are given.

Conventions: ``cam_lib`` (default) follows this project's (conventions.md): ``map >= tau`` on the float map,
8-connected components, inclusive boxes, an empty mask gives the whole frame; boxes carried continuously into the
map's frame; every threshold of the grid in one compiled sweep per map (:func:`cam_lib.metrics.best_ious_both`).
``wsolevaluation`` reproduces that evaluator's algorithm exactly, threshold by threshold: the map as ``uint8(255 map)``,
the mask ``> int(tau * max)``, OpenCV contours (``RETR_TREE``, hole borders included; V1 keeps the contour of
largest polygon area), boxes ``[x, y, x + w, y + h]`` clipped to the frame, an empty mask ``[0, 0, 0, 0]``, the
ground-truth boxes resized with ``int()`` truncation; only its thresholds' number is fixed by the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .boxes import pad_boxes
from .errors import BadInputError
from .metrics import V2_IOU_THRESHOLDS, best_ious_both, pxap_from_histograms, pxap_histograms, threshold_grid

__all__ = ["WsolMetadata", "read_metadata", "score_maps", "CONVENTIONS"]

CONVENTIONS = ("cam_lib", "wsolevaluation")


@dataclass(frozen=True)
class WsolMetadata:
    """wsolevaluation's metadata of one split: image ids in order, labels, stored sizes, boxes or mask paths."""

    image_ids: tuple[str, ...]
    labels: dict
    sizes: dict          # id -> (width, height)
    boxes: dict          # id -> (n, 4) inclusive pixel boxes of the stored image (empty with masks)
    masks: dict          # id -> ([mask paths], ignore path) (empty with boxes)


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise BadInputError(f"{path}: not found (wsolevaluation's metadata: image_ids.txt, class_labels.txt, "
                            "image_sizes.txt, localization.txt)", param="metadata")
    return [(n, [c.strip() for c in line.split(",")]) for n, line in enumerate(path.read_text().splitlines(), 1)
            if line.strip()]


def _number(where: str, text: str, kind=float):
    try:
        value = kind(text)
    except ValueError:
        raise BadInputError(f"{where}: {text!r} is not a number", param="metadata") from None
    if not np.isfinite(value):
        raise BadInputError(f"{where}: {text!r} is not finite", param="metadata")
    return value


def read_metadata(folder: str | Path) -> WsolMetadata:
    """Read and check one split's metadata folder; every malformed line, duplicate or missing entry is named."""
    folder = Path(folder)
    ids = [row[0] for _, row in _lines(folder / "image_ids.txt")]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise BadInputError(f"{folder / 'image_ids.txt'}: {dup} is listed twice", param="metadata")
    tables: dict[str, dict] = {"labels": {}, "sizes": {}, "boxes": {}, "masks": {}}
    for n, row in _lines(folder / "class_labels.txt"):
        where = f"{folder / 'class_labels.txt'}:{n}"
        if len(row) != 2 or row[0] in tables["labels"]:
            raise BadInputError(f"{where}: expected 'image_id,label' once per image", param="metadata")
        tables["labels"][row[0]] = _number(where, row[1], int)
    for n, row in _lines(folder / "image_sizes.txt"):
        where = f"{folder / 'image_sizes.txt'}:{n}"
        if len(row) != 3 or row[0] in tables["sizes"]:
            raise BadInputError(f"{where}: expected 'image_id,width,height' once per image", param="metadata")
        tables["sizes"][row[0]] = (_number(where, row[1], int), _number(where, row[2], int))
    for n, row in _lines(folder / "localization.txt"):
        where = f"{folder / 'localization.txt'}:{n}"
        if len(row) == 5:
            tables["boxes"].setdefault(row[0], []).append([_number(where, v) for v in row[1:]])
        elif len(row) == 3:
            paths, _ = tables["masks"].setdefault(row[0], ([], row[2]))
            paths.append(row[1])
        else:
            raise BadInputError(f"{where}: expected 'image_id,x0,y0,x1,y1' or 'image_id,mask,ignore'", param="metadata")
    for name, table in (("class_labels.txt", tables["labels"]), ("image_sizes.txt", tables["sizes"])):
        missing = [i for i in ids if i not in table]
        if missing:
            raise BadInputError(f"{folder / name}: no line for {missing[0]} ({len(missing)} images)", param="metadata")
    missing = [i for i in ids if i not in tables["boxes"] and i not in tables["masks"]]
    if missing:
        raise BadInputError(f"{folder / 'localization.txt'}: nothing for {missing[0]} ({len(missing)} images)",
                            param="metadata")
    return WsolMetadata(tuple(ids), tables["labels"], tables["sizes"],
                        {k: np.asarray(v, np.float64) for k, v in tables["boxes"].items()}, tables["masks"])


def _load_map(maps_dir: Path, image_id: str) -> np.ndarray:
    """One saved map, checked: 2-D, finite, in [0, 1]; errors name the file."""
    path = maps_dir / f"{image_id}.npy"
    try:
        m = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no score map for image {image_id}", param="maps") from None
    except (OSError, ValueError) as e:
        raise BadInputError(f"{path}: not a NumPy array file ({e})", param="maps") from None
    if m.ndim != 2 or min(m.shape) < 1 or not np.issubdtype(m.dtype, np.number):
        raise BadInputError(f"{path}: a score map must be a 2-D numeric array, got {m.dtype} {m.shape}", param="maps")
    m = m.astype(np.float32)
    if not np.isfinite(m).all():
        raise BadInputError(f"{path}: the score map holds NaN or infinite values", param="maps")
    if m.min() < 0 or m.max() > 1:
        raise BadInputError(f"{path}: score map values in [{m.min():.4g}, {m.max():.4g}], not in [0, 1]",
                            param="maps")
    return m


def _boxes_in(boxes: np.ndarray, size: tuple[int, int], shape: tuple[int, int], convention: str) -> np.ndarray:
    """Stored-image boxes in the ``(H, W)`` frame of a map: continuously (``[x0, y0, x1 + 1, y1 + 1]`` scaled, then
    inclusive) or, for wsolevaluation, each coordinate scaled and truncated by ``int()``."""
    sx, sy = shape[1] / size[0], shape[0] / size[1]
    scale = np.array([sx, sy, sx, sy])
    if convention == "wsolevaluation":
        return np.trunc(boxes * scale)
    out = (boxes + [0, 0, 1, 1]) * scale - [0, 0, 1, 1]
    return np.clip(out, 0, [shape[1] - 1, shape[0] - 1, shape[1] - 1, shape[0] - 1])


def _wsol_boxes(scoremap: np.ndarray, threshold: float, all_contours: bool) -> np.ndarray:
    """wsolevaluation's ``scoremap2bbox`` at one threshold (module docstring)."""
    import cv2

    height, width = scoremap.shape
    image = (scoremap * 255).astype(np.uint8)
    _, mask = cv2.threshold(image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.zeros((1, 4))
    if not all_contours:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
    return np.asarray(boxes, np.float64)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` IoU with the +1 convention (wsolevaluation's ``calculate_multiple_iou``)."""
    a, b = a[:, None], b[None]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1, 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1, 0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1) + \
        (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _wsol_best(scoremap: np.ndarray, gt: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(T,)`` twice: the best IoU at each threshold with every contour's box (V2) and the largest contour's (V1)."""
    every = [_iou(_wsol_boxes(scoremap, t, True), gt).max() for t in grid]
    largest = [_iou(_wsol_boxes(scoremap, t, False), gt).max() for t in grid]
    return np.asarray(every), np.asarray(largest)


def _maxboxacc(best: np.ndarray, grid: np.ndarray, deltas) -> dict:
    """MaxBoxAcc of ``best (N, T)`` IoUs: per IoU threshold the best accuracy over map thresholds and where."""
    acc = (best[:, :, None] >= np.asarray(deltas)[None, None]).mean(0)       # (T, D)
    pick = acc.argmax(0)
    return {"maxboxacc": float(acc.max(0).mean()),
            "per_iou": {str(d): float(acc[pick[i], i]) for i, d in enumerate(deltas)},
            "best_threshold": {str(d): float(grid[pick[i]]) for i, d in enumerate(deltas)}}


def score_maps(maps_dir: str | Path, metadata_dir: str | Path, masks_dir: str | Path | None = None,
               convention: str = "cam_lib", cam_step: float = 0.01, batch: int = 64) -> dict:
    """Score the saved maps of one split (module docstring); returns the JSON-ready numbers."""
    if convention not in CONVENTIONS:
        raise BadInputError(f"parameter convention={convention!r}: choose one of {', '.join(CONVENTIONS)}",
                            param="convention")
    maps_dir = Path(maps_dir)
    if not maps_dir.is_dir():
        raise BadInputError(f"parameter maps={str(maps_dir)!r}: folder not found", param="maps")
    meta, grid = read_metadata(metadata_dir), threshold_grid(cam_step)
    every, largest, hists, boxed = [], [], [], [m for m in meta.image_ids if m in meta.boxes]
    for lo in range(0, len(boxed), batch):
        ids = boxed[lo:lo + batch]
        maps = [_load_map(maps_dir, i) for i in ids]
        gts = [_boxes_in(meta.boxes[i], meta.sizes[i], m.shape, convention) for i, m in zip(ids, maps)]
        if convention == "wsolevaluation":
            pairs = [_wsol_best(m, g, grid) for m, g in zip(maps, gts)]
            every += [p[0] for p in pairs]
            largest += [p[1] for p in pairs]
            continue
        if len({m.shape for m in maps}) == 1:   # one sweep per map, the batch's maps in one call
            gt, valid, _ = pad_boxes([torch.from_numpy(g) for g in gts])
            e, b = best_ious_both(np.stack(maps), grid, gt.numpy(), valid.numpy())
        else:                                   # maps of several sizes: one call each
            e, b = zip(*(best_ious_both(m[None], grid, g[None], np.ones((1, len(g)), bool)) for m, g in zip(maps, gts)))
            e, b = np.concatenate(e), np.concatenate(b)
        every += list(e)
        largest += list(b)
    out = {"n": len(boxed), "convention": convention, "cam_step": cam_step}
    if boxed:
        every, largest = np.asarray(every), np.asarray(largest)
        v2, v1 = _maxboxacc(every, grid, V2_IOU_THRESHOLDS), _maxboxacc(largest, grid, (0.5,))
        curve = (largest >= 0.5).mean(0)
        out |= {"maxboxacc_v1": v1["maxboxacc"], "maxboxacc_v2": v2["maxboxacc"], "per_iou_v2": v2["per_iou"],
                "best_threshold_v2": v2["best_threshold"], "best_threshold_v1": v1["best_threshold"]["0.5"],
                "gt_known_curve": {f"{t:g}": float(c) for t, c in zip(grid, curve)}}
    masked = [m for m in meta.image_ids if m in meta.masks]
    if masked:
        hists = [_pxap_one(maps_dir, Path(masks_dir) if masks_dir else None, meta, i, grid) for i in masked]
        out |= {"n_masks": len(masked), "pxap": pxap_from_histograms(np.sum(hists, 0))}
    return out


def _pxap_one(maps_dir: Path, masks_dir: Path | None, meta: WsolMetadata, image_id: str, grid) -> np.ndarray:
    """One image's PxAP histograms: its map and its mask (the union of its instance masks, the ignore region minus
    the foreground set to 255, as wsolevaluation's ``get_mask``), resized to the map's frame (nearest)."""
    from .data.common import instance_masks

    if masks_dir is None:
        raise BadInputError("parameter masks: localization.txt names mask files; give their folder (--masks DIR)",
                            param="masks")
    scoremap = _load_map(maps_dir, image_id)
    paths, ignore_path = meta.masks[image_id]
    mask, _ = instance_masks([masks_dir / p for p in paths], masks_dir / ignore_path if ignore_path else None,
                             (scoremap.shape[1], scoremap.shape[0]), param="masks", require_object=False)
    return pxap_histograms(torch.from_numpy(scoremap)[None], torch.from_numpy(mask)[None], grid)[0]
