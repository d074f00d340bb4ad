"""Datasets of the paper's experiments (Sec. 4): ILSVRC for Tables 1-3, CUB-200-2011 for Table 4, the eight
generic-transfer datasets of Table 5, and the embedded benchmark (:mod:`cam_lib.data.synthetic`) written in those
same formats; plus the loaders that batch them.

Every dataset yields ``(image, target)``: ``image`` is RGB float in [0, 1] in the evaluated frame, ``target`` has
``label``, inclusive ``boxes`` in that frame, and ``index``. :func:`make_loader` batches them into
:class:`~cam_lib.data.common.Batch` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from ..errors import BadInputError
from .common import (Batch, BoxDataset, Skipped, collate, eval_transform, fingerprint, load_image, make_sample,
                     train_transform)
from .cub import CUB200
from .imagenet import ImageNetTrain, ImageNetVal, imagenet_class_names, read_synset_mapping
from .photos import ImageFolderFlat, wheel_photos
from .transfer import TRANSFER_DATASETS, SplitFolder, build_transfer

_CHECK_TRANSFORM = v2.Compose([v2.ToImage(), v2.ClampBoundingBoxes()])   # decode only: boxes stay in image pixels

DATASETS = ("imagenet", "cub", "openimages", *TRANSFER_DATASETS, "images", "photos")
SPLITS = {"imagenet": ("val", "train"), "cub": ("train", "test"), "openimages": ("test", "val"),
          **{name: ("train", "test") for name in TRANSFER_DATASETS}, "images": ("all",), "photos": ("all",)}
# The split each labelled dataset is evaluated on (classification during training, and localization where it has
# boxes): ILSVRC's val, the test split elsewhere. Unlabelled folders (images, photos) have none.
EVAL_SPLITS = {"imagenet": "val", "cub": "test", "openimages": "test", **{name: "test" for name in TRANSFER_DATASETS}}
BOXED = ("imagenet", "cub", "openimages")   # evaluation splits with ground-truth boxes (Tables 2-4; OpenImages: from masks)


def eval_split(name: str) -> str | None:
    """The split ``name`` is evaluated on (:data:`EVAL_SPLITS`); None for an unlabelled folder."""
    return EVAL_SPLITS.get(name)


def has_boxes(name: str) -> bool:
    """Whether dataset ``name``'s evaluation split has ground-truth boxes, so that localization can be scored."""
    return name in BOXED


def present_splits(name: str, root: str | Path | None) -> list[str]:
    """The splits of ``name`` present under ``root``: every split of :data:`SPLITS`, except ImageNet's optional
    train folder when it is not there."""
    from .imagenet import TRAIN_DIRS

    return [split for split in SPLITS[name] if not (name == "imagenet" and split == "train" and root is not None
                                                    and not any((Path(root) / d).is_dir() for d in TRAIN_DIRS))]

__all__ = ["DATASETS", "SPLITS", "EVAL_SPLITS", "BOXED", "eval_split", "has_boxes", "present_splits", "Batch", "Skipped", "BoxDataset", "ImageNetTrain", "ImageNetVal", "CUB200",
           "SplitFolder", "ImageFolderFlat", "build_dataset", "make_loader", "collate", "eval_transform",
           "train_transform", "load_image", "make_sample", "read_synset_mapping", "imagenet_class_names",
           "wheel_photos", "check_dataset", "CheckReport", "wsol_metadata", "fingerprint"]


def build_dataset(name: str, root: str | Path | None = None, split: str | None = None, frame: str = "resize",
                  skip_bad: bool = False, layout: str = "auto", limit: int | None = None,
                  transform=None, **kwargs) -> Dataset:
    """One constructor for every dataset, real or embedded (the embedded suites are written in the real formats):

    - ``imagenet``: ILSVRC ``val`` (:class:`ImageNetVal`, any of its layouts) or ``train`` (:class:`ImageNetTrain`);
      the embedded ``objects`` and ``objects_test`` folders are read this way;
    - ``cub``: CUB-200-2011 ``train``/``test`` (:class:`CUB200`), also the embedded ``birds``;
    - ``openimages``: wsolevaluation's OpenImages30k ``test``/``val`` (Choe et al. 2020; images and masks under
      ``root``, e.g. ``dataset/OpenImages``; the metadata in ``metadata`` or found at
      ``metadata/OpenImages/<split>`` beside or above ``root``, :func:`wsol_metadata`): object masks, so PxAP;
    - the Table 5 datasets (``sun397``, ``mit67``, ...) and ``folder`` (``root/<split>/<class>/``, the embedded
      transfer suites), ``train``/``test``;
    - ``images``: a flat folder of unlabelled images; ``photos``: the photographs shipped in the wheels.
    """
    if name not in SPLITS:
        raise BadInputError(f"parameter name={name!r}: unknown dataset; choose one of {', '.join(DATASETS)}",
                            param="name")
    split = split or SPLITS[name][0]
    if split not in SPLITS[name]:
        raise BadInputError(f"parameter split={split!r}: dataset {name} has splits {', '.join(SPLITS[name])}",
                            param="split")
    if root is None and name != "photos":
        raise BadInputError(f"parameter root is required for data {name!r}", param="root")
    common = dict(frame=frame, skip_bad=skip_bad, transform=transform)
    if name == "imagenet" and split == "val":
        return ImageNetVal(root, layout=layout, limit=limit, **common, **kwargs)
    if name == "imagenet":
        return ImageNetTrain(root, **common, **kwargs)
    if name == "cub":
        return CUB200(root, split=split, **common, **kwargs)
    if name == "openimages":
        metadata = kwargs.pop("metadata", None) or wsol_metadata(root, "OpenImages", split)
        return ImageNetVal(root, layout="wsol", limit=limit, metadata=metadata, **common, **kwargs)
    if name in TRANSFER_DATASETS:
        return build_transfer(name, root, split=split, **common, **kwargs)
    return ImageFolderFlat(root if name == "images" else None, **common)


