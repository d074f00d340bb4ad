"""The notebook series and its runner (issue 5): every table written, reruns skip what is unchanged, a failing
notebook is named with its cell, the results page states the paper's claims; and the pieces behind them (tables
beside the paper's numbers, verdicts, parameter checks, the learning-rate schedule)."""

from __future__ import annotations

import json
import math
import shutil

import nbformat
import pandas as pd
import numpy as np
import pytest

from cam_lib import results as res
from cam_lib import series
from cam_lib.errors import BadInputError
from cam_lib.series.figures import _cam_model
from cam_lib.reproduce import NOTEBOOKS_DIR, ReproduceError, notebooks, parse_value, prepare, reproduce
from cam_lib.train import RECIPES, lr_factor

PARAMETERS = {"profile", "data", "data_root", "models", "device", "seed", "checkpoints", "results", "cub_root",
              "transfer", "test_root"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The whole series in the smoke profile, once for the module."""
    tmp = tmp_path_factory.mktemp("series")
    params = {"profile": "smoke", "data": "embedded", "data_root": str(tmp / "data"), "device": "cpu", "seed": 0}
    log: list[str] = []
    records = reproduce(params, tmp / "results", tmp / "checkpoints", progress=False, log=log.append)
    return tmp, params, records, log


def test_runner_writes_every_table_figure_and_the_results_page(smoke_run):
    tmp, _, records, _ = smoke_run
    assert [r["name"] for r in records] == [b.stem for b in notebooks()]
    assert all(r["status"] == "ran" for r in records)
    results = tmp / "results"
    for i in (1, 2, "2_test", 3, 4, 5):
        csv, md = results / "tables" / f"table{i}.csv", results / "tables" / f"table{i}.md"
        text = csv.read_text()
        assert text.startswith(f"# {res.TABLES[f'table{i}']}\n")
        for key in ("data:", "profile: smoke", "hardware:", "versions:", "seed: 0", "commit:", "NOTE:"):
            assert f"# {key}" in text, (csv, key)
        df = pd.read_csv(csv, comment="#")
        assert {"ours", "paper", "diff"} <= set(df.columns)
        both = df.dropna(subset=["ours", "paper"])
        assert len(both) > 0 and ((both.ours - both.paper - both["diff"]).abs() < 1e-3).all()
        assert "| ours | ci_low | ci_high | paper | diff |" in md.read_text()
        assert res.check_table(results, f"table{i}", series.PROFILES["smoke"].models) == f"table{i}: ok"
    t1 = pd.read_csv(results / "tables" / "table1.csv", comment="#")
    ran = set(t1.dropna(subset=["ours"]).model)
    assert ran == set(series.PROFILES["smoke"].models)
    assert t1.set_index(["model", "metric"]).loc[("googlenet_gap", "top-1 cls err"), "paper"] == 35.0
    figures = {p.name for p in (results / "figures").glob("*.png")}
    assert {"01_training_curves.png", "02_cam_vs_backprop.png", "02_gap_vs_gmp.png", "04_birds_cam_boxes.png",
            "06_top5_cams.png", "06_class_maps.png", "06_photos_imagenet.png"} <= figures
    page = (results / "README.md").read_text()
    assert "## The paper's claims, in this run" in page and "GAP localizes better than GMP" in page
    assert all(f"tables/table{i}.md" in page for i in range(1, 6)) and "figures/02_gap_vs_gmp.png" in page
    assert "GMP maps cover only the most discriminative part" in page   # every figure has its one-line caption
    for book in notebooks():
        executed = nbformat.read(results / "executed" / book.name, as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and "profile = \"smoke\"" in injected[0].source
    # every checkpoint was trained once, in notebook 01, and reused afterwards
    state = json.loads((results / "executed" / "state.json").read_text())
    trained = [p for p in state["01_classification.ipynb"]["outputs"] if p.endswith("model.pt")]
    smoke = series.PROFILES["smoke"]
    assert len(trained) == len(smoke.models) + len(smoke.extra_seeds) * len(smoke.seeded)   # + the seed variants
    assert not any(p.endswith("model.pt") for name, s in state.items() if name != "01_classification.ipynb"
                   for p in s["outputs"])


def test_rerun_skips_unchanged_notebooks_and_reruns_what_lost_its_outputs(smoke_run):
    tmp, params, _, _ = smoke_run
    log: list[str] = []
    again = reproduce(params, tmp / "results", tmp / "checkpoints", progress=False, log=log.append)
    assert all(r["status"] == "skipped" for r in again), log
    (tmp / "results" / "tables" / "table3.csv").unlink()
    third = {r["name"]: r["status"] for r in reproduce(params, tmp / "results", tmp / "checkpoints", progress=False,
                                                        log=log.append)}
    assert third["03_test_heuristic"] == "ran" and third["01_classification"] == "skipped"
    assert (tmp / "results" / "tables" / "table3.csv").exists()
    changed = {r["name"]: r["status"] for r in reproduce({**params, "seed": 0, "models": None}, tmp / "results",
                                                          tmp / "checkpoints", progress=False, only=["00_data"],
                                                          log=log.append)}
    assert changed["00_data"] == "ran" and changed["02_localization"] == "skipped"   # new parameter: rerun


def test_a_failing_notebook_is_named_with_its_cell(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    nbformat.write(nb, folder / "00_fails.ipynb")
    shutil.copy(folder / "00_fails.ipynb", folder / "01_never.ipynb")
    with pytest.raises(ReproduceError, match=r"notebooks/00_fails.ipynb failed at cell 3 .*ValueError: boom"):
        reproduce({"profile": "smoke"}, tmp_path / "results", tmp_path / "ck", folder=folder, progress=False,
                  log=lambda _: None)
    assert (tmp_path / "results" / "executed" / "00_fails.ipynb").exists()        # the partial notebook is kept
    assert not (tmp_path / "results" / "executed" / "01_never.ipynb").exists()     # the run stopped there
    assert "00_fails.ipynb" not in json.loads((tmp_path / "results" / "executed" / "state.json").read_text()
                                              if (tmp_path / "results" / "executed" / "state.json").exists()
                                              else "{}")


def _one_notebook(folder):
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, folder / "00_ok.ipynb")
    return folder


def test_a_rerun_runs_again_when_the_data_it_reads_changed(tmp_path):
    """The skip decision sees the real data's files: a box corrected in place (same size, a new modification time)
    or an added image runs the notebooks again; before, they were skipped and the old numbers stayed."""
    from conftest import write_imagenet

    folder, real = _one_notebook(tmp_path / "books"), tmp_path / "real"
    write_imagenet(real, n=2)
    params = {"profile": "smoke", "data": "imagenet", "data_root": str(real)}

    def run() -> list[str]:
        return [r["status"] for r in reproduce(params, tmp_path / "results", tmp_path / "ck", folder=folder,
                                               progress=False, log=lambda _: None)]
    assert run() == ["ran"] and run() == ["skipped"]
    csv = real / "LOC_val_solution.csv"
    text = csv.read_text()
    csv.write_text(text.replace(" 2 3 ", " 4 3 ", 1))   # the same length: only the content and the time differ
    assert len(csv.read_text()) == len(text) and run() == ["ran"] and run() == ["skipped"]
    (real / "val" / "extra.txt").write_text("a new file")
    assert run() == ["ran"]


def test_the_data_stamp_reads_the_named_folders_only(tmp_path):
    from cam_lib.reproduce import _data_stamp

    data, test, sample = tmp_path / "data", tmp_path / "test", tmp_path / "sample"
    for f in (data, test):
        f.mkdir()
        (f / "a.txt").write_text("1")
    embedded = {"data": "embedded", "data_root": str(data)}
    base = _data_stamp(embedded, sample=str(sample))
    (data / "a.txt").write_text("22")   # the embedded benchmark: its generator's code decides, not its files
    assert _data_stamp(embedded, sample=str(sample)) == base
    sample.mkdir()   # the real sample appears: notebook 07 measures it now
    assert _data_stamp(embedded, sample=str(sample)) != base
    named = {**embedded, "test_root": str(test)}
    before = _data_stamp(named, sample=str(sample))
    (test / "b.txt").write_text("1")
    assert _data_stamp(named, sample=str(sample)) != before
    real = {"data": "imagenet", "data_root": str(data), "transfer": {"t": ["folder", str(test)]}}
    before = _data_stamp(real, sample=str(sample))
    (data / "a.txt").write_text("333")
    after = _data_stamp(real, sample=str(sample))
    (test / "b.txt").unlink()
    assert len({before, after, _data_stamp(real, sample=str(sample))}) == 3


def test_every_notebook_has_the_parameters_cell_and_is_stored_without_outputs():
    books = notebooks(NOTEBOOKS_DIR)
    assert [b.stem for b in books] == ["00_data", "01_classification", "02_localization", "03_test_heuristic",
                                       "04_cub_finegrained", "05_generic_features", "06_cam_figures", "07_successors"]
    for book in books:
        nb = nbformat.read(book, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, book
        names = {line.split("=")[0].split(":")[0].strip() for line in tagged[0].source.splitlines()
                 if "=" in line and not line.startswith("#")}
        assert names == PARAMETERS, (book, names ^ PARAMETERS)
        assert not any(cell.get("outputs") for cell in nb.cells), book
        checks = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
        assert len(checks) == 1 and checks[0].metadata["expected_output"].endswith("\n"), book


def test_prepare_injects_parameters_and_the_outputs_nbval_checks(tmp_path):
    written = prepare({"profile": "smoke", "data_root": "data"}, tmp_path / "nb", tmp_path / "res", tmp_path / "ck")
    assert [p.name for p in written] == [b.name for b in notebooks()]
    nb = nbformat.read(tmp_path / "nb" / "01_classification.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'profile = "smoke"' in injected.source and f'results = "{tmp_path / "res"}"' in injected.source
    check = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
    assert check.outputs[0]["text"] == "table1: ok\n"


def test_setup_names_the_bad_parameter(tmp_path):
    with pytest.raises(BadInputError, match="parameter profile='huge'"):
        series.setup("huge", data_root=tmp_path)
    with pytest.raises(BadInputError, match="parameter data='coco'"):
        series.setup("smoke", data="coco", data_root=tmp_path)
    with pytest.raises(BadInputError, match=r"parameter models='resnet9' is not in the registry"):
        series.setup("smoke", data_root=tmp_path, models=["resnet9"])
    with pytest.raises(BadInputError, match="parameter data_root="):
        series.setup("smoke", data="imagenet", data_root=tmp_path / "missing")


def test_figures_draw_a_network_the_user_kept(tmp_path):
    s = series.setup("smoke", data_root=tmp_path, models=["alexnet", "alexnet_gap"], checkpoints=tmp_path / "ck",
                     results=tmp_path / "res")
    assert _cam_model(s, None) == "alexnet_gap"          # GoogLeNet-GAP was left out: not trained for a figure
    assert _cam_model(s, "nin") == "nin"
    fc_only = series.setup("smoke", data_root=tmp_path, models=["alexnet"], checkpoints=tmp_path / "ck",
                           results=tmp_path / "res")
    with pytest.raises(BadInputError, match=r"parameter models=\['alexnet'\]: the CAM figures need"):
        _cam_model(fc_only, None)


def test_tables_and_figures_never_train_a_missing_network(tmp_path, monkeypatch):
    import cam_lib.series.artifacts as artifacts

    monkeypatch.setattr(artifacts, "train", lambda *a, **k: pytest.fail("a table or figure trained a network"))
    s = series.setup("smoke", data_root=tmp_path / "data", models=["googlenet_gap"], checkpoints=tmp_path / "ck",
                     results=tmp_path / "res")
    for ask in (series.table1, series.table2, series.table2_test, series.table3, series.table4, series.table5,
                lambda s: series.topk_figure(s, tmp_path / "f.png")):
        with pytest.raises(series.NotTrainedError, match=r"googlenet_gap is not trained .*01_classification.*"
                                                         r"--only 01_classification"):
            ask(s)
    assert not (tmp_path / "ck").exists()     # nothing was written either


def test_fine_tuned_networks_have_their_own_recipe_size_and_seed_variants(tmp_path):
    s = series.setup("smoke", data_root=tmp_path / "data", checkpoints=tmp_path / "ck", results=tmp_path / "res")
    assert s.main_gap == "efficientnet_lite0_gap" and s.fine_tuned == {"efficientnet_lite0_gap": "smoke_pretrained"}
    assert (s.recipe_of("efficientnet_lite0_gap"), s.width_of("efficientnet_lite0_gap"),
            s.pretrained_of("efficientnet_lite0_gap")) == ("smoke_pretrained", 1.0, True)
    assert (s.recipe_of("alexnet_gap"), s.width_of("alexnet_gap"), s.pretrained_of("alexnet_gap")) == \
        ("smoke", 0.125, False)
    assert series.dataset(s, "val", "efficientnet_lite0_gap")[0][0].shape[-1] == RECIPES["smoke_pretrained"].image_size
    variant = series.seed_variant(s, 1)
    assert (variant.seed, variant.models, variant.checkpoints) == (1, ("efficientnet_lite0_gap",),
                                                                   tmp_path / "ck" / "embedded-smoke-s0-t1")
    assert variant.val_root == s.val_root and series.seed_variant(s, 0) is s   # same data; seed 0 is the setup
    paper = series.setup("smoke", data_root=tmp_path / "data", models=["googlenet_gap", "alexnet"],
                         results=tmp_path / "res")
    assert paper.main_gap == "googlenet_gap" and paper.fine_tuned == {}


def test_parse_value_reads_yaml_like_papermill():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("null") is None
    assert parse_value("[alexnet_gap, googlenet_gap]") == ["alexnet_gap", "googlenet_gap"]
    assert parse_value("cuda:1") == "cuda:1" and parse_value("{a: [b, c]}") == {"a": ["b", "c"]}
    # issue 13: what a user types by hand is read as meant, or refused naming -p NAME
    assert parse_value("alexnet_gap", "models") == ["alexnet_gap"]
    assert parse_value("alexnet_gap, googlenet_gap", "models") == ["alexnet_gap", "googlenet_gap"]
    assert parse_value("[alexnet_gap]", "models") == ["alexnet_gap"] and parse_value("null", "models") is None
    with pytest.raises(BadInputError, match=r"-p model: not a parameter of the notebooks \(did you mean models\?\)"):
        parse_value("[alexnet_gap]", "model")
    with pytest.raises(BadInputError, match=r"-p transfer '\{a: \[b': not valid YAML"):
        parse_value("{a: [b", "transfer")
    with pytest.raises(BadInputError, match=r"-p seed 'one': expected int, got str"):
        parse_value("one", "seed")
    with pytest.raises(BadInputError, match=r"-p transfer '\[1, 2\]': expected dict"):
        parse_value("[1, 2]", "transfer")


def test_tables_put_the_paper_beside_ours(tmp_path):
    env = {"data": "embedded benchmark (test)", "profile": "smoke"}
    t1 = res.comparison([res.TableRow({"row": row, "model": model}, "top-1 cls err", ours, paper)
                         for row, model, ours, paper in (("GoogLeNet-GAP", "googlenet_gap", 40.0, 35.0),
                                                         ("GoogLeNet", "googlenet", 30.0, 31.9),
                                                         ("AlexNet-GAP", "alexnet_gap", 20.0, 51.1),
                                                         ("AlexNet", "alexnet", 25.0, 42.6),
                                                         ("VGGnet", "vgg16", math.nan, 31.2))])
    back = res.TableRow.from_json(t1.iloc[1].to_dict())
    assert (back.labels, back.metric, back.ours, back.paper) == ({"row": "GoogLeNet", "model": "googlenet"},
                                                                "top-1 cls err", 30.0, 31.9)
    assert math.isnan(back.ci_low) and math.isnan(back.ci_high)     # no interval measured for this row
    assert t1["diff"].tolist()[:2] == pytest.approx([5.0, -1.9]) and math.isnan(t1["diff"].iloc[4])
    res.write_table(tmp_path, "table1", t1, env)
    md = (tmp_path / "tables" / "table1.md").read_text()
    assert "| VGGnet | vgg16 | top-1 cls err | — | — | — | 31.20 | — |" in md and "NOTE:" in md
    t1.loc[0, "ours"] = 120.0
    res.write_table(tmp_path, "table1", t1, env)
    assert res.check_table(tmp_path, "table1").startswith("table1: values outside [0, 100]")
    assert res.check_table(tmp_path, "table2") == "table2: missing"
    assert res.paper_table5("gap", "things") == 91.98 and res.paper_table5("fc7", "scene15") == 84.23
    with pytest.raises(ValueError, match="table name"):
        res.write_table(tmp_path, "table9", t1, env)


def test_learning_rate_warms_up_then_follows_the_schedule():
    cosine = RECIPES["embedded"]
    f = lr_factor(cosine, steps_per_epoch=10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)            # one epoch of linear warm-up
    assert f(10) == pytest.approx(1.0) and f(10 + 70) == pytest.approx(0.5)      # cosine: half-way is 0.5
    assert f(cosine.epochs * 10) == pytest.approx(0.0, abs=1e-12)
    step = RECIPES["paper"]
    g = lr_factor(step, steps_per_epoch=10)
    assert g(0) == 1.0 and g(19) == 1.0 and g(20) == pytest.approx(0.1) and g(45) == pytest.approx(0.01)


def test_claims_are_decided_by_the_paired_interval_over_images_and_seeds(tmp_path):
    """A claim says "same direction" / "opposite direction" only when the paired interval of the difference
    excludes 0; with several seeds the interval is over the per-image outcomes averaged across seeds and each
    seed's difference is listed; the results page shows what every table wrote."""
    from cam_lib.series.tables import _paired_claim

    rng = np.random.default_rng(0)
    worse = (rng.random(400) < 0.6).astype(float)          # e.g. per-image errors of method a ...
    better = worse * (rng.random(400) < 0.5)               # ... and of b, which errs on a subset of a's images
    c = _paired_claim("table2", "b beats a", ("a", "b"), [worse], [better], +1)
    assert isinstance(c, res.Claim) and c.ran
    assert c.verdict == "same direction" and c.seeds == "" and "difference" in c.ours
    assert _paired_claim("table2", "x", ("a", "b"), [better], [worse], +1).verdict == "opposite direction"
    noise = [(rng.random(400) < 0.5).astype(float) for _ in range(2)]
    assert _paired_claim("table2", "x", ("a", "b"), noise[:1], noise[1:], +1).verdict == "not resolved"
    assert _paired_claim("table2", "x", ("a", "b"), [], [better], +1).verdict == "—"
    seeds = _paired_claim("table2", "x", ("a", "b"), [worse, worse, worse], [better, worse, better], +1)
    assert seeds.seeds.startswith("3 seeds: ") and seeds.seeds.count(",") == 2 and "+0.0" in seeds.seeds
    assert _paired_claim("table2", "x", ("a", "b"), [worse, worse], [better], +1).seeds == ""   # seeds matched
    res.write_claims(tmp_path, "table2", [c, seeds])
    res.write_claims(tmp_path, "table1", [_paired_claim("table1", "y", ("a", "b"), [], [], -1)])
    assert [x["table"] for x in res.claims(tmp_path)] == ["table1", "table2", "table2"]   # in table order
    assert [res.Claim.from_json(x) for x in res.claims(tmp_path)][1:] == [c, seeds]        # the same claims back
    page = res.write_index(tmp_path).read_text()
    assert "| table2 | b beats a |" in page and "same direction" in page and "3 seeds: " in page
    with pytest.raises(ValueError, match="table name"):
        res.write_claims(tmp_path, "table9", [])


def test_two_runners_never_write_into_one_results_folder(tmp_path):
    """Issue 13: two reproduce runs on one results folder interleaved their state; the second now stops at once,
    naming the process that holds the folder."""
    import fcntl
    import os

    from cam_lib.reproduce import _lock

    lock = tmp_path / "results" / "executed" / ".lock"
    lock.parent.mkdir(parents=True)
    with _lock(lock):
        assert lock.read_text() == f"pid {os.getpid()}"
        with open(lock) as other:   # another open file description: flock sees a second holder
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BadInputError, match=rf"another reproduce \(pid {os.getpid()}\) is writing"):
            reproduce({"profile": "smoke"}, tmp_path / "results", tmp_path / "ck", progress=False, log=lambda m: None)
    with _lock(lock):   # released: the next runner takes it
        pass


