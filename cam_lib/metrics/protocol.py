"""The metric protocol of the evaluation loop (Tables 1-3; MaxBoxAcc of Choe et al. 2020): what
:func:`cam_lib.localize.evaluate` runs, one object per metric, in the style of wsolevaluation's evaluators
(``accumulate`` / ``compute``; the evaluator never sees the model).

A :class:`Metric` is updated once per batch with the batch (:class:`cam_lib.data.Batch`: labels, ground-truth
boxes) and what the map method and the boxes gave for it (:class:`cam_lib.localize.Localization`: logits, the
top-k classes, the ground-truth class's map and box, and the top-k maps and boxes when a metric asks for them in
:attr:`Metric.needs`). ``compute()`` returns a typed :class:`Result`; ``per_image()`` each image's outcome whose
mean is the headline number (the 95% intervals are drawn from them); ``state()`` is this process's per-image
state, picklable, which :func:`cam_lib.distributed.gather` collects from every rank and ``merge`` turns back into
the metric of all images in rank order (N processes give one process's numbers).

A new metric is one class (one file) implementing these five methods; its result is a :class:`Result` subclass.
The metrics of the paper's tables wrap the streaming accumulators of :mod:`.classification`,
:mod:`.localization`, :mod:`.maxboxacc` and :mod:`.baselines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import BadInputError

__all__ = ["Metric", "AccumulatorMetric", "Parts", "Result", "result_from_json"]

NEEDS = ("gt", "topk")   # the ground-truth class's map and box; the top-k classes' maps and boxes


class Metric:
    """Base of every metric of the evaluation loop (module docstring). ``name``: the key of its result in
    :attr:`cam_lib.localize.Evaluation.results`; ``needs``: which maps of a batch it reads (:data:`NEEDS`)."""

    name: str = ""
    needs: frozenset = frozenset()

    def update(self, batch, out) -> None:
        """Account one batch: ``batch`` (:class:`cam_lib.data.Batch`) and ``out``
        (:class:`cam_lib.localize.Localization`)."""
        raise NotImplementedError

    def compute(self) -> "Result":
        raise NotImplementedError

    def per_image(self) -> dict[str, np.ndarray]:
        """Each image's outcome, ``key -> (N,)``, in update order; the mean of each is a number of ``compute()``."""
        return {}

    def state(self) -> dict:
        """This process's per-image state (picklable; for :func:`cam_lib.distributed.gather`)."""
        raise NotImplementedError

    def merge(self, states: list[dict]) -> None:
        """Become the metric of the images of ``states`` (the :meth:`state` of each rank, in rank order)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class AccumulatorMetric(Metric):
    """A metric over a streaming accumulator ``acc`` that keeps one per-image array per batch in the list
    ``acc.<parts>`` and takes one back with ``acc.<add>(array)``: its :meth:`state` is those arrays (on the CPU)
    and :meth:`merge` re-adds every rank's, in rank order."""

    parts: ClassVar[str] = ""
    add: ClassVar[str] = ""

    def state(self) -> dict:
        return {"parts": [p.cpu() if hasattr(p, "cpu") else p for p in getattr(self.acc, self.parts)]}

    def merge(self, states: list[dict]) -> None:
        self.acc.reset()
        add = getattr(self.acc, self.add)
        for state in states:
            for part in state["parts"]:
                add(part)


class Parts:
    """The simplest accumulator of an :class:`AccumulatorMetric`: the list ``parts`` of per-batch arrays, in
    arrival order (use ``parts, add = "parts", "add"``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.parts: list[np.ndarray] = []

    def add(self, part: np.ndarray) -> None:
        self.parts.append(np.asarray(part))


@dataclass(frozen=True)
class Result:
    """A metric's typed result. ``scores()``: its headline numbers under the keys ``localize --json`` writes
    (before ``threshold`` and ``model``); ``details()``: larger entries written after them (e.g. predictions);
    ``to_json`` / :func:`result_from_json`: the whole result, for caches."""

    kind: ClassVar[str] = ""

    def scores(self) -> dict:
        return {}

    def details(self) -> dict:
        return {}

    def to_json(self) -> dict:
        return {"kind": self.kind, **{f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def _from_fields(cls, data: dict) -> "Result":
        return cls(**data)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"a result holds the non-finite value {value}", param="value")
    return value


def _kinds(cls=Result) -> dict[str, type]:
    out = {cls.kind: cls} if cls.kind else {}
    for sub in cls.__subclasses__():
        out |= _kinds(sub)
    return out


def result_from_json(data: dict) -> Result:
    """The :class:`Result` a :meth:`Result.to_json` dict describes (by its ``kind``)."""
    kinds = _kinds()
    if not isinstance(data, dict) or data.get("kind") not in kinds:
        raise BadInputError(f"parameter data: not a stored metric result (kind {data.get('kind') if isinstance(data, dict) else data!r}; "
                            f"known: {', '.join(sorted(kinds))})", param="data")
    cls = kinds[data["kind"]]
    return cls._from_fields({k: v for k, v in data.items() if k != "kind"})
