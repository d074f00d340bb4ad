"""``python -m cam_lib``: the command line (:mod:`cam_lib.cli`), with the process-wide policies that belong to an
entry point and not to the library (importing ``cam_lib`` sets none of them):

- :func:`keep_freed_memory`: glibc keeps freed memory for reuse (``mallopt``);
- ``gc.freeze`` at exit: the interpreter's final collection skips the objects torch, torchvision and timm made.

A program that embeds the library and runs many forward passes on a CPU can call :func:`keep_freed_memory` itself.
"""

import atexit
import gc
import sys


def keep_freed_memory() -> bool:
    """Keep memory that the process frees for its next use instead of returning it to the system at once (glibc's
    ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD`` through ``mallopt``): every forward pass frees and reallocates
    feature maps of tens of MB, and with glibc's defaults each of them is a fresh ``mmap`` whose pages are faulted
    in again, which on a 2-core machine doubled the time of a forward pass (system time as large as user time).
    Only on glibc and only where the user set neither variable (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``); the cost is that the process keeps its peak heap. Returns whether it applied."""
    import ctypes
    import os
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or \
            {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)
    return True


def main() -> int:
    """The console script ``cam-lib`` and ``python -m cam_lib``: the entry point's policies, then the command."""
    keep_freed_memory()   # before torch allocates anything large
    # The command's last act: at exit the interpreter's final garbage collection walks every object that torch,
    # torchvision and timm created on import (about a second on 2 cores, each run). Freezing them first (moving
    # them out of the collector's reach: gc.freeze) skips that walk; objects are still freed by their reference
    # counts, and files are closed by the commands themselves. Registered first, so it runs after every other
    # exit handler.
    atexit.register(gc.freeze)
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
