"""The localize room (Tables 2-3): a map method and a metric are protocols. A method and a metric written HERE, in
the test alone, run through ``evaluate`` and through ``python -m cam_lib localize --method <name>`` and give the
numbers computed by hand below; the frame of a dataset and of its evaluation must agree; ``localize(config)`` is
the one run; N processes give one process's numbers (tests/test_cli.py runs torchrun)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from cam_lib import distributed
from cam_lib.cam import MapOutput, check_images, chosen_classes
from cam_lib.cli import main
from cam_lib.data import build_dataset, make_loader
from cam_lib.errors import BadInputError
from cam_lib.localize import Evaluation, LocalizeConfig, evaluate, localize, localize_batch
from cam_lib.methods import METHODS, MapMethod, get_method, register
from cam_lib.metrics import Metric, Result, standard_metrics, threshold_grid
from cam_lib.models import build_model

ROOT = Path(__file__).resolve().parents[1]
SIGMA = 0.25   # of the frame's width and height


class CentredGaussian(MapMethod):
    """A map method that ignores the image: the same centred Gaussian for every class (a content-free map)."""

    name, title = "centred_gaussian", "Centred Gaussian"

    def maps(self, model, images, classes="top1", targets=None, extra=None, frame="resize") -> MapOutput:
        self.check(model, frame)
        images = check_images(images)
        logits = model(images)
        chosen = chosen_classes(logits, classes, targets, extra)
        gauss = torch.from_numpy(_gaussian(*images.shape[-2:])).to(images.device)
        return MapOutput(logits.detach(), chosen, gauss.expand(len(images), chosen.shape[1], -1, -1).clone())


def _gaussian(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    g = np.exp(-((x - (width - 1) / 2) ** 2 / (2 * (SIGMA * width) ** 2)
                 + (y - (height - 1) / 2) ** 2 / (2 * (SIGMA * height) ** 2)))
    return ((g - g.min()) / (g.max() - g.min())).astype(np.float32)


@dataclass(frozen=True)
class PointingResult(Result):
    kind: ClassVar[str] = "test_pointing"
    pointing_acc: float

    def scores(self) -> dict:
        return {"pointing_acc": self.pointing_acc}


class PointingGame(Metric):
    """The pointing game: the ground-truth class's map peaks inside a ground-truth box."""

    name, needs = "pointing", frozenset({"gt"})

    def __init__(self) -> None:
        self.hits: list[np.ndarray] = []

    def update(self, batch, out) -> None:
        flat = out.gt_maps.flatten(1).argmax(1)
        x, y = (flat % out.gt_maps.shape[-1]).double(), (flat // out.gt_maps.shape[-1]).double()
        b = batch.gt_boxes
        inside = (b[..., 0] <= x[:, None]) & (x[:, None] <= b[..., 2]) & (b[..., 1] <= y[:, None]) & \
            (y[:, None] <= b[..., 3]) & batch.gt_valid
        self.hits.append(inside.any(1).numpy())

    def per_image(self) -> dict:
        return {"pointing_acc": np.concatenate(self.hits)}

    def compute(self) -> PointingResult:
        return PointingResult(float(np.concatenate(self.hits).mean()))

    def state(self) -> dict:
        return {"hits": self.hits}

    def merge(self, states) -> None:
        self.hits = [h for s in states for h in s["hits"]]


def _iou(a, b) -> float:
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]) + 1, min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - iw * ih)


