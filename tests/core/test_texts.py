"""The one set of rules for a scoreable text, and the messages each caller shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moodline.core.errors import InvalidInputError
from moodline.core.texts import check_text, check_texts, text_problem


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (3, "not_string"),
        (None, "not_string"),
        ("\ud800 lone surrogate", "not_utf8"),
        ("", "empty"),
        (" \t\n", "empty"),
        ("x" * 11, "too_long"),
    ],
)
def test_text_problem_names_what_is_wrong(value, kind):
    problem = text_problem(value, max_chars=10)
    assert problem is not None and problem.kind == kind


@given(st.text().filter(lambda t: t.strip()))
def test_any_non_blank_utf8_text_passes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert text_problem(text) is None
    assert check_text(text) == text


def test_check_texts_numbers_from_first_and_adds_the_hint_to_length_errors():
    with pytest.raises(InvalidInputError, match=r"^text 2 is empty or whitespace only$"):
        check_texts(["fine", " "], first=1)
    with pytest.raises(InvalidInputError, match=r"text 1 has 4 characters; the limit is 3 \(use a file\)$"):
        check_texts(["long"], max_chars=3, first=1, hint="use a file")


def test_check_texts_limits_the_request():
    with pytest.raises(InvalidInputError, match="single string"):
        check_texts("one text")
    with pytest.raises(InvalidInputError, match="no texts given"):
        check_texts([], max_texts=2)
    with pytest.raises(InvalidInputError, match="3 texts in one request; the limit is 2"):
        check_texts(["a", "b", "c"], max_texts=2)
    assert check_texts([]) == []
