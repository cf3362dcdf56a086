"""Scoring for the HTTP layer: validation against the server limits, cache, then the batcher."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from moodline.core.errors import InvalidInputError
from moodline.core.settings import Settings
from moodline.core.texts import check_texts
from moodline.inference.emotions import EmotionPrediction, EmotionScorer
from moodline.inference.engine import Engine, LongTextMode
from moodline.inference.prediction import Prediction
from moodline.inference.three_way import DEFAULT_BAND, ThreeWayScorer, parse_band
from moodline.lifecycle.hooks import open_lifecycle
from moodline.server.batching import BatchTiming, DynamicBatcher
from moodline.server.cache import PredictionCache, cache_key
from moodline.server.metrics import Metrics

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from moodline.lifecycle.prediction_log import PredictionLogger
    from moodline.lifecycle.services import LifecycleServices

__all__ = ["ScoreResult", "ServerState"]


@dataclass
class ScoreResult:
    predictions: list[Prediction]
    timing: BatchTiming
    total_s: float
    cache_hits: int = 0
    prediction_ids: list[str] = field(default_factory=list)  # set when the request was logged (sampled)


@dataclass
class ServerState:
    """Everything a running app holds; created by ``create_app``, filled in by its lifespan.

    It is the lifecycle's :class:`~moodline.lifecycle.hooks.ModelHost`: the monitor reads the served
    engine through it and hot swap replaces the engine through it.
    """

    settings: Settings
    metrics: Metrics
    engine: Engine | None = None
    batcher: DynamicBatcher | None = None
    cache: PredictionCache | None = None
    ready: bool = False
    instance: str = ""  # this process's name behind a load balancer
    lifecycle: LifecycleServices | None = None
    # The emotion model, when the settings enable emotions: its own batcher on the same inference thread.
    emotion_engine: Engine | None = None
    emotion_batcher: DynamicBatcher | None = None
    _three_way: ThreeWayScorer | None = field(default=None, repr=False)
    _emotions: EmotionScorer | None = field(default=None, repr=False)

    @property
    def metrics_registry(self) -> CollectorRegistry:
        return self.metrics.registry

    @property
    def prediction_log(self) -> PredictionLogger | None:
        """The lifecycle's prediction log, when the settings sample predictions."""
        return self.lifecycle.logger if self.lifecycle is not None else None

    def served_engine(self) -> Engine:
        assert self.engine is not None  # guaranteed once ready
        return self.engine

    def swap_engine(self, engine: Engine) -> None:
        """Make ``engine`` the served model.

        The batcher looks its engine up once per batch, so a batch already running finishes on the old
        model and the next one uses the new. The cache needs no clearing: its keys hold the model version.
        The batcher is switched first so that a request keyed with the new version is never scored by
        the old model.
        """
        if self.batcher is not None:
            self.batcher.engine = engine
        self.engine = engine
        self._three_way = None

    def lifecycle_services(self) -> LifecycleServices:
        """The lifecycle services, opened on first use (feedback needs the store even when nothing is logged)."""
        if self.lifecycle is None:
            self.lifecycle = open_lifecycle(self)
        return self.lifecycle

    def three_way_scorer(self) -> ThreeWayScorer:
        """The three-way view of the loaded model (made once, on first use)."""
        if self._three_way is None:
            band = parse_band(self.settings.neutral_band) if self.settings.neutral_band else DEFAULT_BAND
            self._three_way = ThreeWayScorer(self.served_engine(), band)
        return self._three_way

    @property
    def emotions_enabled(self) -> bool:
        """Whether this server scores emotions (``MOODLINE_EMOTIONS``, on by default)."""
        return self.emotion_engine is not None

    def emotion_scorer(self) -> EmotionScorer:
        """The emotion view of the emotion model (made once); refuses when emotions are off."""
        if self.emotion_engine is None:
            raise InvalidInputError("emotions are switched off on this server (MOODLINE_EMOTIONS=0)")
        if self._emotions is None:
            self._emotions = EmotionScorer(self.emotion_engine)
        return self._emotions

    def wants_emotions(self, asked: bool | None) -> bool:
        """A request's ``emotions`` option against the server's: unset follows the server; on when off is refused."""
        if asked is None:
            return self.emotions_enabled
        if asked and not self.emotions_enabled:
            self.emotion_scorer()  # raises the clear error
        return asked

    async def predict_emotions(self, texts: list[str]) -> list[EmotionPrediction]:
        """Emotions of ``texts`` (already checked by :meth:`predict`): cache, then the emotion batcher."""
        scorer = self.emotion_scorer()
        assert self.emotion_batcher is not None  # set with the emotion engine
        # Keyed apart from sentiment even if both models carried the same version string.
        info = scorer.engine.info
        namespace = f"emotions/{info.name}/{info.version}"
        result = await self._predict_with(scorer.engine, self.emotion_batcher, texts, None, namespace)
        return scorer.from_predictions(result.predictions)

    def validate(self, texts: list[str]) -> None:
        check_texts(texts, max_chars=self.settings.max_text_chars, max_texts=self.settings.max_texts_per_request)

    async def score(
        self, texts: list[str], long_text: LongTextMode | None = None, source: str | None = None
    ) -> ScoreResult:
        """A prediction request: the request limits, :meth:`predict`, then the (sampled) prediction log.

        ``source`` (the request's tenant or feed, already validated by the schema) goes into the log.
        """
        self.validate(texts)
        result = await self._predict_checked(texts, long_text)
        logger = self.prediction_log  # never blocks (bounded queue)
        if logger is not None:
            info = self.served_engine().info
            result.prediction_ids = logger.record(texts, result.predictions, info.name, info.version, source)
        return result

    async def predict(self, texts: list[str], long_text: LongTextMode | None = None) -> ScoreResult:
        """Whatever the server scores (requests, transcripts, /live, the monitor): cache, then the batcher.

        Only the batcher's one inference thread runs the engine, so concurrent endpoints never
        oversubscribe the cores, and every text is looked up in the cache first. A long list (a
        whole transcript) goes to the batcher in request-sized pieces, one after another, so it
        queues like the requests it shares the server with.
        """
        check_texts(texts, max_chars=self.settings.max_text_chars)
        return await self._predict_checked(texts, long_text)

    async def _predict_checked(self, texts: list[str], long_text: LongTextMode | None) -> ScoreResult:
        """:meth:`predict` for texts already checked (a request's, by :meth:`validate`): checked once, not twice."""
        assert self.batcher is not None  # guaranteed once ready
        engine = self.served_engine()
        return await self._predict_with(engine, self.batcher, texts, long_text, engine.info.version)

    async def _predict_with(
        self,
        engine: Engine,
        batcher: DynamicBatcher,
        texts: list[str],
        long_text: LongTextMode | None,
        key_version: str,
    ) -> ScoreResult:
        """Cache, then ``batcher`` for the misses; cache keys hold ``key_version``, so models never mix."""
        started = time.perf_counter()
        mode = long_text or engine.long_text
        keys = [cache_key(key_version, text, mode) for text in texts]
        cached = await self._cache_get(keys)
        missing = [i for i, hit in enumerate(cached) if hit is None]
        hits = len(texts) - len(missing)
        self.metrics.cache_hits.inc(hits)
        self.metrics.cache_misses.inc(len(missing))
        timing = BatchTiming()
        results: list[Prediction | None] = list(cached)
        piece = self.settings.max_texts_per_request
        for first in range(0, len(missing), piece):
            indices = missing[first : first + piece]
            miss_texts = [texts[i] for i in indices]
            if mode == engine.long_text:
                fresh, taken = await batcher.predict(miss_texts)
            else:  # a per-request mode other than the server's: its own engine call, on the inference thread
                fresh, taken = await batcher.predict_direct(miss_texts, mode)
            timing = BatchTiming(timing.queue_s + taken.queue_s, timing.inference_s + taken.inference_s)
            for index, prediction in zip(indices, fresh, strict=True):
                results[index] = prediction
            await self._cache_set([(keys[i], p) for i, p in zip(indices, fresh, strict=True)])
        predictions = [p for p in results if p is not None]
        return ScoreResult(predictions, timing, time.perf_counter() - started, hits)

    async def predict_texts(self, texts: list[str]) -> list[Prediction]:
        """:meth:`predict`'s predictions alone: what the lifecycle monitor scores feedback with."""
        return (await self.predict(texts)).predictions

    async def _cache_get(self, keys: list[str]) -> list[Prediction | None]:
        if self.cache is None:
            return [None] * len(keys)
        before = self.cache.errors
        # Redis does network I/O: keep it off the event loop. The in-process LRU is a dict lookup.
        if self.cache.backend == "memory":
            found = self.cache.get_many(keys)
        else:
            found = await asyncio.to_thread(self.cache.get_many, keys)
        self.metrics.cache_errors.inc(self.cache.errors - before)
        return found

    async def _cache_set(self, items: list[tuple[str, Prediction]]) -> None:
        if self.cache is None or not items:
            return
        before = self.cache.errors
        if self.cache.backend == "memory":
            self.cache.set_many(items)
        else:
            await asyncio.to_thread(self.cache.set_many, items)
        self.metrics.cache_errors.inc(self.cache.errors - before)
