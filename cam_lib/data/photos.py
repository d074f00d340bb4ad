"""Real photographs that ship inside the scikit-image and matplotlib wheels, and a loader for any flat folder
of images without labels. Used by ``make reproduce`` and the CAM figures (Figs. 1, 3, 4 of the paper) so the
offline ImageNet network has real photos to look at on any machine."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..errors import BadInputError
from .common import Skipped, _frame_target, check_decode, eval_transform, load_image, make_sample, read_encoded

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# (package, path inside the package): colour photographs of ImageNet-like objects.
WHEEL_PHOTOS = (
    ("skimage", "data/chelsea.png"),
    ("skimage", "data/coffee.png"),
    ("skimage", "data/astronaut.png"),
    ("skimage", "data/rocket.jpg"),
    ("skimage", "data/motorcycle_left.png"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)


def wheel_photos() -> list[Path]:
    """Paths of the photographs in the installed scikit-image and matplotlib packages."""
    import importlib

    paths = []
    for package, rel in WHEEL_PHOTOS:
        path = Path(importlib.import_module(package).__file__).parent / rel
        if not path.exists():
            raise BadInputError(f"{path}: photo missing from the installed {package} package", param="root")
        paths.append(path)
    return paths


class ImageFolderFlat(Dataset):
    """Every image file directly in ``root`` (sorted by name), or an explicit list of paths; no labels, no
    boxes (``label = -1``). ``root=None`` uses :func:`wheel_photos`."""

    def __init__(self, root: str | Path | None = None, frame: str = "resize", skip_bad: bool = False,
                 transform=None):
        if root is None:
            self.paths = wheel_photos()
        else:
            root = Path(root)
            if not root.is_dir():
                raise BadInputError(f"parameter root={str(root)!r}: image folder not found", param="root")
            self.paths = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.paths:
                raise BadInputError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)})", param="root")
        self.transform = transform if transform is not None else eval_transform(frame)
        self.frame, self.decode, self._own_transform = frame, "cpu", transform is not None
        self.skip_bad = skip_bad
        self.skipped: list[Skipped] = []
        self.class_names = None

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, index: int) -> Path:
        return self.paths[index]

    def set_decode(self, where: str) -> "ImageFolderFlat":
        """As :meth:`cam_lib.data.common.BoxDataset.set_decode`: ``"device"`` passes the files encoded."""
        self.decode = check_decode(where, self._own_transform)
        return self

    def __getitem__(self, index: int):
        path = self.paths[index]
        try:
            if self.decode == "device":
                data, size = read_encoded(path)
                return data, _frame_target(self.transform, torch.zeros(0, 4), -1, index, size, path, self.frame)
            image = load_image(path)
        except BadInputError as e:
            if not self.skip_bad:
                raise
            return Skipped(index, str(self.paths[index]), str(e))
        return make_sample(image, torch.zeros(0, 4), -1, index, self.transform)
