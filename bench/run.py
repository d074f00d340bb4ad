"""The benchmark's command line (the paper's cost claim: CAM at forward-pass speed; see bench/README.md):

    python bench/run.py [--quick] [--json F] [--md F] [--model M] [--width W] [--device D] [--size S]
                        [--batch-sizes B ...] [--reps R] [--maps N] [--e2e-root DIR] [--cuda-path]
                        [--memory SMALL LARGE]

Run from the repository root. The process gets the policies of ``python -m cam_lib`` (:mod:`cam_lib.__main__`:
freed memory kept for reuse, no final collection at exit). Exit status 0, or 2 on bad input (the message names the
flag). ``--e2e-root`` defaults to the shared ImageNet sample beside the repository
(``../shared/data/imagenet-val-sample``); when that folder is absent the end-to-end figure is not measured, and
the run says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__":   # `python bench/run.py`: import the repository's packages, not bench/'s files
    sys.path[0] = str(REPO)
    import atexit
    import gc

    from cam_lib.__main__ import keep_freed_memory

    # the entry point's policies, as `python -m cam_lib` applies them (cam_lib/__main__.py): freed memory kept for
    # reuse (with glibc's defaults a forward pass on 2 cores took twice as long), no final collection at exit
    keep_freed_memory()
    atexit.register(gc.freeze)

from cam_lib.cli import flag_message  # noqa: E402
from cam_lib.errors import BadInputError, WeightsUnavailableError  # noqa: E402
from cam_lib.io import atomic_write_json, check_writable  # noqa: E402

SHARED_SAMPLE = REPO.parent / "shared" / "data" / "imagenet-val-sample"
DEFAULTS = {"model": "resnet50", "width": 1.0, "memory": (1000, 10000)}   # left out of the page's command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python bench/run.py", description="benchmarks: CAM vs the forward pass and "
                                "the peers; fast MaxBoxAcc; memory; localize end to end")
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
    p.add_argument("--e2e-root", type=Path, default=SHARED_SAMPLE,
                   help=f"ILSVRC-val folder of real JPEGs for the end-to-end figure (default: {SHARED_SAMPLE})")
    p.add_argument("--cuda-path", action="store_true",
                   help="only the CUDA path (bench/gpu.sh): forward, CAM + boxes and localize from the --e2e-root "
                        "JPEGs with bf16 autocast, channels-last and GPU decoding; prints and writes --json")
    p.add_argument("--memory", type=int, nargs=2, default=(1000, 10000), metavar=("SMALL", "LARGE"),
                   help="map counts for the peak-memory comparison (default 1000 10000)")
    return p


def check(args) -> None:
    """The flags, before minutes of measuring."""
    if args.memory[0] < 1 or args.memory[1] < 1:
        raise BadInputError(f"--memory: map counts must be >= 1, got {args.memory}")
    for name in ("size", "reps", "maps"):   # 0 is not "the default": leave the flag out for that
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise BadInputError(f"--{name} {getattr(args, name)}: must be >= 1 (leave it out for the default)")
    if args.batch_sizes and min(args.batch_sizes) < 1:
        raise BadInputError(f"--batch-sizes {' '.join(map(str, args.batch_sizes))}: every batch size must be >= 1")
    for path, flag in ((args.json, "json"), (args.md, "md")):
        if path is not None:
            check_writable(path, flag)


def command_line(args) -> str:
    """The command as the page shows it: the flags that change the figures, defaults left out."""
    flags = "".join(f" --{name.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                    for name, v in vars(args).items()
                    if name in ("model", "width", "size", "batch_sizes", "reps", "maps", "memory", "json", "md")
                    and v is not None and not (name in DEFAULTS and (tuple(v) if name == "memory" else v)
                                               == DEFAULTS[name]))
    return ("python bench/run.py" + flags + (" --quick" if args.quick else "")).strip()


def cmd_bench(args) -> int:
    from bench import cam_bench
    from cam_lib.models import resolve_device

    device = resolve_device(args.device)
    check(args)
    if args.cuda_path:
        result = cam_bench.cuda_path(args.e2e_root)
        print(json.dumps(result, indent=1))
        if args.json is not None:
            atomic_write_json(args.json, result)
        return 0
    result = cam_bench.run(quick=args.quick, model_name=args.model, device=str(device), size=args.size,
                           batch_sizes=tuple(args.batch_sizes) if args.batch_sizes else None, reps=args.reps,
                           maps=args.maps, memory=tuple(args.memory), width=args.width,
                           progress=lambda msg: print(msg, file=sys.stderr), e2e_root=args.e2e_root)
    if args.json is not None:
        atomic_write_json(args.json, result)
    if args.md is not None:
        from bench.page import plot, write_page

        png = args.md.with_suffix(".png")
        plot(result, png)
        gpu = args.md.with_name("benchmarks_gpu.json")   # bench/gpu.sh's figures, from a machine with a GPU
        write_page(result, args.md, command_line(args), png, json.loads(gpu.read_text()) if gpu.exists() else None)
    for t in result["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        print(f"{'met' if t['met'] else 'NOT met':>8}  {t['target']}: {ratio}")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return cmd_bench(args)
    except (BadInputError, WeightsUnavailableError) as e:
        print(f"error: {flag_message(e) if isinstance(e, BadInputError) else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
