"""One settings class for moodline, grouped by concern; read from ``MOODLINE_*`` and ``.env``."""

from __future__ import annotations

import functools
import os
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "AlertSettings",
    "BatchingSettings",
    "CacheSettings",
    "EngineSettings",
    "LifecycleSettings",
    "LimitsSettings",
    "LiveSettings",
    "ServerSettings",
    "Settings",
    "ToolSettings",
    "get_settings",
    "usable_cores",
]


# Each group is a plain model: only Settings reads the environment, with the MOODLINE_ prefix.
class EngineSettings(BaseModel):
    """The model and how the engine runs it."""

    model: str | None = Field(None, description="Model directory or hub id; unset means the bundled model.")
    backend: Literal["auto", "onnx", "transformers"] = "auto"
    threads: int | None = Field(
        None, ge=1, description="Inference threads per worker (default: the cores divided among the workers)."
    )
    long_text: Literal["truncate", "chunk"] = "truncate"
    burst_threads: int | None = Field(
        None,
        ge=0,
        description="Threads of a batch a server worker runs while the other workers idle (default: every core; "
        "0: always MOODLINE_THREADS).",
    )
    ort_spinning: bool = Field(
        False,
        description="Let ONNX Runtime threads spin between calls, not only within one (sooner batches, busier cores).",
    )
    int8_weights: Literal["signed", "unsigned", "auto"] = Field(
        "signed",
        description="How int8 weights are served: signed (fastest), unsigned (the same answers on every CPU; "
        "needs the onnx package), auto (unsigned on AVX2 CPUs without VNNI or AMX).",
    )


class BatchingSettings(BaseModel):
    """Dynamic batching: how requests' texts are merged into engine calls."""

    max_batch_size: int = Field(32, ge=1, description="Most texts merged into one engine call.")
    max_latency_ms: float = Field(2.0, ge=0, description="Longest wait for more texts before a batch runs.")
    max_batch_tokens: int = Field(16384, ge=64, description="Token budget (rows x longest) per engine batch.")
    # Requests arrive with random lengths; padding 16-32 of them to the longest nearly doubles the work
    # on SST-2-like traffic. The engine cuts each merged batch, sorted by length, into the calls that
    # cost least (padding against per-call overhead; see bucketing.sorted_batches); this caps a call.
    engine_batch_size: int = Field(32, ge=1, description="Most rows in one padded engine call.")
    max_queue_size: int = Field(4096, ge=1, description="Texts waiting at most; beyond it requests get 429.")
    request_timeout_s: float = Field(10.0, gt=0, description="A request still queued after this gets 503.")


class LimitsSettings(BaseModel):
    """What one request may ask, and who may ask (API keys)."""

    max_texts_per_request: int = Field(256, ge=1)
    max_text_chars: int = Field(20_000, ge=1, description="Longer texts are refused with 422.")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Larger request bodies get 413.")
    max_transcript_files: int = Field(
        20, ge=1, description="Most files in one POST /transcripts upload; more get 413 (all within max_body_bytes)."
    )

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated keys; when set, requests need 'Authorization: Bearer'."
    )


class CacheSettings(BaseModel):
    """The prediction cache: in-process LRU or Redis."""

    cache_size: int = Field(50_000, ge=0, description="In-process LRU entries (0 disables the cache).")
    redis_url: str | None = Field(None, description="Use Redis as the cache, e.g. redis://127.0.0.1:6379/0.")
    redis_timeout_ms: float = Field(50.0, gt=0, description="A slower Redis call is skipped, not waited for.")
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=1)


class LiveSettings(BaseModel):
    """Conversations: the neutral band of binary models, emotions, and the /live rolling state."""

    neutral_band: str | None = Field(
        None, description="LOW,HIGH: P(positive) range a binary model calls neutral (default: tuned on MELD)."
    )
    emotions: bool = Field(
        True, description="Score each utterance's emotion in transcripts and on /live (0: off server-wide, faster)."
    )
    emotion_model: str | None = Field(
        None, description="The emotion model: a shipped name or a directory (default: moodline-emotions-minilm-l6)."
    )
    live_window: int = Field(5, ge=1, description="Utterances in a speaker's rolling sentiment on /live.")
    live_alert_threshold: float = Field(-0.3, ge=-1, le=1, description="Rolling sentiment below this is a bad streak.")
    live_alert_count: int = Field(3, ge=1, description="Utterances below the threshold in a row before an alert.")


