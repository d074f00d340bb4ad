"""The embedded benchmark: small, offline stand-ins for the paper's datasets, written in the real formats.

Every notebook of the series runs on a CPU laptop in minutes on data this module generates, through the same
loaders as the real datasets. :func:`build` writes one folder
``root/synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}/``:

``objects/``, ``objects_test/`` -- stand-in for ILSVRC (Tables 1-3: GAP vs FC classification, CAM vs Backprop
    localization, GAP vs GMP, the Table 3 test-set heuristic on ``objects_test``). Up to 26 classes of procedurally
    drawn objects (star, ring, cross, ... see :data:`OBJECT_CLASSES`; the ``default`` profile takes the first 10),
    each a family with its own variation of shape, proportions, texture, rotation and scale; each class keeps its
    own hue (:func:`class_hue`, jittered), as many real categories have a colour tendency, so that the networks
    learn from scratch in CPU minutes; shape separates classes of nearby hues. Layout of the ILSVRC devkit (read unchanged by
    :class:`cam_lib.data.imagenet.ImageNetVal`, ``layout="devkit"``): ``LOC_synset_mapping.txt`` (``wnid name``,
    fake wnids ``n90000000``, ``n90000001``, ... in class order), ``train/<wnid>/<wnid>_<k>.JPEG``,
    ``train_bbox/<wnid>/<wnid>_<k>.xml``, ``val/ILSVRC2012_val_<8 digits>.JPEG`` with
    ``bbox/ILSVRC2012_val_<8 digits>.xml``; ``objects_test/`` is a second root of the same format (its own mapping,
    ``val/ILSVRC2012_test_<8 digits>.JPEG``, ``bbox/``). XML boxes are inclusive 0-based pixel boxes.
``birds/CUB_200_2011/`` -- stand-in for CUB-200-2011 (Table 4: linear SVM on GAP features of the full image, of
    the CAM crop and of the ground-truth crop; the 41% CAM localization figure). 14 species of one part-based body
    plan that differ only in small parts (crown colour, wing bars, tail shape, beak, eye ring); body colour, size,
    pose and position vary within a species and overlap across species; birds are small (8-35% of the image) on
    cluttered photo backgrounds. Files exactly as CUB: ``images.txt``, ``image_class_labels.txt``,
    ``train_test_split.txt``, ``bounding_boxes.txt`` (``id x y width height`` floats, ``x, y`` the top-left
    pixel, 0-based, so the inclusive box is ``[x, y, x + width - 1, y + height - 1]``), ``classes.txt``,
    ``images/<NNN.Name>/<Name>_<kkkk>.jpg``; train/test half/half per class.
``transfer/scenes/``, ``transfer/things/`` -- stand-ins for Table 5 (linear SVM on generic features): scene-like
    global layouts and object classes whose shapes no ``objects`` class uses, in torchvision ImageFolder layout
    ``transfer/<suite>/{train,test}/<class>/<k>.jpg``.
``samples/<suite>.png`` -- a grid of samples with their ground-truth boxes; ``manifest.json`` -- key, profile,
    seed, counts per suite and split, class lists and a sha256 over every suite's files (names and contents).

Images are real-photo backgrounds (random crops, flips, colour jitter of the photographs and textures shipped in
the scikit-image and scikit-learn wheels) with objects drawn by PIL at 3x supersampling (anti-aliased) and
composited with their coverage alpha. A ground-truth box is the inclusive bounding box of the pixels an instance
covers (alpha > 0, computed from the instance's own mask before compositing, clipped to the image); clutter
(fragments of other classes' objects, cut so that at most 65% of one remains, and random strokes) never overlaps
a labelled box by more than 10% of its area.

Determinism and caching: every image is drawn from its own ``numpy.random.Generator`` seeded by
``(seed, suite, split, index)``, so the bytes written do not depend on the number of workers or their order, and
the same seed gives byte-identical files (fixed JPEG quality, no timestamps anywhere). A folder is complete when
its ``manifest.json`` (written last) matches the key and profile; :func:`build` then returns at once. Builds
write into a temporary sibling folder that is renamed into place at the end, so an interrupted build never
leaves a folder that looks complete. Change :data:`GENERATOR_VERSION` whenever the output changes.
"""

from __future__ import annotations

import colorsys
import hashlib
import importlib.util
import json
import math
import multiprocessing
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import BadInputError

__all__ = ["GENERATOR_VERSION", "PROFILES", "Profile", "OBJECT_CLASSES", "class_hue", "BIRD_SPECIES", "SCENE_CLASSES",
           "THING_CLASSES", "Sample", "build", "describe", "folder_name", "render_sample", "sample_grid", "object_wnids"]

GENERATOR_VERSION = 2
SS = 3                       # supersampling factor of every drawn layer (anti-aliasing)
JPEG_QUALITY = 90
CLUTTER_MAX_OVERLAP = 0.10   # clutter may cover at most this fraction of a labelled box (bounding-box overlap)


@dataclass(frozen=True)
class Profile:
    """Sizes of one build. Counts are per class; birds are split half/half into train and test."""

    name: str
    image_size: int = 128
    objects_train: int = 80
    objects_val: int = 12
    objects_test: int = 10
    birds_per_class: int = 30
    transfer_train: int = 20
    transfer_test: int = 20
    two_instance_fraction: float = 0.2
    jpeg_quality: int = JPEG_QUALITY
    object_classes: int = 26       # the first N of OBJECT_CLASSES
    class_hue: bool = True         # each object class keeps its own hue (see _tint)


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", image_size=64, objects_train=6, objects_val=2, objects_test=2, birds_per_class=4,
                     transfer_train=2, transfer_test=2),
    # 10 classes, 150 train images each: learnable from scratch by the width-0.25 networks in CPU minutes.
    "default": Profile("default", objects_train=150, objects_val=25, objects_test=20, object_classes=10),
    "full": Profile("full", objects_train=300, objects_val=50, objects_test=40, birds_per_class=100,
                    transfer_train=60, transfer_test=60),
}

SUITE_IDS = {"objects": 1, "birds": 2, "scenes": 3, "things": 4}
SPLIT_IDS = {"train": 0, "val": 1, "test": 2, "all": 3}
ORDER_INDEX = 10 ** 9        # index of the per-split generators that draw orders and splits (never an image index)

# Photographs and textures shipped in the wheels: (package, path inside the package). Chessboards, charts,
# text pages and silhouettes are left out (they would look like object classes).
BACKGROUND_FILES = (
    ("skimage", "data/astronaut.png"), ("skimage", "data/brick.png"), ("skimage", "data/camera.png"),
    ("skimage", "data/cell.png"), ("skimage", "data/chelsea.png"), ("skimage", "data/clock_motion.png"),
    ("skimage", "data/coffee.png"), ("skimage", "data/coins.png"), ("skimage", "data/grass.png"),
    ("skimage", "data/gravel.png"), ("skimage", "data/hubble_deep_field.jpg"), ("skimage", "data/ihc.png"),
    ("skimage", "data/moon.png"), ("skimage", "data/motorcycle_left.png"),
    ("skimage", "data/motorcycle_right.png"), ("skimage", "data/retina.jpg"), ("skimage", "data/rocket.jpg"),
    ("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"),
)


# ----------------------------------------------------------------------------------------------------------------
# Drawing: shapes in a local frame, rendered with an affine pose at SS x supersampling.

@dataclass
class Pattern:
    """A texture fill evaluated in the shape's local frame (so it turns and scales with the shape)."""

    kind: str                  # stripes | dots | checker | gradient
    c1: tuple
    c2: tuple
    period: float = 0.3
    angle: float = 0.0


class Sketch:
    """Drawing operations in a local frame (about [-1, 1], y down); later operations paint over earlier ones,
    ``fill=None`` erases (makes transparent)."""

    def __init__(self):
        self.ops: list[tuple] = []

    def poly(self, pts, fill):
        self.ops.append(("poly", np.asarray(pts, dtype=np.float64).reshape(-1, 2), fill, 0.0))

    def line(self, pts, width, fill, cap=True):
        self.ops.append(("line", np.asarray(pts, dtype=np.float64).reshape(-1, 2), fill, float(width)))
        if cap:
            p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
            for q in (p[0], p[-1]):
                self.circle(q[0], q[1], width / 2, fill, n=16)

    def ellipse(self, cx, cy, rx, ry, fill, rot=0.0, n=48):
        self.poly(_arc(cx, cy, rx, ry, rot=rot, n=n), fill)

    def circle(self, cx, cy, r, fill, n=40):
        self.poly(_arc(cx, cy, r, r, n=n), fill)

    def rect(self, x0, y0, x1, y1, fill):
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill)

    def rrect(self, x0, y0, x1, y1, r, fill):
        self.poly(_rrect(x0, y0, x1, y1, r), fill)


def _arc(cx, cy, rx, ry, rot=0.0, a0=0.0, a1=2 * math.pi, n=40):
    full = abs(a1 - a0) >= 2 * math.pi - 1e-9
    t = np.linspace(a0, a1, n, endpoint=not full)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(rot), math.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def _rrect(x0, y0, x1, y1, r, n=5):
    r = max(0.0, min(r, (x1 - x0) / 2, (y1 - y0) / 2))
    if r <= 1e-9:
        return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)
    parts = [_arc(x1 - r, y0 + r, r, r, a0=-math.pi / 2, a1=0, n=n),
             _arc(x1 - r, y1 - r, r, r, a0=0, a1=math.pi / 2, n=n),
             _arc(x0 + r, y1 - r, r, r, a0=math.pi / 2, a1=math.pi, n=n),
             _arc(x0 + r, y0 + r, r, r, a0=math.pi, a1=1.5 * math.pi, n=n)]
    return np.concatenate(parts)


def _rot(pts, ang, about=(0.0, 0.0)):
    p = np.asarray(pts, dtype=np.float64) - about
    c, s = math.cos(ang), math.sin(ang)
    return p @ np.array([[c, s], [-s, c]]) + about


@dataclass
class Patch:
    """A rendered instance: premultiplied colour and coverage alpha, cropped to the pixels it covers."""

    premul: np.ndarray         # (h, w, 3) float32, colour * alpha, in [0, 1]
    alpha: np.ndarray          # (h, w) float32 coverage in [0, 1], > 0 exactly on the covered pixels
    origin: tuple = (0, 0)     # integer position of the top-left pixel in the rendering's pixel frame

    @property
    def shape(self):
        return self.alpha.shape


def _pose_matrix(rng, upright: bool, aspect=(0.75, 1.33), shear=0.15, flip=True):
    ang = rng.uniform(-0.35, 0.35) if upright else rng.uniform(0, 2 * math.pi)
    a = math.exp(rng.uniform(math.log(aspect[0]), math.log(aspect[1])))
    sh = rng.uniform(-shear, shear)
    fx = -1.0 if (flip and rng.random() < 0.5) else 1.0
    c, s = math.cos(ang), math.sin(ang)
    return np.array([[c, -s], [s, c]]) @ np.array([[fx * math.sqrt(a), sh], [0.0, 1.0 / math.sqrt(a)]])


def _extent(sk: Sketch, A: np.ndarray):
    lin = math.sqrt(abs(np.linalg.det(A)))
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for kind, pts, fill, width in sk.ops:
        if fill is None:
            continue
        p = pts @ A.T
        pad = width * lin / 2
        lo = np.minimum(lo, p.min(0) - pad)
        hi = np.maximum(hi, p.max(0) + pad)
    return lo, hi


