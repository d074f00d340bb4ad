"""The figures of the series (the paper's Figs. 1, 4, 5, 7 and 9, sample grids, charts of the tables): maps and
boxes from :func:`cam_lib.localize.localize_batch` / :func:`cam_lib.cam.compute_cams`, drawing by
:mod:`cam_lib.figures`. A figure draws networks the setup has trained and never trains one.

Every figure carries a caption written from what it draws (how many boxes hit the ground truth, how many are the
whole frame, which classes were predicted), then what the paper found; it is stored in the PNG and read back with
:func:`cam_lib.series.texts.caption`."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import torch

from ..data import build_dataset
from ..data.common import collate, eval_transform
from ..errors import BadInputError
from ..methods import METHODS
from ..models import build_model
from ..results import Table, TableRow
from .artifacts import load_trained
from .setups import GAP_MODELS, PRETRAINED_GAP_MODELS, Setup, dataset
from .texts import classification_chance, count_phrase

__all__ = ["dataset_figure", "methods_figure", "bird_boxes_figure", "transfer_figure", "topk_figure",
           "class_maps_figure", "photos_figure", "training_curves", "comparison_figure", "table_figure", "table_panels",
           "box_stats", "photo_annotations", "photo_boxes", "photo_hits"]

METHOD_NAMES = {name: method.title for name, method in METHODS.items()}   # how figures write each registered method


def box_stats(boxes: torch.Tensor, height: int, width: int, gt_boxes: torch.Tensor | None = None,
              gt_valid: torch.Tensor | None = None) -> dict:
    """What a figure's boxes ``(N, 4)`` show: ``n``, ``whole`` (boxes that are the whole ``height x width`` frame),
    ``area`` (mean share of the frame a box covers, %) and, with ground truth ``(N, M, 4)`` / ``(N, M)``, ``hits``
    (:func:`cam_lib.metrics.box_hits`, IoU >= 0.5 with a valid ground-truth box: the rule of every localization
    number) and ``iou`` (each box's best IoU, :func:`cam_lib.metrics.localization.best_box_iou`)."""
    from ..metrics.localization import best_box_iou, box_hits

    boxes = boxes.detach().cpu().long().reshape(-1, 4)
    whole = (boxes[:, 0] == 0) & (boxes[:, 1] == 0) & (boxes[:, 2] == width - 1) & (boxes[:, 3] == height - 1)
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1) / float(height * width)
    out = {"n": int(len(boxes)), "whole": int(whole.sum()), "area": 100.0 * float(area.mean()) if len(boxes) else
           math.nan}
    if gt_boxes is not None:
        gt, valid = gt_boxes.detach().cpu()[:, :, :4], gt_valid.detach().cpu().bool()
        out |= {"hits": int(box_hits(boxes, gt, valid).sum()),
                "iou": [float(x) for x in best_box_iou(boxes, gt, valid)]}
    return out


def _is(k: int) -> str:
    return "is" if k == 1 else "are"


def _stats_sentence(label: str, st: dict) -> str:
    """``"CAM on x: all 6 boxes are the whole frame, 1 of 6 hits the ground truth (IoU >= 0.5); ..."``."""
    parts = [f"{count_phrase(st['whole'], st['n'], 'boxes')} {_is(st['whole'])} the whole frame"]
    if "hits" in st:
        parts.append(f"{count_phrase(st['hits'], st['n'], 'boxes')} hit{'s' * (st['hits'] == 1)} the ground truth "
                     "(IoU >= 0.5)")
    parts.append(f"the boxes cover {st['area']:.0f}% of the image on average")
    return f"{label}: " + "; ".join(parts) + "."


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
    gt = [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)]
    h, w = b.images.shape[-2:]
    shares = [float(((g[:, 2] - g[:, 0] + 1) * (g[:, 3] - g[:, 1] + 1)).max()) / (h * w) for g in gt if len(g)]
    text = (f"{len(b.labels)} images of `{which}` ({len(set(int(c) for c in b.labels))} classes among them), titled "
            "by their class")
    median = 100 * float(torch.tensor(shares).median()) if shares else math.nan
    text += (f", with their ground-truth boxes (red): the largest box covers {median:.0f}% of the image at the "
             "median of these images." if shares else "; these images have no boxes.")
    return cam_grid(path, b.images, None, None, [which], titles, gt, caption=text)


