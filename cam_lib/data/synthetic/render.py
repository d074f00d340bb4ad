"""Drawing for every suite of the embedded benchmark (Tables 1-5): shapes in a local frame, rendered
with an affine pose at ``SS`` x supersampling into anti-aliased patches (:class:`Patch`), and the colour
and fill distributions that every class draws from."""

from __future__ import annotations

import colorsys
import contextlib
import contextvars
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SS = 3                       # supersampling factor of every drawn layer (anti-aliasing)


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


# Colours and fills, one distribution for every class.

# The colours of the scene being drawn (generator version 5). While a scene's palette is set (scene_palette), a
# colour drawn with the default ranges is the colour of a random background pixel, jittered: with probability
# LOCAL_SHARE a pixel of this scene's own background, else one of the pooled backgrounds of every photograph
# (backgrounds.colour_pool). Objects, their parts, the distractors and the clutter thus share the photographs'
# colour distribution, and an object often shares its scene's colours, as in photographs: it is found by its shape
# and parts, not because its colour stands out. LOCAL_SHARE was set so that a class-agnostic saliency (colour
# distance to the border, cam_lib.methods.BorderContrast) localizes the default val split as well as it localizes
# the real ILSVRC sample with the same code, and no better (tests/test_synthetic.py; see
# cam_lib.data.synthetic's docstring) -- a calibration on baselines that ignore the network, never on CAM.
_SCENE = contextvars.ContextVar("scene_palette", default=None)
LOCAL_SHARE = 0.5        # share of scene colours taken from the scene's own background
PALETTE_JITTER = 0.08    # per-channel uniform jitter of a colour drawn from a background (fraction of the range)


@contextlib.contextmanager
def scene_palette(background: np.ndarray):
    """Inside the block, :func:`_color` with its default ranges draws the colour of a random background pixel
    (of ``background`` ``(H, W, 3)`` float in [0, 1] with probability :data:`LOCAL_SHARE`, else of the pooled
    backgrounds), jittered by :data:`PALETTE_JITTER`."""
    token = _SCENE.set(np.asarray(background, np.float32).reshape(-1, 3))
    try:
        yield
    finally:
        _SCENE.reset(token)


def _color(rng, s=(0.2, 1.0), v=(0.2, 1.0), h=None):
    scene = _SCENE.get()
    if scene is not None and h is None and s == (0.2, 1.0) and v == (0.2, 1.0):
        if rng.random() >= LOCAL_SHARE:
            from .backgrounds import colour_pool

            scene = colour_pool()
        c = np.clip(scene[int(rng.integers(len(scene)))] + rng.uniform(-PALETTE_JITTER, PALETTE_JITTER, 3), 0, 1)
        return tuple(int(x * 255) for x in c)
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