def _pattern_rgb(pat: Pattern, h, w, Ainv, off):
    """The pattern over an (h, w) supersampled canvas, evaluated in local coordinates."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    qx, qy = (xs + 0.5) / SS - off[0], (ys + 0.5) / SS - off[1]
    lx, ly = Ainv[0, 0] * qx + Ainv[0, 1] * qy, Ainv[1, 0] * qx + Ainv[1, 1] * qy
    c, s = math.cos(pat.angle), math.sin(pat.angle)
    u, v = c * lx + s * ly, -s * lx + c * ly
    if pat.kind == "stripes":
        t = (np.floor(u / pat.period) % 2).astype(np.float32)
    elif pat.kind == "checker":
        t = ((np.floor(u / pat.period) + np.floor(v / pat.period)) % 2).astype(np.float32)
    elif pat.kind == "dots":
        du = u / pat.period - np.round(u / pat.period)
        dv = v / pat.period - np.round(v / pat.period)
        t = ((du * du + dv * dv) < 0.09).astype(np.float32)
    else:  # gradient
        t = np.clip((u + 1) / 2, 0, 1).astype(np.float32)
    c1, c2 = np.array(pat.c1, np.float32), np.array(pat.c2, np.float32)
    rgb = c1 + (c2 - c1) * t[..., None]
    return np.concatenate([rgb, np.full((h, w, 1), 255, np.float32)], 2).astype(np.uint8)


def _render(sk: Sketch, A: np.ndarray) -> Patch:
    """Draw ``sk`` with the linear map ``A`` (local units -> output pixels), anti-aliased; crop to coverage."""
    lo, hi = _extent(sk, A)
    lo = np.floor(lo)
    off = -lo + 1.0
    w, h = int(math.ceil(hi[0] - lo[0])) + 2, int(math.ceil(hi[1] - lo[1])) + 2
    W, H = w * SS, h * SS
    canvas = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    lin = math.sqrt(abs(np.linalg.det(A)))
    Ainv = np.linalg.inv(A)
    pattern_cache: dict[int, Image.Image] = {}
    for kind, pts, fill, width in sk.ops:
        xy = [tuple(q) for q in ((pts @ A.T + off) * SS)]
        wpx = max(1, int(round(width * lin * SS)))
        if isinstance(fill, Pattern):
            mask = Image.new("L", (W, H), 0)
            md = ImageDraw.Draw(mask)
            if kind == "poly":
                md.polygon(xy, fill=255)
            else:
                md.line(xy, fill=255, width=wpx, joint="curve")
            if id(fill) not in pattern_cache:
                pattern_cache[id(fill)] = Image.fromarray(_pattern_rgb(fill, H, W, Ainv, off), "RGBA")
            canvas.paste(pattern_cache[id(fill)], (0, 0), mask)
            continue
        rgba = (0, 0, 0, 0) if fill is None else (*fill, 255)
        if kind == "poly":
            if len(xy) >= 3:
                draw.polygon(xy, fill=rgba)
        else:
            draw.line(xy, fill=rgba, width=wpx, joint="curve")
    arr = np.asarray(canvas, dtype=np.float32) / 255.0
    a_sub = (arr[..., 3] > 0).astype(np.float32)
    alpha = a_sub.reshape(h, SS, w, SS).mean((1, 3))
    premul = (arr[..., :3] * a_sub[..., None]).reshape(h, SS, w, SS, 3).mean((1, 3))
    return _crop(Patch(premul.astype(np.float32), alpha.astype(np.float32), (int(lo[0]) - 1, int(lo[1]) - 1)))


def _crop(p: Patch) -> Patch:
    ys, xs = np.nonzero(p.alpha > 0)
    if len(ys) == 0:
        return Patch(np.zeros((1, 1, 3), np.float32), np.zeros((1, 1), np.float32), p.origin)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Patch(p.premul[y0:y1, x0:x1], p.alpha[y0:y1, x0:x1], (p.origin[0] + int(x0), p.origin[1] + int(y0)))


def _render_fraction(sk: Sketch, A: np.ndarray, frac: float, size: int, lo=0.05, hi=0.60) -> Patch:
    """Render at the scale whose box covers about ``frac`` of a ``size x size`` image, fitting inside it."""
    e0, e1 = _extent(sk, A)
    ew, eh = max(e1[0] - e0[0], 1e-6), max(e1[1] - e0[1], 1e-6)
    scale = math.sqrt(frac * size * size / (ew * eh))
    scale = min(scale, (size - 3) / max(ew, eh))
    patch = _render(sk, A * scale)
    for _ in range(3):
        h, w = patch.shape
        got = h * w / (size * size)
        if (lo <= got <= hi) and h <= size and w <= size:
            break
        target = min(max(got, lo * 1.15), hi * 0.9)
        factor = math.sqrt(target / got)
        factor = min(factor, (size - 1) / max(h, w))
        scale *= factor
        patch = _render(sk, A * scale)
    return patch


# ----------------------------------------------------------------------------------------------------------------
# Colours and fills, one distribution for every class.

def _color(rng, s=(0.2, 1.0), v=(0.2, 1.0), h=None):
    hue = rng.random() if h is None else h % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(*s), rng.uniform(*v))
    return (int(r * 255), int(g * 255), int(b * 255))


def _lum(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrast(rng, c, min_diff=70):
    best = None
    for _ in range(12):
        d = _color(rng)
        if abs(_lum(d) - _lum(c)) >= min_diff:
            return d
        if best is None or abs(_lum(d) - _lum(c)) > abs(_lum(best) - _lum(c)):
            best = d
    return best


def _fill(rng, p_texture=0.3, kinds=("stripes", "dots", "gradient")):
    c = _color(rng)
    if rng.random() < p_texture:
        return Pattern(str(rng.choice(kinds)), c, _contrast(rng, c), period=rng.uniform(0.15, 0.4),
                       angle=rng.uniform(0, math.pi))
    return c


def U(rng, a, b):
    return float(rng.uniform(a, b))


# ----------------------------------------------------------------------------------------------------------------
# The `objects` classes (stand-in for ILSVRC). Each draws one instance of its family in the local frame.

def _star(sk, rng):
    n = int(rng.integers(4, 9))
    rin, ph = U(rng, 0.32, 0.62), U(rng, 0, 2 * math.pi)

    def pts(r):
        ang = ph + np.arange(2 * n) * math.pi / n
        rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rin)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)

    if rng.random() < 0.4:
        sk.poly(pts(1.0), _color(rng))
        sk.poly(pts(0.8), _fill(rng))
    else:
        sk.poly(pts(1.0), _fill(rng))
    if rng.random() < 0.3:
        sk.circle(0, 0, rin * 0.45, _color(rng))


def _ring(sk, rng):
    rin = U(rng, 0.45, 0.75)
    if rng.random() < 0.4:
        sk.circle(0, 0, 1, _color(rng))
        sk.circle(0, 0, 0.9, _fill(rng))
    else:
        sk.circle(0, 0, 1, _fill(rng))
    if rng.random() < 0.3:
        sk.circle(0, 0, rin + 0.08, _color(rng))
    d = rng.uniform(-0.06, 0.06, 2)
    sk.circle(d[0], d[1], rin, None)


def _cross(sk, rng):
    w, lh = U(rng, 0.11, 0.23), U(rng, 0.7, 1.0)
    up, down = U(rng, 0.6, 1.0), U(rng, 0.6, 1.3)
    if rng.random() < 0.3:
        e, c = 0.08, _color(rng)
        sk.rect(-lh - e, -w - e, lh + e, w + e, c)
        sk.rect(-w - e, -up - e, w + e, down + e, c)
    f = _fill(rng)
    sk.rect(-lh, -w, lh, w, f)
    sk.rect(-w, -up, w, down, f)


def _arrow(sk, rng):
    hw, hh, hl = U(rng, 0.06, 0.16), U(rng, 0.28, 0.55), U(rng, 0.35, 0.7)
    xb = 1 - hl
    f = _fill(rng)
    g = f if rng.random() < 0.7 else _color(rng)
    if rng.random() < 0.4:
        c = _color(rng)
        sk.poly([(-1, -hw), (-0.72, -hw), (-0.92, -hh * 0.75), (-1.15, -hh * 0.75)], c)
        sk.poly([(-1, hw), (-0.72, hw), (-0.92, hh * 0.75), (-1.15, hh * 0.75)], c)
    sk.rect(-1, -hw, xb + 0.02, hw, f)
    if rng.random() < 0.4:
        sk.poly([(xb - 0.15, -hh), (1, 0), (xb - 0.15, hh), (xb + 0.05, 0)], g)
    else:
        sk.poly([(xb, -hh), (1, 0), (xb, hh)], g)


def _crescent(sk, rng):
    sk.circle(0, 0, 1, _fill(rng), n=56)
    d, r2, a = U(rng, 0.32, 0.6), U(rng, 0.75, 1.0), U(rng, 0, 2 * math.pi)
    sk.circle(d * math.cos(a), d * math.sin(a), r2, None, n=56)


def _heart_pts(rng, s=1.0, dy=0.0):
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    a, b = U(rng, 11.5, 14), U(rng, 4, 6)
    x = 16 * np.sin(t) ** 3
    y = -(a * np.cos(t) - b * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y], 1) / 16 * s + (0, dy)


def _heart(sk, rng):
    sk.poly(_heart_pts(rng), _fill(rng))
    if rng.random() < 0.35:
        sk.poly(_heart_pts(rng, 0.55, -0.05), _color(rng))


def _bar_stack(sk, rng):
    n, g = int(rng.integers(3, 6)), U(rng, 0.2, 0.5)
    h = 2 / (n + (n - 1) * g)
    align = int(rng.integers(3))
    same, base = rng.random() < 0.5, _fill(rng)
    r = U(rng, 0, 0.5)
    for i in range(n):
        L = U(rng, 0.7, 2.0)
        x0 = (-1.0, -L / 2, 1 - L)[align]
        y0 = -1 + i * h * (1 + g)
        sk.rrect(x0, y0, x0 + L, y0 + h, r * h, base if same else _fill(rng))


def _spiral(sk, rng):
    turns, r0, w = U(rng, 1.5, 3.0), U(rng, 0.0, 0.15), U(rng, 0.08, 0.15)
    t = np.linspace(0, turns * 2 * math.pi, int(40 * turns))
    r = r0 + (1 - r0) * t / t[-1]
    sk.line(np.stack([r * np.cos(t), r * np.sin(t)], 1), w, _fill(rng, 0.2))


def _checkerboard(sk, rng):
    nx, ny = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    cell = 2 / max(nx, ny)
    c1 = _color(rng)
    c2 = _contrast(rng, c1)
    x0, y0 = -nx * cell / 2, -ny * cell / 2
    if rng.random() < 0.4:
        b = U(rng, 0.06, 0.15)
        sk.rect(x0 - b, y0 - b, -x0 + b, -y0 + b, _color(rng))
    for i in range(nx):
        for j in range(ny):
            sk.rect(x0 + i * cell, y0 + j * cell, x0 + (i + 1) * cell, y0 + (j + 1) * cell, c1 if (i + j) % 2 else c2)


def _striped_ellipse(sk, rng):
    ry = U(rng, 0.45, 0.85)
    c1 = _color(rng)
    pat = Pattern("stripes", c1, _contrast(rng, c1), period=U(rng, 0.14, 0.35), angle=U(rng, 0, math.pi))
    if rng.random() < 0.4:
        sk.ellipse(0, 0, 1.08, ry + 0.08, _color(rng))
    sk.ellipse(0, 0, 1, ry, pat)


def _house(sk, rng):
    bw, bh, rh, ov = U(rng, 1.0, 1.6), U(rng, 0.7, 1.2), U(rng, 0.35, 0.9), U(rng, 0, 0.15)
    if rng.random() < 0.5:
        cx = U(rng, 0.1, 0.3) * bw
        sk.rect(cx, -rh * 0.85, cx + U(rng, 0.1, 0.2), 0, _color(rng))
    sk.rect(-bw / 2, 0, bw / 2, bh, _fill(rng))
    sk.poly([(-bw / 2 - ov, 0.02), (0, -rh), (bw / 2 + ov, 0.02)], _fill(rng, 0.2))
    side = 1 if rng.random() < 0.5 else -1
    dw, dh = U(rng, 0.18, 0.3) * bw, U(rng, 0.35, 0.6) * bh
    dx = side * U(rng, 0.1, 0.25) * bw
    sk.rect(dx - dw / 2, bh - dh, dx + dw / 2, bh, _color(rng))
    nwin = int(rng.integers(0, 3))
    ws = U(rng, 0.14, 0.22) * bw
    for k in range(nwin):
        wx = -side * (0.08 + 0.22 * k) * bw - side * ws / 2
        sk.rect(wx - ws / 2, 0.2 * bh, wx + ws / 2, 0.2 * bh + ws, _color(rng))


def _tree(sk, rng):
    tw, th = U(rng, 0.12, 0.28), U(rng, 0.35, 0.8)
    sk.rect(-tw / 2, -0.1, tw / 2, th, _color(rng))
    f = _fill(rng, 0.2)
    kind = int(rng.integers(3))
    if kind == 0:  # conifer tiers
        n, top = int(rng.integers(2, 5)), U(rng, 1.3, 1.9)
        step = top / (n + 0.6)
        for i in range(n):
            base = 0.05 - i * step
            hw = U(rng, 0.6, 0.9) * (1 - 0.18 * i)
            sk.poly([(-hw, base), (0, base - step * 1.6), (hw, base)], f)
    elif kind == 1:  # cloud of discs
        k = int(rng.integers(3, 7))
        for i in range(k):
            a = 2 * math.pi * i / k + U(rng, -0.3, 0.3)
            r = U(rng, 0.3, 0.48)
            sk.circle(0.38 * math.cos(a), -0.75 + 0.32 * math.sin(a), r, f)
    else:  # lollipop crown
        rc = U(rng, 0.55, 0.8)
        sk.ellipse(0, -rc + 0.05, rc * U(rng, 0.8, 1.2), rc, f)


def _flower(sk, rng):
    k, pl, pw, rc = int(rng.integers(5, 11)), U(rng, 0.45, 0.75), U(rng, 0.12, 0.26), U(rng, 0.16, 0.3)
    if rng.random() < 0.6:
        c = _color(rng)
        sk.line([(0, 0), (U(rng, -0.2, 0.2), 0.9), (0, 1.6)], U(rng, 0.05, 0.09), c)
        sk.ellipse(0.22, 1.1, 0.3, 0.1, c, rot=-0.6)
    f = _fill(rng, 0.15)
    ph = U(rng, 0, 2 * math.pi)
    for i in range(k):
        a = ph + i * 2 * math.pi / k
        d = rc + pl / 2 * 0.9
        sk.ellipse(d * math.cos(a), d * math.sin(a), pl / 2, pw, f, rot=a, n=24)
    sk.circle(0, 0, rc, _contrast(rng, f if isinstance(f, tuple) else f.c1))


def _key(sk, rng):
    ro, ri = U(rng, 0.3, 0.45), U(rng, 0.35, 0.6)
    hw, L = U(rng, 0.05, 0.09), U(rng, 1.2, 1.8)
    f = _fill(rng, 0.2)
    sk.rect(ro * 0.8, -hw, ro + L, hw, f)
    x = ro + L - 0.04
    for j in range(int(rng.integers(2, 5))):
        tw, tl = U(rng, 0.06, 0.1), U(rng, 0.12, 0.3)
        sk.rect(x - tw, hw * 0.5, x, hw + tl, f)
        x -= tw + U(rng, 0.04, 0.12)
    if rng.random() < 0.3:
        sk.rrect(-ro, -ro, ro, ro, ro * 0.3, f)
    else:
        sk.circle(0, 0, ro, f)
    sk.circle(0, 0, ro * ri, None)


def _ladder(sk, rng):
    s, rw, n = U(rng, 0.5, 0.9), U(rng, 0.06, 0.12), int(rng.integers(3, 7))
    f = _fill(rng, 0.15)
    g = f if rng.random() < 0.6 else _color(rng)
    for i in range(n):
        y = -1 + (i + 0.5) * 2 / n
        sk.rect(-s / 2, y - rw * 0.6, s / 2, y + rw * 0.6, g)
    sk.rect(-s / 2 - rw, -1, -s / 2, 1, f)
    sk.rect(s / 2, -1, s / 2 + rw, 1, f)


def _ell(sk, rng):
    t, Wf = U(rng, 0.25, 0.55), U(rng, 0.9, 1.8)
    pts = [(0, 0), (t, 0), (t, 2 - t), (Wf, 2 - t), (Wf, 2), (0, 2)]
    if rng.random() < 0.3:
        e = 0.07
        sk.poly([(-e, -e), (t + e, -e), (t + e, 2 - t - e), (Wf + e, 2 - t - e), (Wf + e, 2 + e), (-e, 2 + e)],
                _color(rng))
    sk.poly(pts, _fill(rng))


def _zigzag(sk, rng):
    n, A, w = int(rng.integers(3, 7)), U(rng, 0.3, 0.8), U(rng, 0.1, 0.22)
    x = np.linspace(-1, 1, n + 1)
    y = A * np.where(np.arange(n + 1) % 2 == 0, 1.0, -1.0) * rng.uniform(0.8, 1.2, n + 1)
    sk.line(np.stack([x, y], 1), w, _fill(rng, 0.2), cap=rng.random() < 0.5)


def _target(sk, rng):
    k = int(rng.integers(3, 6))
    c1 = _color(rng)
    cols = [c1, _contrast(rng, c1)]
    if rng.random() < 0.3:
        cols.append(_color(rng))
    for i in range(k):
        sk.circle(0, 0, 1 - i / k, cols[i % len(cols)], n=48)


def _dumbbell(sk, rng):
    bt = U(rng, 0.05, 0.12)
    sk.rect(-1, -bt, 1, bt, _color(rng))
    f = _fill(rng, 0.2)
    if rng.random() < 0.7:
        rw = U(rng, 0.25, 0.45)
        for sx in (-1, 1):
            sk.circle(sx * (1 - rw * 0.6), 0, rw, f)
    else:
        for sx in (-1, 1):
            for j in range(int(rng.integers(1, 4))):
                ph = U(rng, 0.35, 0.6) * (1 - 0.2 * j)
                x = sx * (0.85 - j * 0.14)
                sk.rrect(x - 0.06, -ph, x + 0.06, ph, 0.03, f)


def _hourglass(sk, rng):
    nw, hw = U(rng, 0.03, 0.12), U(rng, 0.45, 0.75)
    sk.poly([(-hw, -1), (hw, -1), (nw, 0), (hw, 1), (-hw, 1), (-nw, 0)], _fill(rng, 0.2))
    if rng.random() < 0.6:
        lvl = U(rng, 0.3, 0.7)
        sk.poly([(-hw * 0.85, 0.97), (hw * 0.85, 0.97), (0, 1 - lvl)], _color(rng))
    ct, c = U(rng, 0.07, 0.16), _color(rng)
    sk.rrect(-hw - 0.12, -1 - ct, hw + 0.12, -1 + 0.01, ct * 0.3, c)
    sk.rrect(-hw - 0.12, 1 - 0.01, hw + 0.12, 1 + ct, ct * 0.3, c)


def _lightning(sk, rng):
    base = np.array([(0.15, -1), (-0.45, 0.15), (-0.02, 0.15), (-0.25, 1), (0.5, -0.25), (0.08, -0.25), (0.4, -1)])
    base = base + rng.uniform(-0.07, 0.07, base.shape)
    base[:, 0] *= U(rng, 0.8, 1.3)
    sk.poly(base, _fill(rng))


def _umbrella(sk, rng):
    ry, n = U(rng, 0.45, 0.85), int(rng.integers(3, 7))
    top = _arc(0, 0, 1, ry, a0=math.pi, a1=2 * math.pi, n=32)
    sd, hw = U(rng, 0.05, 0.15), 1 / n
    scal = []
    for j in range(n):
        cx = 1 - (2 * j + 1) * hw
        b = np.linspace(0, math.pi, 8)
        scal.append(np.stack([cx + hw * np.cos(b), -sd * np.sin(b)], 1))
    hl, hr, w = U(rng, 0.7, 1.1), U(rng, 0.12, 0.2), U(rng, 0.05, 0.09)
    c = _color(rng)
    sk.line([(0, -ry - 0.12), (0, -ry + 0.1)], w, c)
    hook = _arc(-hr, hl, hr, hr, a0=0, a1=math.pi, n=10)
    sk.line(np.concatenate([[(0, -0.1)], [(0, hl)], hook]), w, c)
    f = _fill(rng)
    sk.poly(np.concatenate([top, *scal]), f)
    if rng.random() < 0.5:
        rc = _color(rng)
        for j in range(1, n):
            sk.line([(0, -ry * 0.95), (1 - 2 * j * hw, -0.01)], 0.03, rc, cap=False)


def _crown(sk, rng):
    n = int(rng.integers(3, 6))
    y0 = U(rng, 0.1, 0.3)
    y1 = y0 + U(rng, 0.3, 0.5)
    tips = np.linspace(-1, 1, n)
    pts = [(-1, y1)]
    for i, x in enumerate(tips):
        pts.append((x, -U(rng, 0.6, 1.0)))
        if i < n - 1:
            pts.append(((x + tips[i + 1]) / 2, y0 - U(rng, 0, 0.2)))
    pts.append((1, y1))
    f = _fill(rng)
    sk.poly(pts, f)
    if rng.random() < 0.6:
        c = _color(rng)
        for x in np.linspace(-0.6, 0.6, int(rng.integers(2, 5))):
            sk.circle(x, (y0 + y1) / 2, (y1 - y0) * 0.28, c, n=16)
    if rng.random() < 0.5:
        c = _color(rng)
        for (x, y) in pts[1:-1:2]:
            sk.circle(x, y, 0.09, c, n=16)


def _anchor(sk, rng):
    sw, top, bot = U(rng, 0.06, 0.1), -0.85, 0.75
    rr, sl, R = U(rng, 0.14, 0.22), U(rng, 0.35, 0.6), U(rng, 0.55, 0.8)
    f = _fill(rng, 0.15)
    sk.rect(-sw, top, sw, bot, f)
    sk.circle(0, top - rr + 0.02, rr, f)
    sk.circle(0, top - rr + 0.02, rr * 0.5, None)
    sk.rect(-sl, -0.55 - sw, sl, -0.55 + sw, f)
    sk.line(_arc(0, bot - R, R, R, a0=0, a1=math.pi, n=24), sw * 2, f, cap=False)
    for sx in (-1, 1):
        sk.poly([(sx * R - 0.16, bot - R + 0.06), (sx * R + 0.16, bot - R + 0.06), (sx * R, bot - R - 0.25)], f)


def _pinwheel(sk, rng):
    k = int(rng.integers(4, 8))
    r2, span = U(rng, 0.4, 0.7), U(rng, 0.45, 0.65) * 2 * math.pi / k
    c1 = _color(rng)
    cols = [c1, _contrast(rng, c1)] if rng.random() < 0.6 else [_color(rng) for _ in range(k)]
    if rng.random() < 0.4:
        sk.line([(0, 0), (0, 1.7)], 0.06, _color(rng))
    ph = U(rng, 0, 2 * math.pi)
    for i in range(k):
        a = ph + 2 * math.pi * i / k
        sk.poly([(0, 0), (math.cos(a), math.sin(a)), (r2 * math.cos(a + span), r2 * math.sin(a + span))],
                cols[i % len(cols)])
    sk.circle(0, 0, 0.08, _color(rng), n=16)


def _frame(sk, rng):
    h2, t, r = U(rng, 0.6, 1.0), U(rng, 0.13, 0.3), U(rng, 0, 0.2)
    sk.rrect(-1, -h2, 1, h2, r, _fill(rng))
    if rng.random() < 0.4:
        sk.rrect(-1 + t * 0.6, -h2 + t * 0.6, 1 - t * 0.6, h2 - t * 0.6, r * 0.6, _color(rng))
    sk.rrect(-1 + t, -h2 + t, 1 - t, h2 - t, r * 0.5, None)


@dataclass(frozen=True)
class ShapeClass:
    name: str
    draw: Callable
    upright: bool = False      # drawn within +-20 degrees of upright instead of any rotation


OBJECT_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass("star", _star), ShapeClass("ring", _ring), ShapeClass("cross", _cross),
    ShapeClass("arrow", _arrow), ShapeClass("crescent", _crescent), ShapeClass("heart", _heart, True),
    ShapeClass("bar stack", _bar_stack), ShapeClass("spiral", _spiral), ShapeClass("checkerboard", _checkerboard),
    ShapeClass("striped ellipse", _striped_ellipse), ShapeClass("house", _house, True),
    ShapeClass("tree", _tree, True), ShapeClass("flower", _flower), ShapeClass("key", _key),
    ShapeClass("ladder", _ladder), ShapeClass("L-shape", _ell), ShapeClass("zigzag", _zigzag),
    ShapeClass("target", _target), ShapeClass("dumbbell", _dumbbell), ShapeClass("hourglass", _hourglass),
    ShapeClass("lightning bolt", _lightning), ShapeClass("umbrella", _umbrella, True),
    ShapeClass("crown", _crown, True), ShapeClass("anchor", _anchor, True), ShapeClass("pinwheel", _pinwheel),
    ShapeClass("frame", _frame),
)


def object_wnids(n: int | None = None) -> list[str]:
    """The fake wnids of the first ``n`` (default: all) ``objects`` classes, in class order (they sort in that order)."""
    return [f"n{90000000 + i:08d}" for i in range(len(OBJECT_CLASSES) if n is None else n)]


def class_hue(label: int) -> float:
    """The hue of object class ``label`` (golden-ratio spacing: consecutive classes far apart on the hue circle)."""
    return (label * 0.6180339887) % 1.0


def _tint(patch: Patch, hue: float, rng) -> Patch:
    """Recolour an instance to ``hue`` (+ a small jitter), keeping its texture as saturation and value changes:
    objects of one class share a colour tendency, as many real categories do, which makes the default
    benchmark learnable from scratch in CPU minutes; shape still separates classes of nearby hues."""
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    a = patch.alpha[..., None]
    hsv = rgb_to_hsv(np.clip(np.divide(patch.premul, a, out=np.zeros_like(patch.premul), where=a > 0), 0, 1))
    hsv[..., 0] = (hue + rng.normal(0.0, 0.03)) % 1.0
    hsv[..., 1] = 0.35 + 0.65 * hsv[..., 1]
    return Patch((hsv_to_rgb(hsv) * a).astype(np.float32), patch.alpha, patch.origin)


# ----------------------------------------------------------------------------------------------------------------
# The `things` transfer classes: object shapes that no `objects` class uses.

def _kite(sk, rng):
    w, yc = U(rng, 0.45, 0.75), U(rng, -0.45, -0.2)
    c = _color(rng)
    pts = np.array([(0, -1), (w, yc), (0, 0.7), (-w, yc)])
    tail = np.stack([np.sin(np.linspace(0, 3 * math.pi, 20)) * 0.15 + np.linspace(0, U(rng, -0.3, 0.3), 20),
                     np.linspace(0.7, 1.9, 20)], 1)
    sk.line(tail, 0.035, c, cap=False)
    for t in (7, 13):
        x, y = tail[t]
        sk.poly([(x, y), (x - 0.14, y - 0.08), (x - 0.14, y + 0.08)], c)
        sk.poly([(x, y), (x + 0.14, y - 0.08), (x + 0.14, y + 0.08)], c)
    f1, f2 = _fill(rng, 0.2), _color(rng)
    sk.poly([pts[0], pts[1], pts[2]], f1)
    sk.poly([pts[0], pts[3], pts[2]], f2 if rng.random() < 0.5 else f1)
    sk.line([(0, -1), (0, 0.7)], 0.03, c, cap=False)
    sk.line([(-w, yc), (w, yc)], 0.03, c, cap=False)


def _mug(sk, rng):
    bw, bh = U(rng, 0.7, 1.0), U(rng, 0.9, 1.3)
    f = _fill(rng)
    c = f if isinstance(f, tuple) else f.c1
    hr = U(rng, 0.25, 0.38) * bh
    sk.circle(bw / 2, 0, hr, c)
    sk.circle(bw / 2, 0, hr * 0.55, None)
    sk.rrect(-bw / 2, -bh / 2, bw / 2, bh / 2, 0.08, f)
    if rng.random() < 0.5:
        y = U(rng, -0.2, 0.2)
        sk.rect(-bw / 2, y - 0.08, bw / 2, y + 0.08, _color(rng))
    if rng.random() < 0.5:
        sk.rect(-bw / 2, -bh / 2, bw / 2, -bh / 2 + 0.07, _color(rng))


def _bottle(sk, rng):
    bw, bh = U(rng, 0.45, 0.7), U(rng, 0.8, 1.1)
    nw, nh, sh = bw * U(rng, 0.3, 0.45), U(rng, 0.3, 0.5), U(rng, 0.15, 0.3)
    f = _fill(rng, 0.15)
    sk.poly([(-bw / 2, bh), (-bw / 2, 0), (-nw / 2, -sh), (-nw / 2, -sh - nh), (nw / 2, -sh - nh), (nw / 2, -sh),
             (bw / 2, 0), (bw / 2, bh)], f)
    sk.rect(-nw / 2 - 0.02, -sh - nh - 0.12, nw / 2 + 0.02, -sh - nh + 0.02, _color(rng))
    if rng.random() < 0.7:
        sk.rect(-bw / 2, bh * U(rng, 0.2, 0.4), bw / 2, bh * U(rng, 0.55, 0.8), _color(rng))


def _envelope(sk, rng):
    h = U(rng, 0.55, 0.75)
    f = _color(rng)
    sk.rect(-1, -h, 1, h, f)
    c = _contrast(rng, f, 40)
    sk.line([(-1, h), (0, U(rng, -0.1, 0.2)), (1, h)], 0.04, c, cap=False)
    sk.poly([(-1, -h), (1, -h), (0, U(rng, -0.1, 0.3))], c if rng.random() < 0.5 else _color(rng))
    if rng.random() < 0.5:
        sk.rect(0.6, -h + 0.1, 0.85, -h + 0.4, _color(rng))


def _bell(sk, rng):
    rt, wb, p = U(rng, 0.3, 0.45), U(rng, 0.8, 1.0), U(rng, 2, 3)
    s = np.linspace(0, 1, 20)
    y = -0.8 + 1.5 * s
    hw = rt + (wb - rt) * s ** p
    dome = _arc(0, -0.8, rt, rt * 0.9, a0=math.pi, a1=2 * math.pi, n=16)
    f = _fill(rng, 0.2)
    c = _color(rng)
    sk.circle(0, -0.8 - rt * 0.9 - 0.08, 0.13, c)
    sk.circle(0, -0.8 - rt * 0.9 - 0.08, 0.06, None)
    sk.circle(0, 0.82, 0.14, c)
    sk.poly(np.concatenate([np.stack([-hw, y], 1)[::-1], dome, np.stack([hw, y], 1)]), f)
    sk.rrect(-wb - 0.06, 0.65, wb + 0.06, 0.78, 0.04, c)


def _sailboat(sk, rng):
    f = _fill(rng, 0.2)
    sk.poly([(-1, 0.35), (1, 0.35), (U(rng, 0.6, 0.85), 0.7), (-U(rng, 0.55, 0.8), 0.7)], f)
    sk.rect(-0.03, -1.2, 0.03, 0.35, _color(rng))
    sk.poly([(0.07, -1.1), (0.07, 0.25), (U(rng, 0.55, 0.9), 0.25)], _color(rng))
    if rng.random() < 0.6:
        sk.poly([(-0.07, -0.95), (-0.07, 0.25), (-U(rng, 0.4, 0.7), 0.25)], _color(rng))
    if rng.random() < 0.4:
        sk.poly([(0.03, -1.2), (0.3, -1.12), (0.03, -1.04)], _color(rng))


def _car(sk, rng):
    f = _fill(rng, 0.2)
    L = U(rng, 0.9, 1.1)
    ch = U(rng, 0.35, 0.55)
    sk.poly([(-0.55, -0.05), (-0.35, -0.05 - ch), (0.35, -0.05 - ch), (0.6, -0.05)], f)
    sk.rrect(-L, -0.1, L, 0.4, 0.1, f)
    wc = _contrast(rng, f if isinstance(f, tuple) else f.c1, 50)
    sk.poly([(-0.45, -0.1), (-0.31, -ch + 0.03), (-0.03, -ch + 0.03), (-0.03, -0.1)], wc)
    sk.poly([(0.03, -0.1), (0.03, -ch + 0.03), (0.31, -ch + 0.03), (0.5, -0.1)], wc)
    wr, dark = U(rng, 0.2, 0.28), _color(rng, v=(0.05, 0.3))
    for x in (-0.6 * L, 0.6 * L):
        sk.circle(x, 0.4, wr, dark)
        sk.circle(x, 0.4, wr * 0.45, _color(rng, s=(0, 0.3), v=(0.6, 1)))


def _candle(sk, rng):
    w, h = U(rng, 0.25, 0.4), U(rng, 1.0, 1.6)
    if rng.random() < 0.5:
        sk.ellipse(0, h / 2 + 0.02, w * 1.8, 0.1, _color(rng))
    sk.rect(-w / 2, -h / 2, w / 2, h / 2, _fill(rng, 0.4, ("stripes", "gradient")))
    sk.line([(0, -h / 2), (0, -h / 2 - 0.1)], 0.03, (30, 30, 30), cap=False)
    t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
    a = U(rng, 0.28, 0.4)
    fl = np.stack([a * 0.55 * np.sin(t) * np.sin(t / 2) ** 1.5, -a * np.cos(t)], 1) + (0, -h / 2 - 0.1 - a * 0.9)
    sk.poly(fl, _color(rng, s=(0.5, 1), v=(0.7, 1)))


def _leaf(sk, rng):
    x = np.linspace(-1, 1, 24)
    wmax, p, skew = U(rng, 0.3, 0.55), U(rng, 0.6, 1.2), U(rng, -0.3, 0.3)
    y = wmax * (1 - x ** 2) ** p * (1 + skew * x)
    f = _fill(rng, 0.2)
    sk.line([(-1, 0), (-1.35, U(rng, -0.1, 0.1))], 0.05, f if isinstance(f, tuple) else f.c1, cap=False)
    sk.poly(np.concatenate([np.stack([x, -y], 1), np.stack([x, y], 1)[::-1]]), f)
    c = _contrast(rng, f if isinstance(f, tuple) else f.c1, 50)
    sk.line([(-1, 0), (0.9, 0)], 0.035, c, cap=False)
    for xv in np.linspace(-0.6, 0.5, int(rng.integers(3, 6))):
        yv = wmax * 0.7 * (1 - xv ** 2) ** p
        sk.line([(xv, 0), (xv + 0.25, -yv)], 0.025, c, cap=False)
        sk.line([(xv, 0), (xv + 0.25, yv)], 0.025, c, cap=False)


def _fish(sk, rng):
    ry = U(rng, 0.32, 0.5)
    f = _fill(rng, 0.4, ("stripes", "dots"))
    c = _color(rng)
    sk.poly([(0.2, -ry * 0.8), (-0.15, -ry - 0.3), (-0.35, -ry * 0.8)], c)
    if rng.random() < 0.5:
        sk.poly([(0.65, 0), (1.2, -0.42), (1.0, 0), (1.2, 0.42)], c)
    else:
        sk.poly([(0.65, 0), (1.15, -0.38), (1.15, 0.38)], c)
    sk.ellipse(0, 0, 0.8, ry, f)
    sk.circle(-0.5, -ry * 0.2, 0.09, (245, 245, 245), n=16)
    sk.circle(-0.5, -ry * 0.2, 0.05, (15, 15, 15), n=12)


THING_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass("kite", _kite, True), ShapeClass("mug", _mug, True), ShapeClass("bottle", _bottle, True),
    ShapeClass("envelope", _envelope, True), ShapeClass("bell", _bell, True),
    ShapeClass("sailboat", _sailboat, True), ShapeClass("car", _car, True), ShapeClass("candle", _candle, True),
    ShapeClass("leaf", _leaf), ShapeClass("fish", _fish, True),
)


# ----------------------------------------------------------------------------------------------------------------
# Birds (stand-in for CUB-200-2011): one body plan, species differ only in small parts.

@dataclass(frozen=True)
class Species:
    name: str
    crown: str | None          # red | yellow | blue | black | None (crown = body colour)
    wing_bar: str | None       # white | yellow | None
    tail: str                  # forked | rounded | pointed | square
    beak: str                  # short | long | hooked
    eye_ring: bool


BIRD_SPECIES: tuple[Species, ...] = (
    Species("Crimson_Crowned_Finch", "red", None, "forked", "short", False),
    Species("Golden_Crowned_Finch", "yellow", None, "forked", "short", False),
    Species("Azure_Crowned_Finch", "blue", "white", "forked", "short", False),
    Species("Crimson_Capped_Warbler", "red", "white", "pointed", "long", True),
    Species("Golden_Capped_Warbler", "yellow", None, "pointed", "long", True),
    Species("Black_Capped_Warbler", "black", "white", "pointed", "long", False),
    Species("Spectacled_Shrike", None, None, "square", "hooked", True),
    Species("Barred_Shrike", None, "white", "square", "hooked", False),
    Species("Crimson_Shrike", "red", None, "square", "hooked", False),
    Species("Plain_Sparrow", None, None, "rounded", "short", False),
    Species("Yellow_Barred_Sparrow", None, "yellow", "rounded", "short", False),
    Species("Spectacled_Sparrow", None, None, "rounded", "short", True),
    Species("Azure_Capped_Flycatcher", "blue", None, "forked", "long", False),
    Species("Black_Capped_Flycatcher", "black", "yellow", "forked", "long", True),
)

CROWN_HUES = {"red": 0.99, "yellow": 0.14, "blue": 0.6}


def _crown_color(rng, kind):
    if kind == "black":
        return _color(rng, s=(0, 0.3), v=(0.04, 0.14))
    return _color(rng, s=(0.75, 1.0), v=(0.75, 1.0), h=CROWN_HUES[kind] + U(rng, -0.025, 0.025))


def _bird(sk: Sketch, rng, sp: Species):
    """A bird facing +x in the local frame (body ellipse about [-1, 1] x [-0.6, 0.6])."""
    body = _color(rng, s=(0.08, 0.55), v=(0.3, 0.85))
    hsv = colorsys.rgb_to_hsv(*[c / 255 for c in body])
    wing = _color(rng, s=(max(0, hsv[1] - 0.1), min(1, hsv[1] + 0.1) + 1e-3),
                  v=(hsv[2] * 0.5, hsv[2] * 0.8 + 1e-3), h=hsv[0] + U(rng, -0.05, 0.05))
    belly = tuple(int(c + (255 - c) * U(rng, 0.25, 0.6)) for c in body)
    ry, hr = U(rng, 0.52, 0.66), U(rng, 0.34, 0.44)
    tilt = U(rng, -0.2, 0.05)
    # legs (behind the body)
    leg = _color(rng, s=(0.1, 0.7), v=(0.15, 0.6))
    ll = U(rng, 0.4, 0.65)
    for x in (-0.12, 0.14):
        sk.line([(x, ry * 0.8), (x - 0.05, ry * 0.8 + ll)], 0.05, leg, cap=False)
        sk.line([(x - 0.12, ry * 0.8 + ll), (x + 0.14, ry * 0.8 + ll)], 0.04, leg, cap=False)
    # tail (behind the body), attached at the back, pointing -x and a little down
    ta, L = U(rng, -0.05, 0.45), U(rng, 0.6, 0.9)
    bx, by = -0.8, -0.02
    if sp.tail == "forked":
        tail = [(bx, by - 0.15), (bx - L, by - 0.3), (bx - 0.5 * L, by + 0.0), (bx - L, by + 0.3), (bx, by + 0.12)]
    elif sp.tail == "rounded":
        fan = _arc(bx, by, L * 0.95, L * 0.95, a0=math.pi - 0.33, a1=math.pi + 0.33, n=12)
        tail = np.concatenate([[(bx, by + 0.12)], fan[::-1], [(bx, by - 0.12)]])
    elif sp.tail == "pointed":
        tail = [(bx, by - 0.13), (bx - 1.25 * L, by + 0.01), (bx, by + 0.13)]
    else:  # square
        tail = [(bx, by - 0.13), (bx - L, by - 0.2), (bx - L, by + 0.2), (bx, by + 0.13)]
    sk.poly(_rot(tail, ta, (bx, by)), wing)
    # body, belly, wing (turned together by the body tilt)
    parts = Sketch()
    parts.ellipse(0, 0, 1.0, ry, body)
    parts.ellipse(0.12, ry * 0.35, 0.72, ry * 0.55, belly)
    wa = U(rng, 0.05, 0.25)
    wc = (-0.2, -0.08)
    parts.ellipse(wc[0], wc[1], 0.7, ry * 0.5, wing, rot=wa)
    if sp.wing_bar is not None:
        bar = (_color(rng, s=(0, 0.08), v=(0.9, 1.0)) if sp.wing_bar == "white"
               else _color(rng, s=(0.7, 0.95), v=(0.85, 1.0), h=0.15 + U(rng, -0.02, 0.02)))
        for dx in (0.12, -0.2):
            seg = _rot([(wc[0] + dx + 0.07, wc[1] - ry * 0.38), (wc[0] + dx - 0.07, wc[1] + ry * 0.38)], wa, wc)
            parts.line(seg, 0.075, bar, cap=False)
    for kind, pts, fill, width in parts.ops:
        sk.ops.append((kind, _rot(pts, tilt), fill, width))
    # head, crown, eye, beak
    hx, hy = _rot([(0.82, -ry * 0.75)], tilt)[0]
    sk.circle(hx, hy, hr, body)
    if sp.crown is not None:
        cap = _arc(hx, hy, hr, hr, a0=math.radians(-160), a1=math.radians(-30), n=16)
        sk.poly(cap, _crown_color(rng, sp.crown))
    bc = _color(rng, s=(0.1, 0.9), v=(0.1, 0.7))
    b0 = (hx + hr * 0.9, hy + hr * 0.12)
    if sp.beak == "short":
        beak = [(0, -0.13), (0.3, 0.01), (0, 0.13)]
    elif sp.beak == "long":
        beak = [(0, -0.08), (0.45, -0.02), (0.75, 0.06), (0.4, 0.04), (0, 0.08)]
    else:  # hooked
        beak = [(0, -0.13), (0.3, -0.09), (0.42, 0.04), (0.37, 0.14), (0.3, 0.03), (0, 0.11)]
    sk.poly(np.asarray(beak) * (hr / 0.4) + b0, bc)
    ex, ey = hx + hr * 0.35, hy - hr * 0.12
    er = hr * 0.17
    if sp.eye_ring:
        sk.circle(ex, ey, er * 2.1, _color(rng, s=(0, 0.1), v=(0.92, 1.0)), n=20)
    sk.circle(ex, ey, er, _color(rng, s=(0, 0.3), v=(0.0, 0.12)), n=16)


# ----------------------------------------------------------------------------------------------------------------
# Backgrounds: photographs and textures from the wheels.

_PHOTOS: list[tuple[str, Image.Image]] | None = None


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def background_sources() -> list[Path]:
    """The wheel photographs used as backgrounds (files missing from the installed wheels are left out)."""
    out = []
    for package, rel in BACKGROUND_FILES:
        d = _package_dir(package)
        if d is not None and (d / rel).is_file():
            out.append(d / rel)
    return out


def _photos() -> list[tuple[str, Image.Image]]:
    global _PHOTOS
    if _PHOTOS is None:
        photos = []
        for path in background_sources():
            with Image.open(path) as im:
                im = im.convert("L" if im.mode in ("L", "I", "I;16") else "RGB")
                if max(im.size) > 512:
                    f = 512 / max(im.size)
                    im = im.resize((round(im.width * f), round(im.height * f)), Image.BILINEAR)
                im.load()
            photos.append((path.name, im))
        if len(photos) < 3:
            raise BadInputError(f"only {len(photos)} background photographs found in the installed scikit-image / "
                                f"scikit-learn wheels (need 3 or more of {[r for _, r in BACKGROUND_FILES]})")
        _PHOTOS = photos
    return _PHOTOS


def _background(rng, size: int) -> np.ndarray:
    photos = _photos()
    _, im = photos[int(rng.integers(len(photos)))]
    m = min(im.size)
    c = U(rng, 0.3, 1.0) * m
    cw, ch = c * U(rng, 0.85, 1.15), c * U(rng, 0.85, 1.15)
    cw, ch = min(cw, im.width), min(ch, im.height)
    x0, y0 = U(rng, 0, im.width - cw), U(rng, 0, im.height - ch)
    crop = im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    arr = np.asarray(crop, dtype=np.float32) / 255.0
    if arr.ndim == 2:  # grey texture: colourise between two random colours
        c0 = np.array(_color(rng, v=(0.0, 0.5)), np.float32) / 255
        c1 = np.array(_color(rng, s=(0, 0.6), v=(0.6, 1.0)), np.float32) / 255
        arr = c0 + (c1 - c0) * arr[..., None]
    if rng.random() < 0.5:
        arr = arr[:, ::-1]
    if rng.random() < 0.25:
        arr = arr[..., rng.permutation(3)]
    grey = arr.mean(2, keepdims=True)
    arr = grey + (arr - grey) * U(rng, 0.5, 1.3)                     # saturation
    arr = arr.mean() + (arr - arr.mean()) * U(rng, 0.65, 1.15)      # contrast
    arr = arr * U(rng, 0.75, 1.2) + U(rng, -0.05, 0.05)            # brightness
    return np.clip(arr, 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# Compositing an image.

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


@dataclass
class Sample:
    """One generated image with its label, inclusive ground-truth boxes and the instances' coverage masks."""

    image: np.ndarray                       # (H, W, 3) uint8
    label: int
    boxes: list[list[int]] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)   # (H, W) bool, pixels covered by each instance


