"""How long the batcher waits for more texts before it starts a batch.

A batch either waits out the window (a timer: never shorter, on any machine) or starts without waiting
for it. The checks draw the line between the two at 90 % of the window: a busy machine's scheduling
delays (tens of ms) stay far below it, and a batch held for the window always crosses it.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator

import pytest

from moodline.inference.engine import Engine
from moodline.server.batching import DynamicBatcher
from tests.server.conftest import clone_engine

pytestmark = pytest.mark.anyio

WINDOW_MS = 1000
# A wait this long was the window's; a batch started at once stays far below it.
WAITED_OUT_S = 0.9 * WINDOW_MS / 1000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_lone_client_is_not_held_for_the_batching_window(tiny_engine):
    batcher = DynamicBatcher(tiny_engine, max_batch_size=32, max_latency_ms=WINDOW_MS)
    await batcher.start()
    try:
        _, first = await batcher.predict(["nothing is known about the traffic yet"])
        _, second = await batcher.predict(["the last batch had one text, so one is all it waits for"])
    finally:
        await batcher.stop()
    assert first.queue_s >= WAITED_OUT_S  # the whole window: more texts might have come
    assert second.queue_s < WAITED_OUT_S, second  # not held for the window


async def test_clients_answered_together_are_waited_for_together(tiny_engine):
    """Closed-loop clients come back at different moments; the next batch waits until all are back.

    Starting with whoever is back first would split them into smaller batches for good.
    """
    batcher = DynamicBatcher(tiny_engine, max_batch_size=32, max_latency_ms=WINDOW_MS)
    rng = random.Random(0)
    waits: list[float] = []

    async def client(i: int) -> None:
        for k in range(5):
            _, timing = await batcher.predict([f"client {i} request {k}"])
            waits.append(timing.queue_s)
            await asyncio.sleep(rng.uniform(0, 0.03))  # the answer's way back, the next request's way in

    await batcher.start()
    try:
        await asyncio.gather(*(client(i) for i in range(8)))
    finally:
        await batcher.stop()
    assert (batcher.stats.batches, batcher.stats.texts) == (5, 40)  # five batches of all eight
    # Only the first batch waited out the window; later ones started once the eighth text was back.
    assert sorted(waits)[-8] >= WAITED_OUT_S and sorted(waits)[-9] < WAITED_OUT_S, sorted(waits)


class ThreadRecordingEngine:
    """Wraps an engine's ``predict``, noting each call's thread and number of texts."""

    def __init__(self, engine: Engine) -> None:
        self.calls: list[tuple[str, int]] = []
        self._predict = engine.predict
        engine.predict = self.predict  # type: ignore[method-assign]

    def predict(self, texts, **options):  # type: ignore[no-untyped-def]
        self.calls.append((threading.current_thread().name, len(texts)))
        return self._predict(texts, **options)


@pytest.fixture
async def lone_client_batcher(tiny_engine: Engine) -> AsyncIterator[tuple[DynamicBatcher, ThreadRecordingEngine]]:
    """A running batcher whose last batch was one text with nothing queued: a lone client's state."""
    engine = clone_engine(tiny_engine, type(tiny_engine))
    recorder = ThreadRecordingEngine(engine)
    batcher = DynamicBatcher(engine, max_batch_size=32, max_latency_ms=WINDOW_MS)
    await batcher.start()
    try:
        await batcher.predict(["nothing is known about the traffic yet"])
        recorder.calls.clear()
        yield batcher, recorder
    finally:
        await batcher.stop()


async def test_a_lone_request_is_scored_on_the_event_loops_thread(lone_client_batcher):
    batcher, recorder = lone_client_batcher
    alone, timing = await batcher.predict(["the last batch was one text; this one comes alone"])
    assert recorder.calls == [(threading.current_thread().name, 1)]  # no hand-off to the inference thread
    assert timing.queue_s == 0.0 and timing.inference_s > 0
    assert alone[0].label in batcher.engine.info.labels and batcher.stats.batches == 2  # counted like any batch


async def test_requests_arriving_together_are_batched_not_scored_one_by_one(lone_client_batcher):
    """After a lone client, a burst must still become batches: scored on the loop one at a time, the
    requests would never queue, and the server would answer a crowd one sentence per engine call."""
    batcher, recorder = lone_client_batcher
    answers = await asyncio.gather(*(batcher.predict([f"burst {i}"]) for i in range(8)))
    assert len(answers) == 8
    assert [size for _, size in recorder.calls] == [8], recorder.calls  # one batch, on the inference thread
    assert all(name.startswith("moodline-inference") for name, _ in recorder.calls)