def methods_figure(s: Setup, specs: list[tuple[str, str]], path: str | Path, which: str = "val", n: int = 6) -> Path:
    """The ground-truth class's map and box from each ``(model, method)`` of ``specs`` on the same ``n`` images
    (e.g. CAM on GoogLeNet-GAP vs Backprop on GoogLeNet, GAP vs GMP)."""
    from ..figures import cam_grid
    from ..localize import localize_batch

    asked = list(specs)
    specs = [(m, meth) for m, meth in specs if m in s.models] or [(_cam_model(s, None), "cam")]
    missing = [f"{meth} on {m}" for m, meth in asked if (m, meth) not in specs]
    warning = (f"Not the comparison this figure is named for: {', '.join(missing)} "
               f"{'is' if len(missing) == 1 else 'are'} not in this run (its networks: {', '.join(s.models)}); it "
               f"shows {', '.join(f'{meth} on {m}' for m, meth in specs)} only. ") if missing else ""
    sizes = {s.size_of(m) for m, _ in specs}
    if len(sizes) > 1:
        raise BadInputError(f"parameter specs={specs}: the networks of one figure must share an image size, got "
                            f"{sorted(sizes)} px", param="specs")
    b = _first(dataset(s, which, specs[0][0]), n)
    maps, boxes, titles, sentences = [], [], [], []
    h, w = b.images.shape[-2:]
    for model, method in specs:
        out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=1, targets=b.labels.to(s.device),
                             method=method)
        maps.append(out.gt_maps.cpu())
        boxes.append(out.gt_boxes.cpu())
        titles.append([s.class_names[int(c)] for c in b.labels])
        sentences.append(_stats_sentence(f"{METHOD_NAMES.get(method, method)} on {model}",
                                         box_stats(out.gt_boxes, h, w, b.gt_boxes, b.gt_valid)))
    gt = [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)]
    text = (warning + f"The ground-truth class's map and its box at 20% of the map's range (green; red: ground truth) on "
            f"{len(b.labels)} {'validation' if which == 'val' else which} images, one row per network and method. " + " ".join(sentences)
            + " " + _methods_paper(specs))
    return cam_grid(path, b.images, torch.stack(maps), torch.stack(boxes), [f"{m} ({meth})" for m, meth in specs],
                    titles, gt, caption=text.strip())


def _methods_paper(specs: list[tuple[str, str]]) -> str:
    """What the paper found about the comparison a methods figure draws."""
    methods = {meth for _, meth in specs}
    out = []
    if {"cam", "backprop"} <= methods:
        out.append("Paper: the CAMs of the GAP networks cover the discriminative regions of the object while "
                   "Backprop's saliency is scattered points, and CAM boxes localize better (its Table 2: 56.4 vs 61.3 "
                   "top-1 localization error on GoogLeNet).")
    if any(m.endswith("_gmp") for m, _ in specs):
        out.append("Paper: GMP maps cover only the most discriminative part of the object, GAP maps more of its "
                   "extent (its Table 2: GoogLeNet-GAP 56.4 vs GoogLeNet-GMP 57.8 top-1 localization error).")
    return " ".join(out)


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
    st = box_stats(boxes, *b.images.shape[-2:], b.gt_boxes, b.gt_valid)
    right = sum(int(c) == int(p) for c, p in zip(b.labels, predicted))
    text = (f"{len(b.labels)} test birds (title: true species, then the SVM's). CAM boxes (green) from the linear "
            f"SVM's weights for the predicted species, ground truth in red. "
            + _stats_sentence(f"{model}", st) + f" The SVM names the right species on "
            f"{count_phrase(right, len(b.labels), 'birds')}. Paper: on CUB-200-2011, 41.0% of the CAM boxes have "
            "IoU >= 0.5 with the bird, and classifying the CAM crop beats the full image (67.8 vs 63.0%).")
    return cam_grid(path, b.images, maps.cpu()[None], boxes.cpu()[None], [f"{model} CAM (SVM weights)"], titles,
                    [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)], caption=text)


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
    st = box_stats(out.boxes[:, 0], *b.images.shape[-2:])
    predicted = Counter(s.class_names[int(p)] for p in out.classes[:, 0])
    text = (f"{len(b.labels)} `{name}` test images (title: true {name} class: the object class {model} predicts). "
            f"The map and box (green) of the predicted object class; the network never saw these classes. "
            + _stats_sentence("Boxes", st)
            + " Predicted: " + ", ".join(f"{k} ({v})" for k, v in predicted.most_common()) + ". These images have "
            "no boxes, so the figure cannot show whether the maps find objects. Paper: the GAP features transfer "
            "to new tasks (Table 5), and the CAMs of a linear classifier trained on them for the new classes "
            "highlight the regions informative for those classes; this figure draws the network's own classes "
            "instead.")
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [f"{name} ({model})"],
                    titles, caption=text)