def _box_of(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]


def _instances_image(rng, size, cls: ShapeClass, classes: tuple[ShapeClass, ...], two_frac: float,
                     fragments=True, frac_range=(0.07, 0.55), hue: float | None = None) -> tuple[np.ndarray, list, list]:
    """Background, clutter, then one or two instances of ``cls`` (tinted to ``hue`` if given): (image float, boxes,
    masks)."""
    img = _background(rng, size)
    two = rng.random() < two_frac
    n = 2 if two else 1
    patches = []
    for i in range(n):
        sk = Sketch()
        cls.draw(sk, rng)
        A = _pose_matrix(rng, cls.upright)
        lo, hi = (0.06, 0.22) if two else frac_range
        frac = math.exp(U(rng, math.log(lo), math.log(hi)))
        patch = _render_fraction(sk, A, frac, size)
        patches.append(patch if hue is None else _tint(patch, hue, rng))
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
    # clutter: strokes and fragments of other classes, away from the labelled boxes
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
    masks = []
    for p, b in zip(patches, boxes):
        cov = _place(p, img, b[0], b[1])
        masks.append(cov > 0)
    return img, [_box_of(m) for m in masks], masks


def _twig(rng, size) -> Patch:
    sk = Sketch()
    c = _color(rng, s=(0.2, 0.7), v=(0.15, 0.6), h=U(rng, 0.02, 0.12))
    p = np.cumsum(rng.uniform(-0.5, 0.5, (5, 2)) + (0.6, 0), 0)
    sk.line(p, U(rng, 0.05, 0.12), c)
    for _ in range(int(rng.integers(0, 3))):
        q = p[int(rng.integers(1, 4))]
        sk.line([q, q + rng.uniform(-0.7, 0.7, 2)], U(rng, 0.03, 0.06), c)
    if rng.random() < 0.6:
        lc = _color(rng, s=(0.3, 0.8), v=(0.3, 0.8), h=U(rng, 0.15, 0.4))
        for _ in range(int(rng.integers(2, 6))):
            q = p[int(rng.integers(0, 5))] + rng.uniform(-0.3, 0.3, 2)
            sk.ellipse(q[0], q[1], 0.22, 0.08, lc, rot=U(rng, 0, math.pi), n=16)
    return _render(sk, _pose_matrix(rng, False) * size * U(rng, 0.12, 0.3))


