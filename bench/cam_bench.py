"""Benchmarks for the paper's cost claim (Sec. 2 and 3): a CAM costs nothing beyond the forward pass that classifies
the image, so CAM localization should run at the network's own inference speed.

``python bench/run.py`` measures, on one model, batch and device, in one run, methods interleaved within each
repetition after a warm-up, medians reported:

1. the forward pass alone (the limit);
2. cam_lib: logits + top-1 CAM + box, and logits + top-5 CAMs + boxes (:func:`cam_lib.localize.localize_batch`);
3. the peers with the same box code: torchcam ``CAM``, pytorch-grad-cam ``GradCAM``, captum ``LayerGradCam``
   (their maps upsampled and normalised as ours, then :func:`cam_lib.boxes.boxes_from_maps`);
4. MaxBoxAccV2 on the same stored maps: :class:`cam_lib.metrics.MaxBoxAcc` against
   :func:`cam_lib.metrics.reference.baseline_best_ious`, the published per-threshold algorithm, at grid steps 0.01
   and 0.001, with a check that both give identical numbers;
5. the peak memory (high-water mark of a fresh process, ``bench/peak.py``) of evaluating 1,000 and 10,000 maps,
   streamed;
6. end to end: ``python -m cam_lib localize`` on real JPEG files in a fresh process against a fresh process that
   only decodes, resizes and runs the forward pass (``bench/plain_loop.py``).

:mod:`bench.page` writes the page and the plot of throughput against batch size. Not part of the installed
library: the children run from the repository (``bench/*.py``, ``python -m cam_lib``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from cam_lib.boxes import DEFAULT_THRESHOLD, boxes_from_maps
from cam_lib.cam import normalize_maps, upsample_maps
from cam_lib.errors import BadInputError
from cam_lib.localize import localize_batch
from cam_lib.metrics import MaxBoxAcc, threshold_grid
from cam_lib.metrics.reference import baseline_maxboxacc

__all__ = ["synthetic_maps", "throughput", "maxboxacc_speed", "stream_maps", "peak_rss_mb", "end_to_end",
           "cuda_path", "machine", "run", "score_speed", "write_wsol_maps", "TARGETS", "METHODS", "JSON_KEYS"]

METHODS = ("forward", "cam_top1_box", "cam_top5_box", "torchcam", "gradcam", "captum")
JSON_KEYS = {"forward": "forward_ips", "cam_top1_box": "cam_top1_box_ips", "cam_top5_box": "cam_top5_box_ips",
             "torchcam": "torchcam_ips", "gradcam": "gradcam_ips", "captum": "captum_ips"}
# issue 6: (figure, reference, minimum ratio)
TARGETS = (("cam_top1_box_ips", "forward_ips", 0.9), ("cam_top5_box_ips", "forward_ips", 0.8),
           ("cam_top1_box_ips", "gradcam_ips", 3.0), ("cam_top1_box_ips", "torchcam_ips", 0.95),
           ("maxboxacc_speedup_001", None, 20.0), ("maxboxacc_speedup_0001", None, 20.0),
           ("score_speedup_0001", None, 10.0))   # issue 22: score on saved maps vs the per-threshold algorithm

BENCH = Path(__file__).resolve().parent   # the scripts the fresh processes run (plain_loop.py, peak.py)
REPO = BENCH.parent                       # their working folder: ``python -m cam_lib`` imports this checkout


# ---------------------------------------------------------------------------------------------------------
# Inputs


def synthetic_maps(n: int, size: int = 224, seed: int = 0, cells: int = 7) -> tuple[torch.Tensor, torch.Tensor,
                                                                                     torch.Tensor]:
    """``n`` CAM-like maps (random ``cells x cells`` maps upsampled bilinearly and normalised, as a 7x7 CAM is),
    with one random ground-truth box each: ``maps (n, size, size)``, ``gt_boxes (n, 1, 4)``, ``gt_valid``."""
    if n < 0 or size < 2 or cells < 1:
        raise BadInputError(f"synthetic_maps: n >= 0, size >= 2 and cells >= 1 expected, got {n}, {size}, {cells}")
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 1, cells, cells, generator=g) ** 3      # a few peaks, mostly low: CAM-like
    maps = normalize_maps(upsample_maps(low, (size, size)))[:, 0]
    corners = torch.randint(0, size // 2, (n, 2), generator=g)
    extent = torch.randint(size // 8, size // 2, (n, 2), generator=g)
    boxes = torch.cat([corners, (corners + extent).clamp_max(size - 1)], 1).double()[:, None]
    return maps, boxes, torch.ones(n, 1, dtype=torch.bool)


# ---------------------------------------------------------------------------------------------------------
# Throughput


def _peer_boxes(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A peer's maps ``(B, h, w)`` -> boxes by the same code as cam_lib's: upsample, normalise, box."""
    return boxes_from_maps(normalize_maps(upsample_maps(maps[:, None].float(), size))[:, 0], DEFAULT_THRESHOLD)


