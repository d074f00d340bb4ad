"""Deep features for generic localization (Sec. 4.1 fine-grained, Table 4; Sec. 5 generic features, Table 5).

- :func:`extract_features`: the three feature kinds of Table 5 in one batched forward pass each, asked of the
  model by name (:meth:`cam_lib.models.CAMNet.feature`): ``gap`` (the pooled last-conv map that feeds a GAP
  network's classifier), ``avepool`` (the same for the original GoogLeNet, whose 7x7 average pool is a GAP) and
  ``fc7`` (AlexNet's second fully connected layer after its ReLU). Cached on disk as ``.npz``
  (:func:`cam_lib.io.cached_arrays`), keyed by the model weights' hash, dataset, split, transform and kind: a
  rerun extracts nothing.
- :func:`svm_accuracy`: a linear SVM (scikit-learn ``LinearSVC``) with C chosen by cross-validation on the
  training split only; multi-label targets (SUN Attribute) are scored by mean average precision. With
  ``return_estimator=True`` it also returns the fitted pipeline, whose linear map :func:`svm_linear_map` reads.
- :func:`cub_protocol`: Table 4 (SVM on the full image, on the crop of the CAM box, on the ground-truth box) and
  the CAM localization accuracy on the test split at IoU >= 0.5 (the paper's 41.0%).

CAMs from the SVM weights (the paper's generic localization, Sec. 4): the network has no bird classes, so the CAM
of a bird is computed with the weights of the linear SVM trained on its GAP features, ``M_c(x, y) = sum_k
w_svm[c, k] f_k(x, y)``, for the class ``c`` the SVM predicts (:func:`svm_cam_maps`, :func:`cam_boxes`). The SVM
sees L2-normalised pooled features: its score is ``w_c . g / ||g|| + b_c`` with ``g`` the pooled map. The
per-image factor ``1 / ||g||`` is positive and shared by every class and every location, so it changes neither
the argmax over classes nor a min-max normalised map, and ``b_c`` is a constant over locations (CAMs carry no
bias, Sec. 2): the SVM's ``coef_`` applied to the feature map ``f_k(x, y)`` is exactly the linear function
the SVM applies to the pooled features, spread over the locations (for a GAP network ``mean_{x,y} M_c = w_c . g``).
The predicted class is the SVM's own prediction on the same pooled features (``estimator.predict``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD, boxes_from_maps
from .cam import class_activation_maps, normalize_maps, upsample_maps
from .data import fingerprint, make_loader
from .data.common import crop_to_box, make_sample
from .errors import BadInputError
from .io import cached_arrays, weights_hash
from .metrics import box_hits
from .models import FEATURE_KINDS, evaluating

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0)

__all__ = ["FEATURE_KINDS", "extract_features", "svm_accuracy", "svm_linear_map", "svm_cam_maps", "svm_cam_batch",
           "cam_boxes",
           "CroppedDataset", "cub_protocol", "transfer_protocol"]


def extract_features(model: torch.nn.Module, dataset: Dataset, kind: str, device: str | torch.device = "cpu",
                     batch_size: int = 64, workers: int = 0, cache_dir: str | Path | None = None,
                     cache_key: str = "", progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, D) float32, targets)`` of a dataset, in dataset order: the model's named feature ``kind``
    (:meth:`cam_lib.models.CAMNet.feature`). With ``cache_dir``, the result is cached (:func:`cam_lib.io.cached_arrays`)
    under the weights' hash, the feature kind, the dataset (its class and images: :func:`cam_lib.data.fingerprint`),
    its transform and ``cache_key`` (anything else that changes the images, e.g. crop boxes): a rerun extracts
    nothing. The model is left on its device and in its mode afterwards."""
    if kind not in FEATURE_KINDS:
        raise BadInputError(f"parameter kind={kind!r}: choose one of {', '.join(FEATURE_KINDS)}", param="kind")

    @torch.inference_mode()
    def compute() -> dict:
        feats, labels = [], []
        with evaluating(model, device):
            for batch in tqdm(make_loader(dataset, batch_size, workers, device), desc=f"features {kind}",
                              disable=not progress):
                if batch.skipped:
                    raise BadInputError(f"{batch.skipped[0].path}: {batch.skipped[0].reason}", param="dataset")
                feats.append(model.feature(batch.images.to(device), kind).float().cpu())
                labels.append(batch.labels)
        features = torch.cat(feats).numpy()
        return {"features": features, "targets": np.asarray(getattr(dataset, "targets", torch.cat(labels).numpy()))}

    if cache_dir is None:
        out = compute()
    else:
        key = {"weights": weights_hash(model), "kind": kind, "cache_key": cache_key,
               "dataset": [type(dataset).__name__, fingerprint(dataset), repr(getattr(dataset, "transform", ""))]}
        out = cached_arrays(cache_dir, kind, key, compute)
    return out["features"], out["targets"]


