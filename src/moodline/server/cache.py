"""Prediction caches: in-process LRU by default, Redis when configured.

Keys are the model version plus a hash of the normalised text (Unicode NFC, whitespace collapsed),
so a new model never serves an old model's answers. A cache must never fail a request: Redis errors
and slow calls (past ``timeout``) are logged, counted, and treated as misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from moodline.inference.prediction import Prediction

__all__ = ["LRUCache", "PredictionCache", "RedisCache", "cache_key", "normalise_text"]

log = logging.getLogger("moodline.server.cache")


def normalise_text(text: str) -> str:
    """The form texts are compared in: NFC, inner whitespace collapsed, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def cache_key(model_version: str, text: str, mode: str = "") -> str:
    digest = hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=16).hexdigest()
    return f"moodline:{model_version}:{mode}:{digest}"


class PredictionCache(Protocol):
    backend: str
    errors: int

    def get_many(self, keys: Sequence[str]) -> list[Prediction | None]: ...

    def set_many(self, items: Sequence[tuple[str, Prediction]]) -> None: ...


class LRUCache:
    """A thread-safe in-process LRU of predictions."""

    backend = "memory"

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.errors = 0
        self._data: OrderedDict[str, Prediction] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Sequence[str]) -> list[Prediction | None]:
        found: list[Prediction | None] = []
        with self._lock:
            for key in keys:
                value = self._data.get(key)
                if value is not None:
                    self._data.move_to_end(key)
                found.append(value)
        return found

    def set_many(self, items: Sequence[tuple[str, Prediction]]) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            for key, value in items:
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


class RedisCache:
    """Redis-backed cache with short timeouts; after a failure it backs off before trying again."""

    backend = "redis"

    def __init__(
        self, url: str, *, timeout_ms: float = 50.0, ttl_s: int = 7 * 24 * 3600, retry_after_s: float = 2.0
    ) -> None:
        import redis

        timeout = timeout_ms / 1000
        self._client: Any = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.url = url
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self.errors = 0
        self._down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        self.errors += 1
        self._down_until = time.monotonic() + self.retry_after_s
        log.warning(
            "redis %s failed (%s: %s); serving without cache for %.0fs",
            operation,
            type(exc).__name__,
            exc,
            self.retry_after_s,
        )

    def get_many(self, keys: Sequence[str]) -> list[Prediction | None]:
        if not keys or not self._available():
            return [None] * len(keys)
        try:
            raw = self._client.mget(list(keys))
        except Exception as exc:  # noqa: BLE001 - any Redis failure is a miss, never a failed request
            self._failed("get", exc)
            return [None] * len(keys)
        return [Prediction(**json.loads(value)) if value else None for value in raw]

    def set_many(self, items: Sequence[tuple[str, Prediction]]) -> None:
        if not items or not self._available():
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, prediction in items:
                pipe.set(key, json.dumps(prediction.to_dict()), ex=self.ttl_s)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            self._failed("set", exc)
