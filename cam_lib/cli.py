"""Command line: ``python -m cam_lib localize ...`` (Table 2-style evaluation of one network on one folder),
``python -m cam_lib data build|check`` (the embedded benchmark; validating any dataset), ``train`` (Sec. 3.1),
``reproduce`` (the notebook series into results/) and ``bench`` (CAM at forward-pass speed).

Exit status 0 on success, 2 on bad input (the message names the file, parameter or value).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import bench
from .boxes import DEFAULT_THRESHOLD
from .data import DATASETS, build_dataset, make_loader
from .data.common import DECODES
from .data.imagenet import LAYOUTS, imagenet_class_names
from .cam import FRAMES
from .errors import BadInputError, WeightsUnavailableError
from .io import atomic_write_json, check_writable, load_checkpoint
from .localize import METHODS, evaluate, localize_batch, shard
from .models import MODEL_NAMES, build_model, check_model_name, resolve_device

BOXED_DATASETS = {"imagenet": "val", "cub": "test"}   # datasets whose evaluation split has ground-truth boxes
RESULT_KEYS = ("n", "top1_cls_err", "top5_cls_err", "top1_loc_err", "top5_loc_err", "gt_known_loc_acc",
               "maxboxacc_v2", "threshold", "model", "world_size")


def _add_localize(sub) -> None:
    p = sub.add_parser("localize", help="CAM (or Backprop) localization of a folder of images",
                       description="Classify, compute CAMs and boxes, and score them against ground-truth boxes "
                                   "(imagenet) or save overlays (images, photos).")
    p.add_argument("--data", choices=DATASETS, required=True,
                   help="imagenet: an ILSVRC-val-format folder (the embedded objects too); cub: CUB-200-2011 test "
                        "(the embedded birds too); images: a flat folder of unlabelled images; photos: the real "
                        "photographs shipped in the scikit-image and matplotlib wheels; others: unlabelled overlays")
    p.add_argument("--root", type=Path, help="dataset folder")
    p.add_argument("--split", help="dataset split (default: imagenet val, cub test)")
    p.add_argument("--layout", choices=LAYOUTS, default="auto", help="ImageNet val layout (default: auto)")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(MODEL_NAMES)}")
    p.add_argument("--pretrained", action="store_true", help="load ImageNet weights (backbone for GAP variants)")
    p.add_argument("--checkpoint", type=Path, help="a trained checkpoint (state dict or cam_lib train output)")
    p.add_argument("--num-classes", type=int, help="classifier size (default: the dataset's, or 1000)")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier (default 1.0)")
    p.add_argument("--method", choices=METHODS, default="cam", help="cam (default) or backprop saliency")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"box threshold on the normalised map (default {DEFAULT_THRESHOLD})")
    p.add_argument("--frame", choices=FRAMES, default="resize", help="evaluated image frame: resize to 224 (default), resize 256 + center crop 224, "
                        "or ten_crop (the official protocol: 256x256, ten 224 crops, maps merged)")
    p.add_argument("--cam-step", type=float, default=0.01, help="MaxBoxAccV2 threshold grid step (default 0.01)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes (default 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    p.add_argument("--decode", choices=DECODES, default="cpu",
                   help="where images are decoded: cpu (default, PIL in the loader) or device (JPEGs decoded in one "
                        "call per batch on --device: nvJPEG on CUDA; the same pixels on the CPU)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast for the forward pass (close to, not "
                                                      "identical with, float32)")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format for the forward pass")
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable images and bad annotations, counted in the JSON, instead of stopping")
    p.add_argument("--json", type=Path, help="write the results as JSON to this file")
    p.add_argument("--figures", type=Path, help="write CAM overlays with boxes as PNGs to this folder")
    p.add_argument("--max-figures", type=int, default=16, help="how many images get an overlay (default 16)")
    p.add_argument("--baselines", action="store_true",
                   help="also score the trivial baselines on the same images (whole frame, centred box of the mean "
                        "box size, best fixed box), chosen on the evaluated images' own boxes (optimistic for the "
                        "baselines), each with its 95%% interval and the paired interval of CAM minus it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_localize)


def _check_args(args) -> None:
    if not 0 <= args.threshold <= 1:
        raise BadInputError(f"--threshold must be in [0, 1], got {args.threshold}")
    if args.batch_size < 1:
        raise BadInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.limit is not None and args.limit < 1:
        raise BadInputError(f"--limit must be >= 1, got {args.limit}")
    check_model_name(args.model)
    if args.root is not None and not args.root.is_dir():
        raise BadInputError(f"--root {args.root}: folder not found")


def cmd_localize(args) -> int:
    """``localize``; under ``torchrun --nproc_per_node=N`` each rank evaluates a shard (:func:`cam_lib.localize.shard`)
    and rank 0 prints and writes the whole dataset's numbers (identical to one process's, plus ``world_size``)."""
    from .train import _dist_info, process_group

    _check_args(args)
    if args.json is not None:   # before the evaluation: a bad output path must not cost the metrics
        check_writable(args.json, "json")
    if args.figures is not None:
        check_writable(args.figures, "figures", folder=True)
    _, world, local_rank = _dist_info()
    device = resolve_device(f"cuda:{local_rank}" if world > 1 and args.device in ("auto", "cuda")
                            and torch.cuda.is_available() else args.device)
    with process_group(device) as (rank, world):
        return _localize(args, device, rank, world)


def _localize(args, device, rank: int, world: int) -> int:
    import threading

    from .metrics.maxboxacc import load_compiled

    threading.Thread(target=load_compiled, name="cam_lib-load-sweep", daemon=True).start()   # beside the set-up
    labelled = args.data in BOXED_DATASETS
    if labelled and args.split not in (None, BOXED_DATASETS[args.data]):
        raise BadInputError(f"--split {args.split}: localization is evaluated on {args.data} "
                            f"{BOXED_DATASETS[args.data]}")
    dataset = build_dataset(args.data, args.root, split=BOXED_DATASETS.get(args.data, args.split),
                            frame=args.frame, skip_bad=args.skip_bad, layout=args.layout, limit=args.limit)
    if args.num_classes is not None and args.num_classes < 1:
        raise BadInputError(f"--num-classes {args.num_classes}: must be >= 1 (leave it out to use the dataset's)")
    dataset.set_decode(args.decode)
    num_classes = args.num_classes if args.num_classes is not None else getattr(dataset, "num_classes", 1000)
    if labelled and dataset.num_classes > num_classes:
        raise BadInputError(f"{args.root} has {dataset.num_classes} classes but --num-classes is {num_classes}")
    model = build_model(args.model, num_classes=num_classes, pretrained=args.pretrained, width=args.width,
                        new_head=args.checkpoint is not None)   # a checkpoint brings its own head
    if args.checkpoint is not None:
        load_checkpoint(model, args.checkpoint)
    if args.method == "cam" and not model.has_cam:
        raise BadInputError(f"--model {args.model} is an FC network and has no CAM; use a GAP/GMP network or "
                            f"--method backprop")
    model.eval().to(device)
    names = getattr(dataset, "class_names", None) or (imagenet_class_names() if num_classes == 1000 else None)
    loader = make_loader(dataset if world == 1 else shard(dataset, rank, world, args.batch_size), args.batch_size,
                         args.workers, device)
    written = []
    progress = not args.no_progress and rank == 0

    def save(batch, out) -> None:
        if args.figures is None or len(written) >= args.max_figures or rank > 0:
            return
        from .figures import class_names_or_indices, save_topk_overlay   # matplotlib: only when drawing

        for j in range(len(batch.indices)):
            if len(written) >= args.max_figures:
                return
            idx = int(batch.indices[j])
            stem = dataset.path(idx).stem
            titles = class_names_or_indices(names, out.classes[j])
            gt = batch.gt_boxes[j][batch.gt_valid[j]]
            written.append(save_topk_overlay(args.figures / f"{stem}_{args.method}.png", batch.images[j],
                                             out.maps[j], out.boxes[j], titles, gt))

    if args.baselines and not labelled:
        raise BadInputError(f"--baselines needs boxes: --data {args.data} has none")
    if labelled:
        fixed = _baseline_boxes(dataset) if args.baselines else None
        metrics = evaluate(model, loader, device, method=args.method, threshold=args.threshold,
                           cam_step=args.cam_step, progress=progress,
                           on_batch=save if args.figures is not None and rank == 0 else None,
                           frame=args.frame, baselines=fixed, distributed=world > 1, amp=args.amp,
                           channels_last=args.channels_last)
        result = {k: getattr(metrics, k) for k in RESULT_KEYS if hasattr(metrics, k)}
        result.update(threshold=args.threshold, model=args.model, world_size=world)
        if fixed is not None:
            result.update(_baseline_results(metrics, fixed))
        skipped = dataset.skipped + list(metrics.skipped)
    else:
        result, bad = _predict(model, loader, device, args, names, save, dataset, progress, world)
        skipped = list(dataset.skipped) + bad
    if args.skip_bad:
        result["skipped"] = len(skipped)
        result["skipped_files"] = [{"file": s.path, "reason": s.reason} for s in skipped]
    result["world_size"] = world
    if rank > 0:
        return 0
    _print_summary(result, written, args)   # first: the numbers are on the screen whatever happens to the file
    if args.json is not None:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def _baseline_boxes(dataset) -> dict:
    """The baselines' normalised boxes chosen on the evaluated images' own boxes (stored frames)."""
    from .data.common import stored_sizes
    from .metrics import choose_baseline_boxes

    chosen = choose_baseline_boxes([np.asarray(b, np.float64) for _, _, b in dataset.samples],
                                   stored_sizes(path for path, _, _ in dataset.samples))
    return {k: chosen[k] for k in ("frame", "centered", "best_fixed")}


def _baseline_results(metrics, fixed: dict) -> dict:
    """GT-known localization of CAM and of each baseline with their 95% intervals, and the paired interval of the
    difference (CAM minus baseline) over the same images."""
    from .metrics import paired_difference

    cam = np.asarray(metrics.per_image["gt_known_loc_acc"], float)
    ci = metrics.interval("gt_known_loc_acc")
    out = {"gt_known_loc_acc_ci": [ci.low, ci.high], "baselines": {}}
    for name, box in fixed.items():
        hits = np.asarray(metrics.per_image[f"baseline:{name}"], float)
        b, d = metrics.interval(f"baseline:{name}"), paired_difference(cam, hits)
        out["baselines"][name] = {"box": box, "gt_known_loc_acc": b.estimate, "ci": [b.low, b.high],
                                  "cam_minus_baseline": d.estimate, "cam_minus_baseline_ci": [d.low, d.high]}
    return out


def _predict(model, loader, device, args, names, save, dataset, progress: bool, world: int) -> tuple[dict, list]:
    """Unlabelled images: top-5 classes and their boxes per image (no metrics), and the images skipped as bad;
    with several ranks, every rank's, gathered in rank order (dataset order)."""
    from tqdm.auto import tqdm

    from .figures import class_names_or_indices

    predictions, n, skipped = [], 0, []
    for batch in tqdm(loader, desc="localize", unit="batch", disable=not progress):
        skipped.extend(batch.skipped)   # images that failed to decode (--skip-bad)
        if len(batch.indices) == 0:
            continue
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            out = localize_batch(model, batch.images_on(device), threshold=args.threshold, method=args.method,
                                 frame=args.frame)
        save(batch, out)
        probs = out.logits.float().softmax(1)
        for j, idx in enumerate(batch.indices.tolist()):
            path = dataset.path(idx)
            predictions.append({"file": str(path.relative_to(args.root) if args.root else path.name), "top5": [
                {"class": int(c), "name": class_names_or_indices(names, [c])[0], "prob": float(probs[j, c]),
                 "box": [int(v) for v in out.boxes[j, r].tolist()]} for r, c in enumerate(out.classes[j].tolist())]})
        n += len(batch.indices)
    if world > 1:
        import torch.distributed as dist

        parts = [None] * world
        dist.all_gather_object(parts, (predictions, skipped))
        predictions, skipped = [p for part, _ in parts for p in part], [s for _, part in parts for s in part]
        n = len(predictions)
    return {"n": n, "threshold": args.threshold, "model": args.model, "predictions": predictions}, skipped