def _bird_image(rng, size, sp: Species) -> tuple[np.ndarray, list, list]:
    img = _background(rng, size)
    sk = Sketch()
    _bird(sk, rng, sp)
    ang = U(rng, -0.35, 0.35)
    c, s = math.cos(ang), math.sin(ang)
    fx = -1.0 if rng.random() < 0.5 else 1.0
    A = np.array([[c, -s], [s, c]]) @ np.diag([fx, 1.0]) * U(rng, 0.92, 1.08)
    frac = math.exp(U(rng, math.log(0.09), math.log(0.32)))
    patch = _render_fraction(sk, A, frac, size, lo=0.07, hi=0.36)
    h, w = patch.shape
    x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    box = [x, y, x + w - 1, y + h - 1]
    for _ in range(int(rng.integers(1, 5))):
        _place_clutter(rng, img, size, _twig(rng, size), [box])
    for _ in range(int(rng.integers(0, 4))):
        _place_clutter(rng, img, size, _stroke(rng, size), [box])
    if rng.random() < 0.5:  # a perch under the feet, across the frame (not part of the bird)
        perch = Sketch()
        yb = y + h - 1 - U(rng, 0, 0.06) * h
        x_a, x_b = U(rng, -0.2, 0.3) * size, U(rng, 0.7, 1.2) * size
        tilt = U(rng, -0.08, 0.08) * size
        perch.line([(x_a, yb - tilt), (x_b, yb + tilt)], U(rng, 0.015, 0.035) * size,
                   _color(rng, s=(0.2, 0.7), v=(0.15, 0.55), h=U(rng, 0.02, 0.12)), cap=False)
        pp = _render(perch, np.eye(2))
        _place(pp, img, *pp.origin)
    cov = _place(patch, img, x, y)
    mask = cov > 0
    return img, [_box_of(mask)], [mask]


