"""A fuzz of the loaders and the CAM entry (issue 13): random corruptions of real-format ILSVRC folders (images,
LOC csv, devkit XML and its declared sizes, wsolevaluation's metadata) and random tensors given to ``compute_cams``;
and (issue 23) corrupted caches and checkpoints, pickled payloads included. Every case must end in one of two ways: it
works (finite images in [0, 1], finite boxes, finite maps in [0, 1], no image dropped without being listed), or
it stops with ``BadInputError`` naming the file (loaders) or the parameter (API). Anything else is a finding:
another exception type, an error that names nothing, or an image silently dropped. A damaged cache must give the
right result back (recomputed, the file named in a warning); a damaged checkpoint must load its exact tensors or
stop naming the file, and a pickled payload must never run.

    python tests/fuzz_inputs.py --cases 1000 --seed 0     # prints the counts per outcome and the findings

``tests/test_fuzz.py`` runs a short, fixed-seed version in ``make test``.
"""

from __future__ import annotations

import argparse
import collections
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import write_imagenet  # noqa: E402

from cam_lib.cam import compute_cams  # noqa: E402
from cam_lib.data import make_loader  # noqa: E402
from cam_lib.data.common import eval_transform  # noqa: E402
from cam_lib.data.imagenet import ImageNetVal  # noqa: E402
from cam_lib.errors import BadInputError  # noqa: E402
from cam_lib.models import build_model  # noqa: E402

N_IMAGES = 6
MODES = ("1", "L", "P", "LA", "RGBA", "CMYK", "I;16", "I", "F")


def _image_bytes(rng, mode: str) -> tuple[bytes, str]:
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    if mode in ("I;16", "I"):
        arr = rng.integers(0, 65536 if rng.random() < 0.8 else 2 ** 31 - 1, (h, w)).astype(
            np.uint16 if mode == "I;16" else np.int32)
        im = Image.fromarray(arr)   # uint16 -> I;16, int32 -> I
    elif mode == "F":
        im = Image.fromarray((rng.random((h, w)) * (1 if rng.random() < 0.7 else 300)).astype(np.float32))   # F
    else:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
    fmt = "TIFF" if mode in ("I", "F", "CMYK") else "PNG"
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue(), fmt