def topk_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0, k: int = 5) -> Path:
    """The paper's Figure 4: the CAMs and boxes of the top-k predicted classes of one validation image."""
    from ..figures import save_topk_overlay
    from ..localize import localize_batch

    model = _cam_model(s, model)
    b = collate([dataset(s, "val", model)[index]])
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=k)
    probs = out.logits.softmax(1)[0]
    titles = [f"{s.class_names[int(c)]} {float(probs[c]):.2f}" for c in out.classes[0]]
    true = int(b.labels[0])
    ranked = [int(c) for c in out.classes[0]]
    st = box_stats(out.boxes[0].cpu(), *b.images.shape[-2:], b.gt_boxes[:1].expand(len(ranked), -1, -1),
                   b.gt_valid[:1].expand(len(ranked), -1))
    rank = (f"the true class is ranked {ranked.index(true) + 1}" if true in ranked
            else f"the true class is not among the top {k}")
    top1 = st["iou"][0]
    text = (f"One validation image of class {s.class_names[true]} (first panel) and the maps of the top-{k} classes "
            f"of {model}, with their probabilities: {', '.join(titles)}; {rank}. The top-1 class's box (green) has "
            f"IoU {top1:.2f} with the ground truth (red): {'a hit' if top1 >= 0.5 else 'a miss'} (IoU >= 0.5 needed); "
            f"{count_phrase(st['whole'], st['n'], 'boxes')} {_is(st['whole'])} the whole frame. Paper (Fig. 4 there): "
            "the maps of the top-5 classes of one image highlight different regions (dome: the upper round part, "
            "palace: the lower flat part).")
    return save_topk_overlay(path, b.images[0], out.maps[0].cpu(), out.boxes[0].cpu(), titles,
                             b.gt_boxes[0][b.gt_valid[0]], image_title=f"image: {s.class_names[true]}", caption=text)


