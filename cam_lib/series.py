"""The notebook series (``notebooks/00_data`` ... ``06_cam_figures``): what each profile runs, and the steps the
notebooks share, so that a notebook only calls these and shows what they return.

A :class:`Setup` is built from a notebook's papermill parameters (:func:`setup`). Its checkpoints live under
``checkpoints/<data>-<profile>-s<seed>/<model>/`` (written by :func:`cam_lib.train.train`, reused by every later
notebook: nothing is trained twice), and evaluations are cached beside them keyed by the weights' hash
(:func:`evaluation`), so Table 1 and Table 2 share one localization pass per network.

Profiles on the embedded benchmark (``data="embedded"``): ``smoke`` is a pipeline check in seconds (5 networks,
two epochs on 64 px images: its numbers mean nothing); ``default`` trains the 7 cheapest networks of Table 1 at
width 0.25 on the 10-class ``objects`` from scratch on a CPU; ``full`` trains all 9 on the 26-class build.
On real data (``data="imagenet"``) every network of Table 1 is fine-tuned from its ImageNet backbone with the
paper's recipe (the FC networks and GoogLeNet are used as torchvision ships them: they are the paper's
baselines), best done beforehand with ``torchrun ... -m cam_lib train`` into the same checkpoint folders.
"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .data import build_dataset, make_loader
from .data import synthetic
from .data.common import eval_transform
from .errors import BadInputError
from .io import atomic_write_json, file_sha256, load_checkpoint
from .models import MODEL_NAMES, build_model
from .train import RECIPES, train

__all__ = ["PROFILES", "TABLE1_MODELS", "GAP_MODELS", "FC_MODELS", "Setup", "setup",
           "ensure_trained", "load_trained", "evaluation", "heuristic_evaluation", "environment", "dataset",
           "table1", "table2", "table3", "table4", "table5", "TABLE5_FEATURES", "dataset_figure", "methods_figure",
           "bird_boxes_figure", "transfer_figure", "topk_figure", "class_maps_figure", "photos_figure",
           "data_summary", "check_data", "training_curves", "comparison_figure"]

# Table 1 in the paper's order: GAP networks, the original (FC) networks, NIN, the GMP variant.
TABLE1_MODELS = ("vgg16_gap", "googlenet_gap", "alexnet_star_gap", "alexnet_gap", "googlenet", "vgg16", "alexnet",
                 "nin", "googlenet_gmp")
GAP_MODELS = ("googlenet_gap", "vgg16_gap", "alexnet_star_gap", "alexnet_gap")
FC_MODELS = ("googlenet", "vgg16", "alexnet")
NO_CAM_MODELS = ("alexnet", "vgg16")   # FC layers after the last conv: Backprop is their only map


@dataclass(frozen=True)
class SeriesProfile:
    """What one profile of the embedded benchmark runs."""

    models: tuple[str, ...]
    recipe: str
    width: float
    lr: dict = field(default_factory=dict)   # per-model learning rate (from scratch; no pretrained backbone)


PROFILES: dict[str, SeriesProfile] = {
    "smoke": SeriesProfile(("alexnet_gap", "googlenet_gap", "googlenet_gmp", "alexnet", "googlenet"), "smoke", 0.125),
    "default": SeriesProfile(("googlenet_gap", "alexnet_star_gap", "alexnet_gap", "googlenet", "alexnet", "nin",
                              "googlenet_gmp"), "embedded", 0.25,
                             {"alexnet_gap": 1e-3, "alexnet_star_gap": 1e-3, "alexnet": 1e-3, "nin": 1e-3}),
    "full": SeriesProfile(TABLE1_MODELS, "embedded", 0.25,
                          {"alexnet_gap": 1e-3, "alexnet_star_gap": 1e-3, "alexnet": 1e-3, "nin": 1e-3,
                           "vgg16": 1e-3, "vgg16_gap": 1e-3}),
}
DATA = ("embedded", "imagenet")


@dataclass(frozen=True)
class Setup:
    """Everything a notebook needs to find its data, checkpoints and results."""

    profile: str
    data: str
    models: tuple[str, ...]
    recipe: str
    width: float
    pretrained: bool
    lr: dict
    device: str
    seed: int
    checkpoints: Path                 # this run's folder: checkpoints/<data>-<profile>-s<seed>
    results: Path
    train_root: Path                  # ImageNet-layout root with train/ (Table 1 training)
    val_root: Path                    # ImageNet-layout root with val boxes (Tables 1 and 2)
    test_root: Path                   # ImageNet-layout root of the test split (Table 3)
    cub_root: Path | None             # CUB-200-2011 (Table 4)
    transfer: dict                    # Table 5: name -> (dataset kind, root)
    image_size: int
    num_classes: int
    class_names: tuple[str, ...]

    @property
    def figures(self) -> Path:
        return self.results / "figures"

    @property
    def tables(self) -> Path:
        return self.results / "tables"

    def describe(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()
                if k not in ("class_names",)}


def setup(profile: str = "default", data: str = "embedded", data_root: str | Path = "data",
          models: list[str] | tuple[str, ...] | None = None, device: str = "auto", seed: int = 0,
          checkpoints: str | Path = "checkpoints", results: str | Path = "results", cub_root: str | Path | None = None,
          transfer: dict | None = None, test_root: str | Path | None = None) -> Setup:
    """Check a notebook's parameters and resolve them into a :class:`Setup`; on the embedded benchmark this builds
    (or finds, cached) ``data_root/synthetic-v*-<profile>-s<seed>/``. Bad values raise :class:`BadInputError`
    naming the parameter."""
    if profile not in PROFILES:
        raise BadInputError(f"parameter profile={profile!r}: choose one of {', '.join(PROFILES)}")
    if data not in DATA:
        raise BadInputError(f"parameter data={data!r}: choose one of {', '.join(DATA)}")
    if not isinstance(seed, int) or seed < 0:
        raise BadInputError(f"parameter seed={seed!r}: must be an integer >= 0")
    prof = PROFILES[profile]
    chosen = tuple(models) if models else (prof.models if data == "embedded" else TABLE1_MODELS)
    bad = [m for m in chosen if m not in MODEL_NAMES]
    if bad:
        raise BadInputError(f"parameter models: unknown {bad}; choose from {', '.join(MODEL_NAMES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if data == "embedded":
        root = synthetic.build(profile, data_root, seed=seed)
        train_root = val_root = root / "objects"
        test_root_p, cub = root / "objects_test", root / "birds"
        transfer_sets = transfer or {"scenes": ("folder", str(root / "transfer" / "scenes")),
                                     "things": ("folder", str(root / "transfer" / "things"))}
        recipe, width, pretrained, lr = prof.recipe, prof.width, False, dict(prof.lr)
    else:
        val_root = train_root = Path(data_root)
        if not val_root.is_dir():
            raise BadInputError(f"parameter data_root={str(data_root)!r}: no such ImageNet folder")
        test_root_p = Path(test_root) if test_root else val_root   # ILSVRC test boxes are not public
        cub = Path(cub_root) if cub_root else None
        transfer_sets = transfer or {}
        recipe, width, pretrained, lr = "paper", 1.0, True, {}
    for name, spec in transfer_sets.items():
        if not (isinstance(spec, (list, tuple)) and len(spec) == 2):
            raise BadInputError(f"parameter transfer[{name!r}] must be (dataset kind, root), got {spec!r}")
    val = build_dataset("imagenet", val_root, split="val")
    size = RECIPES[recipe].image_size
    run = Path(checkpoints) / f"{data}-{profile}-s{seed}"
    return Setup(profile, data, chosen, recipe, width, pretrained, lr, device, seed, run, Path(results),
                 train_root, val_root, test_root_p, cub, {k: tuple(v) for k, v in transfer_sets.items()}, size,
                 val.num_classes, tuple(val.class_names))


def dataset(s: Setup, which: str = "val", **kwargs):
    """The evaluated dataset ``which`` (``val``: Tables 1-2, ``test``: Table 3) at the series' image size."""
    root = {"val": s.val_root, "test": s.test_root}[which]
    return build_dataset("imagenet", root, split="val", transform=eval_transform("resize", s.image_size), **kwargs)