def _by_hand(dataset, threshold: float, grid) -> dict:
    """GT-known localization, MaxBoxAccV2 and the pointing game of the Gaussian, image by image with loops: the
    mask at tau is one disc (one component), its box the bounding box of the pixels >= tau."""
    g = _gaussian(224, 224)

    def box(tau):
        ys, xs = np.nonzero(g >= np.float32(tau))
        return (0, 0, 223, 223) if len(xs) == 0 else (xs.min(), ys.min(), xs.max(), ys.max())

    gts = [dataset[i][1]["boxes"].tolist() for i in range(len(dataset))]
    best = [max(_iou(box(threshold), gt) for gt in boxes) for boxes in gts]
    curve = [[max(_iou(box(t), gt) for gt in boxes) for t in grid] for boxes in gts]
    v2 = np.mean([max(np.mean([c[t] >= d for c in curve]) for t in range(len(grid))) for d in (0.3, 0.5, 0.7)])
    cy = cx = 111   # argmax of the symmetric 224 x 224 Gaussian: the first of its four central pixels
    point = [any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes) for boxes in gts]
    return {"gt_known_loc_acc": float(np.mean([b >= 0.5 for b in best])), "maxboxacc_v2": float(v2),
            "pointing_acc": float(np.mean(point))}


@pytest.fixture(scope="module")
def registered():
    added = "centred_gaussian" not in METHODS
    if added:
        register(CentredGaussian)
    yield
    if added:
        METHODS.pop("centred_gaussian")


@pytest.fixture
def net():
    torch.manual_seed(0)
    return build_model("alexnet_gap", num_classes=10, width=0.125).eval()


def test_a_new_method_and_a_new_metric_run_through_evaluate(imagenet_folder, net, registered):
    ds = build_dataset("imagenet", imagenet_folder)
    grid = threshold_grid(0.1)
    metrics = [*standard_metrics(10, grid), PointingGame()]
    ev = evaluate(net, make_loader(ds, 4), method="centred_gaussian", metrics=metrics, progress=False)
    want = _by_hand(ds, 0.2, grid)
    assert ev.gt_known_loc_acc == pytest.approx(want["gt_known_loc_acc"])
    assert ev.maxboxacc_v2 == pytest.approx(want["maxboxacc_v2"])
    assert ev.score("pointing_acc") == pytest.approx(want["pointing_acc"])
    assert ev.method == "centred_gaussian" and ev.n == len(ds)
    assert ev.interval("pointing_acc").estimate == pytest.approx(want["pointing_acc"])   # per-image outcomes kept
    # the object itself serves as well as its registered name; results survive the JSON round trip
    again = evaluate(net, make_loader(ds, 3), method=CentredGaussian(), metrics=[PointingGame()], progress=False)
    assert again.score("pointing_acc") == ev.score("pointing_acc")
    assert Evaluation.from_json(json.loads(json.dumps(ev.to_json()))) == ev


def test_a_new_method_runs_through_the_command_line(imagenet_folder, registered, tmp_path):
    common = ["localize", "--data", "imagenet", "--root", str(imagenet_folder), "--model", "alexnet_gap",
              "--width", "0.125", "--num-classes", "10", "--cam-step", "0.1", "--no-progress"]
    assert main([*common, "--method", "centred_gaussian", "--json", str(tmp_path / "a.json")]) == 0
    want = _by_hand(build_dataset("imagenet", imagenet_folder), 0.2, threshold_grid(0.1))
    got = json.loads((tmp_path / "a.json").read_text())
    assert got["gt_known_loc_acc"] == pytest.approx(want["gt_known_loc_acc"])
    assert got["maxboxacc_v2"] == pytest.approx(want["maxboxacc_v2"])
    # a fresh process: a method named by its import path, without registering it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "b.json"
    subprocess.run([sys.executable, "-m", "cam_lib", *common, "--method", "test_localize:CentredGaussian",
                    "--json", str(out)], check=True, env=env, cwd=tmp_path, capture_output=True)
    assert json.loads(out.read_text())["gt_known_loc_acc"] == got["gt_known_loc_acc"]


def test_a_dataset_built_for_one_frame_refuses_another(imagenet_folder, net):
    ds = build_dataset("imagenet", imagenet_folder, frame="resize")
    with pytest.raises(BadInputError, match=r"frame='ten_crop'.*built for frame 'resize'") as err:
        evaluate(net, make_loader(ds, 4), frame="ten_crop", progress=False)
    assert err.value.param == "frame"
    assert main(["localize", "--data", "imagenet", "--root", str(imagenet_folder), "--model", "alexnet_gap",
                 "--width", "0.125", "--num-classes", "10", "--frame", "center_crop", "--no-progress"]) == 0


