"""What a newcomer meets first (issue 24): errors in a notebook read as one line, ``models`` given as a string is
read as the list it means, nbval on the stored notebooks stops at once instead of training for 15 minutes, a
notebook in another checkout is warned about, links hold, committed results show no machine's absolute paths."""

import re
import warnings

import pytest

from cam_lib.errors import BadInputError
from cam_lib.runs import REPO_ROOT
from cam_lib.series import short_errors
from cam_lib.series.setups import _check_checkout, _refuse_long_run_under_test, check_parameters


def test_a_bad_parameter_shows_as_one_line_in_a_notebook(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert short_errors(shell)
        capsys.readouterr()
        result = shell.run_cell("from cam_lib import series\nseries.setup('huge')")
        shown = capsys.readouterr()
        assert not result.success and isinstance(result.error_in_exec, BadInputError)   # the cell still fails
        text = (shown.out + shown.err).strip()
        assert text == "BadInputError: parameter profile='huge': choose one of smoke, default, full", text
        result = shell.run_cell("1 / 0")   # other errors keep their traceback
        assert isinstance(result.error_in_exec, ZeroDivisionError) and "Traceback" in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("given", ["alexnet_gap,googlenet_gap", "[alexnet_gap, googlenet_gap]",
                                   "['alexnet_gap', 'googlenet_gap']", ["alexnet_gap", "googlenet_gap"]])
def test_models_as_a_string_is_read_as_the_list_it_means(given):
    assert check_parameters("smoke", "embedded", given, 0) == ("alexnet_gap", "googlenet_gap")


def test_models_that_are_no_names_are_named():
    with pytest.raises(BadInputError, match=r"parameter models='a' is not in the registry"):
        check_parameters("smoke", "embedded", "a", 0)
    with pytest.raises(BadInputError, match=r"parameter models=\[\]"):
        check_parameters("smoke", "embedded", "[]", 0)
    with pytest.raises(BadInputError, match="a list of network names"):
        check_parameters("smoke", "embedded", 3, 0)


def test_nbval_on_the_stored_default_notebooks_stops_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_VERSION", "9")
    monkeypatch.delenv("CAM_LIB_ALLOW_LONG_RUN", raising=False)
    with pytest.raises(BadInputError, match=r"--prepare build/nbval") as err:
        _refuse_long_run_under_test("default", "embedded", tmp_path, ("alexnet_gap",))
    assert err.value.param == "profile"
    _refuse_long_run_under_test("smoke", "embedded", tmp_path, ("alexnet_gap",))      # smoke: fine
    (tmp_path / "alexnet_gap").mkdir()
    (tmp_path / "alexnet_gap" / "model.pt").write_bytes(b"")
    _refuse_long_run_under_test("default", "embedded", tmp_path, ("alexnet_gap",))    # trained: nothing to wait for
    monkeypatch.delenv("PYTEST_VERSION")
    _refuse_long_run_under_test("default", "embedded", tmp_path / "x", ("alexnet_gap",))   # not under pytest


def test_a_notebook_in_another_checkout_is_warned_about(tmp_path, monkeypatch):
    other = tmp_path / "clone"
    (other / "cam_lib").mkdir(parents=True)
    (other / "cam_lib" / "__init__.py").write_text("")
    (other / "notebooks").mkdir()
    monkeypatch.chdir(other / "notebooks")
    with pytest.warns(UserWarning, match=f"runs in {other}, but cam_lib was imported from {REPO_ROOT}"):
        _check_checkout()
    monkeypatch.chdir(REPO_ROOT / "notebooks")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_checkout()


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _pages():
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")),
             *sorted((REPO_ROOT / "results").rglob("*.md")), REPO_ROOT / "bench" / "README.md",
             REPO_ROOT / "data" / "README.md"]
    return [p for p in pages if p.is_file() and "runs" not in p.relative_to(REPO_ROOT).parts]


def test_relative_links_of_the_readme_docs_and_results_hold():
    dead = []
    for page in _pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0].replace("%20", " ")).resolve()
            if not path.exists():
                dead.append(f"{page.relative_to(REPO_ROOT)}: {target}")
    assert not dead, dead


