"""A class-specific colour model (Table 2's baselines that look at the image without the network): a localizer a
reviewer asks for before believing that CAM localizes by recognition. If a colour model learned from the training
boxes finds the objects as well as CAM, the benchmark measures colour, not CAM.

:class:`ColourHistogram` is histogram back-projection (Swain & Ballard, IJCV 1991): for each class ``c``, the
hue-saturation histogram of the pixels inside its training boxes, over the histogram of all training pixels,
gives how likely a pixel of each colour lies on an object of ``c``; the map of class ``c`` on an image is that
posterior at each pixel, smoothed (a Gaussian of ``blur`` times the frame's side) and min-max normalised like
every map. Its box threshold is chosen on validation like CAM's. The network only supplies the logits that the
top-k metrics need; the map uses no network at all. Fitting is :meth:`ColourHistogram.fit` (one pass over a
labelled dataset with boxes, vectorised per batch); the fitted tables are plain numbers (:meth:`to_json`) so a
series can cache them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from ..boxes import box_masks
from ..cam import MapOutput, check_images, normalize_maps
from ..errors import BadInputError
from .base import MapMethod

__all__ = ["ColourHistogram", "rgb_to_hsv", "hue_saturation_bins", "smooth", "PRIOR_PIXELS"]

PRIOR_PIXELS = 10.0   # pseudo-pixels of the prior in each colour bin (see ColourHistogram.fit)


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of the circle), on the images' device."""
    r, g, b = images.unbind(1)
    high, low = images.amax(1), images.amin(1)
    span = high - low
    safe = span.clamp_min(1e-12)
    hue = torch.where(high == r, ((g - b) / safe) % 6, torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(span > 0, hue / 6, torch.zeros_like(hue))
    sat = torch.where(high > 0, span / high.clamp_min(1e-12), torch.zeros_like(high))
    return torch.stack([hue, sat, high], 1)


def hue_saturation_bins(images: torch.Tensor, bins: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W)`` int64: the hue-saturation histogram bin of every pixel (``bins = (hue bins, saturation
    bins)``; bin ``h * sat_bins + s``)."""
    hsv = rgb_to_hsv(images)
    h = (hsv[:, 0] * bins[0]).long().clamp_(0, bins[0] - 1)
    s = (hsv[:, 1] * bins[1]).long().clamp_(0, bins[1] - 1)
    return h * bins[1] + s


def smooth(maps: torch.Tensor, blur: float) -> torch.Tensor:
    """``(B, K, H, W)`` maps blurred by a Gaussian of ``blur`` times the frame's shorter side (0: unchanged)."""
    if blur <= 0:
        return maps
    sigma = blur * min(maps.shape[-2:])
    kernel = 2 * math.ceil(3 * sigma) + 1
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    return TF.gaussian_blur(flat, [kernel, kernel], [sigma, sigma]).reshape(maps.shape)


def _check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 0.5:
        raise BadInputError(f"parameter {name}={value!r}: must be a number in [0, 0.5)", param=name)
    return float(value)


class ColourHistogram(MapMethod):
    """Class-specific colour back-projection (module docstring). ``ratios (C, bins)``: for each class and colour
    bin, the posterior that a training pixel of that colour lies in a box of the class; build it with :meth:`fit`."""

    name, title, needs_grad, maps_in_range = "colour_histogram", "Class colour histogram (no network)", False, True
    frames = ("resize", "center_crop", "ten_crop")

    def __init__(self, ratios, bins: tuple[int, int] = (16, 8), blur: float = 0.02) -> None:
        ratios = torch.as_tensor(np.asarray(ratios, np.float32))
        if not (isinstance(bins, (tuple, list)) and len(bins) == 2 and all(isinstance(b, int) and b >= 1 for b in bins)):
            raise BadInputError(f"parameter bins={bins!r}: must be two integers >= 1 (hue, saturation)", param="bins")
        if ratios.dim() != 2 or ratios.shape[1] != bins[0] * bins[1] or not bool(torch.isfinite(ratios).all()) \
                or bool((ratios < 0).any()):
            raise BadInputError(f"parameter ratios: must be (classes, {bins[0] * bins[1]}) finite non-negative "
                                f"numbers, got shape {tuple(ratios.shape)}", param="ratios")
        self.ratios, self.bins, self.blur = ratios, tuple(bins), _check_fraction("blur", blur)

    @classmethod
    def fit(cls, loader, num_classes: int, bins: tuple[int, int] = (16, 8), blur: float = 0.02) -> "ColourHistogram":
        """Learn the tables from a loader of labelled batches with boxes (:func:`cam_lib.data.make_loader` over a
        TRAINING split): per class, the pixels inside its ground-truth boxes; overall, every pixel. The table is
        the posterior that a pixel of a colour lies in a box of the class, ``(inside_c + a p_c) / (all + a)``, with
        ``p_c`` the class's share of all pixels and ``a = PRIOR_PIXELS``: a colour seen rarely or never gets the
        prior, not an extreme ratio (Swain & Ballard's ratio ``H_c / H_all`` up to that smoothing)."""
        n = bins[0] * bins[1]
        inside, everywhere = torch.zeros(num_classes, n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        for batch in loader:
            if len(batch.indices) == 0:
                continue
            if bool((batch.labels < 0).any()) or int(batch.labels.max()) >= num_classes:
                raise BadInputError(f"parameter loader: labels must be in [0, {num_classes}) to fit a colour model",
                                    param="loader")
            images = check_images(batch.images)
            idx = hue_saturation_bins(images, bins)                               # (B, H, W)
            mask = box_masks(batch.gt_boxes, batch.gt_valid, *idx.shape[-2:])     # (B, H, W)
            keys = batch.labels[:, None, None] * n + idx
            inside += torch.bincount(keys[mask], minlength=num_classes * n).view(num_classes, n).double()
            everywhere += torch.bincount(idx.flatten(), minlength=n).double()
        if everywhere.sum() == 0:
            raise BadInputError("parameter loader: it gave no images to fit the colour model on", param="loader")
        prior = inside.sum(1, keepdim=True) / everywhere.sum()
        ratios = (inside + PRIOR_PIXELS * prior) / (everywhere + PRIOR_PIXELS)
        return cls(ratios.float(), bins, blur)

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        images, logits, chosen = self.logits_and_classes(model, images, classes, targets, extra, frame)
        if int(chosen.max()) >= len(self.ratios):
            raise BadInputError(f"parameter model: it has more classes than the colour model ({len(self.ratios)})",
                                param="model")
        idx = hue_saturation_bins(images, self.bins).flatten(1)                    # (B, HW)
        table = self.ratios.to(images.device)[chosen]                              # (B, K, bins)
        maps = table.gather(2, idx[:, None].expand(-1, chosen.shape[1], -1))
        maps = smooth(maps.view(*chosen.shape, *images.shape[-2:]), self.blur)
        return MapOutput(logits.detach(), chosen, normalize_maps(maps))

    def to_json(self) -> dict:
        return {"ratios": self.ratios.tolist(), "bins": list(self.bins), "blur": self.blur}

    @classmethod
    def from_json(cls, data: dict) -> "ColourHistogram":
        return cls(data["ratios"], tuple(data["bins"]), data["blur"])

