"""Issue 20: the series' tables are typed (:class:`cam_lib.results.Table`: rows with machine keys, typed claims,
notes), the texts and charts read them as they are (no file read back, no lookup by a display label), each network
is loaded once per process, and the hit rule and the whole frame's hit rate have one home in
:mod:`cam_lib.metrics`. The networks here are untrained (random weights saved as checkpoints, no training): the
tests check what the code does with numbers, not the numbers."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import cam_lib.series.artifacts as artifacts
from cam_lib import results as res
from cam_lib import series
from cam_lib.errors import BadInputError
from cam_lib.metrics import box_hits
from cam_lib.metrics.baselines import frame_box, frame_hit_rate, frame_hits
from cam_lib.metrics.localization import IOU_THRESHOLD, best_box_iou
from cam_lib.models import build_model
from cam_lib.series.figures import box_stats, table_panels

MODELS = ("googlenet_gap", "alexnet_gap", "alexnet")   # small at the smoke width; no ImageNet weights needed


def _save_network(s, model: str, seed: int) -> None:
    """A checkpoint of an untrained network (random weights from ``seed``), where notebook 01 would write one."""
    torch.manual_seed(seed)
    net = build_model(model, num_classes=s.num_classes, width=s.width_of(model))
    path = s.checkpoints / model / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict()}, path)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A smoke setup of :data:`MODELS` with untrained checkpoints."""
    tmp = tmp_path_factory.mktemp("series")
    s = series.setup("smoke", data_root=tmp / "data", models=list(MODELS), checkpoints=tmp / "ck",
                     results=tmp / "res", device="cpu")
    for i, model in enumerate(MODELS):
        _save_network(s, model, i)
    return s


@pytest.fixture
def counted_loads(monkeypatch):
    """The names of the networks :func:`~cam_lib.series.artifacts.load_trained` builds, from a clean memo."""
    built = []
    real = artifacts.build_model
    monkeypatch.setattr(artifacts, "build_model", lambda name, *a, **k: built.append(name) or real(name, *a, **k))
    artifacts.forget_networks()
    yield built
    artifacts.forget_networks()


# --- typed tables ------------------------------------------------------------------------------------------------

def test_table2_loads_each_network_once_and_a_rerun_none(untrained, counted_loads):
    """Before: every row and every claim loaded (and hashed) its network again: 4 loads for these 3 networks, 20
    for the smoke profile's table2. Now one load per network on a cold cache, none when the measurements are
    cached (a new process: the memo forgotten)."""
    s = untrained
    for cached in s.checkpoints.glob("*/eval-*.json"):    # cold: every measurement computed
        cached.unlink()
    t2 = series.table2(s)
    assert Counter(counted_loads) == Counter(MODELS)       # each evaluated network built exactly once
    assert {k[0] for k in artifacts._HASHES} >= {str((s.checkpoints / m / "model.pt").resolve()) for m in MODELS}
    assert t2.select("top1_loc_err", model="alexnet_gap", method="cam")[0].ran
    counted_loads.clear()
    artifacts.forget_networks()
    again = series.table2(s)
    assert again.df.equals(t2.df) and again.claims == t2.claims   # cached measurements: the same table ...
    assert counted_loads == []                             # ... without loading a network


def test_the_loader_serves_one_network_until_its_checkpoint_changes(untrained, counted_loads):
    s = untrained
    net = series.load_trained(s, "alexnet_gap")
    assert series.load_trained(s, "alexnet_gap") is net and counted_loads == ["alexnet_gap"]
    path = s.checkpoints / "alexnet_gap" / "model.pt"
    before = series.checkpoint_hash(path)
    stat = path.stat()
    try:
        _save_network(s, "alexnet_gap", 99)             # retrained: other weights at the same path
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert series.checkpoint_hash(path) != before
        again = series.load_trained(s, "alexnet_gap")
        assert again is not net and counted_loads == ["alexnet_gap"] * 2
        saved = torch.load(path, weights_only=True)["model"]
        assert all(torch.equal(saved[k], v) for k, v in again.state_dict().items())
    finally:
        _save_network(s, "alexnet_gap", 1)               # the fixture's network back, for the other tests
        artifacts.forget_networks()


