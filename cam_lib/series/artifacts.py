"""The series' artifacts: trained networks (Table 1, Sec. 3.1) and the cached measurements every table reads.

Training happens in ONE place, :func:`ensure_trained`, which only notebook ``01_classification`` (and so
``python -m cam_lib reproduce``) calls. Everything else only reads: :func:`load_trained` raises
:class:`NotTrainedError` (naming the notebook and the command that train the network) when a checkpoint is
missing, so asking for a table or a figure never trains by surprise.

Checkpoints live under ``checkpoints/<data>-<profile>-s<seed>/<model>/model.pt``. Measurements are cached beside
them with :func:`cam_lib.io.cached_json`, keyed by the checkpoint file's content hash (:func:`checkpoint_hash`), the
settings and the measured images (:func:`~cam_lib.series.setups.images_once`), so Table 1 and Table 2 share one
localization pass per network, a rerun reads them back without loading a network, and other images are measured
again. A network is loaded once per process (:func:`load_trained`, memoised by checkpoint, content hash and
device), whatever the number of tables, rows, claims and figures that ask for it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import make_loader
from ..data.common import eval_transform
from ..errors import BadInputError
from ..io import cached_json, file_sha256, load_checkpoint
from ..localize import Evaluation, HeuristicEvaluation, evaluate, evaluate_heuristic
from ..models import build_model
from ..train import recipe_change, resolve_recipe, train, trained_on
from .setups import FC_MODELS, MAIN_CHOICE, NotTrainedError, Setup, dataset, images_key, images_once

__all__ = ["BASELINES", "IMAGE_BASELINES", "colour_model", "image_baseline", "choose_main_gap", "main_choice", "NotTrainedError", "BaselinesUnavailableError", "BaselineBoxes", "baseline_boxes",
           "ensure_trained", "checkpoint", "checkpoint_hash", "load_trained", "forget_networks", "evaluation",
           "heuristic_evaluation", "cub_evaluation", "transfer_evaluation"]

CACHE_VERSION = 8   # bump when what a cached measurement holds (or its key) changes; 7: box coverage, Wilson;
#                    8: keyed by the measured images (cam_lib.data.fingerprint)
BASELINES = {"frame": "Whole frame (baseline)", "centered": "Centred box of the mean largest train box (baseline)",
             "best_fixed": "Best fixed box chosen on train (baseline)"}


def ensure_trained(s: Setup, model: str, progress: bool = False) -> Path:
    """``model.pt`` of ``model`` for this setup: trained now (resuming an interrupted run) unless it exists. The
    only function of the series that trains (notebook 01)."""
    out = s.checkpoints / model
    final = out / "model.pt"
    overrides = {"lr": s.lr[model], "new_lr": s.lr[model]} if model in s.lr else {}
    if final.exists():
        changed = recipe_change(out / "checkpoint.pt", resolve_recipe(s.recipe_of(model), overrides))
        if changed and s.data == "embedded":   # the series trains these itself: another recipe's network is stale
            raise BadInputError(f"{out}: {model} was trained with another recipe than this setup's ({changed}); "
                                "delete that folder to train it again", param="checkpoints")
        recorded = trained_on(final) if s.data == "embedded" else None   # files before the record: not known
        if recorded is not None and recorded != train_images(s):   # e.g. a benchmark of another generator version
            raise BadInputError(f"{out}: {model} was trained on other images than this setup's training split "
                                f"{s.train_root} (fingerprint {recorded}, the split's is {train_images(s)}); delete "
                                "that folder to train it again", param="checkpoints")
        if changed:   # real data: networks the user trained beforehand (torchrun), perhaps with their own settings
            warnings.warn(f"{out}: {model} was trained with another recipe than this setup's {s.recipe_of(model)!r} "
                          f"({changed}); the series evaluates it as it is", stacklevel=2)
        return final
    if s.pretrained and model in FC_MODELS and s.num_classes == 1000:
        # the paper's baselines are the released ImageNet networks: store torchvision's weights, train nothing
        from ..train import save_checkpoint

        net = build_model(model, num_classes=1000, pretrained=True, width=1.0)
        save_checkpoint(final, model=net.state_dict(), model_name=model, num_classes=1000, width=1.0,
                        data="imagenet", class_names=list(s.class_names))
        return final
    train(model, "imagenet", s.train_root, out, pretrained=s.pretrained_of(model), width=s.width_of(model),
          recipe=s.recipe_of(model), overrides=overrides, device=s.device, resume=True, seed=s.seed, progress=progress,
          cache_dir=s.checkpoints.parent / "backbone-maps")   # shared by the networks (and seeds) of one backbone
    return final


def train_images(s: Setup) -> str:
    """:func:`cam_lib.data.fingerprint` of the setup's training split (what :func:`cam_lib.train.train` records in
    the checkpoints it writes), once per process and folder."""
    from ..data import build_dataset

    return images_once(("train", s.train_root), lambda: [build_dataset("imagenet", s.train_root, split="train")])


def _training_key(s: Setup) -> dict:
    """What the measurements learned on the training split (the fixed boxes, the colour model) are keyed by: its
    folder and, on the embedded benchmark (rebuilt in place when its generator or profile changes), its images'
    fingerprint. On real data the folder alone: listing ImageNet's training images for a key would cost minutes
    at every run. No training split to read: ``images`` None (learning on it then raises
    :class:`BaselinesUnavailableError`, which says why)."""
    if s.data != "embedded":
        return {"root": str(s.train_root)}
    try:
        return {"root": str(s.train_root), "images": train_images(s)}
    except BadInputError:
        return {"root": str(s.train_root), "images": None}


def checkpoint(s: Setup, model: str) -> Path:
    """The trained ``model.pt`` of ``model``; :class:`NotTrainedError` when it does not exist (nothing is trained)."""
    path = s.checkpoints / model / "model.pt"
    if not path.exists():
        raise NotTrainedError(
            f"parameter models: {model} is not trained for this setup (no {path}). Train it with notebook 01_classification, "
            f"or `python -m cam_lib reproduce --profile {s.profile} --data {s.data} --seed {s.seed} --only "
            f"01_classification`, or `python -m cam_lib train --model {model} --out {path.parent} ...`",
            param="models")
    return path


_HASHES: dict[tuple[str, int, int], str] = {}       # (path, size, mtime_ns) -> sha256 of the file
_NETWORKS: dict[tuple, torch.nn.Module] = {}        # see load_trained


def checkpoint_hash(path: str | Path) -> str:
    """sha256 (hex) of a checkpoint file's bytes (:func:`cam_lib.io.file_sha256`), computed once per file per
    process: remembered under the file's (path, size, mtime_ns), so a rewritten file (another training) is hashed
    again."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = (str(path), st.st_size, st.st_mtime_ns)
    if stamp not in _HASHES:
        _HASHES[stamp] = file_sha256(path)
    return _HASHES[stamp]


