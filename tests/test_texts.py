"""Issue 15 (parts 4 and 6): what the notebooks say is written from the run's own numbers, and the tables and
charts are readable. Each test builds numbers that contradict the paper (or a figure whose boxes are all the whole
frame) and checks that the text says so: a fixed sentence would fail them."""

from __future__ import annotations

import math
from types import SimpleNamespace

import nbformat
import pytest
import torch

from cam_lib import results as res
from cam_lib import series
from cam_lib.figures import Panel, panel_chart, read_caption, save_figure
from cam_lib.reproduce import NOTEBOOKS_DIR, notebooks
from cam_lib.series.figures import _stats_sentence, box_stats, table_panels


def _fake_setup(tmp_path, **kw) -> SimpleNamespace:
    base = {"profile": "default", "data": "embedded", "results": tmp_path, "num_classes": 10, "seed": 0,
            "main_gap": "efficientnet_lite0_gap", "cub_root": None, "transfer": {}, "models": (), "device": "cpu",
            "extra_seeds": (), "seeded": (), "fine_tuned": {}, "width": 0.25}
    return SimpleNamespace(**(base | kw))


def _table2(ours: dict, claims=()) -> res.Table:
    """Table 2 with our top-1 localization error / GT-known accuracy for the given (method, model) keys (others
    not run), two content-free baselines and ``claims``; built by hand, nothing written."""
    rows = []
    for (method, model), (name, p1, p5) in res.PAPER_TABLE2.items():
        top1, gt = ours.get((method, model), (math.nan, math.nan))
        labels = {"row": name, "method": method, "model": model}
        rows += [res.TableRow(labels, "top-1 loc err", top1, p1, top1 - 3, top1 + 3, key="top1_loc_err"),
                 res.TableRow(labels, "top-5 loc err", top1 - 5, p5, top1 - 8, top1 - 2, key="top5_loc_err"),
                 res.TableRow(labels, "GT-known loc acc", gt, math.nan, gt - 4, gt + 4, key="gt_known_loc_acc"),
                 res.TableRow(labels, "MaxBoxAccV2", gt + 2, math.nan, gt - 2, gt + 6, key="maxboxacc_v2"),
                 res.TableRow(labels, "best threshold at IoU 0.5 (% of max)", 45.0 if gt == gt else math.nan, 20.0,
                              key="best_threshold")]
    for key, name, value in (("frame", "Whole frame (baseline)", 50.0),
                             ("best_fixed", "Best fixed box chosen on train (baseline)", 58.0)):
        rows.append(res.TableRow({"row": name, "method": "fixed box", "model": "-"}, "GT-known loc acc", value,
                                 math.nan, value - 5, value + 5, key=f"baseline:{key}"))
    return res.Table("table2", rows, claims)


def _table4(values) -> res.Table:
    """Table 4 with our values in the order of PAPER_TABLE4 (NaN: not run)."""
    return res.Table("table4", [res.TableRow({"key": k, "row": name, "annotation": ann}, "accuracy", v, paper,
                                             key="cam_loc_acc" if k == "cam_loc_acc" else "svm_accuracy")
                                for (k, (name, ann, paper)), v in zip(res.PAPER_TABLE4.items(), values)])


def test_a_caption_of_whole_frame_boxes_says_they_are_the_whole_frame():
    """The bug of 02_cam_vs_backprop: its caption said "CAM highlights whole objects" while every box was the
    whole frame. The caption now counts them, and counts the hits with the rule of the tables."""
    h, w = 32, 48
    frame = torch.tensor([[0, 0, w - 1, h - 1]] * 6)
    gt = torch.tensor([[[0, 0, w - 1, h - 1]], [[2, 2, 10, 10]], [[0, 0, 40, 30]], [[5, 5, 6, 6]],
                       [[0, 0, 30, 31]], [[1, 1, 2, 2]]])
    st = box_stats(frame, h, w, gt, torch.ones(6, 1, dtype=torch.bool))
    assert (st["n"], st["whole"], st["hits"], round(st["area"])) == (6, 6, 3, 100)
    text = _stats_sentence("CAM on googlenet_gap", st)
    assert "all 6 boxes are the whole frame" in text and "3 of 6 boxes hit the ground truth" in text
    small = box_stats(torch.tensor([[2, 2, 10, 10]] * 6), h, w, gt, torch.ones(6, 1, dtype=torch.bool))
    text = _stats_sentence("Backprop on googlenet", small)
    assert "none of the 6 boxes are the whole frame" in text and "1 of 6 boxes hits" in text


