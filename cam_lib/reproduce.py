"""``python -m cam_lib reproduce``: run the notebook series (Tables 1-5 and the figures) with papermill.

Each notebook of ``notebooks/`` runs in order, with the same parameters injected into its ``parameters`` cell, and
is saved executed under ``results/executed/``. The run stops at the first failing notebook and names it and the
cell. ``results/executed/state.json`` records, for every notebook that completed, a hash of its inputs (the
notebook, the parameters, the cam_lib sources and the outputs of the notebooks before it) and the sha256 of every
file it wrote under ``results/`` and the checkpoint folder; a rerun skips a notebook whose inputs are unchanged
and whose outputs are all still there, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from .errors import BadInputError
from .io import atomic_write_json, file_sha256

__all__ = ["NOTEBOOKS_DIR", "notebooks", "reproduce", "prepare", "ReproduceError", "parse_value"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
UNTRACKED = ("README.md", "executed/state.json")   # rewritten by every notebook / by the runner itself


class ReproduceError(RuntimeError):
    """A notebook of the series failed; the message names the notebook, the cell and the error."""


def notebooks(folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise BadInputError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return found


def parse_value(text: str):
    """A ``-p NAME VALUE`` value: YAML (numbers, true/false, null, lists, dicts), else the string itself."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _sources_hash() -> str:
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for p in sorted(package.rglob("*.py")):
        h.update(str(p.relative_to(package)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _snapshot(folders: list[Path], results: Path) -> dict[str, tuple[int, int]]:
    skip = {str(results / u) for u in UNTRACKED}
    out = {}
    for folder in folders:
        if folder.exists():
            for p in folder.rglob("*"):
                if p.is_file() and str(p) not in skip and ".tmp" not in p.name:
                    st = p.stat()
                    out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def _resolved(params: dict, results: Path, checkpoints: Path) -> dict:
    params = {**params, "results": str(results), "checkpoints": str(checkpoints)}
    for key in ("data_root", "cub_root", "test_root"):
        if isinstance(params.get(key), str):
            params[key] = str(Path(params[key]).resolve())
    return params


def prepare(params: dict, out: str | Path, results: str | Path, checkpoints: str | Path,
            folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write the series with ``params`` injected but not executed into ``out`` (for nbval, or to open in
    JupyterLab with a profile's parameters)."""
    import papermill as pm

    params = _resolved(params, Path(results).resolve(), Path(checkpoints).resolve())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for book in notebooks(folder):
        pm.execute_notebook(str(book), str(out / book.name), parameters=params, prepare_only=True,
                            kernel_name="python3", progress_bar=False)
        _expected_outputs(out / book.name)
        written.append(out / book.name)
    return written


def _expected_outputs(path: Path) -> None:
    """The notebooks are stored without outputs; a cell tagged ``nbval-check-output`` keeps the text nbval must
    see in its ``expected_output`` metadata, which becomes its stored output in the prepared copy."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "nbval-check-output" in cell.metadata.get("tags", []) and "expected_output" in cell.metadata:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=cell.metadata["expected_output"])]
            cell.execution_count = 1
    nbformat.write(nb, path)


def reproduce(params: dict, results: str | Path = "results", checkpoints: str | Path = "checkpoints",
              folder: str | Path = NOTEBOOKS_DIR, only: list[str] | None = None, force: bool = False,
              progress: bool = True, log=print) -> list[dict]:
    """Execute the series; returns one record per notebook (``name``, ``status`` ran/skipped, ``seconds``).
    ``params`` are injected into every notebook (``results`` and ``checkpoints`` are added, absolute)."""
    import papermill as pm

    from .results import write_index

    results, checkpoints = Path(results).resolve(), Path(checkpoints).resolve()
    params = _resolved(params, results, checkpoints)
    executed = results / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    state_path = executed / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    books = notebooks(folder)
    if only:
        unknown = set(only) - {b.stem for b in books}
        if unknown:
            raise BadInputError(f"parameter only={sorted(unknown)}: no such notebook in {folder}", param="only")
    sources, upstream, records = _sources_hash(), hashlib.sha256(), []
    for i, book in enumerate(books, 1):
        upstream.update(book.read_bytes())
        key = hashlib.sha256(json.dumps([sources, params, upstream.hexdigest()], sort_keys=True,
                                        default=str).encode()).hexdigest()
        out = executed / book.name
        prev = state.get(book.name, {})
        unchanged = prev.get("inputs") == key and all(Path(p).exists() and file_sha256(p) == h
                                                      for p, h in prev.get("outputs", {}).items())
        if (only and book.stem not in only) or (unchanged and not force):
            log(f"[{i}/{len(books)}] {book.stem}: skipped ({'not selected' if only and book.stem not in only else 'inputs and outputs unchanged'})")
            for h in sorted(prev.get("outputs", {}).values()):
                upstream.update(h.encode())
            records.append({"name": book.stem, "status": "skipped", "seconds": 0.0})
            continue
        log(f"[{i}/{len(books)}] {book.stem}: running -> {out}")
        before, t0 = _snapshot([results, checkpoints], results), time.perf_counter()
        try:
            pm.execute_notebook(str(book), str(out), parameters=params, kernel_name="python3",
                                cwd=str(book.parent), progress_bar=progress, log_output=False)
        except pm.PapermillExecutionError as err:
            raise ReproduceError(f"notebooks/{book.name} failed at cell {err.cell_index} (execution count "
                                 f"{err.exec_count}): {err.ename}: {err.evalue}. The partly executed notebook is "
                                 f"{out}.") from None
        seconds = time.perf_counter() - t0
        after = _snapshot([results, checkpoints], results)
        written = sorted(p for p, sig in after.items() if before.get(p) != sig)
        outputs = {p: file_sha256(p) for p in written}
        state[book.name] = {"inputs": key, "outputs": outputs, "seconds": round(seconds, 1)}
        atomic_write_json(state_path, state)
        for h in sorted(outputs.values()):
            upstream.update(h.encode())
        log(f"[{i}/{len(books)}] {book.stem}: done in {seconds:.0f} s, {len(outputs)} files written")
        records.append({"name": book.stem, "status": "ran", "seconds": seconds})
    write_index(results)
    return records
