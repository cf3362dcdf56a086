"""Splitting a speaker's turn into sentences without tripping over "Mr.", "e.g.", "3.5" or "...".

The splitter is rule-based and offset-preserving: it returns ``(start, end)`` character spans, so that
callers can map each sentence back to a time within the turn.
"""

from __future__ import annotations

import re
from itertools import pairwise

__all__ = ["sentence_spans", "split_sentences", "wrap_span"]

# Followed by a name or a number, never the end of a sentence.
_TITLES = frozenset(
    "mr mrs ms mx dr prof sr jr st mt fr rev hon gen col capt lt sgt gov sen rep pres messrs mme mlle".split()
)
# Mid-sentence abbreviations that a capitalised word can follow ("e.g. Paris", "vs. Acme").
_NEVER_FINAL = frozenset("e.g eg i.e ie cf vs viz approx ca resp incl".split())
# Abbreviations that precede a number ("No. 5", "p. 12").
_BEFORE_NUMBERS = frozenset("no nos vol vols fig figs p pp ch sec art op ex eq".split())

# Only at the start of a run of marks, and without backtracking, so long runs stay linear.
_CANDIDATE = re.compile(r"(?<![.!?…])(?:[.!?…]++)[\"'”’)\]]*+(?=\s)")
_OPENERS = "\"'“‘([¿¡"
_NEXT_CHAR = re.compile(r"\s*(\S)")


def _next_char(text: str, position: int) -> str:
    match = _NEXT_CHAR.match(text, position)
    return match[1] if match else ""


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    mark = match[0].rstrip("\"'”’)]")
    following = _next_char(text, match.end())
    if not following:
        return False
    starts_sentence = following.isupper() or following.isdigit() or following in _OPENERS
    if "!" in mark or "?" in mark:
        # 'She asked "why?" and left' goes on; "Really? yes." is two sentences.
        return starts_sentence or match[0] == mark or not following.islower()
    if ".." in mark or "…" in mark:
        return following.isupper() or following in _OPENERS
    word_start = max(text.rfind(" ", 0, match.start()), text.rfind("\t", 0, match.start())) + 1
    token = text[word_start : match.start()].lstrip(_OPENERS).lower()
    if token in _TITLES or token in _NEVER_FINAL:
        return False
    if token in _BEFORE_NUMBERS and following.isdigit():
        return False
    if len(token) == 1 and token.isalpha():  # an initial: "J. R. R. Tolkien"
        return False
    # Lower case after a full stop is an unknown abbreviation more often than a new sentence.
    return starts_sentence


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` spans of the sentences in ``text``, whitespace trimmed.

    Example::

        text = "Mr. Lee paid $3.50, e.g. for tea. Great... right? Yes!"
        [text[a:b] for a, b in sentence_spans(text)]
        # ['Mr. Lee paid $3.50, e.g. for tea.', 'Great... right?', 'Yes!']
    """
    cuts = [0] + [m.end() for m in _CANDIDATE.finditer(text) if _is_boundary(text, m)] + [len(text)]
    spans = []
    for start, end in pairwise(cuts):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def wrap_span(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` at spaces into pieces of at most ``max_chars`` (a longer word is cut hard)."""
    pieces = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars + 1)
        if cut <= start:
            cut = start + max_chars
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def split_sentences(text: str) -> list[str]:
    """Return the sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[start:end] for start, end in sentence_spans(text)]
