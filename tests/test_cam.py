"""Pins the CAM conventions: M_c = sum_k w[c,k] f_k without bias, bilinear upsampling with align_corners=False,
per-map min-max normalisation (constant -> zeros), one forward pass, no backward pass."""

import numpy as np
import pytest
import torch
from torch import nn

from cam_lib.cam import class_activation_maps, compute_cams, map_floor, normalize_maps, select_classes, upsample_maps
from cam_lib.errors import BadInputError
from cam_lib.localize import localize_batch
from cam_lib.methods import backprop_saliency


class TinyGAP(nn.Module):
    """A 2-layer GAP network with a call counter, to check the one-pass property."""

    def __init__(self, num_classes=6, channels=4):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, channels, 3, stride=4, padding=1)
        self.fc = nn.Linear(channels, num_classes)
        nn.init.normal_(self.fc.bias, std=5.0)   # a large bias: CAM must ignore it
        self.calls = 0
        self.std = torch.ones(1, 3, 1, 1)

    @property
    def cam_weights(self):
        return self.fc.weight

    @property
    def num_classes(self):
        return self.fc.out_features

    def forward_features(self, x):
        self.calls += 1
        fmap = torch.relu(self.conv(x))
        return self.fc(fmap.mean((2, 3))), fmap

    def forward(self, x):
        return self.forward_features(x)[0]


def test_cam_is_weighted_sum_of_feature_maps_without_bias():
    fmap = torch.randn(2, 3, 4, 5)
    w = torch.randn(7, 3)
    classes = torch.tensor([[6, 0], [2, 2]])
    maps = class_activation_maps(fmap, w, classes)
    assert maps.shape == (2, 2, 4, 5)
    expected = sum(w[6, k] * fmap[0, k] for k in range(3))
    torch.testing.assert_close(maps[0, 0], expected)
    torch.testing.assert_close(maps[1, 1], sum(w[2, k] * fmap[1, k] for k in range(3)))


def test_gap_of_cam_plus_bias_is_the_logit():
    model = TinyGAP().eval()
    x = torch.rand(3, 3, 32, 32)
    logits, fmap = model.forward_features(x)
    raw = class_activation_maps(fmap, model.fc.weight, torch.arange(6).expand(3, 6))
    torch.testing.assert_close(raw.mean((2, 3)) + model.fc.bias, logits)


def test_upsampling_is_bilinear_without_align_corners():
    up = upsample_maps(torch.tensor([[[[0.0, 1.0]]]]), (1, 4))
    assert up[0, 0, 0].tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0])   # align_corners=True: 0, 1/3, 2/3, 1


def test_normalisation_is_per_map_min_max_and_constant_maps_become_zero():
    maps = torch.stack([torch.tensor([[2.0, 4.0], [6.0, 10.0]]), torch.full((2, 2), 3.0)])[None]
    out = normalize_maps(maps)
    assert out[0, 0].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert out[0, 1].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    neg = normalize_maps(torch.tensor([[-3.0, -1.0]]))
    assert neg.tolist() == [[0.0, 1.0]]


def test_the_floor_of_a_map_is_how_far_it_reaches_below_zero_over_its_maximum():
    """-min / max of each raw map (notebook 07's table7_floor); 0 without negative values, NaN without a positive
    maximum; and min-max normalisation puts the map's zero at floor / (1 + floor) of its range."""
    maps = torch.stack([torch.tensor([[-1.0, 2.0], [0.0, 4.0]]), torch.tensor([[0.0, 1.0], [3.0, 2.0]]),
                        torch.tensor([[-2.0, -1.0], [-3.0, -1.0]]), torch.zeros(2, 2)])[None]
    floor = map_floor(maps)
    assert floor.shape == (1, 4)
    assert floor[0, :2].tolist() == [0.25, 0.0]
    assert torch.isnan(floor[0, 2:]).all()
    zero_at = normalize_maps(maps)[0, 0, 1, 0]   # the pixel whose raw value is 0
    assert float(zero_at) == pytest.approx(0.25 / 1.25)


def test_compute_cams_one_forward_pass_topk_and_inference_mode():
    model = TinyGAP().eval()
    x = torch.rand(2, 3, 32, 32)
    out = compute_cams(model, x, "top5")
    assert model.calls == 1
    torch.testing.assert_close(out.logits, model(x))
    assert out.classes.tolist() == model(x).topk(5).indices.tolist()
    assert out.maps.shape == (2, 5, 32, 32) and out.maps.is_inference()
    assert float(out.maps.amin()) == 0.0 and float(out.maps.amax()) == 1.0
    with torch.no_grad():
        _, fmap = model.forward_features(x)
        raw = class_activation_maps(fmap, model.fc.weight, out.classes.clone())
    torch.testing.assert_close(out.maps, normalize_maps(upsample_maps(raw, (32, 32))))


