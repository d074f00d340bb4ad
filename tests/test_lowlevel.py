"""The localizers that look at the image without the network (Table 2's image baselines): a class colour model
learned on training boxes and a class-agnostic border-contrast saliency, on hand-made images whose answer is known,
and their colour conversions against scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2hsv, rgb2lab

from cam_lib.boxes import pad_boxes
from cam_lib.data.common import Batch
from cam_lib.errors import BadInputError
from cam_lib.localize import evaluate, localize_batch
from cam_lib.methods import get_method
from cam_lib.methods.colour import ColourHistogram, rgb_to_hsv
from cam_lib.methods.saliency import BorderContrast, rgb_to_lab

RED, BLUE, GREEN, GREY = (0.9, 0.1, 0.1), (0.1, 0.2, 0.9), (0.2, 0.7, 0.2), (0.5, 0.5, 0.5)


class Uniform(torch.nn.Module):
    """A 'network' that gives every class the same logit (the maps of these methods never use it)."""

    def __init__(self, num_classes: int = 2) -> None:
        super().__init__()
        self.num_classes, self.name, self.scale = num_classes, "uniform", torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.zeros(len(x), self.num_classes) * self.scale


def _image(background, squares, size=48):
    img = torch.tensor(background).view(3, 1, 1).repeat(1, size, size)
    for colour, (x0, y0, x1, y1) in squares:
        img[:, y0:y1 + 1, x0:x1 + 1] = torch.tensor(colour).view(3, 1, 1)
    return img


def _batch(images, labels, boxes):
    gt, valid, _ = pad_boxes(boxes)
    n = len(images)
    return Batch(torch.stack(images), torch.tensor(labels), gt, valid, torch.arange(n), torch.full((n, 2), 48))


def test_colour_conversions_match_scikit_image():
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    rgb = x.permute(0, 2, 3, 1).numpy()
    assert np.abs(rgb_to_hsv(x).numpy() - rgb2hsv(rgb).transpose(0, 3, 1, 2)).max() < 1e-6
    assert np.abs(rgb_to_lab(x).numpy() - rgb2lab(rgb).transpose(0, 3, 1, 2)).max() < 1e-2


def test_colour_model_finds_the_object_of_its_class_by_colour():
    # training: class 0 objects are red, class 1 objects blue, on grey; the test image holds one of each on green
    train = [_batch([_image(GREY, [(RED, (4, 4, 20, 20))]), _image(GREY, [(BLUE, (10, 20, 40, 40))])], [0, 1],
                    [[[4, 4, 20, 20]], [[10, 20, 40, 40]]])]
    model = ColourHistogram.fit(train, num_classes=2, blur=0.0)
    test = _image(GREEN, [(RED, (2, 5, 15, 18)), (BLUE, (28, 26, 45, 44))])[None]
    out = localize_batch(Uniform(), test, topk=2, threshold=0.5, targets=torch.tensor([0]), method=model)
    assert out.gt_boxes.tolist() == [[2, 5, 15, 18]]                      # class 0's map: the red square
    blue = localize_batch(Uniform(), test, topk=2, threshold=0.5, targets=torch.tensor([1]), method=model)
    assert blue.gt_boxes.tolist() == [[28, 26, 45, 44]]                   # class 1's map: the blue square
    assert ColourHistogram.from_json(model.to_json()).ratios.equal(model.ratios)


def test_border_contrast_finds_what_differs_from_the_border_whatever_the_class():
    test = _image(GREY, [(RED, (20, 10, 35, 30))])[None]
    for target in (0, 1):
        out = localize_batch(Uniform(), test, topk=2, threshold=0.5, targets=torch.tensor([target]),
                             method=BorderContrast(blur=0.0))
        assert out.gt_boxes.tolist() == [[20, 10, 35, 30]]
    flat = localize_batch(Uniform(), _image(GREY, [])[None], topk=1, targets=torch.tensor([0]),
                          method=BorderContrast())
    assert flat.gt_boxes.tolist() == [[0, 0, 47, 47]]                     # nothing stands out: the whole frame


def test_image_baselines_run_through_the_same_evaluation():
    batches = [_batch([_image(GREY, [(RED, (20, 10, 35, 30))]), _image(GREY, [(BLUE, (0, 0, 10, 10))])], [0, 1],
                      [[[20, 10, 35, 30]], [[30, 30, 47, 47]]])]
    ev = evaluate(Uniform(), batches, method=BorderContrast(blur=0.0), threshold=0.5, progress=False)
    assert ev.gt_known_loc_acc == 0.5 and ev.method == "border_contrast"   # right on the first, not the second


def test_bad_settings_are_named():
    with pytest.raises(BadInputError, match="band"):
        BorderContrast(band=0.7)
    with pytest.raises(BadInputError, match="ratios"):
        ColourHistogram(np.zeros((2, 5)))
    with pytest.raises(BadInputError, match="blur"):
        ColourHistogram(np.zeros((2, 128)), blur=-1)
    assert get_method("border_contrast").name == "border_contrast"
