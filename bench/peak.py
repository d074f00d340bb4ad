"""Peak resident memory (MB, VmHWM) of a fresh process doing one thing, printed as its last line of output:

    python bench/peak.py maps N SIZE            # stream N synthetic SIZE x SIZE maps through MaxBoxAccV2
    python bench/peak.py -m MODULE [ARGS...]    # what ``python -m MODULE ARGS...`` runs, e.g. -m cam_lib localize ...

The peak is read inside the process: on Linux a child's ``ru_maxrss`` seen by its parent survives fork + exec, so a
child started by a large parent would report the parent's peak; VmHWM does not. With ``-m`` the module runs as
``python -m`` runs it (``runpy``, as ``__main__``) and this process exits with its exit status.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def peak_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (Linux), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        scale = 1 if sys.platform == "darwin" else 1024   # macOS: bytes (/ 1024**2 below); Linux: KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale / 1024


def run_module(module: str, args: list[str]) -> int:
    """``python -m module args...`` in this process; its exit status."""
    import runpy

    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "maps":
        from bench.cam_bench import stream_maps

        stream_maps(int(argv[1]), int(argv[2]))
        status = 0
    elif len(argv) >= 2 and argv[0] == "-m":
        status = run_module(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.flush()
    print(peak_mb())
    return status


if __name__ == "__main__":
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # the repository, as ``python -m`` from its root
    sys.exit(main(sys.argv[1:]))