# ----------------------------------------------------------------------------------------------------------------
# Scenes (transfer): global layouts and textures.

def _grid(size):
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return (xs + 0.5) / size, (ys + 0.5) / size


def _rgb(c):
    return np.array(c, np.float32) / 255


def _draw_scene(size, fn) -> np.ndarray:
    im = Image.new("RGB", (size * 2, size * 2))
    fn(ImageDraw.Draw(im), size * 2)
    return np.asarray(im.reduce(2), dtype=np.float32) / 255


def _scene_striped_room(rng, size):
    bx0, bx1, by0, by1 = U(rng, 0.2, 0.38), U(rng, 0.62, 0.8), U(rng, 0.15, 0.32), U(rng, 0.55, 0.72)
    cw, cf, cc, cs = _color(rng), _color(rng), _color(rng), _color(rng)
    per = int(rng.integers(4, 10))

    def fn(d, S):
        X0, X1, Y0, Y1 = bx0 * S, bx1 * S, by0 * S, by1 * S
        d.rectangle([0, 0, S, S], fill=cw)
        d.polygon([(0, 0), (S, 0), (X1, Y0), (X0, Y0)], fill=cc)
        d.polygon([(0, S), (S, S), (X1, Y1), (X0, Y1)], fill=cf)
        d.rectangle([X0, Y0, X1, Y1], fill=cs)
        for i in range(per):  # vertical stripes on the back wall and converging stripes on the side walls
            t0, t1 = i / per, (i + 0.5) / per
            d.rectangle([X0 + (X1 - X0) * t0, Y0, X0 + (X1 - X0) * t1, Y1], fill=cw)
            for (ex, bx) in ((0, X0), (S, X1)):
                xa, xb = ex + (bx - ex) * t0, ex + (bx - ex) * t1
                ya0, yb0 = Y0 * t0, Y0 * t1
                d.polygon([(xa, ya0), (xb, yb0), (xb, S - (S - Y1) * t1), (xa, S - (S - Y1) * t0)], fill=cs)
    return _draw_scene(size, fn)


