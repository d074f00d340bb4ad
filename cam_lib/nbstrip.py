"""Keep notebooks stored without outputs: ``python -m cam_lib.nbstrip [NOTEBOOK ...]``.

With files, cleans them in place (outputs, execution counts, per-cell execution timestamps and saved widget state
removed; the cells' sources, tags and other metadata kept) and names the ones it changed. Without files it reads a
notebook on stdin and writes it cleaned to stdout: that is the git ``clean`` filter ``make install`` configures
for ``notebooks/*.ipynb`` (see ``.gitattributes``), so outputs JupyterLab autosaved never reach a commit.
``make strip`` cleans every notebook of ``notebooks/``; ``tests/test_project.py`` fails while one has outputs.
"""

from __future__ import annotations

import sys

import nbformat

__all__ = ["strip", "has_outputs", "main"]


def has_outputs(nb) -> bool:
    """Whether any code cell of ``nb`` has outputs or an execution count."""
    return any(c.get("outputs") or c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code")


def strip(nb):
    """``nb`` (a notebook node) without outputs, execution counts, cell execution timestamps and widget state;
    changed in place and returned."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def main(argv: list[str] | None = None) -> int:
    """Clean the notebooks named in ``argv`` in place, or stdin to stdout when none are named."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        text = nbformat.writes(strip(nbformat.reads(sys.stdin.buffer.read().decode("utf-8"), as_version=4)))
        sys.stdout.buffer.write((text if text.endswith("\n") else text + "\n").encode("utf-8"))
        return 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        if nbformat.writes(strip(nb)) != before:
            nbformat.write(nb, path)
            print(f"stripped outputs from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
