"""Data-parallel training under torchrun: one process per device, PyTorch's own engine
(DistributedDataParallel), NCCL between GPUs and gloo between CPU processes.

A single process (no torchrun) is the same code with a world of one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints, logs and writes checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def setup(device: str) -> tuple[World, torch.device]:
    """The world torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK), joined;
    and this process's device: cuda:LOCAL_RANK under torchrun on GPUs."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    world = World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))
    if device == "cuda":
        torch.cuda.set_device(world.local_rank)
        where = torch.device("cuda", world.local_rank)
    else:
        where = torch.device(device)
    if world.active and not dist.is_initialized():
        dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    return world, where


def teardown(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def sum_all(world: World, values: list[float], device: torch.device) -> list[float]:
    """Each value summed over every process (as float64)."""
    if not world.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def any_all(world: World, flag: bool, device: torch.device) -> bool:
    """True where any process says so: every process stops at the same step (Ctrl-C)."""
    return bool(sum_all(world, [float(flag)], device)[0]) if world.active else flag


def gather(world: World, value) -> list:
    """Every process's `value` (any picklable object), in rank order."""
    if not world.active:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value)
    return out


class Sampler(DistributedSampler):
    """DistributedSampler whose epoch can start part-way: the epoch's permutation (seed + epoch,
    the same in every process, whatever their number) loses its first `start` samples and is cut
    to whole steps of `batch` x processes; process r takes every r-th sample of what is left.

    So step i of every process together covers samples [start + i*G, start + (i+1)*G) of the
    permutation (G = batch x processes): a run of N processes with batch B sees, step for step,
    the samples of one process with batch N*B, and an interrupted epoch resumes on any number of
    processes where it stopped."""

    def __init__(self, dataset, world: World, batch: int, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=world.size, rank=world.rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.batch, self.start = batch, 0

    def _order(self) -> list[int]:
        n = len(self.dataset)
        if not self.shuffle:
            return list(range(n))
        return torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()

    def steps(self) -> int:
        return (len(self.dataset) - self.start) // (self.batch * self.num_replicas)

    def __iter__(self):
        per_step = self.batch * self.num_replicas
        order = self._order()[self.start:self.start + self.steps() * per_step]
        return iter(order[self.rank::self.num_replicas])

    def __len__(self) -> int:
        return self.steps() * self.batch
