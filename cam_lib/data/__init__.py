"""Datasets of the paper's experiments (Sec. 4: ILSVRC val for Tables 1-3) and the loaders that batch them.

Every dataset yields ``(image, target)``: ``image`` is RGB float in [0, 1] in the evaluated frame, ``target`` has
``label``, inclusive ``boxes`` in that frame, and ``index``. :func:`make_loader` batches them into
:class:`~cam_lib.data.common.Batch` objects.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import BadInputError
from .common import Batch, Skipped, collate, eval_transform, load_image, make_sample
from .imagenet import ImageNetTrain, ImageNetVal, imagenet_class_names, read_synset_mapping
from .photos import ImageFolderFlat, wheel_photos

DATASETS = ("imagenet", "images", "photos")

__all__ = ["DATASETS", "Batch", "Skipped", "ImageNetTrain", "ImageNetVal", "imagenet_class_names", "ImageFolderFlat", "build_dataset", "make_loader",
           "collate", "eval_transform", "load_image", "make_sample", "read_synset_mapping", "wheel_photos"]


def build_dataset(name: str, root: str | Path | None = None, frame: str = "resize", skip_bad: bool = False,
                  layout: str = "auto", limit: int | None = None) -> Dataset:
    """``imagenet``: an ILSVRC-val-format folder (:class:`ImageNetVal`); ``images``: a flat folder of unlabelled
    images; ``photos``: the real photographs shipped in the scikit-image and matplotlib wheels."""
    if name == "imagenet":
        if root is None:
            raise BadInputError("--root is required for --data imagenet")
        return ImageNetVal(root, layout=layout, frame=frame, skip_bad=skip_bad, limit=limit)
    if name == "images":
        if root is None:
            raise BadInputError("--root is required for --data images")
        return ImageFolderFlat(root, frame=frame, skip_bad=skip_bad)
    if name == "photos":
        return ImageFolderFlat(None, frame=frame, skip_bad=skip_bad)
    raise BadInputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def make_loader(dataset: Dataset, batch_size: int = 32, workers: int = 0, device: str | torch.device = "cpu"
                ) -> DataLoader:
    """An evaluation loader in dataset order; pinned memory and persistent workers on CUDA."""
    if batch_size < 1:
        raise BadInputError(f"batch size must be >= 1, got {batch_size}")
    if workers < 0:
        raise BadInputError(f"workers must be >= 0, got {workers}")
    cuda = torch.device(device).type == "cuda"
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate,
                      pin_memory=cuda, persistent_workers=cuda and workers > 0)