def load_trained(s: Setup, model: str) -> torch.nn.Module:
    """The trained network, in eval mode on the setup's device. Never trains (see :func:`checkpoint`).

    Memoised for the process: one load per checkpoint file (its path and :func:`checkpoint_hash`), device and
    architecture, shared by every table, claim and figure that asks for it (callers only run it, in eval mode). A
    checkpoint rewritten since is loaded again, replacing the old network; :func:`forget_networks` frees them."""
    path = checkpoint(s, model)
    digest = checkpoint_hash(path)
    where = str(path.resolve())
    key = (where, digest, str(s.device), model, s.num_classes, s.width_of(model))
    net = _NETWORKS.get(key)
    if net is None:
        for old in [k for k in _NETWORKS if k[0] == where]:   # an older file at the same path
            del _NETWORKS[old]
        net = build_model(model, num_classes=s.num_classes, width=s.width_of(model))
        load_checkpoint(net, path)
        net = _NETWORKS[key] = net.eval().to(s.device)
    return net


def forget_networks() -> None:
    """Drop the networks :func:`load_trained` keeps (their memory is freed once no caller holds them)."""
    _NETWORKS.clear()


def _cached(s: Setup, model: str, name: str, images: str, key: dict, compute) -> dict:
    """``compute(net)`` of the trained network, cached under ``<checkpoints>/<model>/`` by the checkpoint's
    content hash (:func:`checkpoint_hash`), the measured ``images`` (their fingerprint: :func:`images_key`,
    :func:`images_once`) and ``key`` (:func:`cam_lib.io.cached_json`); the network is loaded (:func:`load_trained`)
    only when the measurement is not cached yet."""
    key = {"version": CACHE_VERSION, "checkpoint": checkpoint_hash(checkpoint(s, model)), "size": s.size_of(model),
           "images": images, **key}
    return cached_json(s.checkpoints / model, name, key, lambda: compute(load_trained(s, model)))