def _scene_checker_floor(rng, size):
    x, y = _grid(size)
    hz = U(rng, 0.3, 0.55)
    wall = _rgb(_color(rng))
    c1 = _color(rng)
    c1, c2 = _rgb(c1), _rgb(_contrast(rng, c1))
    depth = 1.0 / np.maximum(y - hz, 1e-3)
    vx = U(rng, 0.3, 0.7)
    k, q = U(rng, 0.08, 0.2), U(rng, 1.5, 4)
    u = (x - vx) * depth / (k * 8)
    par = (np.floor(u) + np.floor(depth / q)) % 2
    floor = np.where(par[..., None] > 0, c1, c2)
    img = np.where((y > hz)[..., None], floor, wall)
    return img.astype(np.float32)


def _scene_horizon(rng, size):
    x, y = _grid(size)
    hz = U(rng, 0.35, 0.7)
    s1, s2 = _rgb(_color(rng, v=(0.5, 1))), _rgb(_color(rng, v=(0.5, 1)))
    g1, g2 = _rgb(_color(rng, v=(0.1, 0.6))), _rgb(_color(rng, v=(0.2, 0.7)))
    line = hz + (U(rng, 0.02, 0.08) * np.sin(2 * math.pi * x * U(rng, 0.5, 2) + U(rng, 0, 6)) if rng.random() < 0.5
                 else 0 * x)
    sky = s1 + (s2 - s1) * (y / hz)[..., None]
    ground = g1 + (g2 - g1) * np.clip((y - hz) / (1 - hz), 0, 1)[..., None]
    img = np.where((y < line)[..., None], sky, ground)
    if rng.random() < 0.5:
        sx, sy, sr = U(rng, 0.1, 0.9), U(rng, 0.05, hz - 0.1), U(rng, 0.04, 0.1)
        img = np.where((((x - sx) ** 2 + (y - sy) ** 2) < sr ** 2)[..., None], _rgb(_color(rng, v=(0.8, 1))), img)
    return img.astype(np.float32)


def _scene_forest(rng, size):
    x, y = _grid(size)
    c0, c1 = _rgb(_color(rng, v=(0.5, 1))), _rgb(_color(rng, v=(0.4, 1)))
    img = c0 + (c1 - c0) * y[..., None]
    for _ in range(int(rng.integers(8, 26))):
        xc, w, tilt = U(rng, 0, 1), U(rng, 0.01, 0.07), U(rng, -0.08, 0.08)
        top = 0.0 if rng.random() < 0.7 else U(rng, 0, 0.5)
        m = (np.abs(x - xc - tilt * (y - 0.5)) < w / 2) & (y > top)
        img = np.where(m[..., None], _rgb(_color(rng, v=(0.05, 0.6))), img)
    return img.astype(np.float32)


def _scene_dots(rng, size):
    img = np.ones((size, size, 3), np.float32) * _rgb(_color(rng))
    x, y = _grid(size)
    for _ in range(int(rng.integers(40, 150))):
        cx, cy, r = U(rng, 0, 1), U(rng, 0, 1), U(rng, 0.008, 0.04)
        img = np.where((((x - cx) ** 2 + (y - cy) ** 2) < r * r)[..., None], _rgb(_color(rng)), img)
    return img


def _scene_waves(rng, size):
    x, y = _grid(size)
    A, lam, ph, per = U(rng, 0.02, 0.08), U(rng, 0.2, 0.6), U(rng, 0, 6.3), U(rng, 0.06, 0.16)
    band = np.floor((y + A * np.sin(2 * math.pi * x / lam + ph)) / per).astype(int)
    cols = np.stack([_rgb(_color(rng)) for _ in range(int(rng.integers(2, 4)))])
    return cols[band % len(cols)].astype(np.float32)


