"""How much of the backbone the embedded default's surgery networks fine-tune (recipe ``embedded_pretrained``,
:mod:`cam_lib.train`), measured on the VALIDATION split of the embedded benchmark (no test image is read): the
candidate recipes the default's was chosen from, each trained with ``cam_lib.train`` (the series' seed and frozen-map
cache) and scored by the library's evaluator: top-1 error, GT-known at the paper's 20% and at the val-chosen tau
(with its Wilson interval, and minus the default's recipe paired over the images), MaxBoxAccV2, and the training
time.

    python bench/recipes.py [--profile default] [--seed 0] [--model efficientnet_lite2_gap]
                            [--candidates new-layers last-stage stride16 stride16-8ep stride8] [--out DIR] [--json F]

The networks go to ``--out`` (default: ``bench-recipes`` beside the setup's checkpoints); a rerun resumes or
reuses them (a network of another recipe is refused by ``cam_lib.train``). About 25 minutes on 2 cores for the five
candidates on EfficientNet-Lite2-GAP (training loops of 83-349 s, plus each split's frozen maps computed once and
the evaluations). The training time is the training loop's at its median epoch's speed, read from each run's
``log.csv``: the same whether the run was resumed or reused.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from cam_lib.data import build_dataset, make_loader
from cam_lib.io import atomic_write_text, check_writable, load_checkpoint
from cam_lib.localize import evaluate
from cam_lib.metrics import paired_difference, standard_metrics, threshold_grid, wilson
from cam_lib.models import build_model
from cam_lib.series import setup
from cam_lib.series.setups import dataset, environment
from cam_lib.train import resolve_recipe, train

# name -> (what it trains, overrides of the setup's recipe for the network)
CANDIDATES = {
    "new-layers": ("the added conv and linear layer on the frozen backbone, 8 epochs", {"tuned_stages": 0, "epochs": 8}),
    "last-stage": ("+ the backbone's last stage, 8 epochs", {"tuned_stages": 1, "epochs": 8}),
    "stride16-8ep": ("+ both stride-16 stages, 8 epochs", {"tuned_stages": 2, "epochs": 8}),
    "stride16": ("+ both stride-16 stages, 5 epochs", {"tuned_stages": 2, "epochs": 5}),
    "stride8": ("+ both stride-16 stages and the stride-8 stage, 5 epochs (the default's recipe)", {"tuned_stages": 3, "epochs": 5}),
}
ADOPTED = "stride8"   # the candidate that is recipe ``embedded_pretrained`` itself (tests/test_bench.py checks it)


def training_time(folder: Path, rec, n_train: int) -> tuple[float, float]:
    """The training loop's seconds (its median epoch's images/s over all epochs) and that median, read from the
    run's ``log.csv``: a resumed or reused run reports its training, not this process's wait; the frozen maps'
    one-time computation and the per-epoch evaluation are not counted."""
    with open(folder / "log.csv", newline="") as f:
        per_epoch = {int(r["epoch"]): float(r["images_per_s"]) for r in csv.DictReader(f)}   # last row per epoch
    if sorted(per_epoch) != list(range(1, rec.epochs + 1)):
        raise SystemExit(f"{folder / 'log.csv'}: epochs {sorted(per_epoch)}, expected 1-{rec.epochs}")
    seen = rec.batch_size * (n_train // rec.batch_size)   # full batches only (drop_last)
    ips = statistics.median(per_epoch.values())   # robust to an epoch slowed by another job on the machine
    return rec.epochs * seen / ips, ips


def measure(s, model: str, folder: Path, what: str, overrides: dict) -> dict:
    """Train (or reuse) one candidate and score it on the validation split."""
    recipe = s.recipe_of(model)
    train(model, "imagenet", s.train_root, folder, pretrained=True, width=s.width_of(model), recipe=recipe,
          overrides=overrides, device=s.device, resume=True, seed=s.seed, progress=True,
          cache_dir=s.checkpoints.parent / "backbone-maps")
    rec = resolve_recipe(recipe, overrides)
    seconds, ips = training_time(folder, rec, len(build_dataset("imagenet", s.train_root, split="train")))
    net = build_model(model, num_classes=s.num_classes, width=s.width_of(model))
    load_checkpoint(net, folder / "model.pt")
    data = dataset(s, "val", model)
    ev = evaluate(net.eval(), make_loader(data, 32), s.device, progress=False,
                  metrics=standard_metrics(s.num_classes, threshold_grid(0.01), threads=1))
    tau = ev.chosen_threshold()
    hits = ev.gt_known_at(tau)
    gt = wilson(int(hits.sum()), len(hits))
    return {"what": what, "tuned_stages": rec.tuned_stages, "epochs": rec.epochs, "train_s": round(seconds),
            "images_per_s": round(ips, 1), "top1_err": 100 * ev.top1_cls_err, "gt_known_20": 100 * ev.gt_known_loc_acc,
            "tau": tau, "gt_known_tau": 100 * gt.estimate, "gt_known_tau_interval": [100 * gt.low, 100 * gt.high],
            "maxboxacc_v2": 100 * ev.maxboxacc_v2, "n": int(len(hits)), "hits": hits}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="efficientnet_lite2_gap")
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--out", type=Path, help="where the candidates' networks go (default: bench-recipes beside "
                                              "the setup's checkpoints)")
    ap.add_argument("--json", type=Path, help="write the numbers here too")
    args = ap.parse_args(argv)
    command = "python bench/recipes.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.json:
        check_writable(args.json, "--json")
    s = setup(args.profile, seed=args.seed)
    if args.model not in s.fine_tuned:
        ap.error(f"--model {args.model}: not one of this profile's fine-tuned networks ({', '.join(s.fine_tuned)})")
    out = args.out or s.checkpoints.parent / "bench-recipes"
    rows = {}
    for name in args.candidates:
        what, overrides = CANDIDATES[name]
        rows[name] = measure(s, args.model, out / args.model / name, what, overrides)
    hits = {name: r.pop("hits") for name, r in rows.items()}
    for name, r in rows.items():   # paired over the same val images: each candidate minus the default's recipe
        d = paired_difference(hits[name], hits[ADOPTED]) if ADOPTED in hits and name != ADOPTED else None
        r["minus_adopted"] = None if d is None else [100 * d.estimate, 100 * d.low, 100 * d.high]
    print(f"\n{args.model}, seed {s.seed}, validation split ({next(iter(rows.values()))['n']} images); GT-known at "
          f"the val-chosen tau, and minus the default's recipe ({ADOPTED}) paired over the images")
    print(f"{'candidate':13s} {'train':>6s} {'top-1 err':>9s} {'GT@20%':>7s} {'tau':>5s} {'GT@tau [95%]':>20s} "
          f"{'minus default':>21s} {'MaxBoxV2':>8s}  trains")
    for name, r in rows.items():
        low, high = r["gt_known_tau_interval"]
        diff = "" if r["minus_adopted"] is None else "{:+5.1f} [{:+5.1f}, {:+5.1f}]".format(*r["minus_adopted"])
        print(f"{name:13s} {r['train_s']:5d}s {r['top1_err']:9.1f} {r['gt_known_20']:7.1f} {r['tau']:5.2f} "
              f"{r['gt_known_tau']:6.1f} [{low:4.1f}, {high:4.1f}] {diff:>21s} {r['maxboxacc_v2']:8.1f}  {r['what']}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"model": args.model, "seed": s.seed, "profile": args.profile,
                                                 "split": "val", "candidates": rows,
                                                 "environment": environment(s) | {"command": command}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
