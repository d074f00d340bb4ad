import atexit
import gc
import sys

from .cli import main

if __name__ == "__main__":
    # The command's last act: at exit the interpreter's final garbage collection walks every object that torch,
    # torchvision and timm created on import (about a second on 2 cores, each run). Freezing them first (moving
    # them out of the collector's reach: gc.freeze) skips that walk; objects are still freed by their reference
    # counts, and files are closed by the commands themselves. Registered first, so it runs after every other
    # exit handler. Only for `python -m cam_lib`: a program that imports cam_lib keeps its own exit.
    atexit.register(gc.freeze)
    sys.exit(main())