def _methods(model: torch.nn.Module, available: dict) -> dict:
    """name -> callable(images) for each method (peers only when their package imports)."""
    layer, fc = model.features, model.head.fc

    def forward(x):
        with torch.inference_mode():
            return model(x)

    def cam(k):
        def run_cam(x):
            out = localize_batch(model, x, topk=k, threshold=DEFAULT_THRESHOLD)
            return out.logits, out.boxes
        return run_cam

    out = {"forward": forward, "cam_top1_box": cam(1), "cam_top5_box": cam(5)}
    if "torchcam" in available:
        extractor = available["torchcam"].CAM(model, target_layer=layer, fc_layer=fc)

        def torchcam(x):
            with torch.no_grad():
                logits = model(x)
                maps = extractor(class_idx=logits.argmax(1).tolist(), scores=logits)[0]
            return logits, _peer_boxes(maps, x.shape[-2:])
        out["torchcam"] = torchcam
    if "pytorch_grad_cam" in available:
        gradcam_ = available["pytorch_grad_cam"].GradCAM(model=model, target_layers=[layer])

        def gradcam(x):   # forward, top-1, backward, then its own cv2 resize and min-max scaling
            maps = torch.from_numpy(gradcam_(input_tensor=x, targets=None))
            return None, boxes_from_maps(normalize_maps(maps), DEFAULT_THRESHOLD)
        out["gradcam"] = gradcam
    if "captum" in available:
        lgc = available["captum"].LayerGradCam(model, layer)

        def captum(x):    # logits first (its attribute needs the target), then forward + backward
            with torch.no_grad():
                logits = model(x)
            maps = lgc.attribute(x, target=logits.argmax(1))[:, 0].detach()
            return logits, _peer_boxes(maps, x.shape[-2:])
        out["captum"] = captum
    return out


def _import_peers() -> dict:
    available = {}
    for name, module in (("torchcam", "torchcam.methods"), ("pytorch_grad_cam", "pytorch_grad_cam"),
                         ("captum", "captum.attr")):
        try:
            available[name] = __import__(module, fromlist=["_"])
        except ImportError:
            pass
    return available


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(model: torch.nn.Module, batch_sizes: tuple[int, ...], size: int = 224, reps: int = 5,
               warmup: int = 1, device: torch.device | str = "cpu", seed: int = 0) -> dict:
    """Images per second of every method at every batch size: ``{batch: {method: ips}}`` (median of ``reps``
    timed calls, methods interleaved within each repetition, after ``warmup`` untimed rounds)."""
    if not batch_sizes or min(batch_sizes) < 1 or reps < 1 or warmup < 0 or size < 32:
        raise BadInputError(f"throughput: batch sizes >= 1, reps >= 1, warmup >= 0, size >= 32 expected, got "
                            f"{batch_sizes}, {reps}, {warmup}, {size}")
    device = torch.device(device)
    model = model.eval().to(device)
    methods = _methods(model, _import_peers())
    g = torch.Generator().manual_seed(seed)
    out = {}
    for batch in batch_sizes:
        images = torch.rand(batch, 3, size, size, generator=g).to(device)
        times = {name: [] for name in methods}
        for rep in range(warmup + reps):
            for name, fn in methods.items():                    # interleaved
                _sync(device)
                start = time.perf_counter()
                fn(images)
                _sync(device)
                if rep >= warmup:
                    times[name].append(time.perf_counter() - start)
        out[batch] = {name: batch / statistics.median(t) for name, t in times.items()}
    return out


