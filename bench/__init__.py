"""The benchmark of the paper's cost claim (Sec. 2 and 3), kept out of the installed library: the measurements
(:mod:`bench.cam_bench`), the page (:mod:`bench.page`) and the command line ``python bench/run.py`` (bench/README.md).
The scripts ``bench/plain_loop.py`` and ``bench/peak.py`` are what the measurements run in fresh processes."""