class LifecycleSettings(BaseModel):
    """The model lifecycle: stores, tracking, registry, prediction log, checks, retraining."""

    data_dir: str | None = Field(
        None, description="Embedded stores' directory (default: $XDG_DATA_HOME/moodline or ~/.local/share/moodline)."
    )
    mlflow_uri: str | None = Field(
        None, description="MLflow tracking server URL (default: a SQLite store under data_dir)."
    )
    tracker: Literal["mlflow", "wandb", "none"] = Field("mlflow", description="Where 'moodline train' logs runs.")
    registry_name: str = Field("moodline", description="Registered model name used by retraining and the monitor.")
    store_url: str | None = Field(
        None, description="Prediction log / feedback / alert database (default: SQLite under data_dir)."
    )
    prediction_sample_rate: float = Field(0.0, ge=0, le=1, description="Share of prediction requests logged.")
    prediction_log_queue: int = Field(10_000, ge=1, description="Predictions waiting to be written; more are dropped.")
    champion_poll_s: float = Field(30.0, ge=0, description="How often a models:/NAME@ALIAS server checks the alias.")
    monitor_interval_s: float = Field(0.0, ge=0, description="Seconds between in-server checks (0: no job).")
    monitor_recent: int = Field(500, ge=10, description="Latest predictions / feedback a check looks at.")
    monitor_reference: int = Field(500, ge=10, description="First predictions of the model version: the reference.")
    monitor_min_samples: int = Field(100, ge=10, description="Fewer predictions in a window: no drift verdict.")
    accuracy_min_samples: int = Field(50, ge=5, description="Fewer labelled feedback rows: no accuracy verdict.")
    accuracy_tolerance: float = Field(0.05, ge=0, le=1, description="Allowed drop below the evaluation accuracy.")
    monitor_confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the accuracy interval.")
    baseline_accuracy: float | None = Field(
        None, ge=0, le=1, description="Evaluation accuracy of a model that is not in the registry."
    )
    psi_threshold: float = Field(0.25, gt=0, description="Population stability index above this is drift.")
    confidence_drop: float = Field(0.1, gt=0, le=1, description="Mean top probability falling by more: drift.")
    oov_increase: float = Field(0.1, gt=0, le=1, description="Out-of-vocabulary word share rising by more: drift.")
    estimate_drop: float = Field(
        0.05, gt=0, le=1, description="Estimated accuracy (no labels) more than this below its baseline fails."
    )
    estimate_baseline: Literal["reference", "evaluation"] = Field(
        "reference",
        description="The estimate's baseline: its value on the reference window, or the evaluation accuracy.",
    )
    text_drift_auc: float = Field(
        0.7,
        gt=0.5,
        le=1,
        description="Cross-validated ROC-AUC of the reference-vs-latest text classifier above this fails.",
    )
    text_drift_permutations: int = Field(10, ge=1, le=200, description="Relabelled runs of the text drift baseline.")
    monitor_windows: int = Field(12, ge=1, le=200, description="Windows of MONITOR_RECENT predictions shown over time.")
    monitor_segments: int = Field(
        10, ge=0, le=100, description="Request sources checked on their own (most traffic first)."
    )
    max_model_age_days: float = Field(180.0, gt=0, description="An older model fails the staleness check.")
    retrain_data: str | None = Field(None, description="Base training data a challenger is trained on.")
    retrain_heldout: str | None = Field(None, description="Labelled file both models are scored on.")
    retrain_base_model: str = Field("sentence-transformers/all-MiniLM-L6-v2", description="Encoder to fine-tune.")
    retrain_epochs: int = Field(2, ge=1)
    retrain_learning_rate: float = Field(5e-5, gt=0)
    retrain_limit: int | None = Field(None, ge=2, description="Use only the first N rows of the base data.")
    retrain_margin: float = Field(0.01, ge=0, le=1, description="Held-out accuracy a challenger must gain.")
    retrain_quantize: bool = Field(True, description="Export challengers to int8.")
    retrain_on_failure: bool = Field(False, description="A newly failing accuracy/drift check starts a retraining.")