TRAIN_BOX_IMAGES = 20000   # training images whose boxes set the fixed-box baselines (a deterministic subsample)


class BaselinesUnavailableError(BadInputError):
    """Table 2's content-free boxes cannot be chosen: the setup's training split is missing or has no boxes
    (``param="train_root"``). Table 2 then says its baseline rows were not measured, with this reason."""

    def __init__(self, reason: str, param: str = "train_root") -> None:
        super().__init__(f"parameter {param}: {reason}", param=param)
        self.reason = reason


@dataclass(frozen=True)
class BaselineBoxes:
    """Table 2's trivial baselines (:func:`baseline_boxes`): ``boxes``, the normalised box of each of
    :data:`BASELINES` (``frame``, ``centered``, ``best_fixed``), the best fixed box's hit rate on the training
    boxes and the number of training images they were chosen on."""

    boxes: dict[str, list[float]]
    best_fixed_train_hit_rate: float
    train_images: int

    def to_json(self) -> dict:
        return {**self.boxes, "best_fixed_train_hit_rate": self.best_fixed_train_hit_rate,
                "train_images": self.train_images}

    @classmethod
    def from_json(cls, data: dict) -> "BaselineBoxes":
        if "missing" in data:   # written by an older version, which cached the reason instead of raising
            raise BaselinesUnavailableError(data["missing"], param="train_root")
        return cls({k: list(data[k]) for k in BASELINES}, float(data["best_fixed_train_hit_rate"]),
                   int(data["train_images"]))


_UNAVAILABLE: dict[tuple[str, int], BaselinesUnavailableError] = {}   # not cached on disk: asked once per process


