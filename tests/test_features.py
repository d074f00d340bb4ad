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
    per_image = out.pop("per_image")
    assert set(out) == {"cam_loc_acc", "full", "cam_crop", "gt_box"} == set(per_image)
    assert all(0 <= v <= 1 for v in out.values())
    n_test = len(make("test", False))
    for key, value in out.items():   # each score is the mean of its per-image outcomes (for the intervals)
        assert len(per_image[key]) == n_test and np.mean(per_image[key]) == pytest.approx(value)
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
    n_test = len(make("test", 0))
    assert len(out["correct"]) == 2 * n_test and np.mean(out["correct"]) == pytest.approx(out["score"])


# ------------------------------------------------------------------ CAMs from the SVM weights (Sec. 4, Table 4)

def _blobs(seed=0, n=30):
    rng = np.random.default_rng(seed)
    centers = np.abs(rng.normal(size=(3, 8))) * 4
    y = np.repeat(np.arange(3), n)
    return np.abs(centers[y] + rng.normal(size=(3 * n, 8))), y


def test_svm_linear_map_is_the_function_the_svm_applies():
    from sklearn.preprocessing import normalize

    from cam_lib.features import svm_linear_map

    x, y = _blobs()
    out = svm_accuracy(x[::2], y[::2], x[1::2], y[1::2], cs=(0.1, 1.0), return_estimator=True)
    est = out["estimator"]
    weights, bias, labels = svm_linear_map(est)
    assert weights.shape == (3, 8) and list(labels) == [0, 1, 2]
    scores = normalize(x) @ weights.T + bias                     # L2-normalised pooled features, then linear
    np.testing.assert_allclose(scores, est.decision_function(x), rtol=1e-6, atol=1e-9)
    assert np.array_equal(labels[scores.argmax(1)], est.predict(x))
    # the per-image scale (what the Normalizer removes) changes neither the argmax nor the CAM's shape
    assert np.array_equal((normalize(x * 7.0) @ weights.T + bias).argmax(1), scores.argmax(1))
    # two classes: one hyperplane becomes two rows (-w, w) whose argmax is the prediction
    two = y < 2
    est2 = svm_accuracy(x[two][::2], y[two][::2], x[two][1::2], y[two][1::2], return_estimator=True)["estimator"]
    w2, b2, l2 = svm_linear_map(est2)
    assert w2.shape == (2, 8) and np.array_equal(l2[(normalize(x[two]) @ w2.T + b2).argmax(1)], est2.predict(x[two]))
    with pytest.raises(BadInputError, match="estimator"):
        svm_linear_map(object())