def ensure_trained(s: Setup, model: str, progress: bool = False) -> Path:
    """``model.pt`` of ``model`` for this setup: trained now (resuming an interrupted run) unless it exists."""
    out = s.checkpoints / model
    final = out / "model.pt"
    if final.exists():
        return final
    if s.pretrained and model in FC_MODELS and s.num_classes == 1000:
        # the paper's baselines are the released ImageNet networks: store torchvision's weights, train nothing
        from .train import save_checkpoint

        net = build_model(model, num_classes=1000, pretrained=True, width=1.0)
        save_checkpoint(final, model=net.state_dict(), model_name=model, num_classes=1000, width=1.0,
                        data="imagenet", class_names=list(s.class_names))
        return final
    overrides = {"lr": s.lr[model], "new_lr": s.lr[model]} if model in s.lr else {}
    train(model, "imagenet", s.train_root, out, pretrained=s.pretrained and model != "nin", width=s.width,
          recipe=s.recipe, overrides=overrides, device=s.device, resume=True, seed=s.seed, progress=progress)
    return final


def load_trained(s: Setup, model: str) -> torch.nn.Module:
    """The trained network (trains it first if needed), in eval mode on the setup's device."""
    path = ensure_trained(s, model)
    net = build_model(model, num_classes=s.num_classes, width=s.width)
    load_checkpoint(net, path)
    return net.eval().to(s.device)


