"""Where the time of one `evaluate` batch goes on CUDA: each phase run in turn and synchronised, ms per image.

    python3 bench/gpu_phases.py SAMPLE_DIR   # an ILSVRC-val folder of JPEGs (e.g. ../shared/data/imagenet-val-sample)

The phases of :func:`cam_lib.localize.evaluate`, written with the public API: the map method
(``get_method("cam")``: the top-5 classes' CAMs and the ground truth's from one forward pass), the boxes
(:func:`cam_lib.boxes.boxes_from_maps`), the metrics of Tables 1-3 and the MaxBoxAccV2 sweep.
"""
import sys
import time
from pathlib import Path

if __name__ == "__main__":   # the repository's cam_lib, as `python -m` from its root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402
from torch.utils.data import ConcatDataset  # noqa: E402

from cam_lib.boxes import boxes_from_maps  # noqa: E402
from cam_lib.cam import MapOutput  # noqa: E402
from cam_lib.data import build_dataset, make_loader  # noqa: E402
from cam_lib.methods import get_method  # noqa: E402
from cam_lib.metrics import (ClassificationError, GTKnownLocalization, LocalizationError,  # noqa: E402
                             best_ious_both, threshold_grid)
from cam_lib.models import build_model  # noqa: E402

K, THRESHOLD = 5, 0.2


def phases(model, loader, dev, grid) -> tuple[int, dict]:
    """One pass over ``loader``: seconds spent in each phase (synchronised after each), and the image count."""
    cam, T, n = get_method("cam"), {}, 0

    def tick(k, t):
        torch.cuda.synchronize()
        now = time.perf_counter()
        T[k] = T.get(k, 0) + now - t
        return now

    t = time.perf_counter()
    for batch in loader:
        t = tick("load", t)
        images = batch.images_on(dev).contiguous(memory_format=torch.channels_last)
        t = tick("decode+frame", t)
        y = batch.labels
        with torch.autocast("cuda", dtype=torch.bfloat16):
            m = cam(model, images, K, extra=y.to(dev))   # top-5 maps, then the ground truth's: (B, 6, H, W)
        t = tick("forward+cams", t)
        m = MapOutput(m.logits.float().cpu(), m.classes.cpu(), m.maps.cpu())
        t = tick("maps to cpu", t)
        boxes = boxes_from_maps(m.maps, THRESHOLD)           # (B, 6, 4)
        t = tick("boxes", t)
        ClassificationError().update(m.logits, y)
        LocalizationError().update(m.classes[:, :K], boxes[:, :K], y, batch.gt_boxes, batch.gt_valid)
        GTKnownLocalization().update(boxes[:, K], batch.gt_boxes, batch.gt_valid)
        t = tick("metrics", t)
        best_ious_both(m.maps[:, K].numpy(), grid, batch.gt_boxes.numpy(), batch.gt_valid.numpy())
        t = tick("sweep", t)
        n += len(y)
    return n, T


def main(root: str) -> None:
    dev = torch.device("cuda")
    model = build_model("tf_efficientnet_lite0", pretrained=True).eval().to(dev).to(memory_format=torch.channels_last)
    grid = threshold_grid()
    for decode in ("device", "cpu"):
        ds = build_dataset("imagenet", root).set_decode(decode)
        loader = make_loader(ConcatDataset([ds] * 4), 256, 8, dev)
        for _ in range(2):   # the second pass is reported
            n, T = phases(model, loader, dev, grid)
        print(decode, n, "images;", " ".join(f"{k} {v / n * 1e3:.3f} ms/img" for k, v in T.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
