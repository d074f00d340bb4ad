"""What centring the classifier changes (:func:`cam_lib.models.centre_classifier_`), measured on the VALIDATION split
of the embedded benchmark (no test image is read). For each trained GAP/GMP network of the setup: the classifier as
training left it (``checkpoint.pt``, the training state) against the centred one that ``cam_lib.train`` writes
(``model.pt``): the common part of the classifier (:func:`cam_lib.models.common_component`), top-1 error (the
same: centring changes no prediction), the true class's CAM floor (:func:`cam_lib.cam.map_floor`; mean, and the
share of maps below -25% of their maximum), GT-known at the paper's 20% and at the val-chosen tau, MaxBoxAccV2, and
the paired difference of GT-known at each side's own tau. Then the common part of the released ImageNet
classifiers (tf_efficientnet_lite0/1/2), trained to convergence with weight decay.

    python bench/centring.py [--profile default] [--seed 0] [--models efficientnet_lite2_gap ...] [--json OUT]

Needs the setup's trained networks (``python -m cam_lib reproduce`` or notebook 01).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from cam_lib.cam import compute_cams, map_floor
from cam_lib.data import make_loader
from cam_lib.io import atomic_write_text, read_checkpoint
from cam_lib.localize import evaluate
from cam_lib.metrics import paired_difference, standard_metrics, threshold_grid
from cam_lib.models import build_model, common_component
from cam_lib.series import setup
from cam_lib.series.artifacts import checkpoint, load_trained
from cam_lib.series.setups import dataset

DEFAULT_MODELS = ("efficientnet_lite0_gap", "efficientnet_lite1_gap", "efficientnet_lite2_gap",
                  "efficientnet_lite2_gmp")
RELEASED = ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2")


def measure(net, data) -> dict:
    """Val numbers of one network: classification, the CAM floor, localization at 20% / own tau / MaxBoxAccV2."""
    floors = []
    with torch.no_grad():
        for batch in make_loader(data, 32):
            maps = compute_cams(net, batch.images, classes="gt", targets=batch.labels, normalize=False).maps[:, 0]
            floors += map_floor(maps).tolist()
    ev = evaluate(net, make_loader(data, 32), "cpu", progress=False,
                  metrics=standard_metrics(net.num_classes, threshold_grid(0.01), threads=1))
    tau = ev.chosen_threshold()
    floors = np.asarray(floors)
    return {"common": common_component(net), "top1_err": ev.top1_cls_err, "floor": float(np.nanmean(floors)),
            "deep": float(np.mean(floors > 0.25)), "gt_known_20": ev.gt_known_loc_acc, "tau": tau,
            "hits": ev.gt_known_at(tau), "maxboxacc_v2": ev.maxboxacc_v2}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    ap.add_argument("--json", type=Path, help="write the numbers here too")
    args = ap.parse_args(argv)
    s = setup(args.profile, seed=args.seed)
    rows = {}
    print(f"{'network':26s} {'head':9s} {'common':>7s} {'top-1 err':>9s} {'floor':>6s} {'<-25%':>6s} "
          f"{'GT@20%':>7s} {'tau':>5s} {'GT@tau':>7s} {'MaxBoxV2':>8s}")
    for model in args.models:
        data = dataset(s, "val", model)
        centred = load_trained(s, model)
        raw = build_model(model, num_classes=centred.num_classes, width=s.width_of(model)).eval()
        raw.load_state_dict(read_checkpoint(checkpoint(s, model).with_name("checkpoint.pt"))["model"])
        out = {"trained": measure(raw, data), "centred": measure(centred, data)}
        for head, r in out.items():
            print(f"{model:26s} {head:9s} {r['common']:7.3f} {100 * r['top1_err']:9.1f} {100 * r['floor']:6.1f} "
                  f"{100 * r['deep']:6.1f} {100 * r['gt_known_20']:7.1f} {r['tau']:5.2f} "
                  f"{100 * r['hits'].mean():7.1f} {100 * r['maxboxacc_v2']:8.1f}")
        d = paired_difference(out["centred"]["hits"], out["trained"]["hits"])
        print(f"{'':26s} centred minus trained, GT-known at own tau: {d.format()} points")
        rows[model] = {head: {k: (float(v.mean()) if k == "hits" else v) for k, v in r.items()}
                       for head, r in out.items()} | {"difference": [d.estimate, d.low, d.high]}
    for name in RELEASED:
        c = common_component(build_model(name, pretrained=True))
        rows[name] = {"common": c}
        print(f"{name:26s} released  {c:7.3f}")
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
