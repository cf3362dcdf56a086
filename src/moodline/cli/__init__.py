"""The ``moodline`` command line: one module per command group, shared options in ``options.py``."""

from __future__ import annotations

from moodline.cli.main import main

__all__ = ["main"]
