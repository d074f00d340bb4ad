"""Deep features for generic localization (Sec. 4.1 fine-grained, Table 4; Sec. 5 generic features, Table 5).

- :func:`extract_features`: the three feature kinds of Table 5 in one batched forward pass each, asked of the
  model by name (:meth:`cam_lib.models.CAMNet.feature`): ``gap`` (the pooled last-conv map that feeds a GAP
  network's classifier), ``avepool`` (the same for the original GoogLeNet, whose 7x7 average pool is a GAP) and
  ``fc7`` (AlexNet's second fully connected layer after its ReLU). Cached on disk as ``.npz``
  (:func:`cam_lib.io.cached_arrays`), keyed by the model weights' hash, dataset, split, transform and kind: a
  rerun extracts nothing.
- :func:`svm_accuracy`: a linear SVM (scikit-learn ``LinearSVC``) with C chosen by cross-validation on the
  training split only; multi-label targets (SUN Attribute) are scored by mean average precision.
- :func:`cub_protocol`: Table 4 (SVM on the full image, on the crop of the top-1 class's CAM box, on the
  ground-truth box) and the CAM localization accuracy on the test split at IoU >= 0.5 (the paper's 41.0%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD
from .data import make_loader
from .data.common import crop_to_box, make_sample
from .errors import BadInputError
from .io import cached_arrays, weights_hash
from .localize import localize_batch
from .metrics import box_hits
from .models import FEATURE_KINDS, evaluating

DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0)

__all__ = ["FEATURE_KINDS", "extract_features", "svm_accuracy", "CroppedDataset", "cub_protocol",
           "transfer_protocol"]


def extract_features(model: torch.nn.Module, dataset: Dataset, kind: str, device: str | torch.device = "cpu",
                     batch_size: int = 64, workers: int = 0, cache_dir: str | Path | None = None,
                     cache_key: str = "", progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, D) float32, targets)`` of a dataset, in dataset order: the model's named feature ``kind``
    (:meth:`cam_lib.models.CAMNet.feature`). With ``cache_dir``, the result is cached (:func:`cam_lib.io.cached_arrays`)
    under the weights' hash, the feature kind, the dataset (class, root, split, fold, size), its transform and
    ``cache_key`` (anything else that changes the images, e.g. crop boxes): a rerun extracts nothing. The model is
    left on its device and in its mode afterwards."""
    if kind not in FEATURE_KINDS:
        raise BadInputError(f"parameter kind={kind!r}: choose one of {', '.join(FEATURE_KINDS)}", param="kind")

    @torch.inference_mode()
    def compute() -> dict:
        feats, labels = [], []
        with evaluating(model, device):
            for batch in tqdm(make_loader(dataset, batch_size, workers, device), desc=f"features {kind}",
                              disable=not progress):
                if batch.skipped:
                    raise BadInputError(f"{batch.skipped[0].path}: {batch.skipped[0].reason}")
                feats.append(model.feature(batch.images.to(device), kind).float().cpu())
                labels.append(batch.labels)
        features = torch.cat(feats).numpy()
        return {"features": features, "targets": np.asarray(getattr(dataset, "targets", torch.cat(labels).numpy()))}

    if cache_dir is None:
        out = compute()
    else:
        key = {"weights": weights_hash(model), "kind": kind, "cache_key": cache_key,
               "dataset": [type(dataset).__name__, getattr(dataset, "root", ""), getattr(dataset, "split", ""),
                           getattr(dataset, "fold", ""), len(dataset), repr(getattr(dataset, "transform", ""))]}
        out = cached_arrays(cache_dir, kind, key, compute)
    return out["features"], out["targets"]


def svm_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 cs: tuple[float, ...] = DEFAULT_CS, folds: int = 3, seed: int = 0) -> dict:
    """Linear SVM on L2-normalised features, C by ``folds``-fold cross-validation on the training split only.
    Returns ``{"accuracy" | "mean_ap", "C"}``; multi-label ``(N, A)`` targets use one-vs-rest and mean AP."""
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
        return {"mean_ap": float(average_precision_score(test_y, scores, average="macro")), "C": c}
    return {"accuracy": float((search.predict(test_x) == test_y).mean()), "C": c}