def _print_summary(result: dict, written: list, args) -> None:
    for k, v in result.items():
        if k in ("predictions", "skipped_files", "baselines"):
            continue
        print(f"{k:>18}: {v:.4f}" if isinstance(v, float) and k != "threshold" else f"{k:>18}: {v}")
    for name, b in result.get("baselines", {}).items():
        print(f"{'baseline ' + name:>18}: {b['gt_known_loc_acc']:.4f} [{b['ci'][0]:.4f}, {b['ci'][1]:.4f}] GT-known; "
              f"CAM minus it {b['cam_minus_baseline']:+.4f} [{b['cam_minus_baseline_ci'][0]:+.4f}, "
              f"{b['cam_minus_baseline_ci'][1]:+.4f}]")
    for p in result.get("predictions", []):
        top = p["top5"][0]
        print(f"{Path(p['file']).name:>28}: {top['name']} ({top['prob']:.2f}) box {top['box']}")
    if written:
        print(f"wrote {len(written)} figures to {args.figures}")


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="build the embedded benchmark, or check any dataset")
    dsub = p.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build", help="generate the embedded benchmark (cached by generator version, profile, seed)")
    b.add_argument("--profile", default="default", help="smoke, default or full (default: default)")
    b.add_argument("--root", type=Path, default=Path("data"), help="parent folder (default: data/)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, help="generator processes (default: all cores)")
    b.add_argument("--force", action="store_true", help="regenerate even if the cached build is complete")
    b.set_defaults(func=cmd_data_build)
    c = dsub.add_parser("check", help="validate a real or embedded dataset: parse every list, decode every image")
    c.add_argument("--data", choices=DATASETS, required=True)
    c.add_argument("--root", type=Path)
    c.add_argument("--split", action="append", help="split(s) to check (default: every split of the dataset)")
    c.add_argument("--layout", choices=LAYOUTS, default="auto")
    c.add_argument("--skip-bad", action="store_true", help="count bad entries instead of stopping at the first")
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=cmd_data_check)


