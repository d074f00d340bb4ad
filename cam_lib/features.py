"""Deep features for generic localization (Sec. 4.1 fine-grained, Table 4; Sec. 5 generic features, Table 5).

- :func:`extract_features`: the three feature kinds of Table 5 in one batched forward pass each: ``gap`` (the
  pooled last-conv map that feeds a GAP network's classifier), ``avepool`` (the same for the original GoogLeNet,
  whose 7x7 average pool is a GAP) and ``fc7`` (AlexNet's second fully connected layer after its ReLU). Cached
  on disk as ``.npz``, keyed by the model weights' hash, dataset, split, transform and kind: a rerun extracts
  nothing.
- :func:`svm_accuracy`: a linear SVM (scikit-learn ``LinearSVC``) with C chosen by cross-validation on the
  training split only; multi-label targets (SUN Attribute) are scored by mean average precision.
- :func:`cub_protocol`: Table 4 (SVM on the full image, on the crop of the top-1 class's CAM box, on the
  ground-truth box) and the CAM localization accuracy on the test split at IoU >= 0.5 (the paper's 41.0%).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .boxes import DEFAULT_THRESHOLD, box_iou
from .data import make_loader
from .data.common import crop_to_box, make_sample
from .errors import BadInputError
from .io import atomic_write_bytes
from .localize import localize_batch

FEATURE_KINDS = ("gap", "avepool", "fc7")
DEFAULT_CS = (0.001, 0.01, 0.1, 1.0, 10.0)

__all__ = ["FEATURE_KINDS", "features_of", "extract_features", "svm_accuracy", "CroppedDataset", "cub_protocol",
           "transfer_protocol"]


def features_of(model: torch.nn.Module, images: torch.Tensor, kind: str) -> torch.Tensor:
    """``(B, D)`` features of one batch from one forward pass of the backbone."""
    if kind not in FEATURE_KINDS:
        raise BadInputError(f"feature kind must be one of {FEATURE_KINDS}, got {kind!r}")
    fmap = model.features((images - model.mean) / model.std)
    if kind in ("gap", "avepool"):
        if not model.has_cam:
            raise BadInputError(f"'{kind}' features need a network with a global pooling head; {model.name} has FC "
                                f"layers (use 'fc7')")
        return fmap.amax((2, 3)) if model.head.pool == "max" else fmap.mean((2, 3))
    if model.has_cam or not hasattr(model.head, "classifier"):
        raise BadInputError(f"'fc7' features need an FC network (alexnet, vgg16), got {model.name}")
    head = model.head
    return head.classifier[:6](head.flatten(head.avgpool(head.pool5(fmap))))


def _weights_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.inference_mode()
def extract_features(model: torch.nn.Module, dataset: Dataset, kind: str, device: str | torch.device = "cpu",
                     batch_size: int = 64, workers: int = 0, cache_dir: str | Path | None = None,
                     cache_key: str = "", progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, D) float32, targets)`` of a dataset, in dataset order. With ``cache_dir``, the result is
    stored under a key of the weights' hash, the feature kind, the dataset (class, root, split, fold, size), its
    transform and ``cache_key`` (anything else that changes the images, e.g. crop boxes), and read back on the
    next call: a rerun extracts nothing."""
    model.eval().to(device)
    path = None
    if cache_dir is not None:
        where = [type(dataset).__name__, getattr(dataset, "root", ""), getattr(dataset, "split", ""),
                 getattr(dataset, "fold", ""), len(dataset), repr(getattr(dataset, "transform", ""))]
        key = hashlib.sha256("|".join(map(str, [_weights_hash(model), kind, cache_key, *where])).encode()
                             ).hexdigest()[:24]
        path = Path(cache_dir) / f"{kind}-{key}.npz"
        if path.exists():
            data = np.load(path)
            return data["features"], data["targets"]
    feats, labels = [], []
    for batch in tqdm(make_loader(dataset, batch_size, workers, device), desc=f"features {kind}",
                      disable=not progress):
        if batch.skipped:
            raise BadInputError(f"{batch.skipped[0].path}: {batch.skipped[0].reason}")
        feats.append(features_of(model, batch.images.to(device), kind).float().cpu())
        labels.append(batch.labels)
    features = torch.cat(feats).numpy()
    targets = np.asarray(getattr(dataset, "targets", torch.cat(labels).numpy()))
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, features=features, targets=targets)
        atomic_write_bytes(path, buf.getvalue())
    return features, targets


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
    be a square resize, as :func:`cub_protocol` uses), and whether that box has IoU >= 0.5 with a ground-truth box
    ``(N,)``. One forward pass per batch; stored sizes come with the batch, nothing is decoded twice."""
    boxes, hits = [], []
    for batch in make_loader(dataset, batch_size, 0, device):
        out = localize_batch(model, batch.images.to(device), topk=1, threshold=threshold)
        box = out.boxes[:, 0].cpu()
        iou = box_iou(box[:, None], batch.gt_boxes)[:, 0]
        hits.append(((iou >= 0.5) & batch.gt_valid).any(1))
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
