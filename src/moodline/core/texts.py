"""What makes a text scoreable, decided in one place for the engine, API, CLI, feedback, transcripts and scoring.

A text must be a ``str``, encodable as UTF-8 (bytes that were not UTF-8 arrive from argv or JSON as
lone surrogates), not empty or whitespace only, and, where a limit applies, no longer than it.
:func:`text_problem` names what is wrong without raising, for callers that keep a bad row and report
it (batch scoring); :func:`check_text` and :func:`check_texts` raise
:class:`~moodline.core.errors.InvalidInputError` with a message that names the text.

Example::

    check_texts(["fine", "  "])        # InvalidInputError: text 1 is empty or whitespace only
    text_problem("x" * 5, max_chars=3)  # TextProblem(kind='too_long', message='has 5 characters; the limit is 3')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from moodline.core.errors import InvalidInputError

__all__ = ["SOURCE_MAX_CHARS", "SOURCE_PATTERN", "TextProblem", "check_text", "check_texts", "text_problem"]

# A request's optional ``source`` (a tenant or feed name the monitor breaks its checks down by): short
# and plain, since it becomes a check name, a metrics label and a column in the prediction log.
SOURCE_MAX_CHARS = 40
SOURCE_PATTERN = r"^[A-Za-z0-9._-]+$"

ProblemKind = Literal["not_string", "not_utf8", "empty", "too_long"]


@dataclass(frozen=True)
class TextProblem:
    """Why a value cannot be scored: a ``kind`` to branch on and a ``message`` to follow the text's name."""

    kind: ProblemKind
    message: str


def text_problem(value: object, *, max_chars: int | None = None) -> TextProblem | None:
    """What is wrong with ``value`` as a text to score, or ``None`` when nothing is."""
    if not isinstance(value, str):
        return TextProblem("not_string", f"is {type(value).__name__}, not a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return TextProblem("not_utf8", "is not valid UTF-8")
    if not value.strip():
        return TextProblem("empty", "is empty or whitespace only")
    if max_chars is not None and len(value) > max_chars:
        return TextProblem("too_long", f"has {len(value):,} characters; the limit is {max_chars:,}")
    return None


def check_text(value: object, *, name: str = "text", max_chars: int | None = None, hint: str = "") -> str:
    """``value`` when it is scoreable; else :class:`InvalidInputError` naming it (``hint`` follows a length error)."""
    problem = text_problem(value, max_chars=max_chars)
    if problem is not None:
        extra = f" ({hint})" if hint and problem.kind == "too_long" else ""
        raise InvalidInputError(f"{name} {problem.message}{extra}")
    assert isinstance(value, str)
    return value


def check_texts(
    texts: Sequence[object],
    *,
    max_chars: int | None = None,
    max_texts: int | None = None,
    first: int = 0,
    hint: str = "",
) -> list[str]:
    """Every text checked, numbered from ``first`` in messages; ``max_texts`` also refuses an empty list."""
    if isinstance(texts, str):
        raise InvalidInputError("expected a list of texts, got a single string")
    if max_texts is not None:
        if not texts:
            raise InvalidInputError("no texts given")
        if len(texts) > max_texts:
            raise InvalidInputError(f"{len(texts)} texts in one request; the limit is {max_texts}")
    return [
        check_text(text, name=f"text {index}", max_chars=max_chars, hint=hint)
        for index, text in enumerate(texts, start=first)
    ]
