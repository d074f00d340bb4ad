"""ImageNet val loading in both layouts, box frames, and every bad input named in the error."""

import csv

import pytest
from PIL import Image
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
    with pytest.raises(BadInputError, match="parameter name='coco': unknown dataset"):
        build_dataset("coco", "x")


def _write_wsol(meta, samples, rel_images="val"):
    """wsolevaluation metadata for ImageNetVal samples (paths relative to the dataset root)."""
    meta.mkdir(parents=True, exist_ok=True)
    ids = [f"{rel_images}/{p.name}" for p, _, _ in samples]
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},{label}\n" for i, (_, label, _) in zip(ids, samples)))
    sizes = [Image.open(p).size for p, _, _ in samples]   # the stored images' sizes, as wsolevaluation lists them
    (meta / "image_sizes.txt").write_text("".join(f"{i},{w},{h}\n" for i, (w, h) in zip(ids, sizes)))
    (meta / "localization.txt").write_text("".join(
        f"{i},{','.join(str(int(v)) for v in box)}\n" for i, (_, _, boxes) in zip(ids, samples) for box in boxes))
    return ids


def test_wsolevaluation_metadata_layout_matches_the_loc_layout(imagenet_sample, tmp_path):
    loc = ImageNetVal(imagenet_sample, layout="loc")
    _write_wsol(tmp_path / "meta", loc.samples)
    wsol = ImageNetVal(imagenet_sample, metadata=tmp_path / "meta")
    assert wsol.layout == "wsol" and len(wsol) == len(loc) == 300 and wsol.num_classes == 1000
    for (p1, l1, b1), (p2, l2, b2) in zip(loc.samples, wsol.samples):
        assert p1 == p2 and l1 == l2 and torch.equal(b1, b2)
    img1, t1 = loc[7]
    img2, t2 = wsol[7]
    assert torch.equal(img1, img2) and torch.equal(t1["boxes"], t2["boxes"])


def test_wsol_layout_bad_input(imagenet_folder, tmp_path):
    ds = ImageNetVal(imagenet_folder)
    meta = tmp_path / "meta"
    ids = _write_wsol(meta, ds.samples)
    (meta / "localization.txt").write_text((meta / "localization.txt").read_text() + "val/nope.JPEG,1,2,3,4\n")
    with pytest.raises(BadInputError, match=r"localization.txt:10: val/nope.JPEG is not in .*image_ids.txt"):
        ImageNetVal(imagenet_folder, metadata=meta)
    _write_wsol(meta, ds.samples)
    (meta / "class_labels.txt").write_text(f"{ids[0]},x\n")
    with pytest.raises(BadInputError, match=r"class_labels.txt:1: class label 'x'"):
        ImageNetVal(imagenet_folder, metadata=meta)
    (meta / "class_labels.txt").write_text(f"{ids[0]},0\n")
    with pytest.raises(BadInputError, match=r"class_labels.txt: no class label for val/ILSVRC2012_val_00000002"):
        ImageNetVal(imagenet_folder, metadata=meta)
    with pytest.warns(UserWarning, match="skipped 5"):
        assert len(ImageNetVal(imagenet_folder, metadata=meta, skip_bad=True)) == 1


def _write_train(root, per_class=3, classes=WNIDS[:4], boxes=True):
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(1)
    (root).mkdir(parents=True, exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} thing {i}\n" for i, w in enumerate(classes)))
    for w in classes:
        (root / "train" / w).mkdir(parents=True)
        (root / "train_bbox" / w).mkdir(parents=True)
        for k in range(per_class):
            Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / "train" / w / f"{w}_{k}.JPEG")
            if boxes and k == 0:
                (root / "train_bbox" / w / f"{w}_{k}.xml").write_text(
                    f"<annotation><object><name>{w}</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax>"
                    f"<ymax>20</ymax></bndbox></object></annotation>")


def test_imagenet_train_folders_labels_and_optional_boxes(tmp_path):
    from cam_lib.data import ImageNetTrain

    _write_train(tmp_path / "in")
    ds = ImageNetTrain(tmp_path / "in")
    assert len(ds) == 12 and ds.num_classes == 4 and ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert ds.samples[0][2].tolist() == [[1, 2, 30, 20]] and ds.samples[1][2].shape == (0, 4)
    assert len(ImageNetTrain(tmp_path / "in", limit_per_class=1)) == 4
    (tmp_path / "in" / "train" / "n77777777").mkdir()
    with pytest.raises(BadInputError, match="class folder n77777777 is not in"):
        ImageNetTrain(tmp_path / "in")
    (tmp_path / "in" / "train" / "n77777777").rmdir()
    import shutil
    shutil.rmtree(tmp_path / "in" / "train" / WNIDS[2])
    with pytest.raises(BadInputError, match=f"3 class folders but .* lists 4 classes \\(missing e.g. {WNIDS[2]}\\)"):
        ImageNetTrain(tmp_path / "in")


