"""Training progress where the user looks: plain per-epoch lines in a terminal and under ``reproduce``, one widget
bar per network in JupyterLab.

One line per epoch, the network's name first (:func:`epoch_line`)::

    alexnet_gap  epoch 3/8  loss 1.234  top-1 err 45.6%  212 img/s  ~2 min left

and a line when a network starts, so that its name shows before its first epoch ends. Where they go
(:class:`TrainingProgress` picks it once per network):

- under ``python -m cam_lib reproduce`` (``$CAM_LIB_PROGRESS_LOG`` names a file, set by the runner for the kernel):
  no bar; each line is printed to the notebook's stdout (one plain text output in the executed notebook, never
  stderr) and appended to that file, which the runner follows and prints in its own terminal (papermill keeps
  the kernel's output in the notebook); ``CAM_LIB_PROGRESS_LOG=-`` gives the lines on stdout alone (e.g. for
  ``papermill --log-output``);
- in a Jupyter kernel otherwise (JupyterLab, nbval): one ``tqdm.auto`` widget bar per network (ipywidgets), the last
  epoch's numbers beside it; plain lines where ipywidgets is missing;
- in a terminal (``python -m cam_lib train``): one tqdm bar per network on stderr and the lines on stdout.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

__all__ = ["PROGRESS_LOG_ENV", "epoch_line", "time_left", "TrainingProgress", "progress_mode", "bar"]

PROGRESS_LOG_ENV = "CAM_LIB_PROGRESS_LOG"


def bar(iterable, enabled: bool, **kwargs):
    """``iterable`` wrapped in a ``tqdm.auto`` bar when ``enabled``, else itself: a disabled tqdm still starts
    tqdm's monitor thread, which outlives the call (the library leaves no thread behind)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def _minutes(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def time_left(seconds: float) -> str:
    """``~2 min left`` (``~40 s left``, ``~1.5 h left``)."""
    return f"~{_minutes(seconds)} left"


def epoch_line(model: str, epoch: int, epochs: int, loss: float, top1_err: float, images_per_s: float,
               seconds_left: float | None = None, seconds_total: float | None = None) -> str:
    """One epoch as a plain line: ``alexnet_gap  epoch 3/8  loss 1.234  top-1 err 45.6%  212 img/s  ~2 min
    left`` (``top1_err`` a fraction; after the last epoch ``done in ...`` when ``seconds_total`` is given)."""
    line = (f"{model}  epoch {epoch}/{epochs}  loss {loss:.3f}  top-1 err {100 * top1_err:.1f}%  "
            f"{images_per_s:.0f} img/s")
    if epoch >= epochs and seconds_total is not None:
        return f"{line}  done in {_minutes(seconds_total)}"
    return f"{line}  {time_left(seconds_left)}" if seconds_left is not None else line


def _in_kernel() -> bool:
    """Inside a Jupyter kernel (ipykernel), as tqdm.auto decides it."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def progress_mode(enabled: bool = True) -> str:
    """``off``, ``lines`` (under reproduce, or a kernel without ipywidgets), ``bar`` (a Jupyter kernel) or
    ``bar+lines`` (a terminal)."""
    if not enabled:
        return "off"
    if os.environ.get(PROGRESS_LOG_ENV):
        return "lines"
    if _in_kernel():
        return "bar" if importlib.util.find_spec("ipywidgets") is not None else "lines"
    return "bar+lines"


class TrainingProgress:
    """The progress of one network's training (see the module's docstring for where it goes)."""

    def __init__(self, model: str, epochs: int, start: int = 0, enabled: bool = True):
        self.model, self.epochs, self.start = model, epochs, start
        self.mode = progress_mode(enabled)
        target = os.environ.get(PROGRESS_LOG_ENV, "")
        self.log_file = target if target not in ("", "-") else None
        self.bar = None
        self.t0 = None
        if self.mode in ("bar", "bar+lines"):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=None, desc=model, unit="batch", dynamic_ncols=True, leave=True)

    def say(self, text: str) -> None:
        """A plain line, prefixed with the network's name (nothing in ``bar`` mode but the bar's note)."""
        line = f"{self.model}  {text}"
        if self.mode == "lines":
            print(line, flush=True)
            if self.log_file:
                try:
                    with open(self.log_file, "a") as f:
                        f.write(line + "\n")
                except OSError:
                    self.log_file = None   # the runner went away: the notebook's output still has the line
        elif self.mode == "bar+lines":
            self.bar.write(line, file=sys.stdout)
        elif self.mode == "bar":
            self.bar.set_postfix_str(text, refresh=True)

    def begin(self, steps_per_epoch: int, text: str) -> None:
        """Training starts (after any cached backbone maps): the bar's total and the line that names it."""
        self.t0 = time.perf_counter()
        if self.bar is not None:
            self.bar.reset(total=steps_per_epoch * max(0, self.epochs - self.start))
        self.say(text)

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def epoch(self, epoch: int, loss: float, top1_err: float, images_per_s: float) -> None:
        """Epoch ``epoch`` (1-based) ended: its line, with the time left at the mean pace of this run's epochs."""
        elapsed = time.perf_counter() - (self.t0 or time.perf_counter())
        done = epoch - self.start
        left = elapsed / max(done, 1) * (self.epochs - epoch)
        self.say(epoch_line(self.model, epoch, self.epochs, loss, top1_err, images_per_s, left,
                            elapsed)[len(self.model) + 2:])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