def test_table2_text_follows_the_numbers_not_the_paper(tmp_path):
    """CAM worse than Backprop and below the whole frame: the text must say so, whatever the paper found."""
    s = _fake_setup(tmp_path)
    t2 = _table2({("cam", "googlenet_gap"): (80.0, 30.0), ("backprop", "googlenet"): (60.0, 70.0),
                  ("cam", "efficientnet_lite0_gap"): (20.0, 75.0)},
                 [res.Claim("table2", "CAM on GoogLeNet-GAP localizes better than Backprop on GoogLeNet",
                            "CAM 80.0 vs Backprop 60.0", "opposite direction")])
    text = series.meaning(s, t2)    # from the Table alone: no results folder exists
    assert not (tmp_path / "tables").exists()
    assert text.startswith("**What the numbers mean.** In this run")
    assert "from 20.0% (EfficientNet-Lite0-GAP) to 80.0% (GoogLeNet-GAP)" in text
    assert "Below the whole frame: GoogLeNet-GAP 30.0%" in text
    assert "Above the best of them (best fixed box chosen on train, 58.0%) by more than the interval: " \
           "Backprop on GoogLeNet 70.0%, EfficientNet-Lite0-GAP 75.0%" in text
    assert "**opposite direction to the paper**" in text
    assert text.index("In this run") < text.index("The paper (ILSVRC val")   # ours first, then the paper
    assert "pipeline check" not in text
    assert "pipeline check" in series.meaning(_fake_setup(tmp_path, profile="smoke"), t2)


def test_table1_and_table4_texts_state_chance_and_a_zero_localization_rate(tmp_path):
    s = _fake_setup(tmp_path, num_classes=10)
    t1 = res.Table("table1", [res.TableRow({"row": name, "model": m}, metric, v, paper, key=key)
                              for m, name, v in (("googlenet_gap", "GoogLeNet-GAP", 90.0),
                                                 ("googlenet", "GoogLeNet", 40.0))
                              for metric, key, paper in (("top-1 cls err", "top1_cls_err", 35.0),
                                                         ("top-5 cls err", "top5_cls_err", 13.0))])
    text = series.meaning(s, t1)
    assert "guessing among the 10 classes errs 90.0% of the time" in text
    assert "No better than chance (the 95% interval of the error reaches chance): GoogLeNet-GAP." in text
    t4 = _table4((50.0, 48.0, 70.0) + (math.nan,) * 5 + (0.0,))
    text = series.meaning(s, t4)
    assert "No CAM box of the test birds reaches IoU 0.5 with the bird: the localization rate is 0%." in text
    assert "50.0% of the test birds are classified right from the full image, 48.0% from the crop" in text


def test_readable_table2_is_networks_by_metrics_without_rows_of_dashes(tmp_path):
    t2 = _table2({("cam", "googlenet_gap"): (60.0, 50.0), ("backprop", "googlenet"): (65.0, 40.0)})
    table, notes = res.readable(t2.df)
    assert list(table["row"]) == ["GoogLeNet-GAP", "Backprop on GoogLeNet", "Whole frame (baseline)",
                                  "Best fixed box chosen on train (baseline)"]
    assert list(table.columns) == ["row", "top-1 loc err", "top-1 loc err (paper)", "top-5 loc err",
                                   "top-5 loc err (paper)", "GT-known loc acc", "MaxBoxAccV2",
                                   "best threshold at IoU 0.5 (% of max)"]
    assert table.set_index("row").loc["GoogLeNet-GAP", "top-1 loc err"] == "60.0 [57.0, 63.0]"
    assert table.set_index("row").loc["GoogLeNet-GAP", "top-1 loc err (paper)"] == "56.4"
    assert notes[0].startswith("Not run in this profile") and "VGGnet-GAP" in notes[0]
    assert any("is 20 for every row" in n for n in notes)
    md = series.table_markdown(t2)
    assert md.count("\n| ") == len(table) and "| — | — | — | — | — |" not in md
    res.write_table(tmp_path, "table2", t2.df, {"data": "embedded benchmark", "profile": "default"})
    written = (tmp_path / "tables" / "table2.md").read_text()
    assert written.index("| row | top-1 loc err |") < written.index("<details>")   # the grid first
    assert "| ours | ci_low | ci_high | paper | diff |" in written                    # the long rows kept below


