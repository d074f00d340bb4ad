"""The Backprop baseline of Table 2 (Simonyan et al., ICLR 2014 workshop, "Deep inside convolutional networks").

The paper compares CAM with "Backprop": the saliency map of class ``c`` is ``max over colour channels of
|d S_c / d I|``, the absolute gradient of the class score (the logit) with respect to the input image. The
maps are min-max normalised like CAMs and turned into boxes by the same code (:mod:`cam_lib.boxes`), so both rows
of Table 2 come from one pipeline. The gradient is taken with respect to the network's normalised input, as in
the original (mean-subtracted) formulation; our models normalise internally, so the gradient with respect to the
[0, 1] image is multiplied by the per-channel std.

Cost: one forward pass and one backward pass per requested class rank (for top-5 boxes, five backward passes
sharing one forward pass), which is what CAM avoids.
"""

from __future__ import annotations

import torch

from ..cam import MapOutput, check_images, chosen_classes, model_dtype, normalize_maps
from ..errors import BadInputError
from .base import MapMethod

__all__ = ["Backprop", "backprop_saliency"]


class Backprop(MapMethod):
    """Table 2's Backprop baseline on any network (GAP or FC): :func:`backprop_saliency`, raw gradients, no
    smoothing (the paper's reference, Simonyan et al., takes the map as it is)."""

    name, title, needs_grad, maps_in_range = "backprop", "Backprop", True, True

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        self.check(model, frame)
        return backprop_saliency(model, images, classes, targets=targets, extra=extra)


def backprop_saliency(model: torch.nn.Module, images: torch.Tensor, classes: str | int | torch.Tensor = "top1",
                      targets: torch.Tensor | None = None, normalize: bool = True,
                      extra: torch.Tensor | None = None) -> MapOutput:
    """Logits and Backprop saliency maps ``(B, n, H, W)`` for the chosen classes (see
    :func:`cam_lib.cam.select_classes`), plus one map for each column of ``extra`` (``(B,)`` or ``(B, m)`` class
    indices, e.g. the ground truth) from the same forward pass. Works on any network, GAP or FC. The model must be
    in eval mode (batch statistics would couple the images of a batch)."""
    images = check_images(images, dtype=model_dtype(model))
    if model.training:
        raise BadInputError("parameter model: backprop_saliency needs model.eval(): in training mode the images of "
                            "a batch are coupled through batch normalisation and dropout", param="model")
    with torch.enable_grad(), torch.inference_mode(False):
        x = images.detach().clone().requires_grad_(True)
        logits = model(x)
        chosen = chosen_classes(logits.detach(), classes, targets, extra)
        grads = []
        for rank in range(chosen.shape[1]):
            score = logits.gather(1, chosen[:, rank:rank + 1]).sum()  # images are independent in eval mode
            (grad,) = torch.autograd.grad(score, x, retain_graph=rank + 1 < chosen.shape[1])
            grads.append(grad)
    std = getattr(model, "std", None)
    grad = torch.stack(grads, dim=1)  # (B, n, 3, H, W)
    if std is not None:
        grad = grad * std.reshape(1, 1, -1, 1, 1).to(grad)
    maps = grad.abs().amax(dim=2)
    return MapOutput(logits=logits.detach(), classes=chosen, maps=normalize_maps(maps) if normalize else maps)
