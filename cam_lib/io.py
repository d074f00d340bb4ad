"""Atomic file writes: a crash or Ctrl-C never leaves a half-written result, JSON or checkpoint behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks (checkpoints can be large)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def load_checkpoint(model, path: str | Path, strict: bool = True):
    """Load a model state dict saved by ``cam_lib train`` (a dict with a ``"model"`` entry) or by
    ``torch.save(model.state_dict())``; a missing file or mismatched tensors raise BadInputError naming the file."""
    import torch

    from .errors import BadInputError

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        raise BadInputError(f"{path}: not a readable checkpoint ({e})") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise BadInputError(f"{path}: expected a state dict, got {type(state).__name__}")
    own = model.state_dict()
    bad = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if bad:
        k = bad[0]
        raise BadInputError(f"{path}: tensor {k} has shape {tuple(state[k].shape)} but the model expects "
                            f"{tuple(own[k].shape)} (a different model, width or number of classes?)")
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as e:
        raise BadInputError(f"{path}: does not match the model ({e})") from None
    return model
