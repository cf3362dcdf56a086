"""The load board: a batch takes every core only while the other workers idle, and no slot stays busy.

Behaviour, not speed: which session a batch runs on, that predictions do not depend on it, that a
worker's slot is idle again after results, engine errors and cancelled requests, that the board is
shared across a fork, and that Gunicorn's hooks hand out and clear slots.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from moodline.inference.engine import Engine
from moodline.server import gunicorn_config, worker_load
from moodline.server.batching import DynamicBatcher, InferenceError
from moodline.server.worker_load import QUIET_S, WIDE_WAIT_S, LoadBoard

pytestmark = pytest.mark.anyio

TEXTS = ["It is worth it", "a dull, lifeless film", "not bad at all", "I would not watch it again"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingBackend:
    """Wraps a backend and counts its calls, to see which session a batch ran on."""

    def __init__(self, backend: Any) -> None:
        self.inner = backend
        self.threads = backend.threads
        self.calls = 0
        self.gate: threading.Event | None = None  # set: each call waits for it (to hold a batch in the engine)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        return np.asarray(self.inner.logits(input_ids, attention_mask))


@pytest.fixture
def two_session_engine(tiny_onnx_model: Path) -> Engine:
    engine = Engine.load(tiny_onnx_model, threads=1, wide_threads=2, batch_size=4)
    assert engine.wide_backend is not None
    engine.backend = CountingBackend(engine.backend)  # type: ignore[assignment]
    engine.wide_backend = CountingBackend(engine.wide_backend)  # type: ignore[assignment]
    return engine


def test_the_wide_session_is_loaded_only_when_it_has_more_threads(tiny_onnx_model: Path):
    assert Engine.load(tiny_onnx_model, threads=2, wide_threads=2).wide_backend is None
    assert Engine.load(tiny_onnx_model, threads=1).wide_backend is None
    wide = Engine.load(tiny_onnx_model, threads=1, wide_threads=2).wide_backend
    assert wide is not None and wide.threads == 2  # type: ignore[attr-defined]


def test_predictions_do_not_depend_on_the_session(tiny_onnx_model: Path):
    engine = Engine.load(tiny_onnx_model, threads=1, wide_threads=2, batch_size=4)
    narrow = engine.probabilities(TEXTS)[0]
    wide = engine.probabilities(TEXTS, wide=True)[0]
    np.testing.assert_array_equal(narrow, wide)
    assert engine.predict(TEXTS) == engine.predict(TEXTS, wide=True)


def test_a_turn_is_wide_only_when_every_other_slot_has_been_quiet():
    board = LoadBoard.shared(slots=3)
    now = time.monotonic()
    assert board.others_quiet(0, now)
    board.mark_idle(1, now)  # slot 1 has just finished a batch
    assert not board.others_quiet(0, now + QUIET_S / 2)
    # (1.5 x: now + QUIET_S - now may round to a hair under QUIET_S)
    assert board.others_quiet(0, now + 1.5 * QUIET_S)
    board.mark_busy(2)
    assert not board.others_quiet(0, now + 3600)
    assert board.others_quiet(2, now + 1.5 * QUIET_S)  # a slot never waits for itself
    assert board.busy_slots() == [2]
    board.clear(2)
    assert board.busy_slots() == []


def test_a_turn_marks_its_slot_busy_and_idle_again_even_on_errors():
    board = LoadBoard.shared(slots=2)
    with board.turn(0) as wide:
        assert wide
        assert board.busy_slots() == [0]
        with board.turn(1) as other_wide:
            assert not other_wide  # slot 0 is busy
    assert board.busy_slots() == []
    with pytest.raises(RuntimeError), board.turn(1):
        raise RuntimeError("the engine failed")
    assert board.busy_slots() == []
    with board.turn(None) as wide:  # a worker without a slot never goes wide and is not seen
        assert not wide
        assert board.busy_slots() == []


def test_a_turn_waits_for_another_workers_wide_batch_to_end(monkeypatch):
    board = LoadBoard.shared(slots=2)
    board.mark_busy(1, wide=True)
    assert board.busy_slots() == [1] and board.others_wide(0) and not board.others_quiet(0, time.monotonic() + 60)
    waits: list[float] = []

    def batch_ends_while_waiting(seconds: float) -> None:
        waits.append(seconds)
        board.mark_idle(1)  # the other worker's wide batch ends during the first wait

    monkeypatch.setattr(worker_load.time, "sleep", batch_ends_while_waiting)
    with board.turn(0) as wide:
        assert board.busy_slots() == [0]  # slot 1's batch ended first
    assert len(waits) == 1
    assert not wide  # slot 1 was busy moments ago


def test_a_turn_waits_for_a_wide_batch_only_so_long():
    board = LoadBoard.shared(slots=2)
    board.mark_busy(1, wide=True)  # a worker stuck, or a very long wide batch
    started = time.monotonic()
    with board.turn(0) as wide:
        assert not wide
        assert sorted(board.busy_slots()) == [0, 1]
    assert time.monotonic() - started >= WIDE_WAIT_S


def test_a_narrow_only_turn_is_never_wide_nor_waited_for(monkeypatch):
    board = LoadBoard.shared(slots=2)
    with board.turn(0, can_widen=False) as wide:
        assert not wide  # every other slot is quiet, but the engine has no wide session
        assert not board.others_wide(1)

        def no_waiting(seconds: float) -> None:
            raise AssertionError(f"a turn waited ({seconds} s) for a batch that is not wide")

        monkeypatch.setattr(worker_load.time, "sleep", no_waiting)
        with board.turn(1):
            pass


def _mark_busy_in_child(board: LoadBoard) -> None:
    board.mark_busy(1)


def test_the_shared_board_is_seen_across_a_fork():
    board = LoadBoard.shared(slots=2)
    child = multiprocessing.get_context("fork").Process(target=_mark_busy_in_child, args=(board,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert board.busy_slots() == [1]
    assert not board.others_quiet(0)


async def test_a_batch_runs_wide_while_the_others_idle_and_narrow_while_one_is_busy(two_session_engine: Engine):
    board = LoadBoard.shared(slots=2)
    batcher = DynamicBatcher(two_session_engine, max_latency_ms=0, load_board=board, board_slot=0)
    await batcher.start()
    wide, narrow = two_session_engine.wide_backend, two_session_engine.backend
    try:
        wide_before, narrow_before = wide.calls, narrow.calls  # type: ignore[union-attr]
        alone, _ = await batcher.predict(TEXTS[:1])
        assert (wide.calls - wide_before, narrow.calls - narrow_before) == (1, 0)  # type: ignore[union-attr]
        board.mark_busy(1)  # the other worker is scoring now
        shared, _ = await batcher.predict(TEXTS[:1])
        assert (wide.calls - wide_before, narrow.calls - narrow_before) == (1, 1)  # type: ignore[union-attr]
    finally:
        await batcher.stop()
    assert alone == shared
    assert board.busy_slots() == [1]  # only the other worker's slot: this one is idle again


async def test_the_slot_is_idle_after_results_errors_and_cancelled_requests(two_session_engine: Engine):
    board = LoadBoard.shared(slots=2)
    batcher = DynamicBatcher(two_session_engine, max_latency_ms=0, load_board=board, board_slot=0)
    await batcher.start()
    try:
        await batcher.predict(TEXTS)
        assert board.busy_slots() == []

        # A request cancelled while its batch is in the engine: the slot stays busy until the engine returns.
        gate = threading.Event()
        two_session_engine.wide_backend.gate = gate  # type: ignore[union-attr]
        request = asyncio.create_task(batcher.predict(TEXTS[:2]))
        for _ in range(200):
            if board.busy_slots():
                break
            await asyncio.sleep(0.01)
        assert board.busy_slots() == [0]
        request.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await request
        for _ in range(200):
            if not board.busy_slots():
                break
            await asyncio.sleep(0.01)
        assert board.busy_slots() == []
        two_session_engine.wide_backend.gate = None  # type: ignore[union-attr]

        def fail(*_args: Any) -> np.ndarray:
            raise RuntimeError("the engine failed")

        two_session_engine.wide_backend.logits = fail  # type: ignore[union-attr, method-assign]
        with pytest.raises(InferenceError):
            await batcher.predict(TEXTS[:1])
        assert board.busy_slots() == []
    finally:
        await batcher.stop()


def test_gunicorn_hooks_hand_out_free_slots_and_clear_a_dead_workers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(worker_load, "_shared_board", None)
    monkeypatch.setattr(worker_load, "_worker_slot", None)
    board = worker_load.open_shared_board(slots=4)
    server = SimpleNamespace(WORKERS={})
    workers = []
    for pid in (101, 102, 103):
        worker = SimpleNamespace()
        gunicorn_config.pre_fork(server, worker)
        server.WORKERS[pid] = worker
        workers.append(worker)
    assert [w.moodline_slot for w in workers] == [0, 1, 2]

    gunicorn_config.post_fork(server, workers[1])  # what the forked worker does first
    assert worker_load.this_workers_board() == (board, 1)

    board.mark_busy(1)  # killed in the middle of a batch
    del server.WORKERS[102]
    gunicorn_config.child_exit(server, workers[1])
    assert board.busy_slots() == []
    replacement = SimpleNamespace()
    gunicorn_config.pre_fork(server, replacement)
    assert replacement.moodline_slot == 1  # the dead worker's slot is reused


def test_a_process_outside_gunicorn_has_a_private_board_of_its_own(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(worker_load, "_shared_board", None)
    board, slot = worker_load.this_workers_board()
    assert (board.size, slot) == (1, 0)
    with board.turn(slot) as wide:
        assert wide
