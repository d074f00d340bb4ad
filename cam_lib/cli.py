"""Command line: ``localize`` (Tables 2-3), ``score`` (saved maps), ``data build|check``, ``train`` (Sec. 3.1),
``reproduce`` (the notebook series); the benchmark is ``python bench/run.py``. It parses flags, calls the library and
prints. Exit status 0, or 2 on bad input: a library error's ``param=`` is printed as its flag (``--batch-size 0``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .boxes import DEFAULT_THRESHOLD
from .cam import FRAMES
from .data import DATASETS, check_dataset, present_splits
from .data.common import DECODES
from .data.imagenet import LAYOUTS
from .errors import BadInputError, WeightsUnavailableError, flag_message
from .io import atomic_write_json, check_writable
from .methods import METHODS
from .models import MODEL_NAMES

# flags that several commands share, defined once
SHARED = {"--data": dict(choices=DATASETS, required=True, help="imagenet and cub: boxes; images, photos: unlabelled"),
          "--model": dict(required=True, help=", ".join(MODEL_NAMES) + "; or torchvision:NAME, timm:NAME"),
          "--root": dict(type=Path, help="dataset folder"), "--layout": dict(choices=LAYOUTS, default="auto"),
          "--metadata": dict(type=Path, help="wsolevaluation's metadata folder (default: found beside --root)"),
          "--pretrained": dict(action="store_true", help="ImageNet weights (the backbone of GAP variants)"),
          "--width": dict(type=float, default=1.0, help="channel width multiplier (default 1.0)"),
          "--device": dict(default="auto", help="auto (default), cpu, cuda, cuda:1, ..."),
          "--workers": dict(type=int, default=0, help="data loader worker processes (default 0)"),
          "--skip-bad": dict(action="store_true", help="list bad images and annotations instead of stopping"),
          "--no-progress": dict(action="store_true", help="no progress bar"), "--seed": dict(type=int, default=0),
          "--json": dict(type=Path, help="write the numbers as JSON to this file"),
          "--cam-step": dict(type=float, default=0.01, help="threshold grid step of MaxBoxAcc (default 0.01)")}


def _shared(p, *flags: str) -> None:
    for flag in flags:
        p.add_argument(flag, **SHARED[flag])


def _add_localize(sub) -> None:
    p = sub.add_parser("localize", help="maps, boxes and localization metrics of one network on one folder")
    _shared(p, "--data", "--root", "--layout", "--metadata", "--model", "--pretrained", "--width", "--device", "--workers",
            "--skip-bad", "--no-progress", "--json", "--cam-step")
    p.add_argument("--split", help="dataset split (default: imagenet val, cub and openimages test)")
    p.add_argument("--checkpoint", type=Path, help="a trained checkpoint (state dict or cam_lib train output)")
    p.add_argument("--feature-layer", help="--model torchvision:NAME or timm:NAME: the module of its feature map")
    p.add_argument("--classifier", help="... and the linear layer after its global pooling (CAM applies only then)")
    p.add_argument("--num-classes", type=int, help="classifier size (default: the dataset's, or 1000)")
    p.add_argument("--method", default="cam", help=f"map method: {', '.join(METHODS)} (default cam), or a user's "
                                                   "'package.module:Name' (a cam_lib.methods.MapMethod)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="box threshold on the normalised map")
    p.add_argument("--frame", choices=FRAMES, default="resize", help="resize to 224 (default), resize 256 + center "
                   "crop 224, or ten_crop (the official protocol: 256x256, ten 224 crops, maps merged)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--decode", choices=DECODES, default="cpu", help="cpu (PIL in the loader) or device (a batch of "
                   "JPEGs in one call on --device: nvJPEG on CUDA; the same pixels on the CPU)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (close to, not identical with, float32)")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format for the forward pass")
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    p.add_argument("--figures", type=Path, help="write map overlays with boxes as PNGs to this folder")
    p.add_argument("--max-figures", type=int, default=16, help="how many images get an overlay (default 16)")
    p.add_argument("--baselines", action="store_true", help="also score the content-free boxes, chosen on these "
                   "images' own boxes, with 95%% intervals and the paired interval of the method minus each")
    p.set_defaults(func=cmd_localize)


def cmd_localize(args) -> int:
    """``localize``; under torchrun each rank evaluates a shard and rank 0 prints and writes the whole dataset's."""
    from .localize import LocalizeConfig, config_fields, localize

    flags = {name: getattr(args, name) for name in config_fields() if hasattr(args, name)}
    config = LocalizeConfig(**flags, progress=not args.no_progress).check()
    if args.json is not None:   # before the evaluation: a bad output path must not cost the metrics
        check_writable(args.json, "json")
    if args.figures is not None:
        check_writable(args.figures, "figures", folder=True)
    run = localize(config)
    if run.rank > 0:
        return 0
    result = run.evaluation.to_json(outcomes=False) | ({"layout": run.layout} if run.layout else {})
    _print_summary(result, run.figures, args.figures, run.evaluation.method)   # first: on screen whatever happens
    return _write(result, args.json)


def _write(result: dict, path: Path | None) -> int:
    if path is not None:
        atomic_write_json(path, result)
        print(f"wrote {path}")
    return 0


def _print_summary(result: dict, written: tuple, figures: Path | None, method: str) -> None:
    for k, v in result.items():
        if k in ("predictions", "skipped_files") or isinstance(v, dict):
            continue
        print(f"{k:>18}: {v:.4f}" if isinstance(v, float) and k != "threshold" else f"{k:>18}: {v}")
    for name, b in result.get("baselines", {}).items():
        print(f"{'baseline ' + name:>18}: {b['gt_known_loc_acc']:.4f} [{b['ci'][0]:.4f}, {b['ci'][1]:.4f}] GT-known; "
              f"{method} minus it {b['cam_minus_baseline']:+.4f} [{b['cam_minus_baseline_ci'][0]:+.4f}, "
              f"{b['cam_minus_baseline_ci'][1]:+.4f}]")
    for p in result.get("predictions", []):
        top = p["top5"][0]
        print(f"{Path(p['file']).name:>28}: {top['name']} ({top['prob']:.2f}) box {top['box']}")
    if written:
        print(f"wrote {len(written)} figures to {figures}")