def svm_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 cs: tuple[float, ...] = DEFAULT_CS, folds: int = 3, seed: int = 0,
                 return_estimator: bool = False) -> dict:
    """Linear SVM on L2-normalised features, C by ``folds``-fold cross-validation on the training split only.
    Returns ``{"accuracy" | "mean_ap", "C"}`` and, single-label, ``correct``: each test image's outcome (1.0 / 0.0,
    for the intervals of :mod:`cam_lib.metrics.intervals`); multi-label ``(N, A)`` targets use one-vs-rest and
    mean AP.
    ``return_estimator=True`` adds ``"estimator"``: the fitted pipeline (``Normalizer`` then ``LinearSVC``, refit
    on the whole training split with the chosen C; :func:`svm_linear_map` reads its weights)."""
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer
    from sklearn.svm import LinearSVC

    multilabel = np.ndim(train_y) == 2
    svc = LinearSVC(dual="auto", max_iter=5000, random_state=seed)
    est = make_pipeline(Normalizer(), OneVsRestClassifier(svc) if multilabel else svc)
    grid = {("onevsrestclassifier__estimator__C" if multilabel else "linearsvc__C"): list(cs)}
    min_count = np.bincount(train_y).min() if not multilabel else folds
    folds = max(2, min(folds, int(min_count)))
    cv = KFold(folds, shuffle=True, random_state=seed) if multilabel else \
        StratifiedKFold(folds, shuffle=True, random_state=seed)
    search = GridSearchCV(est, grid, cv=cv, scoring="average_precision" if multilabel else "accuracy")
    search.fit(train_x, train_y)
    c = float(next(iter(search.best_params_.values())))
    if multilabel:
        scores = search.decision_function(test_x)
        out = {"mean_ap": float(average_precision_score(test_y, scores, average="macro")), "C": c}
    else:
        correct = search.predict(test_x) == test_y
        out = {"accuracy": float(correct.mean()), "C": c, "correct": correct.astype(float).tolist()}
    if return_estimator:
        out["estimator"] = search.best_estimator_
    return out


def svm_linear_map(estimator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights (C, K), bias (C,), labels (C,))`` of a fitted single-label linear SVM (the pipeline of
    :func:`svm_accuracy`, or a bare ``LinearSVC``): row ``i`` scores class ``labels[i]`` as ``weights[i] . x +
    bias[i]`` on the (L2-normalised) features ``x``. A two-class SVM (one hyperplane) becomes two rows, ``-w`` for
    ``labels[0]`` and ``w`` for ``labels[1]``: the argmax and each class's map are those of its decision."""
    svc = estimator[-1] if hasattr(estimator, "steps") else estimator
    if not hasattr(svc, "coef_") or not hasattr(svc, "classes_"):
        raise BadInputError(f"parameter estimator: a fitted single-label linear SVM, got {type(svc).__name__}",
                            param="estimator")
    weights, bias = np.asarray(svc.coef_, np.float64), np.asarray(svc.intercept_, np.float64).reshape(-1)
    labels = np.asarray(svc.classes_)
    if len(labels) == 2 and len(weights) == 1:
        weights, bias = np.concatenate([-weights, weights]), np.concatenate([-bias, bias])
    return weights, bias, labels


