"""Readers and writers of the batch scorer: every format in and out, bad rows kept, malformed files named."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from moodline.core.datafiles import table_format
from moodline.core.errors import DataFileError
from moodline.core.spreadsheet import neutralise_formula
from moodline.scoring.formats import TableReader, assemble, estimate_rows, text_or_reason, write_part
from tests.servers import require_module

pa = require_module("pyarrow")
pq = require_module("pyarrow.parquet")


def rows_of(reader: TableReader, chunk_rows: int = 2) -> list[list[object]]:
    return [row for chunk in reader.chunks(chunk_rows) for row in chunk.rows]


def test_table_format_by_extension_and_override(tmp_path):
    assert table_format(tmp_path / "a.CSV") == "csv"
    assert table_format(tmp_path / "a.ndjson") == "jsonl"
    assert table_format(tmp_path / "a.parquet") == "parquet"
    assert table_format(tmp_path / "a.dat", "tsv") == "tsv"
    with pytest.raises(DataFileError, match="--format"):
        table_format(tmp_path / "a.dat")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("fine", None),
        ("", "empty text"),
        ("  \t", "empty text"),
        (None, "missing text"),
        (float("nan"), "missing text (NaN)"),
        (3, "text is int, not a string"),
        (b"\xff\xfe", "text is not valid UTF-8"),
        ("bad \udcff byte", "text is not valid UTF-8"),
    ],
)
def test_check_text(value, error):
    text, reason = text_or_reason(value)
    assert reason == error
    assert (text is None) == (error is not None)


def test_csv_chunks_keep_order_lines_and_bad_rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b'id,text\n1,good\n2,""\n3,"two\nlines"\n\n4,bad \xff\n5,last\n')
    reader = TableReader(path, None, "text", "id")
    chunks = list(reader.chunks(2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [c.start for c in chunks] == [0, 2, 4]
    assert [line for c in chunks for line in c.lines] == [2, 3, 4, 7, 8]
    assert [e for c in chunks for e in c.errors] == [None, "empty text", None, "text is not valid UTF-8", None]
    # undecodable bytes become U+FFFD so every output is valid UTF-8
    assert chunks[1].rows[1] == ["4", "bad \ufffd"]
    assert [c.index for c in reader.chunks(2, skip_chunks=1)] == [1, 2]
    assert [row[0] for c in reader.chunks(2, skip_chunks=1) for row in c.rows] == ["3", "4", "5"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'id,text\n1,"unclosed\n2,x\n', r"line 2 \(a record running to line 3\): malformed CSV"),
        (b'id,text\n1,"a"b\n', r"line 2: malformed CSV"),
        (b"id,text\n1,a\n2,b,c\n", r"line 3: expected 2 fields as in the header, got 3"),
        (b"id,body\n1,a\n", r"line 1: no text column 'text'; the file has 'id', 'body'"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message):
        rows_of(TableReader(path, None, "text"))


def test_tsv_reads_bare_quotes(tmp_path):
    path = tmp_path / "in.tsv"
    path.write_text('text\tlabel\nhe said "great\t1\n', encoding="utf-8")
    assert rows_of(TableReader(path, None, "text")) == [['he said "great', "1"]]


def test_jsonl_bad_rows_and_errors(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok", "n": 1}\n{"text": NaN}\n\n{"n": 2}\n{"text": 5}\n', encoding="utf-8")
    reader = TableReader(path, None, "text")
    [chunk] = list(reader.chunks(10))
    assert chunk.errors == [None, "missing text (NaN)", "missing text", "text is int, not a string"]
    assert chunk.rows[2] == [None, 2]
    assert chunk.lines == [1, 2, 4, 5]
    path.write_text('{"text": "ok"}\n{"text": "x", "new": 1}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2: key 'new' is not in the first record"):
        rows_of(TableReader(path, None, "text"))
    path.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2: invalid JSON"):
        rows_of(TableReader(path, None, "text"))


def test_parquet_reader_keeps_types_and_marks_nulls(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["a", None, "c"], "blob": [b"\xff", b"", b"x"]}), path)
    reader = TableReader(path, None, "text", "id")
    [chunk] = list(reader.chunks(10))
    assert chunk.rows == [[1, "a", b"\xff"], [2, None, b""], [3, "c", b"x"]]
    assert chunk.errors == [None, "missing text", None]
    assert reader.line_label(2) == "row 2"
    assert estimate_rows(path, "parquet") == 3


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="in.jsonl: the file is empty"):
        TableReader(path, None, "text")


def test_estimate_rows_counts_lines(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a\n1\n2\n3", encoding="utf-8")
    assert estimate_rows(path, "csv") == 3


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_parts_assemble_into_a_readable_file(tmp_path, fmt):
    columns = ["id", "text", "label", "score", "error"]
    types = {"id": pa.string(), "text": pa.string(), "label": pa.string(), "score": pa.float64(), "error": pa.string()}
    first = [["1", "fine, really", "POSITIVE", 0.875, None], ["2", "", None, None, "empty text"]]
    second = [["3", "meh", "NEGATIVE", 0.5, None]]
    parts = [tmp_path / f"part-0.{fmt}", tmp_path / f"part-1.{fmt}"]
    write_part(parts[0], fmt, columns, first, types)
    write_part(parts[1], fmt, columns, second, types)
    target = tmp_path / f"out.{fmt}"
    assemble(parts, fmt, columns, types, target)
    reader = TableReader(target, None, "text")
    assert reader.columns == columns
    rows = rows_of(reader)
    assert [row[0] for row in rows] == ["1", "2", "3"]
    expected_score = "0.875" if fmt in ("csv", "tsv") else 0.875
    assert rows[0][3] == expected_score
    assert rows[1][4] == "empty text"


def test_tsv_output_replaces_tabs_and_newlines(tmp_path):
    part = tmp_path / "p.tsv"
    write_part(part, "tsv", ["text"], [["a\tb\nc"]], {})
    assert part.read_text(encoding="utf-8") == "a b c\n"


def test_parquet_output_refuses_mixed_types_clearly(tmp_path):
    with pytest.raises(DataFileError, match="column 'x' mixes value types"):
        write_part(tmp_path / "p.parquet", "parquet", ["x"], [[1], ["a"]], {})


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), max_size=12), st.sampled_from(["csv", "jsonl"]))
def test_round_trip_preserves_every_value(tmp_path_factory, rows, fmt):
    """Whatever the text (quotes, commas, newlines, unicode), written rows read back unchanged."""
    directory = tmp_path_factory.mktemp("rt")
    part, target = directory / f"p.{fmt}", directory / f"out.{fmt}"
    data = [[a.replace("\r", ""), b.replace("\r", "")] for a, b in rows]  # CSV normalises bare CR
    assume(data or fmt == "csv")  # an empty JSONL file has no columns at all
    write_part(part, fmt, ["a", "text"], data, {}, raw_csv=True)
    assemble([part], fmt, ["a", "text"], {}, target, raw_csv=True)
    assert rows_of(TableReader(target, None, "text"), 5) == data


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=12))
def test_csv_reads_back_neutralised_and_nothing_else_changed(tmp_path_factory, rows):
    directory = tmp_path_factory.mktemp("safe")
    part, target = directory / "p.csv", directory / "out.csv"
    data = [[a.replace("\r", ""), b.replace("\r", "")] for a, b in rows]
    write_part(part, "csv", ["a", "text"], data, {})
    assemble([part], "csv", ["a", "text"], {}, target)
    expected = [[neutralise_formula(a), neutralise_formula(b)] for a, b in data]
    assert rows_of(TableReader(target, None, "text"), 5) == expected


HOSTILE_COLUMNS = ["=name", "text", "rating", "who", "score", "sentiment"]
HOSTILE_ROW = ["=cmd|' /C calc'!A0", "+1 from me, great call", "-1", "@Sam", 0.25, -0.75]


@pytest.mark.parametrize(
    ("fmt", "raw_csv", "expected_columns", "expected_row"),
    [
        (
            "csv",
            False,
            ["'=name", *HOSTILE_COLUMNS[1:]],
            ["'=cmd|' /C calc'!A0", "'+1 from me, great call", "-1", "'@Sam", "0.25", "-0.75"],
        ),
        (
            "tsv",
            False,
            ["'=name", *HOSTILE_COLUMNS[1:]],
            ["'=cmd|' /C calc'!A0", "'+1 from me, great call", "-1", "'@Sam", "0.25", "-0.75"],
        ),
        ("csv", True, HOSTILE_COLUMNS, [*HOSTILE_ROW[:4], "0.25", "-0.75"]),
        ("tsv", True, HOSTILE_COLUMNS, [*HOSTILE_ROW[:4], "0.25", "-0.75"]),
        ("jsonl", False, HOSTILE_COLUMNS, HOSTILE_ROW),  # not a spreadsheet format: written as it is
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised_unless_raw(
    tmp_path, fmt, raw_csv, expected_columns, expected_row
):
    """Header and text cells of CSV and TSV output; numbers (a rating of -1, negative scores) stay numbers."""
    part, target = tmp_path / f"p.{fmt}", tmp_path / f"out.{fmt}"
    write_part(part, fmt, HOSTILE_COLUMNS, [HOSTILE_ROW], {}, raw_csv=raw_csv)
    assemble([part], fmt, HOSTILE_COLUMNS, {}, target, raw_csv=raw_csv)
    reader = TableReader(target, None, "text")
    assert reader.columns == expected_columns
    assert rows_of(reader) == [expected_row]


def test_json_lines_are_json(tmp_path):
    part = tmp_path / "p.jsonl"
    write_part(part, "jsonl", ["text", "score"], [["ok", 0.5], ["x", math.nan]], {})
    assert json.loads(part.read_text().splitlines()[0]) == {"text": "ok", "score": 0.5}
    assert Path(part).read_text().count("\n") == 2
