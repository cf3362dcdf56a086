"""moodline: fast, offline-capable sentiment analysis."""

from __future__ import annotations

__version__ = "0.1.0"