def test_select_classes_modes_and_errors():
    logits = torch.tensor([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]])
    assert select_classes(logits, "top1").tolist() == [[1], [0]]
    assert select_classes(logits, 2).tolist() == [[1, 2], [0, 2]]
    assert select_classes(logits, "gt", torch.tensor([2, 1])).tolist() == [[2], [1]]
    assert select_classes(logits, torch.tensor([[0, 1], [2, 2]])).tolist() == [[0, 1], [2, 2]]
    with pytest.raises(BadInputError, match="class index 3 out of range"):
        select_classes(logits, torch.tensor([0, 3]))
    with pytest.raises(BadInputError, match="targets"):
        select_classes(logits, "gt")
    with pytest.raises(BadInputError, match="top5|int k"):
        select_classes(logits, "top5")   # only 3 classes


def test_localize_batch_cam_uses_one_pass_for_topk_and_ground_truth():
    model = TinyGAP().eval()
    x = torch.rand(4, 3, 32, 32)
    out = localize_batch(model, x, topk=5, targets=torch.tensor([0, 1, 2, 5]))
    assert model.calls == 1
    assert out.classes.shape == (4, 5) and out.boxes.shape == (4, 5, 4) and out.gt_maps.shape == (4, 32, 32)
    cams = compute_cams(model, x, torch.tensor([0, 1, 2, 5]))
    torch.testing.assert_close(out.gt_maps, cams.maps[:, 0])
    with pytest.raises(BadInputError, match="class index 9 out of range"):
        localize_batch(model, x, targets=torch.tensor([0, 1, 2, 9]))


def test_backprop_saliency_is_abs_input_gradient_max_over_channels():
    model = TinyGAP().eval()
    x = torch.rand(2, 3, 32, 32)
    out = backprop_saliency(model, x, torch.tensor([4, 1]), normalize=False)
    xi = x[1:2].clone().requires_grad_(True)
    model(xi)[0, 1].backward()
    torch.testing.assert_close(out.maps[1, 0], xi.grad[0].abs().amax(0))
    assert out.maps.shape == (2, 1, 32, 32)
    with pytest.raises(BadInputError, match="eval"):
        backprop_saliency(model.train(), x)


def test_ten_crop_maps_merge_back_onto_the_image():
    from cam_lib.cam import merge_ten_crop_maps, ten_crops

    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    crops = ten_crops(images, 6)
    assert crops.shape == (20, 3, 6, 6)
    torch.testing.assert_close(crops[5], images[0, :, :6, :6].flip(-1))   # image 0, mirrored top-left crop
    torch.testing.assert_close(crops[14], images[1, :, 1:7, 1:7])         # image 1, center crop
    # maps that are the crops themselves merge back to the image exactly (every pixel averages equal values)
    merged = merge_ten_crop_maps(crops.view(2, 10, 3, 6, 6), 8)
    torch.testing.assert_close(merged, images)


def test_localize_batch_ten_crop_averages_logits_over_crops():
    from cam_lib.cam import ten_crops

    model = TinyGAP().eval()
    x = torch.rand(2, 3, 36, 36)
    out = localize_batch(model, x, topk=3, frame="ten_crop", crop_size=32, targets=torch.tensor([1, 2]))
    torch.testing.assert_close(out.logits, model(ten_crops(x, 32)).view(2, 10, -1).mean(1))
    assert out.maps.shape == (2, 3, 36, 36) and out.gt_maps.shape == (2, 36, 36) and model.calls == 2


def test_localize_batch_backprop_uses_one_forward_pass_for_topk_and_ground_truth():
    model = TinyGAP().eval()
    x = torch.rand(2, 3, 32, 32)
    out = localize_batch(model, x, topk=3, targets=torch.tensor([4, 0]), method="backprop")
    assert model.calls == 1
    assert out.classes.shape == (2, 3) and out.gt_maps.shape == (2, 32, 32)
    ref = backprop_saliency(model, x, torch.tensor([4, 0]))
    torch.testing.assert_close(out.gt_maps, ref.maps[:, 0])