def _add_data(sub) -> None:
    dsub = sub.add_parser("data", help="build the embedded benchmark, or check any dataset").add_subparsers(
        dest="data_command", required=True)
    b = dsub.add_parser("build", help="generate the embedded benchmark (cached by generator version, profile, seed)")
    b.add_argument("--profile", default="default", help="smoke, default or full (default: default)")
    b.add_argument("--root", type=Path, default=Path("data"), help="parent folder (default: data/)")
    _shared(b, "--seed")
    b.add_argument("--workers", type=int, help="generator processes (default: all cores)")
    b.add_argument("--force", action="store_true", help="regenerate even if the cached build is complete")
    b.set_defaults(func=cmd_data_build)
    c = dsub.add_parser("check", help="validate a real or embedded dataset: parse every list, decode every image")
    _shared(c, "--data", "--root", "--layout", "--metadata", "--skip-bad", "--no-progress")
    c.add_argument("--split", action="append", help="split(s) to check (default: every one present)")
    c.add_argument("--workers", type=int, default=2)
    c.set_defaults(func=cmd_data_check)


def cmd_data_build(args) -> int:
    from .data import synthetic

    print(synthetic.describe(synthetic.build(args.profile, args.root, args.seed, args.workers, args.force)))
    return 0


def cmd_data_check(args) -> int:
    for split in args.split or present_splits(args.data, args.root):
        print(check_dataset(args.data, args.root, split=split, layout=args.layout, skip_bad=args.skip_bad,
                            workers=args.workers, progress=not args.no_progress, metadata=args.metadata))
    return 0


def _add_train(sub) -> None:
    from .train import RECIPES, Recipe

    p = sub.add_parser("train", help="train or fine-tune a registry model (torchrun for several processes)")
    _shared(p, "--model", "--data", "--root", "--pretrained", "--width", "--device", "--workers", "--no-progress",
            "--seed")
    p.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt, log.csv, model.pt")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="paper")
    p.add_argument("--no-mirror", dest="mirror", action="store_const", const=False, help="no random flips")
    p.add_argument("--frozen", action=argparse.BooleanOptionalAction, default=None, help="train only the surgery's "
                   "new layers on the fixed pretrained backbone's cached maps (default: the recipe's)")
    p.add_argument("--cache-dir", type=Path, help="where a frozen recipe caches the backbone's maps (default: --out)")
    for name, f in Recipe.__dataclass_fields__.items():
        if f.type != "bool":
            p.add_argument(f"--{name.replace('_', '-')}", type={"int": int, "float": float, "str": str}[f.type],
                           help=f"override the recipe's {name}")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
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
    p.add_argument("--data-root", help="embedded: where the benchmark is generated (default data/); imagenet: its root")
    _shared(p, "--device", "--no-progress", "--seed")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="any notebook parameter (YAML value), e.g. -p models '[alexnet_gap, googlenet_gap]'")
    p.add_argument("--results", help="default: results/, or results/runs/<data>-<profile>-s<seed>/ for other runs")
    p.add_argument("--checkpoints", default=None, help="default: checkpoints/ of the repository")
    p.add_argument("--only", nargs="+", help="run only these notebooks (e.g. 02_localization)")
    p.add_argument("--force", action="store_true", help="rerun notebooks even when unchanged")
    p.add_argument("--prepare", metavar="DIR", help="only write the parameterised notebooks into DIR (nbval)")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    from .reproduce import ReproduceError, parse_value, prepare, reproduce, results_for, summary_line

    params = {"profile": args.profile, "data": args.data, "device": args.device, "seed": args.seed,
              **({"data_root": args.data_root} if args.data_root is not None else {})}
    for name, value in args.parameter:
        if name in ("results", "checkpoints"):
            raise BadInputError(f"parameter {name}: use --{name}, not -p {name}", param=name)
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
    print(summary_line(records, results_for(params, args.results)))
    return 0


def _add_score(sub) -> None:
    from .score import CONVENTIONS

    p = sub.add_parser("score", help="WSOL metrics of saved score maps (wsolevaluation's layout): MaxBoxAcc, PxAP")
    for flag, kw in (("--maps", dict(required=True, help="MAPS/<image id>.npy, one map per image")),
                     ("--metadata", dict(required=True, help="image_ids, class_labels, image_sizes, localization.txt")),
                     ("--masks", dict(help="the folder of the masks localization.txt names (PxAP)"))):
        p.add_argument(flag, type=Path, **kw)
    p.add_argument("--convention", choices=CONVENTIONS, default="cam_lib", help="cam_lib's, or wsolevaluation's exactly")
    _shared(p, "--json", "--cam-step")
    p.set_defaults(func=cmd_score)


def cmd_score(args) -> int:
    from .score import score_maps

    if args.json is not None:   # before the work: a bad output path must not cost it
        check_writable(args.json, "json")
    result = score_maps(args.maps, args.metadata, args.masks, args.convention, args.cam_step)
    _print_summary(result, (), None, "")
    return _write(result, args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cam_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_localize, _add_data, _add_train, _add_reproduce, _add_score):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BadInputError, WeightsUnavailableError) as e:
        print(f"error: {flag_message(e) if isinstance(e, BadInputError) else e}", file=sys.stderr)
        return 2