def _mutate_folder(root: Path, rng) -> tuple[str, str]:
    """One random corruption of the folder; returns (a description, the name of the file it touched)."""
    images = sorted((root / "val").glob("*.JPEG"))
    target = images[int(rng.integers(len(images)))]
    kind = rng.choice(["truncate", "flip", "zero", "random", "mode", "csv", "xml", "orphan", "remove_xml", "resized"])
    if kind == "truncate":
        data = target.read_bytes()
        target.write_bytes(data[:int(rng.integers(0, len(data)))])
    elif kind == "flip":
        data = bytearray(target.read_bytes())
        for _ in range(int(rng.integers(1, 20))):
            data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        target.write_bytes(bytes(data))
    elif kind == "zero":
        target.write_bytes(b"")
    elif kind == "random":
        target.write_bytes(rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes())
    elif kind == "mode":
        data, _ = _image_bytes(rng, str(rng.choice(MODES)))
        target.write_bytes(data)   # a PNG/TIFF under a .JPEG name, as real folders have
    elif kind == "csv":
        path = root / "LOC_val_solution.csv"
        lines = path.read_text().splitlines()
        i = int(rng.integers(1, len(lines)))
        tokens = lines[i].split(",", 1)[1].split()
        j = int(rng.integers(len(tokens)))
        tokens[j] = str(rng.choice(["nan", "inf", "-inf", "-1", "abc", "1e30", "", "n99999999"]))
        lines[i] = lines[i].split(",", 1)[0] + "," + " ".join(tokens)
        if rng.random() < 0.2:
            lines.append(lines[i])   # a duplicate row
        path.write_text("\n".join(lines) + "\n")
        return f"csv token {j} of line {i + 1}", path.name
    elif kind == "xml":
        path = root / "bbox" / (target.stem + ".xml")
        text = path.read_text()
        choice = rng.choice(["nan", "truncate", "noobject", "wnid", "size"])
        text = {"nan": text.replace("<ymin>3</ymin>", "<ymin>nan</ymin>"), "truncate": text[:len(text) // 2],
                "noobject": text.split("<object>")[0] + "</annotation>",
                "wnid": text.replace("<name>n", "<name>x", 1),
                "size": text.replace("<width>", "<width>1", 1)}[choice]
        path.write_text(text)
        return f"xml {choice}", path.name
    elif kind == "resized":   # a resized copy of the image beside annotations of the original
        with Image.open(target) as im:
            im.resize((im.width * 2, im.height * 2)).save(target, "JPEG")
        return "image resized, annotations not", target.name
    elif kind == "orphan":
        shutil.copy(target, root / "val" / "ILSVRC2012_val_00000099.JPEG")
        return "image without annotation", "ILSVRC2012_val_00000099.JPEG"
    else:
        (root / "bbox" / (target.stem + ".xml")).unlink()
        return "xml removed", target.name
    return str(kind), target.name


def _loader_case(rng, base: Path, work: Path) -> tuple[str, str]:
    root = work / "case"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    what, name = _mutate_folder(root, rng)
    layout = str(rng.choice(["loc", "devkit"]))
    skip_bad = bool(rng.random() < 0.5)
    try:
        ds = ImageNetVal(root, layout=layout, skip_bad=skip_bad, transform=eval_transform("resize", 32))
        seen, listed = 0, len(ds.skipped)
        for batch in make_loader(ds, 4):
            listed += len(batch.skipped)
            seen += len(batch.labels)
            if len(batch.labels) and not (torch.isfinite(batch.images).all() and batch.images.min() >= 0
                                          and batch.images.max() <= 1 and torch.isfinite(batch.gt_boxes).all()):
                return "finding: non-finite or out-of-range data passed", f"{what} ({layout})"
        expected = len(list((root / "val").glob("*.JPEG")))
        if seen + listed < expected:
            return "finding: an image dropped without a word", f"{what} ({layout}, skip_bad={skip_bad})"
        return ("ok", what) if listed == 0 else ("skipped and listed", what)
    except BadInputError as err:
        stem = Path(name).stem
        if stem in str(err) or name in str(err) or "LOC_val_solution.csv" in str(err) and name.endswith(".csv"):
            return "error naming the file", what
        return "finding: error without the file", f"{what} ({layout}): {err}"
    except Exception as err:  # noqa: BLE001 - any other exception is what the fuzz looks for
        return f"finding: {type(err).__name__}", f"{what} ({layout}): {err}"


def _api_case(rng, model) -> tuple[str, str]:
    dtype = rng.choice(["uint8", "int64", "bool", "float16", "float32", "float64"])
    shape = [int(rng.integers(1, 3)), 3, 16, 16]
    if rng.random() < 0.2:
        shape = shape[:int(rng.integers(1, 4))] if rng.random() < 0.5 else shape + [2]
    if rng.random() < 0.1 and len(shape) == 4:
        shape[1] = int(rng.choice([1, 4]))
    scale = float(rng.choice([1.0, 255.0, -1.0, 1e6]))
    x = torch.from_numpy(rng.random(shape)).mul(scale).to(getattr(torch, str(dtype)))
    if rng.random() < 0.2 and x.is_floating_point() and x.numel():
        x.view(-1)[int(rng.integers(x.numel()))] = float(rng.choice([np.nan, np.inf, -np.inf]))
    what = f"{dtype} {tuple(shape)} x{scale:g}"
    try:
        out = compute_cams(model, x, "top1")
        if not (torch.isfinite(out.maps).all() and out.maps.min() >= 0 and out.maps.max() <= 1):
            return "finding: maps out of [0, 1]", what
        return "ok", what
    except BadInputError as err:
        return ("error naming the parameter", what) if "images" in str(err) else \
            ("finding: error without the parameter", f"{what}: {err}")
    except Exception as err:  # noqa: BLE001
        return f"finding: {type(err).__name__}", f"{what}: {err}"


class _Payload:
    """A pickled object whose loading would run code: it creates the file ``marker``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _store_case(rng, work: Path) -> tuple[str, str]:
    """A cache or a checkpoint written, then damaged (truncated, bytes flipped, emptied, replaced by a pickled
    payload): the right result back or an error naming the file; code in a pickle never runs."""
    import os
    import pickle

    from cam_lib.io import atomic_write_bytes, cache_path, cached_arrays, cached_json, read_checkpoint

    folder = work / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    kind = str(rng.choice(["json", "npz", "checkpoint"]))
    damage = str(rng.choice(["truncate", "flip", "zero", "pickle"]))
    marker = folder / "PAYLOAD_RAN"
    want = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    if kind == "checkpoint":
        path = folder / "model.pt"
        torch.save({"w": torch.from_numpy(want["w"])}, path)
    else:
        compute = (lambda: {"acc": 0.5}) if kind == "json" else (lambda: dict(want))
        reader = cached_json if kind == "json" else cached_arrays
        reader(folder, "c", {"k": 1}, compute)
        path = cache_path(folder, "c", {"k": 1}, ".json" if kind == "json" else ".npz")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[:int(rng.integers(0, len(data)))]
    elif damage == "flip":
        for _ in range(int(rng.integers(1, 10))):
            data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
    elif damage == "zero":
        data = bytearray()
    else:
        data = bytearray(pickle.dumps(_Payload(str(marker))))
    atomic_write_bytes(path, bytes(data))
    what = f"{kind} {damage}"
    try:
        if kind == "checkpoint":
            got = read_checkpoint(path)
            ok = isinstance(got, dict) and torch.equal(got.get("w", torch.zeros(0)), torch.from_numpy(want["w"]))
        else:
            got = reader(folder, "c", {"k": 1}, compute)
            ok = got == {"acc": 0.5} if kind == "json" else np.array_equal(got["w"], want["w"])
        outcome = ("ok", what) if ok else ("finding: wrong content returned", f"{what}: {str(got)[:300]}")
    except BadInputError as err:
        outcome = ("error naming the file", what) if path.name in str(err) else \
            ("finding: error without the file", f"{what}: {err}")
    except Exception as err:  # noqa: BLE001
        outcome = (f"finding: {type(err).__name__}", f"{what}: {err}")
    if os.path.exists(marker):
        return "finding: pickled code ran", what
    return outcome


def _wsol_case(rng, base: Path, work: Path) -> tuple[str, str]:
    """wsolevaluation's metadata of the folder, one line damaged: a duplicate, a path outside the root, a wrong
    size, a missing field, a non-numeric value."""
    root = work / "case"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    meta = root / "meta"
    meta.mkdir()
    ds = ImageNetVal(root, layout="loc")
    ids = [f"val/{p.name}" for p, _, _ in ds.samples]
    sizes = [Image.open(p).size for p, _, _ in ds.samples]
    files = {"image_ids.txt": [i for i in ids], "class_labels.txt": [f"{i},{l}" for i, (_, l, _) in zip(ids, ds.samples)],
             "image_sizes.txt": [f"{i},{w},{h}" for i, (w, h) in zip(ids, sizes)],
             "localization.txt": [f"{i},{','.join(str(int(v)) for v in b)}" for i, (_, _, bb) in zip(ids, ds.samples)
                                  for b in bb.tolist()]}
    name = str(rng.choice(sorted(files)))
    lines = files[name]
    k = int(rng.integers(len(lines)))
    damage = str(rng.choice(["duplicate", "outside", "size", "field", "value"]))
    if damage == "duplicate":
        lines.append(lines[k])
    elif damage == "outside":
        lines[k] = lines[k].replace("val/", "../", 1)
    elif damage == "size" and name == "image_sizes.txt":
        lines[k] = lines[k].rsplit(",", 1)[0] + ",999"
    elif damage == "field":
        lines[k] = lines[k].rsplit(",", 1)[0]
    else:
        lines[k] = lines[k].rsplit(",", 1)[0] + ",x"
    for n, ls in files.items():
        (meta / n).write_text("".join(f"{line}\n" for line in ls))
    what = f"wsol {name} {damage}"
    try:
        ds = ImageNetVal(root, metadata=meta, transform=eval_transform("resize", 32))
        for i in range(len(ds)):
            ds[i]
        return "ok", what
    except BadInputError as err:
        return ("error naming the file", what) if name in str(err) or "image_ids.txt" in str(err) else \
            ("finding: error without the file", f"{what}: {err}")
    except Exception as err:  # noqa: BLE001
        return f"finding: {type(err).__name__}", f"{what}: {err}"


def run(cases: int, seed: int = 0) -> tuple[collections.Counter, list[str]]:
    """``cases`` loader cases and as many API, store (caches, checkpoints) and wsol-metadata cases; returns the
    counts per outcome and the findings."""
    import warnings

    rng = np.random.default_rng(seed)
    counts, findings = collections.Counter(), []
    model = build_model("googlenet_gap", num_classes=10, width=0.125).eval()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = Path(tmp) / "base"
        write_imagenet(base, n=N_IMAGES, size=(40, 32), seed=seed)
        for _ in range(cases):
            for outcome, what in (_loader_case(rng, base, Path(tmp)), _api_case(rng, model),
                                  _store_case(rng, Path(tmp)), _wsol_case(rng, base, Path(tmp))):
                counts[outcome] += 1
                if outcome.startswith("finding"):
                    findings.append(f"{outcome}: {what}")
    return counts, findings


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts, findings = run(args.cases, args.seed)
    print(f"{4 * args.cases} cases (seed {args.seed}):")
    for outcome, n in sorted(counts.items()):
        print(f"  {n:5d}  {outcome}")
    for f in findings:
        print("  " + f)
    sys.exit(1 if findings else 0)
