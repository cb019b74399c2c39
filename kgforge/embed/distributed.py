"""Data-parallel training over ``torch.distributed`` (``kgforge train --distributed`` under
``torchrun``).

torchrun starts one process per device and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
the rendezvous address; :func:`setup` joins the process group (NCCL on GPUs, gloo on CPUs) and
picks this rank's device. The trainer then wraps its loss in ``DistributedDataParallel``: every
rank takes the same global batch and trains on its own slice of it (so a run takes as many
optimiser steps as one process with the same ``batch_size``, and gradients averaged by DDP are
those of the whole batch), rank 0 alone writes checkpoints, logs and models, and evaluation
ranks a slice of the triples per rank and gathers the ranks (metrics equal one process's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from kgforge.errors import ConfigError

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the group and the device it trains on."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> Ranks:
    """Join the process group torchrun prepared (idempotent); ``device`` is the configured one:
    on CUDA each rank takes ``cuda:LOCAL_RANK``."""
    missing = [name for name in _ENV if name not in os.environ]
    if missing and not dist.is_initialized():
        raise ConfigError(
            f"--distributed needs the variables torchrun sets ({', '.join(missing)} missing): "
            "run `torchrun --nproc-per-node N -m kgforge train ... --distributed`"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    return Ranks(dist.get_rank(), dist.get_world_size(), local_rank, device)


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main() -> bool:
    """Rank 0, or the only process: the one that writes files."""
    return not active() or dist.get_rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def shard(items: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous slice of ``items`` (all of them outside a group)."""
    if not active():
        return items
    return items.tensor_split(dist.get_world_size())[dist.get_rank()]


def gather_cat(values: torch.Tensor) -> torch.Tensor:
    """Every rank's 1-d ``values`` concatenated in rank order (the lengths may differ)."""
    if not active():
        return values
    world = dist.get_world_size()
    device = values.device
    if dist.get_backend() == "nccl" and device.type != "cuda":
        values = values.to(torch.device("cuda", torch.cuda.current_device()))
    size = torch.tensor([len(values)], device=values.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=values.dtype, device=values.device)
    padded[: len(values)] = values
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)]).to(device)


def mean_over_ranks(value: float, device: torch.device) -> float:
    """The mean of a number over the ranks (itself outside a group)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def gather_objects(obj: object) -> list[object]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` outside a group)."""
    if not active():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    if active():
        dist.destroy_process_group()
