"""Files: atomic writes (a crash or Ctrl-C never leaves a half-written result, JSON or checkpoint behind), checkpoint
loading, and THE cache scheme of evaluations and features: a result is stored under a file named by the hash of
everything it depends on (:func:`content_hash`, the network's weights included via :func:`weights_hash`), so a
rerun with the same inputs reads it back and a changed input never reads a stale one."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks (checkpoints can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_writable(path: str | Path, param: str, folder: bool = False) -> Path:
    """Before long work: ``path`` (a file, or a folder with ``folder``) can be written, or BadInputError naming
    ``param`` and the path says why not. Nothing is created."""
    from .errors import BadInputError

    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise BadInputError(f"parameter {param}={str(path)!r}: exists and is {'not ' if folder else ''}a folder",
                            param=param)
    ancestor = path if folder and path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    if not ancestor.is_dir():
        raise BadInputError(f"parameter {param}={str(path)!r}: {ancestor} is a file, not a folder", param=param)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise BadInputError(f"parameter {param}={str(path)!r}: {ancestor} is not writable", param=param)
    if path.exists() and not folder and path.is_file() and (not path.stat().st_mode & 0o222
                                                              or not os.access(path, os.W_OK)):
        raise BadInputError(f"parameter {param}={str(path)!r}: the file is not writable", param=param)
    return path


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)   # elsewhere: set and restore (the only portable way to read it)
    os.umask(mask)
    return mask


STALE_TEMP_SECONDS = 3600   # a temporary file of an atomic write older than this was left by an interrupted one


def atomic_write_bytes(path: str | Path, data: bytes, overwrite_read_only: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``: a crash or Ctrl-C
    leaves the old file or the new one, never half of one. What is already at ``path`` decides the details:

    - nothing: the new file gets the mode any file the user writes gets (0666 less the umask; ``mkstemp`` alone
      would leave it 0600);
    - a regular file: it keeps its mode; a read-only one is refused (BadInputError naming it) unless
      ``overwrite_read_only``;
    - a symbolic link: followed, as ``cp`` and editors do; the file it points to is replaced, the link stays;
    - a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a pipe): written through, not replaced;
    - a folder or a socket: refused.

    Temporary files that an interrupted write left beside ``path`` (older than an hour) are removed."""
    import stat

    from .errors import BadInputError

    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        with open(path, "wb") as f:   # a device or a pipe: written through, never replaced by a regular file
            f.write(data)
        return path
    if mode is not None and not stat.S_ISREG(mode):
        raise BadInputError(f"{path}: exists and is not a regular file (a folder, a socket or a block device); "
                            "give a file path", param="path")
    read_only = mode is not None and (not mode & 0o222 or not os.access(path, os.W_OK))   # no write bit: protected
    if read_only and not overwrite_read_only:
        raise BadInputError(f"{path}: the file is read-only; make it writable or write elsewhere", param="path")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of interrupted atomic writes of ``path`` (``.<name>.*.tmp``, older than
    :data:`STALE_TEMP_SECONDS`: a live writer's file is seconds old)."""
    import glob
    import time

    limit = time.time() - STALE_TEMP_SECONDS
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < limit:
                tmp.unlink()
        except OSError:   # another process removed or replaced it first
            pass


def atomic_write_text(path: str | Path, text: str, overwrite_read_only: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode(), overwrite_read_only)


def atomic_write_json(path: str | Path, obj, overwrite_read_only: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", overwrite_read_only)


def read_checkpoint(path: str | Path, weights_only: bool = True, param: str = "path"):
    """``torch.load`` of a checkpoint file after checking its integrity: every record of torch's zip archive is
    read by Python's ``zipfile``, which compares its CRC-32, and torch loads exactly those checked records (copied
    into a clean archive in memory: a flipped header field could otherwise send torch's own zip reader to other
    bytes than the ones checked, and load wrong weights without an error). Flipped or truncated bytes stop with
    BadInputError naming the file. ``param``: the caller's parameter that named the file, which the errors carry
    (``BadInputError.param``)."""
    import io
    import zipfile

    import torch

    from .errors import BadInputError

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: checkpoint not found", param=param)
    clean = io.BytesIO()
    try:
        with zipfile.ZipFile(path) as archive, zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as copy:
            for info in archive.infolist():
                copy.writestr(info.filename, archive.read(info))   # read() raises on a CRC-32 mismatch
    except zipfile.BadZipFile as e:
        if "CRC" not in str(e):
            raise BadInputError(f"{path}: not a readable checkpoint, truncated or not torch's zip format ({e})",
                                param=param) from None
        raise BadInputError(f"{path}: corrupted checkpoint: {e}", param=param) from None   # Bad CRC-32 for file ...
    except Exception as e:  # noqa: BLE001 - a damaged archive fails in many ways (EOFError, a name that is not
        # UTF-8, an unknown zip version or compression, a flipped "encrypted" flag: RuntimeError)
        raise BadInputError(f"{path}: not a readable checkpoint, truncated or not torch's zip format ({e})",
                            param=param) from None
    try:
        return torch.load(io.BytesIO(clean.getvalue()), map_location="cpu", weights_only=weights_only)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        raise BadInputError(f"{path}: not a readable checkpoint ({e})", param=param) from None


def load_checkpoint(model, path: str | Path, strict: bool = True, param: str = "path"):
    """Load a model state dict saved by ``cam_lib train`` (a dict with a ``"model"`` entry) or by
    ``torch.save(model.state_dict())``; a missing, corrupted or mismatched file raises BadInputError naming it
    (and carrying ``param``, the caller's parameter that named the file, e.g. ``"checkpoint"``)."""
    from .errors import BadInputError

    path = Path(path)
    state = read_checkpoint(path, param=param)
    _check_recorded(state, model, path, param)
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise BadInputError(f"{path}: expected a state dict, got {type(state).__name__}", param=param)
    own = model.state_dict()
    bad = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if bad:
        k = bad[0]
        raise BadInputError(f"{path}: tensor {k} has shape {tuple(state[k].shape)} but the model expects "
                            f"{tuple(own[k].shape)} (a different model, width or number of classes?)", param=param)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as e:
        raise BadInputError(f"{path}: does not match the model ({e})", param=param) from None
    return model


def _check_recorded(state, model, path: Path, param: str) -> None:
    """A ``cam_lib train`` checkpoint records the network it holds (``model_name``, ``num_classes``): loading it
    into another network stops, naming both, even when every tensor has the right shape (GoogLeNet-GAP's weights
    fit GoogLeNet-GMP)."""
    from .errors import BadInputError

    if not isinstance(state, dict) or "model" not in state:
        return
    name, classes = getattr(model, "name", None), getattr(model, "num_classes", None)
    if name is not None and state.get("model_name", name) != name:
        raise BadInputError(f"{path}: a checkpoint of {state['model_name']}, not of {name}", param=param)
    if classes is not None and state.get("num_classes", classes) != classes:
        raise BadInputError(f"{path}: a checkpoint of {state.get('model_name', 'a network')} with "
                            f"{state['num_classes']} classes, not {classes}", param=param)


def weights_hash(model) -> str:
    """sha256 (16 hex digits) of a network's weights: every tensor of its state dict, names and bytes."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def content_hash(key: dict) -> str:
    """sha256 (24 hex digits) of a JSON-able ``key`` (sorted keys; anything else by its ``str``)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_path(folder: str | Path, name: str, key: dict, suffix: str) -> Path:
    """``folder/<name>-<content_hash(key)><suffix>``: where a result depending on ``key`` is cached."""
    return Path(folder) / f"{name}-{content_hash(key)}{suffix}"


CACHE_FORMAT = 2       # a cache file holds what produced it (its key) and the sha256 of its content
READS_LOG_ENV = "CAM_LIB_CACHE_READS"   # a file that ``reproduce`` names: every cache a notebook reads is listed


def _digest(result: dict) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()


def _arrays_digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        h.update(f"{k}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _discard(path: Path, why: str) -> None:
    """A cache that fails its check: named, removed, recomputed by the caller."""
    import warnings

    warnings.warn(f"{path}: cache discarded and recomputed ({why})", stacklevel=3)
    path.unlink(missing_ok=True)


def _note_read(path: Path) -> None:
    """List ``path`` in the reads log of the running notebook (``$CAM_LIB_CACHE_READS``, set by ``reproduce``),
    so that a rerun knows every cache file a notebook's numbers came from."""
    log = os.environ.get(READS_LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(f"{path.resolve()}\n")


def cached_json(folder: str | Path, name: str, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a JSON-able dict), cached as JSON under ``key`` (see :func:`cache_path`). The file records
    the key and the sha256 of the result; one that does not parse, was produced by another key or format, or
    whose content no longer matches its checksum (truncated, edited) is named in a warning, discarded and
    recomputed."""
    path = cache_path(folder, name, key, ".json")
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            why = ("written by another version" if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT
                   else "produced by another key" if stored.get("key") != json.loads(json.dumps(key, default=str))
                   else "content does not match its checksum" if _digest(stored.get("result")) != stored.get("sha256")
                   else "")
        except (ValueError, UnicodeDecodeError) as e:   # JSONDecodeError: truncated or not JSON
            why = f"not valid JSON: {e}"
        if not why:
            _note_read(path)
            return stored["result"]
        _discard(path, why)
    result = compute()
    atomic_write_json(path, {"format": CACHE_FORMAT, "key": json.loads(json.dumps(key, default=str)),
                             "sha256": _digest(result), "result": result})
    return result


def cached_arrays(folder: str | Path, name: str, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a dict of numpy arrays), cached as ``.npz`` under ``key`` (see :func:`cache_path`), with the
    key and the sha256 of the arrays stored beside them and checked on read, as :func:`cached_json` does."""
    import numpy as np

    path = cache_path(folder, name, key, ".npz")
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("__cache__", "{}")))
            why = ("written by another version" if meta.get("format") != CACHE_FORMAT
                   else "produced by another key" if meta.get("key") != json.loads(json.dumps(key, default=str))
                   else "content does not match its checksum" if _arrays_digest(arrays) != meta.get("sha256")
                   else "")
        except Exception as e:  # noqa: BLE001 - a damaged zip fails in many ways (see read_checkpoint)
            why = f"not a readable .npz: {e}"
        if not why:
            _note_read(path)
            return arrays
        _discard(path, why)
    result = compute()
    meta = {"format": CACHE_FORMAT, "key": key, "sha256": _arrays_digest({k: np.asarray(v) for k, v in result.items()})}
    buf = io.BytesIO()
    np.savez(buf, **result, __cache__=np.array(json.dumps(meta, default=str)))
    atomic_write_bytes(path, buf.getvalue())
    return result
