"""One settings class for the server and everything it starts; read from ``MOODLINE_*`` and ``.env``."""

from __future__ import annotations

import functools
import os
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Every knob of a moodline server. ``MOODLINE_MAX_BATCH_SIZE=32`` sets ``max_batch_size``."""

    model_config = SettingsConfigDict(env_prefix="MOODLINE_", env_file=".env", extra="ignore")

    # Model
    model: str | None = Field(None, description="Model directory or hub id; unset means the bundled model.")
    backend: Literal["auto", "onnx", "transformers"] = "auto"
    threads: int | None = Field(
        None, ge=1, description="Inference threads per worker (default: the cores divided among the workers)."
    )
    long_text: Literal["truncate", "chunk"] = "truncate"
    ort_spinning: bool = Field(False, description="Let idle ONNX Runtime threads spin (faster batches, busier cores).")

    # Dynamic batching
    max_batch_size: int = Field(32, ge=1, description="Most texts merged into one engine call.")
    max_latency_ms: float = Field(2.0, ge=0, description="Longest wait for more texts before a batch runs.")
    max_batch_tokens: int = Field(16384, ge=64, description="Token budget (rows x longest) per engine batch.")
    # Requests arrive with random lengths; padding 16-32 of them to the longest nearly doubles the work
    # on SST-2-like traffic. Sorting a merged batch by length and running it in padded calls of 8 was
    # measured fastest (benchmarks/serve.py).
    engine_batch_size: int = Field(8, ge=1, description="Rows per padded engine call within a merged batch.")
    max_queue_size: int = Field(4096, ge=1, description="Texts waiting at most; beyond it requests get 429.")
    request_timeout_s: float = Field(10.0, gt=0, description="A request still queued after this gets 503.")

    # Limits
    max_texts_per_request: int = Field(256, ge=1)
    max_text_chars: int = Field(20_000, ge=1, description="Longer texts are refused with 422.")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Larger request bodies get 413.")

    # Security
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated keys; when set, requests need 'Authorization: Bearer'."
    )

    # Cache
    cache_size: int = Field(50_000, ge=0, description="In-process LRU entries (0 disables the cache).")
    redis_url: str | None = Field(None, description="Use Redis as the cache, e.g. redis://127.0.0.1:6379/0.")
    redis_timeout_ms: float = Field(50.0, gt=0, description="A slower Redis call is skipped, not waited for.")
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=1)

    # Conversations
    neutral_band: str | None = Field(
        None, description="LOW,HIGH: P(positive) range a binary model calls neutral (default: tuned on MELD)."
    )
    live_window: int = Field(5, ge=1, description="Utterances in a speaker's rolling sentiment on /live.")
    live_alert_threshold: float = Field(-0.3, ge=-1, le=1, description="Rolling sentiment below this is a bad streak.")
    live_alert_count: int = Field(3, ge=1, description="Utterances below the threshold in a row before an alert.")

    # Server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # One worker per core with one inference thread each beat one worker with every core by ~35% at
    # 32 clients (benchmarks/serve.py): the event loop and a 2-thread ONNX Runtime pool contend otherwise.
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)

    def inference_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
