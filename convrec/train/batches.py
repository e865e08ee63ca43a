"""Batches for training and evaluation: shuffled per epoch and shared among processes, or in
order; variable lengths collated into ``Padded`` batches."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from convrec.data.sampler import BucketBatchSampler
from convrec.data.sequences import collate_padded
from convrec.data.splits import Pairs


def train_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    collate: Callable = collate_padded,
    world_size: int = 1,
    rank: int = 0,
    bucket_by_length: bool = False,
) -> DataLoader:
    """Shuffled by ``seed + epoch`` (call :func:`~convrec.train.loop.set_epoch`); each of
    ``world_size`` processes takes every ``world_size``-th sample of that order and
    ``batch_size / world_size`` per step, so together they see the single-process batches.
    ``bucket_by_length`` batches sequences of similar length (:class:`BucketBatchSampler`),
    which cuts the padding of long-tailed lengths; with several processes a pool's last, short
    batch is then shared unevenly, or skipped when it has fewer samples than processes."""
    if bucket_by_length:
        batches = BucketBatchSampler(
            sequence_lengths(dataset), batch_size, seed=seed, num_replicas=world_size, rank=rank
        )
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate)
    sampler = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    return DataLoader(
        dataset, batch_size=batch_size // world_size, sampler=sampler, collate_fn=collate
    )


def sequence_lengths(dataset: Dataset) -> list[int]:
    """The length (first axis) of each input of ``dataset``."""
    if isinstance(dataset, Pairs):
        return [len(item) for item in dataset.inputs]
    return [len(dataset[index][0]) for index in range(len(dataset))]


def evaluation_loader(
    dataset: Dataset, batch_size: int, collate: Callable = collate_padded
) -> DataLoader:
    """In order; with its own generator, so evaluating never moves the global random state
    (dropout masks in training stay those of an uninterrupted loop)."""
    return DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate, generator=torch.Generator()
    )
