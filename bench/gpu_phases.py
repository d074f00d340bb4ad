"""Where the time of one `evaluate` batch goes on CUDA: each phase run in turn and synchronised, ms per image.

    python3 bench/gpu_phases.py SAMPLE_DIR   # an ILSVRC-val folder of JPEGs (e.g. ../shared/data/imagenet-val-sample)
"""
import sys
import time

import torch
from torch.utils.data import ConcatDataset
from cam_lib.data import build_dataset, make_loader
from cam_lib.models import build_model
from cam_lib.localize import _maps, _boxed
from cam_lib.metrics import best_ious_both, threshold_grid, ClassificationError, LocalizationError, GTKnownLocalization
dev = torch.device("cuda")
model = build_model("tf_efficientnet_lite0", pretrained=True).eval().to(dev).to(memory_format=torch.channels_last)
grid = threshold_grid()
for decode in ("device", "cpu"):
    ds = build_dataset("imagenet", sys.argv[1]).set_decode(decode)
    loader = make_loader(ConcatDataset([ds] * 4), 256, 8, dev)
    T = {}
    def tick(k, t):
        torch.cuda.synchronize(); now = time.perf_counter(); T[k] = T.get(k, 0) + now - t; return now
    for rep in range(2):
        T.clear(); n = 0
        t = time.perf_counter()
        it = iter(loader)
        for batch in it:
            t = tick("load", t)
            images = batch.images_on(dev).contiguous(memory_format=torch.channels_last); t = tick("decode+frame", t)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                m = _maps(model, images, 5, batch.labels.to(dev), "cam", "resize")
            t = tick("forward+cams", t)
            m = type(m)(m.logits.float().cpu(), m.classes.cpu(), m.maps.cpu()); t = tick("maps to cpu", t)
            out = _boxed(m, 5, 0.2, True); t = tick("boxes", t)
            y = batch.labels
            ClassificationError().update(out.logits, y); LocalizationError().update(out.classes, out.boxes, y, batch.gt_boxes, batch.gt_valid)
            GTKnownLocalization().update(out.gt_boxes, batch.gt_boxes, batch.gt_valid); t = tick("metrics", t)
            best_ious_both(out.gt_maps.numpy(), grid, batch.gt_boxes.numpy(), batch.gt_valid.numpy()); t = tick("sweep", t)
            n += len(y)
    print(decode, n, "images;", " ".join(f"{k} {v / n * 1e3:.3f} ms/img" for k, v in T.items()), flush=True)
