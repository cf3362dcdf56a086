from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moodline.inference.bucketing import shuffled_bucket_batches, sorted_batches

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


def call_cost(lengths, batches, call_cost_tokens):
    return sum(call_cost_tokens + len(b) * max(lengths[i] for i in b) for b in batches)


def cheapest_by_brute_force(lengths, batch_size, call_cost_tokens):
    """Try every way to cut the sorted lengths into consecutive calls."""
    ordered = sorted(lengths)
    best = float("inf")
    for cuts in itertools.product([False, True], repeat=len(ordered) - 1):
        calls, current = [], [ordered[0]]
        for length, cut in zip(ordered[1:], cuts, strict=True):
            if cut:
                calls.append(current)
                current = []
            current.append(length)
        calls.append(current)
        if all(len(c) <= batch_size for c in calls):
            best = min(best, sum(call_cost_tokens + len(c) * max(c) for c in calls))
    return best


@given(
    st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=10),
    st.integers(min_value=1, max_value=10),
    st.floats(min_value=0, max_value=50),
)
def test_sorted_batches_find_the_cheapest_cut(lengths, batch_size, call_cost_tokens):
    batches = sorted_batches(lengths, batch_size, None, call_cost_tokens)
    assert call_cost(lengths, batches, call_cost_tokens) == pytest.approx(
        cheapest_by_brute_force(lengths, batch_size, call_cost_tokens)
    )


def test_call_cost_trades_padding_against_calls():
    lengths = [10, 11, 12, 40, 41, 90]
    # Free calls: no text waits for a longer one. Costly calls: as few as the batch size allows.
    assert [len(b) for b in sorted_batches(lengths, 8, None, 0.0)] == [1, 1, 1, 1, 1, 1]
    assert [len(b) for b in sorted_batches(lengths, 8, None, 1000.0)] == [6]
    assert [[lengths[i] for i in b] for b in sorted_batches(lengths, 8, None, 8.0)] == [[10, 11, 12], [40, 41], [90]]


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
