"""Several processes, one result (Sec. 3.1 training and Tables 1-3 evaluation under ``torchrun``): the one home of
the package's distributed helpers, in the spirit of torchvision's ``references/classification/utils.py``.

- :func:`dist_info`: rank, world size and local rank from torchrun's environment;
- :func:`process_group`: join torchrun's group for the duration of a call (and leave it after);
- :func:`shard`: a rank's contiguous block of whole batches of a dataset;
- :func:`gather`: every rank's Python object, in rank order (one object per process without a group);
- :func:`sum_across`: a tensor summed over the ranks.

Metrics gather their per-image state with :func:`gather` (:meth:`cam_lib.metrics.protocol.Metric.state`), so N
processes give the numbers of one.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist

from .errors import BadInputError

__all__ = ["dist_info", "process_group", "shard", "gather", "sum_across", "active"]


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) for a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def active() -> bool:
    """A process group of more than one process is open."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextlib.contextmanager
def process_group(device: torch.device):
    """Join torchrun's process group (NCCL on CUDA, Gloo on the CPU) when this process is one of several and no
    group is open yet; yields ``(rank, world size)``. A group this call opened is destroyed on the way out: a
    live Gloo group at interpreter exit can abort the process. Shared by ``train`` and ``localize``."""
    rank, world, _ = dist_info()
    created = world > 1 and not dist.is_initialized()
    if created:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield rank, world
    finally:
        if created:
            dist.destroy_process_group()


def shard(dataset, rank: int, world: int, batch_size: int):
    """Rank ``rank``'s part of ``dataset`` among ``world`` processes: a contiguous block of WHOLE batches of
    ``batch_size`` (each batch holds the images a single process would batch together, so the network sees the
    same batches), blocks in rank order. A ``torch.utils.data.Subset``; items keep their dataset index."""
    from torch.utils.data import Subset

    if not 0 <= rank < world:
        raise BadInputError(f"parameter rank={rank}: not in [0, world size {world})", param="rank")
    if batch_size < 1:
        raise BadInputError(f"parameter batch_size={batch_size!r}: must be >= 1", param="batch_size")
    batches = -(-len(dataset) // batch_size)
    lo, hi = batches * rank // world * batch_size, batches * (rank + 1) // world * batch_size
    return Subset(dataset, range(min(lo, len(dataset)), min(hi, len(dataset))))


def gather(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` (``all_gather_object``: any picklable object, every rank gets the
    list); ``[obj]`` when no group of several processes is open."""
    if not active():
        return [obj]
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, obj)
    return parts


def sum_across(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the ranks, in place (``all_reduce``); unchanged without a group."""
    if active():
        dist.all_reduce(tensor)
    return tensor