def _batches(n=2, size=32, classes=6):
    from cam_lib.data.common import Batch

    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        yield Batch(images=torch.rand(2, 3, size, size, generator=g), labels=torch.randint(0, classes, (2,), generator=g),
                    gt_boxes=torch.tensor([[[2.0, 3.0, 20.0, 25.0]], [[0.0, 0.0, 31.0, 31.0]]], dtype=torch.float64),
                    gt_valid=torch.ones(2, 1, dtype=torch.bool), indices=torch.arange(2),
                    sizes=torch.full((2, 2), size))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_evaluate_leaves_the_model_where_it_found_it(mode, monkeypatch):
    """torchcam's rule: a function that uses the caller's model restores its device and train/eval mode."""
    from cam_lib.localize import Evaluation, evaluate, evaluate_heuristic
    from cam_lib.models import build_model

    model = build_model("googlenet_gap", num_classes=6, width=0.125).train(mode == "train")
    moves = []
    real_to = torch.nn.Module.to
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: moves.append(a) or real_to(self, *a, **k))
    seen = []
    ev = evaluate(model, list(_batches()), "cpu", progress=False, on_batch=lambda b, out: seen.append(model.training))
    assert seen == [False, False]                          # evaluated in eval mode ...
    assert model.training == (mode == "train")             # ... and handed back in the caller's mode
    assert {p.device.type for p in model.parameters()} == {"cpu"} and moves[-1] == (torch.device("cpu"),)
    assert Evaluation.from_json(ev.to_json()) == ev        # typed result, JSON round trip keeps float keys
    assert set(ev.best_threshold) == {0.3, 0.5, 0.7}
    evaluate_heuristic(model, list(_batches()), "cpu", progress=False)
    assert model.training == (mode == "train")


def test_compute_cams_ten_crop_frame_matches_localize_and_checks_its_arguments():
    model = TinyGAP().eval()
    x = torch.rand(2, 3, 36, 36)
    out = compute_cams(model, x, "top1", frame="ten_crop", crop_size=32)
    assert out.maps.shape == (2, 1, 36, 36) and model.calls == 1
    with pytest.raises(BadInputError, match="parameter frame='tencrop'"):
        compute_cams(model, x, frame="tencrop")
    with pytest.raises(BadInputError, match="square"):
        compute_cams(model, torch.rand(1, 3, 36, 40), frame="ten_crop", crop_size=32)


def test_evaluate_scores_fixed_baselines_on_the_same_images_with_intervals():
    """Table 2's trivial baselines: the same images, the same hit rule; every number has its interval."""
    from cam_lib.localize import evaluate
    from cam_lib.metrics import box_hits
    from cam_lib.models import build_model

    model = build_model("googlenet_gap", num_classes=6, width=0.125)
    batches = list(_batches())
    ev = evaluate(model, batches, "cpu", progress=False, baselines={"frame": [0.0, 0.0, 1.0, 1.0]})
    frame = torch.tensor([0.0, 0.0, 31.0, 31.0], dtype=torch.float64)
    expected = torch.cat([box_hits(frame.expand(len(b.labels), 4), b.gt_boxes, b.gt_valid) for b in batches])
    assert ev.per_image["baseline:frame"] == tuple(expected.double().tolist()) == (0.0, 1.0, 0.0, 1.0)
    for key in ("top1_cls_err", "top1_loc_err", "gt_known_loc_acc", "maxboxacc_v2"):
        ci = ev.interval(key)
        assert ci.low <= getattr(ev, key) <= ci.high and ci.estimate == pytest.approx(getattr(ev, key))
    with pytest.raises(BadInputError, match="parameter metric='nope'"):
        ev.interval("nope")


