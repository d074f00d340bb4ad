"""Training and fine-tuning (Sec. 3.1 of the paper: the GAP networks are fine-tuned from ImageNet backbones).

A plain training script in the style of torchvision's ``references/classification``: one process per device,
``torchrun`` for several (DDP; NCCL on GPUs, Gloo on CPUs), a checkpoint every epoch written atomically with
the model, optimizer, scheduler, seed and epoch, and ``--resume`` to continue an interrupted run.

Determinism: the same seed on the same machine (same device, thread count and library versions) gives
bitwise-identical weights and log rows. Every random draw depends on the seed and the epoch alone, never on
what ran before: the shuffle is ``DistributedSampler``'s (seed + epoch), each image's crop and flip are drawn
from (seed, epoch, image index) -- so neither the number of loader workers nor the DDP rank that loads an image
changes it -- and dropout draws from a stream reseeded from (seed, epoch, rank) at the start of every epoch. A
resumed run therefore repeats an uninterrupted one bit for bit. On GPUs training runs with cuDNN's deterministic
algorithms and ``torch.use_deterministic_algorithms`` (warning, not failing, on an operation that has none).

Recipes (:data:`RECIPES`): ``paper`` is the official prototxt (SGD, lr 0.001 on pretrained layers and 10x on the
new ones, momentum 0.9, weight decay 5e-4, step decay x0.1, batch 64, images at 256x256, random 224 crop and
mirror); ``embedded`` trains the small-width networks on the embedded benchmark's 128 px images (profiles
``default`` and ``full``) on a CPU, ``smoke`` on the smoke profile's 64 px images.
``embedded_pretrained`` is the paper's surgery on an ImageNet backbone on the embedded benchmark: the backbone's
early layers are frozen (``frozen``), their feature maps of every training image and its mirror image are computed
once (cached on disk with ``cache_dir``), and the backbone's last ``tuned_stages`` stages, the added conv and the
linear layer train on them; the mirror image an epoch uses is drawn from (seed, epoch, image index) like the crops.
A run refuses to resume a run of another recipe (:func:`recipe_change`); so does the series, on the embedded
benchmark, to reuse such a network (on real data, which users train beforehand, it warns).
Every field can be overridden on the command line.

``model.pt`` holds the final weights with the classifier centred (:func:`cam_lib.models.centre_classifier_`): the
part of the last linear layer common to all classes changes no prediction and no step of training, but it is
added to every class's CAM.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import random
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from . import distributed
from .data import build_dataset, collate, eval_split, fingerprint
from .data.common import Batch, eval_transform, train_transform
from .errors import BadInputError
from .io import atomic_write_bytes, atomic_write_text, read_checkpoint
from .metrics.classification import topk_wrong
from .models import build_model, centre_classifier_, check_model_name, resolve_device
from .progress import TrainingProgress



@dataclass(frozen=True)
class Recipe:
    epochs: int
    lr: float          # pretrained (backbone) layers
    new_lr: float      # layers added by the surgery / a new classifier (and everything when not pretrained)
    momentum: float
    weight_decay: float
    step_size: int     # epochs between x gamma learning-rate steps
    gamma: float
    batch_size: int    # global batch (split across DDP ranks)
    image_size: int    # crop size
    resize: int        # images are resized to resize x resize before the random crop
    mirror: bool = True  # random horizontal flips
    optimizer: str = "sgd"   # sgd (momentum) | adamw (momentum is then beta1)
    schedule: str = "step"   # step (x gamma every step_size epochs) | cosine (to 0 over the run)
    warmup: float = 0.0      # epochs of linear learning-rate warm-up (counted in iterations)
    frozen: bool = False     # keep the pretrained backbone fixed: train the surgery's new layers on its cached maps
    tuned_stages: int = 0    # with frozen: the backbone's last N stages train too (at lr; BatchNorm statistics as
    #                          loaded), on the cached maps of the layers before them


RECIPES = {
    # Official CAM prototxt: 40k-iteration steps at batch 64 are ~2 ImageNet epochs; we step every 2 epochs.
    "paper": Recipe(epochs=6, lr=0.001, new_lr=0.01, momentum=0.9, weight_decay=5e-4, step_size=2, gamma=0.1,
                    batch_size=64, image_size=224, resize=256),
    # The embedded benchmark's smoke profile (64 px images): a pipeline check in seconds, not a result.
    "smoke": Recipe(epochs=2, lr=2e-3, new_lr=2e-3, momentum=0.9, weight_decay=0.05, step_size=2, gamma=0.1,
                    batch_size=32, image_size=64, resize=72, optimizer="adamw", schedule="cosine"),
    # The embedded benchmark's default and full profiles (128 px images, width-reduced networks trained from
    # scratch on a CPU): AdamW with a one-epoch warm-up and a cosine decay reaches a usable network in minutes
    # where the paper's SGD recipe (meant for fine-tuning) barely leaves chance.
    "embedded": Recipe(epochs=15, lr=2e-3, new_lr=2e-3, momentum=0.9, weight_decay=0.05, step_size=8, gamma=0.1,
                       batch_size=32, image_size=112, resize=128, optimizer="adamw", schedule="cosine", warmup=1),
    "smoke_pretrained": Recipe(epochs=2, lr=3e-4, new_lr=3e-3, momentum=0.9, weight_decay=0.05, step_size=2,
                               gamma=0.1, batch_size=32, image_size=64, resize=64, optimizer="adamw",
                               schedule="cosine", frozen=True, tuned_stages=2),
    # The paper's surgery on an ImageNet backbone, fine-tuned on the embedded benchmark on a CPU: the layers before
    # the backbone's stride-8 stage stay as loaded and their stride-4 maps of every training image (and of its
    # mirror image) are computed once; the stride-8 stage and the two stride-16 stages (lr 3e-4, a tenth of the new
    # layers', as the paper's recipe), the added conv and the linear layer train on those maps (4.9-6.5 minutes a
    # network on 2 cores). Chosen on the validation split against the new layers alone, the last stage only and the
    # two stride-16 stages (5 or 8 epochs): `python bench/recipes.py --json results/recipes.json` measures them
    # (docs/findings.md quotes it).
    "embedded_pretrained": Recipe(epochs=5, lr=3e-4, new_lr=3e-3, momentum=0.9, weight_decay=0.05, step_size=8,
                                  gamma=0.1, batch_size=32, image_size=224, resize=224, optimizer="adamw",
                                  schedule="cosine", warmup=1, frozen=True, tuned_stages=3),
}


OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")


def lr_factor(rec: Recipe, steps_per_epoch: int):
    """The learning-rate multiplier at each iteration: linear warm-up over ``rec.warmup`` epochs, then step decay
    (x ``gamma`` every ``step_size`` epochs) or a cosine to zero at the end of the run."""
    warm = rec.warmup * steps_per_epoch
    total = rec.epochs * steps_per_epoch

    def factor(it: int) -> float:
        if it < warm:
            return (it + 1) / warm
        if rec.schedule == "step":
            return rec.gamma ** (it // (rec.step_size * steps_per_epoch))
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (it - warm) / max(1.0, total - warm))))
    return factor


_AUGMENT, _PROCESS = 0, 1   # the two kinds of random streams (one per image and epoch; one per rank and epoch)


def stream_seed(*keys: int) -> int:
    """A well-mixed 32-bit seed from non-negative integers (torch's CPU generator keeps 32 bits of a seed, so
    nearby raw seeds such as ``seed + index`` would give overlapping streams)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)   # CPU and every CUDA device
    np.random.seed(seed)
    random.seed(seed)


