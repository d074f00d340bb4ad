"""``python -m cam_lib reproduce``: run the notebook series (Tables 1-5 and the figures) with papermill.

Each notebook of ``notebooks/`` runs in order, with the same parameters injected into its ``parameters`` cell, and
is saved executed under ``results/executed/``. The run stops at the first failing notebook and names it and the
cell. ``results/executed/state.json`` records, for every notebook that completed, a hash of its inputs (the
notebook, the parameters, the cam_lib sources, the data folders' files (:func:`_data_stamp`) and the outputs of the
notebooks before it) and the sha256 of every file it wrote under ``results/`` and the checkpoint folder; a rerun
skips a notebook whose inputs are unchanged and whose outputs are all still there, unchanged.

Results never mix (:mod:`cam_lib.runs`): without a results folder, the default run (embedded, profile ``default``,
seed 0) writes ``results/`` and every other run ``results/runs/<data>-<profile>-s<seed>/``; a folder written by
another run (``run.json``) is refused before any notebook runs.

Progress: the kernel's training code appends one line per network and epoch to a file named by
``$CAM_LIB_PROGRESS_LOG`` (:mod:`cam_lib.progress`); the runner follows that file and prints each line in its own
terminal while the notebook runs. The kernel is started with CurveZMQ keys (``transport_encryption``), so it does
not warn "Kernel is running over TCP without encryption" once per notebook.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from .errors import BadInputError
from .io import READS_LOG_ENV, atomic_write_json, atomic_write_text, check_writable, file_sha256
from .progress import PROGRESS_LOG_ENV
from .runs import RUNS_FOLDER, SHARED_SAMPLE, check_results, claim_results, repo_path, results_folder, shown_path

__all__ = ["NOTEBOOKS_DIR", "notebooks", "reproduce", "prepare", "ReproduceError", "parse_value", "results_for"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
UNTRACKED = ("README.md", "executed/state.json", "executed/.lock")   # rewritten by every notebook / the runner
# The project kernel, named in every notebook's metadata; `make install` registers it in the venv for JupyterLab.
KERNEL, KERNEL_DISPLAY_NAME = "cam-lib", "Python (cam-lib)"
# notebooks that print a line per network and epoch: papermill's cell bar would share their terminal lines, so
# these run without it (one clean line per epoch); the others show it
TRAINS = ("01_classification",)



class ReproduceError(RuntimeError):
    """A notebook of the series failed; the message names the notebook, the cell and the error."""


def notebooks(folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise BadInputError(f"parameter folder={str(folder)!r}: no numbered notebooks (NN_name.ipynb) in it",
                            param="folder")
    return found


# The parameters of every notebook's ``parameters`` cell, with the types a value may have (None: leave unset). The
# cells annotate them with the same types (``seed: int = 0``, ``models: Optional[list[str]] = None``), which
# ``papermill --help-notebook`` shows; a test checks that both agree.
PARAMETERS = {"profile": (str,), "data": (str,), "data_root": (str,), "models": (list,), "device": (str,),
              "seed": (int,), "checkpoints": (str,), "results": (str,), "cub_root": (str,), "transfer": (dict,),
              "test_root": (str,)}


def parse_value(text: str, name: str | None = None):
    """A ``-p NAME VALUE`` value, read as YAML (numbers, true/false, null, lists, dicts) and checked against
    :data:`PARAMETERS` when ``name`` is given: an unknown name, malformed YAML or a value of the wrong type raises
    BadInputError naming ``-p NAME``. ``models`` also takes a bare name or a comma-separated list
    (``-p models alexnet_gap`` is ``[alexnet_gap]``)."""
    import yaml

    if name is not None and name not in PARAMETERS:
        close = difflib.get_close_matches(name, PARAMETERS, n=1)
        raise BadInputError(f"-p {name}: not a parameter of the notebooks"
                            + (f" (did you mean {close[0]}?)" if close else "")
                            + f"; they take {', '.join(PARAMETERS)}", param="name")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        if name is None:
            return text
        raise BadInputError(f"-p {name} {text!r}: not valid YAML ({str(err).splitlines()[0]})", param=name) from None
    if name is None or value is None:
        return value
    if name == "models" and isinstance(value, str):
        value = [m for m in re.split(r"[,\s]+", value) if m]
    types = PARAMETERS[name]
    if isinstance(value, bool) or not isinstance(value, types) \
            or (name == "models" and not all(isinstance(m, str) for m in value)):
        example = {"models": "'[alexnet_gap, googlenet_gap]'", "transfer": "'{scene15: [scene15, /data/scene15]}'",
                   "seed": "0"}.get(name, "VALUE")
        raise BadInputError(f"-p {name} {text!r}: expected {' or '.join(t.__name__ for t in types)}, got "
                            f"{type(value).__name__} (e.g. -p {name} {example})", param=name)
    return value


def _sources_hash() -> str:
    """cam_lib's code and data files (``*.py``; ``*.json``: the photographs' boxes of notebook 06)."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for p in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts):
        h.update(str(p.relative_to(package)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _data_stamp(params: dict, sample: str = SHARED_SAMPLE) -> str:
    """What the runner knows of the data folders a run reads, for its skip decision: each file's path, size and
    modification time under every folder the parameters name (real data: ``data_root``; ``test_root``,
    ``cub_root``, the transfer folders) and under the real ILSVRC sample notebook 07 reads (or that it is absent),
    so an added, removed, edited or touched file runs the notebooks again. The embedded benchmark is left out: the
    generator's code (in cam_lib's sources) decides its images. Walking ImageNet's 1.3 million files takes
    seconds."""
    folders = [params.get("data_root")] if (params.get("data") or "embedded") != "embedded" else []
    folders += [params.get("test_root"), params.get("cub_root"), sample]
    transfer = params.get("transfer")
    folders += [spec[1] for spec in (transfer.values() if isinstance(transfer, dict) else [])
                if isinstance(spec, (list, tuple)) and len(spec) == 2]
    h = hashlib.sha256()
    for folder in (f for f in folders if isinstance(f, (str, Path)) and str(f)):
        root = repo_path(folder)
        h.update(f"{folder}\0{root.is_dir()}\n".encode())
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            for name in sorted(files):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:   # removed while walking: the next run sees it gone
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _snapshot(folders: list[Path], results: Path) -> dict[str, tuple[int, int]]:
    skip = {str(results / u) for u in UNTRACKED}
    others = results / RUNS_FOLDER   # results/runs/<run>/: other runs' folders, never this run's outputs
    out = {}
    for folder in folders:
        if folder.exists():
            for p in folder.rglob("*"):
                if p.is_file() and str(p) not in skip and ".tmp" not in p.name and others not in p.parents:
                    st = p.stat()
                    out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def _resolved(params: dict, results: Path | None, checkpoints: Path | None) -> dict:
    """``params`` with the folders added (when given): paths given to the runner are read from the working
    directory, as a command line's are, and injected relative to the repository root (where the notebooks read
    them from: :func:`cam_lib.runs.repo_path`), so that executed notebooks show no machine's absolute paths."""
    params = {**params, **({"results": shown_path(Path(results).resolve())} if results is not None else {}),
              **({"checkpoints": shown_path(Path(checkpoints).resolve())} if checkpoints is not None else {})}
    for key in ("data_root", "cub_root", "test_root"):
        if isinstance(params.get(key), str):
            params[key] = shown_path(Path(params[key]).resolve())
    return params


def _run_of(params: dict) -> tuple[str, str, int]:
    """(data, profile, seed) of the run ``params`` describe, with the notebooks' defaults."""
    seed = params.get("seed")
    return params.get("data") or "embedded", params.get("profile") or "default", 0 if seed is None else seed


def results_for(params: dict, results: str | Path | None = None) -> Path:
    """The results folder of the run ``params`` describe: ``results`` when given (relative to the working
    directory), else the run's own folder (:func:`cam_lib.runs.results_folder`: ``results/`` for the default run,
    ``results/runs/<data>-<profile>-s<seed>/`` for any other)."""
    return Path(results).resolve() if results not in (None, "") else results_folder(*_run_of(params))


def prepare(params: dict, out: str | Path, results: str | Path | None = None, checkpoints: str | Path | None = None,
            folder: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write the series with ``params`` injected but not executed into ``out`` (for nbval, or to open in
    JupyterLab with a profile's parameters). ``results`` / ``checkpoints`` None: not injected, the notebooks'
    defaults apply (this run's own results folder, ``checkpoints/`` of the repository). A ``results`` folder that
    another run wrote is refused here already."""
    import papermill as pm

    if results not in (None, ""):
        results = check_results(results_for(params, results), *_run_of(params))
    params = _resolved(params, results or None, Path(checkpoints).resolve() if checkpoints not in (None, "") else None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for book in notebooks(folder):
        pm.execute_notebook(str(book), str(out / book.name), parameters=params, prepare_only=True,
                            kernel_name=KERNEL, progress_bar=False)
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


def _say(line: str) -> None:
    """Print a line to the terminal above papermill's progress bar, not through it."""
    from tqdm import tqdm

    tqdm.write(line)


def summary_line(records: list[dict], folder: Path) -> str:
    """What ``reproduce`` prints at the end: the series' time, how many notebooks ran or were skipped, the page."""
    ran = sum(r["status"] == "ran" for r in records)
    return (f"series done in {sum(r['seconds'] for r in records):.0f} s ({ran} run, {len(records) - ran} skipped); "
            f"see {folder / 'README.md'}")


def reproduce(params: dict, results: str | Path | None = None, checkpoints: str | Path | None = None,
              folder: str | Path = NOTEBOOKS_DIR, only: list[str] | None = None, force: bool = False,
              progress: bool = True, log=_say) -> list[dict]:
    """Execute the series; returns one record per notebook (``name``, ``status`` ran/skipped, ``seconds``).
    ``params`` are injected into every notebook (``results`` and ``checkpoints`` are added, absolute).
    ``results`` None: the run's own folder (:func:`results_for`); a folder that another run (data, profile, seed)
    wrote is refused before any notebook runs. ``checkpoints`` None: ``checkpoints/`` of the repository. One runner
    per results folder at a time (a lock in ``executed/``). ``progress``: papermill's bar per notebook; the
    per-epoch lines of training go to ``log`` either way."""
    from .series.setups import check_parameters

    run = _run_of(params)
    check_parameters(run[1], run[0], params.get("models"), run[2])   # before any folder is claimed
    results = results_for(params, results)
    checkpoints = Path(checkpoints).resolve() if checkpoints not in (None, "") else repo_path("checkpoints")
    check_writable(results, "results", folder=True)   # before any notebook runs
    check_writable(checkpoints, "checkpoints", folder=True)
    check_results(results, *run)
    params = _resolved(params, results, checkpoints)
    executed = results / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    with _lock(executed / ".lock"):
        claim_results(results, *run)
        return _run_series(params, results, checkpoints, executed, folder, only, force, progress, log)


class _ProgressLines:
    """Lines the kernel appends to a file named by ``$CAM_LIB_PROGRESS_LOG`` (:mod:`cam_lib.progress`: one per
    network start and per epoch), passed to ``log`` while a notebook runs: papermill keeps the kernel's own output
    in the notebook, this file reaches the runner's terminal. The variable is set for the kernel's environment
    (inherited when papermill starts it) until :meth:`stop`, which prints what is left and removes the file."""

    def __init__(self, log, indent: str = "    "):
        fd, self.path = tempfile.mkstemp(prefix="cam_lib-progress-", suffix=".log")
        os.close(fd)
        self.log, self.indent, self.done = log, indent, threading.Event()
        self.previous = os.environ.get(PROGRESS_LOG_ENV)
        os.environ[PROGRESS_LOG_ENV] = self.path
        self.thread = threading.Thread(target=self._follow, name="cam_lib-progress", daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        pending = ""
        with open(self.path, errors="replace") as f:
            while True:
                last = self.done.is_set()   # one more read after the notebook ended
                pending += f.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line.strip():
                        self.log(self.indent + line)
                if last:
                    break
                self.done.wait(0.5)
        if pending.strip():
            self.log(self.indent + pending)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=10)
        if self.previous is None:
            os.environ.pop(PROGRESS_LOG_ENV, None)
        else:
            os.environ[PROGRESS_LOG_ENV] = self.previous
        Path(self.path).unlink(missing_ok=True)


# The allocator policy of the entry point (cam_lib.__main__.keep_freed_memory), given to the kernels it starts
# through glibc's environment variables (the same settings as its mallopt calls; a user's own values win).
# `make install` registers the JupyterLab kernel with the same variables.
KERNEL_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str((1 << 31) - 1)}


def current_env_kernelspecs():
    """A kernelspec manager whose :data:`KERNEL` (``cam-lib``) is ipykernel on THIS interpreter (``sys.executable``),
    whatever ``cam-lib`` or ``python3`` specs the user's or the system's Jupyter folders hold (one of another
    Python fails at ``import cam_lib``; one of another clone runs another cam_lib). Other names resolve as usual."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager

    class CurrentEnvKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name != KERNEL:
                return super().get_kernel_spec(kernel_name)
            spec = dict(ipykernel.kernelspec.get_kernel_dict(), display_name=KERNEL_DISPLAY_NAME,
                        env={k: v for k, v in KERNEL_ENV.items() if k not in os.environ})
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)

    return CurrentEnvKernelSpecs()


def _kernel_manager_class():
    """jupyter_client's kernel manager, starting the project kernel on this interpreter
    (:func:`current_env_kernelspecs`), with CurveZMQ keys provisioned for the kernel where its kernelspec declares
    support (ipykernel's does): the kernel's sockets are encrypted, so it no longer warns "Kernel is running over
    TCP without encryption" in the terminal once per notebook. Where pyzmq lacks Curve, the kernel talks over IPC
    (Unix sockets beside its connection file) instead, the other transport the warning names (TCP on Windows)."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    curve = zmq.has("curve")

    class KernelManager(AsyncKernelManager):
        if "transport_encryption" in AsyncKernelManager.class_trait_names():
            @default("transport_encryption")
            def _encrypted(self):
                return "auto" if curve else "disabled"

        @default("transport")
        def _transport(self):
            return "tcp" if curve or os.name == "nt" else "ipc"

        @default("kernel_spec_manager")
        def _kernel_specs(self):
            return current_env_kernelspecs()

    return KernelManager


@contextlib.contextmanager
def _lock(path: Path):
    """One runner per results folder: an exclusive ``flock`` on ``path`` (released by the kernel if the process
    dies); a second runner stops at once, naming the process that holds it."""
    import fcntl

    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise BadInputError(f"parameter results={str(path.parent.parent)!r}: another reproduce ({holder}) is "
                                "writing into this results folder; wait for it, or pass another --results",
                                param="results") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _repository_paths(path: Path) -> None:
    """Papermill records the notebook's input and output paths as absolute paths in its metadata: written
    repository-relative instead (:func:`cam_lib.runs.shown_path`), so that committed notebooks name no machine."""
    nb = json.loads(path.read_text())
    meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if isinstance(meta.get(key), str):
            meta[key] = shown_path(meta[key])
    atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _run_series(params, results, checkpoints, executed, folder, only, force, progress, log) -> list[dict]:
    import papermill as pm

    from .results import write_index

    state_path = executed / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    books = notebooks(folder)
    if only:
        unknown = set(only) - {b.stem for b in books}
        if unknown:
            raise BadInputError(f"parameter only={sorted(unknown)}: no such notebook in {folder}", param="only")
    sources, data, upstream, records = _sources_hash(), _data_stamp(params), hashlib.sha256(), []
    for i, book in enumerate(books, 1):
        upstream.update(book.read_bytes())
        key = hashlib.sha256(json.dumps([sources, data, params, upstream.hexdigest()], sort_keys=True,
                                        default=str).encode()).hexdigest()
        out = executed / book.name
        prev = state.get(book.name, {})
        unchanged = prev.get("inputs") == key and all(Path(p).exists() and file_sha256(p) == h for p, h in
                                                      {**prev.get("outputs", {}), **prev.get("reads", {})}.items())
        if (only and book.stem not in only) or (unchanged and not force):
            log(f"[{i}/{len(books)}] {book.stem}: skipped ({'not selected' if only and book.stem not in only else 'inputs and outputs unchanged'})")
            for h in sorted(prev.get("outputs", {}).values()):
                upstream.update(h.encode())
            records.append({"name": book.stem, "status": "skipped", "seconds": 0.0})
            continue
        log(f"[{i}/{len(books)}] {book.stem}: running -> {out}")
        before, t0 = _snapshot([results, checkpoints], results), time.perf_counter()
        follow = _ProgressLines(log)   # the kernel's per-network, per-epoch lines, printed here as they come
        reads_log, previous = Path(follow.path).with_suffix(".reads"), os.environ.get(READS_LOG_ENV)
        os.environ[READS_LOG_ENV] = str(reads_log)   # the caches the notebook reads (cam_lib.io), inherited
        try:
            pm.execute_notebook(str(book), str(out), parameters=params, kernel_name=KERNEL,
                                cwd=str(out.parent),   # links in its outputs: relative to the executed copy
                                progress_bar=progress and book.stem not in TRAINS, log_output=False,
                                kernel_manager_class=_kernel_manager_class(),
                                coalesce_streams=True)   # a cell's printed lines: one stdout output
        except pm.PapermillExecutionError as err:
            raise ReproduceError(f"notebooks/{book.name} failed at cell {err.cell_index} (execution count "
                                 f"{err.exec_count}): {err.ename}: {err.evalue}. The partly executed notebook is "
                                 f"{out}.") from None
        finally:
            follow.stop()
            os.environ.pop(READS_LOG_ENV) if previous is None else os.environ.update({READS_LOG_ENV: previous})
            read = set(reads_log.read_text().split()) if reads_log.exists() else set()
            reads_log.unlink(missing_ok=True)
        _repository_paths(out)
        seconds = time.perf_counter() - t0
        after = _snapshot([results, checkpoints], results)
        written = sorted(p for p, sig in after.items() if before.get(p) != sig)
        outputs = {p: file_sha256(p) for p in written}
        reads = {p: file_sha256(p) for p in sorted(read - set(outputs)) if Path(p).is_file()}
        state[book.name] = {"inputs": key, "outputs": outputs, "reads": reads, "seconds": round(seconds, 1)}
        atomic_write_json(state_path, state)
        for h in sorted(outputs.values()):
            upstream.update(h.encode())
        log(f"[{i}/{len(books)}] {book.stem}: done in {seconds:.0f} s, {len(outputs)} files written")
        records.append({"name": book.stem, "status": "ran", "seconds": seconds})
    write_index(results)
    return records