def test_a_table_round_trips_through_its_files(untrained):
    """The rows give the CSV and Markdown that write_table writes (the machine key is not a column), and the
    claims of the Table are those of the written JSON."""
    s = untrained
    for make in (series.table1, series.table2, series.table2_test):
        t = make(s)
        assert isinstance(t, res.Table) and all(isinstance(c, res.Claim) for c in t.claims)
        assert all(r.key for r in t.rows)
        for r in t.rows:                                  # every row is found by its machine names
            assert t.row(r.key, **r.labels) is r
        csv = (s.tables / f"{t.name}.csv").read_text()
        md = (s.tables / f"{t.name}.md").read_text()
        again = s.results.parent / f"again-{t.name}"
        res.write_table(again, t.name, res.comparison(list(t.rows)), series.environment(s), notes=t.notes)
        assert (again / "tables" / f"{t.name}.csv").read_text() == csv
        assert (again / "tables" / f"{t.name}.md").read_text() == md
        header = next(line for line in csv.splitlines() if not line.startswith("#"))
        assert header.split(",") == list(t.df.columns) and "key" not in header.split(",")   # no machine-key column
        written = json.loads((s.tables / f"{t.name}.claims.json").read_text())
        assert written == [c.to_json() for c in t.claims]
        assert [res.Claim.from_json(c) for c in written] == list(t.claims)
    assert {r.key for r in series.table2_test(s).rows} == {"gt_known_tau_fixed", "tau_val", "gt_known_tau_val",
                                                           "maxboxacc_v2", "baseline:frame", "baseline:centered",
                                                           "baseline:best_fixed"}


def test_missing_baselines_raise_a_typed_error_and_table2_says_why(untrained, tmp_path):
    s = untrained
    boxes = series.baseline_boxes(s)
    assert isinstance(boxes, series.BaselineBoxes) and set(boxes.boxes) == set(artifacts.BASELINES)
    assert boxes.boxes["frame"] == [0.0, 0.0, 1.0, 1.0] and boxes.train_images > 0
    none = dataclasses.replace(s, train_root=tmp_path / "no-train", results=tmp_path / "res")
    with pytest.raises(series.BaselinesUnavailableError, match="parameter train_root: no training split") as err:
        series.baseline_boxes(none)
    assert err.value.param == "train_root" and isinstance(err.value, BadInputError)
    t2 = series.table2(none)
    base = [r for r in t2.rows if r.key.startswith("baseline:")]
    assert len(base) == 3 and not any(r.ran for r in base)            # not measured ...
    assert "The baseline rows were not measured: no training split" in t2.notes   # ... and why
    assert "The baseline rows were not measured" in (tmp_path / "res" / "tables" / "table2.md").read_text()
    assert "The baseline rows were not measured" not in series.table2(s).notes


# --- texts from a hand-made Table ----------------------------------------------------------------------------------

def _setup(tmp_path, **kw) -> SimpleNamespace:
    base = {"profile": "default", "data": "embedded", "results": tmp_path / "nowhere", "num_classes": 10, "seed": 0,
            "main_gap": "googlenet_gap", "cub_root": None, "transfer": {}, "models": ()}
    return SimpleNamespace(**(base | kw))


def _row(labels, metric, key, ours, paper=math.nan, half=2.0):
    return res.TableRow(labels, metric, ours, paper, ours - half, ours + half, key=key)


