"""Bootstrap intervals over images: every number of Tables 1-5 carries a 95% interval, and a compared pair (CAM
against a baseline, one backbone against another, this replication against the paper's direction) carries the
paired-bootstrap interval of its difference.

The unit that is resampled is the image: the metrics keep each image's outcome (``per_image()`` of
:class:`~cam_lib.metrics.ClassificationError`, :class:`~cam_lib.metrics.LocalizationError`,
:class:`~cam_lib.metrics.GTKnownLocalization`, :class:`~cam_lib.metrics.MaxBoxAcc`), and a reported number is
the mean of those outcomes. :func:`mean_interval` gives its interval (Wilson for hits and errors, else the
percentile bootstrap of :func:`bootstrap_mean`); :func:`paired_difference` keeps the SAME images for both members
of a pair (the difference of two methods scored on one split varies far less than either alone when their
outcomes agree image by image: Agresti-Min's interval for matched 0/1 outcomes, else the paired bootstrap,
widened to Agresti-Min's for outcomes in [0, 1]), and
:func:`paired_difference_seeds` adds training seeds to what is resampled; :func:`verdict`
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

__all__ = ["Interval", "bootstrap_mean", "paired_difference", "seed_spread", "verdict", "VERDICTS", "wilson",
           "mean_interval", "paired_difference_seeds", "protocol_verdict", "PROTOCOL_VERDICTS"]

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
    if _binary(a) and _binary(b):
        _check_settings(n_boot, level, seed)
        return _agresti_min(float(((a == 1) & (b == 0)).sum()), float(((a == 0) & (b == 1)).sum()), len(a), level)
    boot = _bootstrap(a - b, n_boot, level, seed)
    return _with_floor(boot, a[None], b[None]) if _unit(a) and _unit(b) else boot


def _unit(values: np.ndarray) -> bool:
    return bool(((values >= 0.0) & (values <= 1.0)).all())


def _with_floor(interval: Interval, a: np.ndarray, b: np.ndarray) -> Interval:
    """``interval`` widened to contain Agresti-Min's for outcomes in [0, 1] (``a``, ``b``: (seeds, images)), with
    the discordance counted fractionally (an image where ``a`` scores 2/3 and ``b`` 1/3 counts 1/3 for ``a``; exact
    for 0/1 outcomes) and averaged over seeds: MaxBoxAccV2's per-image shares that agree on every image keep an
    interval too."""
    d = a - b
    floor = _agresti_min(float(np.clip(d, 0, None).sum()) / len(d), float(np.clip(-d, 0, None).sum()) / len(d),
                         d.shape[1], interval.level)
    return Interval(interval.estimate, min(interval.low, floor.low), max(interval.high, floor.high), interval.level)


def _binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def _agresti_min(only_a: float, only_b: float, n: int, level: float) -> Interval:
    """The difference of two matched proportions, ``(only_a - only_b) / n`` (``only_a``: images that ``a`` gets
    right and ``b`` wrong; ``only_b`` the reverse), with the adjusted Wald interval of Agresti and Min (Statistics
    in Medicine 2005): half a pseudo-image added to each discordant cell. It keeps close to nominal coverage at the
    100-300 images a split has, and, unlike the bootstrap, never collapses to a point when the two agree on every
    image (0 discordant images out of 200: about +-1 point)."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    f, g, m = only_a + 0.5, only_b + 0.5, n + 2.0
    centre = (f - g) / m
    half = z * math.sqrt(max((f + g) - (f - g) ** 2 / m, 0.0)) / m
    estimate = (only_a - only_b) / n
    return Interval(estimate, max(-1.0, min(centre - half, estimate)), min(1.0, max(centre + half, estimate)), level)


