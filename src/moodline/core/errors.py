"""Every error moodline raises on purpose.

The hierarchy is drawn here, at the top, so that callers (CLI, HTTP API) can map an error to a clean
message and an exit/status code without knowing where it was raised::

    MoodlineError                  status 500
    ├── InvalidInputError          status 422  bad text, bad column, bad option value
    ├── DataFileError              status 422  a data file that cannot be read as asked
    ├── ModelNotFoundError         status 404  an unknown model path or hub id
    ├── ModelLoadError             status 500  a model that exists but cannot be loaded
    └── MissingDependencyError     status 500  an optional extra (torch, ...) is not installed
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFoundError",
    "MoodlineError",
]


class MoodlineError(Exception):
    """Base class: a failure moodline can explain in one sentence."""

    status_code: int = 500
    error_type: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(MoodlineError):
    """The caller handed in something moodline cannot score (empty text, bad option...)."""

    status_code = 422
    error_type = "invalid_input"


class DataFileError(InvalidInputError):
    """A data file is missing, undecodable, malformed or lacks the asked-for column."""

    error_type = "invalid_data_file"


class ModelNotFoundError(MoodlineError):
    """Neither a local directory nor a reachable hub id matches the model name."""

    status_code = 404
    error_type = "model_not_found"


class ModelLoadError(MoodlineError):
    """The model was found but its files are incomplete or inconsistent."""

    error_type = "model_load_error"


class MissingDependencyError(MoodlineError):
    """An optional dependency (e.g. torch for training) is not installed."""

    error_type = "missing_dependency"