@contextlib.contextmanager
def restored_rng_state():
    """The global random states (torch's CPU and CUDA generators, NumPy's, ``random``'s) as they were before the
    block, whatever it seeded or drew: training seeds them for its initial weights and dropout, and a library call
    must not change what the caller's next random draw gives."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


class _EpochSampler(Sampler):
    """Yields ``(epoch, index)`` so that :class:`_SeededAugmentation` sees the epoch, also in (persistent)
    loader workers, which hold their own copy of the dataset."""

    def __init__(self, sampler: DistributedSampler):
        self.sampler, self.epoch = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        epoch = self.epoch
        return ((epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class _SeededAugmentation(Dataset):
    """``dataset[index]`` with torch's RNG (which torchvision's v2 transforms draw from) seeded from
    (seed, epoch, index) for that one call: the random crop and flip of an image depend on nothing else, and the
    caller's RNG is left as it was."""

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(self.seed, _AUGMENT, epoch, index))
            return self.dataset[index]


def _seed_worker(worker_id: int) -> None:
    """NumPy and ``random`` in a loader worker from the seed the DataLoader gave the worker's torch RNG."""
    np.random.seed(torch.initial_seed() % 2**32)
    random.seed(torch.initial_seed())


@contextlib.contextmanager
def deterministic_algorithms(cuda: bool):
    """For the duration: cuDNN's deterministic algorithms (no benchmark autotuning) and, when ``cuda``,
    ``torch.use_deterministic_algorithms`` in warn-only mode (on a CPU it would only slow every ``torch.empty``
    down: the CPU kernels training uses are deterministic for a given thread count) with cuBLAS's
    ``CUBLAS_WORKSPACE_CONFIG`` set to ``:4096:8`` unless already set (it takes effect if no cuBLAS handle was
    created before). The previous settings are restored after."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2], before[3]


def save_checkpoint(path: Path, **state) -> Path:
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def resolve_recipe(recipe: str, overrides: dict | None = None) -> Recipe:
    """The recipe ``train`` runs: ``RECIPES[recipe]`` with ``overrides`` (None values ignored), each field checked
    (BadInputError naming it). ``frozen=False`` without an explicit ``tuned_stages`` trains every stage."""
    if recipe not in RECIPES:
        raise BadInputError(f"parameter recipe={recipe!r}: choose one of {', '.join(RECIPES)}", param="recipe")
    fields = set(Recipe.__dataclass_fields__)
    bad = set(overrides or {}) - fields
    if bad:
        raise BadInputError(f"parameter overrides: unknown recipe field(s) {sorted(bad)}; fields are {sorted(fields)}",
                            param="overrides")
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    rec = replace(RECIPES[recipe], **given)
    if not rec.frozen and "tuned_stages" not in given:   # frozen=False: every stage trains, the tuned ones included
        rec = replace(rec, tuned_stages=0)
    for name in ("epochs", "batch_size", "image_size", "step_size"):
        if getattr(rec, name) < 1:
            raise BadInputError(f"parameter {name}={getattr(rec, name)!r}: must be >= 1", param=name)
    for name in ("lr", "new_lr", "momentum", "weight_decay", "gamma", "warmup"):
        value = getattr(rec, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadInputError(f"parameter {name}={value!r}: must be a finite number", param=name)
    if rec.lr <= 0 or rec.new_lr <= 0:
        bad_lr = "lr" if rec.lr <= 0 else "new_lr"
        raise BadInputError(f"parameter {bad_lr}={getattr(rec, bad_lr)!r}: learning rates must be > 0 (got "
                            f"lr={rec.lr}, new_lr={rec.new_lr})", param=bad_lr)
    if not 0 <= rec.momentum < 1:
        raise BadInputError(f"parameter momentum={rec.momentum!r}: must be in [0, 1) (SGD momentum, AdamW beta1)",
                            param="momentum")
    if rec.weight_decay < 0:
        raise BadInputError(f"parameter weight_decay={rec.weight_decay!r}: must be >= 0", param="weight_decay")
    if not 0 < rec.gamma <= 1:
        raise BadInputError(f"parameter gamma={rec.gamma!r}: must be in (0, 1]", param="gamma")
    if rec.optimizer not in OPTIMIZERS:
        raise BadInputError(f"parameter optimizer={rec.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}",
                            param="optimizer")
    if rec.schedule not in SCHEDULES:
        raise BadInputError(f"parameter schedule={rec.schedule!r}: choose one of {', '.join(SCHEDULES)}",
                            param="schedule")
    if not 0 <= rec.warmup <= rec.epochs:
        raise BadInputError(f"parameter warmup={rec.warmup!r}: must be in [0, epochs={rec.epochs}]", param="warmup")
    if isinstance(rec.tuned_stages, bool) or not isinstance(rec.tuned_stages, int) or rec.tuned_stages < 0:
        raise BadInputError(f"parameter tuned_stages={rec.tuned_stages!r}: must be an integer >= 0",
                            param="tuned_stages")
    if rec.tuned_stages and not rec.frozen:
        raise BadInputError(f"parameter tuned_stages={rec.tuned_stages}: applies to a frozen recipe (frozen=False "
                            "trains the whole network)", param="tuned_stages")
    return rec


def train(model: str, data: str, root: str | Path, out: str | Path, pretrained: bool = False, width: float = 1.0,
          recipe: str = "paper", overrides: dict | None = None, device: str = "auto", workers: int = 0,
          resume: bool = False, seed: int = 0, progress: bool = True, max_batches: int | None = None,
          cache_dir: str | Path | None = None) -> dict:
    """Train ``model`` on ``data`` (its train split), evaluating top-1/top-5 on its eval split each epoch.
    Writes ``out/checkpoint.pt`` (every epoch, atomically), ``out/log.csv`` (per epoch: loss, top-1/top-5 error,
    ``lr`` the mean learning rate of the epoch's steps, images/s) and ``out/model.pt`` (final weights). With
    ``progress``, a line per epoch names the network, the epoch, loss, error, images/s and the time left
    (:mod:`cam_lib.progress`: plain lines under ``reproduce``, one bar per network in JupyterLab). With a
    ``frozen`` recipe the backbone's maps are cached under ``cache_dir`` (default ``out``), keyed by the
    backbone's weights and the images, so networks sharing a backbone (GAP, GMP, other seeds) compute them once.
    Returns the last epoch's log row."""
    check_model_name(model)
    rec = resolve_recipe(recipe, overrides)
    if not isinstance(seed, int) or seed < 0:
        raise BadInputError(f"parameter seed={seed!r}: must be an integer >= 0", param="seed")
    if rec.frozen and not pretrained:
        raise BadInputError("parameter pretrained=False: a frozen recipe trains new layers on a PRETRAINED backbone",
                            param="pretrained")

    rank, world, local_rank = distributed.dist_info()
    dev = resolve_device(f"cuda:{local_rank}" if device == "auto" and torch.cuda.is_available() else device)
    with distributed.process_group(dev), restored_rng_state():
        if rec.batch_size % world:
            raise BadInputError(f"parameter batch_size={rec.batch_size}: not divisible by the {world} processes",
                                param="batch_size")
        with deterministic_algorithms(dev.type == "cuda"):
            return _train(model, data, root, Path(out), pretrained, width, rec, dev, workers, resume, seed, progress,
                          max_batches, rank, world, Path(cache_dir) if cache_dir is not None else Path(out))


def _frozen_split(net: nn.Module, tuned: int) -> tuple[nn.Module, nn.Module]:
    """(the frozen part, the tuned stages) of a GAP surgery network's backbone, everything before its added conv:
    the tuned stages are the last ``tuned`` of ``features.blocks`` (timm's EfficientNet stages)."""
    if set(net.new_modules) != {"features.cam_conv", "head"}:
        raise BadInputError(f"parameter frozen=True: {net.name} is not a GAP surgery network (its new layers are "
                            f"{list(net.new_modules)}, not the added conv and the head)", param="frozen")
    if not tuned:
        return net.features[:-1], nn.Sequential()
    children = dict(net.features.named_children())
    staged = list(children)[-2:] == ["blocks", "cam_conv"]
    if not staged or not 0 < tuned < len(children["blocks"]):
        have = f"{len(children['blocks'])} stages in features.blocks" if staged else \
            "no stages (features.blocks) just before its added conv"
        raise BadInputError(f"parameter tuned_stages={tuned}: {net.name} has {have}; tune fewer than all of them",
                            param="tuned_stages")
    before = [(k, m) for k, m in children.items() if k not in ("blocks", "cam_conv")]
    blocks = children["blocks"]
    return nn.Sequential(OrderedDict([*before, ("blocks", blocks[:-tuned])])), blocks[-tuned:]


class _NewLayers(nn.Module):
    """The layers a frozen recipe trains, fed the cached maps of the frozen part (:func:`_frozen_split`): the tuned
    stages of the backbone (their BatchNorm statistics stay as loaded), the surgery's added conv and the head."""

    def __init__(self, net: nn.Module, tuned: nn.Module):
        super().__init__()
        self.tuned, self.cam_conv, self.head = tuned, net.features.cam_conv, net.head
        self.num_classes = net.num_classes

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.head(self.cam_conv(self.tuned(fmap)))

    def train(self, mode: bool = True) -> "_NewLayers":
        super().train(mode)
        self.tuned.eval()   # BatchNorm: ImageNet's statistics, not a batch of 32 cached maps'
        return self

    def param_groups(self, rec: "Recipe") -> list[dict]:
        """The new layers at ``new_lr``, the tuned stages at ``lr``."""
        new = [*self.cam_conv.parameters(), *self.head.parameters()]
        return [{"params": new, "lr": rec.new_lr}] + \
            ([{"params": list(self.tuned.parameters()), "lr": rec.lr}] if len(self.tuned) else [])


@torch.inference_mode()
def _backbone_maps(net, backbone, dataset, dev, cache_dir: Path, mirror: bool, progress: TrainingProgress) -> dict:
    """The frozen ``backbone``'s maps of every image of ``dataset`` (float32, dataset order) and of its mirror image
    (``mirror``), with the labels: cached under ``cache_dir`` by the backbone's weights and the images."""
    from .io import cached_arrays, weights_hash

    key = {"backbone": weights_hash(backbone), "images": fingerprint(dataset), "transform": repr(dataset.transform),
           "mirror": mirror}

    def compute() -> dict:
        was_training = net.training
        net.eval()
        maps, flipped, labels = [], [], []
        loader = DataLoader(dataset, batch_size=32, shuffle=False, collate_fn=collate)
        t0 = time.perf_counter()
        split = getattr(dataset, "split", "")
        progress.say(f"the frozen layers' maps of {len(dataset)} {split + ' ' if split else ''}images"
                     f"{' and their mirror images' if mirror else ''}: computed once, cached")
        for batch in loader:
            x = batch.images.to(dev)
            maps.append(backbone((x - net.mean) / net.std).float().cpu())
            if mirror:
                flipped.append(backbone((x.flip(-1) - net.mean) / net.std).float().cpu())
            labels.append(batch.labels)
        net.train(was_training)
        progress.say(f"backbone maps done in {time.perf_counter() - t0:.0f} s")
        out = {"maps": torch.cat(maps).numpy(), "labels": torch.cat(labels).numpy()}
        return out | ({"flipped": torch.cat(flipped).numpy()} if mirror else {})
    return cached_arrays(cache_dir, "backbone-maps", key, compute)


class _CachedMaps(Dataset):
    """``(map, label)`` of image ``index`` at ``(epoch, index)``; with mirror maps, the mirror image's map when the
    bit drawn from (seed, epoch, index) says so (as :class:`_SeededAugmentation` draws a flip)."""

    def __init__(self, arrays: dict, seed: int):
        self.maps = torch.from_numpy(arrays["maps"])
        self.flipped = torch.from_numpy(arrays["flipped"]) if "flipped" in arrays else None
        self.labels = torch.from_numpy(arrays["labels"]).long()
        self.seed = seed

    def __len__(self) -> int:
        return len(self.maps)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        flip = self.flipped is not None and isinstance(key, tuple) and stream_seed(self.seed, _AUGMENT, epoch, index) & 1
        return (self.flipped if flip else self.maps)[index], self.labels[index]


def _train(model, data, root, out, pretrained, width, rec, dev, workers, resume, seed, progress, max_batches, rank,
           world, cache_dir) -> dict:
    _seed_everything(seed)   # the initial weights
    cuda = dev.type == "cuda"
    ckpt = out / "checkpoint.pt"
    # the network's name shows when it starts: one bar per network (JupyterLab, terminal) or plain lines (reproduce)
    report = TrainingProgress(model if seed == 0 else f"{model} (seed {seed})", rec.epochs,
                              enabled=progress and rank == 0)
    net, trained, train_set, eval_set, meta = _network_and_data(model, data, root, pretrained, width, rec, dev, seed,
                                                                cache_dir, report)
    num_classes = net.num_classes
    groups = trained.param_groups(rec) if rec.frozen else \
        net.param_groups(rec.lr, rec.new_lr) if pretrained else [{"params": list(net.parameters()), "lr": rec.new_lr}]
    if rec.optimizer == "sgd":
        opt = torch.optim.SGD(groups, momentum=rec.momentum, weight_decay=rec.weight_decay)
    else:
        opt = torch.optim.AdamW(groups, betas=(rec.momentum, 0.999), weight_decay=rec.weight_decay)
    ddp = torch.nn.parallel.DistributedDataParallel(trained, device_ids=[dev.index] if cuda else None) \
        if world > 1 else trained
    batches = _collate_maps if rec.frozen else collate
    per_rank = rec.batch_size // world
    sampler = _EpochSampler(DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                               drop_last=True))
    # the loaders' own generators: creating their iterators draws nothing from the global RNG
    loader = DataLoader(train_set if rec.frozen else _SeededAugmentation(train_set, seed), batch_size=per_rank,
                        sampler=sampler, num_workers=0 if rec.frozen else workers, collate_fn=batches, pin_memory=cuda,
                        persistent_workers=cuda and workers > 0 and not rec.frozen, drop_last=True,
                        worker_init_fn=_seed_worker, generator=torch.Generator().manual_seed(seed))
    steps = len(loader) if max_batches is None else min(len(loader), max_batches)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(rec, max(steps, 1)))
    start = _resume(ckpt, net, opt, sched, model, data, num_classes, seed, width, rec, meta["train_images"]) \
        if resume and ckpt.exists() else 0
    eval_sampler = DistributedSampler(eval_set, num_replicas=world, rank=rank, shuffle=False) if world > 1 else None
    eval_loader = DataLoader(eval_set, batch_size=per_rank, sampler=eval_sampler,
                             num_workers=0 if rec.frozen else workers, collate_fn=batches, pin_memory=cuda,
                             worker_init_fn=_seed_worker, generator=torch.Generator().manual_seed(seed))
    row = {}
    report.start = start
    report.begin(steps, f"resuming at epoch {start + 1}/{rec.epochs}" if start else
                 f"training {rec.epochs} epochs on {len(train_set)} images ({rec.optimizer}, {rec.image_size} px, "
                 f"{dev.type})")
    for epoch in range(start, rec.epochs):
        sampler.set_epoch(epoch)
        _seed_everything(stream_seed(seed, _PROCESS, epoch, rank))   # dropout: (seed, epoch, rank) alone
        t0 = time.perf_counter()
        loss_sum, seen, lr_used = _epoch(ddp, loader, opt, sched, dev, max_batches, epoch, ckpt, report)
        stats = distributed.sum_across(torch.stack([loss_sum, seen]))
        elapsed = time.perf_counter() - t0
        top = evaluate_classification(trained, eval_loader, dev, world)
        row = {"epoch": epoch + 1, "loss": float(stats[0] / stats[1].clamp_min(1)), **top, "lr": lr_used,
               "images_per_s": float(stats[1]) / elapsed}
        if rank == 0:
            _append_log(out / "log.csv", row)
            save_checkpoint(ckpt, model=net.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                            epoch=epoch, seed=seed, model_name=model, num_classes=num_classes,
                            width=width, recipe=asdict(rec), data=data, **meta)
            report.epoch(epoch + 1, row["loss"], row["top1_err"], row["images_per_s"])
    report.close()
    if rank == 0:   # the classifier's common part changes no prediction, only CAM's zero (centre_classifier_)
        save_checkpoint(out / "model.pt", model=centre_classifier_(net).state_dict(), model_name=model,
                        num_classes=num_classes, width=width, data=data, **meta)
    if world > 1:
        dist.barrier()
    return row