def _scene_skyline(rng, size):
    s1, s2 = _color(rng, v=(0.5, 1)), _color(rng, v=(0.5, 1))
    wc = _color(rng, v=(0.7, 1))

    def fn(d, S):
        for i in range(S):
            t = i / S
            d.line([(0, i), (S, i)], fill=tuple(int(a + (b - a) * t) for a, b in zip(s1, s2)))
        x = -U(rng, 0, 0.1) * S
        while x < S:
            w, h = U(rng, 0.08, 0.22) * S, U(rng, 0.2, 0.75) * S
            c = _color(rng, v=(0.1, 0.5))
            d.rectangle([x, S - h, x + w, S], fill=c)
            ws = max(2, int(S * 0.025))
            for yy in np.arange(S - h + ws, S - ws, ws * 2.5):
                for xx in np.arange(x + ws, x + w - ws, ws * 2.2):
                    if rng.random() < 0.7:
                        d.rectangle([xx, yy, xx + ws, yy + ws], fill=wc)
            x += w + U(rng, 0, 0.03) * S
    return _draw_scene(size, fn)


def _scene_corridor(rng, size):
    vx, vy, fw = U(rng, 0.35, 0.65), U(rng, 0.35, 0.6), U(rng, 0.05, 0.14)
    cols = [_color(rng) for _ in range(4)]
    lc = _color(rng)

    def fn(d, S):
        X, Y, F = vx * S, vy * S, fw * S
        q = [(X - F, Y - F), (X + F, Y - F), (X + F, Y + F), (X - F, Y + F)]
        corners = [(0, 0), (S, 0), (S, S), (0, S)]
        for i in range(4):
            d.polygon([corners[i], corners[(i + 1) % 4], q[(i + 1) % 4], q[i]], fill=cols[i])
        d.rectangle([q[0], q[2]], fill=_color(rng, v=(0, 0.3)))
        for t in np.linspace(0.15, 0.85, int(rng.integers(3, 7))):
            r = [(c[0] + (qq[0] - c[0]) * t, c[1] + (qq[1] - c[1]) * t) for c, qq in zip(corners, q)]
            d.line(r + [r[0]], fill=lc, width=max(1, int(S * 0.012)))
    return _draw_scene(size, fn)


def _scene_rain(rng, size):
    img = _background(rng, size) * U(rng, 0.35, 0.7)
    ang, L = U(rng, 1.2, 1.9), U(rng, 0.04, 0.1)
    c = _color(rng, s=(0, 0.3), v=(0.7, 1))

    def fn(d, S):
        d.rectangle([0, 0, S, S], fill=0)
        for _ in range(int(rng.integers(60, 200))):
            x, y = U(rng, 0, S), U(rng, 0, S)
            d.line([(x, y), (x + math.cos(ang) * L * S, y + math.sin(ang) * L * S)], fill=255, width=2)
    m = Image.new("L", (size * 2, size * 2))
    fn(ImageDraw.Draw(m), size * 2)
    a = np.asarray(m.reduce(2), dtype=np.float32)[..., None] / 255 * U(rng, 0.5, 0.9)
    return img * (1 - a) + _rgb(c) * a


def _scene_mosaic(rng, size):
    x, y = _grid(size)
    n = int(rng.integers(12, 40))
    pts = rng.uniform(0, 1, (n, 2)).astype(np.float32)
    d = (x[..., None] - pts[:, 0]) ** 2 + (y[..., None] - pts[:, 1]) ** 2
    srt = np.sort(d, axis=2)
    idx = np.argmin(d, axis=2)
    cols = np.stack([_rgb(_color(rng)) for _ in range(n)])
    img = cols[idx]
    edge = (np.sqrt(srt[..., 1]) - np.sqrt(srt[..., 0])) < U(rng, 0.008, 0.02)
    return np.where(edge[..., None], _rgb(_color(rng, v=(0, 0.4))), img).astype(np.float32)


SCENE_CLASSES: tuple[tuple[str, Callable], ...] = (
    ("striped_room", _scene_striped_room), ("checker_floor", _scene_checker_floor), ("horizon", _scene_horizon),
    ("forest_of_lines", _scene_forest), ("dots_field", _scene_dots), ("waves", _scene_waves),
    ("skyline", _scene_skyline), ("corridor", _scene_corridor), ("rain", _scene_rain), ("mosaic", _scene_mosaic),
)


def _scene_image(rng, size, k: int) -> np.ndarray:
    img = SCENE_CLASSES[k][1](rng, size)
    beta = U(rng, 0.1, 0.35)
    img = img * (1 - beta) + _background(rng, size) * beta
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return img


# ----------------------------------------------------------------------------------------------------------------
# One sample from its coordinates.

def _rng(seed: int, suite: str, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SUITE_IDS[suite], SPLIT_IDS[split], index])


def render_sample(suite: str, split: str, index: int, label: int, seed: int = 0, size: int = 128,
                  two_instance_fraction: float = 0.2, hue: bool = True) -> Sample:
    """The image ``index`` of ``suite``/``split`` with class ``label``, exactly as :func:`build` writes it (before
    JPEG encoding), with its ground-truth boxes and coverage masks (birds: one, objects: one or two, transfer
    suites: none). ``split`` is ``train``/``val``/``test`` (birds: ``all``, index = image id - 1). ``hue``: objects
    take their class's hue (:func:`class_hue`)."""
    if suite not in SUITE_IDS or split not in SPLIT_IDS:
        raise BadInputError(f"suite must be one of {sorted(SUITE_IDS)} and split one of {sorted(SPLIT_IDS)}, "
                            f"got {suite!r}, {split!r}")
    rng = _rng(seed, suite, split, index)
    if suite == "objects":
        img, boxes, masks = _instances_image(rng, size, OBJECT_CLASSES[label], OBJECT_CLASSES, two_instance_fraction,
                                             hue=class_hue(label) if hue else None)
    elif suite == "birds":
        img, boxes, masks = _bird_image(rng, size, BIRD_SPECIES[label])
    elif suite == "things":
        img, _, _ = _instances_image(rng, size, THING_CLASSES[label], THING_CLASSES, 0.0, fragments=False,
                                     frac_range=(0.1, 0.5))
        boxes, masks = [], []
    else:
        img, boxes, masks = _scene_image(rng, size, label), [], []
    return Sample(_finish(img, rng), label, boxes, masks)


# ----------------------------------------------------------------------------------------------------------------
# Writing the formats.

XML_OBJECT = """
	<object>
		<name>{wnid}</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>{0}</xmin>
			<ymin>{1}</ymin>
			<xmax>{2}</xmax>
			<ymax>{3}</ymax>
		</bndbox>
	</object>"""

XML_TEMPLATE = """<annotation>
	<folder>{folder}</folder>
	<filename>{filename}</filename>
	<source>
		<database>cam_lib_synthetic</database>
	</source>
	<size>
		<width>{w}</width>
		<height>{h}</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>{objects}
</annotation>
"""


def devkit_xml(folder: str, filename: str, width: int, height: int, wnid: str, boxes) -> str:
    """An ILSVRC devkit annotation (inclusive 0-based pixel boxes, all of class ``wnid``)."""
    objects = "".join(XML_OBJECT.format(*b, wnid=wnid) for b in boxes)
    return XML_TEMPLATE.format(folder=folder, filename=filename, w=width, h=height, objects=objects)


def folder_name(profile: str = "default", seed: int = 0) -> str:
    """The cache key and folder name of a build."""
    return f"synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}"


def _check(profile, root, seed, workers) -> tuple[Profile, Path, int]:
    if not isinstance(profile, str) or profile not in PROFILES:
        raise BadInputError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInputError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(root, (str, os.PathLike)) or str(root) == "":
        raise BadInputError(f"root must be a folder path (str or Path), got {root!r}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise BadInputError(f"root {root} exists and is not a folder")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise BadInputError(f"workers must be None or an integer >= 1, got {workers!r}")
    return PROFILES[profile], root, int(seed)


def _is_complete(folder: Path, prof: Profile, seed: int) -> bool:
    try:
        m = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(m, dict) and m.get("complete") is True and m.get("key") == folder_name(prof.name, seed)
            and m.get("generator_version") == GENERATOR_VERSION and m.get("profile") == asdict(prof)
            and m.get("seed") == seed)


def _jobs(prof: Profile, seed: int):
    """Every image as (suite, split, index, label, relative path), and the annotations to write."""
    jobs = []
    wnids = object_wnids(prof.object_classes)
    nc = prof.object_classes
    for c, w in enumerate(wnids):
        for k in range(prof.objects_train):
            jobs.append(("objects", "train", c * prof.objects_train + k, c, f"objects/train/{w}/{w}_{k + 1}.JPEG"))
    orders = {}
    for split, n, root, stem in (("val", prof.objects_val, "objects", "ILSVRC2012_val"),
                                 ("test", prof.objects_test, "objects_test", "ILSVRC2012_test")):
        labels = np.repeat(np.arange(nc), n)
        labels = labels[_rng(seed, "objects", split, ORDER_INDEX).permutation(len(labels))]
        orders[split] = labels
        for i, c in enumerate(labels):
            jobs.append(("objects", split, i, int(c), f"{root}/val/{stem}_{i + 1:08d}.JPEG"))
    for c, sp in enumerate(BIRD_SPECIES):
        for k in range(prof.birds_per_class):
            jobs.append(("birds", "all", c * prof.birds_per_class + k, c,
                         f"birds/CUB_200_2011/images/{c + 1:03d}.{sp.name}/{sp.name}_{k + 1:04d}.jpg"))
    for suite, classes in (("scenes", [n for n, _ in SCENE_CLASSES]), ("things", [c.name for c in THING_CLASSES])):
        for split, n in (("train", prof.transfer_train), ("test", prof.transfer_test)):
            for c, name in enumerate(classes):
                for k in range(n):
                    jobs.append((suite, split, c * n + k, c, f"transfer/{suite}/{split}/{name}/{k + 1:04d}.jpg"))
    return jobs


_CTX: dict = {}


def _init_worker(ctx: dict):
    _CTX.clear()
    _CTX.update(ctx)
    _photos()


def _run_chunk(chunk):
    out = []
    base, size, seed = Path(_CTX["base"]), _CTX["size"], _CTX["seed"]
    for suite, split, index, label, rel in chunk:
        s = render_sample(suite, split, index, label, seed=seed, size=size,
                          two_instance_fraction=_CTX["two_frac"], hue=_CTX["hue"])
        Image.fromarray(s.image, "RGB").save(base / rel, "JPEG", quality=_CTX["quality"])
        out.append((rel, s.boxes))
    return out


