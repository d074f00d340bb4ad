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
    if path.exists() and not folder and not os.access(path, os.W_OK):
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


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``. The file gets the
    mode any file the user writes gets (0666 less the umask; ``mkstemp`` alone would leave it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_checkpoint(path: str | Path, weights_only: bool = True, param: str = "path"):
    """``torch.load`` of a checkpoint file after checking its integrity: every record of torch's zip archive is
    read and its CRC-32 compared (``zipfile.ZipFile.testzip``), so flipped or truncated bytes stop with
    BadInputError naming the file instead of loading wrong weights. ``param``: the caller's parameter that named
    the file, which the errors carry (``BadInputError.param``)."""
    import zipfile

    import torch

    from .errors import BadInputError

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: checkpoint not found", param=param)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise BadInputError(f"{path}: not a readable checkpoint, truncated or not torch's zip format ({e})",
                            param=param) from None
    if bad is not None:
        raise BadInputError(f"{path}: corrupted checkpoint: record {bad} fails its CRC-32 check", param=param)
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
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


def cached_json(folder: str | Path, name: str, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a JSON-able dict), cached as JSON under ``key`` (see :func:`cache_path`)."""
    path = cache_path(folder, name, key, ".json")
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    atomic_write_json(path, result)
    return result


def cached_arrays(folder: str | Path, name: str, key: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` (a dict of numpy arrays), cached as ``.npz`` under ``key`` (see :func:`cache_path`)."""
    import numpy as np

    path = cache_path(folder, name, key, ".npz")
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    result = compute()
    buf = io.BytesIO()
    np.savez(buf, **result)
    atomic_write_bytes(path, buf.getvalue())
    return result
