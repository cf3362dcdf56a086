"""The lifecycle inside a running server: prediction log, periodic checks, alerts, retraining, hot swap.

Everything here is opt-in through settings, so a plain server does none of it:

* ``MOODLINE_PREDICTION_SAMPLE_RATE`` > 0 logs that share of prediction requests;
* ``MOODLINE_MONITOR_INTERVAL_S`` > 0 runs the checks that often, exports them in ``/metrics``,
  raises and delivers alerts (and, with ``MOODLINE_RETRAIN_ON_FAILURE``, starts ``moodline retrain``);
* a ``models:/NAME@ALIAS`` model with ``MOODLINE_CHAMPION_POLL_S`` > 0 follows the alias: a new
  version is downloaded and loaded beside the old one, then swapped in between two batches.

The store is opened on first use (``POST /feedback`` needs it even when nothing is logged).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from moodline.core.locations import store_url
from moodline.core.settings import Settings
from moodline.inference.engine import Engine
from moodline.inference.prediction import Prediction
from moodline.inference.registry import RegistryReader, is_registry_uri, parse_models_uri
from moodline.lifecycle.alerts import AlertDispatcher
from moodline.lifecycle.checks import CHECKS, ModelFacts, Monitor, MonitorReport, base_name
from moodline.lifecycle.host import ModelHost
from moodline.lifecycle.prediction_log import PredictionLogger
from moodline.lifecycle.store import Store

__all__ = ["LifecycleServices", "settings_env"]

log = logging.getLogger("moodline.lifecycle")

# A newly failing check starts a retraining, except model age alone (new data would not help there).
RETRAIN_TRIGGERS = frozenset(CHECKS) - {"model_age"}


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as ``MOODLINE_*`` variables, so a child process (``moodline retrain``) sees the same."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"MOODLINE_{name.upper()}"] = str(value)
    return env


class MonitorGauges:
    """Check results in ``/metrics``: ``moodline_check_failing`` and ``moodline_check_value`` by check."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.failing = Gauge(
            "moodline_check_failing",
            "1 while a lifecycle check fails, 0 when it passes, -1 without enough data",
            ["check"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.value = Gauge(
            "moodline_check_value",
            "The measured value of each lifecycle check",
            ["check"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.predictions_logged = Gauge(
            "moodline_predictions_logged",
            "Predictions written to the prediction log",
            registry=registry,
            multiprocess_mode="sum",
        )
        self.predictions_lost = Gauge(
            "moodline_predictions_log_lost",
            "Predictions dropped (queue full) or not written (store down)",
            registry=registry,
            multiprocess_mode="sum",
        )

        # The label-free estimate of the latest window, per segment ("all": every request).
        self.estimated_accuracy = Gauge(
            "moodline_estimated_accuracy",
            "Accuracy estimated from calibrated probabilities (no labels) on the latest window, with its band",
            ["model_version", "segment", "bound"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.estimated_macro_f1 = Gauge(
            "moodline_estimated_macro_f1",
            "Macro-F1 estimated from calibrated probabilities on the latest window, with its band",
            ["model_version", "segment", "bound"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.measured_accuracy = Gauge(
            "moodline_measured_accuracy",
            "Accuracy on the latest window's predictions that received feedback labels",
            ["model_version", "segment"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.text_drift_auc = Gauge(
            "moodline_text_drift_auc",
            "ROC-AUC of a classifier telling the latest texts from the reference texts (0.5: no drift)",
            ["model_version", "segment"],
            registry=registry,
            multiprocess_mode="max",
        )

    def observe(self, report: MonitorReport) -> None:
        version = report.model.version
        for check in report.checks:
            self.failing.labels(check.name).set({"ok": 0, "fail": 1}.get(check.status, -1))
            if check.value is not None:
                self.value.labels(check.name).set(check.value)
            segment = check.segment or "all"
            estimate = check.details.get("estimate")
            if base_name(check.name) == "estimated_accuracy" and estimate:
                for bound, suffix in (("estimate", ""), ("low", "_low"), ("high", "_high")):
                    self.estimated_accuracy.labels(version, segment, bound).set(estimate[f"accuracy{suffix}"])
                    self.estimated_macro_f1.labels(version, segment, bound).set(estimate[f"macro_f1{suffix}"])
                measured = check.details.get("measured")
                if measured:
                    self.measured_accuracy.labels(version, segment).set(measured["accuracy"])
            if base_name(check.name) == "text_drift" and check.value is not None:
                self.text_drift_auc.labels(version, segment).set(check.value)


class LifecycleServices:
    """The lifecycle jobs of one serving process; started and stopped through :mod:`moodline.lifecycle.hooks`."""

    def __init__(self, host: ModelHost) -> None:
        self.host = host
        self.settings: Settings = host.settings
        self._store: Store | None = None
        self._store_lock = asyncio.Lock()
        self.logger: PredictionLogger | None = None
        self.gauges: MonitorGauges | None = None
        self.last_report: MonitorReport | None = None
        self.retraining: subprocess.Popen[bytes] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def store(self) -> Store:
        """The lifecycle store, opened (and its tables created) on first use, off the event loop."""
        async with self._store_lock:
            if self._store is None:
                self._store = await asyncio.to_thread(Store.open, store_url(self.settings))
            return self._store

    async def start(self) -> None:
        s = self.settings
        if s.prediction_sample_rate > 0:
            self.logger = PredictionLogger(
                await self.store(), sample_rate=s.prediction_sample_rate, max_queue=s.prediction_log_queue
            )
            self.logger.start()
        if s.monitor_interval_s > 0:
            self.gauges = self.gauges or MonitorGauges(self.host.metrics_registry)
            self._tasks.append(asyncio.create_task(self._every(s.monitor_interval_s, self.check_once), name="monitor"))
        if is_registry_uri(s.model) and s.champion_poll_s > 0:
            self._tasks.append(asyncio.create_task(self._every(s.champion_poll_s, self.follow_alias), name="champion"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        if self.logger is not None:
            await asyncio.to_thread(self.logger.close)
            self.logger = None

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failing job must not stop the next run
                log.warning("lifecycle job %s failed: %s: %s", getattr(job, "__name__", job), type(exc).__name__, exc)

    async def run_checks(self) -> MonitorReport:
        """Run every check now against the served model."""
        store = await self.store()
        engine = self.host.served_engine()
        facts = ModelFacts.of(engine, self.settings)
        loop = asyncio.get_running_loop()

        def predict(texts: list[str]) -> list[Prediction]:
            # The checks run on a worker thread; their scoring goes back to the loop, through the batcher.
            return asyncio.run_coroutine_threadsafe(self.host.predict_texts(texts), loop).result()

        report = await asyncio.to_thread(lambda: Monitor(store, self.settings, engine, facts, predict=predict).run())
        self.last_report = report
        if self.gauges is None:  # GET /monitor runs checks without the periodic job: export them too
            self.gauges = MonitorGauges(self.host.metrics_registry)
        self.gauges.observe(report)
        return report

    async def check_once(self) -> None:
        """One monitor cycle: checks, alert state, outbox delivery, maybe a retraining."""
        report = await self.run_checks()
        if self.logger is not None and self.gauges is not None:
            self.gauges.predictions_logged.set(self.logger.stats.written)
            self.gauges.predictions_lost.set(self.logger.stats.dropped + self.logger.stats.failed)
        store = await self.store()
        dispatcher = AlertDispatcher(store, self.settings)
        started = await asyncio.to_thread(dispatcher.raise_for, report)
        await asyncio.to_thread(dispatcher.deliver_due)
        triggers = sorted(name for name in started if base_name(name) in RETRAIN_TRIGGERS)
        if self.settings.retrain_on_failure and triggers:
            self.start_retraining(triggers)

    def start_retraining(self, reasons: list[str]) -> None:
        """Start ``moodline retrain`` in its own process (training must not compete with this event loop)."""
        if self.retraining is not None and self.retraining.poll() is None:
            log.info("retraining already running; %s noted", ", ".join(reasons))
            return
        log.warning("starting a retraining: %s failing", ", ".join(reasons))
        env = {**os.environ, **settings_env(self.settings)}
        env.pop("MOODLINE_MODEL", None)  # the retrain command reads the registry, not the served model
        self.retraining = subprocess.Popen(
            [sys.executable, "-m", "moodline.cli", "retrain"], env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )

    async def follow_alias(self) -> None:
        """Swap in the version the served alias points to, if it changed."""
        assert self.settings.model is not None
        name, alias, number = parse_models_uri(self.settings.model)
        if alias is None:
            return  # a numbered version never changes
        registry = RegistryReader(self.settings, name)
        found = await asyncio.to_thread(registry.get, alias)
        current = ModelFacts.of(self.host.served_engine(), self.settings).registry_version
        if found is None or found.version == current:
            return
        directory = await asyncio.to_thread(registry.download, found)
        engine = await asyncio.to_thread(Engine.for_serving, self.settings, directory)
        self.host.swap_engine(engine)
        log.warning("now serving %s version %s (%s@%s)", engine.info.name, engine.info.version, name, alias)
