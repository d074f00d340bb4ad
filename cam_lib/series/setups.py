"""What each profile of the notebook series runs, and a notebook's parameters resolved into a :class:`Setup`
(data, checkpoints and results folders, networks, device): the first cell of every notebook (Sec. 4 of the paper).

Profiles on the embedded benchmark (``data="embedded"``): ``smoke`` is a pipeline check in seconds (6 networks, two
epochs on 64 px images: its numbers mean nothing); ``default`` trains the 7 cheapest networks of Table 1 at width 0.25
on the 10-class ``objects`` from scratch on a CPU, and applies the paper's surgery to three ImageNet networks
(EfficientNet-Lite0/1/2-GAP and -GMP: ImageNet backbone, its stride-8 stage, its two stride-16 stages and the new
layers fine-tuned on the benchmark, the earlier layers frozen, recipe ``embedded_pretrained``); the GAP one that
localizes best on the validation split is the series' main GAP network (:attr:`Setup.main_gap`: Tables 3-5, the
claims, the figures), trained with two more seeds together with its GMP twin; ``full`` trains all 9 on the 24-class
build, with the same fine-tuned networks. On real data (``data="imagenet"``) every network of Table 1 is fine-tuned
from its ImageNet backbone with the paper's recipe"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..data import build_dataset, synthetic
from ..data.common import eval_transform
from ..errors import BadInputError
from ..models import check_model_name, resolve_device
from ..runs import check_results, claim_results, repo_path, results_folder, run_name, shown_path
from ..train import RECIPES

__all__ = ["PROFILES", "DATA", "TABLE1_MODELS", "GAP_MODELS", "PRETRAINED_GAP_MODELS", "FC_MODELS", "NO_CAM_MODELS",
           "MAIN_CHOICE", "NotTrainedError", "gmp_twin", "SeriesProfile", "SUCCESSORS",
           "Setup", "setup", "seed_variant", "dataset", "images_key", "images_once", "environment", "data_summary",
           "check_data"]

# Table 1 in the paper's order: GAP networks, the original (FC) networks, NIN, the GMP variant.
TABLE1_MODELS = ("vgg16_gap", "googlenet_gap", "alexnet_star_gap", "alexnet_gap", "googlenet", "vgg16", "alexnet",
                 "nin", "googlenet_gmp")
GAP_MODELS = ("googlenet_gap", "vgg16_gap", "alexnet_star_gap", "alexnet_gap")
# The paper's surgery on modern ImageNet networks available offline (Tables 1-5 on the embedded benchmark): GAP and
# GMP heads on EfficientNet-Lite0/1/2. The main GAP network of a setup is the GAP one of them that localizes best on
# the VALIDATION split (Setup.main_gap; chosen by notebook 01, recorded in MAIN_CHOICE).
PRETRAINED_GAP_MODELS = tuple(f"efficientnet_{v}_{p}" for v in ("lite0", "lite1", "lite2") for p in ("gap", "gmp"))
MAIN_CHOICE = "main_gap.json"   # in a setup's checkpoints folder: the main GAP network and the val numbers behind it
FC_MODELS = ("googlenet", "vgg16", "alexnet")
# CAM's successors (cam_lib.methods.successors) that notebook 07 scores beside CAM; the full profile adds Score-CAM
SUCCESSORS = ("gradcam", "gradcampp", "xgradcam", "layercam")
NO_CAM_MODELS = ("alexnet", "vgg16")   # FC layers after the last conv: Backprop is their only map


@dataclass(frozen=True)
class SeriesProfile:
    """What one profile of the embedded benchmark runs."""

    models: tuple[str, ...]
    recipe: str
    width: float
    lr: dict = field(default_factory=dict)   # per-model learning rate (from scratch; no pretrained backbone)
    pretrained: dict = field(default_factory=dict)   # model -> recipe: fine-tuned from its ImageNet backbone
    extra_seeds: tuple[int, ...] = ()   # more training seeds (same data) for the compared pairs of ``seeded``
    seeded: tuple[str, ...] = ()        # besides the main GAP network and its GMP twin, which always are
    successors: tuple[str, ...] = SUCCESSORS   # CAM's successors notebook 07 scores on the main GAP network


_FINE_TUNED = {m: "embedded_pretrained" for m in PRETRAINED_GAP_MODELS}


PROFILES: dict[str, SeriesProfile] = {
    "smoke": SeriesProfile(("efficientnet_lite0_gap", "alexnet_gap", "googlenet_gap", "googlenet_gmp", "alexnet",
                            "googlenet"), "smoke", 0.125, pretrained={"efficientnet_lite0_gap": "smoke_pretrained"},
                           extra_seeds=(1,), seeded=("efficientnet_lite0_gap",)),
    "default": SeriesProfile((*PRETRAINED_GAP_MODELS, "googlenet_gap", "alexnet_star_gap", "alexnet_gap", "googlenet",
                              "alexnet", "nin", "googlenet_gmp"), "embedded", 0.25,
                             {"alexnet_gap": 1e-3, "alexnet_star_gap": 1e-3, "alexnet": 1e-3, "nin": 1e-3},
                             _FINE_TUNED, (1, 2)),
    "full": SeriesProfile(PRETRAINED_GAP_MODELS + TABLE1_MODELS, "embedded", 0.25,
                          {"alexnet_gap": 1e-3, "alexnet_star_gap": 1e-3, "alexnet": 1e-3, "nin": 1e-3,
                           "vgg16": 1e-3, "vgg16_gap": 1e-3}, _FINE_TUNED, (1, 2),
                          successors=(*SUCCESSORS, "scorecam")),   # Score-CAM: a forward pass per channel
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
    fine_tuned: dict                  # model -> recipe, for the embedded benchmark's networks with ImageNet backbones
    extra_seeds: tuple[int, ...]      # more training seeds of the networks of ``seeded`` (see seed_variant)
    seeded: tuple[str, ...]
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
    # real data without a test split with boxes: the validation images are split into two disjoint, seeded halves,
    # thresholds chosen on the first ("val") and reported on the second ("test"); never the same images
    split_val: bool = False
    successors: tuple[str, ...] = SUCCESSORS   # the map methods notebook 07 compares with CAM

    @property
    def figures(self) -> Path:
        return self.results / "figures"

    @property
    def tables(self) -> Path:
        return self.results / "tables"

    def recipe_of(self, model: str) -> str:
        return self.fine_tuned.get(model, self.recipe)

    def width_of(self, model: str) -> float:
        return 1.0 if model in self.fine_tuned else self.width

    def pretrained_of(self, model: str) -> bool:
        """Whether ``model`` starts from ImageNet weights (NIN never does: none exist)."""
        return model in self.fine_tuned or (self.pretrained and model != "nin")

    def size_of(self, model: str | None = None) -> int:
        """The image size ``model`` is trained and evaluated at (default: the series' size)."""
        return RECIPES[self.recipe_of(model)].image_size if model is not None else self.image_size

    @property
    def main_candidates(self) -> tuple[str, ...]:
        """The fine-tuned ImageNet GAP networks of the setup, among which the main one is chosen on validation."""
        return tuple(m for m in PRETRAINED_GAP_MODELS if m.endswith("_gap") and m in self.fine_tuned
                     and m in self.models)

    @property
    def main_gap(self) -> str:
        """The GAP network of Tables 3-5, the claims and the figures: GoogLeNet-GAP (the paper's) without a
        fine-tuned ImageNet network; the only candidate when there is one; else the candidate chosen on the
        VALIDATION split by notebook 01 (:func:`cam_lib.series.artifacts.choose_main_gap`, recorded in
        ``<checkpoints>/main_gap.json``). Before that choice, :class:`NotTrainedError` names notebook 01."""
        if len(self.main_candidates) <= 1:
            return self.main_candidates[0] if self.main_candidates else "googlenet_gap"
        path = self.checkpoints / MAIN_CHOICE
        try:
            choice = json.loads(path.read_text())["model"]
        except (OSError, ValueError, KeyError, TypeError):
            raise NotTrainedError(f"parameter models: the main GAP network of this setup is chosen on the validation "
                                  f"split by notebook 01_classification (no valid {path}); run it first",
                                  param="models") from None
        if choice not in self.main_candidates:
            raise NotTrainedError(f"parameter models: {path} names {choice!r}, not one of this setup's candidates "
                                  f"({', '.join(self.main_candidates)}); rerun notebook 01_classification",
                                  param="models")
        return choice

    @property
    def seeded_models(self) -> tuple[str, ...]:
        """The networks trained with :attr:`extra_seeds` too: the main GAP network and its GMP twin (when the setup
        has it), and the profile's ``seeded``."""
        main = (self.main_gap, gmp_twin(self.main_gap)) if self.extra_seeds and self.main_candidates else ()
        return tuple(dict.fromkeys(m for m in (*main, *self.seeded) if m in self.models))

    def describe(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()
                if k not in ("class_names",)}


def gmp_twin(model: str) -> str:
    """The GMP network of a GAP one (``efficientnet_lite1_gap`` -> ``efficientnet_lite1_gmp``)."""
    return model[:-len("_gap")] + "_gmp" if model.endswith("_gap") else model


class NotTrainedError(BadInputError):
    """A table or figure needs a network (or a choice among networks) that this setup has not trained yet."""


def check_parameters(profile: str = "default", data: str = "embedded", models=None, seed: int = 0) -> tuple[str, ...]:
    """The checks of the series' parameters that need no file (``reproduce`` runs them before it claims a results
    folder; :func:`setup` again): BadInputError naming the parameter. Returns the networks of the run."""
    if profile not in PROFILES:
        raise BadInputError(f"parameter profile={profile!r}: choose one of {', '.join(PROFILES)}", param="profile")
    if data not in DATA:
        raise BadInputError(f"parameter data={data!r}: choose one of {', '.join(DATA)}", param="data")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInputError(f"parameter seed={seed!r}: must be an integer >= 0", param="seed")
    if isinstance(models, str):   # a bare name, a comma list, or papermill's -p models '[a, b]' (a string)
        models = [m.strip().strip("'\"") for m in models.strip().strip("[]").split(",") if m.strip()]
    if models is not None and not isinstance(models, (list, tuple)):
        raise BadInputError(f"parameter models={models!r}: a list of network names, e.g. ['alexnet_gap'], or "
                            "a comma-separated string 'alexnet_gap,googlenet_gap'", param="models")
    if models is not None and len(models) == 0:
        raise BadInputError("parameter models=[]: name at least one network, or leave it out (None) for the "
                            "profile's networks", param="models")
    chosen = tuple(models) if models else (PROFILES[profile].models if data == "embedded" else TABLE1_MODELS)
    for m in chosen:
        check_model_name(m, "models")
    return chosen


def _check_checkout() -> None:
    """Warn when the kernel runs in another checkout of this project than the one ``cam_lib`` was imported from
    (one virtual environment shared by two clones): its data, checkpoints and results would go to the other."""
    import warnings

    from ..runs import REPO_ROOT

    here = Path.cwd().resolve()
    other = next((p for p in (here, *here.parents) if (p / "cam_lib" / "__init__.py").is_file()
                  and (p / "notebooks").is_dir()), None)
    if other is not None and other != REPO_ROOT.resolve():
        warnings.warn(f"this notebook runs in {other}, but cam_lib was imported from {REPO_ROOT}: data, checkpoints "
                      f"and results go to {REPO_ROOT}. Use the environment of {other} (its own .venv, `make lab` "
                      "there) to work in that checkout.", stacklevel=3)


def _refuse_long_run_under_test(profile: str, data: str, run: Path, models: tuple[str, ...]) -> None:
    """Under pytest (nbval on the stored notebooks, whose defaults train for about 15 minutes with no output),
    refuse a profile other than smoke whose networks are not trained yet, naming the command ``make test`` uses."""
    import os

    if not os.environ.get("PYTEST_VERSION") or os.environ.get("CAM_LIB_ALLOW_LONG_RUN") or profile == "smoke" \
            or data != "embedded" or all((run / m / "model.pt").is_file() for m in models):
        return
    raise BadInputError(f"parameter profile={profile!r}: under pytest (nbval?) the stored notebooks would train "
                        f"{len(models)} networks for about 15 minutes first. nbval runs the smoke copies that `make "
                        "test` prepares: python -m cam_lib reproduce --profile smoke --device cpu --prepare build/nbval "
                        "--data-root build/nbval/data --results build/nbval/results --checkpoints build/nbval/checkpoints "
                        "&& pytest --nbval-lax --nbval-current-env build/nbval/*.ipynb (or set "
                        "CAM_LIB_ALLOW_LONG_RUN=1 to train anyway)", param="profile")


def setup(profile: str = "default", data: str = "embedded", data_root: str | Path = "data",
          models: list[str] | tuple[str, ...] | None = None, device: str = "auto", seed: int = 0,
          checkpoints: str | Path = "checkpoints", results: str | Path | None = None,
          cub_root: str | Path | None = None, transfer: dict | None = None,
          test_root: str | Path | None = None, trained: bool = False) -> Setup:
    """Check a notebook's parameters and resolve them into a :class:`Setup`; on the embedded benchmark this builds
    (or finds, cached) ``data_root/synthetic-v*-<profile>-s<seed>/``. Bad values raise :class:`BadInputError`
    naming the parameter.

    Relative paths are read from the repository root, not the working directory (:func:`cam_lib.runs.repo_path`).
    ``results=None``: the run's own folder (:func:`cam_lib.runs.results_folder`: ``results/`` for the default run,
    ``results/runs/<data>-<profile>-s<seed>/`` for any other). A results folder that another run (data, profile or
    seed) wrote is refused; a new one records this run (``run.json``, :func:`cam_lib.runs.claim_results`).
    ``trained=True`` (the notebooks after 01): on the embedded benchmark a network of the run that is not trained
    yet is named (:class:`NotTrainedError`) before the benchmark is built or the folder claimed."""
    chosen = check_parameters(profile, data, models, seed)
    _check_checkout()
    run = repo_path(checkpoints or "checkpoints") / run_name(data, profile, seed)
    _refuse_long_run_under_test(profile, data, run, chosen)
    missing = [m for m in chosen if not (run / m / "model.pt").is_file()] if trained and data == "embedded" else []
    if missing:   # named before the benchmark is built or the results folder claimed
        raise NotTrainedError(f"parameter models: {', '.join(missing)} not trained for this run (no model.pt under "
                              f"{shown_path(run)}). Train them first with notebook 01_classification: `python -m "
                              f"cam_lib reproduce --profile {profile} --seed {seed} --only 01_classification`",
                              param="models")
    prof = PROFILES[profile]
    device = str(resolve_device(device))
    # the results folder belongs to one run: refused before any work when another run wrote it
    results = check_results(repo_path(results) if results not in (None, "") else results_folder(data, profile, seed),
                            data, profile, seed)
    data_root = repo_path(data_root if data_root not in (None, "") else "data")
    cub_root, test_root = (repo_path(p) if p not in (None, "") else None for p in (cub_root, test_root))
    if data == "embedded":
        root = synthetic.build(profile, data_root, seed=seed)
        train_root = val_root = root / "objects"
        test_root_p, cub = root / "objects_test", root / "birds"
        transfer_sets = transfer or {"scenes": ("folder", str(root / "transfer" / "scenes")),
                                     "things": ("folder", str(root / "transfer" / "things"))}
        recipe, width, pretrained, lr = prof.recipe, prof.width, False, dict(prof.lr)
        fine_tuned = {m: r for m, r in prof.pretrained.items() if m in chosen}
        extra_seeds, seeded = prof.extra_seeds, tuple(m for m in prof.seeded if m in chosen)
    else:
        val_root = train_root = Path(data_root)
        if not val_root.is_dir():
            raise BadInputError(f"parameter data_root={str(data_root)!r}: no such ImageNet folder", param="data_root")
        test_root_p = Path(test_root) if test_root else val_root   # ILSVRC test boxes are not public: see split_val
        cub = Path(cub_root) if cub_root else None
        transfer_sets = transfer or {}
        recipe, width, pretrained, lr, fine_tuned = "paper", 1.0, True, {}, {}
        extra_seeds, seeded = (), ()
    for name, spec in transfer_sets.items():
        if not (isinstance(spec, (list, tuple)) and len(spec) == 2):
            raise BadInputError(f"parameter transfer[{name!r}] must be (dataset kind, root), got {spec!r}", param="transfer")
    val = build_dataset("imagenet", val_root, split="val")
    size = RECIPES[recipe].image_size
    claim_results(results, data, profile, seed)   # the parameters hold: the folder is this run's from now on
    return Setup(profile, data, chosen, recipe, width, pretrained, lr, fine_tuned, extra_seeds, seeded, device, seed, run, results,
                 train_root, val_root, test_root_p, cub, {k: tuple(v) for k, v in transfer_sets.items()}, size,
                 val.num_classes, tuple(val.class_names), split_val=data != "embedded" and not test_root,
                 successors=prof.successors)


def seed_variant(s: Setup, train_seed: int) -> Setup:
    """The same data and networks of ``s.seeded_models`` trained with another seed: checkpoints under
    ``<checkpoints>-t<train_seed>`` (its tables are never written; the claims of compared pairs read them)."""
    if train_seed == s.seed:
        return s
    return replace(s, seed=train_seed, models=s.seeded_models, extra_seeds=(), seeded=(),
                   checkpoints=s.checkpoints.with_name(f"{s.checkpoints.name}-t{train_seed}"))


def dataset(s: Setup, which: str = "val", model: str | None = None, **kwargs):
    """The evaluated dataset ``which`` (``val``: Tables 1-2, ``test``: Table 3) at ``model``'s image size (default:
    the series'). With :attr:`Setup.split_val` (real data without a test split) ``val`` and ``test`` are two
    disjoint halves of the validation images, drawn with the setup's seed."""
    if which not in ("val", "test"):
        raise BadInputError(f"parameter which={which!r}: choose val or test", param="which")
    root = {"val": s.val_root, "test": s.test_root}[which]
    ds = build_dataset("imagenet", root, split="val", transform=eval_transform("resize", s.size_of(model)), **kwargs)
    if not s.split_val:
        return ds
    from torch.utils.data import Subset

    return Subset(ds, halves(s.seed, len(ds))[0 if which == "val" else 1].tolist())


_FINGERPRINTS: dict[tuple, str] = {}   # where -> fingerprint, see images_once


def images_once(where: tuple, make) -> str:
    """The :func:`cam_lib.data.fingerprint` of the datasets ``make()`` builds (joined by ``-``): what cached
    measurements of them are keyed by, so other images (another test folder, the other half of a validation
    folder, an edited annotation) are measured again. Computed once per process for ``where`` (kind, folder, ...):
    files edited while a process (a notebook's kernel) runs are seen by the next one (building a folder's listing
    again at every measurement would cost seconds each on ImageNet)."""
    from ..data import fingerprint

    where = (where[0], str(Path(where[1]).resolve()), *where[2:])
    if where not in _FINGERPRINTS:
        _FINGERPRINTS[where] = "-".join(fingerprint(d) for d in make())
    return _FINGERPRINTS[where]


def images_key(s: Setup, which: str = "val") -> str:
    """:func:`images_once` of the evaluated split ``which`` (:func:`dataset`)."""
    root = {"val": s.val_root, "test": s.test_root}.get(which)
    return images_once(("eval", root or "", which, s.split_val, s.seed), lambda: [dataset(s, which)])


def halves(seed: int, n: int):
    """Two disjoint halves of ``range(n)`` drawn with ``seed`` (sorted index arrays): on real data without a test
    split, thresholds (and content-free boxes) are chosen on the first and numbers reported on the second."""
    import numpy as np

    order = np.random.default_rng([seed, n]).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def environment(s: Setup) -> dict:
    """The facts a results table states in its header: data, profile, hardware, versions, seed, commit."""
    import numpy
    import sklearn
    import timm
    import torchvision

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
        (f"CPU ({cpu_model()}, {torch.get_num_threads()} threads, torch CPU kernels "
         f"{torch.backends.cpu.get_cpu_capability()})")
    data = ("embedded benchmark (generated by cam_lib.data.synthetic, profile "
            f"{s.profile}, seed {s.seed}, {s.num_classes} classes)" if s.data == "embedded"
            else f"{s.data} at {shown_path(s.val_root)}")
    command = f"python -m cam_lib reproduce --profile {s.profile} --data {s.data} --seed {s.seed}"
    if s.data == "embedded" and s.models != PROFILES[s.profile].models:
        command += f" -p models '[{', '.join(s.models)}]'"
    return {"command": command, "run": run_name(s.data, s.profile, s.seed), "data": data, "profile": s.profile,
            "hardware": device, "seed": s.seed,
            "commit": commit,
            "versions": f"python {platform.python_version()}, torch {torch.__version__}, torchvision "
                        f"{torchvision.__version__}, timm {timm.__version__}, numpy {numpy.__version__}, "
                        f"scikit-learn {sklearn.__version__}",
            "networks": f"width {s.width}, recipe {s.recipe}, "
                        f"{'fine-tuned from ImageNet backbones' if s.pretrained else 'trained from scratch'}"
                        + "".join(f"; {m}: ImageNet backbone, recipe {r}" for m, r in s.fine_tuned.items())}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's processor string): trained networks
    and their numbers can differ between CPU models (vector instruction sets), so every results header names it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data_summary(s: Setup) -> str:
    """A Markdown list of the datasets this setup reads, with their sizes and classes."""
    from ..data.cub import CUB200
    from ..data.transfer import build_transfer

    lines = [f"- train (Table 1): `{shown_path(s.train_root)}`, {len(build_dataset('imagenet', s.train_root, split='train'))} "
             f"images, {s.num_classes} classes",
             f"- val (Tables 1-2): `{shown_path(s.val_root)}`, {len(dataset(s, 'val'))} images with boxes",
             f"- test (Table 3): `{shown_path(s.test_root)}`, {len(dataset(s, 'test'))} images with boxes"]
    if s.cub_root is not None:
        tr, te = CUB200(s.cub_root, "train"), CUB200(s.cub_root, "test")
        lines.append(f"- CUB (Table 4): `{shown_path(s.cub_root)}`, {len(tr)} train / {len(te)} test images, "
                     f"{tr.num_classes} species")
    for name, (kind, root) in s.transfer.items():
        tr, te = build_transfer(kind, root, split="train"), build_transfer(kind, root, split="test")
        lines.append(f"- {name} (Table 5, `{kind}`): `{shown_path(root)}`, {len(tr)} train / {len(te)} test images, "
                     f"{tr.num_classes} classes")
    return "\n".join(lines)


def check_data(s: Setup) -> str:
    """``"data: ok"`` when every class has train and val images with at least one valid box each (for nbval)."""
    val = getattr(dataset(s, "val"), "dataset", None) or dataset(s, "val")   # all validation images
    labels = {int(label) for _, label, _ in val.samples} if hasattr(val, "samples") else set()
    if labels != set(range(s.num_classes)):
        return f"data: val covers {len(labels)} of {s.num_classes} classes"
    if any(len(boxes) == 0 for _, _, boxes in val.samples):
        return "data: some val images have no box"
    return "data: ok"