def test_gt_known_at_every_threshold_matches_the_box_rule_and_picks_the_validation_threshold():
    """Choe et al.'s protocol: GT-known localization at every threshold of the grid from one sweep (largest component,
    IoU >= 0.5), equal at 20% to the boxes of the paper's rule; the threshold chosen on one split is applied to
    another."""
    from cam_lib.boxes import boxes_from_maps
    from cam_lib.localize import Evaluation, evaluate
    from cam_lib.metrics import box_hits
    from cam_lib.models import build_model

    model = build_model("googlenet_gap", num_classes=6, width=0.125).eval()
    batches = list(_batches(n=4))
    ev = evaluate(model, batches, "cpu", progress=False)
    assert len(ev.thresholds) == 100 and len(ev.gt_known_hits) == ev.n == 8
    assert tuple(ev.gt_known_at(0.2)) == ev.per_image["gt_known_loc_acc"]     # the same rule as at tau = 0.2
    for tau in (0.05, 0.5, 0.83):   # and at any other threshold: the paper's box rule at that threshold
        hits = []
        for b in batches:
            with torch.no_grad():
                out = localize_batch(model, b.images, topk=1, targets=b.labels)
            hits.append(box_hits(boxes_from_maps(out.gt_maps[:, None], tau)[:, 0].cpu(), b.gt_boxes, b.gt_valid))
        assert tuple(ev.gt_known_at(tau)) == tuple(torch.cat(hits).double().tolist())
    curve = ev.gt_known_curve()
    assert curve.shape == (100,) and ev.chosen_threshold() == ev.thresholds[int(np.argmax(curve))]
    assert curve[int(np.argmax(curve))] >= curve[20]
    back = Evaluation.from_json(ev.to_json())
    assert back == ev and np.array_equal(back.gt_known_curve(), curve)
    with pytest.raises(BadInputError, match="parameter threshold=0.205 is not on the evaluated grid"):
        ev.gt_known_at(0.205)


def test_images_are_checked_at_the_entry_dtype_range_and_finiteness():
    """Issue 13: uint8 or 0..255 float images were read as floats in [0, 1], a NaN pixel gave arbitrary classes."""
    model = TinyGAP().eval()
    x = torch.rand(3, 3, 32, 32)
    as_uint8 = (x * 255).round().to(torch.uint8)
    out8 = compute_cams(model, as_uint8, "top1")          # uint8 0..255: converted explicitly (documented)
    ref = compute_cams(model, as_uint8.float() / 255, "top1")
    torch.testing.assert_close(out8.maps, ref.maps)
    torch.testing.assert_close(compute_cams(model, x.double(), "top1").maps, compute_cams(model, x, "top1").maps)
    with pytest.raises(BadInputError, match=r"image 0 of the batch has values in \[0\.\d+, 25\d\]"):
        compute_cams(model, x * 255)
    bad = x.clone()
    bad[2, 1, 5, 5] = float("nan")
    with pytest.raises(BadInputError, match="image 2 of the batch has NaN or infinite pixels"):
        compute_cams(model, bad)
    with pytest.raises(BadInputError, match="image 1 of the batch has NaN or infinite"):
        backprop_saliency(model, torch.stack([x[0], torch.full_like(x[1], float("inf")), x[2]]))
    with pytest.raises(BadInputError, match=r"dtype torch.int64"):
        compute_cams(model, as_uint8.long())
    normalised = (x - 0.45) / 0.225                          # already mean/std-normalised: refused, not misread
    with pytest.raises(BadInputError, match="do not normalise by mean/std"):
        compute_cams(model, normalised)


def test_ten_crop_in_groups_gives_the_same_numbers_within_bounded_memory():
    """Issue 14 (part): the ten crops of a batch go through the network a few images at a time, so memory no longer
    grows with the batch (7-8 GB at batch 32 before), and the numbers are the same bit for bit."""
    from cam_lib.models import build_model

    model = build_model("googlenet_gap", num_classes=6, width=0.125).eval()
    x = torch.rand(5, 3, 72, 72, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2, 3, 4])
    whole = compute_cams(model, x, "top5", extra=targets, frame="ten_crop", crop_size=64, crop_batch=10 ** 6)
    for crop_batch in (1, 20, 30):
        part = compute_cams(model, x, "top5", extra=targets, frame="ten_crop", crop_size=64, crop_batch=crop_batch)
        assert torch.equal(part.logits, whole.logits) and torch.equal(part.classes, whole.classes)
        assert torch.equal(part.maps, whole.maps)
    given = torch.tensor([[1, 2], [0, 5], [3, 3], [4, 0], [2, 1]])   # per-image classes are split with the images
    assert torch.equal(compute_cams(model, x, given, frame="ten_crop", crop_size=64, crop_batch=20).classes, given)
    with pytest.raises(BadInputError, match="parameter crop_batch=0"):
        compute_cams(model, x, frame="ten_crop", crop_size=64, crop_batch=0)


def test_compute_cams_on_a_model_in_training_mode_changes_nothing_and_hands_it_back():
    """Issue 23: in training mode BatchNorm would update its running statistics and normalise with the batch's;
    compute_cams evaluates in eval mode and hands the model back in training mode, its buffers untouched."""
    from cam_lib.models import build_model

    model = build_model("googlenet_gap", num_classes=5, width=0.125).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    maps = compute_cams(model, x, "top1").maps
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(maps, compute_cams(model.eval(), x, "top1").maps)
