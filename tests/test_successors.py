"""CAM's successors and any user's network (issue 22): each adapter gives the maps of the library it wraps (torchcam),
scored by the same code as CAM; a torchvision ResNet-18 wrapped by naming its layers has the CAM of the definition;
a network whose classifier is not linear on pooled features is refused, naming the methods that apply."""

from __future__ import annotations

import pytest
import torch
import torchvision

from cam_lib.cam import compute_cams, normalize_maps, upsample_maps
from cam_lib.errors import BadInputError
from cam_lib.methods import METHODS, get_method
from cam_lib.models import build_model, user_model, wrap_classifier

SUCCESSORS = ("gradcam", "gradcampp", "xgradcam", "layercam", "scorecam")


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_model("alexnet_gap", num_classes=6, width=0.125).eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", SUCCESSORS)
def test_each_adapter_gives_the_maps_of_torchcam(name, net, images):
    import torchcam.methods

    method = get_method(name)
    out = method(net, images, "top1")
    extractor_cls = getattr(torchcam.methods, method.extractor)
    kwargs = {"batch_size": 32} if name == "scorecam" else {}
    with extractor_cls(net, target_layer="features", input_shape=(3, 64, 64), **kwargs) as extractor:
        with torch.enable_grad():
            logits = net(images)
            raw = extractor(class_idx=logits.argmax(1).tolist(), scores=logits, normalized=False)[0]
    want = normalize_maps(upsample_maps(raw.detach()[:, None].float(), (64, 64)))
    assert torch.equal(out.classes[:, 0], logits.argmax(1))
    torch.testing.assert_close(out.maps, want, rtol=0, atol=1e-5)
    assert out.maps.shape == (3, 1, 64, 64) and float(out.maps.min()) >= 0 and float(out.maps.max()) <= 1
    assert not net.training and name in METHODS


def test_several_classes_per_image_come_from_one_forward_pass(net, images):
    out = get_method("gradcam")(net, images, 3, extra=torch.tensor([0, 1, 2]))
    assert out.maps.shape == (3, 4, 64, 64) and out.classes[:, 3].tolist() == [0, 1, 2]
    single = get_method("gradcam")(net, images, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(out.maps[:, 3], single.maps[:, 0], rtol=0, atol=1e-6)


def test_a_wrapped_torchvision_resnet18_has_the_cam_of_the_definition():
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=5).eval()
    wrapped = wrap_classifier(resnet, "layer4", "fc", "resnet18")
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    out = compute_cams(wrapped, x, torch.tensor([3, 1]), normalize=False)
    # by hand: the layer4 output of the normalised images, weighted by the fc row of each class (no bias)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    z = (x - mean) / std
    with torch.no_grad():
        f = resnet.layer4(resnet.layer3(resnet.layer2(resnet.layer1(resnet.maxpool(resnet.relu(resnet.bn1(
            resnet.conv1(z))))))))
        logits = resnet(z)
    cam = torch.stack([torch.einsum("k,khw->hw", resnet.fc.weight[c], f[i]) for i, c in enumerate((3, 1))])
    want = torch.nn.functional.interpolate(cam[:, None], size=(96, 96), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out.maps, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.logits, logits)
    assert wrapped.has_cam and wrapped.num_classes == 5 and wrapped.cam_layer == "net.layer4"
    assert not resnet.training                                  # handed back in the mode it was found in
    assert get_method("gradcam")(wrapped, x, "top1").maps.shape == (2, 1, 96, 96)   # successors hook layer4


def test_cam_is_refused_where_it_does_not_apply_naming_the_methods_that_do():
    vgg = torchvision.models.vgg11(num_classes=4)
    with pytest.raises(BadInputError, match="CAM does not apply.*gradcam") as err:
        wrap_classifier(vgg, "features", "classifier.6")
    assert err.value.param == "feature_layer"
    with pytest.raises(BadInputError, match="CAM does not apply") as err:
        wrap_classifier(vgg, "features", "features.0")
    assert err.value.param == "classifier"
    with pytest.raises(BadInputError, match="no such module"):
        wrap_classifier(vgg, "layer4", None)
    gradient_only = wrap_classifier(vgg, "features", None, "vgg11")
    with pytest.raises(BadInputError, match="no CAM"):
        get_method("cam").check(gradient_only)
    assert get_method("gradcam")(gradient_only, torch.rand(1, 3, 64, 64), "top1").maps.shape == (1, 1, 64, 64)


def test_user_models_by_name():
    timm_net = user_model("timm:resnet18", num_classes=3)
    assert (timm_net.feature_layer, timm_net.classifier) == ("layer4", "fc") and timm_net.has_cam
    lite = user_model("timm:tf_efficientnet_lite0", num_classes=3)
    assert lite.feature_layer == "bn2" and lite.classifier == "classifier"
    assert user_model("torchvision:resnet18", num_classes=3).cam_layer == "net.layer4"
    with pytest.raises(BadInputError, match="registry name, 'torchvision:<name>' or 'timm:<name>'"):
        user_model("keras:resnet", 3)
    with pytest.raises(BadInputError, match="cannot build it"):
        user_model("timm:no_such_network", 3)


def test_localize_with_each_successor_writes_the_keys_of_cam(imagenet_sample, tmp_path):
    """Issue 22: `localize --method NAME` on the real sample writes the JSON keys CAM's run writes, with numbers."""
    import json

    from cam_lib.cli import main

    def run(method: str, limit: int) -> dict:
        out = tmp_path / f"{method}.json"
        assert main(["localize", "--data", "imagenet", "--root", str(imagenet_sample), "--model",
                     "tf_efficientnet_lite0", "--pretrained", "--limit", str(limit), "--method", method,
                     "--no-progress", "--json", str(out)]) == 0
        return json.loads(out.read_text())

    cam = run("cam", 4)
    for method, limit in (("gradcam", 4), ("gradcampp", 4), ("xgradcam", 4), ("layercam", 4), ("scorecam", 1)):
        got = run(method, limit)
        assert list(got) == list(cam), method
        assert got["n"] == limit and 0 <= got["gt_known_loc_acc"] <= 1 and got["model"] == "tf_efficientnet_lite0"