def test_train_transform_carries_boxes_through_crop_and_flip():
    from PIL import Image

    from cam_lib.data.common import make_sample, train_transform

    torch.manual_seed(0)
    image = Image.new("RGB", (100, 80))
    whole = torch.tensor([[0, 0, 99, 79], [10, 10, 19, 19]], dtype=torch.float64)
    for _ in range(10):
        img, target = make_sample(image, whole, 3, 0, train_transform(size=64))
        assert img.shape == (3, 64, 64)
        assert target["boxes"][0].tolist() == [0, 0, 63, 63]     # the whole image always covers the crop
        b = target["boxes"][1]
        assert 0 <= b[0] <= b[2] <= 63 and 0 <= b[1] <= b[3] <= 63


def test_ten_crop_boxes_follow_each_crop_and_flip():
    from cam_lib.data.common import ten_crop, ten_crop_geometry

    image = torch.zeros(3, 8, 8)
    image[:, 0, 0] = 1.0                          # a marker pixel at the top-left corner
    crops, boxes = ten_crop(image, torch.tensor([[0, 0, 0, 0]]), size=6)
    assert crops.shape == (10, 3, 6, 6) and ten_crop_geometry(8, 6)[4] == (1, 1, False)
    assert crops[0, 0, 0, 0] == 1 and boxes[0].tolist() == [[0, 0, 0, 0]]            # top-left crop
    assert crops[5, 0, 0, 5] == 1 and boxes[5].tolist() == [[5, 0, 5, 0]]            # mirrored top-left crop
    assert crops[3].sum() == 0 and boxes[3][0, 2] < boxes[3][0, 0]                   # bottom-right: box outside


def test_crop_to_box_moves_boxes_into_the_crop():
    from PIL import Image

    from cam_lib.data.common import crop_to_box

    image = Image.new("RGB", (50, 40))
    crop, boxes = crop_to_box(image, torch.tensor([[10, 5, 29, 24], [0, 0, 49, 39]]), [10, 5, 29, 24])
    assert crop.size == (20, 20)
    assert boxes.tolist() == [[0, 0, 19, 19], [0, 0, 19, 19]]
    with pytest.raises(BadInputError, match="outside"):
        crop_to_box(image, boxes, [60, 60, 70, 70])


def test_every_image_mode_reaches_the_network_with_its_true_content(tmp_path, monkeypatch):
    """Issue 13: PIL's convert("RGB") clips 16-bit and float images (a 16-bit PNG became all white)."""
    import numpy as np
    from PIL import Image

    from cam_lib.data.common import load_image

    ramp16 = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)   # 0 .. 65472
    Image.fromarray(ramp16).save(tmp_path / "ramp16.png")
    assert Image.open(tmp_path / "ramp16.png").mode.startswith("I")
    got = np.asarray(load_image(tmp_path / "ramp16.png"))
    assert got.shape == (32, 32, 3) and (got[..., 0] == got[..., 2]).all()
    np.testing.assert_array_equal(got[..., 0], np.round(ramp16 * 255.0 / 65535).astype(np.uint8))
    Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)).save(tmp_path / "unit.tiff")
    assert np.asarray(load_image(tmp_path / "unit.tiff"))[..., 0].tolist()[-1][-1] == 255
    Image.fromarray(np.full((8, 8), 2.5, np.float32)).save(tmp_path / "hdr.tiff")
    with pytest.raises(BadInputError, match=r"hdr.tiff: image mode F with values in \[2.5, 2.5\]"):
        load_image(tmp_path / "hdr.tiff")
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for mode in ("RGB", "RGBA", "L", "P", "CMYK"):   # 8-bit modes: PIL's own conversion, content kept
        Image.fromarray(rgb).convert(mode).save(tmp_path / f"x_{mode}.{'jpg' if mode == 'CMYK' else 'png'}")
        assert load_image(tmp_path / f"x_{mode}.{'jpg' if mode == 'CMYK' else 'png'}").mode == "RGB"
    assert (np.asarray(load_image(tmp_path / "x_RGBA.png")) == rgb).all()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)   # > 2x the limit: PIL's DecompressionBombError
    with pytest.raises(BadInputError, match=r"x_RGB.png: image too large to decode safely"):
        load_image(tmp_path / "x_RGB.png")