def wsol_metadata(root: str | Path, name: str, split: str) -> Path:
    """wsolevaluation's metadata folder of dataset ``name`` (``OpenImages``, ``CUB``, ``ILSVRC``) and ``split`` for
    images under ``root``: ``metadata/<name>/<split>`` in ``root``, its parent or its grandparent (a wsolevaluation
    clone: ``dataset/<name>`` beside ``metadata/<name>``); the first that holds ``image_ids.txt``."""
    root = Path(root)
    tried = [base / "metadata" / name / split for base in (root, root.parent, root.parent.parent)]
    found = next((p for p in tried if (p / "image_ids.txt").is_file()), None)
    if found is None:
        raise BadInputError(f"parameter root={str(root)!r}: no wsolevaluation metadata for {name} {split} (looked for "
                            f"image_ids.txt in {', '.join(map(str, tried))}); give the folder with metadata=... "
                            "(--metadata DIR)", param="metadata")
    return found


def make_loader(dataset: Dataset, batch_size: int = 32, workers: int = 0, device: str | torch.device = "cpu"
                ) -> DataLoader:
    """An evaluation loader in dataset order; pinned memory and persistent workers on CUDA."""
    if batch_size < 1:
        raise BadInputError(f"parameter batch_size={batch_size!r}: must be >= 1", param="batch_size")
    if workers < 0:
        raise BadInputError(f"parameter workers={workers!r}: must be >= 0", param="workers")
    cuda = torch.device(device).type == "cuda"
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate,
                      pin_memory=cuda, persistent_workers=cuda and workers > 0,
                      generator=torch.Generator())   # its own: iterating draws a seed, never from the caller's RNG


@dataclass
class CheckReport:
    """What :func:`check_dataset` found: counts a user can compare with the dataset's documentation."""

    name: str
    root: str
    split: str
    images: int
    classes: int
    boxes: int
    multi_box_images: int
    per_class_min: int
    per_class_max: int
    skipped: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.name} {self.split} at {self.root}: {self.images} images, {self.classes} classes "
                 f"({self.per_class_min}-{self.per_class_max} images per class), {self.boxes} boxes "
                 f"({self.multi_box_images} images with several), {len(self.skipped)} skipped"]
        lines += [f"  skipped {s.path}: {s.reason}" for s in self.skipped[:20]]
        if len(self.skipped) > 20:
            lines.append(f"  ... and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def check_dataset(name: str, root: str | Path | None, split: str | None = None, layout: str = "auto",
                  skip_bad: bool = False, workers: int = 0, progress: bool = True,
                  metadata: str | Path | None = None) -> CheckReport:
    """Parse every list file and decode every image of a dataset split (in ``workers`` processes); raise on the
    first bad entry, or with ``skip_bad`` count them all. Returns the counts."""
    from collections import Counter

    from tqdm.auto import tqdm

    kwargs = {"layout": layout} if name == "imagenet" else {}
    if metadata is not None:
        if name not in ("imagenet", "openimages"):
            raise BadInputError(f"parameter metadata: wsolevaluation's metadata is read for imagenet and openimages, "
                                f"not {name!r}", param="metadata")
        kwargs["metadata"] = metadata
    ds = build_dataset(name, root, split=split, skip_bad=skip_bad, transform=_CHECK_TRANSFORM, **kwargs)
    loader = DataLoader(ds, batch_size=None, num_workers=workers, collate_fn=lambda s: s)
    skipped, labels, boxes, multi = list(getattr(ds, "skipped", [])), Counter(), 0, 0
    for item in tqdm(loader, total=len(ds), desc=f"check {name} {split or ''}", disable=not progress):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        _, target = item
        labels[target["label"]] += 1
        boxes += len(target["boxes"])
        multi += len(target["boxes"]) > 1
    counts = list(labels.values()) or [0]
    return CheckReport(name, str(root), split or SPLITS[name][0], sum(labels.values()),
                       getattr(ds, "num_classes", len(labels)), boxes, multi, min(counts), max(counts), skipped)