def test_charts_put_each_kind_of_number_on_its_own_axis_in_words(tmp_path):
    s = _fake_setup(tmp_path)
    t2 = _table2({("cam", "googlenet_gap"): (60.0, 50.0), ("backprop", "googlenet"): (65.0, 40.0)})
    panels, refs = table_panels(s, t2)
    axes = [p.axis for p in panels]
    assert len(panels) == 3 and "error" in axes[0] and "accuracy" in axes[1] and "threshold" in axes[2]
    assert {r["series"] for r in panels[0].rows} == {"top-1 localization error", "top-5 localization error"}
    assert [v for v, _ in panels[1].refs] == [50.0, 58.0]          # the content-free boxes drawn where they apply
    assert panels[2].refs == [(20.0, "the paper's fixed threshold (20%)")]
    for p in panels:
        assert not {"ours", "row", "key", "metric"} & set(p.axis.split()), p.axis
        assert all(r["item"] != "VGGnet-GAP" for r in p.rows)       # networks not run are left out
    t4 = _table4((50.0, 48.0, 70.0) + (math.nan,) * 5 + (30.0,))
    panels, _ = table_panels(s, t4)
    rate = [p for p in panels if any("CAM boxes" in r["item"] for r in p.rows)]
    assert len(rate) == 1 and len(rate[0].rows) == 1 and "IoU" in rate[0].axis   # the rate alone on its axis
    assert all("accuracy" in p.axis for p in panels if p is not rate[0])
    path = series.table_figure(s, t2, tmp_path / "t2.png")
    assert "95% intervals" in read_caption(path) and "no image content" in read_caption(path)


def test_panel_chart_and_captions_round_trip(tmp_path):
    path = panel_chart(tmp_path / "c.png", [Panel([{"item": "a", "series": "x", "value": 40.0, "low": 30.0,
                                                    "high": 50.0, "paper": 45.0}], "accuracy (%)", [(10.0, "chance")])],
                       "title", caption="IoU >= 0.5 — ≥ non-Latin text")
    assert read_caption(path) == "IoU >= 0.5 — ≥ non-Latin text"


def test_saved_figures_are_256_colour_pngs_the_same_bytes_each_time(tmp_path):
    """save_figure dithers to 256 colours (a third of the bytes for maps over images, so executed notebooks stay
    small) and stays deterministic: the same figure, the same file; the colours are the figure's (a map drawn in
    jet keeps its reds and blues)."""
    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(3, 3))
    fig.subplots().imshow(np.linspace(0, 1, 64 * 64).reshape(64, 64), cmap="jet")
    a = save_figure(fig, tmp_path / "a.png", caption="map")
    b = save_figure(fig, tmp_path / "b.png", caption="map")
    assert a.read_bytes() == b.read_bytes() and read_caption(a) == "map"
    with Image.open(a) as im:
        assert im.mode == "P" and len(im.getcolors(1024)) <= 256
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    assert ((rgb[:, 0] > 200) & (rgb[:, 2] < 60)).any() and ((rgb[:, 2] > 200) & (rgb[:, 0] < 60)).any()
    from matplotlib.figure import Figure

    assert read_caption(save_figure(Figure(), tmp_path / "plain.png")) == ""
    with pytest.raises(ValueError, match="nothing to draw"):
        panel_chart(tmp_path / "e.png", [Panel([], "x")])


def test_summary_is_a_few_lines_with_the_run_and_a_link_to_the_results_page(tmp_path):
    s = _fake_setup(tmp_path, profile="smoke", models=("efficientnet_lite0_gap", "alexnet_gap"),
                    fine_tuned={"efficientnet_lite0_gap": "smoke_pretrained"}, extra_seeds=(1,),
                    seeded_models=("efficientnet_lite0_gap",), width=0.125, transfer={"scenes": ("folder", "x")})
    s.pretrained_of = lambda m: m in s.fine_tuned
    s.width_of = lambda m: 1.0 if m in s.fine_tuned else s.width
    s.recipe_of = lambda m: s.fine_tuned.get(m, "smoke")
    text = series.summary(s)
    assert len(text.strip().splitlines()) <= 6 and "{" not in text
    assert "Profile `smoke`: a pipeline check" in text and "seed 0" in text and "also with seed 1" in text
    assert "`alexnet_gap` (from scratch, width 0.125)" in text and "the main GAP network" in text
    assert "`efficientnet_lite0_gap` (ImageNet backbone: its last 2 stages and the new layers fine-tuned" in text
    assert "README.md](" in text


def test_how_a_network_is_trained_is_read_from_its_recipe(tmp_path, monkeypatch):
    """The summary's words follow the recipe: another number of tuned stages, a frozen backbone or a whole
    network fine-tuned each reads differently (a fixed sentence would go stale)."""
    from dataclasses import replace

    from cam_lib.train import RECIPES

    s = _fake_setup(tmp_path, fine_tuned={"efficientnet_lite1_gap": "embedded_pretrained"}, width=0.25)
    s.pretrained_of = lambda m: m in s.fine_tuned
    s.width_of = lambda m: 1.0 if m in s.fine_tuned else s.width
    s.recipe_of = lambda m: s.fine_tuned.get(m, "embedded")
    how = series.texts.how_trained
    assert how(s, "googlenet_gap") == "from scratch, width 0.25"
    base = RECIPES["embedded_pretrained"]
    for rec, words in [(replace(base, tuned_stages=1), "its last 1 stage and the new layers fine-tuned"),
                       (replace(base, tuned_stages=3), "its last 3 stages and the new layers fine-tuned"),
                       (replace(base, tuned_stages=0), "ImageNet backbone frozen, the new layers trained"),
                       (replace(base, frozen=False, tuned_stages=0), "the whole network fine-tuned")]:
        monkeypatch.setitem(RECIPES, "embedded_pretrained", rec)
        assert words in how(s, "efficientnet_lite1_gap"), (rec, how(s, "efficientnet_lite1_gap"))


