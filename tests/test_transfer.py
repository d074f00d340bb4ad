"""The Table 5 transfer datasets on small generated folders in each release's exact layout: split counts,
labels, disjoint splits covering what the protocol says, deterministic random folds, and bad inputs named."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from cam_lib.data.common import Skipped, collate
from cam_lib.data.transfer import (TRANSFER_DATASETS, SUN397, Caltech101, Caltech256, Event8, MITIndoor67, Scene15,
                                   SplitFolder, StanfordAction40, SUNAttribute, build_transfer)
from cam_lib.errors import BadInputError

RNG = np.random.default_rng(0)


def write_image(path: Path, size=(20, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def write_folders(root: Path, counts: dict[str, int], name=lambda c, i: f"image_{i + 1:04d}.jpg") -> Path:
    for cls, n in counts.items():
        for i in range(n):
            write_image(root / cls / name(cls, i))
    return root


def paths(ds) -> list[Path]:
    return [ds.path(i) for i in range(len(ds))]


def quiet(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


# ---------------------------------------------------------------------------------------------------- SUN397

SUN_CLASSES = ["/a/abbey", "/a/apartment_building/outdoor", "/b/beach"]


@pytest.fixture
def sun397(tmp_path) -> Path:
    root = tmp_path / "SUN397"
    root.mkdir()
    (root / "ClassName.txt").write_text("".join(c + "\n" for c in SUN_CLASSES))
    files = {c: [f"{c}/sun_{c.strip('/').replace('/', '')[:6]}{i:02d}.jpg" for i in range(4)] for c in SUN_CLASSES}
    for c in SUN_CLASSES:
        for f in files[c]:
            write_image(root / f.lstrip("/"))
    (root / "Partitions").mkdir()
    for fold, (tr, te) in enumerate([((0, 1), (2, 3)), ((2, 3), (0, 1))], 1):
        (root / "Partitions" / f"Training_{fold:02d}.txt").write_text(
            "".join(files[c][i] + "\n" for c in SUN_CLASSES for i in tr))
        (root / "Partitions" / f"Testing_{fold:02d}.txt").write_text(
            "".join(files[c][i] + "\n" for c in SUN_CLASSES for i in te))
    return tmp_path


def test_sun397_official_partitions(sun397):
    train, test = SUN397(sun397, "train"), SUN397(sun397 / "SUN397", "test")
    assert len(train) == len(test) == 6 and SUN397.n_folds == 10
    assert train.class_names == ["abbey", "apartment_building/outdoor", "beach"] and train.num_classes == 3
    assert train.targets.tolist() == [0, 0, 1, 1, 2, 2] and test.targets.tolist() == [0, 0, 1, 1, 2, 2]
    assert not set(paths(train)) & set(paths(test))
    assert train.path(2).relative_to(sun397 / "SUN397").as_posix().startswith("a/apartment_building/outdoor/")
    fold2 = SUN397(sun397, "train", fold=1)
    assert set(paths(fold2)) == set(paths(test))           # Training_02 = Testing_01 in the fixture
    image, target = train[3]
    assert image.shape == (3, 224, 224) and target["label"] == 1 and target["boxes"].shape == (0, 4)


def test_sun397_bad_inputs(sun397):
    with pytest.raises(BadInputError, match=r"Training_03.txt: SUN397 partition file \(train\) not found"):
        SUN397(sun397, fold=2)
    with pytest.raises(BadInputError, match=r"parameter fold=10: must be an int in 0\.\.9"):
        SUN397(sun397, fold=10)
    part = sun397 / "SUN397" / "Partitions" / "Training_01.txt"
    lines = part.read_text().splitlines()
    part.write_text("\n".join(lines + [lines[0], "/z/zoo/sun_x.jpg", "/b/beach/sun_missing.jpg"]) + "\n")
    with pytest.raises(BadInputError, match=r"Training_01.txt:7: duplicate entry a/abbey/\S+ \(first at .*:1\)"):
        SUN397(sun397)
    with pytest.warns(UserWarning, match=r"skipped 3 bad entries \(first: "):
        ds = SUN397(sun397, skip_bad=True)
    assert len(ds) == 6 and [s.reason.split(": ", 1)[1][:20] for s in ds.skipped] == [
        "duplicate entry a/ab", "class 'z/zoo' of z/z", "image " + str(sun397)[:14]]
    assert ds.skipped[2].reason.endswith("sun_missing.jpg not found") and "Training_01.txt:9" in ds.skipped[2].reason
    test = sun397 / "SUN397" / "Partitions" / "Testing_01.txt"
    test.write_text(test.read_text() + lines[0] + "\n")
    with pytest.raises(BadInputError, match=r"Testing_01.txt:7: a/abbey/\S+ is listed in both splits \(also at "
                                            r".*Training_01.txt:1\)"):
        SUN397(sun397, "test")
    (sun397 / "SUN397" / "ClassName.txt").unlink()
    with pytest.raises(BadInputError, match=r"ClassName.txt: SUN397 class list not found"):
        SUN397(sun397)


# ---------------------------------------------------------------------------------------------- MIT Indoor67

@pytest.fixture
def mit67(tmp_path) -> Path:
    classes = ["airport_inside", "bakery", "kitchen"]
    write_folders(tmp_path / "Images", {c: 5 for c in classes}, name=lambda c, i: f"{c}_{i:04d}.jpg")
    (tmp_path / "TrainImages.txt").write_text("".join(f"{c}/{c}_{i:04d}.jpg\n" for c in classes for i in range(4)))
    (tmp_path / "TestImages.txt").write_text("".join(f"{c}/{c}_0004.jpg\n" for c in classes))
    return tmp_path


def test_mit67_official_lists(mit67):
    train, test = MITIndoor67(mit67, "train"), MITIndoor67(mit67, "test")
    assert (len(train), len(test)) == (12, 3) and train.class_names == ["airport_inside", "bakery", "kitchen"]
    assert test.targets.tolist() == [0, 1, 2] and np.bincount(train.targets).tolist() == [4, 4, 4]
    assert not set(paths(train)) & set(paths(test))
    assert len(set(paths(train)) | set(paths(test))) == 15      # the lists cover every image of the fixture


def test_mit67_bad_inputs(mit67):
    (mit67 / "TestImages.txt").write_text("bakery/bakery_0004.jpg\nlibrary/library_0001.jpg\n")
    with pytest.raises(BadInputError, match=r"TestImages.txt:2: class 'library' of library/library_0001.jpg is not "
                                            r"in the class folders of"):
        MITIndoor67(mit67, "test")
    (mit67 / "TestImages.txt").unlink()
    with pytest.raises(BadInputError, match=r"TestImages.txt: MIT Indoor67 list \(test\) not found"):
        MITIndoor67(mit67, "train")


# ------------------------------------------------------------------------------------------- random splits

def test_scene15_random_split_is_deterministic_and_covers_the_rest(tmp_path):
    root = write_folders(tmp_path / "15-Scene", {"MITcoast": 7, "bedroom": 6, "store": 9})
    train, test = Scene15(root, "train", n_train=4), Scene15(root, "test", n_train=4)
    assert np.bincount(train.targets).tolist() == [4, 4, 4] and np.bincount(test.targets).tolist() == [3, 2, 5]
    assert train.class_names == ["MITcoast", "bedroom", "store"] and Scene15.n_folds == 10
    assert not set(paths(train)) & set(paths(test)) and len(set(paths(train)) | set(paths(test))) == 22
    assert train.n_unused == 0
    assert paths(Scene15(root, "train", n_train=4)) == paths(train)              # same seed and fold
    assert paths(Scene15(root, "train", n_train=4, fold=1)) != paths(train)      # another fold
    assert paths(Scene15(root, "train", n_train=4, seed=1)) != paths(train)      # another seed
    # a class's split does not depend on the other classes
    (root / "store").rename(tmp_path / "store_moved")
    assert paths(Scene15(root, "train", n_train=4)) == paths(train)[:8]
    with pytest.raises(BadInputError, match=r"bedroom: 6 images, the protocol takes 6 for training"):
        Scene15(root, n_train=6)


def test_non_image_files_are_recorded_not_dropped(tmp_path):
    root = write_folders(tmp_path / "scenes", {"a": 4, "b": 4})
    (root / "a" / "notes.txt").write_text("x")
    with pytest.warns(UserWarning, match=r"skipped 1 bad entries \(first: "):
        ds = Scene15(root, n_train=2)
    assert len(ds) == 4 and ds.skipped[0].path.endswith("notes.txt") and "not an image file" in ds.skipped[0].reason
    (root / "c").mkdir()
    with pytest.raises(BadInputError, match=r"scenes/c: class folder has no image files"):
        Scene15(root, n_train=2)


def test_caltech101_background_and_test_cap(tmp_path):
    counts = {"BACKGROUND_Google": 8, "Faces": 9, "accordion": 6}
    write_folders(tmp_path / "101_ObjectCategories", counts)
    train = Caltech101(tmp_path, "train", n_train=3, n_test=4)
    test = Caltech101(tmp_path / "101_ObjectCategories", "test", n_train=3, n_test=4)
    assert train.class_names == ["BACKGROUND_Google", "Faces", "accordion"]         # 101 + background by default
    assert np.bincount(train.targets).tolist() == [3, 3, 3] and np.bincount(test.targets).tolist() == [4, 4, 3]
    assert train.n_unused == 1 + 2 + 0                                            # beyond 3 + 4 per class
    assert not set(paths(train)) & set(paths(test))
    no_bg = Caltech101(tmp_path, "train", n_train=3, n_test=4, include_background=False)
    assert no_bg.class_names == ["Faces", "accordion"] and no_bg.targets.tolist() == [0, 0, 0, 1, 1, 1]
    assert {p for p in paths(no_bg)} == {p for p in paths(train) if "BACKGROUND" not in str(p)}
    assert Caltech101.n_folds == 5 and "BACKGROUND_Google" in Caltech101.protocol
    assert paths(Caltech101(tmp_path, "test", fold=3, n_train=3, n_test=4)) != paths(test)


def test_caltech256_clutter_and_names(tmp_path):
    counts = {"001.ak47": 5, "002.american-flag": 4, "257.clutter": 4}
    write_folders(tmp_path / "256_ObjectCategories", counts, name=lambda c, i: f"{c[:3]}_{i + 1:04d}.jpg")
    train, test = Caltech256(tmp_path, "train", n_train=2), Caltech256(tmp_path, "test", n_train=2)
    assert train.class_names == ["ak47", "american-flag"] and train.class_keys == ["001.ak47", "002.american-flag"]
    assert np.bincount(test.targets).tolist() == [3, 2] and len(train) == 4            # the rest is test
    assert not any(p.parent.name == "257.clutter" for p in paths(train) + paths(test))
    with_clutter = Caltech256(tmp_path, "test", n_train=2, include_clutter=True)
    assert with_clutter.num_classes == 3 and np.bincount(with_clutter.targets).tolist() == [3, 2, 2]


def test_event8_70_60_protocol(tmp_path):
    counts = {"RockClimbing": 7, "Rowing": 6, "badminton": 8}
    write_folders(tmp_path / "event_img", counts, name=lambda c, i: f"Easy_Nikon_{c}_{i}.jpg")
    train, test = Event8(tmp_path, "train", n_train=3, n_test=2), Event8(tmp_path, "test", n_train=3, n_test=2)
    assert np.bincount(train.targets).tolist() == [3, 3, 3] and np.bincount(test.targets).tolist() == [2, 2, 2]
    assert train.n_unused == 2 + 1 + 3 and not set(paths(train)) & set(paths(test))
    assert (Event8.n_folds, Event8(tmp_path, n_train=3, n_test=2).n_train) == (5, 3)
    with pytest.raises(BadInputError, match="n_train must be an int >= 1"):
        Event8(tmp_path, n_train=0)
    with pytest.raises(BadInputError, match="parameter fold=-1: must be an int in >= 0"):
        Event8(tmp_path, fold=-1)


# -------------------------------------------------------------------------------------------- Action40

@pytest.fixture
def action40(tmp_path) -> Path:
    root = tmp_path / "Stanford40"
    actions = ["applauding", "blowing_bubbles"]
    (root / "ImageSplits").mkdir(parents=True)
    (root / "ImageSplits" / "actions.txt").write_text("action_name\tnumber_of_images\napplauding\t5\n"
                                                      "blowing_bubbles\t5\n")
    for a in actions:
        names = [f"{a}_{i:03d}.jpg" for i in range(1, 6)]
        for n in names:
            write_image(root / "JPEGImages" / n, size=(40, 30))
            (root / "XMLAnnotations").mkdir(exist_ok=True)
            (root / "XMLAnnotations" / n.replace(".jpg", ".xml")).write_text(
                f"<annotation><filename>{n}</filename><object><name>{a}</name><bndbox><xmax>29</xmax><xmin>4"
                f"</xmin><ymax>30</ymax><ymin>2</ymin></bndbox></object></annotation>")
        (root / "ImageSplits" / f"{a}_train.txt").write_text("\n".join(names[:3]) + "\n")
        (root / "ImageSplits" / f"{a}_test.txt").write_text("\n".join(names[3:]) + "\n")
    return tmp_path


def test_action40_official_split_and_boxes(action40):
    train, test = StanfordAction40(action40, "train"), StanfordAction40(action40 / "Stanford40", "test")
    assert (len(train), len(test)) == (6, 4) and train.class_names == ["applauding", "blowing bubbles"]
    assert train.targets.tolist() == [0, 0, 0, 1, 1, 1] and not set(paths(train)) & set(paths(test))
    boxed = StanfordAction40(action40, "train", load_boxes=True)
    assert boxed.samples[0][2].tolist() == [[4, 2, 29, 30]]
    _, target = boxed[0]        # ymax 30 is one past the 30-high image: clamped to 29, then scaled
    torch.testing.assert_close(target["boxes"], torch.tensor([[4 * 224 / 40, 2 * 224 / 30, 30 * 224 / 40 - 1,
                                                               223]], dtype=torch.float64))
    assert collate([boxed[0], train[1]]).gt_valid.tolist() == [[True], [False]]


def test_action40_bad_inputs(action40):
    splits = action40 / "Stanford40" / "ImageSplits"
    (splits / "blowing_bubbles_test.txt").unlink()
    with pytest.raises(BadInputError, match=r"blowing_bubbles_test.txt: blowing_bubbles test list not found"):
        StanfordAction40(action40, "train")
    (splits / "blowing_bubbles_test.txt").write_text("blowing_bubbles_004.jpg\nblowing_bubbles_099.jpg\n")
    with pytest.raises(BadInputError, match=r"blowing_bubbles_test.txt:2: image .*blowing_bubbles_099.jpg not found"):
        StanfordAction40(action40, "test")
    (action40 / "Stanford40" / "XMLAnnotations" / "applauding_002.xml").unlink()
    with pytest.warns(UserWarning, match=r"skipped 1 bad entries \(first: "):
        ds = StanfordAction40(action40, "train", load_boxes=True, skip_bad=True)
    assert len(ds) == 5 and "applauding_002.xml: annotation file not found" in ds.skipped[0].reason


# -------------------------------------------------------------------------------------------- SUN Attribute

def cell(strings) -> np.ndarray:
    out = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        out[i, 0] = s
    return out


@pytest.fixture
def sun_attribute(tmp_path):
    names = [f"{scene}/sun_{scene[-3:]}{i:02d}.jpg" for scene in ("a/abbey", "b/beach", "c/canyon") for i in range(10)]
    for n in names:
        write_image(tmp_path / "images" / n)
    votes = RNG.integers(0, 4, (len(names), 102)) / 3.0           # 3 annotators: 0, 1/3, 2/3, 1
    db = tmp_path / "SUNAttributeDB"
    db.mkdir()
    savemat(db / "images.mat", {"images": cell(names)})
    savemat(db / "attributes.mat", {"attributes": cell([f"attribute {k}" for k in range(102)])})
    savemat(db / "attributeLabels_continuous.mat", {"labels_cv": votes})
    return tmp_path, names, votes


def test_sun_attribute_multilabel_targets_and_split(sun_attribute):
    root, names, votes = sun_attribute
    train, test = SUNAttribute(root, "train"), SUNAttribute(root, "test")
    assert (len(train), len(test)) == (27, 3) and train.num_classes == 102 and train.class_names[5] == "attribute 5"
    assert {p.parent.name for p in paths(test)} == {"abbey", "beach", "canyon"}     # 10% of each scene category
    assert sorted(train.rows.tolist() + test.rows.tolist()) == list(range(30))
    assert train.targets.shape == (27, 102) and set(np.unique(train.targets)) == {0, 1}
    expected = (votes[train.rows] >= 0.6).astype(int)                           # >= 2 of 3 votes
    assert np.array_equal(train.targets, expected)
    assert np.array_equal(train.ambiguous, np.isclose(votes[train.rows], 1 / 3))
    image, target = train[0]
    assert target["label"] == -1 and torch.equal(target["attributes"], torch.tensor(expected[0], dtype=torch.float32))
    assert train.path(0) == root / "images" / names[train.rows[0]]
    other = SUNAttribute(root, "test", fold=1)
    assert set(paths(other)) != set(paths(test)) and set(paths(SUNAttribute(root, "test"))) == set(paths(test))


def test_sun_attribute_bad_files(sun_attribute):
    root, names, votes = sun_attribute
    db = root / "SUNAttributeDB"
    savemat(db / "attributeLabels_continuous.mat", {"labels_cv": votes[:29]})
    with pytest.raises(BadInputError, match=r"attributeLabels_continuous.mat: labels_cv is 29x102, expected 30x102"):
        SUNAttribute(root)
    savemat(db / "attributeLabels_continuous.mat", {"labels": votes})
    with pytest.raises(BadInputError, match=r"attributeLabels_continuous.mat: no variable 'labels_cv'"):
        SUNAttribute(root)
    (db / "attributeLabels_continuous.mat").write_text("not a mat file")
    with pytest.raises(BadInputError, match=r"attributeLabels_continuous.mat: cannot read MATLAB file"):
        SUNAttribute(root)
    savemat(db / "attributeLabels_continuous.mat", {"labels_cv": votes})
    missing = SUNAttribute(root, "train").path(4)
    missing.unlink()
    with pytest.raises(BadInputError, match=r"images.mat: images\{\d+\}: image .* not found"):
        SUNAttribute(root, "train")
    with pytest.warns(UserWarning, match=r"skipped 1 bad entries \(first: "):
        ds = SUNAttribute(root, "train", skip_bad=True)
    assert len(ds) == 26 and ds.skipped[0].path == str(missing) and ds.targets.shape == (26, 102)


# -------------------------------------------------------------------------------------------- SplitFolder

def test_split_folder(tmp_path):
    write_folders(tmp_path / "train", {"cat": 3, "dog": 2})
    write_folders(tmp_path / "test", {"cat": 1, "dog": 2})
    train, test = SplitFolder(tmp_path, "train"), build_transfer("folder", tmp_path, "test")
    assert (len(train), len(test)) == (5, 3) and train.class_names == test.class_names == ["cat", "dog"]
    assert train.targets.tolist() == [0, 0, 0, 1, 1] and test.targets.tolist() == [0, 1, 1]
    write_folders(tmp_path / "test", {"emu": 1})
    with pytest.raises(BadInputError, match=r"train and .*test have different class folders \(only in train: \[\]; "
                                            r"only in test: \['emu'\]\)"):
        SplitFolder(tmp_path, "train")
    with pytest.raises(BadInputError, match=r"val: split folder not found"):
        SplitFolder(tmp_path, "val")


def test_corrupt_image_is_named_or_skipped(tmp_path):
    root = write_folders(tmp_path / "train", {"cat": 2, "dog": 2}).parent
    bad = root / "train" / "dog" / "image_0001.jpg"
    bad.write_text("not a jpeg")
    with pytest.raises(BadInputError, match="image_0001.jpg: cannot decode"):
        SplitFolder(root)[2]
    out = SplitFolder(root, skip_bad=True)[2]
    assert isinstance(out, Skipped) and out.index == 2 and out.path == str(bad)


def test_registry_and_unknown_names(tmp_path):
    assert set(TRANSFER_DATASETS) == {"sun397", "mit67", "scene15", "sun_attribute", "caltech101", "caltech256",
                                      "action40", "event8", "folder"}
    assert all(cls.protocol for cls in TRANSFER_DATASETS.values())
    write_folders(tmp_path / "event_img", {"polo": 4, "sailing": 4})
    ds = build_transfer("Event8", tmp_path, "test", n_train=2, n_test=1, seed=3)
    assert isinstance(ds, Event8) and len(ds) == 2 and ds.seed == 3
    with pytest.raises(BadInputError, match="parameter name='voc': unknown transfer dataset"):
        build_transfer("voc", tmp_path)
    with pytest.raises(BadInputError, match="parameter split='val': must be one of"):
        quiet(lambda: Event8(tmp_path, "val"))
