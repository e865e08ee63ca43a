import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.data.sampler import BucketBatchSampler


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 500), min_size=1, max_size=200),
    st.integers(1, 16),
    st.integers(1, 8),
    st.booleans(),
    st.booleans(),
)
def test_every_sample_once_per_epoch_and_len_is_the_batch_count(
    lengths, batch_size, pool_batches, shuffle, drop_last
):
    sampler = BucketBatchSampler(lengths, batch_size, pool_batches, shuffle, drop_last, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    seen = [index for batch in batches for index in batch]
    assert len(seen) == len(set(seen))
    assert all(1 <= len(batch) <= batch_size for batch in batches)
    if not drop_last:
        assert sorted(seen) == list(range(len(lengths)))
    else:
        assert all(len(batch) == batch_size for batch in batches)


def test_buckets_cut_padding_on_long_tailed_lengths():
    generator = torch.Generator().manual_seed(0)
    uniform = torch.rand(2000, generator=generator)
    lengths = (10 * uniform.pow(-1 / 1.2)).long().clamp(max=2000)

    def padded_steps(batches):
        return sum(len(batch) * int(lengths[batch].max()) for batch in batches)

    random_batches = torch.randperm(2000, generator=generator).split(32)
    bucketed = list(BucketBatchSampler(lengths.tolist(), 32, seed=0))
    assert padded_steps(bucketed) < 0.5 * padded_steps(random_batches)


def test_order_is_seeded_and_changes_with_the_epoch():
    lengths = list(range(100))
    first, again = (
        BucketBatchSampler(lengths, 8, 2, seed=1),
        BucketBatchSampler(lengths, 8, 2, seed=1),
    )
    assert list(first) == list(again)
    again.set_epoch(1)
    assert list(first) != list(again)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 300), min_size=1, max_size=120), st.integers(1, 4), st.integers(1, 4)
)
def test_processes_share_each_batch_of_one_process(lengths, per_process, processes):
    batch_size = per_process * processes
    single = list(BucketBatchSampler(lengths, batch_size, 2, seed=5))
    shares = [
        list(BucketBatchSampler(lengths, batch_size, 2, seed=5, num_replicas=processes, rank=rank))
        for rank in range(processes)
    ]
    kept = [batch for batch in single if len(batch) >= processes]
    assert all(len(share) == len(kept) for share in shares)
    for step, batch in enumerate(kept):
        together = sorted(index for share in shares for index in share[step])
        assert together == sorted(batch)
        assert all(share[step] for share in shares)
    assert len(shares[0]) == len(
        BucketBatchSampler(lengths, batch_size, 2, seed=5, num_replicas=processes)
    )


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        (([], 4), "`lengths`: expected a non-empty list"),
        (([1, -2], 4), "`lengths`"),
        (([1, 2], 0), "`batch_size`: expected a positive integer, got 0"),
        (([1, 2], 2, 0), "`pool_batches`"),
        (([1, 2], 2, 1, True, False, 0, 0), "`num_replicas`"),
        (([1, 2], 2, 1, True, False, 0, 2, 2), "`rank`: expected 0..1, got 2"),
    ],
)
def test_bad_arguments_are_refused(arguments, match):
    with pytest.raises(ValueError, match=match):
        BucketBatchSampler(*arguments)