def baseline_boxes(s: Setup) -> BaselineBoxes:
    """Table 2's trivial baselines as normalised boxes, chosen on the TRAINING split's boxes only (cached): the whole
    frame, a centred box of the mean ground-truth size, and the best single fixed box
    (:mod:`cam_lib.metrics.baselines`). Boxes are normalised by each stored image's size (read from its header).
    Raises :class:`BaselinesUnavailableError` when the setup has no training split with boxes."""
    from ..data import build_dataset
    from ..data.common import stored_sizes
    from ..metrics import choose_baseline_boxes

    where = (str(s.train_root), TRAIN_BOX_IMAGES)
    if where in _UNAVAILABLE:
        raise _UNAVAILABLE[where]

    def compute() -> dict:
        try:
            train_set = build_dataset("imagenet", s.train_root, split="train")
        except BadInputError as err:   # e.g. a val-only ImageNet folder
            raise BaselinesUnavailableError(f"no training split to choose the fixed boxes on ({err})",
                                            param="train_root") from None
        boxed = [(path, boxes) for path, _, boxes in train_set.samples if len(boxes)]
        if not boxed:
            raise BaselinesUnavailableError(f"the training split at {s.train_root} has no boxes to choose the "
                                            "fixed boxes on", param="train_root")
        boxed = boxed[::max(1, len(boxed) // TRAIN_BOX_IMAGES)]
        out = choose_baseline_boxes([b.numpy() for _, b in boxed], stored_sizes(path for path, _ in boxed))
        return out | {"train_images": out.pop("images")}
    try:
        return BaselineBoxes.from_json(cached_json(s.checkpoints, "baseline-boxes",
                                                   {**_training_key(s), "n": TRAIN_BOX_IMAGES}, compute))
    except BaselinesUnavailableError as err:
        _UNAVAILABLE[where] = err
        raise


def _fixed_boxes(s: Setup) -> dict[str, list[float]]:
    """The baselines' boxes an evaluation scores (none when they cannot be chosen: Table 2 says why)."""
    try:
        return dict(baseline_boxes(s).boxes)
    except BaselinesUnavailableError:
        return {}


# Baselines that look at the image without the network, scored as map methods by the same code as CAM (Table 2):
# method name -> row label.
IMAGE_BASELINES = {"colour_histogram": "Class colour histogram, no network (baseline)",
                   "border_contrast": "Border colour contrast, no network (baseline)"}


def colour_model(s: Setup, size: int):
    """The class colour model (:class:`cam_lib.methods.ColourHistogram`) fitted on the TRAINING split's boxes at
    the evaluation size ``size`` (cached beside the setup's checkpoints)."""
    from ..data import build_dataset
    from ..methods import ColourHistogram

    def compute() -> dict:
        try:
            train_set = build_dataset("imagenet", s.train_root, split="train", transform=eval_transform("resize", size))
        except BadInputError as err:   # e.g. a val-only ImageNet folder: Table 2 says the rows were not measured
            raise BaselinesUnavailableError(f"no training split to learn the colour model on ({err})",
                                            param="train_root") from None
        return ColourHistogram.fit(make_loader(train_set, 64), s.num_classes).to_json()
    key = {"version": CACHE_VERSION, **_training_key(s), "size": size}
    return ColourHistogram.from_json(cached_json(s.checkpoints, "colour-model", key, compute))


def _map_method(s: Setup, method: str, model: str):
    """The map method an evaluation runs: a registered name, or an image baseline built for this setup."""
    if method == "colour_histogram":
        return colour_model(s, s.size_of(model))
    return method


def evaluation(s: Setup, model: str, which: str = "val", method: str = "cam", batch_size: int = 32) -> Evaluation:
    """:func:`cam_lib.localize.evaluate` of a trained network on split ``which`` with map method ``method`` (a
    registered name, or an image baseline of :data:`IMAGE_BASELINES`, whose maps ignore the network), cached beside
    its checkpoint: classification and localization (top-1/top-5, GT-known at every threshold of the grid,
    MaxBoxAccV2) and the maps' box coverage (:class:`cam_lib.metrics.BoxCoverage`) from one pass, each with its
    per-image outcomes, and the content-free boxes (:func:`baseline_boxes`) scored on the same images."""
    from ..metrics import BoxCoverage, PxAP, standard_metrics, threshold_grid

    checkpoint(s, model)   # a missing network is named before anything is computed
    fixed = _fixed_boxes(s)
    mapper = _map_method(s, method, model)

    def compute(net):
        data = dataset(s, which, model)
        loader = make_loader(data, batch_size, 0, s.device)
        grid = threshold_grid(0.01)
        metrics = [*standard_metrics(net.num_classes, grid, threads=1 if s.device == "cpu" else None),
                   BoxCoverage(grid), *([PxAP(grid)] if getattr(getattr(data, "dataset", data), "has_masks", False)
                                        else [])]
        return evaluate(net, loader, s.device, method=mapper, metrics=metrics, progress=False,
                        baselines=fixed).to_json()
    key = {"which": which, "method": method, "baselines": fixed,
           **({"colour_model": _digest(mapper.to_json())} if method == "colour_histogram" else {})}
    return Evaluation.from_json(_cached(s, model, f"eval-{which}-{method}", images_key(s, which), key, compute))


def _digest(data) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def image_baseline(s: Setup, method: str, which: str) -> Evaluation | None:
    """The :func:`evaluation` of image baseline ``method`` (:data:`IMAGE_BASELINES`) on split ``which``, with the
    main GAP network's logits; None when it cannot be measured (no main network, no training split to learn it)."""
    if s.main_gap not in s.models:
        return None
    try:
        return evaluation(s, s.main_gap, which, method)
    except BaselinesUnavailableError:
        return None


def choose_main_gap(s: Setup) -> str:
    """Choose the main GAP network among :attr:`Setup.main_candidates` on the VALIDATION split only: the best
    GT-known localization at its own val-chosen threshold, then the best MaxBoxAccV2 (then the first); record the
    choice and the numbers behind it in ``<checkpoints>/main_gap.json`` (read by :attr:`Setup.main_gap`)."""
    from ..io import atomic_write_json

    candidates = s.main_candidates
    if len(candidates) <= 1:
        return s.main_gap
    numbers = {}
    for model in candidates:
        val = evaluation(s, model, "val")
        tau = val.chosen_threshold()
        numbers[model] = {"gt_known_tau_val": float(val.gt_known_at(tau).mean()), "tau_val": tau,
                          "maxboxacc_v2": val.maxboxacc_v2, "top1_cls_err": val.top1_cls_err}
    best = max(candidates, key=lambda m: (numbers[m]["gt_known_tau_val"], numbers[m]["maxboxacc_v2"],
                                         -candidates.index(m)))
    atomic_write_json(s.checkpoints / MAIN_CHOICE, {"model": best, "chosen_on": "val", "candidates": numbers})
    return best


def main_choice(s: Setup) -> dict:
    """The recorded choice of the main GAP network (:func:`choose_main_gap`): the model and the val numbers of
    every candidate (empty when there was no choice to make)."""
    import json

    path = s.checkpoints / MAIN_CHOICE
    return json.loads(path.read_text()) if len(s.main_candidates) > 1 and path.exists() else {}


def heuristic_evaluation(s: Setup, model: str | None = None, which: str = "test",
                         batch_size: int = 32) -> HeuristicEvaluation:
    """Table 3's plain vs heuristic top-5 localization error of ``model`` (default: :attr:`Setup.main_gap`) on
    split ``which`` (cached)."""
    model = model or s.main_gap
    def compute(net):
        loader = make_loader(dataset(s, which, model), batch_size, 0, s.device)
        return evaluate_heuristic(net, loader, s.device, progress=False).to_json()
    return HeuristicEvaluation.from_json(_cached(s, model, f"heuristic-{which}", images_key(s, which),
                                                 {"which": which}, compute))


def cub_evaluation(s: Setup, model: str | None = None, batch_size: int = 32) -> dict[str, float]:
    """Table 4 on the setup's CUB folder (cached): SVM accuracy on the full image, the CAM crop and the ground-truth
    box, and ``cam_loc_acc`` (:func:`cam_lib.features.cub_protocol`), with ``model``'s GAP features (default:
    :attr:`Setup.main_gap`)."""
    model = model or s.main_gap
    from ..data.cub import CUB200
    from ..features import cub_protocol

    if s.cub_root is None:
        raise BadInputError("parameter cub_root: Table 4 needs a CUB-200-2011 folder on real data", param="cub_root")
    tf = eval_transform("resize", s.size_of(model))

    def compute(net):
        return cub_protocol(net, lambda split, crop: CUB200(s.cub_root, split, transform=tf, crop_to_box=crop),
                            s.device, cache_dir=s.checkpoints / "features", batch_size=batch_size)
    images = images_once(("cub", s.cub_root), lambda: [CUB200(s.cub_root, split) for split in ("train", "test")])
    return _cached(s, model, "cub", images, {"root": str(s.cub_root)}, compute)


def transfer_evaluation(s: Setup, model: str, feature: str, name: str, batch_size: int = 32) -> dict:
    """One Table 5 cell (cached): a linear SVM on ``feature`` of ``model`` over transfer dataset ``name``, folds
    averaged (:func:`cam_lib.features.transfer_protocol`)."""
    from ..data.transfer import build_transfer
    from ..features import transfer_protocol

    kind, root = s.transfer[name]
    tf = eval_transform("resize", s.size_of(model))

    def make(split, fold):
        return build_transfer(kind, root, split=split, transform=tf, **({"fold": fold} if fold else {}))

    def compute(net):
        n_folds = build_transfer(kind, root, split="train", transform=tf).n_folds
        return transfer_protocol(net, make, n_folds, feature, s.device, s.checkpoints / "features", batch_size,
                                 cache_key=f"{name}-{feature}")

    def splits():   # every image of every fold, for the key
        return [make(split, fold) for fold in range(make("train", 0).n_folds) for split in ("train", "test")]
    return _cached(s, model, f"transfer-{name}-{feature}", images_once((kind, root), splits),
                   {"root": str(root), "kind": kind}, compute)