def cmd_data_build(args) -> int:
    from .data import synthetic

    out = synthetic.build(args.profile, args.root, seed=args.seed, workers=args.workers, force=args.force)
    print(synthetic.describe(out))
    return 0


def cmd_data_check(args) -> int:
    from .data import SPLITS, check_dataset

    splits = args.split or [s for s in SPLITS[args.data] if _split_present(args, s)]
    for split in splits:
        report = check_dataset(args.data, args.root, split=split, layout=args.layout, skip_bad=args.skip_bad,
                               workers=args.workers, progress=not args.no_progress)
        print(report)
    return 0


def _split_present(args, split: str) -> bool:
    """ImageNet train is optional next to val: check it only when its folder is there."""
    from .data.imagenet import TRAIN_DIRS

    if args.data == "imagenet" and split == "train" and args.root is not None:
        return any((args.root / d).is_dir() for d in TRAIN_DIRS)
    return True


def _add_train(sub) -> None:
    from .train import RECIPES, Recipe

    p = sub.add_parser("train", help="train or fine-tune a registry model (torchrun for several processes)")
    p.add_argument("--model", required=True, help=f"one of: {', '.join(MODEL_NAMES)}")
    p.add_argument("--data", choices=DATASETS, required=True, help="its train split is trained on")
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt, log.csv, model.pt")
    p.add_argument("--pretrained", action="store_true", help="start from the ImageNet backbone (fine-tuning)")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--recipe", choices=sorted(RECIPES), default="paper")
    p.add_argument("--no-mirror", dest="mirror", action="store_const", const=False, help="no random flips")
    p.add_argument("--frozen", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the pretrained backbone fixed and train the surgery's new layers on its cached maps "
                        "(default: the recipe's; on for embedded_pretrained)")
    p.add_argument("--cache-dir", type=Path, help="where a frozen recipe caches the backbone's maps (default: --out)")
    for name, f in Recipe.__dataclass_fields__.items():
        if f.type == "bool":
            continue
        p.add_argument(f"--{name.replace('_', '-')}", type={"int": int, "float": float, "str": str}[f.type],
                       help=f"override the recipe's {name}")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from .train import Recipe, train

    overrides = {name: getattr(args, name) for name in Recipe.__dataclass_fields__}
    if args.resume and not (args.out / "checkpoint.pt").exists():
        print(f"--resume: no checkpoint at {args.out / 'checkpoint.pt'}; training from the start")
    train(args.model, args.data, args.root, args.out, pretrained=args.pretrained, width=args.width,
          recipe=args.recipe, overrides=overrides, device=args.device, workers=args.workers, resume=args.resume,
          seed=args.seed, progress=not args.no_progress, cache_dir=args.cache_dir)
    return 0


