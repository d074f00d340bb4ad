"""cam_lib: Class Activation Mapping (Zhou et al., "Learning Deep Features for Discriminative Localization",
CVPR 2016), one module per concept of the paper:

- :mod:`cam_lib.models`   the GAP/GMP networks and the FC networks of Table 1 (Sec. 3.1)
- :mod:`cam_lib.cam`      class activation maps from one forward pass (Sec. 2)
- :mod:`cam_lib.boxes`    boxes from maps: 20% threshold, largest component, Table 3's heuristic; IoU
- :mod:`cam_lib.methods`  map methods: CAM (one forward pass) and the Backprop baseline of Table 2
- :mod:`cam_lib.metrics`  classification / localization error, GT-known, MaxBoxAcc(V2)
- :mod:`cam_lib.localize` the localization loop behind Tables 2 and 3
- :mod:`cam_lib.data`     datasets and loaders (ILSVRC, CUB-200-2011, the Table 5 datasets, the embedded benchmark)
- :mod:`cam_lib.train`    training and fine-tuning (Sec. 3.1)
- :mod:`cam_lib.features` GAP / average-pool / fc7 features and the linear SVM (Tables 4 and 5)
- :mod:`cam_lib.series`   what the numbered notebooks call (Tables 1-5, the figures)
- :mod:`cam_lib.results`  the paper's numbers beside ours, the claims, results/README.md
- :mod:`cam_lib.reproduce` the papermill runner (``python -m cam_lib reproduce``)

Importing or calling the library changes no process-wide setting (allocator, random states, thread counts):
those are policies of an entry point. ``python -m cam_lib`` sets two (:mod:`cam_lib.__main__`); a program that
embeds the library can apply the same with :func:`cam_lib.__main__.keep_freed_memory`.
"""

__version__ = "0.1.0"
