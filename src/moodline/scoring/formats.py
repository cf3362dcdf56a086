"""Streaming readers and writers for batch scoring: CSV, TSV, JSONL and Parquet.

A reader yields :class:`Chunk` s of a fixed number of rows, each row's values in the input's column
order, with the text to score already checked: a row whose text is missing, NaN, not a string, empty
or not valid UTF-8 carries an error instead, and is kept. A file that cannot be read as a table
(broken quoting, a wrong field count, invalid JSON, no such column) raises
:class:`~moodline.core.errors.DataFileError` naming the line.

Text formats are written in parts without a header, so parts concatenate into the final file;
Parquet parts are separate files that :func:`assemble` streams into one.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from moodline.core.datafiles import parse_jsonl_line, table_format
from moodline.core.durable import durable_path
from moodline.core.errors import DataFileError, MissingDependencyError
from moodline.core.spreadsheet import spreadsheet_row
from moodline.core.texts import text_problem

__all__ = [
    "Chunk",
    "TableReader",
    "assemble",
    "text_or_reason",
    "estimate_rows",
    "write_part",
]


# CSV fields may be long (whole reviews, documents); the default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def text_or_reason(value: object) -> tuple[str | None, str | None]:
    """``(text, None)`` for a scoreable cell, ``(None, reason)`` for a bad one.

    Missing, NaN and bytes cells are this module's; the rules for a text are :mod:`moodline.core.texts`.
    """
    if value is None:
        return None, "missing text"
    if isinstance(value, float) and math.isnan(value):
        return None, "missing text (NaN)"
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None, "text is not valid UTF-8"
    problem = text_problem(value)
    if problem is not None:
        # Short reasons: they fill the output's error column and are counted in the summary.
        return None, "empty text" if problem.kind == "empty" else f"text {problem.message}"
    assert isinstance(value, str)
    return value, None


@dataclass
class Chunk:
    """Rows ``start .. start + len(rows)`` of the input, with their texts checked."""

    index: int
    start: int
    rows: list[list[Any]]
    lines: list[int]
    texts: list[str | None]
    errors: list[str | None]

    def __len__(self) -> int:
        return len(self.rows)


def _repair(values: list[Any]) -> list[Any]:
    """Replace undecodable bytes (lone surrogates) by U+FFFD, so every output is valid UTF-8."""
    return [
        v.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if isinstance(v, str) else v for v in values
    ]


def _valid_utf8(values: Sequence[Any]) -> bool:
    try:
        "\x1f".join(v for v in values if isinstance(v, str)).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TableReader:
    """Read ``path`` as a table of rows, a chunk at a time; ``columns`` is known once it is open.

    Example::

        reader = TableReader(Path("reviews.csv"), None, text_column="review")
        for chunk in reader.chunks(4096):
            ...
    """

    def __init__(self, path: Path, fmt: str | None, text_column: str, id_column: str | None = None) -> None:
        if not path.is_file():
            raise DataFileError(f"{path}: no such file")
        self.path = path
        self.format = table_format(path, fmt)
        self.text_column = text_column
        self.id_column = id_column
        self.columns, self.schema = self._header()
        if not self.columns:
            raise DataFileError(f"{path}: the file is empty")
        for column, role in ((text_column, "text"), (id_column, "id")):
            if column is not None and column not in self.columns:
                available = ", ".join(repr(c) for c in self.columns) or "no columns"
                raise DataFileError(f"{path}, line 1: no {role} column {column!r}; the file has {available}")
        self.text_index = self.columns.index(text_column)

    def _header(self) -> tuple[list[str], Any]:
        if self.format == "parquet":
            pq = _parquet()
            try:
                schema = pq.read_schema(self.path)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
                raise DataFileError(f"{self.path}: not a readable Parquet file ({exc})") from exc
            return list(schema.names), schema
        if self.format == "jsonl":
            first = next(self._json_records(), None)
            return ([] if first is None else list(first[1])), None
        with self._open_text() as handle:
            try:
                header = next(self._csv_reader(handle))
            except StopIteration:
                return [], None
            except csv.Error as exc:
                raise DataFileError(f"{self.path}, line 1: malformed {self.format.upper()} header ({exc})") from exc
        if not _valid_utf8(header):
            raise DataFileError(f"{self.path}, line 1: the header is not valid UTF-8")
        if len(set(header)) != len(header):
            raise DataFileError(f"{self.path}, line 1: the header repeats a column name")
        return header, None

    def _open_text(self) -> IO[str]:
        # surrogateescape keeps undecodable bytes visible, so one bad row is marked instead of ending the file
        return self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _csv_reader(self, handle: IO[str]) -> Any:
        if self.format == "tsv":
            # no quote processing: SST-2 and many exported corpora have bare quotes inside texts
            return csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return csv.reader(handle, strict=True)

    def _json_records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                yield number, parse_jsonl_line(self.path, number, raw.decode("utf-8", "surrogateescape"))

    def records(self) -> Iterator[tuple[int, list[Any]]]:
        """Every ``(line, values)`` in file order."""
        if self.format == "parquet":
            yield from self._parquet_records()
        elif self.format == "jsonl":
            yield from self._jsonl_records()
        else:
            yield from self._delimited_records()

    def _delimited_records(self) -> Iterator[tuple[int, list[Any]]]:
        width = len(self.columns)
        with self._open_text() as handle:
            reader = self._csv_reader(handle)
            line = 1
            try:
                next(reader, None)
                line = reader.line_num + 1
                for record in reader:
                    start, line = line, reader.line_num + 1
                    if not record:
                        continue
                    if len(record) != width:
                        raise DataFileError(
                            f"{self.path}, line {start}: expected {width} fields as in the header, got {len(record)}"
                        )
                    yield start, record
            except csv.Error as exc:
                where = f"{self.path}, line {line}"
                if reader.line_num > line:  # an open quote swallowed the lines after it
                    where += f" (a record running to line {reader.line_num})"
                raise DataFileError(f"{where}: malformed {self.format.upper()} ({exc})") from exc

    def _jsonl_records(self) -> Iterator[tuple[int, list[Any]]]:
        known = set(self.columns)
        for number, record in self._json_records():
            extra = [key for key in record if key not in known]
            if extra:
                raise DataFileError(
                    f"{self.path}, line {number}: key {extra[0]!r} is not in the first record; "
                    "every record needs the first record's keys (missing ones are fine)"
                )
            yield number, [record.get(column) for column in self.columns]

    def _parquet_records(self) -> Iterator[tuple[int, list[Any]]]:
        pq = _parquet()
        number = 0
        try:
            parquet = pq.ParquetFile(self.path)
            for batch in parquet.iter_batches(batch_size=4096):
                for values in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                    number += 1
                    yield number, list(values)
        except DataFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise DataFileError(f"{self.path}, row {number + 1}: cannot read the Parquet data ({exc})") from exc

    def line_label(self, line: int) -> str:
        return f"row {line}" if self.format == "parquet" else f"line {line}"

    def chunks(self, chunk_rows: int, skip_chunks: int = 0) -> Iterator[Chunk]:
        """Chunks of ``chunk_rows`` rows in file order, after the first ``skip_chunks`` (read, not checked)."""
        skip_rows = skip_chunks * chunk_rows
        index, position = skip_chunks, 0
        rows: list[list[Any]] = []
        lines: list[int] = []
        texts: list[str | None] = []
        errors: list[str | None] = []
        for line, values in self.records():
            position += 1
            if position <= skip_rows:
                continue
            text, error = text_or_reason(values[self.text_index])
            if self.format != "parquet" and not _valid_utf8(values):
                values = _repair(values)
            rows.append(values)
            lines.append(line)
            texts.append(text)
            errors.append(error)
            if len(rows) == chunk_rows:
                yield Chunk(index, index * chunk_rows, rows, lines, texts, errors)
                index += 1
                rows, lines, texts, errors = [], [], [], []
        if rows:
            yield Chunk(index, index * chunk_rows, rows, lines, texts, errors)


def estimate_rows(path: Path, fmt: str) -> int | None:
    """The number of rows, exact for Parquet, from line breaks otherwise (a quick first guess for ETA)."""
    try:
        if fmt == "parquet":
            return int(_parquet().ParquetFile(path).metadata.num_rows)
        count = 0
        last = b"\n"
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                count += block.count(b"\n")
                last = block[-1:]
        count += last != b"\n"
        return max(0, count - (fmt in ("csv", "tsv")))
    except Exception:  # noqa: BLE001 - only an estimate for the progress bar
        return None


def _cell_tsv(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else _plain(value)
    # TSV has no quoting: a tab or line break inside a value would split it
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ") if any(c in text for c in "\t\r\n") else text


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _cell_csv(value: Any) -> Any:
    return _plain(value) if isinstance(value, dict | list) else value


def write_text_rows(
    handle: IO[str], fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, raw_csv: bool = False
) -> None:
    """Write ``rows`` (no header) in a text format; CSV and TSV text neutralised unless ``raw_csv``.

    Spreadsheets open TSV files as readily as CSV ones, so both get
    :func:`~moodline.core.spreadsheet.neutralise_formula`.
    """
    if fmt in ("csv", "tsv") and not raw_csv:
        rows = [spreadsheet_row(row) for row in rows]
    if fmt == "csv":
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows([[_cell_csv(v) for v in row] for row in rows])
    elif fmt == "tsv":
        handle.writelines("\t".join(_cell_tsv(v) for v in row) + "\n" for row in rows)
    else:
        handle.writelines(
            json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, default=str) + "\n" for row in rows
        )


def header_text(fmt: str, columns: Sequence[str], *, raw_csv: bool = False) -> str:
    if fmt in ("csv", "tsv") and not raw_csv:
        columns = spreadsheet_row(columns)  # input column names are the input's text too
    if fmt == "csv":
        return ",".join(_csv_field(c) for c in columns) + "\n"
    if fmt == "tsv":
        return "\t".join(_cell_tsv(c) for c in columns) + "\n"
    return ""


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


def parquet_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], types: dict[str, Any]) -> Any:
    """An Arrow table of ``rows``; ``types`` fixes column types where they are known."""
    pa = _arrow()
    arrays = []
    values_by_column: Sequence[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    for name, values in zip(columns, values_by_column, strict=True):
        kind = types.get(name)
        try:
            arrays.append(pa.array(list(values), type=kind))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataFileError(
                f"column {name!r} mixes value types ({exc}); Parquet needs one type per column, "
                "write CSV or JSONL output instead"
            ) from exc
    return pa.Table.from_arrays(arrays, names=list(columns))


def write_part(
    path: Path,
    fmt: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    types: dict[str, Any],
    *,
    raw_csv: bool = False,
) -> None:
    """Write one part so that ``path`` is complete or absent (:func:`~moodline.core.durable.durable_path`)."""
    with durable_path(path) as temporary:
        if fmt == "parquet":
            _parquet().write_table(parquet_table(columns, rows, types), temporary)
        else:
            with temporary.open("w", encoding="utf-8", newline="") as handle:
                write_text_rows(handle, fmt, columns, rows, raw_csv=raw_csv)


def assemble(
    parts: Sequence[Path],
    fmt: str,
    columns: Sequence[str],
    types: dict[str, Any],
    target: Path,
    *,
    raw_csv: bool = False,
) -> None:
    """Stream ``parts`` into ``target`` (header first for CSV/TSV, neutralised unless ``raw_csv``).

    ``target`` is a temporary the caller makes durable and renames (:func:`~moodline.core.durable.durable_path`).
    """
    if fmt == "parquet":
        pa, pq = _arrow(), _parquet()
        schemas = [pq.read_schema(part) for part in parts] or [parquet_table(columns, [], types).schema]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        with pq.ParquetWriter(target, schema) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part).cast(schema))
    else:
        with target.open("wb") as out:
            out.write(header_text(fmt, columns, raw_csv=raw_csv).encode("utf-8"))
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise MissingDependencyError("Parquet needs pyarrow: pip install 'moodline[batch]'") from exc
    return pyarrow


def _parquet() -> Any:
    _arrow()
    import pyarrow.parquet

    return pyarrow.parquet
