"""Issue 15: results never mix (a run writes its own folder, or is refused a folder that another run wrote), the
notebooks' parameters are typed and their paths do not depend on the working directory, and training progress
reaches the user as plain lines (reproduce) without stderr or the kernel's TCP warning."""

from __future__ import annotations

import json
import os
import sys

import nbformat
import pytest

from cam_lib import results as res
from cam_lib import series
from cam_lib.errors import BadInputError
from cam_lib.progress import PROGRESS_LOG_ENV, TrainingProgress, epoch_line, progress_mode, time_left
from cam_lib.reproduce import NOTEBOOKS_DIR, PARAMETERS, _kernel_manager_class, _ProgressLines, notebooks, \
    parse_value, prepare, reproduce, results_for
from cam_lib.runs import REPO_ROOT, RUN_FILE, check_results, claim_results, recorded_run, repo_path, \
    results_folder, run_name


def test_the_default_run_writes_results_and_every_other_run_its_own_folder():
    assert results_folder("embedded", "default", 0) == REPO_ROOT / "results"
    assert results_folder("embedded", "smoke", 0) == REPO_ROOT / "results" / "runs" / "embedded-smoke-s0"
    assert results_folder("embedded", "default", 1) == REPO_ROOT / "results" / "runs" / "embedded-default-s1"
    assert run_name("imagenet", "default", 0) == "imagenet-default-s0"
    assert results_for({"profile": "smoke"}) == REPO_ROOT / "results" / "runs" / "embedded-smoke-s0"
    assert results_for({}) == REPO_ROOT / "results"
    # the committed results/ says which run it holds
    assert recorded_run(REPO_ROOT / "results") == {"run": "embedded-default-s0", "data": "embedded",
                                                   "profile": "default", "seed": 0}
    assert (REPO_ROOT / "results" / RUN_FILE).exists()


def test_a_results_folder_written_by_another_run_is_refused(tmp_path):
    folder = tmp_path / "res"
    claim_results(folder, "embedded", "default", 0)
    assert json.loads((folder / RUN_FILE).read_text())["run"] == "embedded-default-s0"
    claim_results(folder, "embedded", "default", 0)   # the same run again: fine
    for other in (("embedded", "smoke", 0), ("embedded", "default", 1), ("imagenet", "default", 0)):
        with pytest.raises(BadInputError) as err:
            check_results(folder, *other)
        text = str(err.value)
        assert text.startswith(f"parameter results={str(folder)!r}: this results folder holds the run "
                               "embedded-default-s0 (data embedded, profile default, seed 0)")
        assert str(folder / RUN_FILE) in text and "--results" in text and "results = None" in text
        assert str(results_folder(*other)) in text and err.value.param == "results"
    # a folder written before run.json existed is recognised by its tables' header
    legacy = tmp_path / "legacy"
    res.write_table(legacy, "table1", res.comparison([res.TableRow({"row": "x"}, "m", 1.0, 2.0)]),
                    {"command": "...", "data": "embedded benchmark (...)", "profile": "smoke", "seed": 0})
    assert recorded_run(legacy)["run"] == "embedded-smoke-s0"
    with pytest.raises(BadInputError, match=r"holds the run embedded-smoke-s0 .*recorded in .*tables"):
        check_results(legacy, "embedded", "default", 0)


def test_reproduce_prepare_and_setup_refuse_another_runs_folder_before_any_work(tmp_path):
    folder = tmp_path / "res"
    claim_results(folder, "embedded", "default", 0)
    with pytest.raises(BadInputError, match="holds the run embedded-default-s0"):
        reproduce({"profile": "smoke"}, folder, tmp_path / "ck", progress=False, log=lambda _: None)
    assert not (folder / "executed").exists() and not (tmp_path / "ck").exists()
    with pytest.raises(BadInputError, match="holds the run embedded-default-s0"):
        prepare({"profile": "smoke"}, tmp_path / "nb", folder, tmp_path / "ck")
    assert not (tmp_path / "nb").exists()
    # a smoke notebook pointed at the repository's results/ (the default run) stops before building any data
    with pytest.raises(BadInputError, match=r"results/runs/embedded-smoke-s0"):
        series.setup("smoke", data_root=tmp_path / "data", results=REPO_ROOT / "results")
    assert not (tmp_path / "data").exists()