def test_executed_notebooks_have_no_stderr_and_the_runner_printed_each_networks_epochs(smoke_run):
    """Issue 15: progress rendered as thousands of stderr outputs in the executed notebooks, and the terminal showed
    nothing per network or epoch. Now: plain lines, the name first, in the runner's log (its terminal) and as the
    training cell's stdout; no stderr output anywhere; the results folder says which run it holds."""
    tmp, _, _, log = smoke_run
    for book in notebooks():
        executed = nbformat.read(tmp / "results" / "executed" / book.name, as_version=4)
        stderr = [o.get("text", "")[:200] for c in executed.cells for o in c.get("outputs", [])
                  if o.get("name") == "stderr"]
        assert stderr == [], (book.name, stderr)
    smoke = series.PROFILES["smoke"]
    for model in smoke.models:
        mine = [line.strip() for line in log if line.strip().startswith(f"{model}  ")]
        assert mine and mine[0].startswith(f"{model}  ") and "epoch" not in mine[0].split("  ")[1][:5], mine
        assert any(line.startswith(f"{model}  epoch 2/2  loss ") and "img/s" in line for line in mine), mine
    training = nbformat.read(tmp / "results" / "executed" / "01_classification.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in training.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "epoch 1/2  loss " in text
    assert json.loads((tmp / "results" / "run.json").read_text())["run"] == "embedded-smoke-s0"
    assert (tmp / "results" / "README.md").read_text().startswith("# Results of run embedded-smoke-s0")