def _cached(s: Setup, model: str, name: str, key: dict, compute) -> dict:
    """``compute()`` stored as ``<checkpoints>/<model>/<name>.json`` under ``key`` (which includes the weights'
    hash): a rerun with the same weights and settings reads it back instead of recomputing."""
    key = {"weights": file_sha256(ensure_trained(s, model))[:16], **key}
    cache = s.checkpoints / model / f"{name}.json"
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            return stored["result"]
    result = compute()
    atomic_write_json(cache, {"key": key, "result": result})
    return result


def evaluation(s: Setup, model: str, which: str = "val", method: str = "cam", batch_size: int = 32) -> dict:
    """:func:`cam_lib.localize.evaluate` of a trained network on split ``which`` (cached beside its checkpoint):
    classification and localization (top-1/top-5, GT-known, MaxBoxAccV2) from one pass."""
    from .localize import evaluate

    def compute():
        loader = make_loader(dataset(s, which), batch_size, 0, s.device)
        result = evaluate(load_trained(s, model), loader, s.device, method=method, progress=False)
        return result | {"skipped": len(result["skipped"])}
    return _cached(s, model, f"eval-{which}-{method}", {"which": which, "method": method, "size": s.image_size},
                   compute)


def heuristic_evaluation(s: Setup, model: str = "googlenet_gap", which: str = "test", batch_size: int = 32) -> dict:
    """Table 3's plain vs heuristic top-5 localization error of ``model`` on split ``which`` (cached)."""
    from .localize import evaluate_heuristic

    def compute():
        loader = make_loader(dataset(s, which), batch_size, 0, s.device)
        return evaluate_heuristic(load_trained(s, model), loader, s.device, progress=False)
    return _cached(s, model, f"heuristic-{which}", {"which": which, "size": s.image_size}, compute)


# ----------------------------------------------------------------------------------------------------------------
# The tables: each gathers (cached) measurements, puts the paper's numbers beside them and writes the files.

def _pct(x: float) -> float:
    return 100.0 * x


def table1(s: Setup):
    """Table 1: top-1/top-5 classification error of every network of the setup (trains what is missing)."""
    from .results import PAPER_TABLE1, comparison, write_table

    rows = []
    for model in TABLE1_MODELS:
        name, p1, p5 = PAPER_TABLE1[model]
        ev = evaluation(s, model, method="backprop" if model in NO_CAM_MODELS else "cam") \
            if model in s.models else None
        for metric, key, paper in (("top-1 cls err", "top1_cls_err", p1), ("top-5 cls err", "top5_cls_err", p5)):
            rows.append({"row": name, "model": model, "metric": metric,
                         "ours": _pct(ev[key]) if ev else float("nan"), "paper": paper})
    df = comparison(rows)
    write_table(s.results, "table1", df, environment(s), notes=_not_run_note(s))
    return df


