"""ImageNet val loading in both layouts, box frames, and every bad input named in the error."""

import csv

import pytest
import torch

from cam_lib.data import ImageNetVal, build_dataset, collate, make_loader
from cam_lib.data.common import Skipped
from cam_lib.errors import BadInputError

from conftest import WNIDS


def test_both_layouts_of_the_shared_sample_agree(imagenet_sample):
    loc = ImageNetVal(imagenet_sample, layout="loc")
    dev = ImageNetVal(imagenet_sample, layout="devkit")
    assert len(loc) == len(dev) == 300 and loc.num_classes == 1000
    by_path = {p: (label, boxes) for p, label, boxes in dev.samples}
    for path, label, boxes in loc.samples:
        assert by_path[path][0] == label
        assert torch.equal(by_path[path][1], boxes)
    multi = sum(len(b) > 1 for _, _, b in loc.samples)
    assert multi > 0   # images with several boxes keep all of them
    rows = {r[0]: r[1].split() for r in list(csv.reader(open(imagenet_sample / "LOC_val_solution.csv")))[1:]}
    total = sum(len(v) // 5 for v in rows.values())
    assert sum(len(b) for _, _, b in loc.samples) == total


def test_boxes_are_carried_into_the_224_frame(imagenet_folder):
    ds = ImageNetVal(imagenet_folder)   # 64 x 48 images
    image, target = ds[1]
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    # inclusive [2, 3, 59, 41] in 64x48 -> continuous [2, 3, 60, 42] * (3.5, 4.6667) -> back to inclusive
    sx, sy = 224 / 64, 224 / 48
    expected = [[2 * sx, 3 * sy, 60 * sx - 1, 42 * sy - 1], [0, 0, 223, 223]]
    torch.testing.assert_close(target["boxes"], torch.tensor(expected, dtype=torch.float64))
    assert target["label"] == 1


def test_center_crop_frame_clips_boxes(imagenet_folder):
    ds = ImageNetVal(imagenet_folder, frame="center_crop")
    _, target = ds[1]
    whole = target["boxes"][1]
    assert whole.tolist() == pytest.approx([0, 0, 223, 223])   # the whole image still covers the crop


def test_collate_pads_boxes_and_sets_aside_skipped(imagenet_folder):
    ds = ImageNetVal(imagenet_folder)
    batch = collate([ds[0], Skipped(5, "x.JPEG", "bad"), ds[1]])
    assert batch.images.shape == (2, 3, 224, 224)
    assert batch.gt_valid.tolist() == [[True, False], [True, True]]
    assert batch.labels.tolist() == [0, 1] and [s.index for s in batch.skipped] == [5]
    loader = make_loader(ds, batch_size=4)
    assert [len(b.labels) for b in loader] == [4, 2]


def test_missing_folder_and_files(tmp_path, imagenet_folder):
    with pytest.raises(BadInputError, match="not found"):
        ImageNetVal(tmp_path / "nope")
    (imagenet_folder / "LOC_synset_mapping.txt").unlink()
    with pytest.raises(BadInputError, match="class mapping file"):
        ImageNetVal(imagenet_folder)


def test_truncated_jpeg_is_named_or_skipped(imagenet_folder):
    bad = imagenet_folder / "val" / "ILSVRC2012_val_00000003.JPEG"
    bad.write_bytes(bad.read_bytes()[:200])
    ds = ImageNetVal(imagenet_folder)
    with pytest.raises(BadInputError, match="ILSVRC2012_val_00000003.JPEG"):
        ds[2]
    skipping = ImageNetVal(imagenet_folder, skip_bad=True)
    out = skipping[2]
    assert isinstance(out, Skipped) and out.path == str(bad) and "cannot decode" in out.reason


def test_corrupt_file_that_is_not_an_image(imagenet_folder):
    (imagenet_folder / "val" / "ILSVRC2012_val_00000001.JPEG").write_text("not a jpeg")
    with pytest.raises(BadInputError, match="ILSVRC2012_val_00000001.JPEG: cannot decode"):
        ImageNetVal(imagenet_folder)[0]


def test_xml_without_objects(imagenet_folder):
    xml = imagenet_folder / "bbox" / "ILSVRC2012_val_00000002.xml"
    xml.write_text("<annotation><filename>x</filename></annotation>")
    with pytest.raises(BadInputError, match=r"ILSVRC2012_val_00000002.xml: no <object>"):
        ImageNetVal(imagenet_folder, layout="devkit")
    ds = ImageNetVal(imagenet_folder, layout="devkit", skip_bad=True)
    assert len(ds) == 5 and len(ds.skipped) == 1 and "00000002.xml" in ds.skipped[0].path


def test_wnid_not_in_mapping(imagenet_folder):
    csv_path = imagenet_folder / "LOC_val_solution.csv"
    csv_path.write_text(csv_path.read_text().replace(WNIDS[3], "n99999999"))
    with pytest.raises(BadInputError, match=r"LOC_val_solution.csv:5: wnid n99999999 is not in"):
        ImageNetVal(imagenet_folder, layout="loc")


def test_duplicate_image_id_and_malformed_rows(imagenet_folder):
    csv_path = imagenet_folder / "LOC_val_solution.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(BadInputError, match=r":8: duplicate ImageId ILSVRC2012_val_00000001 \(first on line 2\)"):
        ImageNetVal(imagenet_folder)
    csv_path.write_text("\n".join(lines[:2] + ["ILSVRC2012_val_00000002,n01000001 1 2 3"]) + "\n")
    with pytest.raises(BadInputError, match=r":3: PredictionString must be groups"):
        ImageNetVal(imagenet_folder)


def test_missing_image_and_box_past_the_image(imagenet_folder):
    (imagenet_folder / "val" / "ILSVRC2012_val_00000004.JPEG").unlink()
    with pytest.raises(BadInputError, match=r"ILSVRC2012_val_00000004.JPEG not found"):
        ImageNetVal(imagenet_folder)
    assert len(ImageNetVal(imagenet_folder, skip_bad=True)) == 5
    csv_path = imagenet_folder / "LOC_val_solution.csv"
    csv_path.write_text(csv_path.read_text().replace("2 3 59 41", "2 3 90 41", 1))
    ds = ImageNetVal(imagenet_folder, skip_bad=True)
    with pytest.raises(BadInputError, match="extends past the 64x48 image"):
        ImageNetVal(imagenet_folder, skip_bad=False, limit=1)[0]
    assert isinstance(ds[0], Skipped)


def test_unknown_dataset_name():
    with pytest.raises(BadInputError, match="unknown dataset 'coco'"):
        build_dataset("coco", "x")
