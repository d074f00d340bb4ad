"""ILSVRC2012 validation set with its boxes (Tables 1-3 are measured on it; Sec. 4 of the paper).

Two layouts are read (``layout="auto"`` picks the first one present):

- ``loc``: ``LOC_val_solution.csv`` (``ImageId,PredictionString`` with ``wnid x0 y0 x1 y1`` groups) and
  ``LOC_synset_mapping.txt`` (``wnid description``, one class per line, line order = class index), images in
  ``val/`` (or ``ILSVRC/Data/CLS-LOC/val/``) — the Kaggle ILSVRC "LOC" release.
- ``devkit``: one Pascal-VOC style XML per image in ``bbox/`` (or ``ILSVRC/Annotations/CLS-LOC/val/``, or beside
  the images), images in ``val/``, class order from ``LOC_synset_mapping.txt`` or devkit ``synsets.txt``/
  ``wnids.txt`` (one wnid per line, first token), which must be the standard sorted-wnid order.

Every box of an image is kept. Boxes are inclusive pixel boxes in the stored image's frame and are carried into
the evaluated frame by :func:`cam_lib.data.common.make_sample`. Bad annotations raise a BadInputError naming the
file (and line); with ``skip_bad=True`` the sample is skipped and recorded in ``dataset.skipped``.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..errors import BadInputError
from .common import Skipped, eval_transform, load_image, make_sample

LAYOUTS = ("auto", "loc", "devkit")
MAPPING_FILES = ("LOC_synset_mapping.txt", "synsets.txt", "wnids.txt")
IMAGE_DIRS = ("val", "ILSVRC/Data/CLS-LOC/val")
XML_DIRS = ("bbox", "ILSVRC/Annotations/CLS-LOC/val")
IMAGE_EXTENSIONS = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png", ".PNG")


def read_synset_mapping(path: Path) -> tuple[list[str], list[str]]:
    """``(wnids, descriptions)`` from a mapping file, one class per line (``wnid [description]``)."""
    wnids, names = [], []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        wnid, _, desc = line.strip().partition(" ")
        if wnid in seen:
            raise BadInputError(f"{path}:{lineno}: duplicate wnid {wnid} (first on line {seen[wnid]})")
        seen[wnid] = lineno
        wnids.append(wnid)
        names.append(desc.split(",")[0].strip() or wnid)
    if not wnids:
        raise BadInputError(f"{path}: no classes in the mapping file")
    return wnids, names


def imagenet_class_names() -> list[str]:
    """The 1000 ILSVRC class names in standard order, from torchvision's weights metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _first_existing(root: Path, candidates: tuple[str, ...], what: str) -> Path:
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise BadInputError(f"{root}: no {what} found (looked for {', '.join(candidates)})")