def _network_and_data(model, data, root, pretrained, width, rec, dev, seed, cache_dir, report):
    """The network with a new head for the dataset's classes, the module that trains (the network, or its new layers
    alone), the datasets (train: augmented, or the backbone's cached maps with a frozen recipe; eval) and what the
    checkpoints record of the data: the class names and the training images (:func:`cam_lib.data.fingerprint`)."""
    train_tf = eval_transform("resize", rec.image_size) if rec.frozen else \
        train_transform(rec.image_size, rec.resize, rec.mirror)
    train_set = build_dataset(data, root, split="train", transform=train_tf)
    eval_set = build_dataset(data, root, split=eval_split(data), transform=eval_transform("resize", rec.image_size))
    net = build_model(model, num_classes=train_set.num_classes, pretrained=pretrained, width=width,
                      new_head=True).to(dev)   # fine-tuning on this dataset's classes: a new head on purpose
    if dev.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    meta = {"class_names": list(train_set.class_names), "train_images": fingerprint(train_set)}
    if not rec.frozen:
        return net, net, train_set, eval_set, meta
    frozen, tuned = _frozen_split(net, rec.tuned_stages)
    trained = _NewLayers(net, tuned)   # only its layers see gradients; the sets become the frozen part's maps
    maps = _CachedMaps(_backbone_maps(net, frozen, train_set, dev, cache_dir, rec.mirror, report), seed)
    eval_maps = _CachedMaps(_backbone_maps(net, frozen, eval_set, dev, cache_dir, False, report), seed)
    for p in net.parameters():
        p.requires_grad_(False)
    for p in trained.parameters():
        p.requires_grad_(True)
    return net, trained, maps, eval_maps, meta


