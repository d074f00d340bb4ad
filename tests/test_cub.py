"""CUB-200-2011 on a generated folder in the release's exact format: split counts from train_test_split.txt,
labels and class names, the w/h -> inclusive box conversion, crop_to_box, and every bad input named."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from cam_lib.data.common import Skipped, collate, load_image
from cam_lib.data.cub import CUB200
from cam_lib.errors import BadInputError

CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
W, H = 80, 64
TRAIN_FLAGS = [1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0]   # 7 train / 5 test, not the official 5,994 / 5,794
BOXES = {1: "10.0 20.0 30.0 40.0", 2: "0.0 0.0 80.0 64.0"}   # id 2: the whole image (x + w = W)


def write_cub(parent: Path) -> Path:
    """``parent/CUB_200_2011`` with 12 images (4 per class, ids 1..12 in class order) of random pixels."""
    root = parent / "CUB_200_2011"
    rng = np.random.default_rng(0)
    images, labels, split, boxes = [], [], [], []
    for i in range(12):
        image_id, cls = i + 1, CLASSES[i // 4]
        name = cls.split(".", 1)[1].replace("footed", "Footed")
        rel = f"{cls}/{name}_{image_id:04d}_{796100 + image_id}.jpg"
        (root / "images" / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(root / "images" / rel)
        images.append(f"{image_id} {rel}")
        labels.append(f"{image_id} {i // 4 + 1}")
        split.append(f"{image_id} {TRAIN_FLAGS[i]}")
        boxes.append(f"{image_id} {BOXES.get(image_id, f'{i}.0 {i + 1}.0 {20 + i}.0 {15 + i}.0')}")
    for name, lines in (("images.txt", images), ("image_class_labels.txt", labels), ("train_test_split.txt", split),
                        ("bounding_boxes.txt", boxes),
                        ("classes.txt", [f"{k + 1} {c}" for k, c in enumerate(CLASSES)])):
        (root / name).write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def cub(tmp_path) -> Path:
    return write_cub(tmp_path)


def edit_line(path: Path, lineno: int, new: str | None) -> None:
    lines = path.read_text().splitlines()
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    path.write_text("\n".join(lines) + "\n")


def test_split_counts_come_from_the_split_file(cub):
    train, test, every = CUB200(cub.parent, "train"), CUB200(cub.parent, "test"), CUB200(cub, "all")
    assert (len(train), len(test), len(every)) == (7, 5, 12)       # the root and its parent are both accepted
    assert train.image_ids == [i + 1 for i, f in enumerate(TRAIN_FLAGS) if f]
    assert test.image_ids == [i + 1 for i, f in enumerate(TRAIN_FLAGS) if not f]
    assert not {train.path(i) for i in range(len(train))} & {test.path(i) for i in range(len(test))}
    assert every.targets.tolist() == [i // 4 for i in range(12)]
    assert train.targets.tolist() == [(i - 1) // 4 for i in train.image_ids]
    assert train.num_classes == 3 and train.class_names == ["Black footed Albatross", "Laysan Albatross",
                                                            "Sooty Albatross"]
    assert "5,994 train / 5,794 test" in CUB200.protocol and CUB200.OFFICIAL_COUNTS["all"] == 11788
    assert train.path(0).name.startswith("Black_Footed_Albatross_0001") and train.skipped == []


def test_box_is_inclusive_and_follows_the_resize_frame(cub):
    ds = CUB200(cub, "all")
    assert ds.samples[0][2].tolist() == [[10, 20, 39, 59]]           # 10 20 30 40 -> [x, y, x+w-1, y+h-1]
    image, target = ds[0]
    assert image.shape == (3, 224, 224) and target["label"] == 0 and target["index"] == 0
    sx, sy = 224 / W, 224 / H     # continuous [10, 20, 40, 60] scaled, back to inclusive
    torch.testing.assert_close(target["boxes"], torch.tensor([[10 * sx, 20 * sy, 40 * sx - 1, 60 * sy - 1]],
                                                             dtype=torch.float64))
    assert target["boxes"].tolist() == [[28.0, 70.0, 111.0, 209.0]]
    assert ds[1][1]["boxes"].tolist() == [[0.0, 0.0, 223.0, 223.0]]  # 0 0 80 64 covers the whole image
    batch = collate([ds[0], ds[1]])
    assert batch.gt_boxes.shape == (2, 1, 4) and batch.labels.tolist() == [0, 0]


def test_crop_to_box_crops_the_pixels_and_the_box_becomes_the_crop(cub):
    ds = CUB200(cub, "all", crop_to_box=True, transform=v2.ToImage())   # transform overrides the frame
    image, target = ds[0]
    original = np.asarray(load_image(ds.path(0)))
    assert image.shape == (3, 40, 30)
    assert np.array_equal(image.permute(1, 2, 0).numpy(), original[20:60, 10:40])
    assert target["boxes"].tolist() == [[0, 0, 29, 39]]
    resized = CUB200(cub, "all", crop_to_box=True)[0]
    assert resized[0].shape == (3, 224, 224) and resized[1]["boxes"].tolist() == [[0, 0, 223, 223]]


def test_center_crop_frame(cub):
    ds = CUB200(cub, "all", frame="center_crop")
    assert ds[1][1]["boxes"][0].tolist() == pytest.approx([0, 0, 223, 223])
    # 80x64 -> short side 256 (x4) = 320x256, crop offset (48, 16): [10, 20, 40, 60] * 4 - offset, clipped
    assert ds[0][1]["boxes"][0].tolist() == pytest.approx([0, 64, 111, 223])
    with pytest.raises(BadInputError, match="parameter frame='square': must be one of"):
        CUB200(cub, frame="square")


def test_missing_list_file_and_folder(cub, tmp_path):
    (cub / "bounding_boxes.txt").unlink()
    with pytest.raises(BadInputError, match=r"bounding_boxes.txt: CUB list file bounding_boxes.txt not found"):
        CUB200(cub)
    with pytest.raises(BadInputError, match="dataset folder not found"):
        CUB200(tmp_path / "nowhere")
    with pytest.raises(BadInputError, match="parameter split='val': must be one of"):
        CUB200(cub, "val")


def test_missing_image_is_named_or_skipped(cub):
    gone = next((cub / "images" / CLASSES[0]).glob("*_0003_*.jpg"))
    gone.unlink()
    with pytest.raises(BadInputError, match=r"images.txt:3: image .*_0003_796103.jpg not found"):
        CUB200(cub, "train")
    assert len(CUB200(cub, "test")) == 5        # only the loaded split's images must exist
    with pytest.warns(UserWarning, match=r"skipped 1 bad entries \(first: "):
        ds = CUB200(cub, "train", skip_bad=True)
    assert len(ds) == 6 and len(ds.skipped) == 1 and ds.skipped[0].path == str(gone) and 3 not in ds.image_ids


def test_duplicate_id(cub):
    labels = cub / "image_class_labels.txt"
    labels.write_text(labels.read_text() + "1 2\n")
    with pytest.raises(BadInputError, match=r"image_class_labels.txt:13: duplicate image id 1 \(first on line 1\)"):
        CUB200(cub, "all")
    with pytest.warns(UserWarning):
        ds = CUB200(cub, "all", skip_bad=True)
    assert len(ds) == 11 and 1 not in ds.image_ids and len(ds.skipped) == 1


def test_id_missing_from_one_file_or_unknown(cub):
    edit_line(cub / "train_test_split.txt", 5, None)
    with pytest.raises(BadInputError, match=r"images.txt:5: image id 5 has no line in train_test_split.txt"):
        CUB200(cub, "all")
    with pytest.warns(UserWarning):
        assert 5 not in CUB200(cub, "all", skip_bad=True).image_ids
    write_cub(cub.parent)
    boxes = cub / "bounding_boxes.txt"
    boxes.write_text(boxes.read_text() + "99 1.0 1.0 5.0 5.0\n")
    with pytest.raises(BadInputError, match=r"bounding_boxes.txt:13: image id 99 is not in .*images.txt"):
        CUB200(cub, "all")


def test_class_id_out_of_range_and_class_count(cub):
    edit_line(cub / "image_class_labels.txt", 2, "2 7")
    with pytest.raises(BadInputError, match=r"image_class_labels.txt:2: class id 7 is out of the range 1..3 of .*"
                                            r"classes.txt"):
        CUB200(cub, "all")
    write_cub(cub.parent)
    (cub / "classes.txt").write_text((cub / "classes.txt").read_text() + "4 004.Crested_Auklet\n")
    with pytest.raises(BadInputError, match=r"image_class_labels.txt: images use 3 classes but .*classes.txt lists 4"):
        CUB200(cub, "all")
    edit_line(cub / "classes.txt", 2, "3 002.Laysan_Albatross")
    with pytest.raises(BadInputError, match=r"classes.txt:2: expected class id 2"):
        CUB200(cub, "all")


def test_non_numeric_fields_and_bad_values(cub):
    edit_line(cub / "bounding_boxes.txt", 4, "4 abc 0.0 10.0 10.0")
    with pytest.raises(BadInputError, match=r"bounding_boxes.txt:4: non-numeric field"):
        CUB200(cub, "all")
    edit_line(cub / "bounding_boxes.txt", 4, "4 1.0 1.0 -3.0 10.0")
    with pytest.raises(BadInputError, match=r"bounding_boxes.txt:4: invalid box"):
        CUB200(cub, "all")
    edit_line(cub / "bounding_boxes.txt", 4, "4 1.0 1.0 3.0")
    with pytest.raises(BadInputError, match=r"bounding_boxes.txt:4: expected 5 fields, got 4"):
        CUB200(cub, "all")
    edit_line(cub / "bounding_boxes.txt", 4, "4 1.0 1.0 3.0 3.0")
    edit_line(cub / "train_test_split.txt", 6, "6 2")
    with pytest.raises(BadInputError, match=r"train_test_split.txt:6: is_training_image must be 0 or 1, got 2"):
        CUB200(cub, "all")
    edit_line(cub / "train_test_split.txt", 6, "six 1")
    with pytest.raises(BadInputError, match=r"train_test_split.txt:6: non-numeric image id 'six'"):
        CUB200(cub, "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = CUB200(cub, "all", skip_bad=True)
    # the bad line, then image 6 lacking a split line: both recorded, nothing dropped silently
    assert len(ds) == 11 and len(ds.skipped) == 2 and 6 not in ds.image_ids


def test_box_past_the_image_is_checked_at_load_time(cub):
    edit_line(cub / "bounding_boxes.txt", 3, "3 0.0 0.0 81.0 65.0")      # one pixel past: clamped
    edit_line(cub / "bounding_boxes.txt", 4, "4 70.0 0.0 30.0 10.0")     # x1 = 99 in an 80-wide image
    ds = CUB200(cub, "all")
    assert ds[2][1]["boxes"].tolist() == [[0, 0, 223, 223]]
    with pytest.raises(BadInputError, match=r"_0004_796104.jpg: a box .* extends past the 80x64 image "
                                            r"\(box from .*bounding_boxes.txt:4\)"):
        ds[3]
    out = CUB200(cub, "all", skip_bad=True)[3]
    assert isinstance(out, Skipped) and out.index == 3 and "extends past" in out.reason


def test_corrupt_image_is_skipped_with_skip_bad(cub):
    bad = next((cub / "images" / CLASSES[1]).glob("*.jpg"))
    bad.write_bytes(bad.read_bytes()[:100])
    ds = CUB200(cub, "all", skip_bad=True)
    index = [ds.path(i) for i in range(len(ds))].index(bad)
    out = ds[index]
    assert isinstance(out, Skipped) and "cannot decode" in out.reason
    with pytest.raises(BadInputError, match="cannot decode"):
        CUB200(cub, "all")[index]
