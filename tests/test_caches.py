"""Caches are checked on read (issue 23): a truncated, edited or zeroed cache is named, discarded and recomputed,
never trusted; a cache hit is listed for the runner (``$CAM_LIB_CACHE_READS``)."""

import json
import warnings

import numpy as np
import pytest

from cam_lib.io import READS_LOG_ENV, cache_path, cached_arrays, cached_json


def _calls():
    calls = []

    def compute():
        calls.append(1)
        return {"top1": 0.25, "per_image": [0, 1, 0, 0]}
    return calls, compute


@pytest.mark.parametrize("damage", ["truncate", "edit", "garbage", "old_format"])
def test_a_damaged_json_cache_is_named_discarded_and_recomputed(tmp_path, damage):
    calls, compute = _calls()
    key = {"model": "alexnet_gap", "weights": "abc"}
    assert cached_json(tmp_path, "eval", key, compute)["top1"] == 0.25 and len(calls) == 1
    assert cached_json(tmp_path, "eval", key, compute)["top1"] == 0.25 and len(calls) == 1   # a hit
    path = cache_path(tmp_path, "eval", key, ".json")
    text = path.read_text()
    path.write_text({"truncate": text[: len(text) // 2], "edit": text.replace("0.25", "0.1234"),
                     "garbage": "\x00\x01", "old_format": json.dumps({"top1": 0.25})}[damage])
    with pytest.warns(UserWarning, match=f"{path.name}: cache discarded and recomputed"):
        got = cached_json(tmp_path, "eval", key, compute)
    assert got["top1"] == 0.25 and len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached_json(tmp_path, "eval", key, compute)["top1"] == 0.25   # rewritten: a clean hit again


def test_a_damaged_array_cache_is_named_discarded_and_recomputed(tmp_path):
    key = {"backbone": "lite0"}
    calls = []

    def compute():
        calls.append(1)
        return {"maps": np.arange(12, dtype=np.float32).reshape(3, 4)}
    first = cached_arrays(tmp_path, "maps", key, compute)
    path = cache_path(tmp_path, "maps", key, ".npz")
    np.testing.assert_array_equal(cached_arrays(tmp_path, "maps", key, compute)["maps"], first["maps"])
    assert len(calls) == 1
    with np.load(path) as data:   # re-saved with zeros, its metadata kept: the checksum no longer matches
        saved = {k: data[k] for k in data.files}
    saved["maps"] = np.zeros_like(saved["maps"])
    np.savez(path, **saved)
    with pytest.warns(UserWarning, match="content does not match its checksum"):
        got = cached_arrays(tmp_path, "maps", key, compute)
    np.testing.assert_array_equal(got["maps"], first["maps"])
    path.write_bytes(path.read_bytes()[:40])   # truncated: not a zip any more
    with pytest.warns(UserWarning, match="not a readable .npz"):
        cached_arrays(tmp_path, "maps", key, compute)
    assert len(calls) == 3


def test_cache_hits_are_listed_for_the_runner(tmp_path, monkeypatch):
    log = tmp_path / "reads.log"
    monkeypatch.setenv(READS_LOG_ENV, str(log))
    calls, compute = _calls()
    cached_json(tmp_path, "eval", {"k": 1}, compute)
    assert not log.exists()                                   # computed, not read
    cached_json(tmp_path, "eval", {"k": 1}, compute)
    assert log.read_text().split() == [str(cache_path(tmp_path, "eval", {"k": 1}, ".json").resolve())]