def test_photo_boxes_are_inside_the_frame_and_in_the_photos_order():
    from cam_lib.data.photos import wheel_photos

    gt, valid, named = series.photo_boxes(224)
    assert gt.shape == (len(wheel_photos()), 1, 4) and bool(valid.all())
    assert int(gt.min()) >= 0 and int(gt.max()) <= 223 and bool((gt[..., 2] > gt[..., 0]).all())
    notes = series.figures.photo_annotations()
    assert set(notes["photos"]) == {p.name for p in wheel_photos()} and "by hand" in notes["source"]
    # the class rule: the right box with a class that does not name the object is wrong; a photo without an
    # ImageNet class is not scored
    classes = torch.tensor([named[i][0] if named[i] else 0 for i in range(len(named))])
    assert series.figures.photo_hits(classes, gt[:, 0], gt, valid, named) == (sum(map(bool, named)),) * 2
    assert series.figures.photo_hits(classes + 1000, gt[:, 0], gt, valid, named)[0] == 0


def test_notebooks_show_texts_from_the_run_and_end_without_a_bare_path():
    for book in notebooks(NOTEBOOKS_DIR):
        nb = nbformat.read(book, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        setup = next(c for c in code if "series.setup(" in c)
        assert "s.describe()" not in setup and "series.summary(s)" in setup, book.name
        assert not any(c.strip() == "res.write_index(s.results)" for c in code), book.name
        assert not code[-1].strip().endswith(")") or code[-1].strip().startswith(("print(", "display(")), book.name
        fixed = [c.source for c in nb.cells if c.cell_type == "markdown" and "What the numbers mean" in c.source]
        assert fixed == [], book.name                   # written by series.meaning from the run's numbers
        for c in code:
            if "_figure(" in c or "training_curves(" in c:
                assert "series.caption(" in c, (book.name, c)
    demo = "\n".join(c.source for c in nbformat.read(NOTEBOOKS_DIR / "06_cam_figures.ipynb", as_version=4).cells)
    for call in ('build_model("tf_efficientnet_lite0", pretrained=True)', "compute_cams(", "boxes_from_maps(",
                 "photo_hits("):
        assert call in demo


@pytest.fixture(scope="module")
def smoke_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("texts")
    return series.setup("smoke", data_root=tmp / "data", checkpoints=tmp / "ck", results=tmp / "res", device="cpu")


def _blank_network(s, model):
    """A network whose feature maps are all zero: every map is constant, every box the whole frame."""
    from cam_lib.models import build_model

    net = build_model(model, num_classes=s.num_classes, width=s.width_of(model))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    return net.eval()


def test_figures_of_whole_frame_boxes_say_so_and_class_maps_show_the_true_class(smoke_setup, monkeypatch):
    import cam_lib.figures as drawing
    import cam_lib.series.figures as figures

    s = smoke_setup
    monkeypatch.setattr(figures, "load_trained", _blank_network)
    path = series.methods_figure(s, [("alexnet_gap", "cam")], s.figures / "02_cam_vs_backprop.png")
    text = series.caption(path)
    assert "CAM on alexnet_gap: all 6 boxes are the whole frame" in text
    assert "highlights whole objects" not in text
    seen = {}
    real = drawing.save_topk_overlay
    monkeypatch.setattr(drawing, "save_topk_overlay", lambda *a, **k: seen.update(a=a, k=k) or real(*a, **k))
    ds = series.dataset(s, "val", "alexnet_gap")
    index = next(i for i, (_, label, _) in enumerate(ds.samples) if label >= 6)   # classes 0-5 left it out before
    true = s.class_names[ds.samples[index][1]]
    path = series.class_maps_figure(s, s.figures / "06_class_maps.png", model="alexnet_gap", index=index)
    titles = seen["a"][4]
    assert seen["k"]["image_title"] == f"image: {true}" and titles[0].startswith(f"{true} (true)")
    assert len(titles) == 6 and sum(t.startswith(true + " ") for t in titles) == 1
    assert f"One validation image of class {true}" in series.caption(path)
    assert "6 boxes are the whole frame" in series.caption(path)
