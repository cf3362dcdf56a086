"""Model lifecycle: tracking, registry, prediction log and feedback, checks, alerts, retraining, hot swap.

Modules, one concern each::

    store.py           the lifecycle database (SQLite or PostgreSQL): predictions, feedback, check state, outbox
    prediction_log.py  sampled, asynchronous logging of served predictions
    tracking.py        MLflow / W&B runs for training
    registry.py        writing the MLflow model registry: new versions, aliases champion/challenger
    checks.py          accuracy, drift and staleness checks computed from the store, per request source too
    estimation.py      accuracy and macro-F1 estimated from calibrated probabilities, without labels
    text_drift.py      reference-vs-latest text classifier: ROC-AUC, permutation baseline, words, examples
    monitor_report.py  the HTML monitor report (checks, estimate over time, drift explained, alerts)
    alerts.py          outbox delivery by email (SMTP) and webhook, once per failing episode
    retrain.py         train a challenger on base data + feedback, promote it only if better
    services.py        the in-server jobs: prediction log, periodic checks, alias polling and hot swap
    hooks.py           how a server starts and stops those jobs (importable without the extra)
    host.py            ModelHost: what the jobs need from the server (the engine and a way to swap it)

The commands (``moodline registry``, ``monitor``, ``retrain``) are in :mod:`moodline.cli.lifecycle`;
reading ``models:/`` URIs is :mod:`moodline.inference.registry`.

Names are imported on first use (the optional dependencies load only then).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AlertDispatcher",
    "ModelFacts",
    "ModelRegistry",
    "Monitor",
    "MonitorReport",
    "PredictionLogger",
    "RetrainResult",
    "Store",
    "retrain",
]

_HOMES = {
    "AlertDispatcher": "alerts",
    "ModelFacts": "checks",
    "Monitor": "checks",
    "MonitorReport": "checks",
    "ModelRegistry": "registry",
    "PredictionLogger": "prediction_log",
    "RetrainResult": "retrain",
    "retrain": "retrain",
    "Store": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'moodline.lifecycle' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
