"""Writing the embedded benchmark in the real formats: the build profiles, the ILSVRC devkit XML of
``objects`` (Tables 1-3), the CUB-200-2011 list files of ``birds`` (Table 4), the ImageFolder trees of
the transfer suites (Table 5), the worker pool that draws the images, the manifest with its sha256 per
suite, and the sample grids."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ...errors import BadInputError
from .backgrounds import _photos, background_sources
from .birds import BIRD_SPECIES
from .compose import DISTRACTOR_FRACTION
from .objects import OBJECT_CLASSES, THING_CLASSES, object_wnids
from .sample import ORDER_INDEX, _rng, render_sample
from .scenes import SCENE_CLASSES

GENERATOR_VERSION = 5
# What a build writes besides the images; a cached build that lacks one is rebuilt (objects: the devkit XML boxes and,
# for the val and test images, one mask PNG per image: 1 on the labelled instances' pixels, 0 elsewhere)
CONTENTS = ("devkit boxes", "object masks")
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Profile:
    """Sizes of one build. Counts are per class; birds are split half/half into train and test."""

    name: str
    image_size: int = 128
    objects_train: int = 80
    objects_val: int = 12
    objects_test: int = 10
    birds_per_class: int = 30
    transfer_train: int = 20
    transfer_test: int = 20
    two_instance_fraction: float = 0.2
    jpeg_quality: int = JPEG_QUALITY
    distractor_fraction: float = DISTRACTOR_FRACTION   # objects images with an unlabelled object of another class
    object_classes: int = 24       # the first N of OBJECT_CLASSES


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", image_size=64, objects_train=6, objects_val=2, objects_test=2, birds_per_class=4,
                     transfer_train=2, transfer_test=2),
    # 10 classes, 150 train images each: learnable from scratch by the width-0.25 networks in CPU minutes.
    "default": Profile("default", objects_train=150, objects_val=25, objects_test=20, object_classes=10),
    "full": Profile("full", objects_train=300, objects_val=50, objects_test=40, birds_per_class=100,
                    transfer_train=60, transfer_test=60),
}


# Writing the formats.

XML_OBJECT = """
	<object>
		<name>{wnid}</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>{0}</xmin>
			<ymin>{1}</ymin>
			<xmax>{2}</xmax>
			<ymax>{3}</ymax>
		</bndbox>
	</object>"""

XML_TEMPLATE = """<annotation>
	<folder>{folder}</folder>
	<filename>{filename}</filename>
	<source>
		<database>cam_lib_synthetic</database>
	</source>
	<size>
		<width>{w}</width>
		<height>{h}</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>{objects}
