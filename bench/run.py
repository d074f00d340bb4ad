"""Thin entry point: ``python bench/run.py [options]`` is ``python -m cam_lib bench [options]`` (see cam_lib/bench.py)."""

import sys

from cam_lib.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
