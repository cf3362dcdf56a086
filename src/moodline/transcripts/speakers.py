"""Telling a speaker label (``Alice Smith: ...``) from the words that follow it, and tidying text."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["UNKNOWN_SPEAKER", "clean_text", "is_speaker_name", "prefixes_name_speakers", "split_speaker_prefix"]

UNKNOWN_SPEAKER = "Unknown"
"""The speaker of a cue whose source names none."""

_MAX_NAME_CHARS = 60
_MAX_NAME_WORDS = 6
# A name starts with a letter and holds no sentence punctuation, markup or URL: "Dr. Priya Natarajan",
# "Speaker 2", "Jean-Luc O'Neill (Acme)". This keeps "Note: ..." possible but "So, anyway: ..." and
# "https://..." out.
_NAME = re.compile(r"[^\W\d_][^:;!?,<>\[\]{}\"“”*=|/\\]*")
_PREFIX = re.compile(rf"\s*(?P<name>[^\W\d_][^:\n]{{0,{_MAX_NAME_CHARS}}})\s*:(?:\s+(?P<text>.*)|\s*$)", re.DOTALL)


def clean_text(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and trim the ends."""
    return " ".join(text.split())


def is_speaker_name(name: str) -> bool:
    """Whether ``name`` reads as a speaker label rather than the start of a sentence."""
    name = clean_text(name)
    return (
        0 < len(name) <= _MAX_NAME_CHARS and len(name.split()) <= _MAX_NAME_WORDS and _NAME.fullmatch(name) is not None
    )


def split_speaker_prefix(text: str) -> tuple[str, str] | None:
    """Split ``"Name: words"`` into ``("Name", "words")``; None when ``text`` has no speaker prefix.

    Example::

        split_speaker_prefix("Dana Whitfield: Good morning")   # ('Dana Whitfield', 'Good morning')
        split_speaker_prefix("At 10:30 we start")              # None
    """
    match = _PREFIX.match(text)
    if match is None or not is_speaker_name(match["name"]):
        return None
    return clean_text(match["name"]), clean_text(match["text"] or "")


def prefixes_name_speakers(texts: Sequence[str]) -> bool:
    """Whether ``Name:`` prefixes in caption texts name speakers: at least half of the texts have one.

    Zoom prefixes every cue; in plain captions a lone "Note: ..." is text.
    """
    prefixed = sum(split_speaker_prefix(text) is not None for text in texts)
    return prefixed > 0 and 2 * prefixed >= len(texts)