def _generate(tmp: Path, prof: Profile, seed: int, workers: int) -> dict:
    jobs = _jobs(prof, seed)
    for d in sorted({str(Path(rel).parent) for *_, rel in jobs}):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    ctx = {"base": str(tmp), "size": prof.image_size, "seed": seed, "quality": prof.jpeg_quality,
           "two_frac": prof.two_instance_fraction, "hue": prof.class_hue}
    chunks = [jobs[i:i + 48] for i in range(0, len(jobs), 48)]
    results = []
    if workers <= 1:
        _init_worker(ctx)
        for ch in chunks:
            results.extend(_run_chunk(ch))
    else:
        methods = multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("fork" if "fork" in methods else None)
        _photos()  # load once before forking
        with mp.Pool(workers, initializer=_init_worker, initargs=(ctx,)) as pool:
            for r in pool.imap(_run_chunk, chunks):
                results.extend(r)
    boxes = {rel: b for rel, b in results}
    S = prof.image_size
    wnids = object_wnids(prof.object_classes)
    counts: dict[str, dict[str, int]] = {}

    # objects / objects_test (ILSVRC devkit)
    mapping = "".join(f"{w} {c.name}\n" for w, c in zip(wnids, OBJECT_CLASSES))
    for root in ("objects", "objects_test"):
        (tmp / root / "LOC_synset_mapping.txt").write_text(mapping)
        (tmp / root / "bbox").mkdir(parents=True, exist_ok=True)
    for suite, split, index, label, rel in jobs:
        if suite != "objects":
            continue
        p = Path(rel)
        if split == "train":
            w = wnids[label]
            xml = tmp / "objects" / "train_bbox" / w / (p.stem + ".xml")
            xml.parent.mkdir(parents=True, exist_ok=True)
            xml.write_text(devkit_xml(w, p.stem, S, S, w, boxes[rel]))
        else:
            xml = tmp / p.parts[0] / "bbox" / (p.stem + ".xml")
            xml.write_text(devkit_xml("val", p.stem, S, S, wnids[label], boxes[rel]))
        key = "objects_test" if split == "test" else "objects"
        counts.setdefault(key, {}).setdefault(split, 0)
        counts[key][split] += 1
    counts["objects"]["train_boxes"] = sum(len(boxes[j[4]]) for j in jobs if j[:2] == ("objects", "train"))

    # birds (CUB_200_2011)
    cub = tmp / "birds" / "CUB_200_2011"
    bird_jobs = [j for j in jobs if j[0] == "birds"]
    n = prof.birds_per_class
    is_train = {}
    for c in range(len(BIRD_SPECIES)):
        perm = _rng(seed, "birds", "train", ORDER_INDEX + c).permutation(n)
        for rank, k in enumerate(perm):
            is_train[c * n + int(k)] = rank < (n + 1) // 2
    images, labels, split_lines, bbs = [], [], [], []
    for _, _, index, label, rel in bird_jobs:
        iid = index + 1
        x0, y0, x1, y1 = boxes[rel][0]
        images.append(f"{iid} {Path(rel).relative_to('birds/CUB_200_2011/images').as_posix()}\n")
        labels.append(f"{iid} {label + 1}\n")
        split_lines.append(f"{iid} {1 if is_train[index] else 0}\n")
        bbs.append(f"{iid} {float(x0):.1f} {float(y0):.1f} {float(x1 - x0 + 1):.1f} {float(y1 - y0 + 1):.1f}\n")
    (cub / "images.txt").write_text("".join(images))
    (cub / "image_class_labels.txt").write_text("".join(labels))
    (cub / "train_test_split.txt").write_text("".join(split_lines))
    (cub / "bounding_boxes.txt").write_text("".join(bbs))
    (cub / "classes.txt").write_text("".join(f"{i + 1} {i + 1:03d}.{sp.name}\n" for i, sp in enumerate(BIRD_SPECIES)))
    ntrain = sum(is_train.values())
    counts["birds"] = {"train": ntrain, "test": len(bird_jobs) - ntrain}
    for suite in ("scenes", "things"):
        counts[f"transfer/{suite}"] = {s: sum(1 for j in jobs if j[:2] == (suite, s)) for s in ("train", "test")}
    counts["objects"]["val_two_instances"] = sum(
        len(boxes[j[4]]) == 2 for j in jobs if j[:2] == ("objects", "val"))

    # sample grids
    (tmp / "samples").mkdir(exist_ok=True)
    for name, sub in (("objects", "objects"), ("objects_test", "objects_test"), ("birds", "birds"),
                      ("scenes", "transfer/scenes"), ("things", "transfer/things")):
        sample_grid(tmp / sub, tmp / "samples" / f"{name}.png", n=16)
    return counts


def _hash_tree(folder: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for p in files:
        h.update(f"{p.relative_to(folder).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    return len(files), h.hexdigest()


def _clean_stale(root: Path, key: str):
    """Remove temporary folders of this key left by builds whose process is gone."""
    for p in root.glob(f".{key}.*-*"):
        try:
            pid = int(p.name[len(key) + 1:].split("-")[1])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)   # signal 0: only asks whether the process exists
            alive = True
        except ProcessLookupError:
            alive = False
        except OSError:
            alive = True
        if not alive:
            shutil.rmtree(p, ignore_errors=True)


def build(profile: str = "default", root: str | Path = "data", seed: int = 0, workers: int | None = None,
          force: bool = False) -> Path:
    """Generate the benchmark under ``root/synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}/`` and return that
    folder; if it already holds a complete build of the same key and profile, return at once (unless ``force``).

    ``workers`` processes draw the images (default 2); the output is the same for any number of workers."""
    prof, root, seed = _check(profile, root, seed, workers)
    workers = 2 if workers is None else workers
    key = folder_name(prof.name, seed)
    final = root / key
    if not force and _is_complete(final, prof, seed):
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"root {root}: cannot create the folder ({e})") from None
    _clean_stale(root, key)
    tmp = root / f".{key}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        counts = _generate(tmp, prof, seed, workers)
        suites = ["objects", "objects_test", "birds", "transfer/scenes", "transfer/things", "samples"]
        files = {}
        for s in suites:
            nfiles, digest = _hash_tree(tmp / s)
            files[s] = {"files": nfiles, "sha256": digest}
        manifest = {
            "key": key, "generator_version": GENERATOR_VERSION, "profile": asdict(prof), "seed": seed,
            "counts": counts, "files": files,
            "classes": {"objects": [f"{w} {c.name}" for w, c in zip(object_wnids(prof.object_classes), OBJECT_CLASSES)],
                        "birds": [f"{i + 1:03d}.{s.name}" for i, s in enumerate(BIRD_SPECIES)],
                        "transfer/scenes": [n for n, _ in SCENE_CLASSES],
                        "transfer/things": [c.name for c in THING_CLASSES]},
            "backgrounds": [p.name for p in background_sources()],
            "complete": True,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if final.exists():
            if not force and _is_complete(final, prof, seed):   # another build finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            old = root / f".{key}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, final)
            except OSError:
                if _is_complete(final, prof, seed):
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ----------------------------------------------------------------------------------------------------------------
# Sample grids.

def _suite_samples(suite_root: Path, n: int) -> list[tuple[Path, str, list]]:
    """[(image, caption, inclusive boxes)] for a grid: ILSVRC devkit roots, CUB roots or ImageFolder roots."""
    import xml.etree.ElementTree as ET

    if (suite_root / "bbox").is_dir() and (suite_root / "val").is_dir():
        names = {}
        mp = suite_root / "LOC_synset_mapping.txt"
        if mp.exists():
            for line in mp.read_text().splitlines():
                w, _, d = line.partition(" ")
                names[w] = d
        out = []
        for x in sorted((suite_root / "bbox").glob("*.xml"))[:n]:
            r = ET.parse(x).getroot()
            objs = [(o.findtext("name"), [int(float(o.find("bndbox").findtext(k)))
                                          for k in ("xmin", "ymin", "xmax", "ymax")]) for o in r.iter("object")]
            img = next((suite_root / "val" / (x.stem + e) for e in (".JPEG", ".jpg", ".png")
                        if (suite_root / "val" / (x.stem + e)).exists()), None)
            if img is not None and objs:
                out.append((img, names.get(objs[0][0], objs[0][0]), [b for _, b in objs]))
        return out
    cub = suite_root / "CUB_200_2011" if (suite_root / "CUB_200_2011").is_dir() else suite_root
    if (cub / "images.txt").exists():
        paths = dict(line.split(" ", 1) for line in (cub / "images.txt").read_text().splitlines() if line)
        bbs = {}
        for line in (cub / "bounding_boxes.txt").read_text().splitlines():
            i, x, y, w, h = line.split()
            x, y, w, h = (int(float(v)) for v in (x, y, w, h))
            bbs[i] = [x, y, x + w - 1, y + h - 1]
        ids = list(paths)
        step = max(1, len(ids) // n)
        return [(cub / "images" / paths[i], paths[i].split("/")[0].split(".", 1)[-1], [bbs[i]])
                for i in ids[::step][:n]]
    base = suite_root / "train" if (suite_root / "train").is_dir() else suite_root
    classes = sorted(d for d in base.iterdir() if d.is_dir())
    files = [sorted(p for p in d.iterdir() if p.is_file()) for d in classes]
    out, k = [], 0
    while len(out) < n and any(k < len(f) for f in files):
        for d, f in zip(classes, files):
            if k < len(f) and len(out) < n:
                out.append((f[k], d.name, []))
        k += 1
    return out


def sample_grid(suite_root: str | Path, out_png: str | Path, n: int = 16) -> Path:
    """A PNG grid of ``n`` images of a suite (ILSVRC devkit root, CUB root or ImageFolder root) with their
    ground-truth boxes drawn and the class name under each tile."""
    suite_root, out_png = Path(suite_root), Path(out_png)
    if not suite_root.is_dir():
        raise BadInputError(f"{suite_root}: suite folder not found")
    items = _suite_samples(suite_root, n)
    if not items:
        raise BadInputError(f"{suite_root}: no images found for a sample grid")
    tile, cap = 128, 14
    cols = math.ceil(math.sqrt(len(items)))
    rows = math.ceil(len(items) / cols)
    grid = Image.new("RGB", (cols * (tile + 4) + 4, rows * (tile + cap + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for i, (path, caption, boxes) in enumerate(items):
        with Image.open(path) as im:
            im = im.convert("RGB")
            sx, sy = tile / im.width, tile / im.height
            im = im.resize((tile, tile), Image.BILINEAR)
        d = ImageDraw.Draw(im)
        for b in boxes:
            d.rectangle([b[0] * sx, b[1] * sy, (b[2] + 1) * sx - 1, (b[3] + 1) * sy - 1], outline=(0, 255, 0), width=2)
        x, y = 4 + (i % cols) * (tile + 4), 4 + (i // cols) * (tile + cap + 4)
        grid.paste(im, (x, y))
        draw.text((x + 1, y + tile), caption[:22], fill=(0, 0, 0), font=font)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_png, "PNG")
    return out_png


def describe(folder: str | Path) -> str:
    """What a build wrote, from its manifest: one line per suite with its counts and how to read it back."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    readers = {"objects": "--data imagenet (val) / split=train", "objects_test": "--data imagenet",
               "birds": "--data cub", "transfer/scenes": "--data folder", "transfer/things": "--data folder"}
    lines = [f"{folder} ({manifest['key']}, {manifest['profile']['image_size']} px)"]
    for suite, counts in manifest["counts"].items():
        files = manifest["files"].get(suite, {}).get("files", 0)
        what = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"  {suite:<16} {what}; {files} files; read with {readers.get(suite, '?')} "
                     f"--root {folder / suite}")
    lines.append(f"  samples/         {', '.join(sorted(p.name for p in (folder / 'samples').glob('*.png')))}")
    return "\n".join(lines)
