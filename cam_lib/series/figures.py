"""The figures of the series (the paper's Figs. 1, 4, 5, 7 and 9, sample grids, charts of the tables): maps and
boxes from :func:`cam_lib.localize.localize_batch` / :func:`cam_lib.cam.compute_cams`, drawing by
:mod:`cam_lib.figures`. A figure draws networks the setup has trained and never trains one."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import build_dataset
from ..data.common import collate, eval_transform
from ..errors import BadInputError
from ..models import build_model
from .artifacts import load_trained
from .setups import GAP_MODELS, PRETRAINED_GAP_MODELS, Setup, dataset

__all__ = ["dataset_figure", "methods_figure", "bird_boxes_figure", "transfer_figure", "topk_figure",
           "class_maps_figure", "photos_figure", "training_curves", "comparison_figure"]


def _cam_model(s: Setup, model: str | None) -> str:
    """The network a CAM figure draws: ``model`` if given, else the setup's main GAP network
    (:attr:`~cam_lib.series.setups.Setup.main_gap`) when it trains it, else the first network of the setup that has
    a CAM (so a figure never draws a network the user left out)."""
    if model is not None:
        return model
    for name in (s.main_gap, *PRETRAINED_GAP_MODELS, *GAP_MODELS, "googlenet_gmp", "nin", "googlenet"):
        if name in s.models:
            return name
    raise BadInputError(f"parameter models={list(s.models)}: the CAM figures need a network with a CAM "
                        f"(one of {', '.join(GAP_MODELS)}, googlenet_gmp, nin, googlenet)", param="models")


def _first(ds, n: int):
    """A batch of ``n`` images spread over the dataset (every len/n-th image: several classes, deterministic)."""
    idx = [round(i * len(ds) / n) for i in range(min(n, len(ds)))]
    return collate([ds[i] for i in idx])


def dataset_figure(s: Setup, which: str, path: str | Path, n: int = 8) -> Path:
    """Sample images of ``which`` (``val``, ``test``, ``cub`` or a transfer dataset name) with their boxes."""
    from ..data.cub import CUB200
    from ..data.transfer import build_transfer
    from ..figures import cam_grid

    tf = eval_transform("resize", s.image_size)
    if which in ("val", "test"):
        ds = dataset(s, which)
    elif which == "cub":
        ds = CUB200(s.cub_root, "test", transform=tf)
    else:
        kind, root = s.transfer[which]
        ds = build_transfer(kind, root, split="test", transform=tf)
    b = _first(ds, n)
    names = getattr(ds, "class_names", None)
    titles = [[names[int(c)] if names else str(int(c)) for c in b.labels]]
    return cam_grid(path, b.images, None, None, [which], titles, [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)])


def methods_figure(s: Setup, specs: list[tuple[str, str]], path: str | Path, which: str = "val", n: int = 6) -> Path:
    """The ground-truth class's map and box from each ``(model, method)`` of ``specs`` on the same ``n`` images
    (e.g. CAM on GoogLeNet-GAP vs Backprop on GoogLeNet, GAP vs GMP)."""
    from ..figures import cam_grid
    from ..localize import localize_batch

    specs = [(m, meth) for m, meth in specs if m in s.models] or [(_cam_model(s, None), "cam")]
    sizes = {s.size_of(m) for m, _ in specs}
    if len(sizes) > 1:
        raise BadInputError(f"parameter specs={specs}: the networks of one figure must share an image size, got "
                            f"{sorted(sizes)} px", param="specs")
    b = _first(dataset(s, which, specs[0][0]), n)
    maps, boxes, titles = [], [], []
    for model, method in specs:
        out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=1, targets=b.labels.to(s.device),
                             method=method)
        maps.append(out.gt_maps.cpu())
        boxes.append(out.gt_boxes.cpu())
        titles.append([s.class_names[int(c)] for c in b.labels])
    gt = [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)]
    return cam_grid(path, b.images, torch.stack(maps), torch.stack(boxes), [f"{m} ({meth})" for m, meth in specs],
                    titles, gt)


def bird_boxes_figure(s: Setup, path: str | Path, model: str | None = None, n: int = 8) -> Path:
    """The paper's Figure 7: CAM boxes (green) and ground-truth boxes (red) on CUB test images, the CAMs computed
    with the weights of the linear SVM trained on the GAP features (the network has no bird classes), for the
    species the SVM predicts (the protocol of Table 4, :func:`cam_lib.features.cub_protocol`)."""
    from ..data.cub import CUB200
    from ..features import extract_features, svm_accuracy, svm_cam_batch
    from ..figures import cam_grid

    model = _cam_model(s, model)
    net = load_trained(s, model)
    tf = eval_transform("resize", s.size_of(model))
    train, test = CUB200(s.cub_root, "train", transform=tf), CUB200(s.cub_root, "test", transform=tf)
    tr, te = (extract_features(net, ds, "gap", s.device, cache_dir=s.checkpoints / "features",
                               cache_key=f"cub-full-{split}") for split, ds in (("train", train), ("test", test)))
    estimator = svm_accuracy(*tr, *te, return_estimator=True)["estimator"]
    b = _first(test, n)
    maps, boxes, predicted = svm_cam_batch(net, estimator, b.images.to(s.device))
    titles = [[f"{test.class_names[int(c)]}\nSVM: {test.class_names[int(p)]}" for c, p in zip(b.labels, predicted)]]
    return cam_grid(path, b.images, maps.cpu()[None], boxes.cpu()[None], [f"{model} CAM (SVM weights)"], titles,
                    [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)])


def transfer_figure(s: Setup, name: str, path: str | Path, model: str | None = None, n: int = 8) -> Path:
    """CAMs of the top-1 class of ``model`` (trained on the objects) on images of transfer dataset ``name``: what
    the generic features attend to on classes the network never saw."""
    from ..data.transfer import build_transfer
    from ..figures import cam_grid
    from ..localize import localize_batch

    model = _cam_model(s, model)
    kind, root = s.transfer[name]
    ds = build_transfer(kind, root, split="test", transform=eval_transform("resize", s.size_of(model)))
    b = _first(ds, n)
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=1)
    titles = [[f"{ds.class_names[int(c)]}: {s.class_names[int(p)]}" for c, p in zip(b.labels, out.classes[:, 0])]]
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [f"{name} ({model})"],
                    titles)


def topk_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0, k: int = 5) -> Path:
    """The paper's Figure 4: the CAMs and boxes of the top-k predicted classes of one validation image."""
    from ..figures import save_topk_overlay
    from ..localize import localize_batch

    model = _cam_model(s, model)
    b = collate([dataset(s, "val", model)[index]])
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=k)
    probs = out.logits.softmax(1)[0]
    titles = [f"{s.class_names[int(c)]} {float(probs[c]):.2f}" for c in out.classes[0]]
    return save_topk_overlay(path, b.images[0], out.maps[0].cpu(), out.boxes[0].cpu(), titles,
                             b.gt_boxes[0][b.gt_valid[0]])