def class_maps_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0,
                      classes: list[int] | None = None, k: int = 6) -> Path:
    """The paper's Figure 5: the maps of several classes on the same image, from one forward pass: the image's
    true class first, then the other classes in index order (``k`` maps in all), or ``classes`` (the true class is
    put first when missing). The image is titled by its true class."""
    from ..boxes import boxes_from_maps
    from ..cam import compute_cams
    from ..figures import save_topk_overlay

    model = _cam_model(s, model)
    b = collate([dataset(s, "val", model)[index]])
    true = int(b.labels[0])
    others = [c for c in (range(s.num_classes) if classes is None else classes) if int(c) != true]
    classes = [true] + [int(c) for c in others][:max(0, (k if classes is None else len(others) + 1) - 1)]
    out = compute_cams(load_trained(s, model), b.images.to(s.device), torch.tensor([classes], device=s.device))
    maps, boxes = out.maps[0].cpu(), boxes_from_maps(out.maps)[0].cpu()
    probs = out.logits.softmax(1)[0].cpu()
    titles = [f"{s.class_names[c]}{' (true)' if c == true else ''} {float(probs[c]):.2f}" for c in classes]
    gt, valid = b.gt_boxes[0], b.gt_valid[0]
    inside = torch.zeros(maps.shape[-2:], dtype=torch.bool)
    for x0, y0, x1, y1 in gt[valid].long().tolist():
        inside[y0:y1 + 1, x0:x1 + 1] = True
    share = [100.0 * float(m[inside].sum() / m.sum()) if float(m.sum()) > 0 else math.nan for m in maps]
    st = box_stats(boxes, *maps.shape[-2:], gt[None].expand(len(classes), -1, -1), valid[None].expand(len(classes), -1))
    rest = [x for x in share[1:] if math.isfinite(x)]
    above = sum(x >= share[0] for x in rest)
    mass = (f"the true class's map puts {share[0]:.0f}% of its mass inside it"
            + (f", the other classes' maps {min(rest):.0f}-{max(rest):.0f}% ("
               + ("none of them more" if above == 0 else f"{count_phrase(above, len(rest), 'of them')} as much or more")
               + ")" if rest else "")
            if math.isfinite(share[0]) else "the true class's map is flat (the same value everywhere)")
    text = (f"One validation image of class {s.class_names[true]} (first panel, titled by its class) and the maps of "
            f"{len(classes)} classes of {model} from the same forward pass, the true class first (titles: class and "
            f"probability). The ground-truth box covers {100.0 * float(inside.float().mean()):.0f}% of the image; "
            + mass + f". The true class's box has IoU {st['iou'][0]:.2f} with the ground truth "
            f"({'a hit' if st['iou'][0] >= 0.5 else 'a miss'}); {count_phrase(st['whole'], st['n'], 'boxes')} "
            f"{_is(st['whole'])} the whole frame. Paper: every class has its own map from the same features (one "
            "weighted sum per class), and the maps of different classes highlight different regions of the image.")
    return save_topk_overlay(path, b.images[0], maps, boxes, titles, gt[valid],
                             image_title=f"image: {s.class_names[true]}", caption=text)


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
    gt, valid, accepted = photo_boxes(b.images.shape[-1], b.images.shape[-2], [ds.path(i).name for i in range(len(ds))])
    st = box_stats(out.boxes[:, 0], *b.images.shape[-2:], gt, valid)
    right, scored = photo_hits(out.classes[:, 0], out.boxes[:, 0], gt, valid, accepted)
    frame = torch.tensor([[0, 0, b.images.shape[-1] - 1, b.images.shape[-2] - 1]]).expand(len(ds), 4)
    frame_right, _ = photo_hits(out.classes[:, 0], frame, gt, valid, accepted)
    text = (f"{len(ds)} photographs from the scikit-image and matplotlib wheels and the top-1 ImageNet class of "
            f"{model} with its probability: {', '.join(titles[0])}. By the class rule (the top-1 class names the "
            f"photo's object and its box has IoU >= 0.5 with the ground truth), {count_phrase(right, scored, 'top-1 guesses')} "
            f"of the photos whose object has an ImageNet class are right; the whole frame with the same classes "
            f"would be right {frame_right} times. " + _stats_sentence("Top-1 boxes (green)", st)
            + " The ground truth (red) is a box drawn by hand around each photo's main object (approximate; "
            "cam_lib/data/photo_boxes.json says where the boxes and the accepted classes come from). Paper (Fig. 1 "
            "there): the CAM of the predicted class highlights the discriminative region of the image, e.g. the "
            "toothbrush for 'brushing teeth'.")
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [model], titles,
                    list(gt), caption=text)


PHOTO_BOXES_FILE = Path(__file__).resolve().parents[1] / "data" / "photo_boxes.json"


def photo_annotations() -> dict:
    """The wheel photos' hand-drawn boxes and the ImageNet classes that name their objects, with where they come
    from (``cam_lib/data/photo_boxes.json``: ``source``, ``photos``)."""
    import json

    return json.loads(PHOTO_BOXES_FILE.read_text())


