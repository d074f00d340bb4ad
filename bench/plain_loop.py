"""The practical limit of ``localize``, as a user would write it: decode every image of ``ROOT/val`` with PIL, resize
it (the same torchvision resize), run the forward pass in batches, print the image count.

    python bench/plain_loop.py ROOT MODEL BATCH SIZE

Run in a fresh process by :func:`bench.cam_bench.end_to_end`, beside ``python -m cam_lib localize`` on the same
files: it imports only torch, torchvision (PIL), timm and the network's module, nothing of the metrics.
"""

import sys
from pathlib import Path

if __name__ == "__main__":   # the repository: its cam_lib, not bench/'s files as top-level modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from cam_lib.models import build_model  # noqa: E402


def main(argv: list[str]) -> int:
    root, model_name, batch, size = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    model = build_model(model_name, pretrained=True).eval()
    files = sorted(p for p in (root / "val").iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    tf = v2.Compose([v2.ToImage(), v2.Resize((size, size)), v2.ToDtype(torch.float32, scale=True)])
    with torch.inference_mode():
        for i in range(0, len(files), batch):
            images = []
            for path in files[i:i + batch]:
                with Image.open(path) as im:
                    images.append(tf(im.convert("RGB")))
            model(torch.stack(images))
    print(len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