def test_methods_are_checked_where_they_cannot_apply(imagenet_folder):
    fc = build_model("alexnet", num_classes=10, width=0.125).eval()
    ds = build_dataset("imagenet", imagenet_folder)
    with pytest.raises(BadInputError, match="no CAM.*backprop") as err:
        evaluate(fc, make_loader(ds, 4), method="cam", progress=False)
    assert err.value.param == "method"
    assert evaluate(fc, make_loader(ds, 4), method="backprop", progress=False).n == len(ds)
    with pytest.raises(BadInputError, match="frame"):
        get_method("backprop").check(fc, "ten_crop")
    with pytest.raises(BadInputError, match="choose one of cam, backprop"):
        get_method("no_such_method")
    with pytest.raises(BadInputError, match="cannot import"):
        get_method("no_such_module:Thing")
    with pytest.raises(BadInputError, match="taken"):
        register(type("Other", (MapMethod,), {"name": "cam"}))


def test_maps_outside_the_unit_range_are_refused(imagenet_folder, net):
    class Raw(CentredGaussian):
        name = "raw"

        def maps(self, *args, **kwargs):
            out = super().maps(*args, **kwargs)
            return MapOutput(out.logits, out.classes, out.maps * 3)

    ds = build_dataset("imagenet", imagenet_folder)
    with pytest.raises(BadInputError, match=r"normalised to \[0, 1\], got \[0, 3\]"):
        evaluate(net, make_loader(ds, 4), method=Raw(), progress=False)


def test_localize_batch_gives_topk_and_gt_from_any_method(net):
    images = torch.rand(3, 3, 64, 64)
    out = localize_batch(net, images, topk=5, targets=torch.tensor([1, 2, 3]), method=CentredGaussian())
    assert out.classes.shape == (3, 5) and out.maps.shape == (3, 5, 64, 64) and out.boxes.shape == (3, 5, 4)
    assert out.gt_maps.shape == (3, 64, 64) and torch.equal(out.gt_boxes, out.boxes[:, 0])   # the same map


def test_the_localize_run_checks_its_configuration_first(tmp_path):
    for field, value, text in (("batch_size", 0, "batch_size=0"), ("threshold", 1.5, "threshold=1.5"),
                               ("method", "nope", "method='nope'"), ("frame", "crop", "frame='crop'"),
                               ("data", "nope", "data='nope'"), ("root", tmp_path / "missing", "root=")):
        config = LocalizeConfig(**{"data": "imagenet", "model": "alexnet_gap", "root": tmp_path, field: value})
        with pytest.raises(BadInputError, match=text) as err:
            config.check()
        assert err.value.param == field


def test_localize_runs_a_given_network_and_writes_the_cli_schema(imagenet_folder, net):
    run = localize(LocalizeConfig("imagenet", "alexnet_gap", root=imagenet_folder, cam_step=0.1, progress=False,
                                  baselines=True), net=net)
    data = run.evaluation.to_json(outcomes=False)
    assert list(data)[:10] == ["n", "top1_cls_err", "top5_cls_err", "top1_loc_err", "top5_loc_err",
                               "gt_known_loc_acc", "maxboxacc_v2", "threshold", "model", "world_size"]
    assert set(data["baselines"]) == {"frame", "centered", "best_fixed"} and "outcomes" not in data


def test_one_gather_helper_without_a_group():
    assert distributed.gather({"a": 1}) == [{"a": 1}] and distributed.dist_info() == (0, 1, 0)
    assert distributed.sum_across(torch.tensor([2.0])).item() == 2.0
    assert [len(distributed.shard(list(range(10)), r, 3, 2)) for r in range(3)] == [2, 4, 4]