def test_svm_cam_box_lands_on_the_channel_the_svm_weights_favour():
    """Hand-made feature maps: channel c is what class c shows (somewhere), channel 3 is clutter. The CAM of a class
    from the SVM's weights on the map must peak, and box, where that class's channel fires."""
    from cam_lib.boxes import boxes_from_maps
    from cam_lib.features import svm_cam_maps, svm_linear_map

    rng = np.random.default_rng(0)
    n, k, h = 30, 4, 8
    fmaps = rng.uniform(0, 0.2, (3 * n, k, h, h)).astype(np.float32)   # weak clutter in every channel
    labels = np.repeat([0, 1, 2], n)
    for i, c in enumerate(labels):
        y0, x0 = rng.integers(0, h - 3, 2)
        fmaps[i, c, y0:y0 + 3, x0:x0 + 3] += 1.0                        # the class's part, somewhere
    pooled = fmaps.mean((2, 3))
    est = svm_accuracy(pooled[::2], labels[::2], pooled[1::2], labels[1::2], return_estimator=True)["estimator"]
    weights, _, classes = svm_linear_map(est)
    assert list(classes) == [0, 1, 2] and list(weights[:, :3].argmax(0)) == [0, 1, 2]   # row c favours channel c
    fm, w = torch.zeros(2, k, h, h), torch.from_numpy(weights)
    fm[:, 3] = 0.1
    fm[0, 0, 0:3, 0:3] = 1.0          # image 0: class 0's part top-left
    fm[1, 1, 5:8, 5:8] = 1.0          # image 1: class 1's part bottom-right
    maps = svm_cam_maps(fm, w, torch.tensor([0, 1]), (64, 64))
    assert maps.shape == (2, 64, 64) and float(maps.amin()) == 0.0 and float(maps.amax()) == 1.0
    boxes = boxes_from_maps(maps, 0.2)
    assert boxes[0].tolist()[2] < 32 and boxes[0].tolist()[3] < 32     # top-left
    assert boxes[1].tolist()[0] >= 32 and boxes[1].tolist()[1] >= 32   # bottom-right
    # both parts in one map: the class row decides where the CAM peaks
    both = fm[:1].clone()
    both[0, 1, 5:8, 5:8] = 1.0
    for row, quadrant in ((0, (0, 0)), (1, (1, 1)), (2, None)):
        m = svm_cam_maps(both, w, torch.tensor([row]), (64, 64))[0]
        y, x = divmod(int(m.argmax()), 64)
        if quadrant is not None:
            assert (y // 32, x // 32) == quadrant
        else:   # class 2's CAM: neither part is its own, the peak is on neither
            assert not (y < 24 and x < 24) and not (y >= 40 and x >= 40)


class _ColourNet(torch.nn.Module):
    """A fake GAP network whose feature map is the image's RGB, 8x8-pooled, and whose OWN classifier points the
    wrong way (it favours bright pixels, the grey background): CAMs from it miss the coloured squares, CAMs from
    the SVM weights hit them."""

    num_classes = 2

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.fill_(1.0)
            self.fc.bias.zero_()

    @property
    def cam_weights(self):
        return self.fc.weight

    def forward_features(self, x):
        fmap = torch.nn.functional.avg_pool2d(x, 8)
        return self.fc(fmap.mean((2, 3))), fmap

    def feature(self, x, kind):
        return self.forward_features(x)[1].mean((2, 3))


def _squares_cub(root, n=24, size=64):
    """A CUB-layout folder: red squares (class 1) or green squares (class 2) on grey noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    cub = root / "CUB_200_2011"
    lines = {"images.txt": [], "image_class_labels.txt": [], "train_test_split.txt": [], "bounding_boxes.txt": []}
    for i in range(2 * n):
        c = i % 2
        img = np.clip(rng.normal(0.45, 0.05, (size, size, 3)), 0, 1)
        s = int(rng.integers(20, 33))
        x, y = rng.integers(0, size - s, 2)
        img[y:y + s, x:x + s] = [0.9, 0.15, 0.1] if c == 0 else [0.1, 0.85, 0.15]
        rel = f"{c + 1:03d}.Sq_{c}/Sq_{c}_{i:04d}.jpg"
        (cub / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255).astype(np.uint8)).save(cub / "images" / rel, "PNG")
        lines["images.txt"].append(f"{i + 1} {rel}")
        lines["image_class_labels.txt"].append(f"{i + 1} {c + 1}")
        lines["train_test_split.txt"].append(f"{i + 1} {int(i < n)}")
        lines["bounding_boxes.txt"].append(f"{i + 1} {x:.1f} {y:.1f} {s:.1f} {s:.1f}")
    for name, rows in lines.items():
        (cub / name).write_text("\n".join(rows) + "\n")
    (cub / "classes.txt").write_text("1 001.Red_Square\n2 002.Green_Square\n")
    return root


def test_cub_protocol_localizes_with_the_svm_weights_not_the_networks_classifier(tmp_path):
    from cam_lib.localize import localize_batch

    root = _squares_cub(tmp_path / "squares")
    net = _ColourNet()

    def make(split, crop):
        return CUB200(root, split, transform=eval_transform("resize", 64), crop_to_box=crop)

    out = cub_protocol(net, make, cs=(1.0, 10.0), batch_size=16)
    assert out["full"] == 1.0 and out["gt_box"] == 1.0
    assert out["cam_loc_acc"] >= 0.9                     # the SVM's CAM finds the squares
    # the network's own classifier (the old, meaningless path on CUB) would not
    from cam_lib.data import make_loader
    from cam_lib.metrics import box_hits
    batch = next(iter(make_loader(make("test", False), 64)))
    own = localize_batch(net, batch.images, topk=1).boxes[:, 0]
    assert float(box_hits(own, batch.gt_boxes, batch.gt_valid).double().mean()) < 0.5