def table2(s: Setup):
    """Table 2: CAM localization error of the GAP/GMP networks (and of GoogLeNet and NIN, which already end in a
    global average pool), Backprop on the FC networks, plus GT-known localization and MaxBoxAccV2 columns."""
    from .results import PAPER_TABLE2, comparison, write_table

    rows = []
    for (method, model), (name, p1, p5) in PAPER_TABLE2.items():
        ev = evaluation(s, model, method=method) if model in s.models else None
        if ev:   # the map threshold that boxes best at IoU 0.5 (the paper fixes 20%)
            best = ev["maxboxacc_v2_detail"]["best_threshold"]
            ev = {**ev, "best_threshold_05": best.get("0.5", best.get(0.5))}
        for metric, key, paper in (("top-1 loc err", "top1_loc_err", p1), ("top-5 loc err", "top5_loc_err", p5),
                                   ("GT-known loc acc", "gt_known_loc_acc", float("nan")),
                                   ("MaxBoxAccV2", "maxboxacc_v2", float("nan")),
                                   ("best threshold at IoU 0.5 (% of max)", "best_threshold_05", 20.0)):
            rows.append({"row": name, "method": method, "model": model, "metric": metric,
                         "ours": _pct(ev[key]) if ev else float("nan"), "paper": paper})
    df = comparison(rows)
    write_table(s.results, "table2", df, environment(s), notes="GT-known localization and MaxBoxAccV2 (Choe et al. "
                "2020) are not in the paper; they separate localization from classification. The last metric is the "
                "map threshold (percent of the map's range) at which boxes reach IoU 0.5 most often, against the "
                "paper's fixed 20%: far above 20% means broad maps, whose 20% boxes approach the whole frame. "
                + _not_run_note(s))
    return df


def table3(s: Setup, model: str = "googlenet_gap", backprop_model: str = "googlenet"):
    """Table 3: top-5 localization error on the test split: the heuristic and the plain top-5 boxes of ``model``,
    Backprop on ``backprop_model``; the fully supervised rows are the paper's only."""
    from .results import PAPER_TABLE3, comparison, write_table

    h = heuristic_evaluation(s, model) if model in s.models else {}
    bp = evaluation(s, backprop_model, which="test", method="backprop") if backprop_model in s.models else {}
    ours = {"heuristic": h.get("heuristic_top5_loc_err"), "plain": h.get("plain_top5_loc_err"),
            "backprop": bp.get("top5_loc_err")}
    rows = [{"key": key, "row": name, "supervision": sup, "metric": "top-5 loc err",
             "ours": _pct(ours[key]) if ours.get(key) is not None else float("nan"), "paper": paper}
            for key, (name, sup, paper) in PAPER_TABLE3.items()]
    df = comparison(rows)
    write_table(s.results, "table3", df, environment(s), notes=f"Heuristic and plain rows: {model}; Backprop: "
                f"{backprop_model}. Fully supervised rows are the paper's (we train no box regressor). "
                + ("ILSVRC test boxes are not public: on real data this split is the one given as test_root."
                   if s.data != "embedded" else "Test split: objects_test."))
    return df


def table4(s: Setup, model: str = "googlenet_gap", batch_size: int = 32):
    """Table 4: linear SVM on ``model``'s GAP features of CUB images (full, CAM crop, ground-truth box) and the
    fraction of test images whose CAM box has IoU >= 0.5 (the paper's 41.0%)."""
    from .data.cub import CUB200
    from .features import cub_protocol
    from .results import PAPER_TABLE4, comparison, write_table

    if s.cub_root is None:
        raise BadInputError("parameter cub_root: Table 4 needs a CUB-200-2011 folder on real data")
    ours = {}
    if model in s.models:
        tf = eval_transform("resize", s.image_size)

        def compute():
            net = load_trained(s, model)
            return cub_protocol(net, lambda split, crop: CUB200(s.cub_root, split, transform=tf, crop_to_box=crop),
                                s.device, cache_dir=s.checkpoints / "features", batch_size=batch_size)
        ours = _cached(s, model, "cub", {"root": str(s.cub_root), "size": s.image_size}, compute)
    rows = [{"key": key, "row": name, "annotation": ann, "metric": "accuracy",
             "ours": _pct(ours[key]) if key in ours else float("nan"), "paper": paper}
            for key, (name, ann, paper) in PAPER_TABLE4.items()]
    df = comparison(rows)
    write_table(s.results, "table4", df, environment(s), notes=f"Features: {model} trained in notebook 01, "
                "linear SVM (C by 3-fold CV on train). Rows without our number are other methods of the paper.")
    return df