# ---------------------------------------------------------------------------------------------------------
# MaxBoxAcc and memory


def maxboxacc_speed(maps: torch.Tensor, gt_boxes: torch.Tensor, gt_valid: torch.Tensor, step: float,
                    reps: int = 1, batch: int = 64) -> dict:
    """Seconds per map of MaxBoxAcc (on ``torch.get_num_threads()`` threads, and on one) and of the per-threshold
    baseline (one thread, as published) on the same maps, streamed in batches (medians of ``reps``,
    interleaved), and whether their counts are identical."""
    grid = threshold_grid(step)
    maps_np, gt_np, valid_np = maps.float().numpy(), gt_boxes.numpy(), gt_valid.numpy()
    times: dict[str, list[float]] = {"fast": [], "one": [], "base": []}
    MaxBoxAcc(grid).update(maps[:2], gt_boxes[:2], gt_valid[:2])     # warm-up: loads (or compiles) the sweep
    accs = {}
    for _ in range(reps):
        for key, threads in (("fast", None), ("one", 1)):
            start = time.perf_counter()
            accs[key] = acc = MaxBoxAcc(grid, threads=threads)
            for i in range(0, len(maps), batch):
                acc.update(maps[i:i + batch], gt_boxes[i:i + batch], gt_valid[i:i + batch])
            times[key].append(time.perf_counter() - start)
        start = time.perf_counter()
        counts = baseline_maxboxacc(maps_np, grid, gt_np, valid_np)
        times["base"].append(time.perf_counter() - start)
    fast, one, base = (statistics.median(times[k]) / len(maps) for k in ("fast", "one", "base"))
    return {"step": step, "thresholds": len(grid), "maps": len(maps), "threads": torch.get_num_threads(),
            "fast_ms_per_map": 1e3 * fast, "one_thread_ms_per_map": 1e3 * one, "baseline_ms_per_map": 1e3 * base,
            "speedup": base / fast, "speedup_one_thread": base / one,
            "identical": all(bool(np.array_equal(a.counts, counts)) for a in accs.values()),
            "maxboxacc": accs["fast"].compute()["maxboxacc"]}


def stream_maps(n: int, size: int, batch: int = 64) -> None:
    """Stream ``n`` synthetic maps through MaxBoxAcc, batch by batch, nothing kept (``bench/peak.py maps``)."""
    acc = MaxBoxAcc(threshold_grid(0.01))
    for i in range(0, n, batch):
        maps, boxes, valid = synthetic_maps(min(batch, n - i), size, seed=i)
        acc.update(maps, boxes, valid)
    if acc.n:
        acc.compute()


