"""A fresh sample of the embedded benchmark's test distribution, scored once: how far the committed test split's
numbers (200 images, each interval about +-6 points) are from what the same networks, thresholds and baselines give
on images of the same distribution that nothing in the project has seen.

Decided and committed before any of these images was scored:

- images: the objects ``val`` and ``test`` splits of the benchmark built with seeds 1 and 2
  (:func:`cam_lib.data.synthetic.build`, the default profile: the same generator version, classes and settings as
  the series' seed 0; other images, since every image's random stream is keyed by the build's seed). 900 images.
  The networks were trained on seed 0's training split only, and nothing was chosen on these images;
- networks: the main GAP network that notebook 01 recorded (``main_gap.json``, chosen on seed 0's validation split)
  and its GMP twin, each with its 3 training seeds (the series' checkpoints: run the series first);
- thresholds: each network's (and each baseline's) own tau chosen on seed 0's validation split (the series' cached
  evaluation), and the paper's 20%;
- baselines, scored on the same images by the same rule: the three content-free boxes chosen on seed 0's training
  boxes, the class colour histogram fitted on seed 0's training boxes and the border colour contrast;
- numbers: GT-known localization at 20% and at the val tau (Wilson interval for one seed; the seed-and-image
  bootstrap over 3 seeds), MaxBoxAccV2, top-1 classification error; CAM minus the best baseline and GAP minus GMP,
  paired over the images (3 seeds); the main network's GT-known on each build's val and test split apart.

They are reported whatever they say, beside the committed test split's, never instead of it, and nothing is chosen
on them (docs/findings.md quotes them).

    python bench/fresh_test.py [--seeds 1 2] [--json results/fresh-test.json]

The two benchmarks build in about 40 s together on 2 cores (cached under data/).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from torch.utils.data import ConcatDataset

from cam_lib.data import build_dataset, make_loader
from cam_lib.data.common import eval_transform
from cam_lib.data.synthetic import build
from cam_lib.io import atomic_write_text, check_writable
from cam_lib.localize import evaluate
from cam_lib.metrics import mean_interval, paired_difference_seeds, standard_metrics, threshold_grid
from cam_lib.series import setup
from cam_lib.series.artifacts import _fixed_boxes, colour_model, evaluation, image_baseline, load_trained
from cam_lib.series.setups import environment, gmp_twin, seed_variant

PAPER_TAU = 0.2


def fresh_images(s, seeds: list[int], size: int):
    """The objects val and test splits of the default benchmark built with each of ``seeds``, as one dataset."""
    parts = []
    for seed in seeds:
        root = build(s.profile, root=s.val_root.parent.parent, seed=seed)   # beside the series' own benchmark
        parts += [build_dataset("imagenet", root / sub, split="val", transform=eval_transform("resize", size))
                  for sub in ("objects", "objects_test")]
    return ConcatDataset(parts)


def score(net, data, method, s) -> object:
    """One evaluation of ``method``'s maps of ``net`` on ``data`` (classification, GT-known at every tau of the
    grid, MaxBoxAccV2) with the content-free boxes scored on the same images."""
    grid = threshold_grid(0.01)
    return evaluate(net, make_loader(data, 32), s.device, method=method, progress=False, baselines=_fixed_boxes(s),
                    metrics=standard_metrics(net.num_classes, grid, threads=1 if s.device == "cpu" else None))


def _pct(interval) -> list[float]:
    return [round(100 * interval.estimate, 2), round(100 * interval.low, 2), round(100 * interval.high, 2)]


def network_rows(s, model: str, data) -> dict:
    """``model`` on the fresh images for each training seed of the series: its numbers at the val tau of that seed
    (chosen on seed 0's benchmark) and at 20%, and the per-image hits behind them."""
    seeds = [s] + [seed_variant(s, k) for k in s.extra_seeds]
    rows = {"seeds": [], "hits_tau": [], "hits_20": [], "maxboxacc_v2": [], "cls_err": []}
    for v in seeds:
        tau = evaluation(v, model, "val").chosen_threshold()
        ev = score(load_trained(v, model), data, "cam", s)
        rows["seeds"].append({"train_seed": v.seed, "tau_val": tau, "n": ev.n,
                              "gt_known_tau": _pct(mean_interval(ev.gt_known_at(tau))),
                              "gt_known_20": _pct(mean_interval(ev.gt_known_at(PAPER_TAU))),
                              "maxboxacc_v2": round(100 * ev.maxboxacc_v2, 2),
                              "top1_cls_err": round(100 * ev.top1_cls_err, 2)})
        rows["hits_tau"].append(ev.gt_known_at(tau))
        rows["hits_20"].append(ev.gt_known_at(PAPER_TAU))
        rows["maxboxacc_v2"].append(np.asarray(ev.per_image["maxboxacc_v2"], float))
        rows["cls_err"].append(np.asarray(ev.per_image["top1_cls_err"], float))
        if v is s:
            rows["fixed"] = {name: np.asarray(ev.per_image[f"baseline:{name}"], float) for name in ev.baselines()}
    return rows


def over_seeds(a: list, b: list | None = None) -> list[float]:
    """Mean over seeds and images (minus ``b``'s, paired) with the seed-and-image bootstrap interval, in points."""
    a = np.stack(a)
    return _pct(paired_difference_seeds(a, np.stack(b) if b is not None else np.zeros_like(a)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="benchmark seeds of the fresh images "
                                                                         "(never the series' own, 0)")
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args(argv)
    command = "python bench/fresh_test.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.json:
        check_writable(args.json, "--json")
    s = setup("default", trained=True)
    if s.seed in args.seeds:
        ap.error(f"--seeds: {s.seed} is the series' own benchmark (its images trained and chose the networks)")
    main_gap = s.main_gap
    data = fresh_images(s, args.seeds, s.size_of(main_gap))
    gap, gmp = network_rows(s, main_gap, data), network_rows(s, gmp_twin(main_gap), data)
    # a content-free box has no threshold: the same hits at the val tau and at 20%
    baselines = {name: {"hits": hits, "hits_20": hits, "tau_val": None} for name, hits in gap.pop("fixed").items()}
    gmp.pop("fixed")
    for method in ("border_contrast", "colour_histogram"):
        tau = image_baseline(s, method, "val").chosen_threshold()
        mapper = colour_model(s, s.size_of(main_gap)) if method == "colour_histogram" else method
        ev = score(load_trained(s, main_gap), data, mapper, s)
        baselines[method] = {"hits": ev.gt_known_at(tau), "hits_20": ev.gt_known_at(PAPER_TAU), "tau_val": tau}
    out = {"images": len(data), "benchmark_seeds": args.seeds, "main_gap": main_gap, "networks": {}, "baselines": {}}
    for model, rows in ((main_gap, gap), (gmp_twin(main_gap), gmp)):
        out["networks"][model] = {"per_seed": rows["seeds"], "gt_known_tau": over_seeds(rows["hits_tau"]),
                                  "gt_known_20": over_seeds(rows["hits_20"]),
                                  "maxboxacc_v2": over_seeds(rows["maxboxacc_v2"]),
                                  "top1_cls_err": over_seeds(rows["cls_err"])}
    for name, b in baselines.items():
        out["baselines"][name] = {"tau_val": b["tau_val"], "gt_known_tau": _pct(mean_interval(b["hits"])),
                                  "gt_known_20": _pct(mean_interval(b["hits_20"]))}
    n_seeds = len(gap["hits_tau"])
    out["cam_minus_best_baseline"] = {}
    for key, cam, hits in (("tau", gap["hits_tau"], "hits"), ("20", gap["hits_20"], "hits_20")):
        best = max(baselines, key=lambda name: baselines[name][hits].mean())   # the first of equals, in order
        out["cam_minus_best_baseline"][key] = {"baseline": best,
                                               "diff": over_seeds(cam, [baselines[best][hits]] * n_seeds)}
    edges = [0, *data.cumulative_sizes]   # each build's val and test split, in fresh_images' order
    parts = [(seed, split) for seed in args.seeds for split in ("val", "test")]
    out["parts"] = [{"benchmark_seed": seed, "split": split, "images": hi - lo,
                     "gt_known_tau": over_seeds([h[lo:hi] for h in gap["hits_tau"]]),
                     "best_fixed": _pct(mean_interval(baselines["best_fixed"]["hits"][lo:hi]))}
                    for (seed, split), lo, hi in zip(parts, edges[:-1], edges[1:])]
    out["gap_minus_gmp"] = {"gt_known_20": over_seeds(gap["hits_20"], gmp["hits_20"]),
                            "gt_known_tau": over_seeds(gap["hits_tau"], gmp["hits_tau"]),
                            "maxboxacc_v2": over_seeds(gap["maxboxacc_v2"], gmp["maxboxacc_v2"]),
                            "top1_cls_err": over_seeds(gap["cls_err"], gmp["cls_err"])}
    print(f"{len(data)} fresh images (objects val + test of benchmark seeds {args.seeds}); thresholds chosen on the "
          f"series' val split (seed 0); [95% interval]; {n_seeds} training seeds: seed-and-image bootstrap")
    for model, r in out["networks"].items():
        print(f"{model}: GT-known at val tau {r['gt_known_tau'][0]:.1f} [{r['gt_known_tau'][1]:.1f}, "
              f"{r['gt_known_tau'][2]:.1f}], at 20% {r['gt_known_20'][0]:.1f}, MaxBoxAccV2 {r['maxboxacc_v2'][0]:.1f}, "
              f"top-1 error {r['top1_cls_err'][0]:.1f}; per seed at val tau: "
              + ", ".join(f"{p['gt_known_tau'][0]:.1f}" for p in r["per_seed"]))
    for name, r in out["baselines"].items():
        print(f"baseline {name}: GT-known at val tau {r['gt_known_tau'][0]:.1f} [{r['gt_known_tau'][1]:.1f}, "
              f"{r['gt_known_tau'][2]:.1f}], at 20% {r['gt_known_20'][0]:.1f}")
    for key, r in out["cam_minus_best_baseline"].items():
        print(f"CAM minus the best baseline ({r['baseline']}) at {key}: {r['diff'][0]:+.1f} [{r['diff'][1]:+.1f}, "
              f"{r['diff'][2]:+.1f}]")
    print(f"{main_gap} at its val tau ({n_seeds} seeds) on each part: " + "; ".join(
        f"seed {p['benchmark_seed']} {p['split']} {p['gt_known_tau'][0]:.1f} (best fixed box {p['best_fixed'][0]:.1f})"
        for p in out["parts"]))
    print("GAP minus GMP: " + "; ".join(f"{k} {v[0]:+.1f} [{v[1]:+.1f}, {v[2]:+.1f}]"
                                       for k, v in out["gap_minus_gmp"].items()))
    if args.json:
        atomic_write_text(args.json, json.dumps(out | {"environment": environment(s) | {"command": command}},
                                                indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
