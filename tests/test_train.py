"""Training: the same seed gives bitwise-identical weights and log rows (whatever the loader workers); resume
after a kill gives the same weights, bit for bit, as an uninterrupted run; torchrun with Gloo on 2 processes agrees
with one process at the same global batch; bad parameters are named."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cam_lib.data.synthetic import build
from cam_lib.errors import BadInputError
from cam_lib.train import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> Path:
    return build("smoke", tmp_path_factory.mktemp("syn"), workers=1) / "objects"


def _cmd(objects, out, *extra):
    return [sys.executable, "-m", "cam_lib", "train", "--model", "alexnet_gap", "--width", "0.125", "--data",
            "imagenet", "--root", str(objects), "--out", str(out), "--recipe", "embedded", "--image-size", "56",
            "--resize", "64", "--batch-size", "32", "--lr", "0.01", "--new-lr", "0.01", "--no-progress", *extra]


def _env():
    # torchrun's store and Gloo on the loopback interface only
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "MASTER_ADDR": "127.0.0.1",
            "GLOO_SOCKET_IFNAME": "lo"}


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_resume_after_a_kill_gives_the_same_weights(objects, tmp_path):
    epochs = ["--epochs", "4", "--step-size", "2"]
    subprocess.run(_cmd(objects, tmp_path / "whole", *epochs), check=True, env=_env(), cwd=ROOT)
    proc = subprocess.Popen(_cmd(objects, tmp_path / "cut", *epochs), env=_env(), cwd=ROOT)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len((tmp_path / "cut" / "log.csv").read_text().splitlines()) - 1
    assert 1 <= done < 4, "the run was not interrupted mid-way"
    assert not (tmp_path / "cut" / "model.pt").exists()
    subprocess.run(_cmd(objects, tmp_path / "cut", *epochs, "--resume"), check=True, env=_env(), cwd=ROOT)
    _assert_bitwise_equal(_weights(tmp_path / "whole" / "model.pt"), _weights(tmp_path / "cut" / "model.pt"))
    log = (tmp_path / "cut" / "log.csv").read_text().splitlines()
    assert len(log) == 5 and log[0].startswith("epoch,loss,top1_err,top5_err,lr,images_per_s")
    assert _log_rows(tmp_path / "cut" / "log.csv") == _log_rows(tmp_path / "whole" / "log.csv")


def test_torchrun_gloo_two_processes_agree_with_one(objects, tmp_path):
    # No random crop (resize == crop) and no mirror: each global batch is the same 32 images in both runs, and
    # AlexNet-GAP has no batch norm, so DDP's averaged gradient equals the single-process one up to float error.
    args = ["--epochs", "2", "--image-size", "64", "--no-mirror", "--optimizer", "sgd", "--warmup", "0"]
    subprocess.run(_cmd(objects, tmp_path / "one", *args), check=True, env=_env(), cwd=ROOT)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run(torchrun + _cmd(objects, tmp_path / "two", *args)[1:], check=True, env=_env(), cwd=ROOT,
                   timeout=300)
    a, b = _weights(tmp_path / "one" / "model.pt"), _weights(tmp_path / "two" / "model.pt")
    # stated tolerance: 1e-6 absolute after 2 epochs of SGD (AdamW divides each step by the gradient's running
    # scale, which amplifies float-order differences of near-zero gradients to 1e-3 after 2 epochs)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    one = (tmp_path / "one" / "log.csv").read_text().splitlines()
    two = (tmp_path / "two" / "log.csv").read_text().splitlines()
    assert len(one) == len(two) == 3


def test_bad_training_parameters(objects, tmp_path):
    with pytest.raises(BadInputError, match="resnet9"):
        train("resnet9", "imagenet", objects, tmp_path)
    with pytest.raises(BadInputError, match="unknown recipe field"):
        train("nin", "imagenet", objects, tmp_path, overrides={"lr_max": 1.0})
    with pytest.raises(BadInputError, match="parameter epochs=0: must be >= 1"):
        train("nin", "imagenet", objects, tmp_path, width=0.125, overrides={"epochs": 0})
    with pytest.raises(BadInputError, match="parameter optimizer='adam'"):
        train("nin", "imagenet", objects, tmp_path, overrides={"optimizer": "adam"})
    with pytest.raises(BadInputError, match="parameter warmup=3.0: must be in"):
        train("nin", "imagenet", objects, tmp_path, recipe="embedded", overrides={"epochs": 2, "warmup": 3.0})
    out = tmp_path / "run"
    train("nin", "imagenet", objects, out, width=0.125, recipe="embedded",
          overrides={"epochs": 1, "image_size": 56, "resize": 64, "batch_size": 32}, progress=False)
    with pytest.raises(BadInputError, match="checkpoint of a run with seed 0 cannot resume with seed 1"):
        train("nin", "imagenet", objects, out, width=0.125, recipe="embedded", resume=True, seed=1,
              overrides={"epochs": 2, "image_size": 56, "resize": 64, "batch_size": 32}, progress=False)
    with pytest.raises(BadInputError, match="parameter seed=-1"):
        train("nin", "imagenet", objects, tmp_path, seed=-1)
    birds = objects.parent / "birds"
    shutil.copy(out / "checkpoint.pt", tmp_path / "checkpoint.pt")
    with pytest.raises(BadInputError, match="with 24 classes cannot resume nin on cub with 14 classes"):
        train("nin", "cub", birds, tmp_path, width=0.125, recipe="embedded", resume=True,
              overrides={"epochs": 2, "image_size": 56, "resize": 64, "batch_size": 16}, progress=False)


# Determinism (issue 12): the same seed gives bitwise-identical weights and log rows (the throughput column aside).
_TINY = {"epochs": 2, "image_size": 56, "resize": 64, "batch_size": 32}


def _run(objects, out, model, seed=0, **kwargs):
    train(model, "imagenet", objects, out, width=0.125, recipe="embedded", overrides=_TINY, seed=seed,
          progress=False, max_batches=3, **kwargs)
    return _weights(out / "model.pt"), _log_rows(out / "log.csv")


def _log_rows(path):
    """log.csv without the throughput column (wall-clock time, not a result)."""
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


def _assert_bitwise_equal(a, b):
    assert list(a) == list(b)
    differ = {k: float((a[k].double() - b[k].double()).abs().max()) for k in a if not torch.equal(a[k], b[k])}
    assert not differ, f"{len(differ)}/{len(a)} tensors differ (max abs difference): {differ}"


@pytest.mark.parametrize("model", ["googlenet_gap", "alexnet_gap"])
def test_same_seed_gives_bitwise_identical_weights_and_log(objects, tmp_path, model):
    w1, log1 = _run(objects, tmp_path / "a", model)
    torch.rand(1000)   # whatever else the process draws in between must not matter
    w2, log2 = _run(objects, tmp_path / "b", model)
    _assert_bitwise_equal(w1, w2)
    assert log1 == log2 and len(log1) == 3
    w3, _ = _run(objects, tmp_path / "c", model, seed=1)
    assert any(not torch.equal(w1[k], w3[k]) for k in w1 if w1[k].is_floating_point())


def test_augmentation_does_not_depend_on_the_worker_count(objects, tmp_path):
    # each image's crop and flip are drawn from (seed, epoch, index) alone: loader workers change nothing
    w0, log0 = _run(objects, tmp_path / "w0", "alexnet_gap")
    w2, log2 = _run(objects, tmp_path / "w2", "alexnet_gap", workers=2)
    _assert_bitwise_equal(w0, w2)
    assert log0 == log2


def test_interrupted_and_resumed_run_is_bitwise_identical(objects, tmp_path, monkeypatch):
    import cam_lib.train as train_module

    whole, log_whole = _run(objects, tmp_path / "whole", "googlenet_gap")
    real = train_module.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(path, **state):
        real(path, **state)
        if path.name == "checkpoint.pt" and state["epoch"] == 0:
            raise Killed

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        _run(objects, tmp_path / "cut", "googlenet_gap")
    monkeypatch.setattr(train_module, "save_checkpoint", real)
    torch.rand(1000)   # the resumed run starts from a different global RNG state
    resumed, log_resumed = _run(objects, tmp_path / "cut", "googlenet_gap", resume=True)
    _assert_bitwise_equal(whole, resumed)
    assert log_whole == log_resumed


# The frozen recipe (issue 12): the paper's surgery on an ImageNet backbone, trained on its cached maps.
_FROZEN = {"epochs": 2, "batch_size": 16}


def _frozen(objects, out, cache, seed=0, overrides=_FROZEN, **kwargs):
    train("efficientnet_lite0_gap", "imagenet", objects, out, pretrained=True, recipe="smoke_pretrained",
          overrides=overrides, seed=seed, progress=False, max_batches=3, cache_dir=cache, **kwargs)
    return _weights(out / "model.pt"), _log_rows(out / "log.csv")


def test_frozen_recipe_trains_only_the_new_layers_deterministically_on_cached_maps(objects, tmp_path):
    from cam_lib.models import build_model

    cache = tmp_path / "maps"
    w1, log1 = _frozen(objects, tmp_path / "a", cache)
    files = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(files) == 2   # the training split (with its mirror images) and the evaluated split
    w2, log2 = _frozen(objects, tmp_path / "b", cache)
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == files   # read back, not recomputed
    _assert_bitwise_equal(w1, w2)
    assert log1 == log2 and len(log1) == 3
    fresh = build_model("efficientnet_lite0_gap", num_classes=24, pretrained=True).state_dict()
    # smoke_pretrained tunes the backbone's last 2 stages (features.blocks.3 and .4 of 5) with the new layers
    new, tuned = ("features.cam_conv", "head"), ("features.blocks.3.", "features.blocks.4.")
    assert all(torch.equal(w1[k], fresh[k]) for k in fresh if not k.startswith(new + tuned))   # the rest as loaded
    assert any(not torch.equal(w1[k], fresh[k]) for k in fresh if k.startswith(new))     # the new layers trained
    assert any(not torch.equal(w1[k], fresh[k]) for k in fresh if k.startswith(tuned[0]))   # both tuned stages
    assert any(not torch.equal(w1[k], fresh[k]) for k in fresh if k.startswith(tuned[1]))
    stats = [k for k in fresh if k.startswith(tuned) and k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(w1[k], fresh[k]) for k in stats)   # BatchNorm statistics as loaded
    raw = _weights(tmp_path / "a" / "checkpoint.pt")   # the training state; model.pt has the classifier centred
    w, b = raw["head.fc.weight"], raw["head.fc.bias"]
    assert w.mean(0).abs().max() > 1e-4
    torch.testing.assert_close(w1["head.fc.weight"], w - w.mean(0, keepdim=True), rtol=0, atol=1e-7)
    torch.testing.assert_close(w1["head.fc.bias"], b - b.mean(), rtol=0, atol=1e-7)
    assert all(torch.equal(w1[k], raw[k]) for k in raw if not k.startswith("head.fc."))
    w3, _ = _frozen(objects, tmp_path / "c", cache, seed=1)
    assert any(not torch.equal(w1[k], w3[k]) for k in w1 if k.startswith(new))


def test_cached_maps_draw_the_mirror_image_from_seed_epoch_and_index():
    import numpy as np

    from cam_lib.train import _CachedMaps

    maps = np.arange(40, dtype=np.float32).reshape(40, 1, 1, 1)
    ds = _CachedMaps({"maps": maps, "flipped": -maps, "labels": np.zeros(40, np.int64)}, seed=3)
    flips = [[float(ds[(epoch, i)][0]) < 0 for i in range(1, 40)] for epoch in range(4)]   # image 0's map is 0 = -0
    assert all(5 < sum(f) < 34 for f in flips)          # about half of the images use their mirror image
    assert flips[0] != flips[1]                          # a new draw every epoch
    again = _CachedMaps({"maps": maps, "flipped": -maps, "labels": np.zeros(40, np.int64)}, seed=3)
    assert [float(again[(2, i)][0]) for i in range(40)] == [float(ds[(2, i)][0]) for i in range(40)]
    assert float(ds[5][0]) == 5.0                        # plain indices (evaluation): never mirrored


def test_frozen_recipe_caches_the_maps_before_the_tuned_stages(objects, tmp_path):
    import numpy as np

    from cam_lib.models import build_model
    from cam_lib.train import _frozen_split

    _frozen(objects, tmp_path / "a", tmp_path / "maps")
    net = build_model("efficientnet_lite0_gap", num_classes=24, pretrained=True).eval()
    frozen, tuned = _frozen_split(net, 2)
    assert len(tuned) == 2 and tuned[0] is net.features.blocks[3] and len(frozen.blocks) == 3
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(tuned(frozen(x)), net.features[:-1](x), rtol=0, atol=0)
    shapes = set()
    for path in (tmp_path / "maps").glob("backbone-maps-*.npz"):
        with np.load(path) as data:
            shapes.add(data["maps"].shape[1:])
    assert shapes == {(40, 8, 8)}   # stage 2's maps (40 channels, stride 8 of 64 px), not the stride-16 stages'
    untuned, _ = _frozen_split(net, 0)
    assert len(untuned) == len(net.features) - 1
    for bad in (5, 9):
        with pytest.raises(BadInputError, match=f"tuned_stages={bad}: efficientnet_lite0_gap has 5 stages"):
            _frozen_split(net, bad)
    with pytest.raises(BadInputError, match="tuned_stages=1: googlenet_gap has no stages"):
        _frozen_split(build_model("googlenet_gap", num_classes=3, width=0.25), 1)
    with pytest.raises(BadInputError, match="tuned_stages=1: applies to a frozen recipe"):
        train("efficientnet_lite0_gap", "imagenet", objects, tmp_path / "b", pretrained=True,
              recipe="smoke_pretrained", overrides={"frozen": False, "tuned_stages": 1}, progress=False)
    with pytest.raises(BadInputError, match="tuned_stages=-1: must be an integer >= 0"):
        train("efficientnet_lite0_gap", "imagenet", objects, tmp_path / "b", pretrained=True,
              recipe="smoke_pretrained", overrides={"tuned_stages": -1}, progress=False)


def test_frozen_recipe_needs_a_pretrained_gap_surgery_network(objects, tmp_path):
    with pytest.raises(BadInputError, match="pretrained=False"):
        train("efficientnet_lite0_gap", "imagenet", objects, tmp_path, pretrained=False, recipe="smoke_pretrained",
              progress=False)
    with pytest.raises(BadInputError, match="frozen=True: .*tf_efficientnet_lite0 is not a GAP surgery"):
        train("tf_efficientnet_lite0", "imagenet", objects, tmp_path, pretrained=True, recipe="smoke_pretrained",
              progress=False, cache_dir=tmp_path / "maps")


def test_command_line_trains_frozen_or_whole_network(objects, tmp_path):
    from cam_lib.cli import main

    def run(out, *extra):
        assert main(["train", "--model", "efficientnet_lite0_gap", "--pretrained", "--data", "imagenet", "--root",
                     str(objects), "--out", str(out), "--recipe", "smoke_pretrained", "--epochs", "1",
                     "--batch-size", "16", "--no-progress", *extra]) == 0
        return torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["recipe"]

    assert run(tmp_path / "frozen", "--cache-dir", str(tmp_path / "maps"))["frozen"] is True
    assert len(list((tmp_path / "maps").glob("backbone-maps-*.npz"))) == 2
    whole = run(tmp_path / "whole", "--no-frozen")
    assert whole["frozen"] is False and whole["tuned_stages"] == 0   # every stage trains: none is "tuned" apart


def test_non_finite_or_out_of_range_hyperparameters_and_a_nan_loss_stop_with_their_name(objects, tmp_path,
                                                                                         monkeypatch):
    """Issue 13: `train --lr nan` trained a NaN model and exited 0; --momentum 5, --weight-decay -1 ended in
    tracebacks."""
    import cam_lib.train as train_module

    for overrides, match in (({"lr": float("nan")}, "parameter lr=nan: must be a finite number"),
                             ({"new_lr": float("inf")}, "parameter new_lr=inf"),
                             ({"momentum": 5.0}, r"parameter momentum=5.0: must be in \[0, 1\)"),
                             ({"weight_decay": -1.0}, "parameter weight_decay=-1.0: must be >= 0"),
                             ({"gamma": 0.0}, r"parameter gamma=0.0: must be in \(0, 1\]")):
        with pytest.raises(BadInputError, match=match):
            train("alexnet_gap", "imagenet", objects, tmp_path, width=0.125, recipe="embedded", overrides=overrides)
    out = tmp_path / "nan"
    _run(objects, out, "alexnet_gap")   # a good first run: its checkpoint must survive the bad one
    good = (out / "checkpoint.pt").read_bytes()
    monkeypatch.setattr(train_module.F, "cross_entropy", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(BadInputError, match=r"epoch 1, step 1: the training loss is nan"):
        _run(objects, out, "alexnet_gap")
    assert (out / "checkpoint.pt").read_bytes() == good


def test_a_corrupted_or_truncated_checkpoint_is_named_not_loaded(objects, tmp_path):
    from cam_lib.io import load_checkpoint
    from cam_lib.models import build_model

    _run(objects, tmp_path / "run", "alexnet_gap")
    data = bytearray((tmp_path / "run" / "model.pt").read_bytes())
    net = build_model("alexnet_gap", num_classes=24, width=0.125)
    load_checkpoint(net, tmp_path / "run" / "model.pt")
    flipped = tmp_path / "flipped.pt"
    data[len(data) // 2] ^= 0xFF          # one byte inside a tensor's record
    flipped.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match=r"flipped.pt: corrupted checkpoint: Bad CRC-32 for file"):
        load_checkpoint(net, flipped)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "checkpoint.pt").write_bytes((tmp_path / "run" / "checkpoint.pt").read_bytes()[:5000])
    with pytest.raises(BadInputError, match=r"checkpoint.pt: not a readable checkpoint, truncated"):
        train("alexnet_gap", "imagenet", objects, tmp_path / "cut", width=0.125, recipe="embedded", overrides=_TINY,
              resume=True, progress=False, max_batches=1)
    shutil.copy(tmp_path / "run" / "checkpoint.pt", tmp_path / "cut" / "checkpoint.pt")
    with pytest.raises(BadInputError, match="checkpoint of a run at width 0.125 cannot resume at width 0.25"):
        train("alexnet_gap", "imagenet", objects, tmp_path / "cut", width=0.25, recipe="embedded", overrides=_TINY,
              resume=True, progress=False, max_batches=1)


class _Payload:
    """An object whose unpickling runs code: it creates the file it names."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_resume_refuses_a_checkpoint_that_would_run_code(objects, tmp_path):
    """Issue 23: `train --resume` loads checkpoint.pt without unpickling objects: a planted payload does not run and
    the error names the file."""
    out, marker = tmp_path / "run", tmp_path / "pwned"
    out.mkdir()
    torch.save({"model": {}, "epoch": 0, "payload": _Payload(marker)}, out / "checkpoint.pt")
    with pytest.raises(BadInputError, match="checkpoint.pt") as err:
        train("alexnet_gap", "imagenet", objects, out, width=0.125, recipe="smoke", resume=True, progress=False,
              overrides={"epochs": 1, "image_size": 32, "resize": 36}, max_batches=1)
    assert not marker.exists() and err.value.param == "out"


def test_a_run_of_another_recipe_is_not_resumed(objects, tmp_path):
    from cam_lib.train import recipe_change, resolve_recipe

    _frozen(objects, tmp_path / "a", tmp_path / "maps")
    ckpt = tmp_path / "a" / "checkpoint.pt"
    assert recipe_change(ckpt, resolve_recipe("smoke_pretrained", _FROZEN)) == ""
    assert recipe_change(ckpt, resolve_recipe("smoke_pretrained", {**_FROZEN, "epochs": 3})) == "epochs 2 -> 3"
    assert recipe_change(tmp_path / "none.pt", resolve_recipe("smoke_pretrained")) == ""
    with pytest.raises(BadInputError, match=r"another recipe \(lr 0.0003 -> 0.001\) cannot resume"):
        _frozen(objects, tmp_path / "a", tmp_path / "maps", resume=True, overrides={**_FROZEN, "lr": 1e-3})
