"""CUB-200-2011 (Wah et al. 2011): Table 4 of the paper (fine-grained classification from GAP features, on the
full image and on the ground-truth box) and the 41.0% CAM localization figure (IoU >= 0.5 on the test set).

The official split, ``train_test_split.txt``, has 5,994 train and 5,794 test images (11,788 in all, 200 classes);
the counts are read from the file, never assumed. Layout (``root`` is ``CUB_200_2011/`` or the folder that
contains it)::

    CUB_200_2011/images.txt              <image_id> <relative path>          (ids 1-based)
    CUB_200_2011/image_class_labels.txt  <image_id> <class_id>               (class ids 1-based)
    CUB_200_2011/train_test_split.txt    <image_id> <is_training_image 0|1>
    CUB_200_2011/bounding_boxes.txt      <image_id> <x> <y> <width> <height> (floats, pixels)
    CUB_200_2011/classes.txt             <class_id> <NNN.Class_name>
    CUB_200_2011/images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg

Boxes. CUB gives the 0-based top-left pixel and the width and height in pixels: a box of width ``w`` covers the
pixels ``x .. x + w - 1``. The project's boxes are inclusive pixel boxes (conventions.md), so a CUB box becomes
``[x, y, x + w - 1, y + h - 1]``; a box ``10 20 30 40`` is ``[10, 20, 39, 59]`` and a box over a whole
``W x H`` image (``0 0 W H``) is ``[0, 0, W - 1, H - 1]``. Boxes are checked against the image when it is
decoded: one pixel past the edge is clamped, more raises.

Segmentations (``segmentations.tgz`` of the CUB release, one soft PNG per image: the average of the annotators'
masks) are read when ``segmentations`` names their folder, or, by default, when a ``segmentations/`` folder stands
beside or inside ``CUB_200_2011/``: each image's object mask is then the majority of annotators (value > 127),
the metrics add PxAP, and the boxes stay the boxes of ``bounding_boxes.txt``. ``segmentations=None`` leaves
them out. Not with ``crop_to_box``.

``crop_to_box=True`` crops each image to its ground-truth box before the transform (the "BBox" train/test
annotation rows of Table 4), with :func:`cam_lib.data.common.crop_to_box` (box edges rounded to whole pixels); the
box then covers the whole crop.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms import v2

from ..errors import BadInputError
from .common import crop_to_box as crop_image_to_box
from .formats import ImageListDataset, read_list_file, resolve_root, strip_number_prefix

LIST_FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt")
CUB_SPLITS = ("train", "test", "all")


class CUB200(ImageListDataset):
    """CUB-200-2011 split ``"train"`` / ``"test"`` / ``"all"``; items ``(image, target)`` with the label (class id
    - 1) and the one inclusive ground-truth box in the output frame. ``image_ids`` holds each sample's CUB id."""

    protocol = "official train_test_split.txt: 5,994 train / 5,794 test images, 200 classes (Wah et al. 2011)"
    OFFICIAL_COUNTS = {"train": 5994, "test": 5794, "all": 11788}

    def __init__(self, root: str | Path, split: str = "train", transform: v2.Transform | None = None,
                 frame: str = "resize", skip_bad: bool = False, crop_to_box: bool = False,
                 segmentations: str | Path | None = "auto"):
        super().__init__(transform, frame, skip_bad)
        if split not in CUB_SPLITS:
            raise BadInputError(f"parameter split={split!r}: must be one of {CUB_SPLITS}", param="split")
        self.split, self.crop_to_box = split, bool(crop_to_box)
        self.root = resolve_root(root, "CUB_200_2011", "images.txt")
        self.files = {name: self.root / name for name in LIST_FILES}
        for name, path in self.files.items():
            if not path.is_file():
                raise BadInputError(f"{path}: CUB list file {name} not found", param="root")
        self.segmentations = self._segmentations(segmentations)
        self.class_keys = self._read_classes(self.files["classes.txt"])
        self.class_names = [strip_number_prefix(k).replace("_", " ") for k in self.class_keys]
        n_classes = len(self.class_keys)

        bad_ids: set[int] = set()
        images = self._read_table("images.txt", 1, str, bad_ids, last_takes_rest=True)
        labels = self._read_table("image_class_labels.txt", 1, int, bad_ids)
        is_train = self._read_table("train_test_split.txt", 1, int, bad_ids)
        boxes = self._read_table("bounding_boxes.txt", 4, float, bad_ids)
        others = {"image_class_labels.txt": labels, "train_test_split.txt": is_train, "bounding_boxes.txt": boxes}
        for name, table in others.items():
            for image_id, (lineno, _) in table.items():
                if image_id not in images and image_id not in bad_ids:
                    self._bad(f"{self.files[name]}:{lineno}: image id {image_id} is not in {self.files['images.txt']}",
                              self.files[name])
        used = {c for _, (c,) in labels.values() if 1 <= c <= n_classes}
        if len(used) != n_classes:
            missing = sorted(set(range(1, n_classes + 1)) - used)
            raise BadInputError(f"{self.files['image_class_labels.txt']}: images use {len(used)} classes but "
                                f"{self.files['classes.txt']} lists {n_classes} (no image of class ids "
                                f"{missing[:10]}{' ...' if len(missing) > 10 else ''})", param="root")

        self.image_ids: list[int] = []
        self._box_lines: list[int] = []
        valid = []      # (image_id, images.txt line, path, label, box, bounding_boxes.txt line) of the split
        images_dir = self.root / "images"
        for image_id, (lineno, (rel,)) in images.items():
            if image_id in bad_ids:
                continue
            path = images_dir / rel
            lacking = [name for name, table in others.items() if image_id not in table]
            if lacking:
                self._bad(f"{self.files['images.txt']}:{lineno}: image id {image_id} has no line in "
                          f"{', '.join(lacking)}", path)
                continue
            label_line, (class_id,) = labels[image_id]
            if not 1 <= class_id <= n_classes:
                self._bad(f"{self.files['image_class_labels.txt']}:{label_line}: class id {class_id} is out of the "
                          f"range 1..{n_classes} of {self.files['classes.txt']}", path)
                continue
            split_line, (train_flag,) = is_train[image_id]
            if train_flag not in (0, 1):
                self._bad(f"{self.files['train_test_split.txt']}:{split_line}: is_training_image must be 0 or 1, "
                          f"got {train_flag}", path)
                continue
            box_line, (x, y, w, h) = boxes[image_id]
            if not all(math.isfinite(v) for v in (x, y, w, h)) or x < 0 or y < 0 or w <= 0 or h <= 0:
                self._bad(f"{self.files['bounding_boxes.txt']}:{box_line}: invalid box x={x} y={y} w={w} h={h} "
                          f"(need x, y >= 0 and w, h > 0)", path)
                continue
            if split == "all" or train_flag == (split == "train"):
                # inclusive pixel box: CUB's w and h count pixels, so the last pixel is x + w - 1
                box = torch.tensor([[x, y, x + w - 1, y + h - 1]], dtype=torch.float64)
                valid.append((image_id, lineno, path, class_id - 1, box, box_line))
        self._collect((v[2], lambda v=v: self._sample(*v)) for v in valid)

    def _segmentations(self, given) -> Path | None:
        if given is None or self.crop_to_box:
            return None
        if given != "auto":
            if not Path(given).is_dir():
                raise BadInputError(f"parameter segmentations={str(given)!r}: folder not found", param="segmentations")
            return Path(given)
        return next((d for d in (self.root.parent / "segmentations", self.root / "segmentations") if d.is_dir()), None)

    @property
    def has_masks(self) -> bool:
        return self.segmentations is not None

    def load_with_mask(self, index: int):
        if self.segmentations is None:
            return super().load_with_mask(index)
        from .common import instance_masks

        image, boxes = self.load(index)
        path = self.samples[index][0]
        mask, _ = instance_masks([self.segmentations / path.relative_to(self.root / "images").with_suffix(".png")],
                                 None, image.size, param="segmentations", cut=127,
                                 require_object=False)
        return image, boxes, mask

    def _sample(self, image_id: int, lineno: int, path: Path, label: int, box: torch.Tensor, box_line: int):
        if not path.is_file():
            raise BadInputError(f"{self.files['images.txt']}:{lineno}: image {path} not found", param="root")
        self.image_ids.append(image_id)
        self._box_lines.append(box_line)
        return path, label, box

    @staticmethod
    def _read_classes(path: Path) -> list[str]:
        keys = []
        for lineno, line in read_list_file(path, "CUB class list"):
            fields = line.split(None, 1)
            if len(fields) != 2:
                raise BadInputError(f"{path}:{lineno}: expected '<class_id> <name>', got {line!r}", param="root")
            try:
                class_id = int(fields[0])
            except ValueError:
                raise BadInputError(f"{path}:{lineno}: non-numeric class id {fields[0]!r}", param="root") from None
            if class_id != len(keys) + 1:
                raise BadInputError(f"{path}:{lineno}: expected class id {len(keys) + 1} (ids are 1..N in order), "
                                    f"got {class_id}", param="root")
            keys.append(fields[1].strip())
        return keys

    def _read_table(self, name: str, n_values: int, convert, bad_ids: set[int], last_takes_rest: bool = False
                    ) -> dict[int, tuple[int, list]]:
        """``{image_id: (line number, values)}`` of one ``<image_id> <values...>`` file. A malformed line or a
        duplicate id is a bad entry (with skip_bad, a duplicated id is left out altogether: which line is right
        is unknown)."""
        path = self.files[name]
        table: dict[int, tuple[int, list]] = {}
        for lineno, line in read_list_file(path, f"CUB list file {name}"):
            where = f"{path}:{lineno}"
            fields = line.split(None, n_values) if last_takes_rest else line.split()
            if len(fields) != n_values + 1:
                self._bad(f"{where}: expected {n_values + 1} fields, got {len(fields)} in {line!r}", path)
                continue
            try:
                image_id = int(fields[0])
            except ValueError:
                self._bad(f"{where}: non-numeric image id {fields[0]!r}", path)
                continue
            try:
                values = [convert(v) for v in fields[1:]]
            except ValueError:
                bad_ids.add(image_id)
                self._bad(f"{where}: non-numeric field in {line!r}", path)
                continue
            if image_id in table:
                bad_ids.add(image_id)
                self._bad(f"{where}: duplicate image id {image_id} (first on line {table[image_id][0]})", path)
                continue
            table[image_id] = (lineno, values)
        return table

    def load(self, index: int) -> tuple[Image.Image, torch.Tensor]:
        """The decoded image and its box (checked against the image size), cropped to the box with
        ``crop_to_box``."""
        try:
            image, boxes = super().load(index)
        except BadInputError as e:
            if " extends past the " not in str(e):
                raise
            raise BadInputError(f"{e} (box from {self.files['bounding_boxes.txt']}:{self._box_lines[index]})",
                                param="root") from None
        if self.crop_to_box:
            image, boxes = crop_image_to_box(image, boxes, boxes[0])
        return image, boxes