def class_maps_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0,
                      classes: list[int] | None = None) -> Path:
    """The paper's Figure 5: the maps of several classes (default: every class, up to 6) on the same image."""
    from ..boxes import boxes_from_maps
    from ..cam import compute_cams
    from ..figures import save_topk_overlay

    model = _cam_model(s, model)
    b = collate([dataset(s, "val", model)[index]])
    classes = list(range(min(6, s.num_classes))) if classes is None else list(classes)
    out = compute_cams(load_trained(s, model), b.images.to(s.device), torch.tensor([classes], device=s.device))
    return save_topk_overlay(path, b.images[0], out.maps[0].cpu(), boxes_from_maps(out.maps)[0].cpu(),
                             [s.class_names[c] for c in classes], b.gt_boxes[0][b.gt_valid[0]])


def photos_figure(path: str | Path, device: str = "cpu", model: str = "tf_efficientnet_lite0") -> Path:
    """CAMs and boxes of the top-1 class of the offline ImageNet network on the photographs shipped in the
    scikit-image and matplotlib wheels (the paper's Figure 1 on real images)."""
    from ..data.imagenet import imagenet_class_names
    from ..figures import cam_grid
    from ..localize import localize_batch

    ds = build_dataset("photos", transform=eval_transform("resize", 224))
    b = collate([ds[i] for i in range(len(ds))])
    net = build_model(model, num_classes=1000, pretrained=True).eval().to(device)
    out = localize_batch(net, b.images.to(device), topk=1)
    names = imagenet_class_names()
    probs = out.logits.softmax(1)
    titles = [[f"{names[int(c)].split(',')[0]} {float(probs[i, c]):.2f}" for i, c in enumerate(out.classes[:, 0])]]
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [model], titles)


def training_curves(s: Setup, path: str | Path) -> Path:
    """Validation top-1 error per epoch of every trained network (from their ``log.csv``)."""
    import pandas as pd

    from ..figures import line_chart

    logs = [pd.read_csv(s.checkpoints / m / "log.csv").assign(model=m) for m in s.models
            if (s.checkpoints / m / "log.csv").exists()]
    if not logs:
        raise BadInputError(f"no training logs under {s.checkpoints}: run notebook 01 first")
    df = pd.concat(logs)
    df["top-1 error (%)"] = 100 * df["top1_err"]
    return line_chart(path, df, "epoch", "top-1 error (%)", "model", "Validation top-1 error while training")


def comparison_figure(df, path: str | Path, title: str, x: str = "row") -> Path:
    """Bars of our numbers in a table returned by table1..table5 (rows without our number left out)."""
    from ..figures import bar_chart

    return bar_chart(path, df.dropna(subset=["ours"]), x, "ours", "metric", title)
