"""CAM's successors (after Sec. 2 of the paper): Grad-CAM (Selvaraju et al., ICCV 2017), Grad-CAM++ (Chattopadhay
et al., WACV 2018), XGrad-CAM (Fu et al., BMVC 2020), LayerCAM (Jiang et al., TIP 2021) and Score-CAM (Wang et al.,
CVPRW 2020), taken from torchcam (``torchcam.methods``: hooks on the feature layer, one backward pass per mapped
class, or forward passes on masked inputs for Score-CAM); this file only adapts them to the map-method protocol
(:class:`~cam_lib.methods.base.MapMethod`), so that they are scored by exactly the code that scores CAM: the same
upsampling and min-max normalisation, boxes and metrics.

The feature layer is the network's ``cam_layer`` (``"features"`` for the registry's networks, the named layer of a
wrapped user network: :func:`cam_lib.models.wrap_classifier`). Batched: one forward pass per batch, then one
backward pass per class rank (all images of the batch at once); in eval mode, handed back in its mode. Costs are
measured side by side in notebook 07 (Score-CAM runs one forward pass per feature channel and image: on a CPU it is
for a few images, not a split).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ..cam import MapOutput, check_images, chosen_classes, eval_mode, model_dtype, normalize_maps, upsample_maps
from ..errors import BadInputError
from .base import MapMethod

__all__ = ["TorchcamMethod", "GradCAM", "GradCAMpp", "XGradCAM", "LayerCAM", "ScoreCAM"]


class TorchcamMethod(MapMethod):
    """A torchcam extractor (``extractor``: the name of its class in ``torchcam.methods``) as a map method: raw maps
    of the network's ``cam_layer`` (torchcam's ReLU kept, its normalisation not: cam_lib's normalisation follows the
    upsampling, as for CAM)."""

    extractor: ClassVar[str] = ""
    needs_grad, maps_in_range = True, True

    def check(self, model, frame: str = "resize") -> None:
        super().check(model, frame)
        layer = getattr(model, "cam_layer", None)
        if layer is None or layer not in dict(model.named_modules()):
            raise BadInputError(f"parameter method={self.name!r}: the network names no feature layer (cam_layer) to "
                                "hook; wrap it with cam_lib.models.wrap_classifier(net, feature_layer=...)",
                                param="method")

    def _extractor(self, model, images):
        import torchcam.methods

        return getattr(torchcam.methods, self.extractor)(model, target_layer=model.cam_layer,
                                                         input_shape=tuple(images.shape[1:]))

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        self.check(model, frame)
        images = check_images(images, dtype=model_dtype(model))
        with eval_mode(model), torch.inference_mode(False), torch.enable_grad():
            x = images.detach().clone()
            with self._extractor(model, x) as extractor:
                logits = model(x)
                chosen = chosen_classes(logits.detach(), classes, targets, extra)
                raw = [extractor(class_idx=chosen[:, r].tolist(), scores=logits, normalized=False,
                                 **self._call_kwargs(r, chosen.shape[1]))[0] for r in range(chosen.shape[1])]
        maps = upsample_maps(torch.stack(raw, 1).detach().float(), tuple(images.shape[-2:]))
        return MapOutput(logits.detach(), chosen, normalize_maps(maps))

    def _call_kwargs(self, rank: int, ranks: int) -> dict:
        """What each class rank's call needs: gradient methods keep the graph for the next rank's backward pass."""
        return {"retain_graph": rank + 1 < ranks}


class GradCAM(TorchcamMethod):
    name, title, extractor = "gradcam", "Grad-CAM", "GradCAM"


class GradCAMpp(TorchcamMethod):
    name, title, extractor = "gradcampp", "Grad-CAM++", "GradCAMpp"


class XGradCAM(TorchcamMethod):
    name, title, extractor = "xgradcam", "XGrad-CAM", "XGradCAM"


class LayerCAM(TorchcamMethod):
    name, title, extractor = "layercam", "LayerCAM", "LayerCAM"


class ScoreCAM(TorchcamMethod):
    """Score-CAM: no gradient; the class score of the input masked by each feature channel (one forward pass per
    channel and image, ``batch_size`` masked inputs at a time)."""

    name, title, extractor, needs_grad = "scorecam", "Score-CAM", "ScoreCAM", False

    def __init__(self, batch_size: int = 32) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInputError(f"parameter batch_size={batch_size!r}: must be an integer >= 1", param="batch_size")
        self.batch_size = batch_size

    def _extractor(self, model, images):
        import torchcam.methods

        return torchcam.methods.ScoreCAM(model, target_layer=model.cam_layer, batch_size=self.batch_size,
                                         input_shape=tuple(images.shape[1:]))

    def _call_kwargs(self, rank: int, ranks: int) -> dict:
        return {}