def trained_on(ckpt: str | Path) -> str | None:
    """The fingerprint of the training images a run's ``checkpoint.pt`` (or ``model.pt``) records
    (:func:`cam_lib.data.fingerprint`); None when there is no such file or it predates the record."""
    if not Path(ckpt).is_file():
        return None
    return read_checkpoint(ckpt, param="out").get("train_images")


def recipe_change(ckpt: str | Path, rec: Recipe) -> str:
    """How the recipe a run's ``checkpoint.pt`` was trained with differs from ``rec`` (``"epochs 8 -> 5, ..."``;
    a field the file predates counts at its default); ``""`` when it does not, or when there is no such file."""
    if not Path(ckpt).is_file():
        return ""
    stored = read_checkpoint(ckpt, param="out").get("recipe") or {}
    fields = Recipe.__dataclass_fields__
    return ", ".join(f"{k} {stored.get(k, f.default)!r} -> {getattr(rec, k)!r}" for k, f in fields.items()
                     if stored.get(k, f.default) != getattr(rec, k))


def _resume(ckpt: Path, net, opt, sched, model, data, num_classes, seed, width, rec: Recipe, images: str) -> int:
    """Load an interrupted run's state from ``ckpt`` (CRC-checked, refused when it is another run's); the epoch to
    start from."""
    # CRC-checked (a bad file stops, named) and tensors, numbers, strings and containers only: a pickled object in
    # the file (code that would run on load) is refused
    state = read_checkpoint(ckpt, param="out")
    if state["num_classes"] != num_classes or state["model_name"] != model:
        raise BadInputError(f"{ckpt}: checkpoint of {state['model_name']} with {state['num_classes']} classes "
                            f"cannot resume {model} on {data} with {num_classes} classes",
                            param="model" if state["model_name"] != model else "data")
    if state.get("seed", seed) != seed:
        raise BadInputError(f"{ckpt}: checkpoint of a run with seed {state['seed']} cannot resume with seed "
                            f"{seed}", param="seed")
    if state.get("width", width) != width:
        raise BadInputError(f"{ckpt}: checkpoint of a run at width {state['width']} cannot resume at width "
                            f"{width}", param="width")
    changed = recipe_change(ckpt, rec)
    if changed:
        raise BadInputError(f"{ckpt}: checkpoint of a run with another recipe ({changed}) cannot resume with this one",
                            param="recipe")
    if state.get("train_images", images) != images:
        raise BadInputError(f"{ckpt}: checkpoint of a run on other training images (fingerprint "
                            f"{state['train_images']}, these are {images}) cannot resume on these", param="root")
    try:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise BadInputError(f"{ckpt}: cannot resume this run from it ({type(err).__name__}: {err})",
                            param="out") from None
    return state["epoch"] + 1


