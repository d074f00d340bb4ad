"""ILSVRC2012 (Tables 1-3 of the paper are measured on its validation set; the networks fine-tune on train).

Validation, in the three layouts users have (``layout="auto"`` picks the first that is present):

- ``loc``: ``LOC_val_solution.csv`` (``ImageId,PredictionString`` with ``wnid x0 y0 x1 y1`` groups) and
  ``LOC_synset_mapping.txt`` (``wnid description``, line order = class index), images in ``val/`` (or
  ``ILSVRC/Data/CLS-LOC/val/``): the Kaggle ILSVRC "LOC" release.
- ``devkit``: one Pascal-VOC style XML per image in ``bbox/`` (or ``ILSVRC/Annotations/CLS-LOC/val/``, or beside
  the images), images in ``val/``; class order from ``LOC_synset_mapping.txt`` or ``synsets.txt``/``wnids.txt``.
- ``wsol``: wsolevaluation's metadata (Choe et al. 2020): ``image_ids.txt`` (image paths relative to ``root``),
  ``class_labels.txt`` (``path,label``), ``image_sizes.txt`` (``path,w,h``), ``localization.txt``
  (``path,x0,y0,x1,y1``, one line per box; or OpenImages30k's masks, ``path,mask,ignore``: one line per instance
  mask, the ignore mask on the image's first line, both relative to ``mask_root``, default ``root``), in
  ``metadata`` (default: ``root``). With masks, each sample's object mask is wsolevaluation's ``get_mask``
  (:func:`cam_lib.data.common.instance_masks`) and its boxes the instances' tight boxes; PxAP is then measured.

Train: ``train/<wnid>/*.JPEG`` (or ``ILSVRC/Data/CLS-LOC/train/``), labels from the mapping file, with the
optional per-class train boxes (``train_bbox/<wnid>/*.xml``, ``ILSVRC/Annotations/CLS-LOC/train/<wnid>/``).

Every box of an image is kept (inclusive pixel boxes in the stored image's frame, carried into the evaluated
frame by :func:`cam_lib.data.common.make_sample`). Bad annotations raise a BadInputError naming the file (and
line); with ``skip_bad=True`` the entry is skipped, warned about and recorded in ``dataset.skipped``.
"""

from __future__ import annotations

import csv
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import torch
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms import v2

from ..errors import BadInputError
from .common import BoxDataset, Skipped, check_boxes

LAYOUTS = ("auto", "loc", "devkit", "wsol")
MAPPING_FILES = ("LOC_synset_mapping.txt", "synsets.txt", "wnids.txt")
IMAGE_DIRS = ("val", "ILSVRC/Data/CLS-LOC/val")
XML_DIRS = ("bbox", "ILSVRC/Annotations/CLS-LOC/val")
TRAIN_DIRS = ("train", "ILSVRC/Data/CLS-LOC/train")
TRAIN_XML_DIRS = ("train_bbox", "ILSVRC/Annotations/CLS-LOC/train")
WSOL_FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")
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
            raise BadInputError(f"{path}:{lineno}: duplicate wnid {wnid} (first on line {seen[wnid]})", param="root")
        seen[wnid] = lineno
        wnids.append(wnid)
        names.append(desc.split(",")[0].strip() or wnid)
    if not wnids:
        raise BadInputError(f"{path}: no classes in the mapping file", param="root")
    return wnids, names


