"""A short fixed-seed run of the fuzz of the loaders and the CAM entry (tests/fuzz_inputs.py, issue 13): every
corrupted folder or bad tensor either works or stops with an error naming the file or the parameter."""

from fuzz_inputs import run


def test_fuzz_of_loaders_and_api_finds_nothing():
    counts, findings = run(cases=40, seed=1)
    assert not findings, "\n".join(findings)
    assert sum(counts.values()) == 160
    assert counts["error naming the file"] > 0 and counts["error naming the parameter"] > 0 and counts["ok"] > 0
