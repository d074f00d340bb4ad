"""CAM against a localizer that looks at the image without any network, on real images: GT-known localization of
tf_efficientnet_lite0's CAM and of the class-agnostic border colour contrast (``cam_lib.methods.BorderContrast``,
the paper's threshold of 20% for both), each with its Wilson interval, and the paired 95% interval of the
difference (Agresti-Min, the same images). The README's headline comes from this run:

    python bench/sample_saliency.py [ROOT]     # default ../shared/data/imagenet-val-sample; about a minute on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from cam_lib.data import build_dataset, make_loader
from cam_lib.localize import evaluate
from cam_lib.metrics import paired_difference, wilson
from cam_lib.models import build_model


def main(root: str) -> None:
    ds = build_dataset("imagenet", root, split="val")
    net = build_model("tf_efficientnet_lite0", pretrained=True).eval()
    hits = {m: np.asarray(evaluate(net, make_loader(ds, 32), "cpu", method=m, progress=False)
                          .per_image["gt_known_loc_acc"], float) for m in ("cam", "border_contrast")}
    for method, h in hits.items():
        print(f"{method:>16}: GT-known {wilson(int(h.sum()), len(h))} ({len(h)} images)")
    print(f"cam minus border_contrast: {paired_difference(hits['cam'], hits['border_contrast'])} points")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "imagenet-val-sample"
    main(sys.argv[1] if len(sys.argv) > 1 else str(default))
