"""What every dataset shares: image decoding with clear errors, the box-aware evaluation frame, batching.

Boxes in this project are inclusive pixel boxes ``[x0, y0, x1, y1]`` (conventions.md). torchvision's
``tv_tensors.BoundingBoxes`` are continuous ``XYXY`` boxes, so a box enters the transforms as
``[x0, y0, x1 + 1, y1 + 1]`` and leaves as ``[x0, y0, x1 - 1, y1 - 1]``: a box over the whole stored image
maps exactly onto the whole evaluated frame, whatever the resize factor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from ..boxes import pad_boxes
from ..cam import FRAMES, ten_crop_geometry
from ..errors import BadInputError

IMAGE_SIZE = 224


def load_image(path: str | Path) -> Image.Image:
    """Decode an image to 8-bit RGB with its true content; a missing, corrupt, truncated or oversized file, or a
    mode whose values cannot be mapped to 8 bits without guessing, raises BadInputError naming it.

    PIL's ``convert("RGB")`` clips the 16- and 32-bit integer and float modes (a 16-bit PNG becomes white), so
    those are rescaled here: ``I;16*`` (and ``I`` with values in 0..65535) by 255 / 65535, ``F`` with values in
    [0, 1] by 255; other value ranges stop with an error that gives the range."""
    try:
        with Image.open(path) as im:
            if im.mode.startswith("I") or im.mode == "F":
                return _high_depth_to_rgb(im, path)
            return im.convert("RGB")  # convert() forces the full decode: truncated files fail here
    except BadInputError:
        raise
    except FileNotFoundError:
        raise BadInputError(f"{path}: image file not found", param="root") from None
    except Image.DecompressionBombError as e:
        raise BadInputError(f"{path}: image too large to decode safely ({e}); raise PIL.Image.MAX_IMAGE_PIXELS "
                            "if you trust the file", param="root") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{path}: cannot decode image ({e})", param="root") from None


def stored_sizes(paths) -> list[tuple[int, int]]:
    """``(width, height)`` of each stored image, read from its header (nothing is decoded)."""
    sizes = []
    for path in paths:
        try:
            with Image.open(path) as im:
                sizes.append(im.size)
        except (OSError, ValueError) as e:
            raise BadInputError(f"{path}: cannot read the image header ({e})", param="root") from None
    return sizes


def _high_depth_to_rgb(im: Image.Image, path) -> Image.Image:
    """A 16/32-bit integer or float single-channel image as 8-bit grey RGB, by its nominal range (no clipping)."""
    values = np.asarray(im)
    if values.ndim != 2:
        raise BadInputError(f"{path}: image mode {im.mode} with shape {values.shape} is not supported",
                            param="root")
    if im.mode == "F":
        lo, hi, scale = 0.0, 1.0, 255.0
    else:
        lo, hi, scale = 0, 65535, 255.0 / 65535.0
    finite = np.isfinite(values)
    if not finite.all() or values.min() < lo or values.max() > hi:
        shown = values[finite]
        raise BadInputError(f"{path}: image mode {im.mode} with values in [{shown.min() if shown.size else 'nan'}, "
                            f"{shown.max() if shown.size else 'nan'}]{'' if finite.all() else ' and NaN/inf'}: "
                            f"expected {lo}..{hi}; convert it to 8-bit RGB first", param="root")
    grey = np.round(values.astype(np.float64) * scale).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def eval_transform(frame: str = "resize", size: int = IMAGE_SIZE) -> v2.Transform:
    """The evaluated image frame (conventions.md): ``"resize"`` (the whole image to ``size x size``, default),
    ``"center_crop"`` (resize the short side to ``size * 256 / 224``, center crop ``size``) or ``"ten_crop"`` (the
    whole image to ``size * 256 / 224`` square: the frame in which the ten crops' maps are merged, see
    :func:`cam_lib.cam.merge_ten_crop_maps`). Boxes follow."""
    if frame not in FRAMES:
        raise BadInputError(f"parameter frame={frame!r}: must be one of {FRAMES}", param="frame")
    return v2.Compose([v2.ToImage(), *_geometry(frame, size), v2.ClampBoundingBoxes(),
                       v2.ToDtype(torch.float32, scale=True)])


def _geometry(frame: str, size: int = IMAGE_SIZE) -> list[v2.Transform]:
    full = round(size * 256 / 224)
    return {"resize": [v2.Resize((size, size))], "center_crop": [v2.Resize(full), v2.CenterCrop(size)],
            "ten_crop": [v2.Resize((full, full))]}[frame]


# Decoding on the model's device (``BoxDataset.set_decode("device")``): the loader reads the files' bytes and
# the boxes' frame from the header; :meth:`Batch.images_on` decodes the JPEGs of a batch in one call of
# torchcodec's ``decode_jpeg`` on that device (nvJPEG on CUDA; torchvision's decoder is deprecated since 0.29) and
# applies the same frame there. torchcodec applies a JPEG's EXIF orientation, PIL's ``open`` does not: such a file
# is decoded by PIL in the loader, so both paths give the same pixels.
DECODES = ("cpu", "device")


def read_encoded(path: str | Path) -> tuple[bytes | np.ndarray, tuple[int, int]]:
    """A file for device decoding: ``(the file's bytes, (width, height))`` for an RGB or grey JPEG; anything else
    (PNG, CMYK JPEG, 16-bit, ...) decoded here by :func:`load_image` as a ``(3, H, W)`` uint8 array. Plain bytes
    and arrays, not tensors: loader workers pass tensors through one shared-memory file each, and hundreds per batch
    exhaust the file descriptors. Errors name the file."""
    try:
        with Image.open(path) as im:   # the header only
            size, fmt, mode = im.size, im.format, im.mode
            orientation = im.getexif().get(0x0112) if fmt == "JPEG" else None   # EXIF Orientation
    except FileNotFoundError:
        raise BadInputError(f"{path}: image file not found", param="root") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{path}: cannot decode image ({e})", param="root") from None
    if fmt == "JPEG" and mode in ("RGB", "L") and orientation in (None, 1):
        return Path(path).read_bytes(), size
    return np.asarray(load_image(path)).transpose(2, 0, 1).copy(), size


def check_decode(where: str, own_transform: bool) -> str:
    """``where`` if it is a decode setting a dataset with (``own_transform``) or without a custom transform takes."""
    if where not in DECODES:
        raise BadInputError(f"parameter decode={where!r}: choose one of {', '.join(DECODES)}", param="decode")
    if where == "device" and own_transform:
        raise BadInputError("parameter decode='device' applies the evaluation frame on the device; it cannot "
                            "apply a custom transform", param="decode")
    return where


def decode_images(encoded: list, frame: str, device: torch.device | str, size: int = IMAGE_SIZE) -> torch.Tensor:
    """``(B, 3, H, W)`` float in [0, 1] on ``device`` from :func:`read_encoded` items ``(path, data)``: the JPEGs
    decoded in one torchcodec ``decode_jpeg`` call on ``device``, then the evaluation frame of
    :func:`eval_transform` applied there, image by image. A file that does not decode raises BadInputError naming
    it."""
    from torchcodec.decoders import decode_jpeg

    device = torch.device(device)
    images = [None if isinstance(data, bytes) else torch.from_numpy(data).to(device) for _, data in encoded]
    jpegs = [i for i, image in enumerate(images) if image is None]
    if jpegs:
        data = [torch.frombuffer(bytearray(encoded[i][1]), dtype=torch.uint8) for i in jpegs]
        try:
            decoded = decode_jpeg(data, mode="RGB", device=device)
        except (RuntimeError, ValueError):
            decoded = []
            for i, one in zip(jpegs, data):   # find the file
                try:
                    decoded.append(decode_jpeg(one, mode="RGB", device=device))
                except (RuntimeError, ValueError) as e:
                    raise BadInputError(f"{encoded[i][0]}: cannot decode image ({e})", param="root") from None
        for i, image in zip(jpegs, decoded):
            images[i] = image
    frame_tf = v2.Compose([*_geometry(frame, size), v2.ToDtype(torch.float32, scale=True)])
    return torch.stack([frame_tf(tv_tensors.Image(image)) for image in images]).as_subclass(torch.Tensor)


def train_transform(size: int = IMAGE_SIZE, resize: int | None = None, mirror: bool = True) -> v2.Transform:
    """The paper's training augmentation (official prototxt: images at 256x256, random 224 crop, mirror):
    resize the whole image to ``resize x resize`` (default ``size * 256 / 224``), random ``size`` crop, random
    horizontal flip. Boxes follow."""
    resize = resize or round(size * 256 / 224)
    if resize < size:
        raise BadInputError(f"parameter resize={resize!r}: the train resize must be >= the crop size ({size})",
                            param="resize")
    flip = [v2.RandomHorizontalFlip()] if mirror else []
    return v2.Compose([v2.ToImage(), v2.Resize((resize, resize)), v2.RandomCrop(size), *flip,
                       v2.ClampBoundingBoxes(), v2.ToDtype(torch.float32, scale=True)])


def ten_crop(image: torch.Tensor, boxes: torch.Tensor, size: int = IMAGE_SIZE) -> tuple[torch.Tensor, list]:
    """Ten crops ``(10, 3, size, size)`` of a square image tensor ``(3, full, full)`` and, per crop, its inclusive
    boxes in that crop's frame (mirrored for the flipped crops). torchvision's ``v2.TenCrop`` refuses bounding
    boxes, so each crop is one ``v2.functional.crop`` (+ ``horizontal_flip``) applied to image and boxes alike."""
    full = image.shape[-1]
    if image.shape[-2] != full or full < size:
        raise BadInputError(f"parameter image: ten_crop needs a square image of at least {size} px, got "
                            f"{tuple(image.shape[-2:])}", param="image")
    bb = tv_tensors.BoundingBoxes(_to_continuous(boxes).float(), format="XYXY", canvas_size=(full, full))
    crops, crop_boxes = [], []
    for top, left, flipped in ten_crop_geometry(full, size):
        im, b = v2.functional.crop(image, top, left, size, size), v2.functional.crop(bb, top, left, size, size)
        if flipped:
            im, b = v2.functional.horizontal_flip(im), v2.functional.horizontal_flip(b)
        b = v2.functional.clamp_bounding_boxes(b)
        crops.append(im)
        crop_boxes.append(_to_inclusive(b))
    return torch.stack(crops), crop_boxes


def crop_to_box(image: Image.Image, boxes: torch.Tensor, box) -> tuple[Image.Image, torch.Tensor]:
    """Crop a PIL image to the inclusive ``box`` and carry ``boxes`` into the crop's frame (clipped to it): the
    "crop" and "BBox" rows of Table 4 (features on the CAM box or the ground-truth box)."""
    x0, y0, x1, y1 = [int(round(float(v))) for v in box]
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.width - 1), min(y1, image.height - 1)
    if x1 < x0 or y1 < y0:
        raise BadInputError(f"parameter box={list(map(float, box))}: the crop box lies outside the "
                            f"{image.width}x{image.height} image", param="box")
    shifted = boxes.double().reshape(-1, 4) - torch.tensor([x0, y0, x0, y0], dtype=torch.float64)
    lim = torch.tensor([x1 - x0, y1 - y0], dtype=torch.float64)
    shifted[:, :2] = shifted[:, :2].clamp_min(0)
    shifted[:, 2:] = torch.minimum(shifted[:, 2:], lim)
    return image.crop((x0, y0, x1 + 1, y1 + 1)), shifted


def _to_continuous(boxes: torch.Tensor) -> torch.Tensor:
    return boxes.double().reshape(-1, 4) + torch.tensor([0, 0, 1, 1], dtype=torch.float64)


def _to_inclusive(boxes: torch.Tensor) -> torch.Tensor:
    return boxes.as_subclass(torch.Tensor).double() - torch.tensor([0, 0, 1, 1], dtype=torch.float64)


def _fit_boxes(path, boxes: torch.Tensor, w: int, h: int, source: str = "") -> torch.Tensor:
    """Boxes checked against the stored ``w x h`` image: one pixel past the edge is clamped, more is an error
    naming the image and, when known, the annotation (``source``: file and line) the boxes come from."""
    if len(boxes) and bool((boxes[:, 2] > w).any() or (boxes[:, 3] > h).any()):
        raise BadInputError(f"{path}: a box {boxes.tolist()} extends past the {w}x{h} image"
                            + (f" (boxes from {source})" if source and str(source) != str(path) else ""), param="root")
    return torch.minimum(boxes, torch.tensor([w - 1, h - 1, w - 1, h - 1], dtype=boxes.dtype))


def _frame_target(transform, boxes, label, index, size, path, frame) -> dict:
    """The target of :func:`make_sample` without the image: the boxes carried into the frame by ``transform``
    (the geometry depends on the stored size alone), plus the file and frame for device decoding."""
    w, h = size
    bb = transform(tv_tensors.BoundingBoxes(_to_continuous(boxes).float(), format="XYXY", canvas_size=(h, w)))
    return {"label": int(label), "boxes": _to_inclusive(bb), "index": int(index), "size": (w, h),
            "path": str(path), "frame": frame}


def make_sample(image: Image.Image, boxes: torch.Tensor, label: int, index: int, transform: v2.Transform,
                mask: np.ndarray | None = None) -> tuple[torch.Tensor, dict]:
    """Apply ``transform`` to an image and its inclusive boxes ``(n, 4)`` (and its object ``mask``, uint8 ``(H, W)``:
    1 object, 0 background, 255 ignore; resampled by nearest neighbour); returns ``(image, target)`` with
    ``target = {"label", "boxes" (inclusive, in the output frame), "index", "size" (stored width, height)}`` and
    ``"mask"`` when given."""
    bb = tv_tensors.BoundingBoxes(_to_continuous(boxes).float(), format="XYXY",
                                  canvas_size=(image.height, image.width))
    if mask is None:
        img, bb = transform(image, bb)
        extra = {}
    else:
        img, bb, m = transform(image, bb, tv_tensors.Mask(torch.from_numpy(mask)))
        extra = {"mask": m.as_subclass(torch.Tensor)}
    return img, {"label": int(label), "boxes": _to_inclusive(bb), "index": int(index),
                 "size": (image.width, image.height), **extra}


def load_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An object mask PNG (one channel: 0 background, 1 object (any value 1..254 counts as object), 255 ignore) of
    a ``size = (width, height)`` image, as uint8 0/1/255; a missing, unreadable or mis-sized file is named."""
    try:
        with Image.open(path) as im:
            values = np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise BadInputError(f"{path}: mask file not found (the dataset has a masks/ folder)", param="root") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BadInputError(f"{path}: cannot decode mask ({e})", param="root") from None
    if values.shape != (size[1], size[0]):
        raise BadInputError(f"{path}: mask of {values.shape[1]}x{values.shape[0]} for a {size[0]}x{size[1]} image",
                            param="root")
    return np.where(values == 255, 255, (values > 0).astype(np.uint8)).astype(np.uint8)


def _gray(path: Path, param: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except FileNotFoundError:
        raise BadInputError(f"{path}: mask file not found", param=param) from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BadInputError(f"{path}: cannot decode mask ({e})", param=param) from None


def _to_size(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``values`` resampled (nearest) to ``size = (width, height)`` when it differs (wsolevaluation resizes masks
    and images to the evaluated frame independently, so a mask stored at another size is not an error there)."""
    import cv2

    if values.shape == (size[1], size[0]):
        return values
    return cv2.resize(values, size, interpolation=cv2.INTER_NEAREST)   # as wsolevaluation resizes its masks


def instance_masks(mask_files: list[Path], ignore_file: Path | None, size: tuple[int, int], param: str = "masks",
                   cut: int = 0, require_object: bool = True) -> tuple[np.ndarray, torch.Tensor]:
    """wsolevaluation's ``get_mask`` (OpenImages30k, Choe et al. 2020) for one image of ``size = (width, height)``:
    the union of its instance masks (a pixel is an object where a mask's value exceeds ``cut``: 0 for OpenImages'
    binary PNGs, 127 for CUB's soft segmentations, the majority of annotators), the ignore region (value > 0)
    minus the objects set to 255; and each instance's tight inclusive box (the objects' boxes for the GT-known
    and MaxBoxAcc metrics). Masks stored at another size are resampled (nearest); a mask with no object pixel is
    an error naming its file (with ``require_object``; else it adds no box)."""
    union = np.zeros((size[1], size[0]), bool)
    boxes = []
    for path in mask_files:
        fg = _to_size(_gray(path, param), size) > cut
        if not fg.any():
            if require_object:
                raise BadInputError(f"{path}: instance mask without any object pixel (values > {cut})", param=param)
            continue
        ys, xs = np.nonzero(fg)
        boxes.append([xs.min(), ys.min(), xs.max(), ys.max()])
        union |= fg
    mask = union.astype(np.uint8)
    if ignore_file is not None:
        mask[(_to_size(_gray(ignore_file, param), size) > 0) & ~union] = 255
    return mask, torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4)


@dataclass
class Skipped:
    """A sample that could not be loaded, returned instead of raising when a dataset runs with skip_bad."""

    index: int
    path: str
    reason: str


class BoxDataset(Dataset):
    """A list of ``(image path, label, inclusive boxes (n, 4) in the stored image's frame)`` samples.

    Subclasses fill ``self.samples`` through :meth:`_collect`, which turns each bad record into a BadInputError
    (or, with ``skip_bad``, into an entry of ``self.skipped`` and a warning). Loading checks boxes against the
    decoded image: one pixel past the edge is clamped (a 1-based coordinate, as in some ILSVRC files), more is an
    error naming the file."""

    def __init__(self, transform: v2.Transform | None = None, frame: str = "resize", skip_bad: bool = False):
        self.transform = transform if transform is not None else eval_transform(frame)
        self.frame, self.decode, self._own_transform = frame, "cpu", transform is not None
        self.skip_bad = skip_bad
        self.mask_dir: Path | None = None   # object masks (PxAP): <mask_dir>/<image stem>.png, when the dataset has them
        self.skipped: list[Skipped] = []
        self.samples: list[tuple[Path, int, torch.Tensor]] = []
        # image -> (width, height, the annotation that declares them): checked against the decoded image
        self.declared_sizes: dict[Path, tuple[int, int, str]] = {}
        self.sources: dict[Path, str] = {}   # image -> where its annotation is (file and line), named by errors

    def _declare(self, sample: tuple, size: tuple[int, int] | None, where: str) -> tuple:
        """``sample``, its image's size as an annotation declares it (``where``) recorded for :meth:`_check_size`."""
        if size is not None:
            self.declared_sizes[sample[0]] = (*size, where)
        return sample

    def _check_size(self, path: Path, w: int, h: int) -> None:
        """An image whose annotation declares another size is refused, naming both: its boxes are in the
        annotation's frame (a resized copy of the dataset would otherwise give wrong ground truth silently)."""
        declared = self.declared_sizes.get(path)
        if declared is not None and declared[:2] != (w, h):
            raise BadInputError(f"{declared[2]}: declares a {declared[0]}x{declared[1]} image but {path} is {w}x{h}; "
                                "its boxes are in the annotation's frame (a resized copy of the images?): use the "
                                "original images or rescale the annotations", param="root")

    def _collect(self, records, limit: int | None = None) -> None:
        """``records`` yields ``(where, make)``; ``make()`` returns a sample or raises BadInputError."""
        for where, make in records:
            try:
                self.samples.append(make())
                self.sources[self.samples[-1][0]] = str(where)
            except BadInputError as e:
                if not self.skip_bad:
                    raise
                self.skipped.append(Skipped(-1, str(where), str(e)))
            if limit is not None and len(self.samples) >= limit:
                break
        if self.skipped:
            warnings.warn(f"{type(self).__name__}: skipped {len(self.skipped)} bad entries (first: "
                          f"{self.skipped[0].reason})", stacklevel=3)
        if not self.samples:
            raise BadInputError(f"{getattr(self, 'root', '')}: no usable images ({len(self.skipped)} skipped)",
                                param="root")

    @property
    def targets(self) -> list[int]:
        return [label for _, label, _ in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def path(self, index: int) -> Path:
        return self.samples[index][0]

    def load(self, index: int) -> tuple[Image.Image, torch.Tensor]:
        """The decoded image and its boxes checked against its size (BadInputError naming the file)."""
        path, _, boxes = self.samples[index]
        image = load_image(path)
        self._check_size(path, *image.size)
        return image, _fit_boxes(path, boxes, *image.size, self.sources.get(path, ""))

    @property
    def has_masks(self) -> bool:
        """Whether the samples come with object masks (PxAP is then measured)."""
        return self.mask_dir is not None

    def load_with_mask(self, index: int) -> tuple[Image.Image, torch.Tensor, np.ndarray | None]:
        """:meth:`load` and the image's object mask (uint8: 1 object, 0 background, 255 ignore) or None. Subclasses
        with another mask layout (one file per instance, soft segmentations) override this."""
        image, boxes = self.load(index)
        path = self.samples[index][0]
        return image, boxes, None if self.mask_dir is None else load_mask(self.mask_dir / (path.stem + ".png"),
                                                                          image.size)

    def set_decode(self, where: str) -> "BoxDataset":
        """``"cpu"`` (default): the loader decodes with PIL and applies the transform. ``"device"``: the loader
        passes each file's bytes (:func:`read_encoded`) and its boxes already in the frame; :meth:`Batch.images_on`
        decodes them on the model's device (nvJPEG on CUDA). Only with the default evaluation frame."""
        self.decode = check_decode(where, self._own_transform)
        if self.decode == "device" and self.has_masks:
            raise BadInputError(f"parameter decode='device': {getattr(self, 'root', 'the dataset')} has object masks, "
                                "which are read with the images on the CPU; use decode='cpu'", param="decode")
        return self

    def __getitem__(self, index: int):
        path, label, boxes = self.samples[index]
        try:
            if self.decode == "device":
                data, (w, h) = read_encoded(path)
                self._check_size(path, w, h)
                fitted = _fit_boxes(path, boxes, w, h, self.sources.get(path, ""))
                return data, _frame_target(self.transform, fitted, label, index, (w, h), path, self.frame)
            image, boxes, mask = self.load_with_mask(index)
        except BadInputError as e:
            if not self.skip_bad:
                raise
            return Skipped(index, str(path), str(e))
        return make_sample(image, boxes, label, index, self.transform, mask)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:   # missing or unreadable: loading it names the file
        return -1


def fingerprint(dataset) -> str:
    """What a dataset's items are, as 16 hex digits: for each sample in order its image file (path relative to the
    dataset's root, size in bytes), label and boxes, and the sizes of its object mask files. A ``Subset`` adds its
    indices, a ``ConcatDataset`` joins its parts, a wrapper with ``base`` and ``boxes`` (the crops of Table 4) adds
    the boxes. Caches key their measurements by it, so editing, adding or swapping images or annotations, or
    evaluating another half of a folder, is measured again, never served from the old images' cache; moving the
    folder is not a change. Files count by name and size, not content: a file rewritten to exactly its old size
    goes unnoticed (reading every byte of ImageNet at each run would cost minutes). A dataset of another kind counts
    by its type and length only."""
    import hashlib

    from torch.utils.data import ConcatDataset, Subset

    h = hashlib.sha256()
    if isinstance(dataset, Subset):
        h.update(f"subset {fingerprint(dataset.dataset)} {list(map(int, dataset.indices))}".encode())
    elif isinstance(dataset, ConcatDataset):
        h.update(("concat " + " ".join(fingerprint(d) for d in dataset.datasets)).encode())
    elif hasattr(dataset, "base") and hasattr(dataset, "boxes"):
        h.update(f"crops {fingerprint(dataset.base)} ".encode())
        h.update(np.ascontiguousarray(torch.as_tensor(dataset.boxes, dtype=torch.float64).numpy()).tobytes())
    elif isinstance(getattr(dataset, "samples", None), list):
        root = Path(getattr(dataset, "root", "") or "/")
        mask_dir = getattr(dataset, "mask_dir", None)
        instance = getattr(dataset, "instance_masks", None) or {}
        for path, label, *rest in dataset.samples:
            path = Path(path)
            files, ignore = instance.get(path, ([], None))
            masks = [*files, *([ignore] if ignore is not None else [])]
            if mask_dir is not None and not masks:
                masks = [Path(mask_dir) / (path.stem + ".png")]
            boxes = torch.as_tensor(rest[0]).tolist() if rest else []
            name = path.relative_to(root) if path.is_relative_to(root) else path
            h.update(repr((str(name), _file_size(path), int(label), boxes,
                           [_file_size(m) for m in masks])).encode())
    else:
        h.update(f"{type(dataset).__name__} {len(dataset)}".encode())
    return h.hexdigest()[:16]


def check_boxes(boxes: torch.Tensor, where, param: str = "root") -> torch.Tensor:
    """Inclusive boxes must be finite and satisfy 0 <= x0 <= x1 and 0 <= y0 <= y1; raises naming ``where`` (a file
    and line of the dataset parameter ``param``, which the error carries)."""
    boxes = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    bad = ~torch.isfinite(boxes).all(1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]) \
        | (boxes[:, :2] < 0).any(1)
    if bool(bad.any()):
        raise BadInputError(f"{where}: invalid box {boxes[bad][0].tolist()} (need finite coordinates with "
                            "0 <= x0 <= x1, 0 <= y0 <= y1)", param=param)
    return boxes


@dataclass
class Batch:
    images: torch.Tensor            # (B, 3, H, W) float in [0, 1]
    labels: torch.Tensor            # (B,) int64, -1 when the dataset has no labels
    gt_boxes: torch.Tensor          # (B, M, 4) float64 inclusive boxes in the image frame
    gt_valid: torch.Tensor          # (B, M) bool
    indices: torch.Tensor           # (B,) dataset indices
    sizes: torch.Tensor             # (B, 2) stored image (width, height), to map boxes back to it
    skipped: list[Skipped] = field(default_factory=list)
    masks: torch.Tensor | None = None   # (B, H, W) uint8 object masks (1 object, 0 background, 255 ignore), if any
    encoded: list | None = None     # device decoding: (path, bytes or uint8 image) per image; images is then empty
    frame: str | None = None        # the frame the dataset made, where the batch says it (device decoding)

    def pin_memory(self) -> "Batch":
        self.images = self.images.pin_memory()
        return self

    def images_on(self, device: torch.device | str) -> torch.Tensor:
        """The images on ``device``: copied there, or decoded there (:func:`decode_images`) when the loader passed
        the files encoded (``BoxDataset.set_decode("device")``)."""
        if self.encoded is None:
            return self.images.to(device, non_blocking=True)
        return decode_images(self.encoded, self.frame, device)


def collate(samples: list) -> Batch:
    """Batch ``(image, target)`` samples, setting aside :class:`Skipped` ones (counted by the caller)."""
    skipped = [s for s in samples if isinstance(s, Skipped)]
    good = [s for s in samples if not isinstance(s, Skipped)]
    if not good:
        return Batch(torch.zeros(0, 3, 1, 1), torch.zeros(0, dtype=torch.int64), torch.zeros(0, 1, 4),
                     torch.zeros(0, 1, dtype=torch.bool), torch.zeros(0, dtype=torch.int64),
                     torch.zeros(0, 2, dtype=torch.int64), skipped)
    gt_boxes, gt_valid, _ = pad_boxes([t["boxes"] for _, t in good])
    encoded = [(t["path"], im) for im, t in good] if "frame" in good[0][1] else None
    return Batch(images=torch.stack([im for im, _ in good]) if encoded is None else torch.zeros(0, 3, 1, 1),
                 encoded=encoded, frame=good[0][1].get("frame"),
                 labels=torch.tensor([t["label"] for _, t in good], dtype=torch.int64),
                 gt_boxes=gt_boxes, gt_valid=gt_valid,
                 indices=torch.tensor([t["index"] for _, t in good], dtype=torch.int64),
                 sizes=torch.tensor([t["size"] for _, t in good], dtype=torch.int64), skipped=skipped,
                 masks=torch.stack([t["mask"] for _, t in good]) if all("mask" in t for _, t in good) else None)