def test_texts_say_what_a_hand_made_table_says_and_read_no_file(tmp_path):
    """Table 2 on the test split, hand-made: the main network's numbers, the baselines and the claims come from the
    Table; a claims file on disk that says otherwise is not read."""
    s = _setup(tmp_path, results=tmp_path)
    labels = {"row": "GoogLeNet-GAP", "method": "cam", "model": "googlenet_gap"}
    other = {"row": "AlexNet-GAP", "method": "cam", "model": "alexnet_gap"}
    fixed = lambda key, name, v: _row({"row": name, "method": "fixed box", "model": "-"}, "GT-known loc acc",  # noqa: E731
                                      f"baseline:{key}", v, half=1.0)
    t = res.Table("table2_test", [
        _row(labels, "GT-known loc acc, tau 0.2", "gt_known_tau_fixed", 41.0),
        res.TableRow(labels, "tau chosen on val (%)", 35.0, 20.0, key="tau_val"),
        _row(labels, "GT-known loc acc, tau chosen on val", "gt_known_tau_val", 72.0),
        _row(other, "GT-known loc acc, tau chosen on val", "gt_known_tau_val", 20.0),
        fixed("frame", "Whole frame (baseline)", 30.0), fixed("best_fixed", "Best fixed box chosen on train "
                                                              "(baseline)", 55.0)],
        [res.Claim("table2_test", "CAM localizes better than the whole frame", "CAM 72.0 vs baseline 30.0",
                   "same direction")])
    (tmp_path / "tables").mkdir()
    res.write_claims(tmp_path, "table2_test", [res.Claim("table2_test", "a claim from disk", "x", "opposite direction")])
    text = series.meaning(s, t)
    assert ("localizes 41.0% of the test images at the paper's 20% threshold and 72.0% at the threshold chosen on "
            "the validation split (35.0%)") in text
    assert "without the network reaches 30.0% (whole frame), 55.0% (best fixed box chosen on train)" in text
    assert "Above the best of them (best fixed box chosen on train, 55.0%) by more than the interval: GoogLeNet-GAP " \
           "72.0%" in text
    assert "Below the whole frame: AlexNet-GAP 20.0%" in text
    assert "CAM localizes better than the whole frame. This run: CAM 72.0 vs baseline 30.0:" in text
    assert "**same direction as the paper**" in text and "a claim from disk" not in text
    # the same Table with the main network worse than the whole frame: the text follows the numbers
    worse = res.Table("table2_test", [dataclasses.replace(r, ours=10.0, ci_low=8.0, ci_high=12.0)
                                      if r.key == "gt_known_tau_val" and r.labels["model"] == "googlenet_gap" else r
                                      for r in t.rows])
    text = series.meaning(s, worse)
    assert "and 10.0% at the threshold chosen" in text and "Below the whole frame: GoogLeNet-GAP 10.0%, " \
                                                           "AlexNet-GAP 20.0%" in text
    assert "No network's GT-known localization is above the best baseline" in text


def test_table3_text_and_chart_read_rows_by_key(tmp_path):
    s = _setup(tmp_path)
    ours = {"heuristic": 50.0, "plain": 45.0, "backprop": 60.0}
    t3 = res.Table("table3", [res.TableRow({"key": k, "row": name, "supervision": sup}, "top-5 loc err",
                                           ours.get(k, math.nan), paper, key="top5_loc_err")
                              for k, (name, sup, paper) in res.PAPER_TABLE3.items()])
    text = series.meaning(s, t3)
    assert "the tight/loose heuristic 50.0%, the plain top-5 boxes 45.0%, Backprop 60.0%" in text
    assert "The heuristic loses 5.0 points against the plain boxes." in text
    panels, _ = table_panels(s, t3)
    assert [(r["item"], r["value"]) for r in panels[0].rows][:3] == [
        ("GoogLeNet-GAP (heuristics) (weakly supervised)", 50.0), ("GoogLeNet-GAP (weakly supervised)", 45.0),
        ("Backprop (weakly supervised)", 60.0)]
    assert series.table_markdown(t3) == res.readable_markdown(t3.df)
    with pytest.raises(BadInputError, match="parameter table: expected the Table"):
        series.meaning(s, t3.df)


def test_a_table_checks_its_name_and_finds_rows_by_machine_names():
    rows = [res.TableRow({"row": "A", "model": "a"}, "top-1 cls err", 10.0, 20.0, key="top1_cls_err"),
            res.TableRow({"row": "A", "model": "a"}, "top-5 cls err", 5.0, 9.0, key="top5_cls_err")]
    t = res.Table("table1", rows)
    assert t.value("top5_cls_err", model="a") == 5.0 and math.isnan(t.value("top5_cls_err", model="b"))
    assert t.row("top1_cls_err") is rows[0] and t.select(model="a") == rows
    assert list(t.df.columns) == ["row", "model", "metric", "ours", "ci_low", "ci_high", "paper", "diff"]
    with pytest.raises(ValueError, match="table name"):
        res.Table("table9", rows)


# --- one hit rule ----------------------------------------------------------------------------------------------

