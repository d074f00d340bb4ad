"""Birds (stand-in for CUB-200-2011: Table 4 and the CAM localization figure on CUB): 14 species of one perching-bird
body plan, modelled on CUB species, that differ by the pattern of large parts (crown, head, back, wings, breast,
belly, tail, a wing mark: which share a colour, which stand out) and by size and shape (body depth, tail length,
bill, crest) -- drawn at CUB's framing on photo backgrounds.

CUB-200-2011 statistics used (computed from the dataset's own ``bounding_boxes.txt`` and image sizes, as
redistributed in the WSOL evaluation metadata of Choe et al., CVPR 2020, github.com/clovaai/wsolevaluation,
``metadata/CUB/{train,test}/{localization,image_sizes}.txt``; the 5,994 train images, the test split agrees to
within 0.01):

- bird box area as a fraction of the image: median 0.32 (mean 0.35), 5-95% 0.11-0.70, about log-normal (sd of
  the log 0.55); per-species medians from 0.23 to 0.41 (10-90% of the 200 species): species size shows in the
  framing. Here: log-normal around ``AREA_MEDIAN`` shifted by the species' size class (``SIZE_SHIFT``, a spread
  of per-species medians like CUB's), within-species sd ``AREA_LOG_SD`` (CUB's 0.55 less the between-species
  part), kept in ``AREA_RANGE``;
- box aspect in the square frame the network sees, ``(w / W) / (h / H)``: median 0.93, 5-95% 0.47-1.61: from the
  bird's posture (upright perched birds are tall, horizontal ones wide; ``POSTURE``);
- box centre: photographers centre birds; offset from the image centre sd 0.093 of the width (x) and 0.068 of
  the height (y), mean 0.018 of the height below centre (``CENTRE_SD``, ``CENTRE_MEAN_Y``); 7% of the boxes
  touch the image border (here the bird stays ``BORDER_MARGIN`` pixels inside when it fits).

Not measured on CUB (best-known properties of bird photographs, stated as such): birds are photographed with long
lenses at wide apertures, so the bird and its perch are sharp and the scene behind is out of focus, from slightly
to strongly (``DEFOCUS``: a Gaussian blur of the background and its twigs, sigma uniform in 0-3% of the image
size, chosen a priori); many species are sexually dimorphic and their photographs mix the plumages
(``FEMALE_FRACTION``, a guess). The defocus was kept after a validation check on generator version 4 (birds of other seeds and half of
the train birds, never the test split): with the tf_efficientnet_lite0 ImageNet GAP features it raised the SVM-weight
CAM localization from 15% to 33% (half of the seed-0 train birds) and from 26% to 38% (seed 1), and the
full-image SVM from 50% to 58% and 57% to 69%.

Species differ by the pattern of their plumage and by their shape, never by a colour (generator version 5): each
species has a plumage pattern, i.e. which large parts share a colour and which stand out (a cap, a face mask, a
wing mark of one of three kinds, a breast or a belly of its own; a male pattern and, for the sexually dimorphic
ones, a female/immature one drawn on ``FEMALE_FRACTION`` of its images, as CUB's species photos mix both), a size
class, body depth, tail length, bill shape and crest. The colours themselves are drawn for each image from the
distribution every object and the clutter draw from (:func:`_colors`), so a colour histogram of the bird's pixels
does not tell the species (tests/test_synthetic.py): real CUB species do differ by colour, but a benchmark whose
classes a colour histogram separates measures colour segmentation, not what CAM finds. Some species pairs share
most of their pattern, as in CUB (crow / red-winged blackbird, indigo / lazuli bunting, catbird / nuthatch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from .backgrounds import _background
from .compose import _box_of, _place, _place_clutter, _stroke
from .render import Patch, Sketch, U, _arc, _color, _pose_matrix, _render, _render_fraction, _rot, scene_palette

# Framing (CUB-200-2011 statistics, module docstring).
AREA_MEDIAN = 0.32                 # median box area / image area
AREA_LOG_SD = 0.50                 # within-species sd of log(area) (CUB all species: 0.55)
AREA_RANGE = (0.07, 0.80)
SIZE_SHIFT = {"small": -0.25, "medium": 0.0, "large": 0.25}   # log-area shift: medians 0.25 / 0.32 / 0.41
CENTRE_SD = (0.093, 0.068)         # sd of the box centre's offset from the image centre (fractions of W, H)
CENTRE_MEAN_Y = 0.018              # birds sit a little below the centre
BORDER_MARGIN = 2                  # pixels kept free around the bird when it fits (CUB: 7% of boxes touch the border)
POSTURE = (0.2, 1.3)               # body axis angle above horizontal (radians), uniform
DEFOCUS = (0.0, 0.03)              # Gaussian blur of the background (sigma, fraction of the image size), uniform
FEMALE_FRACTION = 0.3              # images of a dimorphic species showing the female / immature plumage

@dataclass(frozen=True)
class Plumage:
    """The colour group of each large part (parts with the same name share one colour, drawn per image; the names
    say how the CUB species looks); ``mark``: a wing mark of ``mark_kind`` (two wing
    bars, a patch on the rear of the wing, or a shoulder patch); ``mask``: a face mask."""

    crown: str
    head: str
    back: str
    wing: str
    breast: str
    belly: str
    tail: str
    mark: str | None = None
    mark_kind: str = "bars"        # bars | patch | shoulder
    mask: str | None = None


def _plumage(colour: str, **parts) -> Plumage:
    """Every large part ``colour`` except the ``parts`` given."""
    base = {k: colour for k in ("crown", "head", "back", "wing", "breast", "belly", "tail")}
    return Plumage(**{**base, **parts})


@dataclass(frozen=True)
class Species:
    """A species: its plumages, size class (framing) and shape."""

    name: str
    male: Plumage
    female: Plumage | None     # second plumage of dimorphic species (None: monomorphic)
    size: str                  # small | medium | large (SIZE_SHIFT)
    depth: float               # body half-height / half-length
    tail: float                # tail length, in body half-lengths
    bill: str                  # conical | thin | dagger | chisel
    bill_color: str
    crest: bool = False


_P = _plumage
BIRD_SPECIES: tuple[Species, ...] = (
    Species("Northern_Cardinal", _P("red", wing="dull_red", tail="dull_red", mask="black"),
            _P("buff", crown="dull_red", wing="dull_red", tail="dull_red", mask="dark_grey"),
            "medium", 0.6, 1.0, "conical", "orange", crest=True),
    Species("Scarlet_Tanager", _P("red", wing="black", tail="black"),
            _P("olive", breast="yellow", belly="yellow", wing="dark_grey", tail="dark_grey"),
            "medium", 0.58, 0.8, "conical", "pale"),
    Species("American_Goldfinch", _P("yellow", crown="black", wing="black", tail="black", belly="white",
                                     mark="white"),
            _P("olive", breast="yellow", wing="black", tail="black", mark="buff"),
            "small", 0.62, 0.7, "conical", "orange"),
    Species("Yellow_Warbler", _P("yellow", back="olive", wing="olive", tail="olive"), None,
            "small", 0.58, 0.75, "thin", "dark_grey"),
    Species("Blue_Jay", _P("blue", breast="white", belly="white", mark="white", mask="black"), None,
            "large", 0.55, 1.2, "dagger", "black", crest=True),
    Species("Indigo_Bunting", _P("indigo"), _P("brown", breast="buff", belly="buff"),
            "small", 0.6, 0.8, "conical", "slate"),
    Species("Lazuli_Bunting", _P("blue", breast="orange", belly="white", mark="white"),
            _P("brown", breast="buff", belly="pale", mark="buff"),
            "small", 0.6, 0.8, "conical", "slate"),
    Species("Baltimore_Oriole", _P("black", breast="orange", belly="orange", tail="orange", mark="white"),
            _P("olive", breast="yellow", belly="yellow", wing="dark_grey", mark="white"),
            "medium", 0.55, 0.9, "dagger", "slate"),
    Species("Red_Winged_Blackbird", _P("black", mark="red", mark_kind="shoulder"),
            _P("brown", breast="buff", belly="buff", crown="dark_grey"),
            "medium", 0.56, 1.0, "dagger", "black"),
    Species("Yellow_Headed_Blackbird", _P("black", crown="yellow", head="yellow", breast="yellow", mark="white",
                                          mark_kind="patch"),
            _P("brown", head="buff", breast="buff"),
            "medium", 0.56, 1.0, "dagger", "black"),
    Species("Red_Headed_Woodpecker", _P("black", crown="red", head="red", breast="white", belly="white",
                                        mark="white", mark_kind="patch"), None,
            "medium", 0.55, 0.8, "chisel", "dark_grey"),
    Species("White_Breasted_Nuthatch", _P("slate", crown="black", head="white", breast="white", belly="white"),
            _P("slate", crown="dark_grey", head="white", breast="white", belly="white"),
            "small", 0.6, 0.5, "thin", "dark_grey"),
    Species("Gray_Catbird", _P("grey", crown="black", tail="dark_grey"), None,
            "medium", 0.52, 1.2, "thin", "black"),
    Species("American_Crow", _P("black"), None, "large", 0.55, 1.0, "dagger", "black"),
)

BILLS = {   # in head radii, from the bill's base (x forward, y down)
    "conical": [(0, -0.42), (0.8, 0.05), (0, 0.42)],
    "thin": [(0, -0.18), (1.05, 0.05), (0, 0.2)],
    "dagger": [(0, -0.28), (1.4, 0.05), (0, 0.3)],
    "chisel": [(0, -0.22), (1.5, 0.0), (0, 0.22)],
}


def _colors(rng, plumage: Plumage, bill: str) -> dict:
    """One colour per palette name of this bird's plumage (parts of one name share it), drawn for this image from
    the distribution every object and the clutter draw from (``render._color``), each name's colour contrasting
    with the ones drawn before it: the species is the PATTERN (which parts share a colour, which stand out), never
    a colour a histogram could read. The palette's names say how CUB's species look, not what is drawn."""
    out: dict = {}
    names = [plumage.crown, plumage.head, plumage.back, plumage.wing, plumage.breast, plumage.belly, plumage.tail,
             plumage.mark, plumage.mask, bill]
    for name in names:
        if name is None or name in out:
            continue
        colour = _color(rng)
        for _ in range(8):   # distinct names are distinct colours: the pattern stays visible
            if all(sum(abs(a - b) for a, b in zip(colour, other)) >= 120 for other in out.values()):
                break
            colour = _color(rng)
        out[name] = colour
    return out


def _bird(sk: Sketch, rng, sp: Species):
    """A bird facing +x, body axis raised by its posture angle; body half-length 1 (local units, y down)."""
    plumage = sp.female if sp.female is not None and rng.random() < FEMALE_FRACTION else sp.male
    col = _colors(rng, plumage, sp.bill_color)
    ry = sp.depth * U(rng, 0.92, 1.08)
    theta = U(rng, *POSTURE)

    def world(pts):  # body frame -> image frame (head up by theta)
        return _rot(np.asarray(pts, np.float64).reshape(-1, 2), -theta)

    # legs, straight down from the lowest part of the body, behind it
    rim = world(_arc(0, 0, 1.0, ry, n=48))
    low = rim[np.argmax(rim[:, 1])]
    leg = _color(rng, s=(0.05, 0.4), v=(0.15, 0.45))
    ll = U(rng, 0.3, 0.5)
    for dx in (-0.14, 0.1):
        x, y = low[0] + dx, low[1] - 0.15
        sk.line([(x, y), (x - 0.03, y + 0.15 + ll)], 0.05, leg, cap=False)
        sk.line([(x - 0.12, y + 0.15 + ll), (x + 0.14, y + 0.15 + ll)], 0.04, leg, cap=False)
    # tail, behind the body: a fan from the rump, drooping below the body axis
    L, droop = sp.tail * U(rng, 0.88, 1.12), U(rng, 0.05, 0.4)
    base = np.array([-0.82, 0.05])
    d, n = np.array([-math.cos(droop), math.sin(droop)]), np.array([math.sin(droop), math.cos(droop)])
    spread = 0.2 + 0.12 * L
    tail = [base - 0.15 * n, base + L * d - spread * n, base + (L - 0.12) * d, base + L * d + spread * n,
            base + 0.15 * n]
    sk.poly(world(tail), col[plumage.tail])
    # body (back colour), underparts, wing with its mark
    sk.poly(world(_arc(0, 0, 1.0, ry, n=48)), col[plumage.back])
    sk.poly(world(_arc(-0.3, ry * 0.42, 0.62, ry * 0.52, n=32)), col[plumage.belly])
    sk.poly(world(_arc(0.28, ry * 0.3, 0.66, ry * 0.62, n=32)), col[plumage.breast])
    wa, wc = U(rng, 0.05, 0.2), (-0.2, -0.1 * ry)
    sk.poly(world(_arc(wc[0], wc[1], 0.8, ry * 0.52, rot=wa, n=32)), col[plumage.wing])
    if plumage.mark is not None:
        if plumage.mark_kind == "bars":
            for dx in (0.12, -0.2):
                seg = _rot([(wc[0] + dx + 0.08, wc[1] - ry * 0.4), (wc[0] + dx - 0.08, wc[1] + ry * 0.4)], wa, wc)
                sk.line(world(seg), 0.1, col[plumage.mark], cap=False)
        elif plumage.mark_kind == "patch":
            sk.poly(world(_rot(_arc(wc[0] - 0.3, wc[1] + 0.04, 0.36, ry * 0.34, n=24), wa, wc)), col[plumage.mark])
        else:  # shoulder
            sk.poly(world(_rot(_arc(wc[0] + 0.42, wc[1] - 0.02, 0.3, ry * 0.3, n=24), wa, wc)), col[plumage.mark])
    # head (held level whatever the posture): crest, head, crown cap, face mask, eye, bill
    hr = U(rng, 0.36, 0.44) * (1.1 if sp.size == "large" else 1.0)
    hx, hy = world([(0.8, -0.55 * ry)])[0]
    hy -= 0.1
    if sp.crest:
        sk.poly([(hx - 0.7 * hr, hy - 0.3 * hr), (hx - U(rng, 0.9, 1.2) * hr, hy - U(rng, 1.6, 1.9) * hr),
                 (hx + 0.2 * hr, hy - 0.85 * hr)], col[plumage.crown])
    sk.circle(hx, hy, hr, col[plumage.head])
    if plumage.crown != plumage.head:
        sk.poly(_arc(hx, hy, hr, hr, a0=math.radians(-175), a1=math.radians(-20), n=16), col[plumage.crown])
    if plumage.mask is not None:
        sk.poly(_arc(hx + 0.55 * hr, hy + 0.12 * hr, 0.5 * hr, 0.42 * hr, n=20), col[plumage.mask])
    pitch = U(rng, -0.15, 0.25)
    bill = _rot(np.asarray(BILLS[sp.bill]) * hr * U(rng, 0.9, 1.1), -pitch) + (hx + 0.9 * hr, hy + 0.12 * hr)
    sk.poly(bill, col[sp.bill_color])
    sk.circle(hx + 0.4 * hr, hy - 0.12 * hr, 0.16 * hr, _color(rng, s=(0, 0.3), v=(0.0, 0.1)), n=16)


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
    with scene_palette(img):   # the bird's and the clutter's colours are the scene's (render.scene_palette)
        return _draw_bird(img, rng, size, sp)


def _draw_bird(img, rng, size, sp: Species) -> tuple[np.ndarray, list, list]:
    """The body of :func:`_bird_image` on its background, inside the scene's palette."""
    sk = Sketch()
    _bird(sk, rng, sp)
    ang = U(rng, -0.15, 0.15)
    c, s = math.cos(ang), math.sin(ang)
    fx = -1.0 if rng.random() < 0.5 else 1.0
    A = np.array([[c, -s], [s, c]]) @ np.diag([fx, 1.0])
    log_area = math.log(AREA_MEDIAN) + SIZE_SHIFT[sp.size] + rng.normal(0.0, AREA_LOG_SD)
    frac = float(np.clip(math.exp(log_area), *AREA_RANGE))
    patch = _render_fraction(sk, A, frac, size, lo=AREA_RANGE[0] * 0.85, hi=AREA_RANGE[1] * 1.05)
    h, w = patch.shape
    cx = (0.5 + rng.normal(0.0, CENTRE_SD[0])) * size
    cy = (0.5 + CENTRE_MEAN_Y + rng.normal(0.0, CENTRE_SD[1])) * size
    mx, my = min(BORDER_MARGIN, (size - w) // 2), min(BORDER_MARGIN, (size - h) // 2)
    x = int(np.clip(round(cx - w / 2), mx, size - w - mx))   # framed: the bird stays off the border when it fits
    y = int(np.clip(round(cy - h / 2), my, size - h - my))
    box = [x, y, x + w - 1, y + h - 1]
    for _ in range(int(rng.integers(1, 5))):
        _place_clutter(rng, img, size, _twig(rng, size), [box])
    for _ in range(int(rng.integers(0, 4))):
        _place_clutter(rng, img, size, _stroke(rng, size), [box])
    sigma = U(rng, *DEFOCUS) * size   # depth of field: the scene behind the bird is out of focus, the perch is not
    img = gaussian_filter(img, (sigma, sigma, 0), mode="reflect")
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