class CroppedDataset(Dataset):
    """A box dataset with each image cropped to a given box in its stored frame (the CAM-crop row of Table 4)."""

    def __init__(self, base, boxes: torch.Tensor, transform=None):
        if len(boxes) != len(base):
            raise BadInputError(f"{len(boxes)} crop boxes for {len(base)} images")
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
def cam_boxes(model, dataset, device="cpu", batch_size: int = 64, threshold: float = DEFAULT_THRESHOLD):
    """For every image: the top-1 class CAM box in the stored image's frame ``(N, 4)`` (the evaluated frame must
    be a square resize, as :func:`cub_protocol` uses), and whether that box hits a ground-truth box ``(N,)`` (the
    hit rule of :func:`cam_lib.metrics.box_hits`, IoU >= 0.5). One forward pass per batch; stored sizes come with
    the batch, nothing is decoded twice. The model is left on its device and in its mode afterwards."""
    boxes, hits = [], []
    with evaluating(model, device):
        for batch in make_loader(dataset, batch_size, 0, device):
            out = localize_batch(model, batch.images.to(device), topk=1, threshold=threshold)
            box = out.boxes[:, 0].cpu()
            hits.append(box_hits(box, batch.gt_boxes, batch.gt_valid))
            boxes.append(_to_stored_frame(box, batch.sizes, batch.images.shape[-1]))
    return torch.cat(boxes), torch.cat(hits)


def cub_protocol(model, make_dataset, device="cpu", cache_dir=None, batch_size: int = 64, cs=DEFAULT_CS,
                 threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Table 4 on a CUB-layout dataset. ``make_dataset(split, crop_to_box)`` builds the CUB200 split (with the
    evaluated transform). Returns the SVM accuracy on the full image, the CAM-box crop and the ground-truth box,
    and ``cam_loc_acc``: the fraction of test images whose top-1 class CAM box has IoU >= 0.5 with the ground
    truth (the paper's 41.0%)."""
    full = {s: make_dataset(s, False) for s in ("train", "test")}
    gt = {s: make_dataset(s, True) for s in ("train", "test")}
    crops, loc = {}, None
    for split, ds in full.items():
        boxes, hits = cam_boxes(model, ds, device, batch_size, threshold)
        crops[split] = CroppedDataset(ds, boxes)
        if split == "test":
            loc = float(hits.double().mean())
    out = {"cam_loc_acc": loc}
    for name, sets in (("full", full), ("cam_crop", crops), ("gt_box", gt)):
        tr = extract_features(model, sets["train"], "gap", device, batch_size, cache_dir=cache_dir,
                              cache_key=f"cub-{name}-train")
        te = extract_features(model, sets["test"], "gap", device, batch_size, cache_dir=cache_dir,
                              cache_key=f"cub-{name}-test")
        out[name] = svm_accuracy(*tr, *te, cs=cs)["accuracy"]
    return out


def transfer_protocol(model, make_dataset, n_folds: int, kind: str = "gap", device="cpu", cache_dir=None,
                      batch_size: int = 64, cs=DEFAULT_CS, cache_key: str = "") -> dict:
    """One Table 5 cell: linear SVM on ``kind`` features, averaged over the dataset's ``n_folds`` repeats.
    ``make_dataset(split, fold)`` builds a split of one fold. Returns the mean score (accuracy, or mean AP for
    multi-label targets), its standard deviation over folds, and the per-fold scores."""
    if n_folds < 1:
        raise BadInputError(f"n_folds must be >= 1, got {n_folds}")
    scores = []
    for fold in range(n_folds):
        tr = extract_features(model, make_dataset("train", fold), kind, device, batch_size, cache_dir=cache_dir,
                              cache_key=f"{cache_key}-train-{fold}")
        te = extract_features(model, make_dataset("test", fold), kind, device, batch_size, cache_dir=cache_dir,
                              cache_key=f"{cache_key}-test-{fold}")
        result = svm_accuracy(*tr, *te, cs=cs)
        scores.append(result.get("accuracy", result.get("mean_ap")))
    return {"score": float(np.mean(scores)), "std": float(np.std(scores)), "folds": scores}