def test_the_figures_hit_rule_is_box_hits():
    """box_stats counts hits with box_hits and states best_box_iou: random boxes, invalid ground-truth rows that
    would hit, and boxes at exactly IoU 0.5."""
    g = torch.Generator().manual_seed(0)
    n, m, h, w = 200, 3, 40, 50
    x0, y0 = torch.randint(0, w - 1, (n, 1), generator=g), torch.randint(0, h - 1, (n, 1), generator=g)
    boxes = torch.cat([x0, y0, x0 + torch.randint(0, 20, (n, 1), generator=g),
                       y0 + torch.randint(0, 20, (n, 1), generator=g)], 1).clamp(max=torch.tensor([w, h, w, h]) - 1)
    gt = boxes[:, None].repeat(1, m, 1) + torch.randint(-6, 7, (n, m, 4), generator=g)
    gt = torch.minimum(gt.clamp(min=0), torch.tensor([w, h, w, h]) - 1)
    gt[..., 2:] = torch.maximum(gt[..., 2:], gt[..., :2])
    valid = torch.rand(n, m, generator=g) < 0.6
    gt[:5, 0], valid[:5] = boxes[:5], torch.tensor([False, True, True])    # an invalid exact match: not a hit
    boxes[5], gt[5, 0], valid[5] = torch.tensor([0, 0, 9, 9]), torch.tensor([0, 0, 9, 19]), True   # IoU 0.5 exactly
    st = box_stats(boxes, h, w, gt, valid)
    hits = box_hits(boxes, gt, valid)
    assert st["hits"] == int(hits.sum()) and 0 < st["hits"] < n
    assert [x >= IOU_THRESHOLD for x in st["iou"]] == hits.tolist()
    assert st["iou"] == best_box_iou(boxes, gt, valid).tolist() and st["iou"][5] == 0.5 and bool(hits[5])
    assert st["iou"][0] < 1.0          # the exact match is an invalid row: ignored
    # the rule itself, by brute force
    for i in range(n):
        ious = [float(_iou(boxes[i], gt[i, j])) for j in range(m) if valid[i, j]]
        assert bool(hits[i]) == any(x >= 0.5 for x in ious) and st["iou"][i] == pytest.approx(max(ious, default=0))


def _iou(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area = lambda x: (x[2] - x[0] + 1) * (x[3] - x[1] + 1)  # noqa: E731
    return iw * ih / (area(a) + area(b) - iw * ih)


def test_the_whole_frames_hit_rate_has_one_home(tmp_path):
    """texts.frame_hit_rate (Table 4's reference) is metrics.baselines.frame_hit_rate: the frame of each stored
    image (its header's size) scored by box_hits; an image without a box is a miss."""
    cases = [((64, 48), [[0, 0, 63, 47]], True), ((64, 48), [[2, 3, 59, 40]], True),        # IoU 0.72
             ((64, 48), [[5, 5, 20, 20], [0, 0, 40, 47]], True), ((100, 30), [[0, 0, 30, 29]], False),
             ((40, 40), [], False), ((50, 20), [[0, 0, 24, 19]], True)]                      # IoU exactly 0.5
    samples = []
    for i, ((w, h), boxes, _) in enumerate(cases):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (w, h)).save(path)
        samples.append((path, 0, torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)))
    expected = [hit for *_, hit in cases]
    assert frame_hits([b for *_, b in samples], [c[0] for c in cases]).tolist() == expected
    assert frame_hit_rate(samples) == (sum(expected) / len(cases), len(cases))
    assert series.texts.frame_hit_rate(SimpleNamespace(samples=samples)) == frame_hit_rate(samples)
    assert math.isnan(series.texts.frame_hit_rate(SimpleNamespace(samples=[]))[0])
    frames = torch.from_numpy(np.stack([frame_box(w, h) for (w, h), *_ in cases]))
    gt, valid = torch.zeros(len(cases), 2, 4), torch.zeros(len(cases), 2, dtype=torch.bool)
    for i, (_, boxes, _) in enumerate(cases):
        gt[i, :len(boxes)], valid[i, :len(boxes)] = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), True
    assert box_hits(frames, gt, valid).tolist() == expected


def test_a_localization_claim_is_decided_under_every_protocol_and_only_between_networks_that_localize():
    """Issue 21: the verdict of a comparison is one protocol's only when the paper's tau 0.2, each side's own
    val-chosen tau and MaxBoxAccV2 agree; it is "not testable here" when neither side beats the best baseline."""
    from cam_lib.series.tables import _protocol_claim

    rng = np.random.default_rng(0)
    hits = lambda p: (rng.random(400) < p).astype(float)   # noqa: E731
    good = {"gt_known_tau_fixed": [hits(0.8)], "gt_known_tau_val": [hits(0.8)], "maxboxacc_v2": [hits(0.8)]}
    weak = {"gt_known_tau_fixed": [hits(0.3)], "gt_known_tau_val": [hits(0.3)], "maxboxacc_v2": [hits(0.3)]}
    half = hits(0.5)
    baseline = ("Whole frame (baseline)", {"gt_known_tau_fixed": half, "gt_known_tau_val": half})
    claim = _protocol_claim("table2_test", "A beats B", ("A", "B"), good, weak, baseline)
    assert claim.verdict == "same direction" and claim.ours.count("difference") == 3
    split = {**weak, "gt_known_tau_fixed": [hits(0.95)]}                # B wins at 0.2, loses elsewhere
    assert _protocol_claim("table2_test", "A beats B", ("A", "B"), good, split, baseline).verdict == \
        "depends on the protocol"
    high = hits(0.9)
    neither = _protocol_claim("table2_test", "A beats B", ("A", "B"), weak, weak,
                              ("Best fixed box", {"gt_known_tau_fixed": high, "gt_known_tau_val": high}))
    assert neither.verdict == "not testable here" and "neither localizes better than the best baseline" in neither.ours
    assert _protocol_claim("table2_test", "A beats B", ("A", "B"), None, weak, baseline).verdict == "—"


