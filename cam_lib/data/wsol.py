"""A dataset with object masks written in wsolevaluation's OpenImages30k layout (Choe et al., CVPR 2020; the PxAP
column of the localization metrics): the metadata folder (``image_ids.txt``, ``class_labels.txt``,
``image_sizes.txt``, ``localization.txt`` naming a mask PNG and an ignore PNG per image) and the mask files, so
that wsolevaluation itself, ``python -m cam_lib score --masks`` and ``--data openimages`` read the embedded
benchmark's exact masks as they read OpenImages30k.

The embedded benchmark stores one mask per image (``masks/<stem>.png``: 1 object, 0 background, 255 ignore);
:func:`export_wsol` writes it as one instance mask (the objects of the ground-truth class, 255 on them) and one
ignore mask (255 on the ignore region), which wsolevaluation's ``get_mask`` turns back into the same mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import BadInputError
from ..io import atomic_write_bytes, atomic_write_text

__all__ = ["export_wsol"]


def _png(path: Path, values: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    Image.fromarray(values.astype(np.uint8)).save(buf, "PNG")
    atomic_write_bytes(path, buf.getvalue())


def export_wsol(dataset, out: str | Path) -> Path:
    """Write ``dataset`` (a :class:`~cam_lib.data.common.BoxDataset` with masks, e.g. the embedded
    ``objects_test``) in wsolevaluation's OpenImages layout under ``out``: ``out/metadata/`` and the mask files
    ``out/masks/<stem>.png`` and ``out/ignore/<stem>.png`` (paths in ``localization.txt`` relative to ``out``; image
    ids relative to the dataset's ``root``). Returns the metadata folder. Read it back with
    ``build_dataset("openimages", root, metadata=out / "metadata", mask_root=out)``."""
    if not getattr(dataset, "has_masks", False):
        raise BadInputError(f"parameter dataset: {getattr(dataset, 'root', dataset)} has no object masks to export",
                            param="dataset")
    out, root = Path(out), Path(dataset.root)
    ids, labels, sizes, loc = [], [], [], []
    for index, (path, label, _) in enumerate(dataset.samples):
        image, _, mask = dataset.load_with_mask(index)
        rel, stem = path.relative_to(root).as_posix(), path.stem
        _png(out / "masks" / f"{stem}.png", np.where(mask == 1, 255, 0))
        _png(out / "ignore" / f"{stem}.png", np.where(mask == 255, 255, 0))
        ids.append(rel)
        labels.append(f"{rel},{label}")
        sizes.append(f"{rel},{image.width},{image.height}")
        loc.append(f"{rel},masks/{stem}.png,ignore/{stem}.png")
    meta = out / "metadata"
    for name, lines in (("image_ids.txt", ids), ("class_labels.txt", labels), ("image_sizes.txt", sizes),
                        ("localization.txt", loc)):
        atomic_write_text(meta / name, "".join(f"{line}\n" for line in lines))
    return meta