def imagenet_class_names() -> list[str]:
    """The 1000 ILSVRC class names in standard order, from torchvision's weights metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _first_existing(root: Path, candidates: tuple[str, ...], what: str) -> Path:
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise BadInputError(f"{root}: no {what} found (looked for {', '.join(candidates)})", param="root")


def parse_xml(path: Path) -> list[tuple[str, list[float]]]:
    """``[(wnid, [x0, y0, x1, y1]), ...]`` from an ILSVRC devkit XML; raises naming the file."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise BadInputError(f"{path}: not valid XML ({e})", param="root") from None
    objects = []
    for obj in root.iter("object"):
        name, box = obj.findtext("name"), obj.find("bndbox")
        try:
            coords = [float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            raise BadInputError(f"{path}: object {name!r} has a missing or non-numeric <bndbox>",
                                param="root") from None
        objects.append((name, coords))
    if not objects:
        raise BadInputError(f"{path}: no <object> in the annotation", param="root")
    return objects


def xml_size(path: Path) -> tuple[int, int] | None:
    """The ``(width, height)`` an ILSVRC devkit XML declares in ``<size>``, or None when it gives none."""
    try:
        size = ET.parse(path).getroot().find("size")
        return (int(float(size.findtext("width"))), int(float(size.findtext("height")))) if size is not None else None
    except (ET.ParseError, TypeError, ValueError):
        raise BadInputError(f"{path}: <size> must hold numeric <width> and <height>", param="root") from None


def _read_lines(path: Path, columns: int | tuple[int, ...], param: str) -> list[tuple[int, list[str]]]:
    """``[(lineno, fields)]`` of a comma-separated list file, each line with ``columns`` fields (or one of several
    counts); ``param``: the parameter that pointed to the file (named by the errors)."""
    counts = columns if isinstance(columns, tuple) else (columns,)
    if not path.exists():
        raise BadInputError(f"{path}: not found", param=param)
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            fields = [f.strip() for f in line.split(",")]
            if len(fields) not in counts:
                raise BadInputError(f"{path}:{lineno}: expected {' or '.join(map(str, counts))} comma-separated "
                                    f"fields, got {len(fields)}", param=param)
            out.append((lineno, fields))
    return out


def _inside(root: Path, rel: str, where: str, param: str) -> Path:
    """``root / rel``, refused (naming ``where``) when the listed path leaves ``root`` (``..``, an absolute path or
    a link out of it): a metadata file names files of its dataset only."""
    path = root / rel
    if Path(rel).is_absolute() or not path.resolve().is_relative_to(root.resolve()):
        raise BadInputError(f"{where}: {rel} is outside {root}; list paths relative to it", param=param)
    return path


class _Classes:
    """The class list of a dataset folder: a mapping file if one is there, else ``num_classes`` indices."""

    def __init__(self, root: Path, required: bool = True):
        found = [root / f for f in MAPPING_FILES if (root / f).exists()]
        if not found and required:
            raise BadInputError(f"{root}: no class mapping file found (looked for {', '.join(MAPPING_FILES)})",
                                param="root")
        self.mapping_file = found[0] if found else None
        self.wnids, self.class_names = read_synset_mapping(found[0]) if found else ([], [])
        self.class_index = {w: i for i, w in enumerate(self.wnids)}

    def index(self, wnid: str, where) -> int:
        if wnid not in self.class_index:
            raise BadInputError(f"{where}: wnid {wnid} is not in {self.mapping_file}", param="root")
        return self.class_index[wnid]


class _ClassesMixin:
    """Class list accessors shared by the ImageNet datasets (``self.classes`` is a :class:`_Classes`)."""

    classes: _Classes

    @property
    def num_classes(self) -> int:
        return len(self.classes.class_names)

    @property
    def class_names(self) -> list[str]:
        return self.classes.class_names

    @property
    def wnids(self) -> list[str]:
        return self.classes.wnids


class ImageNetVal(_ClassesMixin, BoxDataset):
    """An ILSVRC-val-format folder. Items are ``(image, target)`` (see :func:`cam_lib.data.common.make_sample`)."""

    def __init__(self, root: str | Path, layout: str = "auto", frame: str = "resize", skip_bad: bool = False,
                 limit: int | None = None, transform: v2.Transform | None = None,
                 metadata: str | Path | None = None, mask_root: str | Path | None = None):
        super().__init__(transform, frame, skip_bad)
        self.root = Path(root)
        self.mask_root = Path(mask_root) if mask_root is not None else self.root
        self.instance_masks: dict[Path, tuple[list[Path], Path | None]] = {}   # image -> (instance masks, ignore)
        if not self.root.is_dir():
            raise BadInputError(f"parameter root={str(self.root)!r}: dataset folder not found", param="root")
        if layout not in LAYOUTS:
            raise BadInputError(f"parameter layout={layout!r}: must be one of {LAYOUTS}", param="layout")
        self.metadata = Path(metadata) if metadata is not None else self.root
        self._metadata_param = "metadata" if metadata is not None else "root"   # names the wsol files' errors
        if layout == "auto":
            layout = ("wsol" if metadata is not None or (self.root / "image_ids.txt").exists() else
                      "loc" if (self.root / "LOC_val_solution.csv").exists() else "devkit")
        self.layout = layout
        self.classes = _Classes(self.root, required=layout != "wsol")
        if layout != "wsol":
            self.images_dir = _first_existing(self.root, IMAGE_DIRS, "image folder")
        self._annotated: set[str] = set()   # image ids the annotation files name (loc, devkit)
        records = {"loc": self._read_loc, "devkit": self._read_devkit, "wsol": self._read_wsol}[layout]()
        self._collect(records, limit)
        if (self.root / "masks").is_dir():   # object masks beside the images (the embedded benchmark writes them)
            self.mask_dir = self.root / "masks"
        if layout != "wsol" and limit is None:
            self._check_unannotated()
        if layout == "wsol" and not self.classes.wnids:
            n = 1 + max(label for _, label, _ in self.samples)
            self.classes.class_names = [f"class {i}" for i in range(n)]

    def _check_unannotated(self) -> None:
        """An image in the image folder that no annotation names is an error (or, with ``skip_bad``, a skipped
        entry): it would otherwise leave the evaluation without a word."""
        orphans = sorted(p for p in self.images_dir.iterdir()
                         if p.suffix in IMAGE_EXTENSIONS and p.stem not in self._annotated)
        if not orphans:
            return
        source = "LOC_val_solution.csv" if self.layout == "loc" else "an XML file"
        reason = f"no annotation: the image is not named by {source}"
        if not self.skip_bad:
            raise BadInputError(f"{orphans[0]}: {reason} ({len(orphans)} such image(s) in {self.images_dir}; "
                                "annotate them, remove them, or pass --skip-bad / skip_bad=True to leave them out)",
                                param="root")
        self.skipped += [Skipped(-1, str(p), reason) for p in orphans]
        warnings.warn(f"ImageNetVal: skipped {len(orphans)} images without annotation (first: {orphans[0]})",
                      stacklevel=3)

    def _read_loc(self):
        path = self.root / "LOC_val_solution.csv"
        if not path.exists():
            raise BadInputError(f"{path}: not found (layout 'loc' needs LOC_val_solution.csv)", param="root")
        seen: dict[str, int] = {}
        with path.open(newline="", encoding="utf-8-sig") as f:   # a byte-order mark (Excel's CSV) is read, not an error
            rows = list(csv.reader(f))
        if not rows or [c.strip() for c in rows[0][:2]] != ["ImageId", "PredictionString"]:
            raise BadInputError(f"{path}:1: expected the header 'ImageId,PredictionString'", param="root")
        for lineno, row in enumerate(rows[1:], 2):
            if row:
                where = f"{path}:{lineno}"
                yield where, lambda row=row, lineno=lineno, where=where: self._sample(
                    where, *self._parse_row(path, lineno, row, seen, self._annotated))

    @staticmethod
    def _parse_row(path: Path, lineno: int, row: list[str], seen: dict[str, int], annotated: set[str]):
        where = f"{path}:{lineno}"
        if len(row) != 2:
            raise BadInputError(f"{where}: expected 2 columns, got {len(row)}", param="root")
        image_id, tokens = row[0].strip(), row[1].split()
        annotated.add(image_id)
        if image_id in seen:
            raise BadInputError(f"{where}: duplicate ImageId {image_id} (first on line {seen[image_id]})",
                                param="root")
        seen[image_id] = lineno
        if not tokens or len(tokens) % 5:
            raise BadInputError(f"{where}: PredictionString must be groups of 'wnid x0 y0 x1 y1', got {row[1]!r}",
                                param="root")
        try:
            return image_id, [(tokens[i], [float(v) for v in tokens[i + 1:i + 5]]) for i in range(0, len(tokens), 5)]
        except ValueError:
            raise BadInputError(f"{where}: non-numeric box coordinate in {row[1]!r}", param="root") from None

    def _read_devkit(self):
        xml_dir = next((self.root / d for d in XML_DIRS if (self.root / d).exists()), self.images_dir)
        files = sorted(xml_dir.glob("*.xml"))
        if not files:
            raise BadInputError(f"{xml_dir}: no .xml annotation files", param="root")
        self._annotated.update(path.stem for path in files)
        for path in files:
            yield path, lambda path=path: self._declare(self._sample(path, path.stem, parse_xml(path)),
                                                        xml_size(path), str(path))

    def _sample(self, where, image_id: str, objects) -> tuple[Path, int, torch.Tensor]:
        labels = {self.classes.index(w, where) for w, _ in objects}
        if len(labels) != 1:
            raise BadInputError(f"{where}: boxes of several classes {sorted({w for w, _ in objects})}; ILSVRC val "
                                f"has one label per image", param="root")
        image = next((self.images_dir / (image_id + ext) for ext in IMAGE_EXTENSIONS
                      if (self.images_dir / (image_id + ext)).exists()), None)
        if image is None:
            raise BadInputError(f"{where}: image {self.images_dir / (image_id + '.JPEG')} not found", param="root")
        return image, labels.pop(), check_boxes([b for _, b in objects], where)

    def _read_wsol(self):
        ids, labels, sizes, loc = (self.metadata / f for f in WSOL_FILES)
        param = self._metadata_param
        order = []
        for lineno, (path,) in _read_lines(ids, 1, param):
            if path in order:
                raise BadInputError(f"{ids}:{lineno}: duplicate image id {path}", param=param)
            order.append(path)
        known = set(order)
        label_of: dict[str, tuple[int, int]] = {}
        boxes_of: dict[str, list] = {}
        for lineno, (path, label) in _read_lines(labels, 2, param):
            if path not in known:
                raise BadInputError(f"{labels}:{lineno}: {path} is not in {ids}", param=param)
            if not label.isdigit():
                raise BadInputError(f"{labels}:{lineno}: class label {label!r} is not a non-negative integer",
                                    param=param)
            if path in label_of:
                raise BadInputError(f"{labels}:{lineno}: a second label line for {path} (first on line "
                                    f"{label_of[path][1]})", param=param)
            label_of[path] = (int(label), lineno)
        size_of: dict[str, tuple[int, int, str]] = {}
        if sizes.exists():
            for lineno, (path, w, h) in _read_lines(sizes, 3, param):
                if path not in known:
                    raise BadInputError(f"{sizes}:{lineno}: {path} is not in {ids}", param=param)
                if path in size_of:
                    raise BadInputError(f"{sizes}:{lineno}: a second size line for {path} (first at "
                                        f"{size_of[path][2]})", param=param)
                if not (w.isdigit() and h.isdigit()):
                    raise BadInputError(f"{sizes}:{lineno}: width and height must be whole numbers, got {w!r}, {h!r}",
                                        param=param)
                size_of[path] = (int(w), int(h), f"{sizes}:{lineno}")
        kinds = set()
        for lineno, (path, *coords) in _read_lines(loc, (3, 5), param):
            if path not in known:
                raise BadInputError(f"{loc}:{lineno}: {path} is not in {ids}", param=param)
            kinds.add(len(coords))
            if len(kinds) > 1:
                raise BadInputError(f"{loc}:{lineno}: mixes box lines (path,x0,y0,x1,y1) and mask lines "
                                    "(path,mask,ignore)", param=param)
            if len(coords) == 2:
                self._mask_line(loc, lineno, path, *coords)
                continue
            try:
                boxes_of.setdefault(path, []).append((lineno, [float(v) for v in coords]))
            except ValueError:
                raise BadInputError(f"{loc}:{lineno}: non-numeric box coordinate in {coords}", param=param) from None
        for path in order:
            w, h, where = size_of.get(path, (0, 0, ""))
            yield f"{ids}: {path}", lambda path=path, size=(w, h) if where else None, where=where: self._declare(
                self._wsol_sample(path, label_of, boxes_of, labels, loc), size, where)

    def _mask_line(self, loc: Path, lineno: int, path: str, mask: str, ignore: str) -> None:
        """One line of OpenImages30k's ``localization.txt``: an instance mask, the ignore mask on the first line."""
        if not mask:
            raise BadInputError(f"{loc}:{lineno}: empty mask path", param=self._metadata_param)
        image = self.root / path
        _inside(self.mask_root, mask, f"{loc}:{lineno}", self._metadata_param)
        if ignore:
            _inside(self.mask_root, ignore, f"{loc}:{lineno}", self._metadata_param)
        if image in self.instance_masks:
            if ignore:
                raise BadInputError(f"{loc}:{lineno}: a second ignore mask for {path} (only its first line names one)",
                                    param=self._metadata_param)
            self.instance_masks[image][0].append(self.mask_root / mask)
        else:
            self.instance_masks[image] = ([self.mask_root / mask], self.mask_root / ignore if ignore else None)

    @property
    def has_masks(self) -> bool:
        return bool(self.instance_masks) or self.mask_dir is not None

    def load_with_mask(self, index: int):
        path = self.samples[index][0]
        if path not in self.instance_masks:
            return super().load_with_mask(index)
        from .common import instance_masks, load_image

        image = load_image(path)
        self._check_size(path, *image.size)
        mask, boxes = instance_masks(*self.instance_masks[path], image.size, param="root")
        return image, boxes, mask

    def _wsol_sample(self, path: str, label_of, boxes_of, labels_file: Path, loc_file: Path):
        if path not in label_of:
            raise BadInputError(f"{labels_file}: no class label for {path}", param=self._metadata_param)
        image, masked = _inside(self.root, path, f"{labels_file}:{label_of[path][1]}", "root"), \
            self.root / path in self.instance_masks
        if not masked and path not in boxes_of:
            raise BadInputError(f"{loc_file}: no box for {path}", param=self._metadata_param)
        label, lineno = label_of[path]
        if self.classes.wnids and label >= len(self.classes.wnids):
            raise BadInputError(f"{labels_file}:{lineno}: class label {label} out of range for "
                                f"{len(self.classes.wnids)} classes in {self.classes.mapping_file}",
                                param=self._metadata_param)
        if not image.exists():
            raise BadInputError(f"{labels_file}:{lineno}: image {image} not found", param="root")
        if masked:   # the boxes come from the instance masks when the image is loaded
            return image, label, torch.zeros(0, 4, dtype=torch.float64)
        boxes = torch.cat([check_boxes(b, f"{loc_file}:{n}", self._metadata_param) for n, b in boxes_of[path]])
        return image, label, boxes


class ImageNetTrain(_ClassesMixin, BoxDataset):
    """ILSVRC train: one folder per wnid, class order from the mapping file; per-class train boxes when present
    (images without a box file have no boxes)."""

    def __init__(self, root: str | Path, transform: v2.Transform | None = None, frame: str = "resize",
                 skip_bad: bool = False, limit_per_class: int | None = None):
        super().__init__(transform, frame, skip_bad)
        self.root = Path(root)
        if not self.root.is_dir():
            raise BadInputError(f"parameter root={str(self.root)!r}: dataset folder not found", param="root")
        self.classes = _Classes(self.root)
        self.images_dir = _first_existing(self.root, TRAIN_DIRS, "train image folder")
        xml_root = next((self.root / d for d in TRAIN_XML_DIRS if (self.root / d).exists()), None)
        folders = sorted(p.name for p in self.images_dir.iterdir() if p.is_dir())
        extra = [f for f in folders if f not in self.classes.class_index]
        if extra:
            raise BadInputError(f"{self.images_dir / extra[0]}: class folder {extra[0]} is not in "
                                f"{self.classes.mapping_file}", param="root")
        if len(folders) != len(self.classes.wnids):
            missing = [w for w in self.classes.wnids if w not in folders]
            raise BadInputError(f"{self.images_dir}: {len(folders)} class folders but {self.classes.mapping_file} "
                                f"lists {len(self.classes.wnids)} classes (missing e.g. {missing[0]})", param="root")
        self._collect(self._records(xml_root, limit_per_class))

    def _records(self, xml_root: Path | None, limit_per_class: int | None):
        for wnid in self.classes.wnids:
            files = sorted(p for p in (self.images_dir / wnid).iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
            if not files:
                raise BadInputError(f"{self.images_dir / wnid}: no images for class {wnid}", param="root")
            for path in files[:limit_per_class]:
                yield path, lambda path=path, wnid=wnid: self._sample(path, wnid, xml_root)

    def _sample(self, path: Path, wnid: str, xml_root: Path | None):
        label = self.classes.class_index[wnid]
        xml = xml_root / wnid / f"{path.stem}.xml" if xml_root is not None else None
        if xml is None or not xml.exists():
            return path, label, torch.zeros(0, 4, dtype=torch.float64)
        objects = parse_xml(xml)
        for w, _ in objects:
            if w != wnid:
                raise BadInputError(f"{xml}: box of class {w} in the folder of class {wnid}", param="root")
        return path, label, check_boxes([b for _, b in objects], xml)
