"""The one error the transcript parsers raise: input that is not a transcript they can read.

It is an :class:`~moodline.core.errors.InvalidInputError`, so the CLI and the HTTP API report it like any
other bad input (status 422). The message names the source and, where it applies, the line, and says
what was expected there::

    call.vtt, line 7: expected a timestamp line like 00:00:01.000 --> 00:00:04.000, got '00:00:0x.000 --> ...'
"""

from __future__ import annotations

from moodline.core.errors import InvalidInputError

__all__ = ["TranscriptParseError"]


class TranscriptParseError(InvalidInputError):
    """A transcript that cannot be decoded or parsed; ``line`` is 1-based, or None for the whole input."""

    error_type = "invalid_transcript"

    def __init__(self, reason: str, *, source: str = "<input>", line: int | None = None) -> None:
        where = source if line is None else f"{source}, line {line}"
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.source = source
        self.line = line
