"""Table 4/5 machinery: the three feature kinds, the on-disk cache, the cross-validated linear SVM, and the CUB
protocol end to end on the embedded birds."""

import numpy as np
import pytest
import torch

from cam_lib.data import CUB200
from cam_lib.data.common import eval_transform
from cam_lib.data.synthetic import build
from cam_lib.errors import BadInputError
from cam_lib.features import _to_stored_frame, cub_protocol, extract_features, svm_accuracy
from cam_lib.models import CAMNet, build_model


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    return build("smoke", tmp_path_factory.mktemp("syn"), workers=1) / "birds"


def test_feature_kinds_shapes_and_meaning():
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        gap_net = build_model("googlenet_gap", num_classes=5, width=0.125).eval()
        f = gap_net.feature(x, "gap")
        assert f.shape == (2, 128)
        torch.testing.assert_close(gap_net.head.fc(f), gap_net(x))       # the feature feeds the classifier
        assert build_model("googlenet", width=0.125).eval().feature(x, "avepool").shape == (2, 128)
        alex = build_model("alexnet", num_classes=5, width=0.125).eval()
        fc7 = alex.feature(x, "fc7")
        assert fc7.shape == (2, 512) and bool((fc7 >= 0).all())
        torch.testing.assert_close(alex.head.classifier[6](fc7), alex(x))
    with pytest.raises(BadInputError, match="fc7"):
        gap_net.feature(x, "fc7")
    with pytest.raises(BadInputError, match="FC layers"):
        alex.feature(x, "gap")
    with pytest.raises(BadInputError, match="kind"):
        gap_net.feature(x, "fc6")


def test_features_are_cached_on_disk(birds, tmp_path, monkeypatch):
    ds = CUB200(birds, "test", transform=eval_transform("resize", 64))
    net = build_model("vgg16_gap", num_classes=14, width=0.125)
    a, ya = extract_features(net, ds, "gap", cache_dir=tmp_path, cache_key="birds-test")
    assert a.shape == (len(ds), 128) and list(ya) == list(ds.targets)
    monkeypatch.setattr(CAMNet, "feature", lambda *a, **k: pytest.fail("extracted again"))
    b, yb = extract_features(net, ds, "gap", cache_dir=tmp_path, cache_key="birds-test")
    assert np.array_equal(a, b) and np.array_equal(ya, yb) and len(list(tmp_path.glob("*.npz"))) == 1


def test_svm_chooses_c_on_train_only_and_scores_test():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16)) * 5
    y = np.repeat(np.arange(4), 30)
    x = centers[y] + rng.normal(size=(120, 16))
    out = svm_accuracy(x[::2], y[::2], x[1::2], y[1::2], cs=(0.01, 1.0))
    assert out["accuracy"] == 1.0 and out["C"] in (0.01, 1.0)
    shuffled = svm_accuracy(x[::2], rng.permutation(y[::2]), x[1::2], y[1::2])
    assert shuffled["accuracy"] < 0.6     # labels carry no signal: near chance
    attrs = (x[:, :3] > 0).astype(int)
    ml = svm_accuracy(x[::2], attrs[::2], x[1::2], attrs[1::2])
    assert ml["mean_ap"] > 0.9


def test_boxes_map_back_to_the_stored_frame():
    boxes = torch.tensor([[0, 0, 223, 223], [0, 0, 111, 55]])
    out = _to_stored_frame(boxes, torch.tensor([[448, 224], [448, 224]]), 224)
    assert out.tolist() == [[0, 0, 447, 223], [0, 0, 223, 55]]


def test_cub_protocol_end_to_end(birds, tmp_path):
    net = build_model("googlenet_gap", num_classes=14, width=0.125)

    def make(split, crop):
        return CUB200(birds, split, transform=eval_transform("resize", 64), crop_to_box=crop)

    out = cub_protocol(net, make, cache_dir=tmp_path, cs=(0.1, 1.0))
    assert set(out) == {"cam_loc_acc", "full", "cam_crop", "gt_box"}
    assert all(0 <= v <= 1 for v in out.values())
    assert len(list(tmp_path.glob("*.npz"))) == 6


def test_transfer_protocol_averages_folds(birds, tmp_path):
    from cam_lib.data import build_dataset
    from cam_lib.features import transfer_protocol

    things = birds.parent / "transfer" / "things"
    net = build_model("nin", num_classes=3, width=0.125)
    calls = []

    def make(split, fold):
        calls.append((split, fold))
        return build_dataset("folder", things, split=split, transform=eval_transform("resize", 64))

    out = transfer_protocol(net, make, n_folds=2, cache_dir=tmp_path, cache_key="things", cs=(1.0,))
    assert calls == [("train", 0), ("test", 0), ("train", 1), ("test", 1)]
    assert len(out["folds"]) == 2 and out["score"] == pytest.approx(np.mean(out["folds"])) and 0 <= out["score"] <= 1
