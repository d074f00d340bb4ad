"""CAM (Sec. 2 of the paper): the class activation map from ONE forward pass, no backward pass
(:func:`cam_lib.cam.compute_cams`, the extractor every CAM of the project comes from)."""

from __future__ import annotations

from ..cam import FRAMES, MapOutput, compute_cams
from ..errors import BadInputError
from .base import MapMethod

__all__ = ["CAM"]


class CAM(MapMethod):
    """``M_c = sum_k w[c, k] f_k`` of a global-pooling network (GAP or GMP), upsampled and normalised; every frame,
    the official ten crops included (``crop_size``: their size, default 224 of 256, :func:`cam_lib.cam.ten_crop_size`)."""

    name, title, needs_grad, frames, maps_in_range = "cam", "CAM", False, FRAMES, True

    def __init__(self, crop_size: int | None = None) -> None:
        if crop_size is not None and (isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1):
            raise BadInputError(f"parameter crop_size={crop_size!r}: must be an integer >= 1", param="crop_size")
        self.crop_size = crop_size

    def check(self, model, frame: str = "resize") -> None:
        super().check(model, frame)
        if not _has_cam(model):
            raise BadInputError(f"parameter method='cam': {getattr(model, 'name', type(model).__name__)} has fully "
                                "connected layers after its last conv layer, so it has no CAM; use a GAP/GMP network "
                                "or method='backprop' (any network)", param="method")

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        self.check(model, frame)
        return compute_cams(model, images, classes, targets=targets, extra=extra, frame=frame, crop_size=self.crop_size)


def _has_cam(model) -> bool:
    """A network with CAM: a registry model says so (``has_cam``); any other must give its ``cam_weights``."""
    if hasattr(model, "has_cam"):
        return bool(model.has_cam)
    try:
        model.cam_weights
    except (AttributeError, TypeError):
        return False
    return True
