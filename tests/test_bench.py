"""The benchmark's pieces (issue 6, bench/): the per-threshold baseline follows the project's conventions, and
``python bench/run.py`` writes every figure. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.cam_bench import JSON_KEYS, maxboxacc_speed, synthetic_maps, throughput
from bench.page import write_page
from bench.run import main
from cam_lib.metrics.reference import component_boxes
from cam_lib.errors import BadInputError
from cam_lib.metrics.reference import baseline_best_ious
from cam_lib.models import build_model


def test_baseline_masks_are_float_ge_threshold_with_one_box_per_component():
    # values exactly at, just below and just above the thresholds, zeros and ones: cv2.threshold on the negated
    # map gives exactly map >= tau, and the outer contours give exactly the 8-connected components' boxes
    rng = np.random.default_rng(0)
    grid = np.array([0.0, 0.2, 0.3, 0.5, 1.0])
    values = np.r_[grid, np.nextafter(grid.astype(np.float32), -1), np.nextafter(grid.astype(np.float32), 2)]
    m = rng.choice(values, (13, 11)).astype(np.float32)
    for t, tau in enumerate(grid):
        boxes, _ = component_boxes(m >= tau)
        for box in boxes:                                   # a GT equal to each component's box: IoU 1
            gt = np.asarray(box, np.float64)[None, None]
            assert baseline_best_ious(m[None], grid, gt, np.ones((1, 1), bool))[0, t] == 1.0


def test_hole_borders_are_boxes_for_wsolevaluation_but_not_components():
    # a ring: one component whose box is the whole ring; RETR_TREE (wsolevaluation) also boxes the hole's border,
    # which here matches the ground truth exactly. This project boxes components only (conventions.md).
    m = np.zeros((12, 12), np.float32)
    m[1:11, 1:11] = 1.0
    m[4:8, 4:8] = 0.0
    gt = np.array([[[3, 3, 8, 8]]], np.float64)            # the hole's border pixels
    grid = np.array([0.5])
    ours = baseline_best_ious(m[None], grid, gt, np.ones((1, 1), bool))
    wsol = baseline_best_ious(m[None], grid, gt, np.ones((1, 1), bool), holes=True)
    assert ours[0, 0] == pytest.approx(36 / 100) and wsol[0, 0] == 1.0


def test_synthetic_maps_are_normalised_cam_like_maps():
    maps, boxes, valid = synthetic_maps(3, 32, seed=0)
    assert maps.shape == (3, 32, 32) and boxes.shape == (3, 1, 4) and bool(valid.all())
    assert torch.allclose(maps.amax((1, 2)), torch.ones(3)) and torch.allclose(maps.amin((1, 2)), torch.zeros(3))
    assert bool((boxes[..., 2:] <= 31).all()) and bool((boxes[..., :2] <= boxes[..., 2:]).all())
    with pytest.raises(BadInputError, match="synthetic_maps"):
        synthetic_maps(-1)


def test_maxboxacc_speed_reports_identical_counts():
    maps, boxes, valid = synthetic_maps(4, 40, seed=2)
    out = maxboxacc_speed(maps, boxes, valid, 0.01)
    assert out["identical"] and out["thresholds"] == 100 and out["maps"] == 4 and out["speedup"] > 0


def test_throughput_covers_every_method_and_checks_arguments():
    model = build_model("resnet50", num_classes=1000, width=0.125)
    out = throughput(model, (2,), size=32, reps=1, warmup=0)
    assert set(out) == {2} and set(out[2]) == set(JSON_KEYS) and all(v > 0 for v in out[2].values())
    with pytest.raises(BadInputError, match="batch sizes"):
        throughput(model, (0,), size=32)


def test_bench_command_writes_every_key(tmp_path):
    from conftest import write_imagenet

    json_path, md = tmp_path / "b.json", tmp_path / "b.md"
    jpegs = tmp_path / "jpegs"
    write_imagenet(jpegs, n=6)   # a tiny real-format folder: the end-to-end figure is measured, quickly
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "bench/run.py", "--width", "0.125", "--size", "32", "--batch-sizes", "1",
                           "2", "--reps", "1", "--maps", "3", "--memory", "5", "10", "--device", "cpu", "--json",
                           str(json_path), "--md", str(md), "--quick", "--e2e-root", str(jpegs)],
                          cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(json_path.read_text())
    for key in ("forward_ips", "cam_top1_box_ips", "cam_top5_box_ips", "torchcam_ips", "gradcam_ips",
                "captum_ips", "maxboxacc_speedup_001", "maxboxacc_speedup_0001", "maxboxacc_identical",
                "peak_rss_mb_1k", "peak_rss_mb_10k", "machine", "e2e_vs_decode_forward", "ten_crop_peak_rss_mb"):
        assert key in result, key
    e2e = result["end_to_end"]
    assert e2e["images"] == 6 and e2e["localize_ips"] > 0 and e2e["decode_forward_ips"] > 0
    walls = e2e["walls"]
    assert len(walls["localize"]) == len(walls["plain"]) == len(e2e["pair_ratios"]) == 1   # quick: one pair
    assert result["e2e_vs_decode_forward"] == e2e["pair_ratios"][0] == walls["plain"][0] / walls["localize"][0]
    assert "End to end" in md.read_text() and "CUDA path" in md.read_text()
    assert 100 < result["ten_crop_peak_rss_mb"] < 4096
    assert {t["target"].split(" ")[0] for t in result["targets"]} >= {"e2e_vs_decode_forward", "ten_crop_peak_rss_mb"}
    assert result["maxboxacc_identical"] is True
    page = md.read_text()
    assert "python bench/run.py" in page and "| target |" in page and (tmp_path / "b.png").exists()
    write_page(result, tmp_path / "again.md", "cmd")       # rewrites from the JSON alone
    assert main(["--memory", "0", "10"]) == 2               # bad input: exit status 2


def test_bench_command_names_the_bad_flag_and_notes_a_missing_sample(tmp_path, capsys, monkeypatch):
    assert main(["--reps", "0"]) == 2 and "--reps 0" in capsys.readouterr().err
    assert main(["--batch-sizes", "1", "0"]) == 2 and "--batch-sizes 1 0" in capsys.readouterr().err
    assert main(["--json", str(tmp_path)]) == 2 and "--json" in capsys.readouterr().err   # a folder
    from bench import cam_bench
    from bench.cam_bench import run

    monkeypatch.setattr(cam_bench, "peak_rss_mb", lambda n, size=224: 100.0)   # no fresh processes here
    notes = []
    result = run(model_name="resnet50", width=0.125, size=32, batch_sizes=(1,), reps=1, maps=2, memory=(2, 4),
                 progress=notes.append, e2e_root=tmp_path / "absent")
    assert result["e2e_vs_decode_forward"] is None and "not measured" in result["end_to_end"]
    assert any("not measured" in n and "absent" in n for n in notes)


def test_saved_maps_of_the_score_benchmark_are_read_by_score(tmp_path):
    """The maps `score_speed` times are a valid wsolevaluation layout, and both conventions score them."""
    from cam_lib.score import score_maps

    from bench import cam_bench

    maps_dir, meta = cam_bench.write_wsol_maps(tmp_path, 3, 32)
    own, ref = (score_maps(maps_dir, meta, convention=c, cam_step=0.05) for c in ("cam_lib", "wsolevaluation"))
    assert own["n"] == ref["n"] == 3 and 0 <= own["maxboxacc_v2"] <= 1 and 0 <= ref["maxboxacc_v2"] <= 1
    assert any(t[0] == "score_speedup_0001" and t[2] == 10.0 for t in cam_bench.TARGETS)


def _claims_folder(root: Path, verdicts: dict[str, str], hardware: str, run: str = "") -> Path:
    """A results folder with one claims file: claim text -> verdict (the numbers behind each claim carry ``run``),
    and a table header naming ``hardware``."""
    (root / "tables").mkdir(parents=True)
    records = [{"table": "table1", "claim": c, "ours": f"numbers of {c}{run}", "seeds": "", "verdict": v}
               for c, v in verdicts.items()]
    (root / "tables" / "table1.claims.json").write_text(json.dumps(records))
    (root / "tables" / "table1.md").write_text(f"## Table 1\n\n- hardware: {hardware}\n")
    return root


def test_compare_verdicts_names_each_machine_and_every_verdict_that_differs(tmp_path, capsys):
    """bench/compare_verdicts.py (issue 21, point 8): claims matched by table and wording; a differing verdict and a
    claim of one run only are printed and make the exit code 1; identical verdicts exit 0, whatever the numbers."""
    from bench.compare_verdicts import compare, main

    a = _claims_folder(tmp_path / "a", {"GAP beats FC": "same direction", "GAP beats GMP": "not resolved"},
                       "CPU (x, torch CPU kernels AVX512)")
    b = _claims_folder(tmp_path / "b", {"GAP beats FC": "same direction", "GAP beats GMP": "opposite direction",
                                        "new claim": "not resolved"}, "CPU (x, torch CPU kernels AVX2)")
    out = compare(a, b)
    assert out["shared"] == 2 and [d["claim"] for d in out["differ"]] == ["GAP beats GMP"]
    assert out["numbers_differ"] == 0
    assert out["only_b"] == ["table1: new claim"] and out["a"]["hardware"].endswith("AVX512)")
    assert main([str(a), str(b), "--json", str(tmp_path / "out.json")]) == 1
    printed = capsys.readouterr().out
    assert "AVX2" in printed and "1 verdicts differ" in printed and "opposite direction" in printed
    assert "the numbers behind 0 differ" in printed
    assert json.loads((tmp_path / "out.json").read_text())["shared"] == 2
    assert main([str(a), str(a)]) == 0
    other = _claims_folder(tmp_path / "c", {"GAP beats FC": "same direction", "GAP beats GMP": "not resolved"},
                           "CPU (y, torch CPU kernels AVX2)", run=" (other networks)")
    assert compare(a, other)["numbers_differ"] == 2 and main([str(a), str(other)]) == 0
    assert "the numbers behind 2 differ" in capsys.readouterr().out
    with pytest.raises(BadInputError, match="--json"):
        main([str(a), str(b), "--json", str(tmp_path / "a" / "tables" / "table1.md" / "out.json")])
    with pytest.raises(SystemExit, match="no tables"):
        compare(tmp_path / "a", tmp_path)


def test_centring_bench_sees_the_same_predictions_and_no_common_part_after_centring(tmp_path):
    """bench/centring.py's measurement of one network: centring leaves the top-1 error as it was, takes the common
    part to 0 and changes the CAMs (their floor), on the same images."""
    from conftest import write_imagenet

    from bench.centring import measure
    from cam_lib.data import build_dataset
    from cam_lib.data.common import eval_transform
    from cam_lib.models import centre_classifier_

    root = tmp_path / "val"
    write_imagenet(root, n=8, size=(64, 64))
    data = build_dataset("imagenet", root, split="val", transform=eval_transform("resize", 64))
    torch.manual_seed(0)
    net = build_model("vgg16_gap", num_classes=data.num_classes, width=0.125).eval()
    with torch.no_grad():
        net.head.fc.weight.add_(torch.rand(net.head.fc.weight.shape[1]) * 0.05)
    raw = measure(net, data)
    centred = measure(centre_classifier_(net), data)
    assert raw["common"] > 0.1 and centred["common"] < 1e-6
    assert raw["top1_err"] == centred["top1_err"] and len(raw["hits"]) == len(centred["hits"]) == len(data)
    assert raw["floor"] != centred["floor"]


def test_recipes_bench_reads_the_training_time_from_the_log_and_its_candidates_are_recipes(tmp_path):
    """bench/recipes.py (issue 21): the training time is the epochs at the median epoch's speed from ``log.csv``
    (a resumed run's, not the process's wait; an epoch slowed by another job does not move it), a log missing an
    epoch is refused naming the file, and every candidate is a valid override of the default's recipe that tunes
    the stages it says."""
    from dataclasses import replace

    from bench.recipes import ADOPTED, CANDIDATES, training_time
    from cam_lib.train import RECIPES, resolve_recipe

    rec = replace(RECIPES["embedded_pretrained"], epochs=3, batch_size=32)
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,top1_err,top5_err,lr,images_per_s\n1,1,0,0,0,64\n2,1,0,0,0,8\n2,1,0,0,0,32\n"
                   "3,1,0,0,0,64\n")   # epoch 2 logged twice (a crash before its checkpoint): the last row counts
    seconds, ips = training_time(tmp_path, rec, n_train=100)   # 96 images a epoch (3 full batches)
    assert ips == 64 and seconds == pytest.approx(3 * 96 / 64)
    log.write_text("epoch,loss,top1_err,top5_err,lr,images_per_s\n1,1,0,0,0,64\n3,1,0,0,0,64\n")
    with pytest.raises(SystemExit, match=r"log.csv: epochs \[1, 3\], expected 1-3"):
        training_time(tmp_path, rec, n_train=100)
    stages = {name: resolve_recipe("embedded_pretrained", ov).tuned_stages for name, (_, ov) in CANDIDATES.items()}
    assert stages == {"new-layers": 0, "last-stage": 1, "stride16-8ep": 2, "stride16": 2, "stride8": 3}
    assert resolve_recipe("embedded_pretrained", CANDIDATES[ADOPTED][1]) == RECIPES["embedded_pretrained"]


def test_fresh_test_bench_reads_other_benchmark_seeds_and_pools_seeds_and_images(tmp_path, monkeypatch):
    """bench/fresh_test.py (issue 21): the fresh images are the objects val and test splits of OTHER builds of the
    same profile (none of them an image of the series' seed-0 build), and the numbers over training seeds are the
    mean over seeds and images with the seed-and-image interval, in points."""
    import dataclasses
    from types import SimpleNamespace

    import cam_lib.data.synthetic as syn
    from bench.fresh_test import fresh_images, over_seeds
    from cam_lib.data import build_dataset
    from cam_lib.data.common import eval_transform

    tiny = dataclasses.replace(syn.PROFILES["smoke"], name="tiny", objects_train=1, objects_val=2, objects_test=1,
                               birds_per_class=2, transfer_train=1, transfer_test=1)
    monkeypatch.setitem(syn.PROFILES, "tiny", tiny)
    own = syn.build("tiny", tmp_path, seed=0)
    data = fresh_images(SimpleNamespace(profile="tiny", val_root=own / "objects"), [1, 2], 64)
    per_build = tiny.object_classes * (tiny.objects_val + tiny.objects_test)
    assert len(data) == 2 * per_build
    fresh = {tuple(data[i][0].flatten()[:64].tolist()) for i in range(len(data))}
    for sub in ("objects", "objects_test"):   # the series' own images
        ds = build_dataset("imagenet", own / sub, split="val", transform=eval_transform("resize", 64))
        assert not fresh & {tuple(ds[i][0].flatten()[:64].tolist()) for i in range(len(ds))}
    hits = [np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0, 0.0])]
    estimate, low, high = over_seeds(hits)
    assert estimate == pytest.approx(37.5) and low < estimate < high
    assert over_seeds(hits, hits)[0] == 0