class AlertSettings(BaseModel):
    """Where alerts go: email (SMTP) and a webhook, with retries."""

    smtp_host: str | None = Field(None, description="SMTP server for alert email.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_ca_file: str | None = Field(None, description="CA bundle to verify the SMTP server (default: system).")
    smtp_timeout_s: float = Field(10.0, gt=0)
    alert_email_from: str = "moodline@localhost"
    alert_email_to: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Comma-separated.")
    alert_webhook_url: str | None = Field(None, description="Slack-compatible webhook: POST {'text': ...}.")
    alert_retry_base_s: float = Field(30.0, gt=0, description="First retry delay of an undelivered alert (doubles).")
    alert_retry_max_s: float = Field(3600.0, gt=0, description="Longest delay between delivery attempts.")


class ServerSettings(BaseModel):
    """The server process: address, Gunicorn workers and timeouts, garbage collection, keep-alive."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # One worker per core with one inference thread each beat one worker with every core by ~35% at
    # 32 clients (benchmarks/serve.py): the event loop and a 2-thread ONNX Runtime pool contend otherwise.
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    gc_freeze: bool = Field(
        True, description="Exempt what exists once the model is loaded from garbage collection (shorter pauses)."
    )
    keepalive_requests: int = Field(
        100, ge=0, description="A keep-alive connection is closed after about this many requests (0: never)."
    )
    worker_timeout: int = Field(
        60, ge=1, description="Seconds a Gunicorn worker may be silent before it is restarted (model loading included)."
    )
    graceful_timeout: int = Field(30, ge=0, description="Seconds a worker has to drain its queue after SIGTERM.")
    # Longer than the idle timeouts of the clients and proxies in front (httpx 5 s, nginx upstream
    # 60 s, most cloud load balancers 60 s): whoever closes an idle connection first should be the
    # client; when the server does, a request sent at that moment meets a closed connection.
    keepalive_s: int = Field(75, ge=1, description="Seconds an idle keep-alive connection stays open.")
    access_log: str | None = Field(None, description="Gunicorn access log ('-' for stderr; unset: none).")
    log_level: str = Field("info", description="Gunicorn log level.")
    instance_id: str | None = Field(
        None, description="This replica's name in X-Moodline-Instance and /info (default: hostname-pid)."
    )


class ToolSettings(BaseModel):
    """The command line and batch tools."""

    shared_data: str | None = Field(
        None, description="Where a data mix's relative paths start when it names no root (default: ../shared/data)."
    )
    debug: bool = Field(False, description="Show tracebacks of unexpected CLI failures and Ray's own logs.")
    no_progress: bool = Field(False, description="No progress bars (CI logs, pipes).")

    @field_validator("debug", "no_progress", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return False if value == "" else value


class Settings(
    BaseSettings,
    EngineSettings,
    BatchingSettings,
    LimitsSettings,
    CacheSettings,
    LiveSettings,
    LifecycleSettings,
    AlertSettings,
    ServerSettings,
    ToolSettings,
):
    """Every knob of moodline, grouped by concern above. ``MOODLINE_MAX_BATCH_SIZE=32`` sets ``max_batch_size``.

    One class, read from ``MOODLINE_*`` variables and ``.env``; the server, the Gunicorn configuration,
    the CLI and the tools all read it (through :func:`get_settings`), and no other module reads a
    ``MOODLINE_*`` variable itself.
    """

    model_config = SettingsConfigDict(env_prefix="MOODLINE_", env_file=".env", extra="ignore")

    def inference_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    def wide_threads(self) -> int | None:
        """Threads of the engine's wide session (a lone request's), or None when it would add nothing."""
        wide = self.burst_threads if self.burst_threads is not None else usable_cores()
        return wide if wide > self.inference_threads() else None

    @field_validator("api_keys", "alert_email_to", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
