"""Object masks in the layouts users have (issue 22): wsolevaluation's OpenImages30k (``localization.txt`` naming one
PNG per instance and an ignore PNG per image, read as that evaluator's ``get_mask``) and CUB-200-2011's soft
segmentations (the annotators' majority); the masks reach the batches and PxAP, and bad files are named."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from cam_lib.data import build_dataset, collate, wsol_metadata
from cam_lib.data.cub import CUB200
from cam_lib.errors import BadInputError

from test_cub import H, W, write_cub

RAW = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])   # the stored frame: masks compared as written


def _png(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint8)).save(path)


def write_openimages(base: Path, size=(40, 30)) -> Path:
    """A wsolevaluation clone's layout: ``dataset/OpenImages/test/...`` and ``metadata/OpenImages/test/``; image a
    has two instances and an ignore region, image b one instance and no ignore mask."""
    root, meta = base / "dataset" / "OpenImages", base / "metadata" / "OpenImages" / "test"
    w, h = size
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        _png(root / "test" / "c1" / f"{name}.jpg", rng.integers(0, 255, (h, w, 3)))
    m1, m2, ign, m3 = (np.zeros((h, w)) for _ in range(4))
    m1[2:10, 3:12] = 255          # instance 1 of a: x 3..11, y 2..9
    m2[15:25, 20:36] = 255        # instance 2 of a: x 20..35, y 15..24
    ign[0:30, 0:20] = 255         # ignore box of a, overlapping instance 1 (the objects win)
    m3[5:6, 5:6] = 1              # instance of b: one pixel of value 1 (> 0 counts, as wsolevaluation's > 0.5)
    for rel, values in (("test/c1/a_m1.png", m1), ("test/c1/a_m2.png", m2), ("test/ignore/a.png", ign),
                        ("test/c1/b_m1.png", m3)):
        _png(root / rel, values)
    meta.mkdir(parents=True)
    (meta / "image_ids.txt").write_text("test/c1/a.jpg\ntest/c1/b.jpg\n")
    (meta / "class_labels.txt").write_text("test/c1/a.jpg,0\ntest/c1/b.jpg,1\n")
    (meta / "image_sizes.txt").write_text(f"test/c1/a.jpg,{w},{h}\ntest/c1/b.jpg,{w},{h}\n")
    (meta / "localization.txt").write_text("test/c1/a.jpg,test/c1/a_m1.png,test/ignore/a.png\n"
                                           "test/c1/a.jpg,test/c1/a_m2.png,\n"
                                           "test/c1/b.jpg,test/c1/b_m1.png,\n")
    return root


def test_openimages_masks_are_wsolevaluations_get_mask(tmp_path):
    root = write_openimages(tmp_path)
    assert wsol_metadata(root, "OpenImages", "test") == tmp_path / "metadata" / "OpenImages" / "test"
    ds = build_dataset("openimages", root, transform=RAW)
    assert len(ds) == 2 and ds.has_masks and ds.targets == [0, 1]
    _, a = ds[0]
    mask = a["mask"].numpy()
    fg = np.zeros((30, 40), bool)
    fg[2:10, 3:12] = fg[15:25, 20:36] = True
    ignore = np.zeros((30, 40), bool)
    ignore[:, :20] = True
    want = np.where(fg, 1, np.where(ignore, 255, 0))
    np.testing.assert_array_equal(mask, want)
    assert a["boxes"].tolist() == [[3, 2, 11, 9], [20, 15, 35, 24]]   # each instance's tight inclusive box
    _, b = ds[1]
    assert b["mask"].sum() == 1 and not (b["mask"] == 255).any() and b["boxes"].tolist() == [[5, 5, 5, 5]]
    batch = collate([ds[0], ds[1]])
    assert batch.masks is not None and batch.masks.shape == (2, 30, 40)


def test_openimages_masks_follow_the_evaluated_frame(tmp_path):
    ds = build_dataset("openimages", write_openimages(tmp_path))   # the default 224 resize
    image, target = ds[0]
    assert image.shape == (3, 224, 224) and target["mask"].shape == (224, 224)
    assert set(np.unique(target["mask"].numpy())) == {0, 1, 255}


def test_openimages_bad_files_are_named(tmp_path):
    root = write_openimages(tmp_path)
    meta = tmp_path / "metadata" / "OpenImages" / "test"
    with pytest.raises(BadInputError, match="no wsolevaluation metadata for OpenImages val") as e:
        build_dataset("openimages", root, split="val")
    assert e.value.param == "metadata"
    loc = meta / "localization.txt"
    good = loc.read_text()
    loc.write_text(good.replace("test/c1/a_m2.png,", "test/c1/a_m2.png,test/ignore/a.png"))
    with pytest.raises(BadInputError, match=r"localization.txt:2: a second ignore mask"):
        build_dataset("openimages", root)
    loc.write_text(good + "test/c1/b.jpg,1,2,3,4\n")
    with pytest.raises(BadInputError, match=r"localization.txt:4: mixes box lines"):
        build_dataset("openimages", root)
    loc.write_text(good)
    _png(root / "test/c1/b_m1.png", np.zeros((30, 40)))
    with pytest.raises(BadInputError, match=r"b_m1.png: instance mask without any object pixel"):
        build_dataset("openimages", root)[1]
    (root / "test/c1/b_m1.png").unlink()
    with pytest.raises(BadInputError, match=r"b_m1.png: mask file not found"):
        build_dataset("openimages", root)[1]


def test_cub_segmentations_are_the_annotators_majority(tmp_path):
    root = write_cub(tmp_path)
    assert not CUB200(root, "all").has_masks                       # no segmentations folder: no masks
    seg = tmp_path / "segmentations"
    ds = CUB200(root, "all", transform=RAW)
    for path, _, _ in ds.samples:
        values = np.zeros((H, W))
        values[10:20, 10:30] = 153        # 3 of 5 annotators: object
        values[30:40, 10:30] = 102        # 2 of 5: not
        _png(seg / path.relative_to(root / "images").with_suffix(".png"), values)
    ds = CUB200(root, "all", transform=RAW)
    assert ds.has_masks and ds.segmentations == seg
    _, target = ds[0]
    assert int(target["mask"].sum()) == 10 * 20 and target["mask"][15, 15] == 1 and target["mask"][35, 15] == 0
    assert target["boxes"].tolist() == [[10, 20, 39, 59]]          # the boxes stay bounding_boxes.txt's
    assert not CUB200(root, "all", segmentations=None).has_masks
    assert not CUB200(root, "all", crop_to_box=True).has_masks
    with pytest.raises(BadInputError, match="parameter segmentations='nowhere'") as e:
        CUB200(root, "all", segmentations="nowhere")
    assert e.value.param == "segmentations"
    first = seg / ds.samples[0][0].relative_to(root / "images").with_suffix(".png")
    first.unlink()
    with pytest.raises(BadInputError, match=f"{first.name}: mask file not found"):
        CUB200(root, "all")[0]


def test_localize_measures_pxap_on_openimages(tmp_path):
    from cam_lib.localize import LocalizeConfig, localize
    from cam_lib.models import build_model

    root = write_openimages(tmp_path)
    net = build_model("alexnet_gap", num_classes=2, width=0.125).eval()
    run = localize(LocalizeConfig(data="openimages", model="alexnet_gap", root=root, device="cpu", progress=False,
                                  metadata=tmp_path / "metadata" / "OpenImages" / "test"), net=net)
    got = run.evaluation.to_json()
    assert got["n"] == 2 and 0 <= got["pxap"] <= 1


def test_the_embedded_masks_exported_in_the_openimages_layout_read_back_the_same(tmp_path):
    """Issue 22: the embedded benchmark's exact masks in wsolevaluation's OpenImages layout (metadata + a mask and
    an ignore PNG per image): read as OpenImages30k, every image gives back its mask and label."""
    from cam_lib.data.synthetic import build
    from cam_lib.data.wsol import export_wsol

    root = build("smoke", tmp_path / "syn", workers=1) / "objects_test"
    ours = build_dataset("imagenet", root, transform=RAW)
    meta = export_wsol(ours, tmp_path / "wsol")
    assert (meta / "localization.txt").read_text().splitlines()[0].endswith(".png") and ours.has_masks
    theirs = build_dataset("openimages", root, metadata=meta, mask_root=tmp_path / "wsol", transform=RAW)
    assert len(theirs) == len(ours) and theirs.targets == ours.targets
    for i in range(len(ours)):
        np.testing.assert_array_equal(theirs[i][1]["mask"].numpy(), ours[i][1]["mask"].numpy())
    from conftest import write_imagenet

    write_imagenet(tmp_path / "plain")
    with pytest.raises(BadInputError, match="has no object masks"):
        export_wsol(build_dataset("imagenet", tmp_path / "plain"), tmp_path / "x")