def test_a_claim_against_a_baseline_is_decided_at_the_papers_tau_and_at_the_val_chosen_tau():
    """A map method against a baseline: "same direction" only when it wins at the paper's 20% AND at its own
    val-chosen tau; "depends on the protocol" when it wins at one only; its seeds are averaged image by image."""
    from cam_lib.series.tables import _baseline_claim

    rng = np.random.default_rng(1)
    hits = lambda p: (rng.random(400) < p).astype(float)   # noqa: E731
    box = hits(0.5)
    fixed_box = {"gt_known_tau_fixed": box, "gt_known_tau_val": box}       # no threshold: the same under both
    strong = {"gt_known_tau_fixed": [hits(0.8), hits(0.8)], "gt_known_tau_val": [hits(0.85), hits(0.85)]}
    claim = _baseline_claim("table7", "X beats the best baseline", "X", strong, fixed_box)
    assert claim.verdict == "same direction" and claim.ours.count("difference") == 2
    assert f"X {100 * np.mean(strong['gt_known_tau_val']):.1f} vs baseline {100 * box.mean():.1f}" in claim.ours
    only_val = {"gt_known_tau_fixed": [hits(0.3)], "gt_known_tau_val": [hits(0.8)]}   # like Grad-CAM on Lite2-GAP
    assert _baseline_claim("table7", "X", "X", only_val, fixed_box).verdict == "depends on the protocol"
    assert _baseline_claim("table7", "X", "X", {"gt_known_tau_fixed": [box], "gt_known_tau_val": [box]},
                           fixed_box).verdict == "not resolved"
    assert _baseline_claim("table7", "X", "X", None, fixed_box).ours == "not run in this profile"


# --- real images: the ladder against the baselines, and the CAM floor (notebook 07) --------------------------------

def _boxes_of(folder, image_id: str) -> str:
    return (folder / "bbox" / f"{image_id}.xml").read_text()


def test_the_real_table_chooses_thresholds_and_boxes_on_one_half_and_reports_the_other(untrained, tmp_path):
    """table7_real: the content-free boxes come from the first half's ground truth only (changing a second-half box
    leaves them), every row is measured on the second half, the three boxes have no MaxBoxAccV2, and each network
    of the ladder is compared with the best baseline of the first half, its margin read against the target."""
    from conftest import write_imagenet

    from cam_lib.series.tables import REAL_TARGET, _first_half_boxes, _real_halves

    root = tmp_path / "real"
    write_imagenet(root, n=12, size=(64, 64))
    s = dataclasses.replace(untrained, checkpoints=tmp_path / "ck", results=tmp_path / "res")
    ds, first, second = _real_halves(s, root)
    assert len(first) == len(second) == 6 and not set(first) & set(second)
    before = _first_half_boxes(ds, first)
    victim = ds.samples[second[0]][0].stem     # move a second-half image's box: the chosen boxes stay
    xml = _boxes_of(root, victim)
    (root / "bbox" / f"{victim}.xml").write_text(xml.replace("<xmin>2</xmin>", "<xmin>40</xmin>", 1))
    ds2, first2, _ = _real_halves(s, root)
    assert list(first2) == list(first) and _first_half_boxes(ds2, first2) == before
    table = series.table7_real(s, root, methods=("cam", "border_contrast"), ladder=("tf_efficientnet_lite0",))
    fixed = [r for r in table.rows if r.labels["method"] == "fixed box"]
    assert {r.labels["row"].split(" (")[0] for r in fixed} >= {"Whole frame"} and len(fixed) == 3 * 5
    assert all(math.isnan(r.ours) for r in fixed if r.key in ("maxboxacc_v2", "top1_loc_err", "tau_val"))
    frame = next(r for r in fixed if r.key == "gt_known_tau_val" and r.labels["row"].startswith("Whole frame"))
    hits = frame_hits([ds2.samples[i][2].numpy() for i in second], [(64, 64)] * len(second))
    assert frame.ours == pytest.approx(100 * hits.mean())
    ladder = [c for c in table.claims if "best baseline" in c.claim]
    assert len(ladder) == 1 and f"+{REAL_TARGET:.0f} points" in ladder[0].claim
    assert ladder[0].ours.count("difference") == 2   # at 20% and at the first-half tau
    diff = float(ladder[0].ours.split("its own val tau: ")[1].split("difference ")[1].split(" ")[0])
    assert ("reaches" in ladder[0].ours) == (diff >= REAL_TARGET)
    assert "the other 6" in table.notes
    with pytest.raises(BadInputError, match="methods"):
        series.table7_real(s, root, methods=("border_contrast", "cam"), ladder=("tf_efficientnet_lite0",))