def parse_xml(path: Path) -> list[tuple[str, list[float]]]:
    """``[(wnid, [x0, y0, x1, y1]), ...]`` from an ILSVRC devkit XML; raises naming the file."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise BadInputError(f"{path}: not valid XML ({e})") from None
    objects = []
    for obj in root.iter("object"):
        name, box = obj.findtext("name"), obj.find("bndbox")
        try:
            coords = [float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            raise BadInputError(f"{path}: object {name!r} has a missing or non-numeric <bndbox>") from None
        objects.append((name, coords))
    if not objects:
        raise BadInputError(f"{path}: no <object> in the annotation")
    return objects


class ImageNetVal(Dataset):
    """ILSVRC-val-format folder. Items are ``(image, target)`` (see :func:`cam_lib.data.common.make_sample`)."""

    def __init__(self, root: str | Path, layout: str = "auto", frame: str = "resize", skip_bad: bool = False,
                 limit: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise BadInputError(f"{self.root}: dataset folder not found")
        if layout not in LAYOUTS:
            raise BadInputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.skip_bad = skip_bad
        self.skipped: list[Skipped] = []
        self.transform = eval_transform(frame)
        self.images_dir = _first_existing(self.root, IMAGE_DIRS, "image folder")
        if layout == "auto":
            layout = "loc" if (self.root / "LOC_val_solution.csv").exists() else "devkit"
        self.layout = layout
        self.mapping_file = _first_existing(self.root, MAPPING_FILES, "class mapping file")
        self.wnids, self.class_names = read_synset_mapping(self.mapping_file)
        self.class_index = {w: i for i, w in enumerate(self.wnids)}
        records = self._read_loc() if layout == "loc" else self._read_devkit()
        self.samples: list[tuple[Path, int, torch.Tensor]] = []
        for where, parse in records:
            try:
                self.samples.append(self._sample(where, *parse()))
            except BadInputError as e:
                if not skip_bad:
                    raise
                self.skipped.append(Skipped(-1, str(where), str(e)))
            if limit is not None and len(self.samples) >= limit:
                break
        if not self.samples:
            raise BadInputError(f"{self.root}: no usable images ({len(self.skipped)} skipped)")

    @property
    def num_classes(self) -> int:
        return len(self.wnids)

    def _read_loc(self):
        path = self.root / "LOC_val_solution.csv"
        if not path.exists():
            raise BadInputError(f"{path}: not found (layout 'loc' needs LOC_val_solution.csv)")
        seen: dict[str, int] = {}
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows or [c.strip() for c in rows[0][:2]] != ["ImageId", "PredictionString"]:
            raise BadInputError(f"{path}:1: expected the header 'ImageId,PredictionString'")
        for lineno, row in enumerate(rows[1:], 2):
            if row:
                yield f"{path}:{lineno}", lambda row=row, lineno=lineno: self._parse_row(path, lineno, row, seen)

    @staticmethod
    def _parse_row(path: Path, lineno: int, row: list[str], seen: dict[str, int]):
        where = f"{path}:{lineno}"
        if len(row) != 2:
            raise BadInputError(f"{where}: expected 2 columns, got {len(row)}")
        image_id, tokens = row[0].strip(), row[1].split()
        if image_id in seen:
            raise BadInputError(f"{where}: duplicate ImageId {image_id} (first on line {seen[image_id]})")
        seen[image_id] = lineno
        if not tokens or len(tokens) % 5:
            raise BadInputError(f"{where}: PredictionString must be groups of 'wnid x0 y0 x1 y1', got {row[1]!r}")
        try:
            return image_id, [(tokens[i], [float(v) for v in tokens[i + 1:i + 5]]) for i in range(0, len(tokens), 5)]
        except ValueError:
            raise BadInputError(f"{where}: non-numeric box coordinate in {row[1]!r}") from None

    def _read_devkit(self):
        xml_dir = _first_existing(self.root, XML_DIRS, "XML annotation folder") if any(
            (self.root / d).exists() for d in XML_DIRS) else self.images_dir
        files = sorted(xml_dir.glob("*.xml"))
        if not files:
            raise BadInputError(f"{xml_dir}: no .xml annotation files")
        for path in files:
            yield path, lambda path=path: (path.stem, parse_xml(path))

    def _sample(self, where, image_id: str, objects) -> tuple[Path, int, torch.Tensor]:
        wnids = {w for w, _ in objects}
        for w in wnids:
            if w not in self.class_index:
                raise BadInputError(f"{where}: wnid {w} is not in {self.mapping_file}")
        if len(wnids) != 1:
            raise BadInputError(f"{where}: boxes of several classes {sorted(wnids)}; ILSVRC val has one label "
                                f"per image")
        boxes = torch.tensor([b for _, b in objects], dtype=torch.float64)
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]) | (boxes[:, :2] < 0).any(1)
        if bool(bad.any()):
            raise BadInputError(f"{where}: invalid box {boxes[bad][0].tolist()} (need 0 <= x0 <= x1, 0 <= y0 <= y1)")
        image = next((self.images_dir / (image_id + ext) for ext in IMAGE_EXTENSIONS
                      if (self.images_dir / (image_id + ext)).exists()), None)
        if image is None:
            raise BadInputError(f"{where}: image {self.images_dir / (image_id + '.JPEG')} not found")
        return image, self.class_index[objects[0][0]], boxes

    def __len__(self) -> int:
        return len(self.samples)

    def path(self, index: int) -> Path:
        return self.samples[index][0]

    def __getitem__(self, index: int):
        path, label, boxes = self.samples[index]
        try:
            image = load_image(path)
            w, h = image.size
            # Some ILSVRC boxes end at x = width (1-based edge); one pixel past is clamped, more is an error.
            if bool((boxes[:, 2] > w).any() or (boxes[:, 3] > h).any()):
                raise BadInputError(f"{path}: a box {boxes.tolist()} extends past the {w}x{h} image")
            boxes = torch.minimum(boxes, torch.tensor([w - 1, h - 1, w - 1, h - 1], dtype=boxes.dtype))
        except BadInputError as e:
            if not self.skip_bad:
                raise
            return Skipped(index, str(path), str(e))
        return make_sample(image, boxes, label, index, self.transform)
