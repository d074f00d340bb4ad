"""Training: resume after a kill gives the same weights as an uninterrupted run; torchrun with Gloo on 2
processes agrees with one process at the same global batch; bad parameters are named."""

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
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


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
    a, b = _weights(tmp_path / "whole" / "model.pt"), _weights(tmp_path / "cut" / "model.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    log = (tmp_path / "cut" / "log.csv").read_text().splitlines()
    assert len(log) == 5 and log[0].startswith("epoch,loss,top1_err,top5_err,lr,images_per_s")


def test_torchrun_gloo_two_processes_agree_with_one(objects, tmp_path):
    # No random crop (resize == crop) and no mirror: each global batch is the same 32 images in both runs, and
    # AlexNet-GAP has no batch norm, so DDP's averaged gradient equals the single-process one up to float error.
    args = ["--epochs", "2", "--image-size", "64", "--no-mirror"]
    subprocess.run(_cmd(objects, tmp_path / "one", *args), check=True, env=_env(), cwd=ROOT)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run(torchrun + _cmd(objects, tmp_path / "two", *args)[1:], check=True, env=_env(), cwd=ROOT,
                   timeout=300)
    a, b = _weights(tmp_path / "one" / "model.pt"), _weights(tmp_path / "two" / "model.pt")
    for k in a:   # stated tolerance: 1e-4 absolute after 2 epochs of SGD
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-4, msg=k)
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
    birds = objects.parent / "birds"
    shutil.copy(out / "checkpoint.pt", tmp_path / "checkpoint.pt")
    with pytest.raises(BadInputError, match="with 26 classes cannot resume nin on cub with 14 classes"):
        train("nin", "cub", birds, tmp_path, width=0.125, recipe="embedded", resume=True,
              overrides={"epochs": 2, "image_size": 56, "resize": 64, "batch_size": 16}, progress=False)
