"""Compositing the images of the embedded benchmark: placing rendered patches on a background, clutter
(strokes and cut fragments of other classes) kept off the labelled boxes, exact inclusive boxes from
coverage masks, and the one-or-two-instance images of the ``objects`` (Tables 1-3) and ``things``
(Table 5) suites."""

from __future__ import annotations

import math

import numpy as np

from .backgrounds import _background
from .objects import ShapeClass
from .render import Patch, Sketch, U, _color, _crop, _pose_matrix, _render, _render_fraction, scene_palette

# ILSVRC's geometry, measured on the 300 val images of ../shared/data/imagenet-val-sample (largest box per image,
# fraction of the image): deciles 10/25/50/75/90% at 0.12/0.26/0.48/0.71/0.90, 20% of images with several boxes.
# A stated share of the objects images (DISTRACTOR_FRACTION, a design choice: ILSVRC labels one class per image,
# and many of its images show other objects) also holds one whole, unlabelled object of another class of the
# build, at the sizes of a labelled one, so that the ground-truth class's map has to pick the right object.
# Two-object images (two instances, or one and a distractor) draw each object's box area uniformly from
# TWO_INSTANCE_AREA; a lone instance draws it from OBJECT_AREA (capped where the shape fits the frame), set so that
# the largest labelled box per image keeps ILSVRC's quartiles; positions are uniform. Result (tests/test_synthetic.py
# pins it): deciles 0.22/0.32/0.45/0.70/0.83.
OBJECT_AREA = (0.2, 1.3)
TWO_INSTANCE_AREA = (0.06, 0.40)
DISTRACTOR_FRACTION = 0.10
CLUTTER_MAX_OVERLAP = 0.10   # clutter may cover at most this fraction of a labelled box (bounding-box overlap)


def _place(patch: Patch, img: np.ndarray, x: int, y: int) -> np.ndarray:
    """Composite ``patch`` at top-left (x, y) (may be partly outside); returns the full-size coverage."""
    H, W = img.shape[:2]
    h, w = patch.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    cov = np.zeros((H, W), np.float32)
    if x0 >= x1 or y0 >= y1:
        return cov
    a = patch.alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a[..., None]) + patch.premul[y0 - y:y1 - y, x0 - x:x1 - x]
    cov[y0:y1, x0:x1] = a
    return cov


def _inter(a, b) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    return max(w, 0) * max(h, 0)


def _area(b) -> int:
    return (b[2] - b[0] + 1) * (b[3] - b[1] + 1)


def _clip_box(b, size):
    return [max(b[0], 0), max(b[1], 0), min(b[2], size - 1), min(b[3], size - 1)]


def _cut(patch: Patch, rng) -> Patch:
    """Keep one side of a random line through the middle (20-65% of the coverage): a part, never a whole."""
    h, w = patch.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    total = float(patch.alpha.sum()) + 1e-6
    best = None
    for _ in range(8):
        cx, cy = U(rng, 0.3, 0.7) * w, U(rng, 0.3, 0.7) * h
        a = U(rng, 0, 2 * math.pi)
        keep = ((xs - cx) * math.cos(a) + (ys - cy) * math.sin(a)) > 0
        if rng.random() < 0.35:  # a corner: two cuts
            a2 = a + U(rng, 1.2, 1.9)
            keep &= ((xs - cx) * math.cos(a2) + (ys - cy) * math.sin(a2)) > 0
        frac = float(patch.alpha[keep].sum()) / total
        if 0.2 <= frac <= 0.65:
            best = keep
            break
        if best is None and 0.05 < frac <= 0.65:
            best = keep
    if best is None:
        best = xs < w / 2
    k = best.astype(np.float32)
    return _crop(Patch(patch.premul * k[..., None], patch.alpha * k))


def _stroke(rng, size: int) -> Patch:
    sk = Sketch()
    p0, p1, p2 = rng.uniform(-1, 1, (3, 2))
    t = np.linspace(0, 1, 16)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
    sk.line(curve, U(rng, 0.012, 0.035), _color(rng), cap=False)
    return _render(sk, np.eye(2) * size * U(rng, 0.15, 0.45))


