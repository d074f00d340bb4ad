"""Bootstrap intervals over images: every number of Tables 1-5 carries a 95% interval, and a compared pair (CAM
against a baseline, one backbone against another, this replication against the paper's direction) carries the
paired-bootstrap interval of its difference.

The unit that is resampled is the image: the metrics keep each image's outcome (``per_image()`` of
:class:`~cam_lib.metrics.ClassificationError`, :class:`~cam_lib.metrics.LocalizationError`,
:class:`~cam_lib.metrics.GTKnownLocalization`, :class:`~cam_lib.metrics.MaxBoxAcc`), and a reported number is
the mean of those outcomes. :func:`bootstrap_mean` gives the percentile bootstrap interval of that mean;
:func:`paired_difference` resamples the SAME images for both members of a pair (the difference of two methods
scored on one split varies far less than either alone when their outcomes agree image by image); :func:`verdict`
reads a difference's interval against the sign of the paper's difference. :func:`seed_spread` summarises a
number across training seeds, a source of variation that resampling images does not see.

Resampling is vectorised (an index matrix of replicates x images, drawn in chunks that bound memory) and
deterministic for a seed (:func:`numpy.random.default_rng`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import BadInputError

__all__ = ["Interval", "bootstrap_mean", "paired_difference", "seed_spread", "verdict", "VERDICTS"]

VERDICTS = ("same direction", "opposite direction", "not resolved")
_CHUNK_ELEMENTS = 1 << 22   # resampled indices held at once (32 MiB of int64)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided ``level`` interval ``[low, high]``, in the units of the outcomes (a
    fraction in [0, 1] for the metrics of Tables 1-5)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    def __post_init__(self) -> None:
        for name in ("estimate", "low", "high", "level"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise BadInputError(f"Interval.{name} must be a finite number, got {value!r}", param=name)
            object.__setattr__(self, name, float(value))
        if self.low > self.high:
            raise BadInputError(f"Interval low ({self.low}) is above high ({self.high})", param="low")
        if not 0.0 < self.level < 1.0:
            raise BadInputError(f"Interval.level must be in (0, 1), got {self.level}", param="level")

    def excludes(self, value: float = 0.0) -> bool:
        """``value`` lies outside ``[low, high]`` (for a difference: the interval resolves its sign)."""
        return value < self.low or value > self.high

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"56.4 [52.1, 60.3]"``: estimate and bounds times ``scale`` (default: fractions as percent), with
        ``digits`` decimals."""
        return f"{self.estimate * scale:.{digits}f} [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"

    def __str__(self) -> str:
        return self.format()

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Interval":
        if not isinstance(data, dict) or not {"estimate", "low", "high"} <= set(data) \
                or not set(data) <= {"estimate", "low", "high", "level"}:
            raise BadInputError(f"an interval must be a mapping with keys estimate, low, high (and level), got "
                                f"{data!r}", param="data")
        return cls(**data)


def _values(name: str, values) -> np.ndarray:
    """``values`` as a 1-D float64 array with at least one finite entry and no NaN or inf; errors name ``name``."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{name} must be a 1-D sequence of numbers: {err}", param=name) from None
    if array.ndim != 1:
        raise BadInputError(f"{name} must be 1-D (one outcome per image), got shape {array.shape}", param=name)
    if len(array) == 0:
        raise BadInputError(f"{name} is empty: an interval needs at least one image", param=name)
    if not np.isfinite(array).all():
        raise BadInputError(f"{name} contains NaN or infinite values (first at index "
                            f"{int(np.flatnonzero(~np.isfinite(array))[0])})", param=name)
    return array


def _check_settings(n_boot: int, level: float, seed: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise BadInputError(f"n_boot must be a positive integer, got {n_boot!r}", param="n_boot")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise BadInputError(f"level must be in (0, 1), got {level!r}", param="level")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInputError(f"seed must be a non-negative integer, got {seed!r}", param="seed")


def _bootstrap(values: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    """Percentile bootstrap of the mean of ``values`` (checked, 1-D float64)."""
    _check_settings(n_boot, level, seed)
    rng = np.random.default_rng(seed)
    n = len(values)
    means = np.empty(n_boot)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for lo in range(0, n_boot, chunk):                # a few chunks, each a (replicates, images) index matrix
        hi = min(n_boot, lo + chunk)
        means[lo:hi] = values[rng.integers(0, n, size=(hi - lo, n))].mean(1)
    alpha = 1.0 - level
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(values.mean()), float(low), float(high), float(level))


def bootstrap_mean(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of per-image outcomes ``values (N,)`` (0/1 hits or floats; numpy, list or tensor) with its
    percentile bootstrap interval: ``n_boot`` resamples of N images with replacement, the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of their means. The same ``seed`` gives the same interval, to the byte."""
    return _bootstrap(_values("values", values), n_boot, level, seed)


def paired_difference(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of ``a - b`` with its PAIRED bootstrap interval: ``a (N,)`` and ``b (N,)`` are two methods'
    outcomes on the same N images, in the same order, and each resample draws images, keeping both outcomes of
    an image together (the bootstrap of the per-image differences)."""
    a, b = _values("a", a), _values("b", b)
    if len(a) != len(b):
        raise BadInputError(f"a paired difference needs the outcomes of the same images: a has {len(a)}, b has "
                            f"{len(b)}", param="b")
    return _bootstrap(a - b, n_boot, level, seed)


def verdict(diff: Interval, paper_sign: int) -> str:
    """How a difference's interval reads against the paper's: ``"same direction"`` when it excludes 0 on the side
    of ``paper_sign`` (+1 or -1: the sign of the paper's difference), ``"opposite direction"`` when it excludes 0
    on the other side, ``"not resolved"`` when it contains 0."""
    if not isinstance(diff, Interval):
        raise BadInputError(f"diff must be an Interval, got {type(diff).__name__}", param="diff")
    if isinstance(paper_sign, bool) or paper_sign not in (1, -1):
        raise BadInputError(f"paper_sign must be +1 or -1 (the sign of the paper's difference), got {paper_sign!r}",
                            param="paper_sign")
    if not diff.excludes(0.0):
        return "not resolved"
    return "same direction" if (diff.low > 0) == (paper_sign > 0) else "opposite direction"


def seed_spread(values) -> dict[str, float | int]:
    """A result across training seeds: ``mean``, ``std`` (sample standard deviation, ddof=1; 0.0 for one seed),
    ``min``, ``max`` and ``n``."""
    array = _values("values", values)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
            "min": float(array.min()), "max": float(array.max()), "n": len(array)}


def stack_outcomes(batches: list[torch.Tensor | np.ndarray], owner: str, dim: int) -> np.ndarray:
    """The per-batch outcomes a metric kept (tensors on any device, or arrays), joined along ``dim`` (the image
    axis) into one numpy array: the ``per_image()`` of the metrics. ``owner`` names the metric in the error
    raised before any update."""
    if not batches:
        raise BadInputError(f"{owner}.per_image() called before any update()")
    if isinstance(batches[0], torch.Tensor):
        return torch.cat(batches, dim).cpu().numpy()
    return np.concatenate(batches, dim)
