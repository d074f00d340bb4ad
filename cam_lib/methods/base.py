"""The map-method protocol (Sec. 2 and Table 2 of the paper): what turns a batch of images into class maps.

A :class:`MapMethod` is given a network, a batch of RGB images in [0, 1] and the classes to map; it returns a
:class:`~cam_lib.cam.MapOutput`: the logits ``(B, C)``, the mapped classes ``(B, K)`` and their maps ``(B, K, H,
W)`` upsampled to the images' frame and min-max normalised to [0, 1], all on the model's device. Everything after
the maps (boxes, every metric, figures) is the same code for every method, so two methods differ only by their
maps. A method says whether it needs gradients (:attr:`MapMethod.needs_grad`: a backward pass per map costs what
CAM avoids) and which evaluation frames it takes (:attr:`MapMethod.frames`), and refuses a network it cannot map
(:meth:`MapMethod.check`), naming what does apply.

Classes to map, as :func:`cam_lib.cam.select_classes` reads them: ``"top1"``, ``"top5"``, an int ``k`` (top-k
predictions in rank order), ``"gt"`` (``targets``) or a tensor ``(B,)`` / ``(B, n)``; ``extra`` appends more
classes (e.g. the ground truth) mapped from the same forward pass.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ..cam import MapOutput
from ..errors import BadInputError

__all__ = ["MapMethod"]


class MapMethod:
    """Base of every map method: subclasses set :attr:`name` (the registry name), :attr:`title` (how tables and
    figures write it), :attr:`needs_grad`, :attr:`frames`, :attr:`maps_in_range`, and implement :meth:`maps`; :meth:`check` refuses what
    they cannot map. Methods hold no state between calls and hand the model back as they found it (mode, device,
    gradients)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    needs_grad: ClassVar[bool] = False
    frames: ClassVar[tuple[str, ...]] = ("resize", "center_crop")
    # True when the maps are min-max normalised by construction (``normalize_maps``); otherwise the evaluation
    # checks each batch's maps lie in [0, 1] (and are not NaN) before boxing them
    maps_in_range: ClassVar[bool] = False

    def check(self, model: torch.nn.Module, frame: str = "resize") -> None:
        """Raise :class:`BadInputError` (``param="method"`` or ``"frame"``) when this method cannot map ``model``
        in ``frame``."""
        if frame not in self.frames:
            raise BadInputError(f"parameter frame={frame!r}: method {self.name!r} takes the frames "
                                f"{', '.join(self.frames)}", param="frame")

    def maps(self, model: torch.nn.Module, images: torch.Tensor, classes: str | int | torch.Tensor = "top1",
             targets: torch.Tensor | None = None, extra: torch.Tensor | None = None,
             frame: str = "resize") -> MapOutput:
        """Logits, the mapped classes and their normalised maps (module docstring)."""
        raise NotImplementedError

    def logits_and_classes(self, model, images, classes="top1", targets=None, extra=None, frame="resize"
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For a method whose maps do not come from the network (the image baselines): the checked images, the
        network's logits (one forward pass, no gradients) and the classes to map (:func:`cam_lib.cam.chosen_classes`)."""
        from ..cam import check_images, chosen_classes

        self.check(model, frame)
        images = check_images(images)
        with torch.inference_mode():
            logits = model(images)
        return images, logits, chosen_classes(logits, classes, targets, extra)

    def __call__(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        return self.maps(model, images, classes, targets=targets, extra=extra, frame=frame)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
