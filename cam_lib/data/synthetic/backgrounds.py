"""Backgrounds of every suite of the embedded benchmark: random crops, flips and colour jitter of the
photographs and textures shipped in the scikit-image and scikit-learn wheels (loaded once per
process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import BadInputError
from .render import U, _color


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
                                f"scikit-learn wheels (need 3 or more of {[r for _, r in BACKGROUND_FILES]})",
                                param=None)   # the installed packages are at fault, no parameter
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


_POOL: np.ndarray | None = None
POOL_SCENES, POOL_SIZE = 200, 32   # the pooled background colours: 200 backgrounds of 32 x 32 pixels
POOL_SEED = 20261206


def colour_pool() -> np.ndarray:
    """``(N, 3)`` float32: the pixels of :data:`POOL_SCENES` backgrounds drawn as :func:`_background` draws them
    (a generator of its own, fixed seed: the same pool in every process), the colour distribution of the
    photographs that :func:`~cam_lib.data.synthetic.render.scene_palette` draws from. Computed once per process."""
    global _POOL
    if _POOL is None:
        rng = np.random.default_rng(POOL_SEED)
        _POOL = np.concatenate([_background(rng, POOL_SIZE).reshape(-1, 3) for _ in range(POOL_SCENES)])
    return _POOL