def svm_cam_maps(fmap: torch.Tensor, weights: torch.Tensor, rows: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """Normalised CAMs ``(B, H, W)`` of a batch's feature maps ``fmap (B, K, h, w)`` with linear weights ``(C, K)``
    (e.g. an SVM's, :func:`svm_linear_map`), one class row per image ``rows (B,)``: ``M = sum_k weights[row, k]
    f_k`` (:func:`cam_lib.cam.class_activation_maps`), upsampled to ``size`` and min-max normalised as every CAM
    of the project."""
    weights = torch.as_tensor(weights, device=fmap.device).to(fmap.dtype)
    maps = class_activation_maps(fmap, weights, torch.as_tensor(rows, device=fmap.device).long())
    return normalize_maps(upsample_maps(maps, size))[:, 0]


@torch.inference_mode()
def svm_cam_batch(model, estimator, images: torch.Tensor,
                  threshold: float = DEFAULT_THRESHOLD) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """For a batch of images: the CAMs ``(B, H, W)`` of the class a fitted linear SVM (on the model's GAP features,
    :func:`svm_accuracy` with ``return_estimator``) predicts, their boxes ``(B, 4)`` and the predicted labels
    ``(B,)``, from one forward pass (what Fig. 7 of the paper draws on CUB)."""
    weights, _, labels = svm_linear_map(estimator)
    _, fmap = model.forward_features(images)
    predicted = estimator.predict(model.pooled(fmap).float().cpu().numpy())
    rows = torch.as_tensor(np.searchsorted(labels, predicted), device=fmap.device)
    maps = svm_cam_maps(fmap.float(), torch.as_tensor(weights, dtype=torch.float32, device=fmap.device), rows,
                        tuple(images.shape[-2:]))
    return maps, boxes_from_maps(maps, threshold), predicted


class CroppedDataset(Dataset):
    """A box dataset with each image cropped to a given box in its stored frame (the CAM-crop row of Table 4)."""

    def __init__(self, base, boxes: torch.Tensor, transform=None):
        if len(boxes) != len(base):
            raise BadInputError(f"parameter boxes: {len(boxes)} crop boxes for {len(base)} images", param="boxes")
        self.base, self.boxes = base, boxes
        self.transform = transform if transform is not None else base.transform
        self.targets = base.targets

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        image, boxes = self.base.load(index)
        image, boxes = crop_to_box(image, boxes, self.boxes[index])
        return make_sample(image, boxes, self.base.samples[index][1], index, self.transform)


def _to_stored_frame(boxes: torch.Tensor, sizes: torch.Tensor, frame: int) -> torch.Tensor:
    """Inclusive boxes in the ``frame x frame`` resize frame -> the stored images' frames (continuous scaling);
    ``sizes``: ``(N, 2)`` stored (width, height)."""
    wh = torch.as_tensor(sizes, dtype=torch.float64)
    scale = torch.cat([wh, wh], 1) / frame
    cont = boxes.double() + torch.tensor([0, 0, 1, 1], dtype=torch.float64)
    return cont * scale - torch.tensor([0, 0, 1, 1], dtype=torch.float64)


@torch.inference_mode()
def cam_boxes(model, dataset, weights, rows, device="cpu", batch_size: int = 64,
              threshold: float = DEFAULT_THRESHOLD) -> tuple[torch.Tensor, torch.Tensor]:
    """For every image ``i`` of ``dataset``: the box of the CAM of class row ``rows[i]`` with the linear
    ``weights (C, K)`` (:func:`svm_cam_maps`; boxes by :func:`cam_lib.boxes.boxes_from_maps`, as every CAM box),
    in the stored image's frame ``(N, 4)`` (the evaluated frame must be a square resize, as :func:`cub_protocol`
    uses), and whether that box hits a ground-truth box ``(N,)`` (the hit rule of :func:`cam_lib.metrics.box_hits`,
    IoU >= 0.5). One forward pass (``model.forward_features``) per batch; stored sizes come with the batch, nothing
    is decoded twice. The model is left on its device and in its mode afterwards."""
    rows = torch.as_tensor(np.asarray(rows), dtype=torch.int64)
    if len(rows) != len(dataset):
        raise BadInputError(f"parameter rows: {len(rows)} class rows for {len(dataset)} images", param="rows")
    boxes, hits = [], []
    with evaluating(model, device):
        w = torch.as_tensor(weights, dtype=torch.float32, device=device)
        for batch in make_loader(dataset, batch_size, 0, device):
            if batch.skipped:
                raise BadInputError(f"{batch.skipped[0].path}: {batch.skipped[0].reason}", param="dataset")
            images = batch.images.to(device)
            _, fmap = model.forward_features(images)
            maps = svm_cam_maps(fmap.float(), w, rows[batch.indices].to(device), tuple(images.shape[-2:]))
            box = boxes_from_maps(maps, threshold).cpu()
            hits.append(box_hits(box, batch.gt_boxes, batch.gt_valid))
            boxes.append(_to_stored_frame(box, batch.sizes, images.shape[-1]))
    return torch.cat(boxes), torch.cat(hits)


def cub_protocol(model, make_dataset, device="cpu", cache_dir=None, batch_size: int = 64, cs=DEFAULT_CS,
                 threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Table 4 on a CUB-layout dataset. ``make_dataset(split, crop_to_box)`` builds the CUB200 split (with the
    evaluated transform). First the linear SVM on the full images' GAP features (``full``); then every train and
    test image's CAM box, from the SVM's weights for the class the SVM predicts (the network itself has no bird
    classes; see the module docstring); then the SVM on the CAM-box crops (``cam_crop``) and on the ground-truth
    boxes (``gt_box``). ``cam_loc_acc``: the fraction of test images whose CAM box has IoU >= 0.5 with the ground
    truth (the paper's 41.0%). ``per_image``: each test image's outcome of the four (for intervals and the paired
    comparisons of Table 4's claims)."""
    full = {s: make_dataset(s, False) for s in ("train", "test")}
    gt = {s: make_dataset(s, True) for s in ("train", "test")}

    def features(name, sets, keys=None):
        return [extract_features(model, sets[s], "gap", device, batch_size, cache_dir=cache_dir,
                                 cache_key=f"cub-{name}-{s}" + (keys or {}).get(s, "")) for s in ("train", "test")]

    tr, te = features("full", full)
    svm = svm_accuracy(*tr, *te, cs=cs, return_estimator=True)
    weights, _, labels = svm_linear_map(svm["estimator"])
    out = {"cam_loc_acc": None, "full": svm["accuracy"], "per_image": {"full": svm["correct"]}}
    crops, crop_keys = {}, {}
    for split, x in (("train", tr[0]), ("test", te[0])):
        rows = np.searchsorted(labels, svm["estimator"].predict(x))
        boxes, hits = cam_boxes(model, full[split], weights, rows, device, batch_size, threshold)
        crops[split] = CroppedDataset(full[split], boxes)
        crop_keys[split] = "-" + hashlib.sha256(boxes.double().numpy().tobytes()).hexdigest()[:16]  # the crops
        if split == "test":
            out["cam_loc_acc"] = float(hits.double().mean())
            out["per_image"]["cam_loc_acc"] = hits.double().tolist()
    for name, sets, keys in (("cam_crop", crops, crop_keys), ("gt_box", gt, None)):
        tr, te = features(name, sets, keys)
        result = svm_accuracy(*tr, *te, cs=cs)
        out[name], out["per_image"][name] = result["accuracy"], result["correct"]
    return out


def transfer_protocol(model, make_dataset, n_folds: int, kind: str = "gap", device="cpu", cache_dir=None,
                      batch_size: int = 64, cs=DEFAULT_CS, cache_key: str = "") -> dict:
    """One Table 5 cell: linear SVM on ``kind`` features, averaged over the dataset's ``n_folds`` repeats.
    ``make_dataset(split, fold)`` builds a split of one fold. Returns the mean score (accuracy, or mean AP for
    multi-label targets), its standard deviation over folds, the per-fold scores and, single-label, ``correct``: each
    test image's outcome, folds one after the other (the images of a fold in dataset order)."""
    if n_folds < 1:
        raise BadInputError(f"parameter n_folds={n_folds!r}: must be >= 1", param="n_folds")
    scores, correct = [], []
    for fold in range(n_folds):
        tr = extract_features(model, make_dataset("train", fold), kind, device, batch_size, cache_dir=cache_dir,
                              cache_key=f"{cache_key}-train-{fold}")
        te = extract_features(model, make_dataset("test", fold), kind, device, batch_size, cache_dir=cache_dir,
                              cache_key=f"{cache_key}-test-{fold}")
        result = svm_accuracy(*tr, *te, cs=cs)
        scores.append(result.get("accuracy", result.get("mean_ap")))
        correct += result.get("correct", [])
    out = {"score": float(np.mean(scores)), "std": float(np.std(scores)), "folds": scores}
    return out | ({"correct": correct} if correct else {})