def test_setup_records_the_run_and_the_tables_and_page_say_which(tmp_path):
    s = series.setup("smoke", data_root=tmp_path / "data", checkpoints=tmp_path / "ck", results=tmp_path / "res",
                     models=["alexnet_gap"])
    assert recorded_run(s.results)["run"] == "embedded-smoke-s0"
    env = series.environment(s)
    assert env["run"] == "embedded-smoke-s0"
    res.write_table(s.results, "table1", res.comparison([res.TableRow({"row": "x"}, "m", 1.0, 2.0)]), env)
    assert "# run: embedded-smoke-s0" in (s.results / "tables" / "table1.csv").read_text()
    page = res.write_index(s.results).read_text()
    assert page.startswith("# Results of run embedded-smoke-s0")
    assert "not the project's default run" in page and "README.md" in page and "- run: embedded-smoke-s0" in page


def test_prepare_without_a_results_folder_leaves_it_to_the_notebook(tmp_path):
    prepare({"profile": "smoke", "data_root": str(tmp_path / "data")}, tmp_path / "nb")
    nb = nbformat.read(tmp_path / "nb" / "02_localization.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'profile = "smoke"' in injected.source
    assert "results =" not in injected.source and "checkpoints =" not in injected.source
    assert not (REPO_ROOT / "results" / "runs" / "embedded-smoke-s0" / "executed").exists()


def test_relative_paths_are_read_from_the_repository_root_not_the_working_directory(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert repo_path("data") == REPO_ROOT / "data" and repo_path(tmp_path) == tmp_path
    s = series.setup("smoke", data_root=tmp_path / "data", checkpoints="checkpoints", results=tmp_path / "res",
                     models=["alexnet_gap"])
    assert s.checkpoints == REPO_ROOT / "checkpoints" / "embedded-smoke-s0"
    assert list(elsewhere.iterdir()) == []


def test_parameters_cells_are_typed_as_the_runner_reads_them():
    """papermill --help-notebook shows the annotations (issue 15: it said "Unknown type" for each)."""
    from papermill.translators import PythonTranslator

    base = {"str": str, "int": int, "dict": dict, "list[str]": list}
    for book in notebooks(NOTEBOOKS_DIR):
        nb = nbformat.read(book, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        inferred = {p.name: p for p in PythonTranslator.inspect(cell)}
        assert set(inferred) == set(PARAMETERS), book
        for name, p in inferred.items():
            kind = p.inferred_type_name
            optional = kind.startswith("Optional[")
            assert base[kind[len("Optional["):-1] if optional else kind] in PARAMETERS[name], (book, name, kind)
            assert optional == (p.default == "None"), (book, name, kind, p.default)
            assert p.help, (book, name)
        exec(compile(cell.source, str(book), "exec"), {})   # the cell runs as it is
    assert parse_value("[alexnet_gap]", "models") == ["alexnet_gap"] and parse_value("3", "seed") == 3


def test_an_epoch_is_one_plain_line_with_the_networks_name():
    assert epoch_line("alexnet_gap", 3, 8, 1.234, 0.456, 212.3, 120) == \
        "alexnet_gap  epoch 3/8  loss 1.234  top-1 err 45.6%  212 img/s  ~2 min left"
    assert epoch_line("nin", 8, 8, 0.5, 0.1, 90, 0, 185) == \
        "nin  epoch 8/8  loss 0.500  top-1 err 10.0%  90 img/s  done in 3 min"
    assert time_left(40) == "~40 s left" and time_left(5400) == "~1.5 h left"


def test_under_reproduce_progress_is_lines_on_stdout_and_in_the_runners_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "progress.log"
    monkeypatch.setenv(PROGRESS_LOG_ENV, str(path))
    assert progress_mode(True) == "lines" and progress_mode(False) == "off"
    p = TrainingProgress("alexnet_gap", 2)
    p.begin(10, "training 2 epochs")
    for _ in range(10):
        p.step()
    p.epoch(1, 1.5, 0.5, 100.0)
    p.epoch(2, 1.0, 0.25, 100.0)
    p.close()
    lines = path.read_text().splitlines()
    assert lines[0] == "alexnet_gap  training 2 epochs"
    assert lines[1].startswith("alexnet_gap  epoch 1/2  loss 1.500  top-1 err 50.0%  100 img/s  ~")
    assert lines[2].startswith("alexnet_gap  epoch 2/2  loss 1.000  top-1 err 25.0%  100 img/s  done in ")
    out = capsys.readouterr()
    assert out.out.splitlines() == lines and out.err == ""


def test_the_runner_prints_the_kernels_lines_while_it_runs(monkeypatch):
    monkeypatch.delenv(PROGRESS_LOG_ENV, raising=False)
    seen: list[str] = []
    follow = _ProgressLines(seen.append)
    path = os.environ[PROGRESS_LOG_ENV]   # what the kernel inherits
    with open(path, "a") as f:
        f.write("alexnet_gap  training 2 epochs\nalexnet_gap  epoch 1/2 ...\n")
    follow.stop()
    assert seen == ["    alexnet_gap  training 2 epochs", "    alexnet_gap  epoch 1/2 ..."]
    assert PROGRESS_LOG_ENV not in os.environ and not os.path.exists(path)


def test_training_logs_the_learning_rate_it_used_and_names_the_network_first(tmp_path, monkeypatch, capsys):
    """The last epoch of a cosine schedule logged "lr 0" (the rate after its last step); the name showed only when
    a network had finished."""
    import csv

    from cam_lib.data.synthetic import build
    from cam_lib.train import RECIPES, lr_factor, train

    objects = build("smoke", tmp_path / "syn", workers=1) / "objects"
    monkeypatch.setenv(PROGRESS_LOG_ENV, str(tmp_path / "progress.log"))
    train("alexnet_gap", "imagenet", objects, tmp_path / "out", width=0.125, recipe="smoke",
          overrides={"epochs": 2, "image_size": 56, "resize": 64, "batch_size": 32}, max_batches=2, progress=True)
    rows = list(csv.DictReader((tmp_path / "out" / "log.csv").open()))
    f = lr_factor(RECIPES["smoke"], 2)
    assert float(rows[1]["lr"]) > 0   # the rate after the last step is 0 on a cosine schedule
    assert float(rows[1]["lr"]) == pytest.approx(RECIPES["smoke"].new_lr * (f(2) + f(3)) / 2)
    lines = (tmp_path / "progress.log").read_text().splitlines()
    assert lines[0].startswith("alexnet_gap  training 2 epochs") and len(lines) == 3
    assert lines[2].startswith("alexnet_gap  epoch 2/2  loss ")
    assert capsys.readouterr().err == ""


def test_the_runners_kernel_is_not_left_unencrypted_on_tcp():
    """ipykernel warns "Kernel is running over TCP without encryption" once per notebook unless the kernel manager
    provisions CurveZMQ keys (or uses IPC)."""
    import zmq

    km = _kernel_manager_class()(kernel_name="python3")
    if zmq.has("curve"):
        assert km.transport_encryption == "auto" and km.transport == "tcp"
    else:
        assert km.transport == ("tcp" if sys.platform == "win32" else "ipc")


def test_a_missing_network_is_named_before_the_benchmark_is_built_or_the_folder_claimed(tmp_path):
    """Issue 23: a notebook after 01 on an untrained run stops at once, naming notebook 01, with nothing built."""
    from cam_lib.series import NotTrainedError

    with pytest.raises(NotTrainedError, match=r"alexnet_gap not trained for this run .* --only 01_classification"):
        series.setup("smoke", data_root=tmp_path / "data", checkpoints=tmp_path / "ck", results=tmp_path / "res",
                     models=["alexnet_gap"], trained=True)
    assert not (tmp_path / "data").exists() and not (tmp_path / "res").exists()
