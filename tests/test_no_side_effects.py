"""The library has no process-wide side effects: importing ``cam_lib`` (every module) changes no allocator
setting, random state or thread count, and calling it (an evaluation, a training run) hands back the random states
and leaves no thread running. Those policies belong to the entry point (``python -m cam_lib``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import ctypes, pkgutil, importlib, random, threading
    calls = []
    real = ctypes.CDLL.__getattr__
    def spy(self, name):
        if name in ("mallopt", "malloc_trim"):
            calls.append(name)
        return real(self, name)
    ctypes.CDLL.__getattr__ = spy
    import numpy as np, torch
    def state():
        return (random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state().numpy().tobytes(),
                torch.get_num_threads(), torch.get_num_interop_threads(), threading.active_count())
    before = state()
    import cam_lib
    names = [m.name for m in pkgutil.walk_packages(cam_lib.__path__, "cam_lib.") if m.name != "cam_lib.__main__"]
    for name in names:
        importlib.import_module(name)
    assert state() == before, "importing cam_lib changed a random state or a thread count"
    assert calls == [], f"importing cam_lib called {calls}"
    from cam_lib.__main__ import keep_freed_memory
    keep_freed_memory()
    assert calls == ["mallopt"], calls   # the spy sees the entry point's policy (ctypes caches the function)
    print(len(names), "modules")
""")


def test_importing_every_module_changes_no_allocator_rng_or_threads():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split()[0]) > 30


def _state():
    import random
    import threading

    import numpy as np
    import torch

    return (random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state().numpy().tobytes(),
            torch.get_num_threads(), threading.active_count())


def test_evaluate_and_train_hand_back_the_random_states_and_end_their_threads(imagenet_folder, tmp_path):
    import random

    import numpy as np
    import torch

    from cam_lib.data import build_dataset, make_loader
    from cam_lib.data.synthetic import build
    from cam_lib.localize import evaluate
    from cam_lib.models import build_model
    from cam_lib.train import train

    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    net = build_model("alexnet_gap", num_classes=10, width=0.125).eval()
    before = _state()
    evaluate(net, make_loader(build_dataset("imagenet", imagenet_folder), 4), progress=False)
    assert _state() == before
    objects = build("smoke", tmp_path / "syn", workers=1) / "objects"
    before = _state()
    train("alexnet_gap", "imagenet", objects, tmp_path / "out", width=0.125, recipe="smoke",
          overrides={"epochs": 1, "image_size": 32, "resize": 36}, progress=False, max_batches=1)
    assert _state() == before
    # the caller's next draws are the ones it would have made without the calls
    draws = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    build_model("alexnet_gap", num_classes=10, width=0.125)
    assert torch.equal(draws[0], torch.rand(3)) and np.array_equal(draws[1], np.random.rand(3))
    assert draws[2] == random.random()