def _add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run the notebook series (Tables 1-5, figures) with papermill into results/")
    p.add_argument("--profile", choices=("smoke", "default", "full"), default="default")
    p.add_argument("--data", choices=("embedded", "imagenet"), default="embedded")
    p.add_argument("--data-root", default=None, help="embedded: where the benchmark is generated (default: data/ "
                                                     "of the repository); imagenet: the ILSVRC root")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="any notebook parameter (YAML value), e.g. -p models '[alexnet_gap, googlenet_gap]'")
    p.add_argument("--results", default=None,
                   help="default: the run's own folder, results/ for the default run (embedded, default, seed 0), "
                        "results/runs/<data>-<profile>-s<seed>/ for any other; a folder another run wrote is refused")
    p.add_argument("--checkpoints", default=None, help="default: checkpoints/ of the repository")
    p.add_argument("--only", nargs="+", help="run only these notebooks (e.g. 02_localization)")
    p.add_argument("--force", action="store_true", help="rerun notebooks even when unchanged")
    p.add_argument("--prepare", metavar="DIR", help="only write the parameterised notebooks into DIR (for nbval "
                                                    "or JupyterLab); execute nothing")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    from .reproduce import ReproduceError, parse_value, prepare, reproduce, results_for

    params = {"profile": args.profile, "data": args.data, "device": args.device, "seed": args.seed,
              **({"data_root": args.data_root} if args.data_root is not None else {})}
    for name, value in args.parameter:
        if name in ("results", "checkpoints"):
            raise BadInputError(f"-p {name}: use --{name}")
        params[name] = parse_value(value, name)
    if args.prepare:
        written = prepare(params, args.prepare, args.results, args.checkpoints)
        print(f"wrote {len(written)} parameterised notebooks to {args.prepare}")
        return 0
    try:
        records = reproduce(params, args.results, args.checkpoints, only=args.only, force=args.force,
                            progress=not args.no_progress)
    except ReproduceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    total = sum(r["seconds"] for r in records)
    print(f"series done in {total:.0f} s ({sum(r['status'] == 'ran' for r in records)} run, "
          f"{sum(r['status'] == 'skipped' for r in records)} skipped); see "
          f"{results_for(params, args.results) / 'README.md'}")
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: CAM vs the forward pass and the peers; fast MaxBoxAcc; memory",
                       description=bench.__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one batch size, fewer repetitions and maps (< 2 min)")
    p.add_argument("--json", type=Path, help="write the figures as JSON here")
    p.add_argument("--md", type=Path, help="write the Markdown page here (and the plot beside it, .png)")
    p.add_argument("--model", default="resnet50", help="registry model (default resnet50)")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier (default 1.0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, ...")
    p.add_argument("--size", type=int, help="input size (default 224)")
    p.add_argument("--batch-sizes", type=int, nargs="+", help="batch sizes (default 1 2 4 8 16; quick: 8)")
    p.add_argument("--reps", type=int, help="timed repetitions (default 5; quick: 3)")
    p.add_argument("--maps", type=int, help="maps for the MaxBoxAcc comparison (default 256; quick: 48)")
    p.add_argument("--e2e-root", type=Path, default=bench.SHARED_SAMPLE,
                   help="ILSVRC-val folder of real JPEGs for the end-to-end figure (default: the shared sample)")
    p.add_argument("--cuda-path", action="store_true",
                   help="only the CUDA path (bench/gpu.sh): forward, CAM + boxes and localize from the --e2e-root "
                        "JPEGs with bf16 autocast, channels-last and GPU decoding; prints and writes --json")
    p.add_argument("--memory", type=int, nargs=2, default=(1000, 10000), metavar=("SMALL", "LARGE"),
                   help="map counts for the peak-memory comparison (default 1000 10000)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    device = resolve_device(args.device)
    if args.memory[0] < 1 or args.memory[1] < 1:
        raise BadInputError(f"--memory: map counts must be >= 1, got {args.memory}")
    for name in ("size", "reps", "maps"):   # 0 is not "the default": leave the flag out for that
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise BadInputError(f"--{name} {getattr(args, name)}: must be >= 1 (leave it out for the default)")
    if args.batch_sizes and min(args.batch_sizes) < 1:
        raise BadInputError(f"--batch-sizes {' '.join(map(str, args.batch_sizes))}: every batch size must be >= 1")
    for path, flag in ((args.json, "json"), (args.md, "md")):   # before minutes of measuring
        if path is not None:
            check_writable(path, flag)
    if args.cuda_path:
        result = bench.cuda_path(args.e2e_root)
        print(json.dumps(result, indent=1))
        if args.json is not None:
            atomic_write_json(args.json, result)
        return 0
    result = bench.run(quick=args.quick, model_name=args.model, device=str(device), size=args.size,
                       batch_sizes=tuple(args.batch_sizes) if args.batch_sizes else None, reps=args.reps,
                       maps=args.maps, memory=tuple(args.memory), width=args.width,
                       progress=lambda msg: print(msg, file=sys.stderr), e2e_root=args.e2e_root)
    command = "python -m cam_lib bench" + "".join(
        f" --{name.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
        for name, v in vars(args).items()
        if name in ("model", "width", "size", "batch_sizes", "reps", "maps", "memory", "json", "md") and v is not None
        and not (name == "memory" and tuple(v) == (1000, 10000)) and not (name == "width" and v == 1.0)
        and not (name == "model" and v == "resnet50")) + (" --quick" if args.quick else "")
    if args.json is not None:
        atomic_write_json(args.json, result)
    if args.md is not None:
        png = args.md.with_suffix(".png")
        bench.plot(result, png)
        gpu = args.md.with_name("benchmarks_gpu.json")   # bench/gpu.sh's figures, from a machine with a GPU
        bench.write_page(result, args.md, command.strip(), png, json.loads(gpu.read_text()) if gpu.exists() else None)
    for t in result["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        print(f"{'met' if t['met'] else 'NOT met':>8}  {t['target']}: {ratio}")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))}, indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cam_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_localize(sub)
    _add_data(sub)
    _add_train(sub)
    _add_reproduce(sub)
    _add_bench(sub)
    return parser


def _unwrap_worker_error(text: str) -> str:
    """A DataLoader worker's error re-raised in the main process reads "Caught BadInputError in DataLoader worker
    process 0. Original Traceback ..." with the file and the reason on its last line: put them first."""
    if not (text.startswith("Caught ") and "Original Traceback" in text):
        return text
    last = next((line for line in reversed(text.splitlines()) if line.strip()), text)
    where = text.splitlines()[0].removeprefix("Caught ").split(" in ", 1)[-1].rstrip(".")
    return f"{last.split('Error: ', 1)[-1]} (raised {where})"


def flag_message(error: BadInputError) -> str:
    """A library error as the command line says it: ``parameter model='x' ...`` becomes ``--model 'x' ...``; an
    error re-raised from a DataLoader worker starts with the file and the reason, not the worker's traceback."""
    text, param = _unwrap_worker_error(str(error)), getattr(error, "param", None)
    prefix = f"parameter {param}"
    if param is None or not text.startswith(prefix):
        return text
    rest = text[len(prefix):]
    return f"--{param.replace('_', '-')}" + (" " + rest[1:] if rest.startswith("=") else rest)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BadInputError as e:
        print(f"error: {flag_message(e)}", file=sys.stderr)
        return 2
    except WeightsUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
