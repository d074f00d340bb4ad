"""One image of the embedded benchmark from its coordinates (seed, suite, split, index): the per-image
random stream that makes builds independent of the number of workers, and :func:`render_sample`, which
draws exactly what :func:`~cam_lib.data.synthetic.build` writes for every suite (Tables 1-5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import BadInputError
from .birds import BIRD_SPECIES, _bird_image
from .compose import DISTRACTOR_FRACTION, OBJECT_AREA, _finish, _instances_image
from .objects import OBJECT_CLASSES, THING_CLASSES
from .scenes import _scene_image

SUITE_IDS = {"objects": 1, "birds": 2, "scenes": 3, "things": 4}
SPLIT_IDS = {"train": 0, "val": 1, "test": 2, "all": 3}
ORDER_INDEX = 10 ** 9        # index of the per-split generators that draw orders and splits (never an image index)


@dataclass
class Sample:
    """One generated image with its label, inclusive ground-truth boxes and the instances' coverage masks."""

    image: np.ndarray                       # (H, W, 3) uint8
    label: int
    boxes: list[list[int]] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)   # (H, W) bool, pixels covered by each instance


def _rng(seed: int, suite: str, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SUITE_IDS[suite], SPLIT_IDS[split], index])


def render_sample(suite: str, split: str, index: int, label: int, seed: int = 0, size: int = 128,
                  two_instance_fraction: float = 0.2, distractor_fraction: float = DISTRACTOR_FRACTION,
                  object_classes: int = 10) -> Sample:
    """The image ``index`` of ``suite``/``split`` with class ``label``, exactly as :func:`build` writes it (before
    JPEG encoding), with its ground-truth boxes and coverage masks (birds: one, objects: one or two, transfer
    suites: none). ``split`` is ``train``/``val``/``test`` (birds: ``all``, index = image id - 1). Objects: the
    build's classes are the first ``object_classes``; ``distractor_fraction`` of the images also show an unlabelled
    object of another of them (:func:`~cam_lib.data.synthetic.compose._instances_image`)."""
    if suite not in SUITE_IDS or split not in SPLIT_IDS:
        bad, value = ("suite", suite) if suite not in SUITE_IDS else ("split", split)
        raise BadInputError(f"parameter {bad}={value!r}: suite must be one of {sorted(SUITE_IDS)} and split one of "
                            f"{sorted(SPLIT_IDS)} (got suite={suite!r}, split={split!r})", param=bad)
    rng = _rng(seed, suite, split, index)
    if suite == "objects":
        img, boxes, masks = _instances_image(rng, size, OBJECT_CLASSES[label], OBJECT_CLASSES, two_instance_fraction,
                                             frac_range=OBJECT_AREA, uniform_area=True,
                                             distractors=OBJECT_CLASSES[:object_classes],
                                             distractor_frac=distractor_fraction)
    elif suite == "birds":
        img, boxes, masks = _bird_image(rng, size, BIRD_SPECIES[label])
    elif suite == "things":
        img, _, _ = _instances_image(rng, size, THING_CLASSES[label], THING_CLASSES, 0.0, fragments=False,
                                     frac_range=(0.1, 0.5))
        boxes, masks = [], []
    else:
        img, boxes, masks = _scene_image(rng, size, label), [], []
    return Sample(_finish(img, rng), label, boxes, masks)
