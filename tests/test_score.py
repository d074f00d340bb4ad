"""``python -m cam_lib score``: saved score maps in wsolevaluation's layout, scored by this project's conventions and,
with ``--convention wsolevaluation``, by that evaluator's algorithm, which this file re-implements plainly (uint8 map,
``> int(tau * max)``, OpenCV contours with hole borders, boxes ``x + w`` clipped, ``int()``-resized ground truth,
+1 IoU); PxAP against the plain reference on hand-made masks; every bad file named."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from cam_lib.cli import main
from cam_lib.errors import BadInputError
from cam_lib.metrics import threshold_grid
from cam_lib.metrics.reference import baseline_best_ious, baseline_pxap
from cam_lib.score import read_metadata, score_maps

STEP = 0.05


def _write(root, maps, sizes, boxes):
    meta, store = root / "metadata", root / "maps"
    (store / "val").mkdir(parents=True)
    meta.mkdir()
    ids = [f"val/img{i}.jpg" for i in range(len(maps))]
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},{k % 3}\n" for k, i in enumerate(ids)))
    (meta / "image_sizes.txt").write_text("".join(f"{i},{w},{h}\n" for i, (w, h) in zip(ids, sizes)))
    (meta / "localization.txt").write_text("".join(f"{i},{','.join(map(str, b))}\n" for i, bs in zip(ids, boxes)
                                                   for b in bs))
    for i, m in zip(ids, maps):
        np.save(store / f"{i}.npy", m)
    return store, meta


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    maps = []
    for shape in ((32, 32), (32, 32), (24, 40), (32, 32)):
        low = rng.random((4, 4))
        m = cv2.resize(low, shape[::-1], interpolation=cv2.INTER_LINEAR)
        maps.append(((m - m.min()) / (m.max() - m.min())).astype(np.float32))
    sizes = [(64, 48), (100, 100), (80, 60), (50, 70)]
    boxes = [[[5, 4, 40, 30]], [[10, 10, 60, 90], [0, 0, 20, 20]], [[20, 10, 79, 59]], [[1, 1, 48, 68]]]
    return maps, sizes, boxes, *_write(tmp_path, maps, sizes, boxes)


def _wsol_plain(maps, sizes, boxes, grid):
    """wsolevaluation's BoxEvaluator, written plainly for one map at a time (multi_contour_eval for V2)."""
    best = {"v1": [], "v2": []}
    for m, (w, h), bs in zip(maps, sizes, boxes):
        H, W = m.shape
        gt = np.array([[int(x0 * W / w), int(y0 * H / h), int(x1 * W / w), int(y1 * H / h)] for x0, y0, x1, y1 in bs])
        for key, multi in (("v1", False), ("v2", True)):
            row = []
            for t in grid:
                image = (m * 255).astype(np.uint8)
                _, thr = cv2.threshold(image, int(t * image.max()), 255, cv2.THRESH_BINARY)
                contours = cv2.findContours(thr, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
                if not contours:
                    cand = [[0, 0, 0, 0]]
                else:
                    if not multi:
                        contours = [max(contours, key=cv2.contourArea)]
                    cand = []
                    for c in contours:
                        x, y, cw, ch = cv2.boundingRect(c)
                        cand.append([x, y, min(x + cw, W - 1), min(y + ch, H - 1)])
                ious = []
                for a in cand:
                    for b in gt:
                        iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
                        ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
                        union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - iw * ih
                        ious.append(iw * ih / union if union > 0 else 0.0)
                row.append(max(ious))
            best[key].append(row)
    return {k: np.array(v) for k, v in best.items()}


def _max_acc(best, deltas):
    return float(np.mean([(best >= d).mean(0).max() for d in deltas]))


def test_the_wsolevaluation_convention_gives_that_evaluators_numbers(folder):
    maps, sizes, boxes, store, meta = folder
    grid = threshold_grid(STEP)
    plain = _wsol_plain(maps, sizes, boxes, grid)
    got = score_maps(store, meta, convention="wsolevaluation", cam_step=STEP)
    assert got["n"] == 4 and got["convention"] == "wsolevaluation"
    assert got["maxboxacc_v2"] == pytest.approx(_max_acc(plain["v2"], (0.3, 0.5, 0.7)))
    assert got["maxboxacc_v1"] == pytest.approx(_max_acc(plain["v1"], (0.5,)))


def test_the_project_convention_gives_the_per_threshold_reference(folder):
    maps, sizes, boxes, store, meta = folder
    grid = threshold_grid(STEP)
    every = []
    for m, (w, h), bs in zip(maps, sizes, boxes):
        H, W = m.shape
        gt = (np.asarray(bs, float) + [0, 0, 1, 1]) * [W / w, H / h, W / w, H / h] - [0, 0, 1, 1]
        gt = np.clip(gt, 0, [W - 1, H - 1, W - 1, H - 1])
        every.append(baseline_best_ious(m[None], grid, gt[None], np.ones((1, len(gt)), bool))[0])
    got = score_maps(store, meta, cam_step=STEP)
    assert got["maxboxacc_v2"] == pytest.approx(_max_acc(np.array(every), (0.3, 0.5, 0.7)))
    assert set(got["gt_known_curve"]) == {f"{t:g}" for t in grid}


def test_pxap_from_saved_maps_and_masks(tmp_path):
    rng = np.random.default_rng(3)
    meta, store, masks = tmp_path / "metadata", tmp_path / "maps", tmp_path / "masks"
    for d in (meta, store, masks):
        d.mkdir()
    ids, lines, want_maps, want_masks = [f"im{i}" for i in range(3)], [], [], []
    for i in ids:
        m = rng.random((20, 30)).astype(np.float32)
        fg = np.zeros((40, 60), np.uint8)
        fg[5:25, 10:40] = 255
        ignore = np.zeros((40, 60), np.uint8)
        ignore[0:10, 0:60] = 255
        Image.fromarray(fg).save(masks / f"{i}_m0.png")
        Image.fromarray(ignore).save(masks / f"{i}_ignore.png")
        np.save(store / f"{i}.npy", m)
        lines.append(f"{i},{i}_m0.png,{i}_ignore.png\n")
        small_fg = cv2.resize(fg.astype(np.float32), (30, 20), interpolation=cv2.INTER_NEAREST) > 0.5
        small_ig = cv2.resize(ignore.astype(np.float32), (30, 20), interpolation=cv2.INTER_NEAREST) > 0.5
        want_maps.append(m)
        want_masks.append(small_fg.astype(np.uint8) + 255 * (small_ig & ~small_fg).astype(np.uint8))
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},0\n" for i in ids))
    (meta / "image_sizes.txt").write_text("".join(f"{i},60,40\n" for i in ids))
    (meta / "localization.txt").write_text("".join(lines))
    out = tmp_path / "out.json"
    assert main(["score", "--maps", str(store), "--metadata", str(meta), "--masks", str(masks), "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["n_masks"] == 3 and got["pxap"] == pytest.approx(
        baseline_pxap(np.stack(want_maps), np.stack(want_masks), threshold_grid(0.01)))


def test_bad_maps_and_metadata_are_named(folder, capsys):
    maps, sizes, boxes, store, meta = folder
    np.save(store / "val" / "img1.jpg.npy", np.full((8, 8), np.nan, np.float32))
    with pytest.raises(BadInputError, match=r"img1\.jpg\.npy: the score map holds NaN"):
        score_maps(store, meta)
    np.save(store / "val" / "img1.jpg.npy", np.full((8, 8), 2.0, np.float32))
    with pytest.raises(BadInputError, match=r"img1\.jpg\.npy: score map values in \[2, 2\], not in \[0, 1\]"):
        score_maps(store, meta)
    (store / "val" / "img1.jpg.npy").unlink()
    assert main(["score", "--maps", str(store), "--metadata", str(meta)]) == 2
    assert "img1.jpg.npy: no score map for image val/img1.jpg" in capsys.readouterr().err
    (meta / "image_ids.txt").write_text((meta / "image_ids.txt").read_text() + "val/img0.jpg\n")
    with pytest.raises(BadInputError, match="img0.jpg is listed twice"):
        read_metadata(meta)
