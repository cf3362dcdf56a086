from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from moodline.bucketing import shuffled_bucket_batches, sorted_batches

lengths_strategy = st.lists(st.integers(min_value=1, max_value=512), max_size=300)


@given(lengths_strategy, st.integers(min_value=1, max_value=64), st.one_of(st.none(), st.integers(1, 4096)))
def test_sorted_batches_cover_every_index_once_within_limits(lengths, batch_size, budget):
    batches = sorted_batches(lengths, batch_size, budget)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        if budget is not None and len(batch) > 1:
            assert len(batch) * max(lengths[i] for i in batch) <= budget


@given(lengths_strategy)
def test_sorted_batches_are_length_sorted(lengths):
    flat = [lengths[i] for batch in sorted_batches(lengths, 8) for i in batch]
    assert flat == sorted(flat)


@given(lengths_strategy, st.integers(min_value=1, max_value=32), st.integers(0, 2**32 - 1))
def test_training_batches_cover_every_index_once(lengths, batch_size, seed):
    batches = shuffled_bucket_batches(lengths, batch_size, random.Random(seed))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= batch_size for b in batches)


def test_training_batches_are_reproducible_per_seed():
    lengths = [random.Random(1).randint(1, 60) for _ in range(500)]
    first = shuffled_bucket_batches(lengths, 16, random.Random(7))
    assert first == shuffled_bucket_batches(lengths, 16, random.Random(7))
    assert first != shuffled_bucket_batches(lengths, 16, random.Random(8))
