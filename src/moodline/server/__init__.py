"""The HTTP API: ``create_app()`` returns the FastAPI application.

``create_app`` is imported on first use: Gunicorn imports :mod:`moodline.server.gunicorn_config` in its
master process, which should not load the web framework and the app's modules before the workers fork.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moodline.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from moodline.server.app import create_app

        return create_app
    raise AttributeError(f"module 'moodline.server' has no attribute {name!r}")