def peak_rss_mb(n: int, size: int = 224) -> float:
    """Peak resident memory (MB, VmHWM) of a fresh process that evaluates MaxBoxAccV2 on ``n`` streamed maps."""
    out = _child([sys.executable, str(BENCH / "peak.py"), "maps", str(int(n)), str(int(size))])
    return float(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# End to end: what a user runs, fresh processes on real JPEG files

E2E_MODEL = "tf_efficientnet_lite0"   # the ImageNet GAP network available offline
TEN_CROP_IMAGES = 64
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def _child(command: list[str]) -> str:
    """Run a fresh process in the repository; its stdout, or RuntimeError with the end of its stderr."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:6])} ... failed ({done.returncode}): {done.stderr[-1500:]}")
    return done.stdout


def _wall(command: list[str]) -> float:
    """Seconds a fresh process takes, start (imports) included."""
    start = time.perf_counter()
    _child(command)
    return time.perf_counter() - start


def end_to_end(root: Path, reps: int = 2) -> dict:
    """``python -m cam_lib localize`` against a plain decode + resize + forward loop (``bench/plain_loop.py``) over
    the same JPEG files, each a fresh process, interleaved, ``reps`` times; images per second from the median wall
    time of each, the ratio as the median of the ``reps`` pairs' ratios (plain wall / localize wall); and the peak
    memory (VmHWM, ``bench/peak.py``) of ``localize --frame ten_crop`` on the first images at the default batch
    size."""
    n = len([p for p in (Path(root) / "val").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES])
    flags = ["localize", "--data", "imagenet", "--root", str(root), "--model", E2E_MODEL, "--pretrained",
             "--num-classes", "1000", "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        localize = [sys.executable, "-m", "cam_lib", *flags, "--json", str(Path(tmp) / "r.json")]
        plain = [sys.executable, str(BENCH / "plain_loop.py"), str(root), E2E_MODEL, "32", "224"]
        _child(localize + ["--limit", "8"])   # untimed: numba compiles the sweep into its cache on a first run
        walls = {"localize": [], "plain": []}
        for _ in range(reps):
            walls["localize"].append(_wall(localize))
            walls["plain"].append(_wall(plain))
        out = _child([sys.executable, str(BENCH / "peak.py"), "-m", "cam_lib", *flags, "--json",
                      str(Path(tmp) / "ten.json"), "--frame", "ten_crop", "--limit", str(TEN_CROP_IMAGES)])
    localize_ips = n / statistics.median(walls["localize"])
    plain_ips = n / statistics.median(walls["plain"])
    # the ratio of each interleaved pair, then their median: a pause of the machine slows both runs of a pair
    pairs = [plain / loc for loc, plain in zip(walls["localize"], walls["plain"])]
    return {"images": n, "localize_ips": localize_ips, "decode_forward_ips": plain_ips,
            "e2e_vs_decode_forward": statistics.median(pairs), "pair_ratios": pairs, "walls": walls,
            "ten_crop_peak_rss_mb": float(out.strip().splitlines()[-1]), "ten_crop_images": TEN_CROP_IMAGES}


def write_wsol_maps(folder: Path, n: int, size: int = 224, seed: int = 2) -> tuple[Path, Path]:
    """``n`` CAM-like maps (:func:`synthetic_maps`) saved in wsolevaluation's layout, ``maps/<id>.npy``, with their
    metadata (``image_ids``, ``class_labels``, ``image_sizes``, ``localization``: one box each); the two folders."""
    maps, boxes, _ = synthetic_maps(n, size, seed=seed)
    maps_dir, meta = Path(folder) / "maps", Path(folder) / "metadata"
    (maps_dir / "val").mkdir(parents=True)
    meta.mkdir()
    ids = [f"val/{i:05d}.JPEG" for i in range(n)]
    for image_id, m in zip(ids, maps):
        np.save(maps_dir / f"{image_id}.npy", m.numpy())
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},0\n" for i in ids))
    (meta / "image_sizes.txt").write_text("".join(f"{i},{size},{size}\n" for i in ids))
    (meta / "localization.txt").write_text("".join(f"{i},{','.join(str(int(v)) for v in b[0].tolist())}\n"
                                                   for i, b in zip(ids, boxes)))
    return maps_dir, meta


def score_speed(n: int = 200, size: int = 224, step: float = 0.001, reps: int = 3) -> dict:
    """``python -m cam_lib score`` (this project's convention: one compiled sweep per map) against ``score
    --convention wsolevaluation`` (that evaluator's algorithm, threshold by threshold: cv2.threshold, findContours,
    boundingRect) on the same ``n`` saved maps at grid step ``step``: fresh processes, interleaved, ``reps``
    pairs; seconds per map without the start-up (a run on 1 map, measured the same way, is subtracted), the
    median of the pairs' ratios, and each command's peak memory (VmHWM, ``bench/peak.py``)."""
    with tempfile.TemporaryDirectory() as tmp:
        maps_dir, meta = write_wsol_maps(Path(tmp) / "all", n, size)
        one_maps, one_meta = write_wsol_maps(Path(tmp) / "one", 1, size)

        def command(maps, metadata, convention):
            return [sys.executable, str(BENCH / "peak.py"), "-m", "cam_lib", "score", "--maps", str(maps),
                    "--metadata", str(metadata), "--json", str(Path(tmp) / f"{convention}.json"),
                    "--cam-step", str(step), "--convention", convention]
        _child(command(one_maps, one_meta, "cam_lib"))   # untimed: numba's cache, the OS's file cache
        walls: dict[str, list[float]] = {"cam_lib": [], "wsolevaluation": [], "start_cam_lib": [],
                                         "start_wsolevaluation": []}
        peaks = {}
        for _ in range(reps):
            for convention in ("cam_lib", "wsolevaluation"):
                walls[f"start_{convention}"].append(_wall(command(one_maps, one_meta, convention)))
                start = time.perf_counter()
                out = _child(command(maps_dir, meta, convention))
                walls[convention].append(time.perf_counter() - start)
                peaks[convention] = float(out.strip().splitlines()[-1])
        results = {c: json.loads((Path(tmp) / f"{c}.json").read_text()) for c in ("cam_lib", "wsolevaluation")}
    per_map = {c: [(w - s) / (n - 1) for w, s in zip(walls[c], walls[f"start_{c}"])]
               for c in ("cam_lib", "wsolevaluation")}
    pairs = [ref / max(own, 1e-9) for own, ref in zip(per_map["cam_lib"], per_map["wsolevaluation"])]
    return {"maps": n, "size": size, "step": step, "thresholds": len(threshold_grid(step)),
            "cam_lib_ms_per_map": 1e3 * statistics.median(per_map["cam_lib"]),
            "wsolevaluation_ms_per_map": 1e3 * statistics.median(per_map["wsolevaluation"]),
            "speedup": statistics.median(pairs), "pair_ratios": pairs, "walls": walls,
            "peak_rss_mb": peaks, "maxboxacc_v2": {c: r["maxboxacc_v2"] for c, r in results.items()}}


# ---------------------------------------------------------------------------------------------------------
# The CUDA path (bench/gpu.sh): forward only, CAM + boxes, and localize end to end from JPEG files

def cuda_path(root: Path, model_name: str = E2E_MODEL, batch: int = 256, reps: int = 20, repeat: int = 10,
              workers: int = 8) -> dict:
    """Images per second on CUDA with bfloat16 autocast and channels-last: (1) the forward pass alone, (2) logits +
    top-5 CAMs + their boxes (maps moved to the CPU once per batch), both on random images already on the GPU;
    (3) :func:`cam_lib.localize.evaluate` over the JPEG files of ``root/val`` (repeated ``repeat`` times), once
    with the JPEGs decoded on the GPU (``set_decode("device")``) and once decoded by PIL in ``workers`` loader
    processes; and (4) the wall time of a fresh ``python -m cam_lib localize`` with the GPU flags on the same
    files."""
    from torch.utils.data import ConcatDataset

    from cam_lib.data import build_dataset, make_loader
    from cam_lib.localize import evaluate
    from cam_lib.methods import get_method
    from cam_lib.models import build_model

    if not torch.cuda.is_available():
        raise BadInputError("the CUDA path needs a GPU: torch.cuda.is_available() is False")
    if not Path(root).is_dir():
        raise BadInputError(f"--e2e-root {root}: folder not found (the CUDA path reads its JPEG files)")
    device, cam = torch.device("cuda"), get_method("cam")
    model = build_model(model_name, pretrained=True).eval().to(device).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)

    def rate(step, n: int = reps) -> float:
        for _ in range(3):
            step()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(n):
            step()
        torch.cuda.synchronize()
        return batch * n / (time.perf_counter() - start)

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    def cam_boxes():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = cam(model, x, 5)
        boxes_from_maps(out.maps.cpu(), DEFAULT_THRESHOLD)

    result = {"device_name": torch.cuda.get_device_name(0), "torch": torch.__version__, "batch": batch,
              "forward_ips": rate(forward), "cam_top5_box_ips": rate(cam_boxes)}
    for decode, n_workers in (("device", 4), ("cpu", workers)):
        data = build_dataset("imagenet", root).set_decode(decode)
        loader = make_loader(ConcatDataset([data] * repeat), batch, n_workers, device)
        evaluate(model, loader, device, progress=False, amp=True, channels_last=True)   # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        ev = evaluate(model, loader, device, progress=False, amp=True, channels_last=True)
        result[f"e2e_{decode}_decode_ips"] = ev.n / (time.perf_counter() - start)
        result[f"e2e_{decode}_decode_gt_known"] = ev.gt_known_loc_acc
    result["e2e_images"] = len(data) * repeat
    command = [sys.executable, "-m", "cam_lib", "localize", "--data", "imagenet", "--root", str(root), "--model",
               model_name, "--pretrained", "--no-progress", "--device", "cuda", "--decode", "device", "--amp",
               "--channels-last", "--batch-size", str(batch)]
    result["fresh_localize_s"] = _wall(command)
    result["fresh_localize_images"] = len(data)
    result["cam_vs_forward"] = result["cam_top5_box_ips"] / result["forward_ips"]
    result["e2e_vs_forward"] = result["e2e_device_decode_ips"] / result["forward_ips"]
    result["gpu_decode_vs_cpu_decode"] = result["e2e_device_decode_ips"] / result["e2e_cpu_decode_ips"]
    return result


# ---------------------------------------------------------------------------------------------------------
# The whole run and its JSON


def machine() -> dict:
    """The machine and versions the figures belong to."""
    import torchvision

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "torchvision": torchvision.__version__, "numpy": np.__version__, "opencv": cv2.__version__}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("torchcam", "grad-cam", "captum"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "os": platform.platform(), "versions": versions}


def _maps_figures(result: dict, size: int, n_maps: int, quick: bool) -> dict:
    """MaxBoxAccV2 against the baseline at steps 0.01 and 0.001, and the boxes' cost, on the same stored maps
    (CAM-like: 7x7 upsampled); adds the headline keys to ``result``, returns the per-step figures."""
    stored, boxes, valid = synthetic_maps(n_maps, size, seed=1)
    speeds = {}
    for step, key in ((0.01, "001"), (0.001, "0001")):
        speeds[key] = maxboxacc_speed(stored, boxes, valid, step, reps=1 if quick else 3)
        result[f"maxboxacc_speedup_{key}"] = speeds[key]["speedup"]
    result["maxboxacc_identical"] = all(s["identical"] for s in speeds.values())
    boxes_from_maps(stored[:16])                             # warm-up
    start = time.perf_counter()
    for i in range(0, n_maps, 64):
        boxes_from_maps(stored[i:i + 64])
    result["boxes_ms_per_map"] = 1e3 * (time.perf_counter() - start) / n_maps
    return speeds


def run(quick: bool = False, model_name: str = "resnet50", device: str = "cpu", size: int | None = None,
        batch_sizes: tuple[int, ...] | None = None, reps: int | None = None, maps: int | None = None,
        memory: tuple[int, int] = (1000, 10000), width: float = 1.0, progress=print,
        e2e_root: Path | None = None) -> dict:
    """All the measurements; returns the JSON dict. ``quick``: one batch size, fewer repetitions and maps.
    ``e2e_root``: an ILSVRC-val-format folder of real JPEGs for :func:`end_to_end` (None or a missing folder: not
    measured, said so through ``progress`` and in the JSON; ``bench/run.py`` defaults to the shared sample)."""
    from cam_lib.models import build_model

    size = size or 224
    batch_sizes = tuple(batch_sizes or ((8,) if quick else (1, 2, 4, 8, 16)))
    reps = reps or (3 if quick else 5)
    n_maps = maps or (48 if quick else 256)
    started = time.perf_counter()
    # first, while this process holds nothing yet: fresh processes timed beside a parent that has run the
    # in-process benchmarks measured localize 5-10% slower and the plain loop faster than alone
    if e2e_root is not None and Path(e2e_root).is_dir():
        progress(f"end to end: localize vs decode + resize + forward, fresh processes, on {e2e_root}")
        e2e = end_to_end(Path(e2e_root), reps=1 if quick else 3)
    else:
        e2e = {"not measured": f"no folder at {e2e_root} (pass --e2e-root)" if e2e_root is not None
               else "no JPEG folder (pass --e2e-root)"}
        progress(f"end to end: not measured, {e2e['not measured']}")
    model = build_model(model_name, num_classes=1000, width=width)
    progress(f"throughput: {model_name}, batch sizes {batch_sizes}, {reps} repetitions, {size}x{size}")
    per_batch = throughput(model, batch_sizes, size=size, reps=reps, device=device)
    main = per_batch[max(batch_sizes)]
    result = {JSON_KEYS[name]: main.get(name) for name in METHODS}
    result.update(e2e_vs_decode_forward=e2e.get("e2e_vs_decode_forward"),
                  ten_crop_peak_rss_mb=e2e.get("ten_crop_peak_rss_mb"), end_to_end=e2e)
    progress(f"MaxBoxAccV2 on {n_maps} maps, steps 0.01 and 0.001")
    speeds = _maps_figures(result, size, n_maps, quick)
    score_maps_n = 20 if quick else 200
    progress(f"score: {score_maps_n} saved maps at step 0.001, cam_lib's sweep vs wsolevaluation's algorithm")
    result["score"] = score = score_speed(score_maps_n, size, 0.001, reps=1 if quick else 3)
    result["score_speedup_0001"] = score["speedup"]
    progress(f"peak memory: {memory[0]} and {memory[1]} maps, streamed")
    result["peak_rss_mb_import"] = peak_rss_mb(0, size)      # the process with its imports, no map
    result["peak_rss_mb_1k"] = peak_rss_mb(memory[0], size)
    result["peak_rss_mb_10k"] = peak_rss_mb(memory[1], size)
    result["machine"] = machine()
    result["config"] = {"model": model_name, "width": width, "device": str(device), "size": size,
                        "batch_sizes": list(batch_sizes), "batch": max(batch_sizes), "reps": reps, "quick": quick,
                        "memory_maps": list(memory), "seconds": round(time.perf_counter() - started, 1)}
    result["throughput"] = {str(b): v for b, v in per_batch.items()}
    result["maxboxacc"] = speeds
    result["targets"] = targets(result)
    return result


def targets(result: dict) -> list[dict]:
    """Each target of issue 6 with this run's ratio and whether it is met."""
    out = []
    for figure, reference, minimum in TARGETS:
        value = result.get(figure)
        if value is not None and reference is not None:
            value = value / result[reference] if result.get(reference) else None
        name = f"{figure} / {reference}" if reference else figure
        out.append({"target": f"{name} >= {minimum:g}", "ratio": value,
                    "met": value is not None and value >= minimum})
    out.append({"target": "MaxBoxAccV2 identical to the per-threshold baseline (0.01 and 0.001)",
                "ratio": None, "met": bool(result.get("maxboxacc_identical"))})
    growth = result["peak_rss_mb_10k"] / result["peak_rss_mb_1k"]
    out.append({"target": "peak_rss_mb_10k <= 1.1 x peak_rss_mb_1k", "ratio": growth, "met": growth <= 1.1})
    e2e, ten = result.get("e2e_vs_decode_forward"), result.get("ten_crop_peak_rss_mb")
    out.append({"target": "e2e_vs_decode_forward >= 0.9 (fresh processes, real JPEGs)", "ratio": e2e,
                "met": e2e is not None and e2e >= 0.9})
    out.append({"target": "ten_crop_peak_rss_mb <= 2048", "ratio": ten, "met": ten is not None and ten <= 2048})
    return out
