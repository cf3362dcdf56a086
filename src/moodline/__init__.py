"""moodline: fast, offline-capable sentiment analysis.

Example::

    from moodline import Analyzer
    Analyzer().predict("It is worth it").label   # 'POSITIVE'
"""

from __future__ import annotations

from moodline.client import AsyncClient, Client, ServerError
from moodline.core.errors import (
    DataFileError,
    InvalidInputError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    MoodlineError,
)
from moodline.inference.analyzer import Analyzer
from moodline.inference.engine import Engine, ModelInfo
from moodline.inference.prediction import Prediction

__version__ = "0.1.0"

__all__ = [
    "Analyzer",
    "AsyncClient",
    "Client",
    "DataFileError",
    "Engine",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFoundError",
    "MoodlineError",
    "Prediction",
    "ServerError",
    "__version__",
]