def photo_boxes(width: int = 224, height: int | None = None, names: list[str] | None = None):
    """The hand-drawn boxes of :func:`photo_annotations` in a resized ``width x height`` frame (the ``"resize"``
    evaluation frame), as ``gt_boxes (N, 1, 4)`` and ``gt_valid (N, 1)`` for :func:`cam_lib.metrics.box_hits`, in
    the order of ``names`` (default: the wheel photos' order), and each photo's ImageNet classes."""
    from ..data.photos import wheel_photos

    height = width if height is None else height
    names = [p.name for p in wheel_photos()] if names is None else names
    photos = photo_annotations()["photos"]
    boxes = []
    for name in names:
        (w, h), (x0, y0, x1, y1) = photos[name]["size"], photos[name]["box"]
        sx, sy = width / w, height / h
        boxes.append([math.floor(x0 * sx), math.floor(y0 * sy), min(width - 1, math.floor((x1 + 1) * sx) - 1),
                      min(height - 1, math.floor((y1 + 1) * sy) - 1)])
    return (torch.tensor(boxes, dtype=torch.int64)[:, None], torch.ones(len(names), 1, dtype=torch.bool),
            [list(photos[name]["classes"]) for name in names])


def photo_hits(classes: torch.Tensor, boxes: torch.Tensor, gt, valid, accepted: list[list[int]]) -> tuple[int, int]:
    """The class rule on the wheel photos: a top-1 guess (``classes (N,)``, ``boxes (N, 4)``) is right when its
    class names the photo's object (``accepted``) and its box has IoU >= 0.5 with the hand-drawn box. Returns
    (right guesses, photos scored: those whose object has an ImageNet class)."""
    from ..metrics.localization import box_hits

    scored = [i for i, a in enumerate(accepted) if a]
    right = box_hits(boxes[scored].cpu(), gt[scored], valid[scored])
    named = torch.tensor([int(classes[i]) in accepted[i] for i in scored], dtype=torch.bool)
    return int((right & named).sum()), len(scored)


def training_curves(s: Setup, path: str | Path) -> Path:
    """Validation top-1 error per epoch of every trained network (from their ``log.csv``), with chance."""
    import pandas as pd

    from ..figures import line_chart

    logs = [pd.read_csv(s.checkpoints / m / "log.csv").assign(model=m) for m in s.models
            if (s.checkpoints / m / "log.csv").exists()]
    if not logs:
        raise BadInputError(f"parameter checkpoints: no training logs under {s.checkpoints}: run notebook 01 first",
                            param="checkpoints")
    df = pd.concat(logs)
    df["top-1 error (%)"] = 100 * df["top1_err"]
    chance = classification_chance(s.num_classes)
    last = df.groupby("model", sort=False).last()
    text = (f"Validation top-1 error after each training epoch (network trained by notebook 01, seed {s.seed}); "
            f"after the last epoch: " + ", ".join(f"{m} {r['top-1 error (%)']:.1f}% ({int(r.epoch)} epochs)"
                                                    for m, r in last.iterrows())
            + f". Dashed: chance, {chance:.1f}% for {s.num_classes} classes.")
    above = [m for m, r in last.iterrows() if r["top-1 error (%)"] >= chance - 1e-9]
    if above:
        text += f" Still at chance or worse: {', '.join(above)}."
    return line_chart(path, df, "epoch", "top-1 error (%)", "model", "Validation top-1 error while training",
                      xlabel="epoch", ylabel="validation top-1 error (%)",
                      refs=[(chance, f"chance ({s.num_classes} classes)")], caption=text,
                      limits=(0, 100))


def comparison_figure(table, path: str | Path, title: str, x: str = "row") -> Path:
    """Bars of our numbers in a :class:`~cam_lib.results.Table` returned by table1..table5 (rows without our number
    left out); prefer :func:`table_figure`, which puts each kind of number on its own axis with the paper's values
    and chance."""
    from ..figures import bar_chart

    return bar_chart(path, table.df.dropna(subset=["ours"]), x, "ours", "metric", title, xlabel="",
                     ylabel="this run (%)")


METRIC_WORDS = {  # a table's metric key -> the legend's words
    "top1_cls_err": "top-1 error", "top5_cls_err": "top-5 error",
    "top1_loc_err": "top-1 localization error", "top5_loc_err": "top-5 localization error",
    "gt_known_loc_acc": "GT-known localization (20% threshold)", "maxboxacc_v2": "MaxBoxAccV2 (best thresholds)",
    "gt_known_tau_fixed": "GT-known localization, the paper's 20% threshold",
    "gt_known_tau_val": "GT-known localization, threshold chosen on validation", "pxap": "PxAP (masks)",
}


