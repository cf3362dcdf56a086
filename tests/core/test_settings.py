"""One settings system: every MOODLINE_ variable is a Settings field, and only Settings reads them."""

from __future__ import annotations

import importlib
import re

from moodline.core import settings as settings_module
from moodline.core.settings import Settings
from tests.conftest import ROOT


def test_no_module_reads_a_moodline_variable_itself():
    reading = re.compile(r"""(environ(\.get)?\(|environ\[|getenv\()\s*["']MOODLINE_""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "moodline").rglob("*.py")
        if path.name != "settings.py" and reading.search(path.read_text())
    ]
    assert offenders == []


def test_gunicorn_reads_the_same_settings(monkeypatch):
    from moodline.server import gunicorn_config

    monkeypatch.setenv("MOODLINE_HOST", "::1")
    monkeypatch.setenv("MOODLINE_PORT", "8123")
    monkeypatch.setenv("MOODLINE_WORKERS", "3")
    monkeypatch.setenv("MOODLINE_KEEPALIVE_S", "12")
    monkeypatch.setenv("MOODLINE_LOG_LEVEL", "warning")
    config = importlib.reload(gunicorn_config)
    assert config.bind == ["[::1]:8123"]
    assert (config.workers, config.keepalive, config.loglevel) == (3, 12, "warning")
    assert (config.timeout, config.graceful_timeout, config.accesslog) == (60, 30, None)  # the Settings defaults
    monkeypatch.undo()
    importlib.reload(gunicorn_config)  # back to this process's own settings for the tests that follow


def test_settings_are_grouped_by_concern_and_blank_switches_are_off(monkeypatch):
    groups = {
        cls.__name__
        for cls in Settings.__mro__
        if cls.__module__ == settings_module.__name__ and cls is not Settings and cls.__name__.endswith("Settings")
    }
    assert {"EngineSettings", "BatchingSettings", "LimitsSettings", "CacheSettings", "LiveSettings"} <= groups
    assert {"LifecycleSettings", "AlertSettings", "ServerSettings", "ToolSettings"} <= groups
    monkeypatch.setenv("MOODLINE_NO_PROGRESS", "")
    monkeypatch.setenv("MOODLINE_DEBUG", "1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.no_progress is False and settings.debug is True