TABLE5_FEATURES = {"fc7": "alexnet", "avepool": "googlenet", "gap": "googlenet_gap"}


def table5(s: Setup, batch_size: int = 32):
    """Table 5: linear SVM on fc7 of AlexNet, the average pool of GoogLeNet and the GAP of GoogLeNet-GAP, over the
    setup's transfer datasets (folds averaged)."""
    from .data.transfer import build_transfer
    from .features import transfer_protocol
    from .results import comparison, paper_table5, write_table, PAPER_TABLE5

    tf = eval_transform("resize", s.image_size)
    rows = []
    for feature, model in TABLE5_FEATURES.items():
        for name, (kind, root) in s.transfer.items():
            score = float("nan")
            if model in s.models:
                probe = build_transfer(kind, root, split="train", transform=tf)

                def compute(kind=kind, root=root, feature=feature, model=model, probe=probe):
                    return transfer_protocol(load_trained(s, model),
                                             lambda split, fold: build_transfer(kind, root, split=split, transform=tf,
                                                                                **({"fold": fold} if fold else {})),
                                             probe.n_folds, feature, s.device, s.checkpoints / "features",
                                             batch_size, cache_key=f"{name}-{feature}")
                score = _pct(_cached(s, model, f"transfer-{name}-{feature}", {"root": str(root), "kind": kind,
                                                                             "size": s.image_size}, compute)["score"])
            rows.append({"row": PAPER_TABLE5[feature][0], "feature": feature, "model": model, "dataset": name,
                         "metric": "accuracy", "ours": score, "paper": paper_table5(feature, name)})
    df = comparison(rows)
    write_table(s.results, "table5", df, environment(s), notes="On the embedded benchmark the paper column is its "
                "Scene15 value for `scenes` and its Caltech101 value for `things`. The networks were trained on the "
                "objects suite only (notebook 01); the transfer classes are new to them.")
    return df


def _not_run_note(s: Setup) -> str:
    missing = [m for m in TABLE1_MODELS if m not in s.models]
    return (f"Not run in profile {s.profile} (rows without our number): {', '.join(missing)}; "
            "run the `full` profile or pass `models`.") if missing else ""


def environment(s: Setup) -> dict:
    """The facts a results table states in its header: data, profile, hardware, versions, seed, commit."""
    import numpy, sklearn, timm, torchvision

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/cam_lib",
                                ":/notebooks"], capture_output=True, text=True, cwd=Path(__file__).parent,
                               timeout=10).stdout.strip()   # the code, not the results being written
        commit += " (with local changes)" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    device = torch.cuda.get_device_name(0) if s.device.startswith("cuda") else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    data = ("embedded benchmark (generated by cam_lib.data.synthetic, profile "
            f"{s.profile}, seed {s.seed}, {s.num_classes} classes)" if s.data == "embedded"
            else f"{s.data} at {s.val_root}")
    command = f"python -m cam_lib reproduce --profile {s.profile} --data {s.data} --seed {s.seed}"
    if s.data == "embedded" and s.models != PROFILES[s.profile].models:
        command += f" -p models '[{', '.join(s.models)}]'"
    return {"command": command, "data": data, "profile": s.profile, "hardware": device, "seed": s.seed,
            "commit": commit,
            "versions": f"python {platform.python_version()}, torch {torch.__version__}, torchvision "
                        f"{torchvision.__version__}, timm {timm.__version__}, numpy {numpy.__version__}, "
                        f"scikit-learn {sklearn.__version__}",
            "networks": f"width {s.width}, recipe {s.recipe}, {'fine-tuned from ImageNet backbones' if s.pretrained else 'trained from scratch'}"}



# ----------------------------------------------------------------------------------------------------------------
# Figures: the maps and boxes come from cam_lib.localize, the drawing from cam_lib.figures.

