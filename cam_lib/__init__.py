"""cam_lib: Class Activation Mapping (Zhou et al., "Learning Deep Features for Discriminative Localization",
CVPR 2016), one module per concept of the paper:

- :mod:`cam_lib.models`   the GAP/GMP networks and the FC networks of Table 1 (Sec. 3.1)
- :mod:`cam_lib.cam`      class activation maps from one forward pass (Sec. 2)
- :mod:`cam_lib.boxes`    boxes from maps: 20% threshold, largest component, Table 3's heuristic; IoU
- :mod:`cam_lib.saliency` the Backprop baseline of Table 2
- :mod:`cam_lib.metrics`  classification / localization error, GT-known, MaxBoxAcc(V2)
- :mod:`cam_lib.localize` the localization loop behind Tables 2 and 3
- :mod:`cam_lib.data`     datasets and loaders (ILSVRC, CUB-200-2011, the Table 5 datasets, the embedded benchmark)
- :mod:`cam_lib.train`    training and fine-tuning (Sec. 3.1)
- :mod:`cam_lib.features` GAP / average-pool / fc7 features and the linear SVM (Tables 4 and 5)
- :mod:`cam_lib.series`   what the numbered notebooks call (Tables 1-5, the figures)
- :mod:`cam_lib.results`  the paper's numbers beside ours, the claims, results/README.md
- :mod:`cam_lib.reproduce` the papermill runner (``python -m cam_lib reproduce``)
- :mod:`cam_lib.bench`    CAM at forward-pass speed against the peers (``python -m cam_lib bench``)
"""

__version__ = "0.1.0"


def _keep_freed_memory() -> None:
    """Keep memory that the process frees for its next use instead of returning it to the system at once (glibc's
    ``M_MMAP_THRESHOLD`` / ``M_TRIM_THRESHOLD`` through ``mallopt``): every forward pass frees and reallocates
    feature maps of tens of MB, and with glibc's defaults each of them is a fresh ``mmap`` whose pages are faulted
    in again, which on a 2-core machine doubled the time of a forward pass (system time as large as user time).
    Applied once per process on import, only on glibc and only where the user set neither variable
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``); the cost is that a process keeps its peak heap."""
    import ctypes
    import os
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or \
            {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)


_keep_freed_memory()
