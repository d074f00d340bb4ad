"""The ``scenes`` transfer suite (Table 5, stand-in for the scene datasets): global layouts and textures,
one drawer per class, blended with a photo background."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from .backgrounds import _background
from .render import U, _color, _contrast


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
