"""Readers shared by CUB-200-2011 (:mod:`cam_lib.data.cub`, Table 4) and the Table 5 transfer datasets
(:mod:`cam_lib.data.transfer`): the dataset root given as either the top folder or its parent, text list files
read with line numbers, ``NNN.`` folder-name prefixes, and :class:`ImageListDataset`, the base class of every
one of those loaders."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms import v2

from ..errors import BadInputError
from .common import BoxDataset, Skipped

__all__ = ["ImageListDataset", "no_boxes", "read_list_file", "resolve_root", "strip_number_prefix"]


def resolve_root(root: str | Path, folder: str, marker: str | None = None) -> Path:
    """``root/folder`` when that folder exists, else ``root`` itself (when it holds ``marker``, if one is given):
    users pass either the folder that contains the dataset's top folder or the top folder itself."""
    root = Path(root)
    if (root / folder).is_dir():
        return root / folder
    if not root.is_dir():
        raise BadInputError(f"parameter root={str(root)!r}: dataset folder not found", param="root")
    if marker is not None and not (root / marker).exists():
        raise BadInputError(f"{root}: neither a {folder}/ folder nor {marker} in it", param="root")
    return root


def read_list_file(path: Path, what: str) -> list[tuple[int, str]]:
    """Non-empty lines of a text list as ``(line number, stripped line)``; a missing, binary or empty file raises
    naming it."""
    if not path.is_file():
        raise BadInputError(f"{path}: {what} not found", param="root")
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise BadInputError(f"{path}: {what} is not a text file ({e})", param="root") from None
    rows = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise BadInputError(f"{path}: {what} is empty", param="root")
    return rows


def strip_number_prefix(name: str) -> str:
    """``"001.ak47"`` -> ``"ak47"`` (Caltech-256 and CUB folder names)."""
    return re.sub(r"^\d+\.", "", name)


def no_boxes() -> torch.Tensor:
    return torch.zeros(0, 4, dtype=torch.float64)


class ImageListDataset(BoxDataset):
    """:class:`~cam_lib.data.common.BoxDataset` (samples ``(image path, label, inclusive boxes (n, 4))``, box
    checks at load time, ``skip_bad``) with the transfer interface: ``class_names``, ``num_classes``, ``targets``
    as an array, ``protocol``, ``n_folds``. List-level problems found before the per-image records (malformed
    lines, duplicates) go through :meth:`_bad`; per-image records through ``_collect``, which warns with the
    total count of ``skipped``."""

    protocol: str = ""
    n_folds: int = 1

    def __init__(self, transform: v2.Transform | None, frame: str, skip_bad: bool):
        super().__init__(transform, frame, bool(skip_bad))
        self.class_names: list[str] = []
        self.split = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def targets(self) -> np.ndarray:
        return np.array([label for _, label, _ in self.samples], dtype=np.int64)

    def _bad(self, message: str, path: str | Path = "") -> None:
        """A bad entry found while reading the lists (files of the dataset folder ``root``): raise, or with
        ``skip_bad`` record it and go on."""
        if not self.skip_bad:
            raise BadInputError(message, param="root")
        self.skipped.append(Skipped(-1, str(path), message))

    def _ignore_files(self, files: list[Path]) -> None:
        for p in files:
            self.skipped.append(Skipped(-1, str(p), f"{p}: not an image file ({', '.join(IMG_EXTENSIONS)}); "
                                                    f"ignored"))

    def _take(self, samples: list[tuple[Path, int, torch.Tensor]]) -> None:
        """Samples that need no more checks (listed from the folders themselves)."""
        self._collect([(s[0], lambda s=s: s) for s in samples])

    def _listed_records(self, entries: list[tuple[str, str, str]], image_root: Path, class_index: dict[str, int],
                        classes_from: str, other: dict[str, str] | None = None, boxes_of=None):
        """``_collect`` records of listed images ``(where, relative path, class key)``: duplicates, unknown
        classes, images listed in the other split too (``other``: relative path -> where) and missing images are
        bad entries."""
        seen: dict[str, str] = {}
        other = other or {}

        def make(where: str, rel: str, key: str, path: Path):
            if rel in seen:
                raise BadInputError(f"{where}: duplicate entry {rel} (first at {seen[rel]})", param="root")
            seen[rel] = where
            if key not in class_index:
                raise BadInputError(f"{where}: class {key!r} of {rel} is not in {classes_from}", param="root")
            if rel in other:
                raise BadInputError(f"{where}: {rel} is listed in both splits (also at {other[rel]})", param="root")
            if not path.is_file():
                raise BadInputError(f"{where}: image {path} not found", param="root")
            return path, class_index[key], boxes_of(rel) if boxes_of is not None else no_boxes()

        for where, rel, key in entries:
            path = image_root / rel
            yield path, lambda where=where, rel=rel, key=key, path=path: make(where, rel, key, path)
