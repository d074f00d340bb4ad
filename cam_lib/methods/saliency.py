"""A class-agnostic saliency (Table 2's baselines that look at the image without the network): how far each
pixel's colour is from the image's border, the background prior of salient-object detection (e.g. Wei et al.,
ECCV 2012, "geodesic saliency using background priors"; Achanta et al., CVPR 2009, frequency-tuned colour
distance). Where an object stands out from its background by colour alone, this finds it without knowing any
class, so a benchmark on which it localizes as well as CAM does not need recognition.

:class:`BorderContrast`: the CIE Lab distance of each pixel to the mean colour of a band along the image's border
(``band`` times the side), smoothed by a Gaussian (``blur`` times the side) and min-max normalised; the same map for
every class. Its box threshold is chosen on validation, as CAM's. The network only supplies the logits.
"""

from __future__ import annotations

import torch

from ..cam import MapOutput, normalize_maps
from ..errors import BadInputError
from .base import MapMethod
from .colour import _check_fraction, smooth

__all__ = ["BorderContrast", "rgb_to_lab"]

_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)
_WHITE = (0.95047, 1.0, 1.08883)   # D65


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` sRGB in [0, 1] -> CIE Lab (D65), float32, on the images' device."""
    linear = torch.where(images > 0.04045, ((images + 0.055) / 1.055) ** 2.4, images / 12.92)
    xyz = torch.einsum("ij,bjhw->bihw", _XYZ.to(images.device, images.dtype), linear)
    xyz = xyz / torch.tensor(_WHITE, dtype=images.dtype, device=images.device)[None, :, None, None]
    f = torch.where(xyz > (6 / 29) ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1).float()


class BorderContrast(MapMethod):
    """Colour distance to the image border (module docstring), the same map for every class."""

    name, title, needs_grad, maps_in_range = "border_contrast", "Border colour contrast (no network)", False, True
    frames = ("resize", "center_crop", "ten_crop")

    def __init__(self, band: float = 0.06, blur: float = 0.02) -> None:
        self.band, self.blur = _check_fraction("band", band), _check_fraction("blur", blur)
        if self.band <= 0:
            raise BadInputError(f"parameter band={band!r}: must be > 0", param="band")

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        images, logits, chosen = self.logits_and_classes(model, images, classes, targets, extra, frame)
        lab = rgb_to_lab(images)
        height, width = lab.shape[-2:]
        edge = max(1, round(self.band * min(height, width)))
        border = torch.zeros(height, width, dtype=torch.bool, device=lab.device)
        border[:edge], border[-edge:], border[:, :edge], border[:, -edge:] = True, True, True, True
        mean = lab[:, :, border].mean(2)                                            # (B, 3)
        distance = (lab - mean[:, :, None, None]).norm(dim=1, keepdim=True)         # (B, 1, H, W)
        maps = normalize_maps(smooth(distance, self.blur))
        return MapOutput(logits.detach(), chosen, maps.expand(-1, chosen.shape[1], -1, -1).contiguous())
