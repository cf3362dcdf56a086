"""Logging served predictions without ever slowing or failing one.

``PredictionLogger.record`` decides by sampling whether a request is logged, gives each text an id
(returned to the client in ``X-Prediction-Id``) and puts the rows on a bounded queue; one background
thread writes them in batches. A full queue drops rows (counted), a failing database is retried a
few times, then logged and counted: the prediction itself is never affected.

The writer gathers the rows of :data:`GATHER_S` into one transaction rather than writing each
sampled request as it comes. A transaction is a few hundred microseconds of SQLAlchemy under the
interpreter lock plus a commit; one per sampled request (tens a second per worker at rate 0.1) made
the worker's inference thread wait for the lock often enough to cost 5-15 % of the serving rate
(benchmarks/serve.py, the ``bundled + log`` row). ``flush`` writes what is gathered at once.

Example::

    logger = PredictionLogger(store, sample_rate=0.1)
    logger.start()
    ids = logger.record(texts, predictions, model_name, model_version, source="acme")   # [] when not sampled
    logger.close()
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from moodline.inference.prediction import Prediction
from moodline.lifecycle.store import LoggedPrediction, Store, StoreError

__all__ = ["PredictionLogger"]

log = logging.getLogger("moodline.lifecycle")

WRITE_BATCH = 500
# How long the writer gathers rows after the first before writing them all (see the module docstring).
# Short enough that a feedback sent right after its prediction, to another worker, finds it soon.
GATHER_S = 0.25
WRITE_ATTEMPTS = 3


@dataclass
class LoggerStats:
    written: int = 0
    dropped: int = 0
    failed: int = 0


class PredictionLogger:
    """Sampled, asynchronous, batched writes of predictions to the lifecycle store."""

    def __init__(
        self,
        store: Store,
        *,
        sample_rate: float,
        max_queue: int = 10_000,
        rng: random.Random | None = None,
        retry_delay_s: float = 0.5,
        gather_s: float = GATHER_S,
    ) -> None:
        self.store = store
        self.sample_rate = sample_rate
        self.stats = LoggerStats()
        self._queue: queue.Queue[LoggedPrediction | None] = queue.Queue(maxsize=max_queue)
        self._rng = rng or random.Random()
        self._retry_delay_s = retry_delay_s
        self.gather_s = gather_s
        self._write_now = threading.Event()  # set by flush and close: stop gathering, write
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="moodline-prediction-log", daemon=True)
            self._thread.start()

    def record(
        self,
        texts: Sequence[str],
        predictions: Sequence[Prediction],
        model_name: str,
        model_version: str,
        source: str | None = None,
    ) -> list[str]:
        """Queue the request's predictions if it is sampled; return their ids (``[]`` when not).

        ``source`` is the request's segment (tenant, feed), kept so checks can be broken down by it.
        """
        if self.sample_rate <= 0 or self._rng.random() >= self.sample_rate:
            return []
        now = time.time()
        ids: list[str] = []
        for text, prediction in zip(texts, predictions, strict=True):
            row = LoggedPrediction(
                uuid.uuid4().hex,
                now,
                model_name,
                model_version,
                text,
                prediction.label,
                prediction.score,
                dict(prediction.scores),
                source,
            )
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.stats.dropped += 1
                ids.append("")  # not logged: feedback by id would not find it, so no id is handed out
                continue
            ids.append(row.id)
        return ids

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (or given up); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queue.unfinished_tasks or self._busy:
                self._write_now.set()  # again each time: rows queued meanwhile start a new gathering
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread."""
        if self._thread is None:
            return
        self.flush(timeout)
        try:
            self._queue.put(None, timeout=1.0)
        except queue.Full:
            pass
        self._thread.join(timeout=2.0)
        self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            # Gather (see the module docstring); the wait ends early when flush or close asks for it.
            if self._write_now.wait(self.gather_s):
                self._write_now.clear()
            batch = [first]
            stop = False
            while len(batch) < WRITE_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    self._queue.task_done()
                    break
                batch.append(item)
            with self._idle:
                self._busy = len(batch)
            for _ in batch:
                self._queue.task_done()
            self._write(batch)
            with self._idle:
                self._busy = 0
                self._idle.notify_all()
            if stop:
                return

    def _write(self, batch: list[LoggedPrediction]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.store.add_predictions(batch)
                self.stats.written += len(batch)
                return
            except StoreError as exc:
                if attempt == WRITE_ATTEMPTS:
                    self.stats.failed += len(batch)
                    log.error("prediction log: %d predictions not written: %s", len(batch), exc.message)
                    return
                time.sleep(self._retry_delay_s * attempt)
            except Exception:  # noqa: BLE001 - the writer thread must outlive any surprise
                self.stats.failed += len(batch)
                log.exception("prediction log: %d predictions not written", len(batch))
                return
