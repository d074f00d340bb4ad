"""Map methods (Sec. 2 of the paper: CAM; Table 2: Backprop): one file per method, one line each in
:data:`METHODS`.

Every method implements :class:`~cam_lib.methods.base.MapMethod` and is scored by exactly the same boxes and
metrics (:func:`cam_lib.localize.evaluate`). :func:`get_method` takes a method object, a registered name
(``"cam"``, ``"backprop"``) or an import path ``"package.module:Name"`` (a user's method without editing
cam_lib: ``python -m cam_lib localize --method mypkg.maps:Centre``); :func:`register` adds a name at run time.
"""

from __future__ import annotations

import importlib

from ..errors import BadInputError
from .backprop import Backprop, backprop_saliency
from .base import MapMethod
from .cam import CAM
from .colour import ColourHistogram
from .saliency import BorderContrast
from .successors import GradCAM, GradCAMpp, LayerCAM, ScoreCAM, XGradCAM

__all__ = ["MapMethod", "CAM", "Backprop", "BorderContrast", "ColourHistogram", "GradCAM", "GradCAMpp", "XGradCAM",
           "LayerCAM", "ScoreCAM", "METHODS", "get_method", "register", "backprop_saliency"]

METHODS: dict[str, type[MapMethod]] = {
    "cam": CAM,
    "backprop": Backprop,
    "border_contrast": BorderContrast,   # no network: colour distance to the border
    "gradcam": GradCAM,                  # CAM's successors, from torchcam (methods/successors.py)
    "gradcampp": GradCAMpp,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "scorecam": ScoreCAM,
}
# ColourHistogram is learned from a training split's boxes (ColourHistogram.fit), so it has no name to build by.


def register(cls: type[MapMethod]) -> type[MapMethod]:
    """Add a :class:`MapMethod` subclass to :data:`METHODS` under its ``name`` (usable as a class decorator); a
    name that is taken by another class is refused."""
    if not (isinstance(cls, type) and issubclass(cls, MapMethod)) or not cls.name:
        raise BadInputError(f"parameter cls={cls!r}: must be a MapMethod subclass with a name", param="cls")
    if METHODS.get(cls.name, cls) is not cls:
        raise BadInputError(f"parameter cls: the method name {cls.name!r} is taken by {METHODS[cls.name].__name__}",
                            param="cls")
    METHODS[cls.name] = cls
    return cls


def get_method(method: str | MapMethod) -> MapMethod:
    """A :class:`MapMethod` from an object (returned as it is), a name of :data:`METHODS`, or an import path
    ``"package.module:Name"`` naming a MapMethod subclass or instance."""
    if isinstance(method, MapMethod):
        return method
    if isinstance(method, str) and method in METHODS:
        return METHODS[method]()
    if isinstance(method, str) and ":" in method:
        module, _, attr = method.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise BadInputError(f"parameter method={method!r}: cannot import it ({err})", param="method") from None
        if isinstance(found, type) and issubclass(found, MapMethod):
            return found()
        if isinstance(found, MapMethod):
            return found
        raise BadInputError(f"parameter method={method!r}: {attr} is not a MapMethod", param="method")
    raise BadInputError(f"parameter method={method!r}: choose one of {', '.join(METHODS)} or give "
                        "'package.module:Name'", param="method")
