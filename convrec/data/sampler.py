"""Length-bucketing batch sampler for long-tailed sequence lengths.

Padding a batch to its longest member wastes the work of every shorter one. With lengths from 7 to
29 (JapaneseVowels) or 100 to 1344 (PLAID), random batches are mostly padding. This sampler
shuffles, cuts the order into pools of ``pool_batches`` batches, sorts each pool by length, cuts it
into batches, and shuffles the batches: batches hold similar lengths, and the order still changes
from epoch to epoch (seeded by ``seed`` and the epoch). Without ``drop_last``, one process uses
every sample exactly once per epoch. Several processes
share every batch of one process; only a pool's last batch can hold fewer samples than processes,
and that one is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from convrec.checks import fail, positive_int


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of similar length, for ``DataLoader(batch_sampler=...)``.

    Args:
        lengths: the length of each sample, ``(N,)``.
        batch_size: samples per batch.
        pool_batches: batches per sorted pool; 1 sorts nothing beyond a batch, ``N/batch_size``
            sorts the whole epoch (least padding, least randomness).
        shuffle: shuffle (else: sort the whole set by length, in order).
        drop_last: drop the last, smaller batch of each pool.
        seed: seed of the shuffle; the epoch (``set_epoch``) is added to it.
        num_replicas: processes sharing each batch; ``rank`` takes every ``num_replicas``-th
            index of it, from index ``rank``. A batch smaller than ``num_replicas`` (the last of
            a pool) is skipped, so that no process gets an empty one.
        rank: this process, ``0..num_replicas-1``.

    Example:
        >>> sampler = BucketBatchSampler([5, 1, 4, 2, 3, 6], batch_size=2, shuffle=False)
        >>> list(sampler)
        [[1, 3], [4, 2], [0, 5]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        pool_batches: int = 50,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.lengths.dim() != 1 or len(self.lengths) == 0 or (self.lengths < 0).any():
            raise fail("BucketBatchSampler", "lengths", "a non-empty list of lengths >= 0", lengths)
        self.batch_size = positive_int("BucketBatchSampler", "batch_size", batch_size)
        self.pool_batches = positive_int("BucketBatchSampler", "pool_batches", pool_batches)
        self.num_replicas = positive_int("BucketBatchSampler", "num_replicas", num_replicas)
        if not 0 <= rank < num_replicas:
            raise fail("BucketBatchSampler", "rank", f"0..{num_replicas - 1}", rank)
        self.rank = rank
        self.shuffle, self.drop_last, self.seed, self.epoch = shuffle, drop_last, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (call at the start of every epoch, as with
        ``DistributedSampler``)."""
        self.epoch = epoch

    def _pools(self, generator: torch.Generator) -> list[torch.Tensor]:
        if not self.shuffle:
            return [torch.arange(len(self.lengths))]
        order = torch.randperm(len(self.lengths), generator=generator)
        return list(order.split(self.batch_size * self.pool_batches))

    def __iter__(self) -> Iterator[list[int]]:
        return iter(batch[self.rank :: self.num_replicas] for batch in self._global_batches())

    def _global_batches(self) -> list[list[int]]:
        """The epoch's batches of all processes together."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        batches = []
        for pool in self._pools(generator):
            by_length = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(batch.tolist() for batch in by_length.split(self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        return [batch for batch in batches if len(batch) >= self._smallest_batch]

    @property
    def _smallest_batch(self) -> int:
        return self.batch_size if self.drop_last else self.num_replicas

    def __len__(self) -> int:
        if not self.shuffle:
            pools = [len(self.lengths)]
        else:
            size = self.batch_size * self.pool_batches
            pools = [size] * (len(self.lengths) // size) + [len(self.lengths) % size]
        full = sum(pool // self.batch_size for pool in pools)
        last = sum(pool % self.batch_size >= self._smallest_batch for pool in pools)
        return full + last
