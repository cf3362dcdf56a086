"""Cells that spreadsheets show as text: formula neutralisation for the CSV and TSV files moodline writes.

Excel and LibreOffice read a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
formula can run a program: a Zoom participant named ``=cmd|' /C calc'!A0`` would do so from a transcript
export opened by a colleague. OWASP's list of such starts (its advice on CSV injection) adds tab and
carriage return. A cell with one of these starts gets a leading single quote, which spreadsheets take as
"this is text". ``raw_csv`` options skip this for pipelines that need the values as they were.

Only text is touched, and not text that is a plain number: ``-0.5`` or ``+3`` is read as a number and
never run, and quoting it would turn a review's ``-1`` rating, or a score, into text that sorts and sums
wrongly. Values moodline computes (scores, times, counts) are numbers and pass through unchanged.
The web page's download applies the same rule (``static/js/csv.js``).

Example::

    neutralise_formula("=1+1")               # "'=1+1"
    neutralise_formula("-0.5")               # "-0.5"
    spreadsheet_row(["@Sam", -0.25, None])   # ["'@Sam", -0.25, None]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["FORMULA_STARTS", "neutralise_formula", "spreadsheet_row"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits only: "-١" (an Arabic-Indic one) is no number to a spreadsheet, so it gets the quote.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise_formula(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula, else unchanged."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def spreadsheet_row(values: Iterable[Any]) -> list[Any]:
    """``values`` with every string neutralised; numbers, None and other values as they are."""
    return [neutralise_formula(value) if isinstance(value, str) else value for value in values]