def _rows(rows: list[TableRow], keys=None, paper: bool = True, name: str | None = None, item=None) -> list[dict]:
    """Chart rows of a table's rows of metric ``keys`` (None: all), in table order: one bar per item (``item(row)``,
    default its ``row`` label) and metric (``name``: one legend entry for all)."""
    item = item or (lambda r: r.labels["row"])
    return [{"item": item(r), "series": name or METRIC_WORDS.get(r.key, r.metric), "value": r.ours,
             "low": r.ci_low, "high": r.ci_high, "paper": r.paper if paper else math.nan}
            for r in rows if (keys is None or r.key in keys)
            and not (math.isnan(r.ours) and (not paper or math.isnan(r.paper)))]


def _is_baseline(r: TableRow) -> bool:
    return r.key.startswith("baseline:")


def _fixed_boxes(table: Table) -> list[tuple[float, str]]:
    """The reference lines of the content-free boxes the table measured (metric keys ``baseline:<name>``)."""
    return [(float(r.ours), r.labels["row"].replace(" (baseline)", "") + ": no image content")
            for r in table.rows if _is_baseline(r) and r.ran]


TABLE3_DIAMONDS = ("the diamond on a row of ours is the paper's value for the same method on the paper's network "
                   "(GoogLeNet-GAP), not on ours; rows with a diamond only are the paper's fully supervised methods")


def table_figure(s: Setup, table: Table, path: str | Path) -> Path:
    """A :class:`~cam_lib.results.Table` of :mod:`cam_lib.series.tables` as charts (:func:`table_panels`), with its
    caption."""
    from ..figures import _finite, panel_chart
    from ..results import TABLES

    name = table.name
    panels, refs_text = table_panels(s, table)
    title = {"table2_test": "Table 2 on the test split", "table7": "CAM and its successors",
             "table7_real": "CAM and its successors, real images"}.get(name, TABLES[name].split(" (")[0])
    drawn = any(_finite(r.get("paper")) for p in panels for r in p.rows)   # diamonds: said only if drawn
    text = (f"{TABLES[name]} as charts, one axis per kind of number: bars are this run's values (profile "
            f"{s.profile}) with their 95% intervals over images"
            + (", black diamonds the paper's values" if drawn else " (the paper has no value to draw here)")
            + "".join(f"; {r}" for r in refs_text) + ".")
    return panel_chart(path, panels, title, caption=text)


def _threshold_panel(nets: list[TableRow], key: str, title: str):
    """Table 2's panel of map thresholds (this run's only), with the paper's fixed 20% drawn."""
    from ..figures import Panel

    return Panel(_rows(nets, [key], paper=False, name="this run"), title,
                 [(20.0, "the paper's fixed threshold (20%)")])


def _item(r: TableRow) -> tuple:
    """What a row is about (its labels but the dataset): a network and method, a content-free box, a method."""
    return tuple((k, v) for k, v in r.labels.items() if k != "dataset")