def _cam_model(s: Setup, model: str | None) -> str:
    """The network a CAM figure draws: ``model`` if given, else GoogLeNet-GAP when the setup trains it, else the
    first network of the setup that has a CAM (so a figure never trains a network the user left out)."""
    if model is not None:
        return model
    for name in ("googlenet_gap", *GAP_MODELS, "googlenet_gmp", "nin", "googlenet"):
        if name in s.models:
            return name
    raise BadInputError(f"parameter models={list(s.models)}: the CAM figures need a network with a CAM "
                        f"(one of {', '.join(GAP_MODELS)}, googlenet_gmp, nin, googlenet)")


def _first(ds, n: int):
    """A batch of ``n`` images spread over the dataset (every len/n-th image: several classes, deterministic)."""
    from .data.common import collate

    idx = [round(i * len(ds) / n) for i in range(min(n, len(ds)))]
    return collate([ds[i] for i in idx])


def dataset_figure(s: Setup, which: str, path: str | Path, n: int = 8) -> Path:
    """Sample images of ``which`` (``val``, ``test``, ``cub`` or a transfer dataset name) with their boxes."""
    from .data.cub import CUB200
    from .data.transfer import build_transfer
    from .figures import cam_grid

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
    from .figures import cam_grid
    from .localize import localize_batch

    specs = [(m, meth) for m, meth in specs if m in s.models] or [(_cam_model(s, None), "cam")]
    b = _first(dataset(s, which), n)
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
    """The paper's Figure 7: CAM boxes (green) and ground-truth boxes (red) on CUB test images."""
    model = _cam_model(s, model)
    from .data.cub import CUB200
    from .figures import cam_grid
    from .localize import localize_batch

    ds = CUB200(s.cub_root, "test", transform=eval_transform("resize", s.image_size))
    b = _first(ds, n)
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=1)
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [f"{model} CAM"],
                    [[ds.class_names[int(c)] for c in b.labels]], [g[v] for g, v in zip(b.gt_boxes, b.gt_valid)])


def transfer_figure(s: Setup, name: str, path: str | Path, model: str | None = None, n: int = 8) -> Path:
    """CAMs of the top-1 class of ``model`` (trained on the objects) on images of transfer dataset ``name``: what
    the generic features attend to on classes the network never saw."""
    model = _cam_model(s, model)
    from .data.transfer import build_transfer
    from .figures import cam_grid
    from .localize import localize_batch

    kind, root = s.transfer[name]
    ds = build_transfer(kind, root, split="test", transform=eval_transform("resize", s.image_size))
    b = _first(ds, n)
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=1)
    titles = [[f"{ds.class_names[int(c)]}: {s.class_names[int(p)]}" for c, p in zip(b.labels, out.classes[:, 0])]]
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [f"{name} ({model})"],
                    titles)


def topk_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0, k: int = 5) -> Path:
    """The paper's Figure 4: the CAMs and boxes of the top-k predicted classes of one validation image."""
    model = _cam_model(s, model)
    from .data.common import collate
    from .figures import save_topk_overlay
    from .localize import localize_batch

    b = collate([dataset(s, "val")[index]])
    out = localize_batch(load_trained(s, model), b.images.to(s.device), topk=k)
    probs = out.logits.softmax(1)[0]
    titles = [f"{s.class_names[int(c)]} {float(probs[c]):.2f}" for c in out.classes[0]]
    return save_topk_overlay(path, b.images[0], out.maps[0].cpu(), out.boxes[0].cpu(), titles,
                             b.gt_boxes[0][b.gt_valid[0]])


def class_maps_figure(s: Setup, path: str | Path, model: str | None = None, index: int = 0,
                      classes: list[int] | None = None) -> Path:
    """The paper's Figure 5: the maps of several classes (default: every class, up to 6) on the same image."""
    model = _cam_model(s, model)
    from .cam import class_activation_maps, normalize_maps, upsample_maps
    from .boxes import boxes_from_maps
    from .data.common import collate
    from .figures import save_topk_overlay

    net = load_trained(s, model)
    b = collate([dataset(s, "val")[index]])
    classes = list(range(min(6, s.num_classes))) if classes is None else list(classes)
    with torch.inference_mode():
        _, fmap = net.forward_features(b.images.to(s.device))
        cls = torch.tensor([classes], device=s.device)
        maps = normalize_maps(upsample_maps(class_activation_maps(fmap, net.cam_weights, cls), b.images.shape[-2:]))
    return save_topk_overlay(path, b.images[0], maps[0].cpu(), boxes_from_maps(maps)[0].cpu(),
                             [s.class_names[c] for c in classes], b.gt_boxes[0][b.gt_valid[0]])