</annotation>
"""


def devkit_xml(folder: str, filename: str, width: int, height: int, wnid: str, boxes) -> str:
    """An ILSVRC devkit annotation (inclusive 0-based pixel boxes, all of class ``wnid``)."""
    objects = "".join(XML_OBJECT.format(*b, wnid=wnid) for b in boxes)
    return XML_TEMPLATE.format(folder=folder, filename=filename, w=width, h=height, objects=objects)


def folder_name(profile: str = "default", seed: int = 0) -> str:
    """The cache key and folder name of a build."""
    return f"synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}"


def _check(profile, root, seed, workers) -> tuple[Profile, Path, int]:
    if not isinstance(profile, str) or profile not in PROFILES:
        raise BadInputError(f"parameter profile={profile!r}: must be one of {', '.join(PROFILES)}", param="profile")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInputError(f"parameter seed={seed!r}: must be a non-negative integer", param="seed")
    if not isinstance(root, (str, os.PathLike)) or str(root) == "":
        raise BadInputError(f"parameter root={root!r}: must be a folder path (str or Path)", param="root")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise BadInputError(f"parameter root={str(root)!r}: exists and is not a folder", param="root")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise BadInputError(f"parameter workers={workers!r}: must be None or an integer >= 1", param="workers")
    return PROFILES[profile], root, int(seed)


def _is_complete(folder: Path, prof: Profile, seed: int) -> bool:
    try:
        m = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(m, dict) and m.get("complete") is True and m.get("key") == folder_name(prof.name, seed)
            and m.get("generator_version") == GENERATOR_VERSION and m.get("contents") == list(CONTENTS)
            and m.get("profile") == asdict(prof)
            and m.get("seed") == seed)


def _jobs(prof: Profile, seed: int):
    """Every image as (suite, split, index, label, relative path), and the annotations to write."""
    jobs = []
    wnids = object_wnids(prof.object_classes)
    nc = prof.object_classes
    for c, w in enumerate(wnids):
        for k in range(prof.objects_train):
            jobs.append(("objects", "train", c * prof.objects_train + k, c, f"objects/train/{w}/{w}_{k + 1}.JPEG"))
    orders = {}
    for split, n, root, stem in (("val", prof.objects_val, "objects", "ILSVRC2012_val"),
                                 ("test", prof.objects_test, "objects_test", "ILSVRC2012_test")):
        labels = np.repeat(np.arange(nc), n)
        labels = labels[_rng(seed, "objects", split, ORDER_INDEX).permutation(len(labels))]
        orders[split] = labels
        for i, c in enumerate(labels):
            jobs.append(("objects", split, i, int(c), f"{root}/val/{stem}_{i + 1:08d}.JPEG"))
    for c, sp in enumerate(BIRD_SPECIES):
        for k in range(prof.birds_per_class):
            jobs.append(("birds", "all", c * prof.birds_per_class + k, c,
                         f"birds/CUB_200_2011/images/{c + 1:03d}.{sp.name}/{sp.name}_{k + 1:04d}.jpg"))
    for suite, classes in (("scenes", [n for n, _ in SCENE_CLASSES]), ("things", [c.name for c in THING_CLASSES])):
        for split, n in (("train", prof.transfer_train), ("test", prof.transfer_test)):
            for c, name in enumerate(classes):
                for k in range(n):
                    jobs.append((suite, split, c * n + k, c, f"transfer/{suite}/{split}/{name}/{k + 1:04d}.jpg"))
    return jobs


_CTX: dict = {}


def _init_worker(ctx: dict):
    _CTX.clear()
    _CTX.update(ctx)
    _photos()


def _run_chunk(chunk):
    out = []
    base, size, seed = Path(_CTX["base"]), _CTX["size"], _CTX["seed"]
    for suite, split, index, label, rel in chunk:
        s = render_sample(suite, split, index, label, seed=seed, size=size,
                          two_instance_fraction=_CTX["two_frac"], distractor_fraction=_CTX["distractor_frac"],
                          object_classes=_CTX["classes"])
        Image.fromarray(s.image, "RGB").save(base / rel, "JPEG", quality=_CTX["quality"])
        if suite == "objects" and split in ("val", "test"):   # the object masks of the evaluated images (PxAP)
            mask = Path(rel).parent.parent / "masks" / (Path(rel).stem + ".png")
            (base / mask).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.any(s.masks, 0).astype(np.uint8), "L").save(base / mask, "PNG")
        out.append((rel, s.boxes))
    return out


def _generate(tmp: Path, prof: Profile, seed: int, workers: int) -> dict:
    jobs = _jobs(prof, seed)
    for d in sorted({str(Path(rel).parent) for *_, rel in jobs}):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    ctx = {"base": str(tmp), "size": prof.image_size, "seed": seed, "quality": prof.jpeg_quality,
           "two_frac": prof.two_instance_fraction, "distractor_frac": prof.distractor_fraction,
           "classes": prof.object_classes}
    chunks = [jobs[i:i + 48] for i in range(0, len(jobs), 48)]
    results = []
    if workers <= 1:
        _init_worker(ctx)
        for ch in chunks:
            results.extend(_run_chunk(ch))
    else:
        methods = multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("fork" if "fork" in methods else None)
        _photos()  # load once before forking
        with mp.Pool(workers, initializer=_init_worker, initargs=(ctx,)) as pool:
            for r in pool.imap(_run_chunk, chunks):
                results.extend(r)
    boxes = {rel: b for rel, b in results}
    counts = _write_objects(tmp, prof, jobs, boxes)
    counts["birds"] = _write_birds(tmp, prof, seed, jobs, boxes)
    for suite in ("scenes", "things"):
        counts[f"transfer/{suite}"] = {s: sum(1 for j in jobs if j[:2] == (suite, s)) for s in ("train", "test")}
    (tmp / "samples").mkdir(exist_ok=True)   # sample grids
    for name, sub in (("objects", "objects"), ("objects_test", "objects_test"), ("birds", "birds"),
                      ("scenes", "transfer/scenes"), ("things", "transfer/things")):
        sample_grid(tmp / sub, tmp / "samples" / f"{name}.png", n=16)
    return counts


def _write_objects(tmp: Path, prof: Profile, jobs: list, boxes: dict) -> dict[str, dict[str, int]]:
    """The ILSVRC devkit annotations of ``objects`` and ``objects_test`` (mapping, one XML per image); counts."""
    S = prof.image_size
    wnids = object_wnids(prof.object_classes)
    counts: dict[str, dict[str, int]] = {}
    mapping = "".join(f"{w} {c.name}\n" for w, c in zip(wnids, OBJECT_CLASSES))
    for root in ("objects", "objects_test"):
        (tmp / root / "LOC_synset_mapping.txt").write_text(mapping)
        (tmp / root / "bbox").mkdir(parents=True, exist_ok=True)
    for suite, split, index, label, rel in jobs:
        if suite != "objects":
            continue
        p = Path(rel)
        if split == "train":
            w = wnids[label]
            xml = tmp / "objects" / "train_bbox" / w / (p.stem + ".xml")
            xml.parent.mkdir(parents=True, exist_ok=True)
            xml.write_text(devkit_xml(w, p.stem, S, S, w, boxes[rel]))
        else:
            xml = tmp / p.parts[0] / "bbox" / (p.stem + ".xml")
            xml.write_text(devkit_xml("val", p.stem, S, S, wnids[label], boxes[rel]))
        key = "objects_test" if split == "test" else "objects"
        counts.setdefault(key, {}).setdefault(split, 0)
        counts[key][split] += 1
    counts["objects"]["train_boxes"] = sum(len(boxes[j[4]]) for j in jobs if j[:2] == ("objects", "train"))
    counts["objects"]["val_two_instances"] = sum(len(boxes[j[4]]) == 2 for j in jobs if j[:2] == ("objects", "val"))
    return counts


def _write_birds(tmp: Path, prof: Profile, seed: int, jobs: list, boxes: dict) -> dict[str, int]:
    """The CUB-200-2011 list files of ``birds`` (half of each species' images train, in a seeded order); counts."""
    cub = tmp / "birds" / "CUB_200_2011"
    bird_jobs = [j for j in jobs if j[0] == "birds"]
    n = prof.birds_per_class
    is_train = {}
    for c in range(len(BIRD_SPECIES)):
        perm = _rng(seed, "birds", "train", ORDER_INDEX + c).permutation(n)
        for rank, k in enumerate(perm):
            is_train[c * n + int(k)] = rank < (n + 1) // 2
    images, labels, split_lines, bbs = [], [], [], []
    for _, _, index, label, rel in bird_jobs:
        iid = index + 1
        x0, y0, x1, y1 = boxes[rel][0]
        images.append(f"{iid} {Path(rel).relative_to('birds/CUB_200_2011/images').as_posix()}\n")
        labels.append(f"{iid} {label + 1}\n")
        split_lines.append(f"{iid} {1 if is_train[index] else 0}\n")
        bbs.append(f"{iid} {float(x0):.1f} {float(y0):.1f} {float(x1 - x0 + 1):.1f} {float(y1 - y0 + 1):.1f}\n")
    (cub / "images.txt").write_text("".join(images))
    (cub / "image_class_labels.txt").write_text("".join(labels))
    (cub / "train_test_split.txt").write_text("".join(split_lines))
    (cub / "bounding_boxes.txt").write_text("".join(bbs))
    (cub / "classes.txt").write_text("".join(f"{i + 1} {i + 1:03d}.{sp.name}\n" for i, sp in enumerate(BIRD_SPECIES)))
    ntrain = sum(is_train.values())
    return {"train": ntrain, "test": len(bird_jobs) - ntrain}


def _hash_tree(folder: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for p in files:
        h.update(f"{p.relative_to(folder).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    return len(files), h.hexdigest()


def _clean_stale(root: Path, key: str):
    """Remove temporary folders of this key left by builds whose process is gone."""
    for p in root.glob(f".{key}.*-*"):
        try:
            pid = int(p.name[len(key) + 1:].split("-")[1])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)   # signal 0: only asks whether the process exists
            alive = True
        except ProcessLookupError:
            alive = False
        except OSError:
            alive = True
        if not alive:
            shutil.rmtree(p, ignore_errors=True)


def build(profile: str = "default", root: str | Path = "data", seed: int = 0, workers: int | None = None,
          force: bool = False) -> Path:
    """Generate the benchmark under ``root/synthetic-v{GENERATOR_VERSION}-{profile}-s{seed}/`` and return that
    folder; if it already holds a complete build of the same key and profile, return at once (unless ``force``).

    ``workers`` processes draw the images (default 2); the output is the same for any number of workers."""
    prof, root, seed = _check(profile, root, seed, workers)
    workers = 2 if workers is None else workers
    key = folder_name(prof.name, seed)
    final = root / key
    if not force and _is_complete(final, prof, seed):
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"parameter root={str(root)!r}: cannot create the folder ({e})", param="root") from None
    _clean_stale(root, key)
    tmp = root / f".{key}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        counts = _generate(tmp, prof, seed, workers)
        suites = ["objects", "objects_test", "birds", "transfer/scenes", "transfer/things", "samples"]
        files = {}
        for s in suites:
            nfiles, digest = _hash_tree(tmp / s)
            files[s] = {"files": nfiles, "sha256": digest}
        manifest = {
            "key": key, "generator_version": GENERATOR_VERSION, "contents": list(CONTENTS), "profile": asdict(prof),
            "seed": seed,
            "counts": counts, "files": files,
            "classes": {"objects": [f"{w} {c.name}" for w, c in zip(object_wnids(prof.object_classes), OBJECT_CLASSES)],
                        "birds": [f"{i + 1:03d}.{s.name}" for i, s in enumerate(BIRD_SPECIES)],
                        "transfer/scenes": [n for n, _ in SCENE_CLASSES],
                        "transfer/things": [c.name for c in THING_CLASSES]},
            "backgrounds": [p.name for p in background_sources()],
            "complete": True,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if final.exists():
            if not force and _is_complete(final, prof, seed):   # another build finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            old = root / f".{key}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, final)
            except OSError:
                if _is_complete(final, prof, seed):
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# Sample grids.

def _suite_samples(suite_root: Path, n: int) -> list[tuple[Path, str, list]]:
    """[(image, caption, inclusive boxes)] for a grid: ILSVRC devkit roots, CUB roots or ImageFolder roots."""
    import xml.etree.ElementTree as ET

    if (suite_root / "bbox").is_dir() and (suite_root / "val").is_dir():
        names = {}
        mp = suite_root / "LOC_synset_mapping.txt"
        if mp.exists():
            for line in mp.read_text().splitlines():
                w, _, d = line.partition(" ")
                names[w] = d
        out = []
        for x in sorted((suite_root / "bbox").glob("*.xml"))[:n]:
            r = ET.parse(x).getroot()
            objs = [(o.findtext("name"), [int(float(o.find("bndbox").findtext(k)))
                                          for k in ("xmin", "ymin", "xmax", "ymax")]) for o in r.iter("object")]
            img = next((suite_root / "val" / (x.stem + e) for e in (".JPEG", ".jpg", ".png")
                        if (suite_root / "val" / (x.stem + e)).exists()), None)
            if img is not None and objs:
                out.append((img, names.get(objs[0][0], objs[0][0]), [b for _, b in objs]))
        return out
    cub = suite_root / "CUB_200_2011" if (suite_root / "CUB_200_2011").is_dir() else suite_root
    if (cub / "images.txt").exists():
        paths = dict(line.split(" ", 1) for line in (cub / "images.txt").read_text().splitlines() if line)
        bbs = {}
        for line in (cub / "bounding_boxes.txt").read_text().splitlines():
            i, x, y, w, h = line.split()
            x, y, w, h = (int(float(v)) for v in (x, y, w, h))
            bbs[i] = [x, y, x + w - 1, y + h - 1]
        ids = list(paths)
        step = max(1, len(ids) // n)
        return [(cub / "images" / paths[i], paths[i].split("/")[0].split(".", 1)[-1], [bbs[i]])
                for i in ids[::step][:n]]
    base = suite_root / "train" if (suite_root / "train").is_dir() else suite_root
    classes = sorted(d for d in base.iterdir() if d.is_dir())
    files = [sorted(p for p in d.iterdir() if p.is_file()) for d in classes]
    out, k = [], 0
    while len(out) < n and any(k < len(f) for f in files):
        for d, f in zip(classes, files):
            if k < len(f) and len(out) < n:
                out.append((f[k], d.name, []))
        k += 1
    return out


def sample_grid(suite_root: str | Path, out_png: str | Path, n: int = 16) -> Path:
    """A PNG grid of ``n`` images of a suite (ILSVRC devkit root, CUB root or ImageFolder root) with their
    ground-truth boxes drawn and the class name under each tile."""
    suite_root, out_png = Path(suite_root), Path(out_png)
    if not suite_root.is_dir():
        raise BadInputError(f"parameter suite_root={str(suite_root)!r}: suite folder not found", param="suite_root")
    items = _suite_samples(suite_root, n)
    if not items:
        raise BadInputError(f"{suite_root}: no images found for a sample grid", param="suite_root")
    tile, cap = 128, 14
    cols = math.ceil(math.sqrt(len(items)))
    rows = math.ceil(len(items) / cols)
    grid = Image.new("RGB", (cols * (tile + 4) + 4, rows * (tile + cap + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for i, (path, caption, boxes) in enumerate(items):
        with Image.open(path) as im:
            im = im.convert("RGB")
            sx, sy = tile / im.width, tile / im.height
            im = im.resize((tile, tile), Image.BILINEAR)
        d = ImageDraw.Draw(im)
        for b in boxes:
            d.rectangle([b[0] * sx, b[1] * sy, (b[2] + 1) * sx - 1, (b[3] + 1) * sy - 1], outline=(0, 255, 0), width=2)
        x, y = 4 + (i % cols) * (tile + 4), 4 + (i // cols) * (tile + cap + 4)
        grid.paste(im, (x, y))
        draw.text((x + 1, y + tile), caption[:22], fill=(0, 0, 0), font=font)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_png, "PNG")
    return out_png


def describe(folder: str | Path) -> str:
    """What a build wrote, from its manifest: one line per suite with its counts and how to read it back."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    readers = {"objects": "--data imagenet (val) / split=train", "objects_test": "--data imagenet",
               "birds": "--data cub", "transfer/scenes": "--data folder", "transfer/things": "--data folder"}
    lines = [f"{folder} ({manifest['key']}, {manifest['profile']['image_size']} px)"]
    for suite, counts in manifest["counts"].items():
        files = manifest["files"].get(suite, {}).get("files", 0)
        what = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"  {suite:<16} {what}; {files} files; read with {readers.get(suite, '?')} "
                     f"--root {folder / suite}")
    lines.append(f"  samples/         {', '.join(sorted(p.name for p in (folder / 'samples').glob('*.png')))}")
    return "\n".join(lines)