def wilson(successes: int, n: int, level: float = 0.95) -> Interval:
    """The Wilson score interval of a proportion ``successes / n`` (Wilson, JASA 1927): never a point, even at 0 or
    n successes (a percentile bootstrap of all-equal outcomes collapses to ``[p, p]``), and close to nominal
    coverage for the 100-300 images a split has here."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise BadInputError(f"parameter n={n!r}: must be an integer >= 1", param="n")
    if isinstance(successes, bool) or not isinstance(successes, (int, np.integer)) or not 0 <= successes <= n:
        raise BadInputError(f"parameter successes={successes!r}: must be an integer in [0, n={n}]", param="successes")
    _check_settings(1, level, 0)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), level)


def mean_interval(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The interval of a headline number from its per-image outcomes: :func:`wilson` when the outcomes are 0/1 (a
    proportion: hits, errors), else :func:`bootstrap_mean` (e.g. MaxBoxAccV2's per-image shares)."""
    array = _values("values", values)
    if np.isin(array, (0.0, 1.0)).all():
        return wilson(int(array.sum()), len(array), level)
    return _bootstrap(array, n_boot, level, seed)


def paired_difference_seeds(a, b, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The mean of ``a - b`` over training seeds and images, with an interval that covers BOTH sources of
    variation: ``a (S, N)`` and ``b (S, N)`` are two networks' (or methods') outcomes on the same N images, one row
    per training seed (seed s of ``a`` paired with seed s of ``b``; S >= 1). Each resample draws S seeds with
    replacement and N images with replacement (a two-level bootstrap: a verdict must not hang on which machine or
    seed trained the pair), keeping an image's outcomes together. With S = 1 it is :func:`paired_difference`. For
    outcomes in [0, 1] the interval is never narrower than Agresti-Min's on the seed-averaged discordance over N
    images, so outcomes that agree on every seed and image do not give a point."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.ndim != 2 or a.shape != b.shape or a.size == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise BadInputError(f"parameter b: a and b must be finite (seeds, images) arrays of one shape, got "
                            f"{a.shape} and {b.shape}", param="b")
    if a.shape[0] == 1:
        return paired_difference(a[0], b[0], n_boot, level, seed)
    _check_settings(n_boot, level, seed)
    rng = np.random.default_rng(seed)
    d = a - b
    seeds, n = d.shape
    means = np.empty(n_boot)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for lo in range(0, n_boot, chunk):
        hi = min(n_boot, lo + chunk)
        rows = rng.integers(0, seeds, size=(hi - lo, seeds))
        cols = rng.integers(0, n, size=(hi - lo, n))
        means[lo:hi] = d[rows][np.arange(hi - lo)[:, None, None], np.arange(seeds)[None, :, None],
                               cols[:, None, :]].mean((1, 2))
    alpha = 1.0 - level
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    boot = Interval(float(d.mean()), float(low), float(high), float(level))
    return _with_floor(boot, a, b) if _unit(a) and _unit(b) else boot


PROTOCOL_VERDICTS = (*VERDICTS, "depends on the protocol", "not testable here")


def protocol_verdict(verdicts: dict[str, str], localizes: bool = True) -> str:
    """One verdict for a comparison decided under several protocols (the paper's tau 0.2, each side's own
    val-chosen tau, MaxBoxAccV2; ``verdicts``: protocol -> :func:`verdict`): the shared verdict when every protocol
    gives it, ``"depends on the protocol"`` when they differ, and ``"not testable here"`` when ``localizes`` is
    False (neither side localizes better than the best baseline that ignores the network)."""
    if not verdicts or any(v not in VERDICTS for v in verdicts.values()):
        raise BadInputError(f"parameter verdicts={verdicts!r}: one verdict of {VERDICTS} per protocol",
                            param="verdicts")
    if not localizes:
        return "not testable here"
    found = set(verdicts.values())
    return found.pop() if len(found) == 1 else "depends on the protocol"


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
        raise BadInputError(f"{owner}.per_image() called before any update()", param=None)   # no parameter
    if isinstance(batches[0], torch.Tensor):
        return torch.cat(batches, dim).cpu().numpy()
    return np.concatenate(batches, dim)