def photos_figure(path: str | Path, device: str = "cpu", model: str = "tf_efficientnet_lite0") -> Path:
    """CAMs and boxes of the top-1 class of the offline ImageNet network on the photographs shipped in the
    scikit-image and matplotlib wheels (the paper's Figure 1 on real images)."""
    from .data.common import collate
    from .data.imagenet import imagenet_class_names
    from .figures import cam_grid
    from .localize import localize_batch

    ds = build_dataset("photos", transform=eval_transform("resize", 224))
    b = collate([ds[i] for i in range(len(ds))])
    net = build_model(model, num_classes=1000, pretrained=True).eval().to(device)
    out = localize_batch(net, b.images.to(device), topk=1)
    names = imagenet_class_names()
    probs = out.logits.softmax(1)
    titles = [[f"{names[int(c)].split(',')[0]} {float(probs[i, c]):.2f}" for i, c in enumerate(out.classes[:, 0])]]
    return cam_grid(path, b.images, out.maps[:, 0].cpu()[None], out.boxes[:, 0].cpu()[None], [model], titles)


def data_summary(s: Setup) -> str:
    """A Markdown list of the datasets this setup reads, with their sizes and classes."""
    from .data.cub import CUB200
    from .data.transfer import build_transfer

    lines = [f"- train (Table 1): `{s.train_root}`, {len(build_dataset('imagenet', s.train_root, split='train'))} "
             f"images, {s.num_classes} classes",
             f"- val (Tables 1-2): `{s.val_root}`, {len(dataset(s, 'val'))} images with boxes",
             f"- test (Table 3): `{s.test_root}`, {len(dataset(s, 'test'))} images with boxes"]
    if s.cub_root is not None:
        tr, te = CUB200(s.cub_root, "train"), CUB200(s.cub_root, "test")
        lines.append(f"- CUB (Table 4): `{s.cub_root}`, {len(tr)} train / {len(te)} test images, "
                     f"{tr.num_classes} species")
    for name, (kind, root) in s.transfer.items():
        tr, te = build_transfer(kind, root, split="train"), build_transfer(kind, root, split="test")
        lines.append(f"- {name} (Table 5, `{kind}`): `{root}`, {len(tr)} train / {len(te)} test images, "
                     f"{tr.num_classes} classes")
    return "\n".join(lines)


def check_data(s: Setup) -> str:
    """``"data: ok"`` when every class has train and val images with at least one valid box each (for nbval)."""
    val = dataset(s, "val")
    labels = {int(label) for _, label, _ in val.samples} if hasattr(val, "samples") else set()
    if labels != set(range(s.num_classes)):
        return f"data: val covers {len(labels)} of {s.num_classes} classes"
    if any(len(boxes) == 0 for _, _, boxes in val.samples):
        return "data: some val images have no box"
    return "data: ok"


def training_curves(s: Setup, path: str | Path) -> Path:
    """Validation top-1 error per epoch of every trained network (from their ``log.csv``)."""
    import pandas as pd

    from .figures import line_chart

    logs = [pd.read_csv(s.checkpoints / m / "log.csv").assign(model=m) for m in s.models
            if (s.checkpoints / m / "log.csv").exists()]
    if not logs:
        raise BadInputError(f"no training logs under {s.checkpoints}: run notebook 01 first")
    df = pd.concat(logs)
    df["top-1 error (%)"] = 100 * df["top1_err"]
    return line_chart(path, df, "epoch", "top-1 error (%)", "model", "Validation top-1 error while training")


def comparison_figure(df, path: str | Path, title: str, x: str = "row") -> Path:
    """Bars of our numbers in a table returned by table1..table5 (rows without our number left out)."""
    from .figures import bar_chart

    return bar_chart(path, df.dropna(subset=["ours"]), x, "ours", "metric", title)
