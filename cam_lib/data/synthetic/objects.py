"""The ``objects`` classes (stand-in for ILSVRC: Tables 1-3, classification and localization), each a
family that draws one instance in the local frame, with their fake wnids; and the ``things`` transfer classes
(Table 5), object shapes that no ``objects`` class uses. A class is a shape made of parts, never a colour or a
texture (see :data:`OBJECT_CLASSES`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .render import U, _arc, _color, _contrast, _fill


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


# The order is the label order; a profile takes the first N. The first ten are the classes whose identity is
# carried by several distinct parts in a class-specific arrangement (a house's body, roof, door, windows and
# chimney; a key's bow, shaft and teeth; an anchor's ring, shank, stock, arms and flukes; ...): the default
# profile's classes, so that a map that covers the whole object (GAP) and one that covers its single most
# discriminative part (GMP) can differ. The rest are single-outline shapes. No class is defined by a colour or a
# texture: every fill is drawn from the distribution the clutter draws from (render._fill, _color).
OBJECT_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass("house", _house, True), ShapeClass("tree", _tree, True), ShapeClass("flower", _flower),
    ShapeClass("key", _key), ShapeClass("umbrella", _umbrella, True), ShapeClass("anchor", _anchor, True),
    ShapeClass("dumbbell", _dumbbell), ShapeClass("arrow", _arrow), ShapeClass("crown", _crown, True),
    ShapeClass("hourglass", _hourglass),
    ShapeClass("ladder", _ladder), ShapeClass("pinwheel", _pinwheel), ShapeClass("star", _star),
    ShapeClass("ring", _ring), ShapeClass("cross", _cross), ShapeClass("crescent", _crescent),
    ShapeClass("heart", _heart, True), ShapeClass("bar stack", _bar_stack), ShapeClass("spiral", _spiral),
    ShapeClass("L-shape", _ell), ShapeClass("zigzag", _zigzag), ShapeClass("target", _target),
    ShapeClass("lightning bolt", _lightning), ShapeClass("frame", _frame),
)


def object_wnids(n: int | None = None) -> list[str]:
    """The fake wnids of the first ``n`` (default: all) ``objects`` classes, in class order (they sort in that order)."""
    return [f"n{90000000 + i:08d}" for i in range(len(OBJECT_CLASSES) if n is None else n)]


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
