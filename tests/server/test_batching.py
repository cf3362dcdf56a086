"""How long the batcher waits for more texts before it starts a batch.

A batch either waits out the window (a timer: never shorter, on any machine) or starts without waiting
for it. The checks draw the line between the two at 90 % of the window: a busy machine's scheduling
delays (tens of ms) stay far below it, and a batch held for the window always crosses it.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from moodline.server.batching import DynamicBatcher

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
