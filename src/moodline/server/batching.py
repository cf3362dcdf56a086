"""Dynamic batching: merge texts from concurrent requests into engine batches.

Requests put their texts on a bounded queue and await futures. One worker task takes whatever is
queued (up to ``max_batch_size`` texts), runs the engine in a thread so the event loop stays free,
and resolves each text's future. While one batch runs, the next one fills, so under load batches grow
by themselves.

How long to wait for more texts before a batch starts: until as many are queued as were in play
during the previous batch (the texts it scored plus those that queued meanwhile), and at most
``max_latency_ms`` from the later of the first text's arrival and the end of the previous batch.
Under steady load the texts expected are the clients just answered coming back. Started with
whoever was already queued, the next batch would leave them for the one after, and the clients
settle into alternating half-size batches (DistilBERT-shaped model, 32 clients, 2 workers: 7.5 texts
per batch on average, against 14 with this rule and about 5 % more sentences/s). A lone client
expects only itself and is served at once (bundled model, one client: p50 3.1 ms instead of 5.8).

Served at once, a lone client's few texts are not even handed to the inference thread: when nothing
is queued or running and the batcher expects no other texts, they are scored on the event loop's own
thread, which would only wait for them otherwise. The hand-off there and back (a queue, a thread
wake-up, a future set from another thread) cost a third of a millisecond on a two-core machine,
as much as the whole HTTP layer (benchmarks/overhead.py). Whatever comes meanwhile waits in the
socket buffers for at most that one short call, as it would have waited in the queue.

Guarantees: a full queue answers :class:`QueueFullError` (429) at once, and so does a queue whose
expected wait (queued texts x measured seconds per text) already exceeds the request timeout, since
such a request could only time out; a request still queued at its deadline gets
:class:`QueueTimeoutError` (503) at that moment, from a timer, not when the worker reaches it; an
engine failure fails that batch's requests with :class:`InferenceError`; every future is resolved, so
no request hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from moodline.core.errors import MoodlineError
from moodline.inference.engine import Engine, LongTextMode
from moodline.inference.prediction import Prediction
from moodline.server.worker_load import LoadBoard

__all__ = ["BatchTiming", "DynamicBatcher", "InferenceError", "QueueFullError", "QueueTimeoutError"]

log = logging.getLogger("moodline.server.batching")


class QueueFullError(MoodlineError):
    """The server is at capacity; retry after ``retry_after`` seconds."""

    status_code = 429
    error_type = "overloaded"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueTimeoutError(MoodlineError):
    status_code = 503
    error_type = "timeout"


class InferenceError(MoodlineError):
    status_code = 500
    error_type = "inference_error"


@dataclass
class BatchTiming:
    """Where a request's time went, for the timing headers."""

    queue_s: float = 0.0
    inference_s: float = 0.0


@dataclass
class _Item:
    text: str
    future: asyncio.Future[tuple[Prediction, float, float]]
    enqueued: float
    deadline: float
    taken: bool = False  # in an engine batch: past this point it is answered by the batch, not the timer


@dataclass
class BatcherStats:
    batches: int = 0
    texts: int = 0
    expired: int = 0
    rejected: int = 0


BatchObserver = Callable[[int, float], None]

# The most a request may hold for the event loop's thread to be scored there (see the module docstring):
# a few short texts, a few milliseconds of engine time; anything bigger goes to the inference thread.
INLINE_MAX_TEXTS = 4
INLINE_MAX_CHARS = 1000


class InferenceThread:
    """The one thread a worker's engines run on, and the lock that keeps their calls one at a time.

    Batches run on the thread; a lone request scored on the event loop's thread takes the same lock,
    so the sentiment and emotion models, batched or not, never run two calls at once.
    """

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moodline-inference")
        self.lock = threading.Lock()