def _epoch(ddp, loader, opt, sched, dev, max_batches, epoch, ckpt, report):
    """One epoch of SGD/AdamW steps; (loss summed over images, images seen, the mean learning rate of its steps)."""
    cuda = dev.type == "cuda"
    amp = torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) \
        if cuda else torch.autocast("cpu", enabled=False)
    ddp.train()
    seen, loss_sum = torch.zeros((), device=dev), torch.zeros((), device=dev)
    lr_sum, n_steps = 0.0, 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x = batch.images.to(dev, non_blocking=True)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        y = batch.labels.to(dev, non_blocking=True)
        with amp:
            loss = F.cross_entropy(ddp(x), y)
        if not bool(torch.isfinite(loss)):   # stop before the weights become NaN; the last checkpoint stays
            kept = f"the last good checkpoint is {ckpt} (epoch {epoch})" if epoch else "no checkpoint was written"
            raise BadInputError(f"epoch {epoch + 1}, step {i + 1}: the training loss is {float(loss.detach())} "
                                f"(learning rate too high, or bad input?); {kept}", param="lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        lr_sum, n_steps = lr_sum + opt.param_groups[-1]["lr"], n_steps + 1   # the rate this step applies
        opt.step()
        sched.step()
        loss_sum += loss.detach() * len(y)
        seen += len(y)
        report.step()
    return loss_sum, seen, lr_sum / max(n_steps, 1)   # the mean rate (after the steps the schedule may be at 0)


@torch.inference_mode()
def evaluate_classification(model: torch.nn.Module, loader, device: torch.device, world: int = 1) -> dict:
    """Top-1/top-5 classification error over a loader, summed across DDP ranks. (Under DDP the sampler pads the
    eval split to a multiple of the world size, so up to world-1 images count twice; the final numbers of the
    tables come from ``cam_lib localize`` in one process.)"""
    model.eval()
    k = min(5, model.num_classes)
    counts = torch.zeros(3, device=device)
    for batch in loader:
        logits = model(batch.images.to(device))
        wrong = topk_wrong(logits, batch.labels.to(device), (1, k))
        counts += torch.cat([wrong, torch.tensor([len(logits)], device=device)])
    counts = distributed.sum_across(counts)
    n = float(counts[2].clamp_min(1))
    return {"top1_err": float(counts[0]) / n, "top5_err": float(counts[1]) / n}


def _collate_maps(items: list) -> Batch:
    """A batch of cached backbone maps (in ``images``) and labels."""
    maps, labels = zip(*items)
    n = len(labels)
    return Batch(torch.stack(maps), torch.stack(labels), torch.zeros(n, 1, 4), torch.zeros(n, 1, dtype=torch.bool),
                 torch.arange(n), torch.zeros(n, 2, dtype=torch.int64))


def _append_log(path: Path, row: dict) -> None:
    """Rewrite the CSV log with one more row (atomically); rows of epochs being redone on resume are replaced."""
    rows = []
    if path.exists():
        rows = [r for r in csv.DictReader(path.open()) if int(r["epoch"]) < row["epoch"]]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(row))
    writer.writeheader()
    writer.writerows(rows + [row])
    atomic_write_text(path, buf.getvalue())


__all__ = ["RECIPES", "Recipe", "resolve_recipe", "recipe_change", "trained_on", "OPTIMIZERS", "SCHEDULES", "lr_factor",
           "train", "evaluate_classification", "save_checkpoint", "stream_seed", "deterministic_algorithms"]
