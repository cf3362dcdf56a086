"""Where moodline keeps its embedded stores (lifecycle database, MLflow, registry downloads), from the settings."""

from __future__ import annotations

import os
from pathlib import Path

from moodline.core.settings import Settings

__all__ = ["artifact_root", "data_dir", "model_cache", "store_url", "tracking_uri"]


def data_dir(settings: Settings) -> Path:
    """``MOODLINE_DATA_DIR``, else ``$XDG_DATA_HOME/moodline``, else ``~/.local/share/moodline``."""
    if settings.data_dir:
        return Path(settings.data_dir).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moodline"


def store_url(settings: Settings) -> str:
    """The prediction log / feedback / outbox database: ``MOODLINE_STORE_URL`` or SQLite under the data dir."""
    return settings.store_url or f"sqlite:///{data_dir(settings) / 'moodline.db'}"


def tracking_uri(settings: Settings) -> str:
    """``MOODLINE_MLFLOW_URI`` (a tracking server), or an embedded SQLite store under the data dir."""
    if settings.mlflow_uri:
        return settings.mlflow_uri
    return f"sqlite:///{data_dir(settings) / 'mlflow.db'}"


def artifact_root(settings: Settings) -> Path:
    """Where the embedded store keeps run artifacts (a tracking server keeps its own)."""
    return data_dir(settings) / "mlartifacts"


def model_cache(settings: Settings) -> Path:
    """Registry model versions downloaded for serving."""
    return data_dir(settings) / "registry-cache"
