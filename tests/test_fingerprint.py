"""What a cached measurement is keyed by: the images it measured (:func:`cam_lib.data.fingerprint`). Another half of
a validation folder, another test folder, an edited box or a rewritten image is measured again, never served from
the old images' cache; a network trained on other images is not reused by the series, nor resumed."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Subset

import cam_lib.series.artifacts as artifacts
import cam_lib.series.setups as setups
from cam_lib import series
from cam_lib.data import build_dataset, fingerprint
from cam_lib.errors import BadInputError
from cam_lib.models import build_model
from cam_lib.train import save_checkpoint, trained_on
from conftest import write_imagenet


def _val(root):
    return build_dataset("imagenet", root, split="val")


def test_the_fingerprint_changes_with_what_is_measured_and_not_with_where_it_lies(tmp_path):
    root = tmp_path / "a"
    write_imagenet(root, n=6)
    base = fingerprint(_val(root))
    assert base == fingerprint(_val(root)) and len(base) == 16
    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved)
    assert fingerprint(_val(moved)) == base   # the same images and annotations in another folder

    edited = tmp_path / "box"
    shutil.copytree(root, edited)
    csv = edited / "LOC_val_solution.csv"
    csv.write_text(csv.read_text().replace(" 2 3 ", " 4 3 ", 1))   # one box of the first image moves
    assert fingerprint(_val(edited)) != base

    rewritten = tmp_path / "pixels"
    shutil.copytree(root, rewritten)
    Image.new("RGB", (64, 48), (9, 9, 9)).save(rewritten / "val" / "ILSVRC2012_val_00000003.JPEG")
    assert fingerprint(_val(rewritten)) != base   # the same name, box and label, another file

    ds = _val(root)
    assert fingerprint(Subset(ds, [0, 1, 2])) != fingerprint(Subset(ds, [3, 4, 5]))
    assert fingerprint(Subset(ds, [0, 1, 2])) == fingerprint(Subset(_val(moved), [0, 1, 2]))
    assert fingerprint(ConcatDataset([ds, ds])) != base


def test_the_fingerprint_sees_the_object_masks(tmp_path):
    root = tmp_path / "a"
    write_imagenet(root, n=2)
    (root / "masks").mkdir()
    for i in (1, 2):
        Image.fromarray(np.zeros((48, 64), np.uint8)).save(root / "masks" / f"ILSVRC2012_val_{i:08d}.png")
    before = fingerprint(_val(root))
    mask = np.zeros((48, 64), np.uint8)
    mask[5:20, 5:30] = 1
    Image.fromarray(mask).save(root / "masks" / "ILSVRC2012_val_00000002.png")
    assert fingerprint(_val(root)) != before


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fp")
    s = series.setup("smoke", data_root=tmp / "data", models=["alexnet_gap"], checkpoints=tmp / "ck",
                     results=tmp / "res", device="cpu")
    torch.manual_seed(0)
    net = build_model("alexnet_gap", num_classes=s.num_classes, width=s.width_of("alexnet_gap"))
    path = s.checkpoints / "alexnet_gap" / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict()}, path)
    return s


def test_an_evaluation_of_other_images_is_never_served_from_the_cache(untrained, tmp_path):
    """The cache of one setup's val split is not the other half's, nor another test folder's: each is measured on
    its own images (before, the key held the split's name only and the first run's numbers came back)."""
    s = dataclasses.replace(untrained, checkpoints=tmp_path / "ck")
    shutil.copytree(untrained.checkpoints, s.checkpoints)
    whole = artifacts.evaluation(s, "alexnet_gap", "val")
    n = len(setups.dataset(s, "val"))
    assert whole.n == n
    first_half = artifacts.evaluation(dataclasses.replace(s, split_val=True), "alexnet_gap", "val")
    second_half = artifacts.evaluation(dataclasses.replace(s, split_val=True), "alexnet_gap", "test")
    assert first_half.n == n // 2 and second_half.n == n - n // 2
    assert artifacts.evaluation(s, "alexnet_gap", "val").n == n   # and the whole folder's cache still serves it
    other = tmp_path / "other-test"
    write_imagenet(other, n=4, size=(64, 64))
    assert artifacts.evaluation(dataclasses.replace(s, test_root=other), "alexnet_gap", "test").n == 4
    assert artifacts.evaluation(s, "alexnet_gap", "test").n == len(setups.dataset(s, "test"))


def test_a_network_trained_on_other_images_is_refused_by_the_series_and_by_resume(untrained, tmp_path):
    s = dataclasses.replace(untrained, checkpoints=tmp_path / "ck")
    folder = s.checkpoints / "alexnet_gap"
    folder.mkdir(parents=True)
    theirs = artifacts.train_images(s)
    assert theirs == fingerprint(build_dataset("imagenet", s.train_root, split="train"))
    save_checkpoint(folder / "model.pt", model={}, train_images=theirs)
    assert trained_on(folder / "model.pt") == theirs
    assert artifacts.ensure_trained(s, "alexnet_gap") == folder / "model.pt"   # these images: reused
    save_checkpoint(folder / "model.pt", model={}, train_images="0" * 16)
    with pytest.raises(BadInputError, match=r"alexnet_gap was trained on other images than this setup's training "
                                            r"split .* \(fingerprint 0{16}, the split's is [0-9a-f]{16}\); delete"):
        artifacts.ensure_trained(s, "alexnet_gap")
    save_checkpoint(folder / "model.pt", model={})   # written before the record: not known, reused
    assert trained_on(folder / "model.pt") is None
    assert artifacts.ensure_trained(s, "alexnet_gap") == folder / "model.pt"


def test_a_run_does_not_resume_on_other_training_images(tmp_path):
    from dataclasses import asdict

    from cam_lib.train import _resume, resolve_recipe

    rec = resolve_recipe("smoke")
    net = build_model("alexnet_gap", num_classes=10, width=0.25)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(ckpt, model=net.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(), epoch=0,
                    seed=0, model_name="alexnet_gap", num_classes=10, width=0.25, recipe=asdict(rec),
                    train_images="a" * 16)
    assert _resume(ckpt, net, opt, sched, "alexnet_gap", "imagenet", 10, 0, 0.25, rec, "a" * 16) == 1
    with pytest.raises(BadInputError, match=r"other training images \(fingerprint a{16}, these are b{16}\)"):
        _resume(ckpt, net, opt, sched, "alexnet_gap", "imagenet", 10, 0, 0.25, rec, "b" * 16)


def test_what_is_learned_on_the_embedded_training_split_follows_its_images(untrained, tmp_path):
    """The fixed boxes and the colour model are keyed by the embedded training split's images: a benchmark rebuilt
    in place (another profile or generator version) chooses them again, in a new cache file."""
    train = tmp_path / "objects"
    shutil.copytree(untrained.train_root, train)
    s = dataclasses.replace(untrained, train_root=train, checkpoints=tmp_path / "ck")
    first = artifacts.baseline_boxes(s)
    artifacts.colour_model(s, 64)
    assert artifacts.baseline_boxes(s) == first and len(list(s.checkpoints.glob("baseline-boxes-*.json"))) == 1
    for xml in sorted((train / "train_bbox").rglob("*.xml"))[::2]:   # the rebuilt split: half of its boxes are gone
        xml.unlink()
    setups._FINGERPRINTS.clear()   # a new process
    artifacts.baseline_boxes(s)
    artifacts.colour_model(s, 64)
    assert len(list(s.checkpoints.glob("baseline-boxes-*.json"))) == 2
    assert len(list(s.checkpoints.glob("colour-model-*.json"))) == 2
