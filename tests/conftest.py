"""Shared fixtures: the real ILSVRC sample in ../shared (skipped cleanly when absent) and small generated
ILSVRC-format folders for bad-input tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MPLBACKEND", "Agg")
# the benchmark (bench/, not part of the installed library) imports as a package of the repository
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-val-sample"
WNIDS = [f"n{1000000 + i:08d}" for i in range(10)]


@pytest.fixture(scope="session")
def imagenet_sample() -> Path:
    if not (SHARED_SAMPLE / "LOC_val_solution.csv").exists():
        pytest.skip(f"the shared ImageNet sample is not at {SHARED_SAMPLE}")
    return SHARED_SAMPLE


XML = """<annotation><folder>val</folder><filename>{id}</filename>
<size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objects}</annotation>"""
OBJ = "<object><name>{wnid}</name><bndbox><xmin>{0}</xmin><ymin>{1}</ymin><xmax>{2}</xmax><ymax>{3}</ymax>" \
      "</bndbox></object>"


def write_imagenet(root: Path, n: int = 6, size=(64, 48), seed: int = 0) -> list[tuple[str, str, list]]:
    """An ILSVRC-val folder in both layouts (val/, bbox/*.xml, LOC csv, LOC mapping) with random images.
    Returns ``[(image_id, wnid, boxes)]``; image i has i % 2 + 1 boxes of class WNIDS[i % 10]."""
    rng = np.random.default_rng(seed)
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "bbox").mkdir(exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} class {i}, alias\n" for i, w in enumerate(WNIDS)))
    rows, out = ["ImageId,PredictionString"], []
    w, h = size
    for i in range(n):
        image_id, wnid = f"ILSVRC2012_val_{i + 1:08d}", WNIDS[i % 10]
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "val" / f"{image_id}.JPEG")
        boxes = [[2, 3, w - 5, h - 7]] + ([[0, 0, w - 1, h - 1]] if i % 2 else [])
        objects = "".join(OBJ.format(*b, wnid=wnid) for b in boxes)
        (root / "bbox" / f"{image_id}.xml").write_text(XML.format(id=image_id, w=w, h=h, objects=objects))
        rows.append(f"{image_id}," + " ".join(f"{wnid} {' '.join(map(str, b))}" for b in boxes) + " ")
        out.append((image_id, wnid, boxes))
    (root / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    return out


@pytest.fixture
def imagenet_folder(tmp_path) -> Path:
    root = tmp_path / "ilsvrc"
    write_imagenet(root)
    return root
