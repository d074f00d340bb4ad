"""Which run a results folder holds, so that the results of two runs never mix.

A run of the notebook series is named by its data, profile and seed (:func:`run_name`, e.g. ``embedded-smoke-s0``,
the same name as its checkpoint folder ``checkpoints/<data>-<profile>-s<seed>/``). Where its results go when no
folder is given (:func:`results_folder`): the project's default run (embedded benchmark, profile ``default``,
seed 0) writes the committed ``results/``; every other run writes ``results/runs/<data>-<profile>-s<seed>/``
(ignored by git).

A results folder records the run that wrote it in ``run.json`` (written atomically, once, by the first run that
writes there: :func:`claim_results`); a run whose data, profile or seed differ is refused with an error naming the
folder, the recorded run and what to pass instead. A folder written before ``run.json`` existed is recognised by
the header of its tables.

Relative paths among the notebooks' parameters (``data_root``, ``checkpoints``, ``results``, ...) are read from the
repository root (:func:`repo_path`), not from the working directory of whoever runs the notebook (JupyterLab,
``papermill`` from any folder, ``reproduce``).
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import BadInputError
from .io import atomic_write_json

__all__ = ["REPO_ROOT", "RUN_FILE", "DEFAULT_RUN", "SHARED_SAMPLE", "repo_path", "run_name", "run_identity", "is_default_run",
           "results_folder", "recorded_run", "check_results", "claim_results"]

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_FILE = "run.json"
DEFAULT_RUN = {"data": "embedded", "profile": "default", "seed": 0}   # the committed results/
RUNS_FOLDER = "runs"   # results/runs/<run name>/: every other run
SHARED_SAMPLE = "../shared/data/imagenet-val-sample"   # the 300 real ILSVRC val images, beside a clone (optional)


def repo_path(path: str | Path) -> Path:
    """``path`` as an absolute path: a relative one is taken from the repository root, whatever the working
    directory (``~`` is expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def shown_path(path: str | Path) -> str:
    """``path`` as results and notebooks show it: relative to the repository root when it lies inside it or beside
    it (``results``, ``../shared/data/...``), so that committed files hold no machine's absolute paths; elsewhere
    absolute (the user's own folder, read the same from any working directory)."""
    import os

    full = repo_path(path).resolve()
    if not full.is_relative_to(REPO_ROOT.parent):
        return str(full)
    return Path(os.path.relpath(full, REPO_ROOT)).as_posix()


def run_name(data: str, profile: str, seed: int) -> str:
    """``<data>-<profile>-s<seed>``: the name of a run's results folder and of its checkpoint folder."""
    return f"{data}-{profile}-s{seed}"


def run_identity(data: str, profile: str, seed: int) -> dict:
    """What ``run.json`` records: the run's name, data, profile and seed."""
    return {"run": run_name(data, profile, seed), "data": data, "profile": profile, "seed": int(seed)}


def is_default_run(data: str, profile: str, seed: int) -> bool:
    return {"data": data, "profile": profile, "seed": seed} == DEFAULT_RUN


def results_folder(data: str, profile: str, seed: int) -> Path:
    """Where a run writes when no results folder is given: ``results/`` for the default run (embedded, default,
    seed 0), ``results/runs/<data>-<profile>-s<seed>/`` for any other."""
    results = REPO_ROOT / "results"
    return results if is_default_run(data, profile, seed) else results / RUNS_FOLDER / run_name(data, profile, seed)


def recorded_run(folder: str | Path) -> dict | None:
    """The run a results folder holds: its ``run.json``, else (a folder written before ``run.json`` existed) what
    the header of its first table says; None for a folder no run has written."""
    folder = Path(folder)
    record = folder / RUN_FILE
    if record.exists():
        try:
            found = json.loads(record.read_text())
            return run_identity(str(found["data"]), str(found["profile"]), int(found["seed"]))
        except (ValueError, KeyError, TypeError) as err:
            raise BadInputError(f"{record}: not a run record ({type(err).__name__}: {err}); it should hold "
                                f"{json.dumps(run_identity('embedded', 'default', 0))}", param="results") from None
    for table in sorted((folder / "tables").glob("*.csv")):
        header = {}
        for line in table.read_text().splitlines():
            if not line.startswith("# "):
                break
            key, _, value = line[2:].partition(": ")
            header[key] = value
        if "profile" in header and "seed" in header and header.get("seed", "").isdigit():
            data = "embedded" if header.get("data", "").startswith("embedded") else \
                header.get("data", "").split(" at ")[0] or "imagenet"
            return run_identity(data, header["profile"], int(header["seed"]))
    return None


def _describe(run: dict) -> str:
    return f"{run['run']} (data {run['data']}, profile {run['profile']}, seed {run['seed']})"


def check_results(folder: str | Path, data: str, profile: str, seed: int) -> Path:
    """Refuse (BadInputError naming ``results``) to write the run ``data``/``profile``/``seed`` into a results
    folder that another run wrote. Writes nothing; returns the folder."""
    folder = Path(folder)
    found, mine = recorded_run(folder), run_identity(data, profile, seed)
    if found is not None and found != mine:
        own = results_folder(data, profile, seed)
        where = folder / RUN_FILE if (folder / RUN_FILE).exists() else folder / "tables"
        raise BadInputError(
            f"parameter results={str(folder)!r}: this results folder holds the run {_describe(found)} (recorded in "
            f"{where}), not {_describe(mine)}; two runs never write into one folder. Leave --results out "
            f"(reproduce) or set results = None (a notebook's parameters) to write into this run's own folder {own}, "
            "or give another folder (--results DIR)", param="results")
    return folder


def claim_results(folder: str | Path, data: str, profile: str, seed: int) -> Path:
    """:func:`check_results`, then record the run in ``folder/run.json`` (atomically) if no run has yet: the folder
    belongs to this run from now on. Returns the folder."""
    folder = check_results(folder, data, profile, seed)
    if not (folder / RUN_FILE).exists():
        atomic_write_json(folder / RUN_FILE, run_identity(data, profile, seed))
    return folder