@pytest.mark.parametrize("layout", ["loc", "devkit"])
def test_an_image_without_annotation_is_named_or_listed_never_dropped(imagenet_folder, layout):
    """Issue 13: an image in val/ that no XML / no LOC row names stopped nothing and vanished from the numbers."""
    from PIL import Image

    orphan = imagenet_folder / "val" / "ILSVRC2012_val_00000099.JPEG"
    Image.new("RGB", (32, 32)).save(orphan)
    with pytest.raises(BadInputError, match=r"ILSVRC2012_val_00000099.JPEG: no annotation"):
        ImageNetVal(imagenet_folder, layout=layout)
    with pytest.warns(UserWarning, match="skipped 1 images without annotation"):
        ds = ImageNetVal(imagenet_folder, layout=layout, skip_bad=True)
    assert len(ds) == 6 and [s.path for s in ds.skipped] == [str(orphan)]
    assert "no annotation" in ds.skipped[0].reason


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_box_coordinates_stop_with_the_file_and_line(imagenet_folder, bad):
    csv_path = imagenet_folder / "LOC_val_solution.csv"
    lines = csv_path.read_text().splitlines()
    first = lines[1].split(",")
    tokens = first[1].split()
    tokens[3] = bad
    lines[1] = f"{first[0]},{' '.join(tokens)} "
    csv_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInputError, match=r"LOC_val_solution.csv:2: invalid box .*need finite coordinates"):
        ImageNetVal(imagenet_folder, layout="loc")
    xml = imagenet_folder / "bbox" / "ILSVRC2012_val_00000001.xml"
    xml.write_text(xml.read_text().replace("<ymin>3</ymin>", f"<ymin>{bad}</ymin>"))
    with pytest.raises(BadInputError, match=r"ILSVRC2012_val_00000001.xml: invalid box .*finite"):
        ImageNetVal(imagenet_folder, layout="devkit")


@pytest.mark.parametrize("frame", ["resize", "center_crop", "ten_crop"])
def test_device_decoding_gives_the_pixels_and_boxes_of_pil_on_the_cpu(imagenet_sample, frame):
    """Issue 14: with set_decode("device") the loader passes the JPEG files' bytes and Batch.images_on decodes them
    with torchcodec's decode_jpeg on the model's device (nvJPEG on CUDA); on the CPU the images, boxes and sizes
    are those of the PIL path, bit for bit."""
    from cam_lib.data import build_dataset, make_loader

    pil = make_loader(build_dataset("imagenet", imagenet_sample, frame=frame, limit=24), 12)
    dev = make_loader(build_dataset("imagenet", imagenet_sample, frame=frame, limit=24).set_decode("device"), 12)
    for a, b in zip(pil, dev):
        assert b.encoded is not None and a.encoded is None
        assert torch.equal(a.images_on("cpu"), b.images_on("cpu"))
        for key in ("gt_boxes", "gt_valid", "sizes", "labels", "indices"):
            assert torch.equal(getattr(a, key), getattr(b, key)), key


def test_device_decoding_of_an_exif_rotated_jpeg_gives_the_pixels_of_pil(tmp_path):
    """Issue 24: torchcodec applies a JPEG's EXIF orientation, PIL's open does not; such a file goes through PIL in
    the loader, so both paths keep giving the same pixels and frame."""
    import numpy as np

    from cam_lib.data import make_loader
    from cam_lib.data.photos import ImageFolderFlat

    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[0x0112] = 6   # rotate 90 degrees on display
    Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(tmp_path / "rotated.jpg", exif=exif)
    Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).save(tmp_path / "plain.jpg")
    pil = next(iter(make_loader(ImageFolderFlat(tmp_path), 2)))
    dev = next(iter(make_loader(ImageFolderFlat(tmp_path).set_decode("device"), 2)))
    assert torch.equal(pil.images_on("cpu"), dev.images_on("cpu"))
    assert isinstance(dev.encoded[0][1], np.ndarray) or isinstance(dev.encoded[1][1], np.ndarray)   # via PIL


def test_device_decoding_names_a_bad_file_and_refuses_a_custom_transform(tmp_path):
    from torchvision.transforms import v2

    from cam_lib.data import make_loader
    from cam_lib.data.photos import ImageFolderFlat

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))   # a JPEG header, then nothing decodable
    ds = ImageFolderFlat(tmp_path).set_decode("device")
    with pytest.raises(BadInputError, match="broken.jpg"):
        next(iter(make_loader(ds, 4))).images_on("cpu")
    with pytest.raises(BadInputError, match="custom transform"):
        ImageFolderFlat(tmp_path, transform=v2.Identity()).set_decode("device")
    with pytest.raises(BadInputError, match="decode='gpu'"):
        ImageFolderFlat(tmp_path).set_decode("gpu")


