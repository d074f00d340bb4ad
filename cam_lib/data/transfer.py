"""The eight generic-feature datasets of Table 5 (linear SVM on GAP features) and a generic split-folder loader.

The CAM paper (Sec. 5) follows the transfer protocols of DeCAF (Donahue et al. 2014) and Zhou et al. 2014
("Learning deep features for scene recognition using Places"). Each class below states its protocol, its exact
expected folder layout and its source; ``protocol`` holds the one-line summary. Splits with repeats take
``fold`` (0-based) and expose ``n_folds`` so the caller can average them; random per-class splits are drawn
from ``numpy.random.default_rng([seed, fold, crc32(class folder)])``, so a split is the same on every machine,
does not depend on the other classes, and changes with ``seed`` or ``fold``.

Every dataset is a :class:`~cam_lib.data.common.BoxDataset` like ImageNetVal: items are ``(image, target)``
from :func:`~cam_lib.data.common.make_sample` (``transform`` defaults to ``eval_transform(frame)``); attributes
``num_classes``, ``class_names``, ``targets`` (int labels, or ``(N, A)`` 0/1 for :class:`SUNAttribute`),
``path(i)``, ``skipped``, ``protocol``, ``n_folds``. A bad list entry raises a
:class:`~cam_lib.errors.BadInputError` naming the file and line; with ``skip_bad=True`` it is left out at
construction, recorded in ``skipped`` and counted in a warning, and an unreadable image is returned as a
:class:`~cam_lib.data.common.Skipped` by ``__getitem__``. Files in class folders that are not images
(extension not in torchvision's ``IMG_EXTENSIONS``) are recorded in ``skipped`` too: nothing is silently dropped.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, has_file_allowed_extension, make_dataset
from torchvision.transforms import v2

from ..errors import BadInputError
from .common import Skipped, check_boxes
from .formats import ImageListDataset, no_boxes, read_list_file, resolve_root, strip_number_prefix
from .imagenet import parse_xml

SPLITS = ("train", "test")

__all__ = ["TRANSFER_DATASETS", "build_transfer", "ImageListDataset", "SUN397", "MITIndoor67", "Scene15",
           "SUNAttribute", "Caltech101", "Caltech256", "StanfordAction40", "Event8", "SplitFolder"]


# ------------------------------------------------------------------------------------------------ split helpers

def list_class_folders(root: Path, exclude: tuple[str, ...] = ()) -> tuple[list[str], list[list[Path]], list[Path]]:
    """``(class folders, their image files, other files)`` of a folder-per-class tree, via torchvision's
    ``find_classes`` (sorted folder names) and ``make_dataset`` (recursive, sorted); image files are those with
    an extension in ``IMG_EXTENSIONS``. A class folder without images raises naming it."""
    try:
        classes, _ = find_classes(root)
    except FileNotFoundError as e:
        raise BadInputError(f"{root}: no class folders ({e})", param="root") from None
    classes = [c for c in classes if c not in exclude]
    if not classes:
        raise BadInputError(f"{root}: no class folders left after excluding {list(exclude)}", param="root")
    found = make_dataset(root, {c: i for i, c in enumerate(classes)}, is_valid_file=lambda _: True,
                         allow_empty=True)
    files: list[list[Path]] = [[] for _ in classes]
    other: list[Path] = []
    for p, i in found:
        (files[i] if has_file_allowed_extension(p, IMG_EXTENSIONS) else other).append(Path(p))
    for c, f in zip(classes, files):
        if not f:
            raise BadInputError(f"{root / c}: class folder has no image files ({', '.join(IMG_EXTENSIONS)})",
                                param="root")
    return classes, files, other


def class_rng(seed: int, fold: int, key: str) -> np.random.Generator:
    """The random stream of one class of one fold: independent of the other classes and of the platform."""
    return np.random.default_rng([seed, fold, zlib.crc32(key.encode())])


def split_per_class(keys: list[str], files: list[list], split: str, n_train: int, n_test: int | None,
                    seed: int, fold: int) -> tuple[list[tuple], int]:
    """Random per-class split: a permutation of each class's (sorted) files from :func:`class_rng`; the first
    ``n_train`` are train, the next ``n_test`` (all the rest when None) test. Returns ``([(file, label)], unused)``
    for ``split``, in class then file order, and how many images of the dataset are in neither split."""
    out, unused = [], 0
    for label, (key, items) in enumerate(zip(keys, files)):
        order = class_rng(seed, fold, key).permutation(len(items))
        stop = len(items) if n_test is None else min(len(items), n_train + n_test)
        unused += len(items) - stop
        chosen = order[:n_train] if split == "train" else order[n_train:stop]
        out += [(items[i], label) for i in sorted(chosen)]
    return out, unused


def check_split(split: str, allowed: tuple[str, ...] = SPLITS) -> str:
    if split not in allowed:
        raise BadInputError(f"parameter split={split!r}: must be one of {allowed}", param="split")
    return split


def check_fold(fold: int, n_folds: int | None, seed: int = 0) -> tuple[int, int]:
    """``fold`` in ``[0, n_folds)`` (any fold >= 0 when ``n_folds`` is None) and ``seed >= 0``."""
    if not isinstance(fold, (int, np.integer)) or fold < 0 or (n_folds is not None and fold >= n_folds):
        bound = f"0..{n_folds - 1}" if n_folds is not None else ">= 0"
        raise BadInputError(f"parameter fold={fold!r}: must be an int in {bound}", param="fold")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInputError(f"parameter seed={seed!r}: must be an int >= 0", param="seed")
    return int(fold), int(seed)


def first_places(pairs) -> dict[str, str]:
    """``{entry: where it is first listed}`` from ``(entry, where)`` pairs."""
    out: dict[str, str] = {}
    for entry, where in pairs:
        out.setdefault(entry, where)
    return out


# ------------------------------------------------------------------------------------------- list-file datasets

class SUN397(ImageListDataset):
    """SUN397 (Xiao et al. 2010), the official 10 partitions: ``fold=k`` reads ``Partitions/Training_{k+1:02d}.txt``
    and ``Testing_{k+1:02d}.txt`` (50 train + 50 test images per class, 19,850 each); report the mean over the
    10 folds. Labels follow ``ClassName.txt`` (397 lines ``/a/abbey``); class names drop the letter folder.

    Layout (``root`` is ``SUN397/`` or the folder containing it)::

        SUN397/ClassName.txt          (as shipped in SUN397.tar.gz; or in Partitions/)
        SUN397/a/abbey/sun_aaalbzqrimafwbiv.jpg
        SUN397/Partitions/Training_01.txt ... Testing_10.txt   (or Partitions/ beside SUN397/)

    List lines are image paths relative to ``SUN397/`` with a leading slash: ``/a/abbey/sun_aaalbzqrimafwbiv.jpg``.
    """

    protocol = "official Partitions/Training_XX.txt / Testing_XX.txt, 10 folds x (50 train + 50 test) per class " \
               "(Xiao et al., CVPR 2010)"
    n_folds = 10

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self.split = check_split(split)
        self.fold, _ = check_fold(fold, self.n_folds)
        self.root = resolve_root(root, "SUN397")
        parts = next((d for d in (self.root / "Partitions", Path(root) / "Partitions") if d.is_dir()), None)
        if parts is None:
            raise BadInputError(f"{self.root}: no Partitions/ folder (unzip the official Partitions.zip there)",
                                param="root")
        names = next((f for f in (self.root / "ClassName.txt", parts / "ClassName.txt") if f.is_file()),
                     self.root / "ClassName.txt")
        self.class_keys: list[str] = []
        index: dict[str, int] = {}
        for lineno, line in read_list_file(names, "SUN397 class list"):
            key = line.strip("/")
            if key in index:
                raise BadInputError(f"{names}:{lineno}: duplicate class {line}", param="root")
            index[key] = len(self.class_keys)
            self.class_keys.append(key)
        self.class_names = [k.split("/", 1)[-1] for k in self.class_keys]
        files = {s: parts / f"{'Training' if s == 'train' else 'Testing'}_{self.fold + 1:02d}.txt" for s in SPLITS}
        rows = {s: read_list_file(f, f"SUN397 partition file ({s})") for s, f in files.items()}
        other_split = "test" if split == "train" else "train"
        other = first_places((line.lstrip("/"), f"{files[other_split]}:{n}") for n, line in rows[other_split])
        entries = [(f"{files[split]}:{n}", line.lstrip("/"), line.lstrip("/").rsplit("/", 1)[0])
                   for n, line in rows[split]]
        self._collect(self._listed_records(entries, self.root, index, str(names), other))


class MITIndoor67(ImageListDataset):
    """MIT Indoor67 (Quattoni & Torralba 2009), the official single split ``TrainImages.txt`` / ``TestImages.txt``
    (80 train + 20 test per class: 5,360 / 1,340). Classes are the sorted folders of ``Images/`` (67).

    Layout (``root`` holds all three)::

        Images/airport_inside/airport_inside_0001.jpg
        TrainImages.txt   (lines ``airport_inside/airport_inside_0001.jpg``, relative to Images/)
        TestImages.txt
    """

    protocol = "official TrainImages.txt / TestImages.txt, 80 train + 20 test per class (Quattoni & Torralba, " \
               "CVPR 2009)"
    LIST_FILES = {"train": "TrainImages.txt", "test": "TestImages.txt"}

    def __init__(self, root: str | Path, split: str = "train", transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self.split = check_split(split)
        self.root = resolve_root(root, "indoorCVPR_09", "Images")
        images = self.root / "Images"
        if not images.is_dir():
            raise BadInputError(f"{images}: image folder not found", param="root")
        self.class_names, index = find_classes(images)
        files = {s: self.root / f for s, f in self.LIST_FILES.items()}
        rows = {s: read_list_file(f, f"MIT Indoor67 list ({s})") for s, f in files.items()}
        other_split = "test" if split == "train" else "train"
        other = first_places((line, f"{files[other_split]}:{n}") for n, line in rows[other_split])
        entries = [(f"{files[split]}:{n}", line, line.split("/", 1)[0]) for n, line in rows[split]]
        self._collect(self._listed_records(entries, images, index, f"the class folders of {images}", other))


class StanfordAction40(ImageListDataset):
    """Stanford 40 Actions (Yao et al. 2011), the official split ``ImageSplits/<action>_train.txt`` /
    ``<action>_test.txt`` (100 train per action, 4,000 / 5,532). Classes follow ``ImageSplits/actions.txt``
    (header ``action_name number_of_images``, one action a line), or the sorted ``*_train.txt`` names without it.
    ``load_boxes=True`` adds the person boxes of ``XMLAnnotations/<image>.xml`` (Pascal-VOC ``bndbox``, taken as
    inclusive pixel boxes; one pixel past the image edge is clamped).

    Layout (``root`` is ``Stanford40/`` or the folder holding these)::

        JPEGImages/applauding_001.jpg
        ImageSplits/actions.txt, ImageSplits/applauding_train.txt (lines ``applauding_001.jpg``), ..._test.txt
        XMLAnnotations/applauding_001.xml
    """

    protocol = "official ImageSplits/<action>_train.txt / _test.txt, 100 train per action (Yao et al., ICCV 2011)"

    def __init__(self, root: str | Path, split: str = "train", load_boxes: bool = False,
                 transform: v2.Transform | None = None, frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self.split = check_split(split)
        self.root = resolve_root(root, "Stanford40", "ImageSplits")
        splits_dir = self.root / "ImageSplits"
        if not splits_dir.is_dir():
            raise BadInputError(f"{splits_dir}: split folder not found", param="root")
        actions_file = splits_dir / "actions.txt"
        if actions_file.is_file():
            rows = read_list_file(actions_file, "action list")
            actions = [line.split()[0] for k, (_, line) in enumerate(rows)
                       if not (k == 0 and line.split()[0] == "action_name")]
        else:
            actions = sorted(p.name[:-len("_train.txt")] for p in splits_dir.glob("*_train.txt"))
        if not actions:
            raise BadInputError(f"{splits_dir}: no actions (neither actions.txt nor *_train.txt)", param="root")
        self.class_keys = actions
        self.class_names = [a.replace("_", " ") for a in actions]
        index = {a: i for i, a in enumerate(actions)}
        entries: dict[str, list] = {"train": [], "test": []}
        for s in SPLITS:
            for action in actions:
                f = splits_dir / f"{action}_{s}.txt"
                entries[s] += [(f"{f}:{n}", line, action) for n, line in read_list_file(f, f"{action} {s} list")]
        other = first_places((rel, where) for where, rel, _ in entries["test" if split == "train" else "train"])
        classes_from = str(actions_file if actions_file.is_file() else splits_dir)
        self._collect(self._listed_records(entries[split], self.root / "JPEGImages", index, classes_from, other,
                                           self._boxes if load_boxes else None))

    def _boxes(self, rel: str) -> torch.Tensor:
        xml = self.root / "XMLAnnotations" / (Path(rel).stem + ".xml")
        if not xml.is_file():
            raise BadInputError(f"{xml}: annotation file not found", param="root")
        return check_boxes([b for _, b in parse_xml(xml)], xml)


# ---------------------------------------------------------------------------------------- random-split datasets

class _RandomFolderSplit(ImageListDataset):
    """Folder-per-class dataset with a random per-class split (:func:`split_per_class`)."""

    folder = ""

    def _build(self, root, split, fold, seed, n_train, n_test, exclude=(), name=lambda key: key) -> None:
        self.split = check_split(split)
        self.fold, self.seed = check_fold(fold, None, seed)
        if not isinstance(n_train, int) or n_train < 1 or (n_test is not None and (not isinstance(n_test, int)
                                                                                   or n_test < 1)):
            bad, value = ("n_train", n_train) if not isinstance(n_train, int) or n_train < 1 else ("n_test", n_test)
            raise BadInputError(f"parameter {bad}={value!r}: n_train must be an int >= 1 and n_test None or an int "
                                f">= 1 (got n_train={n_train!r}, n_test={n_test!r})", param=bad)
        self.n_train, self.n_test = n_train, n_test
        self.root = resolve_root(root, self.folder) if self.folder else Path(root)
        if not self.root.is_dir():
            raise BadInputError(f"parameter root={str(self.root)!r}: dataset folder not found", param="root")
        self.class_keys, files, other = list_class_folders(self.root, tuple(exclude))
        self._ignore_files(other)
        for key, f in zip(self.class_keys, files):
            if len(f) <= n_train:
                raise BadInputError(f"{self.root / key}: {len(f)} images, the protocol takes {n_train} for training "
                                    f"and needs at least one more for testing", param="root")
        self.class_names = [name(k) for k in self.class_keys]
        picked, self.n_unused = split_per_class(self.class_keys, files, split, n_train, n_test, self.seed, self.fold)
        self._take([(p, label, no_boxes()) for p, label in picked])


class Scene15(_RandomFolderSplit):
    """15-Scene (Lazebnik et al. 2006): 100 random training images per class, all the rest for testing; the
    literature averages 10 random splits (``n_folds = 10``).

    Layout (``root`` holds the 15 class folders, as in the ``15-Scene`` / ``scene_categories`` release)::

        bedroom/image_0001.jpg, CALsuburb/image_0001.jpg, ..., MITcoast/image_0001.jpg, ..., store/...
    """

    protocol = "random 100 train per class, rest test, 10 repeats (Lazebnik et al., CVPR 2006)"
    n_folds = 10

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, seed: int = 0, n_train: int = 100,
                 transform: v2.Transform | None = None, frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self._build(root, split, fold, seed, n_train, None)


class Caltech101(_RandomFolderSplit):
    """Caltech-101 (Fei-Fei et al. 2004): 30 random training images per class, up to 50 of the rest for testing,
    5 random folds (the protocol of Zeiler & Fergus 2014 and DeCAF). ``BACKGROUND_Google`` is kept as a 102nd
    class by default (``include_background=True``, as in DeCAF / Zhou et al. 2014); pass False for the 101 object
    classes. Images beyond the 30 + 50 of a class are in neither split (``n_unused`` counts them).

    torchvision's ``Caltech101`` is not used: it always drops the background class and wants ``caltech101/``
    above the category folder; class folders are listed with torchvision's ``find_classes`` / ``make_dataset``.

    Layout (``root`` is ``101_ObjectCategories/`` or the folder containing it)::

        101_ObjectCategories/BACKGROUND_Google/image_0001.jpg, .../Faces/image_0001.jpg, .../accordion/...
    """

    protocol = "random 30 train + up to 50 test per class, 5 folds, 102 classes incl. BACKGROUND_Google " \
               "(Fei-Fei et al. 2004; Zeiler & Fergus 2014; DeCAF)"
    n_folds = 5
    BACKGROUND = "BACKGROUND_Google"
    folder = "101_ObjectCategories"

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, seed: int = 0, n_train: int = 30,
                 n_test: int | None = 50, include_background: bool = True, transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self._build(root, split, fold, seed, n_train, n_test, () if include_background else (self.BACKGROUND,))


class Caltech256(_RandomFolderSplit):
    """Caltech-256 (Griffin et al. 2007): 60 random training images per class, all the rest for testing, 5 folds
    (Zeiler & Fergus 2014). The clutter class ``257.clutter`` is excluded by default (256 object classes, as
    in the CNN-feature literature); ``include_clutter=True`` keeps it. Class names drop the ``NNN.`` prefix.

    Layout (``root`` is ``256_ObjectCategories/`` or the folder containing it)::

        256_ObjectCategories/001.ak47/001_0001.jpg, ..., 256_ObjectCategories/257.clutter/257_0001.jpg
    """

    protocol = "random 60 train per class, rest test, 5 folds, 256 classes without 257.clutter " \
               "(Griffin et al. 2007; Zeiler & Fergus 2014)"
    n_folds = 5
    CLUTTER = "257.clutter"
    folder = "256_ObjectCategories"

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, seed: int = 0, n_train: int = 60,
                 n_test: int | None = None, include_clutter: bool = False, transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self._build(root, split, fold, seed, n_train, n_test, () if include_clutter else (self.CLUTTER,),
                    strip_number_prefix)


class Event8(_RandomFolderSplit):
    """UIUC Sports Event 8 (Li & Fei-Fei 2007): 70 random training and 60 random test images per class; the rest
    (``n_unused``) is in neither split. The paper gives no repeat count; we average 5 folds (``n_folds = 5``).

    Layout (``root`` is ``event_img/`` or the folder containing it)::

        event_img/RockClimbing/*.jpg, event_img/Rowing/*.jpg, event_img/badminton/*.jpg, ... (8 classes)
    """

    protocol = "random 70 train + 60 test per class, 5 folds (Li & Fei-Fei, ICCV 2007)"
    n_folds = 5
    folder = "event_img"

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, seed: int = 0, n_train: int = 70,
                 n_test: int | None = 60, transform: v2.Transform | None = None, frame: str = "resize",
                 skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self._build(root, split, fold, seed, n_train, n_test)


# ------------------------------------------------------------------------------------------------ SUN Attribute

def _loadmat(path: Path, key: str) -> np.ndarray:
    from scipy.io import loadmat

    if not path.is_file():
        raise BadInputError(f"{path}: not found", param="root")
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types (ValueError, MatReadError, TypeError) for bad files
        raise BadInputError(f"{path}: cannot read MATLAB file ({e})", param="root") from None
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise BadInputError(f"{path}: no variable {key!r} (found {found})", param="root")
    return mat[key]


def _cellstr(cell: np.ndarray, path: Path, key: str) -> list[str]:
    """A MATLAB cell array of strings as a list (1-based positions in errors)."""
    out = []
    for i, item in enumerate(np.asarray(cell, dtype=object).ravel(), 1):
        value = np.asarray(item).ravel()
        if value.size != 1 or not isinstance(value[0], str):
            raise BadInputError(f"{path}: {key}{{{i}}} is not a string", param="root")
        out.append(str(value[0]))
    return out


class SUNAttribute(ImageListDataset):
    """SUN Attribute (Patterson & Hays 2012): 14,340 images, 102 attributes, multi-label. ``targets`` is the
    ``(N, 102)`` 0/1 matrix: an attribute is present when at least 2 of its 3 annotators voted for it, i.e.
    ``labels_cv >= 0.5`` (``labels_cv`` is the vote fraction 0, 1/3, 2/3, 1), the positive rule of Patterson &
    Hays; ``votes`` keeps the fractions and ``ambiguous`` marks the single-vote entries, which Patterson & Hays
    use neither as positives nor as negatives (exclude them per attribute when scoring if you follow them).
    Each item's target has ``label = -1`` and ``attributes`` (float 0/1 vector).

    The release ships no train/test partition and the CAM / Places papers do not publish theirs, so the split is
    ours: within each SUN scene category (the image's folder, ~20 images each), a random ``test_fraction``
    (default 10%, rounded) is test, the rest train; 5 folds. Score with mean AP over attributes.

    Layout (``root`` holds both; the .mat files may also sit directly in ``root``)::

        SUNAttributeDB/images.mat                    ('images': 14340x1 cell, 'a/abbey/sun_aaaulhwrhqgejnyt.jpg')
        SUNAttributeDB/attributeLabels_continuous.mat ('labels_cv': 14340x102 double)
        SUNAttributeDB/attributes.mat                ('attributes': 102x1 cell of names)
        images/a/abbey/sun_aaaulhwrhqgejnyt.jpg      (SUNAttributeDB_Images.tar.gz)
    """

    protocol = "multi-label, present = >= 2 of 3 votes (labels_cv >= 0.5, Patterson & Hays 2012); our random " \
               "split per scene category, 10% test, 5 folds"
    n_folds = 5

    def __init__(self, root: str | Path, split: str = "train", fold: int = 0, seed: int = 0,
                 test_fraction: float = 0.1, threshold: float = 0.5, transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self.split = check_split(split)
        self.fold, self.seed = check_fold(fold, None, seed)
        if not 0.0 < test_fraction < 1.0 or not 0.0 < threshold <= 1.0:
            bad, value = ("test_fraction", test_fraction) if not 0.0 < test_fraction < 1.0 else ("threshold", threshold)
            raise BadInputError(f"parameter {bad}={value!r}: test_fraction must be in (0, 1) and threshold in (0, 1] "
                                f"(got test_fraction={test_fraction}, threshold={threshold})", param=bad)
        root = Path(root)
        db = root / "SUNAttributeDB" if (root / "SUNAttributeDB").is_dir() else root
        if not db.is_dir():
            raise BadInputError(f"parameter root={str(root)!r}: dataset folder not found", param="root")
        images_dir = root / "images"
        if not images_dir.is_dir():
            raise BadInputError(f"{images_dir}: image folder not found (extract SUNAttributeDB_Images.tar.gz)",
                                param="root")
        files = {k: db / f for k, f in (("images", "images.mat"), ("labels_cv", "attributeLabels_continuous.mat"),
                                        ("attributes", "attributes.mat"))}
        names = _cellstr(_loadmat(files["images"], "images"), files["images"], "images")
        self.class_names = _cellstr(_loadmat(files["attributes"], "attributes"), files["attributes"], "attributes")
        votes = _loadmat(files["labels_cv"], "labels_cv")
        try:
            votes = np.asarray(votes, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInputError(f"{files['labels_cv']}: labels_cv is not a numeric matrix", param="root") from None
        if votes.shape != (len(names), len(self.class_names)):
            raise BadInputError(f"{files['labels_cv']}: labels_cv is {'x'.join(map(str, votes.shape))}, expected "
                                f"{len(names)}x{len(self.class_names)} ({len(names)} images in {files['images']}, "
                                f"{len(self.class_names)} attributes in {files['attributes']})", param="root")
        by_scene: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            by_scene.setdefault(name.rsplit("/", 1)[0] if "/" in name else "", []).append(i)
        chosen = []
        for scene in sorted(by_scene):
            rows = by_scene[scene]
            n_test = int(math.floor(test_fraction * len(rows) + 0.5))
            order = class_rng(self.seed, self.fold, scene).permutation(len(rows))
            chosen += [rows[j] for j in (order[:n_test] if split == "test" else order[n_test:])]
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            first.setdefault(name, i)
        kept: list[int] = []

        def make(i: int, path: Path):
            where = f"{files['images']}: images{{{i + 1}}}"
            if first[names[i]] != i:
                raise BadInputError(f"{where}: duplicate image {names[i]} (first at images{{{first[names[i]] + 1}}})",
                                    param="root")
            if not np.isfinite(votes[i]).all() or (votes[i] < 0).any() or (votes[i] > 1).any():
                raise BadInputError(f"{files['labels_cv']}: row {i + 1} ({names[i]}) has votes outside [0, 1]",
                                    param="root")
            if not path.is_file():
                raise BadInputError(f"{where}: image {path} not found", param="root")
            kept.append(i)
            return path, -1, no_boxes()

        self.root = root
        self._collect((images_dir / names[i], lambda i=i: make(i, images_dir / names[i])) for i in sorted(chosen))
        self.rows = np.array(kept, dtype=np.int64)      # row of each sample in the .mat files
        self.votes = votes[self.rows]
        self.ambiguous = (self.votes > 0) & (self.votes < threshold)
        self.threshold = threshold

    @property
    def targets(self) -> np.ndarray:
        """``(N, A)`` 0/1: attribute present when its vote fraction is >= ``threshold`` (2 of 3 votes)."""
        return (self.votes >= self.threshold).astype(np.int64)

    def __getitem__(self, index: int):
        item = super().__getitem__(index)
        if not isinstance(item, Skipped):
            item[1]["attributes"] = torch.as_tensor(self.votes[index] >= self.threshold, dtype=torch.float32)
        return item


# ------------------------------------------------------------------------------------------------- split folder

class SplitFolder(ImageListDataset):
    """A torchvision ``ImageFolder`` tree with one folder per split: ``root/<split>/<class>/*.jpg`` (the project's
    generated transfer suites). Classes are the sorted class folders (``find_classes``); every other split folder
    among train/val/test present must have the same classes. Files are listed with ``make_dataset``."""

    protocol = "given split folders root/<split>/<class>/"

    def __init__(self, root: str | Path, split: str = "train", transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False):
        super().__init__(transform, frame, skip_bad)
        self.root, self.split = Path(root), split
        split_dir = self.root / split
        if not split_dir.is_dir():
            raise BadInputError(f"{split_dir}: split folder not found", param="split" if self.root.is_dir() else "root")
        self.class_names, files, other = list_class_folders(split_dir)
        for name in ("train", "val", "test"):
            if name != split and (self.root / name).is_dir():
                theirs = find_classes(self.root / name)[0] if any(p.is_dir() for p in (self.root / name).iterdir()) \
                    else []
                if theirs != self.class_names:
                    only_here = sorted(set(self.class_names) - set(theirs))
                    only_there = sorted(set(theirs) - set(self.class_names))
                    raise BadInputError(f"{split_dir} and {self.root / name} have different class folders "
                                        f"(only in {split}: {only_here}; only in {name}: {only_there})",
                                        param="root")
        self._ignore_files(other)
        self._take([(p, label, no_boxes()) for label, f in enumerate(files) for p in f])


TRANSFER_DATASETS: dict[str, type] = {
    "sun397": SUN397,
    "mit67": MITIndoor67,
    "scene15": Scene15,
    "sun_attribute": SUNAttribute,
    "caltech101": Caltech101,
    "caltech256": Caltech256,
    "action40": StanfordAction40,
    "event8": Event8,
    "folder": SplitFolder,   # root/<split>/<class>/: the embedded transfer suites
}


def build_transfer(name: str, root: str | Path, split: str = "train", **kwargs) -> ImageListDataset:
    """The Table 5 dataset ``name`` (a key of :data:`TRANSFER_DATASETS`) at ``root``; ``kwargs`` go to its class
    (``fold``, ``seed``, ``transform``, ``frame``, ``skip_bad``, ...)."""
    key = name.lower().replace("-", "_")
    if key not in TRANSFER_DATASETS:
        raise BadInputError(f"parameter name={name!r}: unknown transfer dataset; choose one of "
                            f"{', '.join(TRANSFER_DATASETS)}", param="name")
    return TRANSFER_DATASETS[key](root, split=split, **kwargs)