def _place_clutter(rng, img, size, patch: Patch, boxes, tries=10):
    h, w = patch.shape
    for _ in range(tries):
        x = int(rng.integers(-w // 3, size - 2 * w // 3 + 1))
        y = int(rng.integers(-h // 3, size - 2 * h // 3 + 1))
        b = _clip_box([x, y, x + w - 1, y + h - 1], size)
        if b[0] > b[2] or b[1] > b[3]:
            continue
        if all(_inter(b, bb) <= CLUTTER_MAX_OVERLAP * _area(bb) for bb in boxes):
            _place(patch, img, x, y)
            return True
    return False


def _finish(img: np.ndarray, rng) -> np.ndarray:
    sigma = U(rng, 0.0, 0.025)
    if sigma > 0.004:
        img = img + rng.normal(0, sigma, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _box_of(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def _instances_image(rng, size, cls: ShapeClass, classes: tuple[ShapeClass, ...], two_frac: float,
                     fragments=True, frac_range=(0.07, 0.55), uniform_area: bool = False,
                     distractors: tuple[ShapeClass, ...] = (), distractor_frac: float = 0.0
                     ) -> tuple[np.ndarray, list, list]:
    """Background, clutter, then the labelled instance(s) of ``cls``: (image float, boxes, masks). One instance, or
    two (``two_frac`` of the images), or (``distractor_frac`` of the images) one instance beside one whole,
    unlabelled instance of another class of ``distractors``. A lone instance's box covers a fraction of the
    image drawn from ``frac_range`` (uniformly with ``uniform_area``: the objects suite, ILSVRC's geometry, see
    :data:`OBJECT_AREA`; else log-uniformly); in two-object images, labelled or not, each object's from
    :data:`TWO_INSTANCE_AREA`, so a distractor has the sizes of a labelled object. Colours and textures are the
    shared draws of every class and of the clutter."""
    img = _background(rng, size)
    with scene_palette(img):
        return _draw_instances(img, rng, size, cls, classes, two_frac, fragments, frac_range, uniform_area,
                               distractors, distractor_frac)


def _draw_instances(img, rng, size, cls, classes, two_frac, fragments, frac_range, uniform_area, distractors,
                    distractor_frac) -> tuple[np.ndarray, list, list]:
    """The body of :func:`_instances_image` on its background, inside the scene's palette."""
    u = rng.random()
    two = u < two_frac
    other = not two and len(distractors) > 1 and u < two_frac + distractor_frac
    members = [cls, cls] if two else [cls, _other(rng, distractors, cls)] if other else [cls]
    labelled = 2 if two else 1
    patches = []
    for member in members:
        sk = Sketch()
        member.draw(sk, rng)
        A = _pose_matrix(rng, member.upright)
        lo, hi = TWO_INSTANCE_AREA if len(members) == 2 else frac_range
        frac = U(rng, lo, hi) if uniform_area else math.exp(U(rng, math.log(lo), math.log(hi)))
        patches.append(_render_fraction(sk, A, frac, size, lo=min(0.05, lo), hi=max(0.60, hi)))
    boxes = []
    for k, p in enumerate(patches):
        h, w = p.shape
        for attempt in range(30):
            x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
            b = [x, y, x + w - 1, y + h - 1]
            if all(_inter(b, bb) <= 0.05 * min(_area(b), _area(bb)) for bb in boxes):
                boxes.append(b)
                break
        else:
            patches = patches[:k]
            break
    # clutter: strokes and fragments of other classes, away from every object's box
    for _ in range(int(rng.integers(0, 5))):
        _place_clutter(rng, img, size, _stroke(rng, size), boxes)
    if fragments:
        others = [c for c in classes if c.name != cls.name]
        nfrag = 0 if rng.random() < 0.15 else int(rng.integers(1, 4))
        for _ in range(nfrag):
            oc = others[int(rng.integers(len(others)))]
            sk = Sketch()
            oc.draw(sk, rng)
            frag = _render_fraction(sk, _pose_matrix(rng, False), math.exp(U(rng, math.log(0.04), math.log(0.2))),
                                    size, lo=0.0, hi=1.0)
            _place_clutter(rng, img, size, _cut(frag, rng), boxes)
    masks = [_place(p, img, b[0], b[1]) > 0 for p, b in zip(patches, boxes)]
    return img, [_box_of(m) for m in masks[:labelled]], masks[:labelled]


def _other(rng, classes: tuple[ShapeClass, ...], cls: ShapeClass) -> ShapeClass:
    """A class of ``classes`` other than ``cls``, uniformly."""
    others = [c for c in classes if c.name != cls.name]
    return others[int(rng.integers(len(others)))]