def test_a_loc_csv_with_a_byte_order_mark_is_read(tmp_path):
    """Issue 23: a LOC csv saved with a UTF-8 byte-order mark (as Excel writes CSV) reads like one without."""
    from conftest import write_imagenet

    from cam_lib.data import build_dataset

    write_imagenet(tmp_path)
    plain = build_dataset("imagenet", tmp_path, layout="loc")
    csv_path = tmp_path / "LOC_val_solution.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    marked = build_dataset("imagenet", tmp_path, layout="loc").samples
    assert len(marked) == len(plain.samples) > 0
    assert all(a[0] == b[0] and a[1] == b[1] and a[2].equal(b[2]) for a, b in zip(marked, plain.samples))


def test_annotations_that_declare_another_image_size_are_refused(imagenet_folder, tmp_path):
    """A 2x upscaled copy of the images beside the original annotations: the XML's <size> and wsolevaluation's
    image_sizes.txt disagree with the stored image, and the boxes would be silently wrong (issue 23)."""
    ds = ImageNetVal(imagenet_folder, layout="devkit")
    assert ds.declared_sizes[ds.path(0)][:2] == (64, 48)
    first = ds.path(0)
    Image.open(first).resize((128, 96)).save(first)
    with pytest.raises(BadInputError, match=r"ILSVRC2012_val_00000001.xml: declares a 64x48 image but .* is 128x96"):
        ImageNetVal(imagenet_folder, layout="devkit")[0]
    assert ImageNetVal(imagenet_folder, layout="devkit")[1][0].shape[0] == 3   # the other images load
    meta = tmp_path / "meta"
    _write_wsol(meta, ds.samples)
    (meta / "image_sizes.txt").write_text((meta / "image_sizes.txt").read_text().replace(",128,96", ",64,48"))
    with pytest.raises(BadInputError, match=r"image_sizes.txt:1: declares a 64x48 image but .* is 128x96"):
        ImageNetVal(imagenet_folder, metadata=meta)[0]


def test_duplicate_and_outside_entries_of_wsol_metadata_are_refused(imagenet_folder, tmp_path):
    ds = ImageNetVal(imagenet_folder)
    meta = tmp_path / "meta"
    ids = _write_wsol(meta, ds.samples)
    labels = (meta / "class_labels.txt").read_text()
    (meta / "class_labels.txt").write_text(labels + f"{ids[0]},5\n")
    with pytest.raises(BadInputError, match=r"class_labels.txt:7: a second label line for .*00000001.JPEG \(first on "
                                            r"line 1\)"):
        ImageNetVal(imagenet_folder, metadata=meta)
    (meta / "class_labels.txt").write_text(labels)
    sizes = (meta / "image_sizes.txt").read_text()
    (meta / "image_sizes.txt").write_text(sizes + sizes.splitlines()[0] + "\n")
    with pytest.raises(BadInputError, match=r"image_sizes.txt:7: a second size line"):
        ImageNetVal(imagenet_folder, metadata=meta)
    (meta / "image_sizes.txt").write_text(sizes)
    outside = tmp_path / "elsewhere.JPEG"
    Image.new("RGB", (64, 48)).save(outside)
    for listed in ("../elsewhere.JPEG", str(outside)):
        for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
            path = meta / name
            path.write_text(path.read_text().replace(ids[0], listed) if listed not in path.read_text() else
                            path.read_text())
        with pytest.raises(BadInputError, match=f"{listed} is outside {imagenet_folder}"):
            ImageNetVal(imagenet_folder, metadata=meta)
        _write_wsol(meta, ds.samples)


def test_localize_json_names_the_layout_it_read(imagenet_folder, tmp_path):
    """The folder has both the LOC csv and the devkit XML: the JSON says which one the auto layout read."""
    import json

    from cam_lib.cli import main

    for layout, want in (("auto", "loc"), ("devkit", "devkit")):
        out = tmp_path / f"{layout}.json"
        assert main(["localize", "--data", "imagenet", "--root", str(imagenet_folder), "--model", "alexnet_gap",
                     "--width", "0.125", "--num-classes", "10", "--layout", layout, "--no-progress", "--device", "cpu",
                     "--json", str(out)]) == 0
        assert json.loads(out.read_text())["layout"] == want
