"""Birds (stand-in for CUB-200-2011: Table 4 and the CAM localization figure on CUB): one part-based
body plan whose species differ only in small parts, drawn small on cluttered photo backgrounds."""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from .backgrounds import _background
from .compose import _box_of, _place, _place_clutter, _stroke
from .render import Patch, Sketch, U, _arc, _color, _pose_matrix, _render, _render_fraction, _rot


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
