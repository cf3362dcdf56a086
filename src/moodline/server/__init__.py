"""The HTTP API: ``create_app()`` returns the FastAPI application."""

from __future__ import annotations

from moodline.server.app import create_app

__all__ = ["create_app"]