def test_committed_results_show_no_machines_absolute_paths():
    pattern = re.compile(r"(?<![\w.])/(?:home|work|tmp|root|Users|private)/[\w.-]+")
    found = []
    for path in [*sorted((REPO_ROOT / "results" / "executed").glob("*.ipynb")),
                 *sorted((REPO_ROOT / "results").glob("**/*.md"))]:
        if "runs" in path.relative_to(REPO_ROOT).parts:
            continue
        hits = set(pattern.findall(path.read_text()))
        if hits:
            found.append(f"{path.relative_to(REPO_ROOT)}: {sorted(hits)[:3]}")
    assert not found, found


def test_papermill_stops_on_the_one_line_error_and_shows_it(tmp_path):
    """The real path: a kernel, papermill. The cell's error output is the one line; papermill still fails."""
    import nbformat
    import papermill as pm

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from cam_lib import series\nseries.short_errors()\nseries.setup('huge')")])
    from cam_lib.reproduce import KERNEL, _kernel_manager_class

    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    with pytest.raises(pm.PapermillExecutionError) as err:   # the project kernel on this interpreter, as reproduce
        pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name=KERNEL,
                            progress_bar=False, kernel_manager_class=_kernel_manager_class())
    assert err.value.ename == "BadInputError" and "profile='huge'" in err.value.evalue
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in out.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert [e["traceback"] for e in errors] == [["BadInputError: parameter profile='huge': choose one of smoke, "
                                                 "default, full"]]


def test_the_quickstart_notebook_runs_offline_and_shows_its_numbers(tmp_path):
    """notebooks/quickstart.ipynb (the API tour, stored stripped): every cell runs on the project kernel, the photo's
    CAM box and IoU are the README's, the overlay is a PNG."""
    import nbformat
    import papermill as pm

    from cam_lib.reproduce import KERNEL, _kernel_manager_class

    book = REPO_ROOT / "notebooks" / "quickstart.ipynb"
    stored = nbformat.read(book, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in stored.cells if c.cell_type == "code")
    pm.execute_notebook(str(book), str(tmp_path / "out.ipynb"), kernel_name=KERNEL, progress_bar=False,
                        kernel_manager_class=_kernel_manager_class(), cwd=str(book.parent))
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = [o for c in out.cells for o in c.get("outputs", [])]
    texts = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "967 [29, 0, 178, 196] IoU 0.69" in texts and "gradcam: box" in texts
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert not [o for o in outputs if o["output_type"] == "error"]
    readme = (REPO_ROOT / "README.md").read_text()
    assert "967 [29, 0, 178, 196] IoU 0.69" in readme   # the README quotes what the code prints


def test_the_readme_example_runs_and_prints_what_it_says(tmp_path):
    import subprocess
    import sys

    readme = (REPO_ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code.replace('"coffee.png"', f'"{tmp_path / "coffee.png"}"')],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "967 [29, 0, 178, 196] IoU 0.69"
    assert (tmp_path / "coffee.png").stat().st_size > 1000


def test_figures_with_boxes_carry_the_key_of_their_colours(monkeypatch, tmp_path):
    """Issue 24: every overlay grid that draws boxes says what green and red are (a legend below the panels)."""
    import torch

    from cam_lib import figures

    seen = []
    real = figures.save_figure
    monkeypatch.setattr(figures, "save_figure", lambda fig, path, **kw: (seen.append(fig), real(fig, path, **kw))[1])
    boxes = torch.tensor([[[2, 2, 20, 20]] * 2])
    figures.cam_grid(tmp_path / "g.png", torch.rand(2, 3, 32, 32), torch.rand(1, 2, 32, 32), boxes,
                     ["a network with a long name that wraps"], gt_boxes=[[[4, 4, 30, 30]]] * 2)
    figures.save_topk_overlay(tmp_path / "t.png", torch.rand(3, 32, 32), torch.rand(2, 32, 32), boxes[0], ["a", "b"])
    figures.cam_grid(tmp_path / "plain.png", torch.rand(2, 3, 32, 32), None, None, ["images"])
    keys = [[t.get_text() for leg in fig.legends for t in leg.get_texts()] for fig in seen]
    assert keys[0] == keys[1] == ["box of the map at its threshold", "ground truth"]
    assert keys[2] == []   # no boxes drawn: no key