class DynamicBatcher:
    """Merge concurrent ``predict`` calls into engine batches.

    Example::

        batcher = DynamicBatcher(engine, max_batch_size=64, max_latency_ms=2)
        await batcher.start()
        predictions, timing = await batcher.predict(["It is worth it"])
        await batcher.stop()
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch_size: int = 64,
        max_latency_ms: float = 2.0,
        max_queue_size: int = 4096,
        timeout_s: float = 10.0,
        on_batch: BatchObserver | None = None,
        load_board: LoadBoard | None = None,
        board_slot: int | None = 0,
        inference_thread: InferenceThread | None = None,
    ) -> None:
        self.engine = engine
        # Where this worker shows it is running the engine, and sees whether the others are: a batch
        # scored while they all idle runs on the engine's wide session (see moodline.server.worker_load).
        self.load_board = load_board or LoadBoard.private()
        self.board_slot = board_slot
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000
        self.max_queue_size = max_queue_size
        self.timeout_s = timeout_s
        self.on_batch = on_batch
        self.stats = BatcherStats()
        self._queue: deque[_Item] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One inference at a time: ONNX Runtime already uses every core for a batch. A second model (the
        # emotions) gets its own batcher on the same ``inference_thread``, so the two never run at once.
        self._owns_thread = inference_thread is None
        self.inference_thread = inference_thread or InferenceThread()
        self._executor = self.inference_thread.executor
        self._scoring = False  # a batch of this batcher is on the inference thread
        # (seconds, texts) of recent batches. Their ratio weighs each batch by its size, so a slow
        # one-text batch (a cold shape, a quiet moment) barely moves the estimate that full batches set.
        self._recent_batches: deque[tuple[float, int]] = deque(maxlen=32)
        self._free_since = 0.0  # when the last batch ended
        self._expected = max_batch_size  # texts in play during the last batch: what to wait for

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        """Warm the engine up (the first ONNX Runtime call allocates its buffers), then take requests."""
        if self._task is None:
            # A cold first call is many times slower than the rest; measured as real traffic it
            # would make the queue-wait estimate refuse requests for no reason.
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._warm_up)
            except Exception:  # noqa: BLE001 - requests will meet the same failure and get a 500 each
                log.exception("the engine failed its warm-up call")
            self._task = asyncio.create_task(self._run(), name="moodline-batcher")

    async def stop(self, drain: bool = True) -> None:
        """Stop the worker; with ``drain`` queued texts are still scored first."""
        if drain:
            while self._queue:
                await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:  # anything left (drain=False) is answered, never dropped silently
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(QueueTimeoutError("server is shutting down"))
        if self._owns_thread:
            self._executor.shutdown(wait=True)

    async def predict(self, texts: Sequence[str]) -> tuple[list[Prediction], BatchTiming]:
        """Score ``texts`` (already validated) together with whatever else is queued."""
        if not texts:
            return [], BatchTiming()
        if self._task is None:
            raise InferenceError("the batcher is not running")
        queued = len(self._queue)
        waiting = queued + len(texts)
        # A queue of a couple of batches is always let in: the estimate is for sustained overload.
        doomed = waiting > 2 * self.max_batch_size and self.expected_wait_s(waiting) > self.timeout_s
        if waiting > self.max_queue_size or doomed:
            self.stats.rejected += 1
            raise QueueFullError(
                f"server is at capacity ({queued} texts queued); retry shortly",
                retry_after=max(1.0, round(self.expected_wait_s(queued), 1)),
            )
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        items = [_Item(t, loop.create_future(), now, now + self.timeout_s) for t in texts]
        alone = self._may_score_inline(texts)
        self._queue.extend(items)
        if alone:
            # Requests read in the same turn of the loop run first and queue beside these texts; only
            # when none did are they alone (the requests of a burst arrive together, not one by one).
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:  # the client went away: the batcher skips texts whose future is done
                for item in items:
                    item.future.cancel()
                raise
            # The lock: no engine call of a second model's batcher on the inference thread either.
            if len(self._queue) == len(items) and not self._scoring and self.inference_thread.lock.acquire(False):
                self._queue.clear()
                return self._score_inline(texts)
        self._wakeup.set()
        deadline = loop.call_later(self.timeout_s, self._expire, items)
        try:
            # Every outcome is collected, so no failed text is left as an unretrieved exception.
            outcomes = await asyncio.gather(*(item.future for item in items), return_exceptions=True)
        finally:
            deadline.cancel()
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            raise failure
        results = [o for o in outcomes if not isinstance(o, BaseException)]
        timing = BatchTiming(queue_s=max(r[1] for r in results), inference_s=max(r[2] for r in results))
        return [r[0] for r in results], timing

    def _may_score_inline(self, texts: Sequence[str]) -> bool:
        """Whether the batcher would start a batch of ``texts`` at once and alone, and it is small:
        nothing queued or running, no more texts expected (see the module docstring)."""
        if self._queue or self._scoring or self._expected > len(texts) or len(texts) > INLINE_MAX_TEXTS:
            return False
        return sum(len(text) for text in texts) <= INLINE_MAX_CHARS

    def _score_inline(self, texts: Sequence[str]) -> tuple[list[Prediction], BatchTiming]:
        """Score ``texts`` right here, on the event loop's thread; the caller took the engines' lock."""
        lock = self.inference_thread.lock
        started = time.perf_counter()
        try:
            predictions = self._run_engine_unlocked(list(texts))
        except Exception as exc:  # noqa: BLE001 - answered as a failed batch would be
            log.exception("inference failed for %d texts", len(texts))
            raise InferenceError(f"inference failed ({type(exc).__name__})") from exc
        finally:
            lock.release()
        self._free_since = time.perf_counter()
        self._expected = min(self.max_batch_size, len(texts))  # as after a batch: nothing else was queued
        elapsed = self._free_since - started
        self._record_batch(len(texts), elapsed)
        return predictions, BatchTiming(queue_s=0.0, inference_s=elapsed)

    def _record_batch(self, texts: int, elapsed: float) -> None:
        self._recent_batches.append((elapsed, texts))
        self.stats.batches += 1
        self.stats.texts += texts
        if self.on_batch is not None:
            self.on_batch(texts, elapsed)

    def expected_wait_s(self, texts: int) -> float:
        """How long ``texts`` queued texts take to clear, at the measured speed (0 before any batch)."""
        seconds = sum(elapsed for elapsed, _ in self._recent_batches)
        scored = sum(count for _, count in self._recent_batches)
        return texts * seconds / scored if scored else 0.0

    def _expire(self, items: list[_Item]) -> None:
        """Deadline timer: answer 503 for the request's texts that never reached an engine batch."""
        now = time.perf_counter()
        for item in items:
            if not item.taken and not item.future.done():
                self._time_out(item, now)

    def _time_out(self, item: _Item, now: float) -> None:
        self.stats.expired += 1
        item.future.set_exception(
            QueueTimeoutError(
                f"request waited {now - item.enqueued:.1f}s in the queue; the limit is {self.timeout_s:.1f}s"
            )
        )

    async def predict_direct(
        self, texts: Sequence[str], long_text: LongTextMode
    ) -> tuple[list[Prediction], BatchTiming]:
        """Score ``texts`` on their own (e.g. with a non-default long-text mode), on the inference thread."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            predictions = await loop.run_in_executor(
                self._executor, functools.partial(self._run_engine, list(texts), long_text)
            )
        except Exception as exc:  # noqa: BLE001
            log.exception("inference failed for %d texts", len(texts))
            raise InferenceError(f"inference failed ({type(exc).__name__})") from exc
        elapsed = time.perf_counter() - started
        if self.on_batch is not None:
            self.on_batch(len(texts), elapsed)
        return predictions, BatchTiming(queue_s=0.0, inference_s=elapsed)

    def _warm_up(self) -> None:
        """Both sessions' first calls (they allocate their buffers), outside the board: no request waits."""
        engine = self.engine
        engine.predict(["warm-up"])
        if engine.wide_backend is not None:
            engine.predict(["warm-up"], wide=True)

    def _run_engine(self, texts: list[str], long_text: LongTextMode | None = None) -> list[Prediction]:
        """One engine call on the inference thread, under the engines' lock."""
        with self.inference_thread.lock:
            return self._run_engine_unlocked(texts, long_text)

    def _run_engine_unlocked(self, texts: list[str], long_text: LongTextMode | None = None) -> list[Prediction]:
        """One engine call, shown on the load board while it runs; the caller holds the engines' lock."""
        engine = self.engine  # looked up once: a hot swap takes effect at the next call
        with self.load_board.turn(self.board_slot, can_widen=engine.wide_backend is not None) as wide:
            if wide:
                return engine.predict(texts, long_text=long_text, wide=True)
            return engine.predict(texts, long_text=long_text)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            # Wait for the texts expected back (see the module docstring), never past max_latency.
            opened = max(self._queue[0].enqueued, self._free_since)
            while len(self._queue) < self._expected:
                remaining = opened + self.max_latency_s - time.perf_counter()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
            batch = self._take_batch()
            if batch:
                await self._score(loop, batch)
                self._free_since = time.perf_counter()
                self._expected = min(self.max_batch_size, len(batch) + len(self._queue))

    def _take_batch(self) -> list[_Item]:
        now = time.perf_counter()
        batch: list[_Item] = []
        while self._queue and len(batch) < self.max_batch_size:
            item = self._queue.popleft()
            if item.future.done():  # the request was cancelled (client went away)
                continue
            if now > item.deadline:
                self._time_out(item, now)
                continue
            item.taken = True
            batch.append(item)
        return batch

    async def _score(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        started = time.perf_counter()
        self._scoring = True
        try:
            predictions = await loop.run_in_executor(self._executor, self._run_engine, [i.text for i in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request must get an answer
            log.exception("inference failed for a batch of %d texts", len(batch))
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(InferenceError(f"inference failed ({type(exc).__name__})"))
            return
        finally:
            self._scoring = False
        elapsed = time.perf_counter() - started
        self._record_batch(len(batch), elapsed)
        for item, prediction in zip(batch, predictions, strict=True):
            if not item.future.done():
                item.future.set_result((prediction, started - item.enqueued, elapsed))