def test_the_floor_table_measures_the_true_class_raw_cam(untrained, tmp_path):
    """table7_floor on real-layout images: three rows per network, the mean floor equal to map_floor of the true
    class's raw CAM computed here, the classifier's common part (under 1% for the released network), and no embedded rows for a setup without ImageNet-backbone GAP networks."""
    from conftest import write_imagenet

    from cam_lib.cam import compute_cams, map_floor
    from cam_lib.data import build_dataset, make_loader
    from cam_lib.data.common import eval_transform

    root = tmp_path / "real"
    write_imagenet(root, n=4, size=(64, 64))
    s = dataclasses.replace(untrained, checkpoints=tmp_path / "ck", results=tmp_path / "res")
    table = series.table7_floor(s, root, ladder=("tf_efficientnet_lite0",))
    assert [r.key for r in table.rows] == ["floor", "floor_share", "common"]
    ds = build_dataset("imagenet", root, split="val", transform=eval_transform("resize", 224))
    net = build_model("tf_efficientnet_lite0", pretrained=True).eval()
    batch = next(iter(make_loader(ds, len(ds))))
    with torch.no_grad():
        want = map_floor(compute_cams(net, batch.images, classes="gt", targets=batch.labels,
                                      normalize=False).maps[:, 0])
    assert table.rows[0].ours == pytest.approx(100 * float(want[torch.isfinite(want)].mean()), abs=1e-3)
    from cam_lib.models import common_component

    assert table.rows[2].ours == pytest.approx(100 * common_component(net)) and table.rows[2].ours < 1.0
    assert not series.table7_floor(s, None).rows


def test_a_network_trained_with_another_recipe_is_never_reused(untrained):
    """A checkpoint of an older recipe (e.g. before embedded_pretrained tuned the backbone's last stages) under a
    setup's name must not pass for this recipe's network on the embedded benchmark: the series names the folder and
    the fields. On real data the user trains beforehand, perhaps with other settings: a warning names them."""
    from dataclasses import asdict, replace

    from cam_lib.train import RECIPES, save_checkpoint

    s, model = untrained, "alexnet_gap"
    folder = s.checkpoints / model
    current = RECIPES[s.recipe_of(model)]
    save_checkpoint(folder / "checkpoint.pt", recipe=asdict(current))
    assert artifacts.ensure_trained(s, model) == folder / "model.pt"      # the same recipe: reused
    old = {k: v for k, v in asdict(replace(current, epochs=current.epochs + 3)).items() if k != "tuned_stages"}
    save_checkpoint(folder / "checkpoint.pt", recipe=old)   # written before tuned_stages existed: 0 by default
    with pytest.raises(BadInputError, match=rf"{model} was trained with another recipe than this setup's \(epochs "
                                            rf"{current.epochs + 3} -> {current.epochs}\); delete that folder"):
        artifacts.ensure_trained(s, model)
    real = replace(s, data="imagenet")   # networks trained beforehand by the user: evaluated, with a warning
    with pytest.warns(UserWarning, match=rf"{model} was trained with another recipe than this setup's 'smoke' "
                                         rf"\(epochs {current.epochs + 3} -> {current.epochs}\); the series evaluates"):
        assert artifacts.ensure_trained(real, model) == folder / "model.pt"
    (folder / "checkpoint.pt").unlink()
    assert artifacts.ensure_trained(s, model) == folder / "model.pt"