def table_panels(s: Setup, table: Table) -> tuple[list, list[str]]:
    """The panels of :func:`table_figure` and what their reference lines are: one panel per kind of number
    (errors, accuracies, localization rates, thresholds), each on its own axis labelled in words; bars are this
    run's values with their 95% intervals, black diamonds the paper's, lines the references that apply (chance,
    the content-free boxes, the paper's fixed threshold). Networks not run are left out (the rows of Tables 3 and 4
    without our number are the paper's other methods: kept, as diamonds)."""
    from ..figures import Panel
    from .texts import cub_reference, transfer_classes

    name = table.name
    rows = list(table.rows)
    if any("model" in r.labels for r in rows):   # networks: those with a number in this run
        ran = {_item(r) for r in rows if r.ran}
        rows = [r for r in rows if _item(r) in ran]
    nets = [r for r in rows if not _is_baseline(r)]
    refs_text = []
    if name == "table1":
        c1, c5 = classification_chance(s.num_classes), classification_chance(s.num_classes, 5)
        refs = [(c1, f"chance, top-1 ({s.num_classes} classes)"), (c5, "chance, top-5")]
        panels = [Panel(_rows(nets, ["top1_cls_err", "top5_cls_err"]),
                        "classification error on the validation split (%): lower is better", refs)]
        refs_text.append(f"dashed and dotted lines: chance ({c1:.0f}% top-1, {c5:.0f}% top-5 error)")
    elif name == "table2":
        base = _fixed_boxes(table)
        panels = [Panel(_rows(nets, ["top1_loc_err", "top5_loc_err"]),
                        "localization error on the validation split (%): lower is better"),
                  Panel(_rows(nets, ["gt_known_loc_acc", "maxboxacc_v2"]),
                        "localization accuracy, ground-truth class known (%): higher is better", base),
                  _threshold_panel(nets, "best_threshold",
                                   "map threshold at which boxes reach IoU 0.5 most often (% of the map's range)")]
        refs_text.append("vertical lines in the middle panel: GT-known localization of boxes that use no image "
                         "content; in the bottom panel: the paper's fixed 20% threshold")
    elif name == "table2_test":
        base = _fixed_boxes(table)
        panels = [Panel(_rows(nets, ["gt_known_tau_fixed", "gt_known_tau_val", "maxboxacc_v2"]),
                        "localization accuracy on the test split, ground-truth class known (%): higher is better",
                        base),
                  _threshold_panel(nets, "tau_val",
                                   "map threshold chosen on the validation split (% of the map's range)")]
        refs_text.append("vertical lines in the top panel: boxes that use no image content; in the bottom panel: "
                         "the paper's fixed 20% threshold")
    elif name in ("table7", "table7_real"):
        panels = [Panel(_rows(nets, ["gt_known_tau_fixed", "gt_known_tau_val", "maxboxacc_v2", "pxap"], paper=False),
                        "localization on the test images, ground-truth class known (%): higher is better"),
                  Panel(_rows(nets, ["top1_loc_err"], paper=False, name="this run"),
                        "top-1 localization error on the test images (%): lower is better"),
                  _threshold_panel(nets, "tau_val", "map threshold chosen on validation images (% of the map's range)")]
        refs_text.append("in the bottom panel: the paper's fixed 20% threshold")
    elif name == "table3":
        sup = {"weakly": "weakly supervised", "full": "fully supervised"}
        supervised = lambda r: f"{r.labels['row']} ({sup.get(*[r.labels['supervision']] * 2)})"  # noqa: E731
        panels = [Panel(_rows(nets, ["top5_loc_err"], name="this run", item=supervised),
                        "top-5 localization error on the test split (%): lower is better")]
        refs_text.append(TABLE3_DIAMONDS)
    elif name == "table4":
        ref = cub_reference(s)
        annotated = lambda r: (r.labels["row"] if str(r.labels["annotation"]) in ("n/a", "nan")  # noqa: E731
                               else f"{r.labels['row']} ({r.labels['annotation']})")
        panels = [Panel(_rows(nets, ["svm_accuracy"], name="this run", item=annotated),
                        "classification accuracy of the test birds (%): higher is better",
                        [(ref["chance"], f"chance ({ref['species']} species)")]),
                  Panel(_rows(nets, ["cam_loc_acc"], name="this run"),
                        "test birds whose CAM box has IoU >= 0.5 with the bird (%): higher is better",
                        [(ref["frame"], "the whole frame as the box")])]
        if math.isfinite(ref["chance"]):
            refs_text.append(f"lines: chance ({ref['chance']:.1f}%) and the whole frame's localization rate "
                             f"({ref['frame']:.1f}%)")
    elif name == "table5":
        classes = transfer_classes(s)
        panels = [Panel(_rows([r for r in nets if r.labels.get("dataset") == d], None, name="this run"),
                        f"linear SVM accuracy on `{d}` test images (%): higher is better",
                        [(100.0 / classes[d], f"chance ({classes[d]} classes)")], title=d)
                  for d in s.transfer]
        refs_text.append("dashed lines: chance on each dataset")
    else:
        raise BadInputError(f"parameter name={name!r}: one of table1, table2, table2_test, table3, table4, table5, "
                            "table7, table7_real",
                            param="name")
    return panels, refs_text
